"""Landmark point sets: 68 points (iBUG / 300W) and 98 points (WFLW).

Index maps for horizontal flips (point ``i`` of a mirrored face is point
``FLIP_68[i]`` of the original), the standard WFLW 98 -> 68 conversion, the
contour groups used to draw a face, and the mean faces used by PIPNet's
neighbour heads. All indices are 0-based.
"""

from __future__ import annotations

import numpy as np

# 68 points, iBUG order: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67.
FLIP_68: list[int] = (
    list(range(16, -1, -1))  # jaw
    + list(range(26, 21, -1)) + list(range(21, 16, -1))  # brows
    + [27, 28, 29, 30] + [35, 34, 33, 32, 31]  # nose
    + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]  # eyes
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lip
    + [64, 63, 62, 61, 60, 67, 66, 65]  # inner lip
)

# 98 points, WFLW order: jaw 0-32, brows 33-50, nose 51-59, eyes 60-75, mouth 76-95, pupils 96-97.
FLIP_98: list[int] = (
    list(range(32, -1, -1))
    + [46, 45, 44, 43, 42, 50, 49, 48, 47] + [37, 36, 35, 34, 33, 41, 40, 39, 38]
    + [51, 52, 53, 54] + [59, 58, 57, 56, 55]
    + [72, 71, 70, 69, 68, 75, 74, 73] + [64, 63, 62, 61, 60, 67, 66, 65]
    + [82, 81, 80, 79, 78, 77, 76, 87, 86, 85, 84, 83]
    + [92, 91, 90, 89, 88, 95, 94, 93]
    + [97, 96]
)

# The standard WFLW -> 300W conversion: ``points68 = points98[MAP_98_TO_68]``.
MAP_98_TO_68: list[int] = (
    list(range(0, 33, 2))
    + [33, 34, 35, 36, 37, 42, 43, 44, 45, 46]
    + list(range(51, 60))
    + [60, 61, 63, 64, 65, 67] + [68, 69, 71, 72, 73, 75]
    + list(range(76, 96))
)

# Drawing groups: (name, indices, closed).
CONTOURS_68: list[tuple[str, list[int], bool]] = [
    ("jaw", list(range(0, 17)), False),
    ("right_brow", list(range(17, 22)), False),
    ("left_brow", list(range(22, 27)), False),
    ("nose_bridge", list(range(27, 31)), False),
    ("nose_base", [30, 31, 32, 33, 34, 35, 30], False),
    ("right_eye", list(range(36, 42)), True),
    ("left_eye", list(range(42, 48)), True),
    ("outer_lip", list(range(48, 60)), True),
    ("inner_lip", list(range(60, 68)), True),
]
CONTOURS_98: list[tuple[str, list[int], bool]] = [
    ("jaw", list(range(0, 33)), False),
    ("right_brow", list(range(33, 42)), True),
    ("left_brow", list(range(42, 51)), True),
    ("nose_bridge", list(range(51, 55)), False),
    ("nose_base", [54, 55, 56, 57, 58, 59, 54], False),
    ("right_eye", list(range(60, 68)), True),
    ("left_eye", list(range(68, 76)), True),
    ("outer_lip", list(range(76, 88)), True),
    ("inner_lip", list(range(88, 96)), True),
]
CONTOUR_COLOURS: dict[str, tuple[int, int, int]] = {
    "jaw": (255, 200, 0),
    "right_brow": (255, 120, 0),
    "left_brow": (255, 120, 0),
    "nose_bridge": (0, 200, 255),
    "nose_base": (0, 200, 255),
    "right_eye": (0, 255, 120),
    "left_eye": (0, 255, 120),
    "outer_lip": (255, 60, 120),
    "inner_lip": (255, 60, 200),
}

# Outer eye corners, the inter-ocular normaliser.
OUTER_EYE_CORNERS: dict[int, tuple[int, int]] = {68: (36, 45), 98: (60, 72)}


def flip_index(num_points: int) -> list[int]:
    """The flip permutation of a point set of ``num_points`` (68 or 98)."""
    if num_points == 68:
        return FLIP_68
    if num_points == 98:
        return FLIP_98
    raise ValueError(f"No flip map for {num_points} points; use 68 or 98.")


def contours(num_points: int) -> list[tuple[str, list[int], bool]]:
    """Drawing groups of a point set of ``num_points`` (68 or 98); other sizes draw no lines."""
    return {68: CONTOURS_68, 98: CONTOURS_98}.get(num_points, [])


def flip_points(points: np.ndarray, width: float, num_points: int | None = None) -> np.ndarray:
    """Mirror (..., N, 2) pixel points in an image ``width`` px wide and swap left/right indices.

    With the pixel-centre convention, x maps to ``width - 1 - x``.
    """
    points = np.asarray(points, dtype=np.float64).copy()
    order = flip_index(num_points or points.shape[-2])
    points[..., 0] = width - 1 - points[..., 0]
    return points[..., order, :]


def to_68(points: np.ndarray) -> np.ndarray:
    """(..., 98 | 68, 2) -> (..., 68, 2)."""
    points = np.asarray(points)
    if points.shape[-2] == 68:
        return points
    if points.shape[-2] == 98:
        return points[..., MAP_98_TO_68, :]
    raise ValueError(f"Cannot convert {points.shape[-2]} points to 68.")


def mean_face(points: np.ndarray) -> np.ndarray:
    """Mean of (M, N, 2) aligned point sets -> (N, 2)."""
    return np.asarray(points, dtype=np.float64).mean(0)


def neighbour_indices(mean: np.ndarray, num_nb: int) -> np.ndarray:
    """For each point of ``mean`` (N, 2), its ``num_nb`` nearest other points: (N, num_nb) int."""
    mean = np.asarray(mean, dtype=np.float64)
    distances = np.linalg.norm(mean[:, None] - mean[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    return np.argsort(distances, axis=1, kind="stable")[:, :num_nb]
