"""PRNet training losses: the region-weighted mask, the weighted UV L1, the human-label L1 and box NME."""

from __future__ import annotations

import numpy as np
import torch

from facehub.reconstruction.uv import points_468_to_68, uv_layout
from facehub.train.reconstruction.losses import (
    WEIGHT_FACE,
    WEIGHT_FEATURE,
    WEIGHT_LANDMARK,
    labels68_l1,
    loss_mask,
    nme_68,
    nme_real,
    uv_map_l1,
)
from tests._faces3d import posed_face


def test_loss_mask_weights() -> None:
    layout = uv_layout(64)
    mask = loss_mask(layout)
    assert mask.shape == (64, 64)
    assert set(np.unique(mask)) == {0.0, WEIGHT_FACE, WEIGHT_FEATURE, WEIGHT_LANDMARK}
    assert np.all(mask[~layout.valid] == 0) and np.all(mask[layout.valid] > 0)
    assert (mask == WEIGHT_LANDMARK).sum() >= 68


def test_uv_map_l1_counts_only_masked_pixels() -> None:
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 0, 0] = 2.0
    target = torch.zeros(2, 3, 4, 4)
    pred = torch.ones(2, 3, 4, 4) * 5  # off by 5 everywhere ...
    pred[:, :, 0, 0] = 1.0  # ... but by 1 per channel at the one weighted pixel
    assert float(uv_map_l1(pred, target, mask)) == 3.0  # (3 channels x 1) x 2 / (2 x 2 samples)


def test_nme_is_zero_on_the_teacher_and_scales_with_the_offset() -> None:
    face = torch.from_numpy(posed_face(20, 0, 0, scale=9.0, centre=(60.0, 60.0))).float()[None]
    labels = points_468_to_68(face)[..., :2]
    assert float(nme_68(face, face)) < 1e-6 and float(labels68_l1(face, labels, None)) < 1e-5
    shifted = face.clone()
    shifted[..., 0] += 2.0
    wh = labels.amax(1) - labels.amin(1)
    expected = 2.0 / float((wh[0, 0] * wh[0, 1]).sqrt())
    assert abs(float(nme_real(shifted, labels, None)) - expected) < 1e-5
    assert abs(float(labels68_l1(shifted, labels, None)) - 1.0) < 1e-5  # mean over x (2 px) and y (0 px)


def test_labels68_l1_leaves_unlabelled_points_out() -> None:
    """A NaN label (a turned 300-W face's jaw, labelled.py) adds nothing; the mean runs over the known points."""
    face = torch.from_numpy(posed_face(20, 0, 0, scale=9.0, centre=(60.0, 60.0))).float()[None]
    labels = points_468_to_68(face)[..., :2].clone()
    labels[:, 17:, 0] += 3.0  # every known point 3 px off in x
    labels[:, :17] = float("nan")
    assert abs(float(labels68_l1(face, labels, None)) - 1.5) < 1e-4  # mean over x (3 px) and y (0 px)
