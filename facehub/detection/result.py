"""The detector's results, which every task's result carries: ``Face`` and ``DetectionResult``.

All coordinates are in the input photo's pixels (x right, y down). Each task's own result dataclass lives in
``facehub/<task>/result.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facehub import export


@dataclass
class Face:
    """One detected face.

    box: (4,) float ``[x0, y0, x1, y1]``; score: detector confidence in [0, 1];
    points: (5, 2) float, eye centres, nose tip, mouth corners (image left first).
    """

    box: np.ndarray
    score: float
    points: np.ndarray

    def to_json(self) -> dict:
        return {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "points": [[round(float(x), 2), round(float(y), 2)] for x, y in self.points],
        }


@dataclass
class DetectionResult:
    """Every face in a photo, by descending score. ``image`` is (H, W, 3) uint8 RGB."""

    image: np.ndarray
    faces: list[Face] = field(default_factory=list)

    def to_json(self) -> list[dict]:
        return [face.to_json() for face in self.faces]

    def save(self, folder: str | Path, stem: str) -> list[Path]:
        """``folder/stem.json``: this photo's entry of the CLI's ``detect`` file (see ``facehub.export``)."""
        return export.save_faces(self, folder, stem)

    def overlay(self):
        """PIL image with boxes, scores and the five points drawn."""
        from facehub.viz import draw_faces

        return draw_faces(self.image, self.faces)


def faces_from_corners(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray) -> list[Face]:
    """A detector's arrays in corner coordinates (pixel ``i`` covers ``[i, i + 1]``): ``boxes`` (F, 4), ``scores``
    (F,), ``points`` (F, 5, 2) -> ``Face`` objects in pixel-centre coordinates (pixel ``i`` covers ``[i - 0.5, i + 0.5]``)."""
    return [Face(box=b - 0.5, score=float(s), points=p - 0.5) for b, s, p in zip(boxes, scores, points)]
