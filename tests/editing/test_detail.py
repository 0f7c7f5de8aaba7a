"""The moved component's fine detail for the GAN's low-resolution rendering (facehub/editing/detail.py)."""

from __future__ import annotations

import numpy as np
import torch

from facehub.editing.blend_ops import gaussian_blur
from facehub.editing.detail import source_detail
from facehub.editing.masks import HAIR, INDEX, SKIN

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _striped(size: int = 64) -> torch.Tensor:
    """(3, size, size): grey with one-pixel vertical stripes (a texture a 4x coarser rendering cannot hold)."""
    image = torch.full((3, size, size), 0.5)
    image[:, :, ::2] += 0.2
    return image


def test_hair_detail_is_the_sources_high_pass_inside_both_hair_masks_only() -> None:
    source = _striped()
    labels = torch.full((64, 64), SKIN, dtype=torch.long)
    labels[:30] = HAIR  # the source's hair: the top rows
    layout = torch.full((64, 64), SKIN, dtype=torch.long)
    layout[:, :40] = HAIR  # the edit's hair: the left columns
    window = (slice(0, 64), slice(0, 64))
    detail, weight = source_detail(source, labels, IDENTITY, layout, ("hair",), sigma=2.0, window=window)
    band = source - gaussian_blur(source, 2.0)
    inside = weight > 0
    assert inside[5:25, 5:35].all()  # both masks, away from their edges
    assert not inside[35:].any() and not inside[:, 45:].any()  # outside either mask: nothing added
    assert torch.allclose(detail[:, 5:25, 5:35], band[:, 5:25, 5:35], atol=1e-5)
    assert detail[:, 5:25, 5:35].abs().mean() > 0.05  # the stripes survive as detail
    assert abs(float(detail[:, inside].mean())) < 0.02  # a band-pass: no colour shift


def test_an_eye_gets_its_detail_where_the_layout_placed_it() -> None:
    source = torch.full((3, 64, 64), 0.5)
    labels = torch.full((64, 64), SKIN, dtype=torch.long)
    eye = INDEX["left_eye"]
    labels[20:28, 10:22] = eye
    source[:, 23, 15] = 0.0  # a dark pupil dot in the source's eye
    layout = torch.full((64, 64), SKIN, dtype=torch.long)
    layout[30:38, 30:42] = eye  # the target's eye is 10 px lower and 20 px to the right
    detail, weight = source_detail(source, labels, IDENTITY, layout, ("eyes",), sigma=1.5, window=(slice(0, 64), slice(0, 64)))
    assert not (weight[20:28, 10:22] > 0).any()
    assert (weight[31:37, 31:41] > 0).all()
    darkest = np.unravel_index(int(detail[0].argmin()), (64, 64))
    assert darkest == (33, 35)  # the pupil moved with the component


def test_window_offsets_are_honoured() -> None:
    source = _striped()
    labels = torch.full((64, 64), HAIR, dtype=torch.long)
    layout = torch.full((64, 64), HAIR, dtype=torch.long)
    full, _ = source_detail(source, labels, IDENTITY, layout, ("hair",), sigma=2.0, window=(slice(0, 64), slice(0, 64)))
    part, weight = source_detail(source, labels, IDENTITY, layout, ("hair",), sigma=2.0, window=(slice(10, 40), slice(17, 50)))
    assert part.shape == (3, 30, 33) and weight.shape == (30, 33)
    assert torch.allclose(part[:, 8:22, 8:25], full[:, 18:32, 25:42], atol=1e-5)
