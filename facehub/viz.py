"""Drawings shared by the tabs and the CLI: boxes, points, legends."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

BOX_COLOUR = (0, 220, 120)
POINT_COLOURS = [(255, 60, 60), (60, 120, 255), (255, 220, 0), (255, 0, 255), (0, 255, 255)]


def line_width(image_size: tuple[int, int]) -> int:
    """A line width that reads at any image size."""
    return max(1, round(max(image_size) / 400))


def draw_faces(image: np.ndarray, faces, label: str | None = None) -> Image.Image:
    """Draw each face's box, number and score, and five points on a copy of ``image`` (H, W, 3) uint8. Faces are
    numbered by size (``size_order``: 1 = the largest), as the editor's face numbers are."""
    from facehub.detection.detector import size_order

    number = {index: rank + 1 for rank, index in enumerate(size_order(list(faces)))}
    canvas = Image.fromarray(image).copy()
    draw = ImageDraw.Draw(canvas)
    width = line_width(canvas.size)
    for index, face in enumerate(faces):
        x0, y0, x1, y1 = (float(v) for v in face.box)
        draw.rectangle([x0, y0, x1, y1], outline=BOX_COLOUR, width=width)
        draw.text((x0 + 2, max(0, y0 - 12 * width)), f"#{number[index]} {face.score:.2f}", fill=BOX_COLOUR)
        radius = 1.5 * width
        for (x, y), colour in zip(face.points, POINT_COLOURS):
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)
    if label:
        draw.text((4, 4), label, fill=(255, 255, 255))
    return canvas
