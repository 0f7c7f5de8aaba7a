"""``paste_claim`` gives what pasting every class channel and taking the argmax after gives (``paste_back``),
for windows larger than the crop (the neighbour shortcut) and smaller (the full paste), rotated and off the edge."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facehub.geometry.align import paste_back
from facehub.parsing.predictor import crop_weight, paste_claim


def _probabilities(size: int, classes: int = 19, seed: int = 0) -> torch.Tensor:
    """(C, s, s) softmax of smooth random logits: regions of one class with soft borders, as a parser gives."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.normal(0, 4, (1, classes, 6, 6))).float()
    logits = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)[0]
    return logits.softmax(0)


def _matrix(scale: float, angle: float, shift: tuple[float, float]) -> np.ndarray:
    """Window pixels -> crop pixels: a rotation by ``angle`` degrees, ``scale`` crop px per window px, then ``shift``."""
    c, s = np.cos(np.radians(angle)) * scale, np.sin(np.radians(angle)) * scale
    return np.array([[c, -s, shift[0]], [s, c, shift[1]]])


@pytest.mark.parametrize("scale, window, shortcut", [(0.4, (150, 170), True), (1.6, (40, 44), False), (0.7, (90, 100), True)])
def test_paste_claim_matches_pasting_every_channel(scale: float, window: tuple[int, int], shortcut: bool) -> None:
    size = 64
    assert (window[0] * window[1] > size * size) == shortcut  # the window outnumbers the crop's pixels: the shortcut
    probs, weight = _probabilities(size), crop_weight(size, 0.12)
    matrix = _matrix(scale, 17.0, (-6.0, 3.0))  # part of the window falls outside the crop
    label, best, background, pasted_weight = paste_claim(probs, weight, matrix, window)

    pasted = paste_back(probs[None], matrix[None], window)[0].numpy()
    expected_label = pasted[1:].argmax(0)
    expected_best = np.take_along_axis(pasted[1:], expected_label[None], 0)[0]
    inside = pasted.sum(0) > 1e-6
    np.testing.assert_array_equal(label[inside], expected_label[inside])
    np.testing.assert_allclose(best, expected_best, atol=1e-6)
    np.testing.assert_allclose(background, pasted[0], atol=1e-6)
    np.testing.assert_allclose(pasted_weight, paste_back(weight[None, None], matrix[None], window)[0, 0].numpy(), atol=1e-6)
    assert 0.1 < inside.mean() < 1.0  # the case reaches past the crop's edge
