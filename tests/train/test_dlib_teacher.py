"""The dlib teacher's face choice: only a candidate that overlaps and agrees with the reference points is kept."""

from __future__ import annotations

import numpy as np

from facehub.train.landmarks.dlib_teacher import TeacherFace, agreeing_face


def _face(rng: np.random.Generator, offset: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """A (68, 2) point cloud about 100 px wide at (100, 100) + offset, outer eye corners 36 and 45 60 px apart."""
    points = 100 + rng.uniform(-50, 50, (68, 2)) * scale
    points[36], points[45] = (70, 90), (130, 90)
    return points + offset


def _teacher(points: np.ndarray) -> TeacherFace:
    return TeacherFace(np.r_[points.min(0), points.max(0)], points)


def test_keeps_the_agreeing_candidate_and_drops_the_rest() -> None:
    rng = np.random.default_rng(0)
    reference = _face(rng)
    near = _teacher(reference + rng.normal(0, 1.0, reference.shape))      # about 1.3 px off: NME ~0.02
    far_face = _teacher(reference + 400)                                    # another person, no overlap
    wrong = _teacher(reference + rng.normal(0, 15.0, reference.shape))     # same box, points ~19 px off: NME ~0.3
    assert agreeing_face([far_face, wrong, near], reference) is near
    assert agreeing_face([far_face, wrong], reference) is None
    assert agreeing_face([], reference) is None


def test_the_closest_of_two_agreeing_candidates_wins_and_the_bound_is_inclusive() -> None:
    rng = np.random.default_rng(1)
    reference = _face(rng)
    close = _teacher(reference + 0.5)     # every point 0.71 px off: NME 0.0118
    closer = _teacher(reference + 0.25)   # NME 0.0059
    assert agreeing_face([close, closer], reference) is closer
    assert agreeing_face([close], reference, max_nme=0.5 * np.sqrt(2) / 60) is close
    assert agreeing_face([close], reference, max_nme=0.01) is None
