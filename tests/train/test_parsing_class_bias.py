"""Scoring logit offsets on cached parser probabilities (``facehub.train.parsing.class_bias``)."""

from __future__ import annotations

import numpy as np
import pytest

from facehub.train.parsing.class_bias import CachedPhoto, score_offsets

NAMES = ("background", "skin", "cloth")


def _photo() -> CachedPhoto:
    """A 40 x 40 photo whose lower half is cloth; one face whose 20 x 20 grid covers it (2 photo px per cell) and
    says background at 0.5 and cloth at 0.4 in the lower half, skin at 0.9 in the upper half."""
    labels = np.ones((40, 40), np.uint8)
    labels[20:] = 2
    probs = np.zeros((1, 3, 20, 20), np.float16)
    probs[0, 1, :10], probs[0, 0, :10], probs[0, 2, :10] = 0.9, 0.05, 0.05
    probs[0, 0, 10:], probs[0, 2, 10:], probs[0, 1, 10:] = 0.5, 0.4, 0.1
    matrices = np.array([[[0.5, 0.0, -0.25], [0.0, 0.5, -0.25]]])  # photo px -> grid px (pixel centres)
    return CachedPhoto(labels, probs, matrices)


def test_an_offset_turns_an_under_predicted_class_back() -> None:
    photos = [_photo()]
    before = score_offsets(photos, NAMES, {}, fade_band=0.0)
    after = score_offsets(photos, NAMES, {"cloth": 0.5}, fade_band=0.0)  # 0.4 * e^0.5 = 0.66 > 0.5
    assert before["cloth"] == 0.0 and after["cloth"] > 0.9
    assert before["skin"] == pytest.approx(after["skin"]) and after["skin"] > 0.9
    assert set(before) >= {"skin", "cloth", "mean"}


def test_a_photo_without_a_face_counts_as_background() -> None:
    empty = CachedPhoto(_photo().labels, None, None)
    assert score_offsets([empty], NAMES, {"cloth": 1.0}, fade_band=0.0)["cloth"] == 0.0
