"""The five alignment points from other face descriptions: 68 iBUG points, the 468-point MediaPipe mesh, a box.

Five points are (5, 2) float64 ``(x, y)`` pixels, in MTCNN's order: eye centres,
nose tip, mouth corners, the image's left one first of each pair (the
subject's right eye first). Every predictor and trainer derives its
alignment points here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

# Indices into the 68-point (iBUG) set that give the five points.
LEFT_EYE_68 = list(range(36, 42))
RIGHT_EYE_68 = list(range(42, 48))
NOSE_TIP_68 = 30
MOUTH_LEFT_68 = 48
MOUTH_RIGHT_68 = 54

# The MediaPipe mesh's eye rings (subject's left and right eye), nose tip and mouth corners (image left, right).
MESH_LEFT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466]
MESH_RIGHT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
MESH_NOSE_TIP = 1
MESH_MOUTH_LEFT, MESH_MOUTH_RIGHT = 61, 291

# Mean offset (in inter-ocular units) from the mesh's own five points (``via="mesh"``) to MTCNN's,
# measured on 40 val images; adding it makes teacher-aligned crops sit where detector-aligned ones do.
MTCNN_OFFSET_468 = np.array([[-0.004, -0.029], [-0.011, -0.029], [-0.011, -0.074], [-0.026, -0.001], [0.007, -0.003]])

# Where MTCNN's five points sit in its box, in box units ((x - x0) / width, (y - y0) / height): the median over
# the 51 frontal faces (nose within 0.05 box widths of the eyes' midpoint) among 80 CelebAMask-HQ photos.
# (80 random 300-W faces give the same to 0.03.) On the 4 faces of the example photos MTCNN's points lie
# within 0.09 box widths of it (they sit about 0.04 higher): an estimate for callers that have boxes only.
BOX_TEMPLATE_5 = np.array([[0.28, 0.40], [0.75, 0.39], [0.52, 0.61], [0.30, 0.75], [0.73, 0.76]])


def five_points_from_68(points68: np.ndarray) -> np.ndarray:
    """(68, 2) iBUG points -> (5, 2) eye centres, nose tip, mouth corners."""
    points68 = np.asarray(points68, dtype=np.float64)
    return np.stack(
        [
            points68[LEFT_EYE_68].mean(0),
            points68[RIGHT_EYE_68].mean(0),
            points68[NOSE_TIP_68],
            points68[MOUTH_LEFT_68],
            points68[MOUTH_RIGHT_68],
        ]
    )


def five_points_from_468(
    points: np.ndarray, via: Literal["68", "mesh"] = "68", offset: np.ndarray | None = None
) -> np.ndarray:
    """(468, >=2) MediaPipe mesh points -> (5, 2) five points.

    ``via="68"``: through the teacher's fitted 468 -> 68 map and ``five_points_from_68`` (how PRNet's
    training crops are aligned). ``via="mesh"``: straight from the mesh (eye-ring means, nose tip
    vertex, mouth-corner vertices; how the parsing and editing pseudo-labels are aligned).
    ``offset`` (5, 2), in inter-ocular units, is added afterwards, scaled by the eye distance:
    ``MTCNN_OFFSET_468`` moves the ``via="mesh"`` points to where MTCNN puts them; None adds nothing.
    """
    p = np.asarray(points, dtype=np.float64)[:, :2]
    if via == "68":
        # the fitted 468 -> 68 map is an asset of reconstruction (imported here only when asked for)
        from facehub.reconstruction.uv import points_468_to_68

        five = five_points_from_68(points_468_to_68(p))
    elif via == "mesh":
        five = np.stack([p[MESH_RIGHT_EYE].mean(0), p[MESH_LEFT_EYE].mean(0), p[MESH_NOSE_TIP],
                         p[MESH_MOUTH_LEFT], p[MESH_MOUTH_RIGHT]])
    else:
        raise ValueError(f"Unknown via {via!r}; use '68' or 'mesh'.")
    if offset is None:
        return five
    return five + offset * np.linalg.norm(five[1] - five[0])


def five_points_from_box(boxes: np.ndarray) -> np.ndarray:
    """Boxes (..., 4) ``x0, y0, x1, y1`` -> estimated five points (..., 5, 2), placed by ``BOX_TEMPLATE_5``."""
    boxes = np.asarray(boxes, dtype=np.float64)
    origin, size = boxes[..., None, :2], boxes[..., None, 2:] - boxes[..., None, :2]
    return origin + BOX_TEMPLATE_5 * size


def box_from_five_points(points: np.ndarray) -> np.ndarray:
    """Five points (..., 5, 2) -> the box (..., 4) whose ``five_points_from_box`` fits them best (least squares).

    The exact inverse of ``five_points_from_box`` for points it made.
    """
    points = np.asarray(points, dtype=np.float64)
    template = BOX_TEMPLATE_5 - BOX_TEMPLATE_5.mean(0)
    centred = points - points.mean(-2, keepdims=True)
    size = (centred * template).sum(-2) / (template**2).sum(0)  # (..., 2) width, height
    origin = points.mean(-2) - BOX_TEMPLATE_5.mean(0) * size
    return np.concatenate([origin, origin + size], axis=-1)
