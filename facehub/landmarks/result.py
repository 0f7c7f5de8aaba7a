"""Results of the landmarks predictor (dataclasses: drawing, ``to_json``, saving)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from facehub import export
from facehub.detection.result import Face
from facehub.geometry.landmarks68 import CONTOUR_COLOURS, contours, to_68
from facehub.viz import line_width

CROP_DISPLAY = 256


def draw_points(
    image: np.ndarray | Image.Image, points: np.ndarray, show_indices: bool = False, draw_contours: bool = True, width: int | None = None
) -> Image.Image:
    """Draw (F, N, 2) or (N, 2) pixel points (68 or 98 get contour lines) on a copy of ``image``."""
    canvas = (image if isinstance(image, Image.Image) else Image.fromarray(image)).convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    width = width or line_width(canvas.size)
    points = np.asarray(points, dtype=np.float64)
    for face in points.reshape(-1, *points.shape[-2:]):
        if draw_contours:
            for name, indices, closed in contours(len(face)):
                line = [tuple(face[i]) for i in indices] + ([tuple(face[indices[0]])] if closed else [])
                draw.line(line, fill=CONTOUR_COLOURS[name], width=width)
        radius = 0.5 + width
        for index, (x, y) in enumerate(face):
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(255, 40, 40))
            if show_indices:
                draw.text((x + radius, y - radius), str(index), fill=(255, 255, 255))
    return canvas


@dataclass
class LandmarksResult:
    """Landmarks of every face in a photo.

    image: (H, W, 3) uint8 RGB; faces: the detector's faces (by descending score);
    points: (F, N, 2) float photo pixels (N = 68 by default, 98 for WFLW models);
    crops: (F, s, s, 3) uint8 aligned crops; crop_points: (F, N, 2) in crop pixels.
    """

    image: np.ndarray
    faces: list[Face] = field(default_factory=list)
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 68, 2)))
    crops: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0, 3), np.uint8))
    crop_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 68, 2)))
    model: str = ""

    @property
    def points68(self) -> np.ndarray:
        """(F, 68, 2): the points in the 68-point iBUG set (98-point models converted)."""
        return to_68(self.points) if len(self.points) else np.zeros((0, 68, 2))

    def to_json(self) -> list[dict]:
        """``[{"box": [x0, y0, x1, y1], "score": s, "points": [[x, y] x N]}, ...]`` (the CLI's shape)."""
        out = []
        for face, pts in zip(self.faces, self.points):
            entry = face.to_json()
            entry["points"] = [[round(float(x), 2), round(float(y), 2)] for x, y in pts]
            out.append(entry)
        return out

    def to_csv(self) -> str:
        """One row per face: ``face, score, box_x0..box_y1, x0, y0, ..., x{N-1}, y{N-1}``."""
        n = self.points.shape[1] if self.points.ndim == 3 else 68
        header = ["face", "score", "box_x0", "box_y0", "box_x1", "box_y1"] + [f"{a}{i}" for i in range(n) for a in "xy"]
        rows = [",".join(header)]
        for index, (face, pts) in enumerate(zip(self.faces, self.points)):
            values = [str(index), f"{face.score:.4f}", *(f"{v:.2f}" for v in face.box), *(f"{v:.2f}" for v in pts.reshape(-1))]
            rows.append(",".join(values))
        return "\n".join(rows) + "\n"

    def save(self, folder: str | Path, stem: str) -> list[Path]:
        """``folder/stem.json``: this photo's entry of the CLI's ``landmarks`` file (see ``facehub.export``)."""
        return export.save_faces(self, folder, stem)

    def overlay(self, show_indices: bool = False, contours: bool = True) -> Image.Image:
        """The photo with every face's points (and contour lines, and indices when asked)."""
        return draw_points(self.image, self.points, show_indices, contours)

    def face_crops(self, show_indices: bool = False, contours: bool = True) -> list[Image.Image]:
        """Each aligned crop, enlarged to 256 px, with its points drawn."""
        images = []
        for crop, pts in zip(self.crops, self.crop_points):
            scale = CROP_DISPLAY / crop.shape[0]
            big = Image.fromarray(crop).resize((CROP_DISPLAY, CROP_DISPLAY), Image.Resampling.BICUBIC)
            images.append(draw_points(big, (pts + 0.5) * scale - 0.5, show_indices, contours, width=1))
        return images
