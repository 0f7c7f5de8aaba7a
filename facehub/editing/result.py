"""Results of the editing predictor (dataclasses: drawing, ``to_json``, saving)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facehub import export
from facehub.detection.result import Face
from facehub.editing.masks import EDIT_LABELS

if TYPE_CHECKING:
    from PIL import Image

@dataclass
class ParsedPhoto:
    """image (H, W, 3) uint8; face: the face edited (largest); class_map (H, W) uint8 EDIT_LABELS (None: no face)."""

    image: np.ndarray
    face: Face | None
    class_map: np.ndarray | None


@dataclass
class EditResult:
    """An edit of the target photo.

    image: (H, W, 3) uint8 at the target's full resolution; source/target: the
    input photos; source_mask/target_mask: their EDIT_LABELS maps (None when no
    face was found); layout: (H, W) uint8 map the edit aims at; edited: (H, W)
    bool pixels the edit may change; faces: the target face edited (empty when
    a photo has no face: then ``image`` is the target unchanged); refused: None,
    or why nothing was edited although both faces were found (a chosen
    component missing in one photo, ``facehub.editing.refusal``): then
    ``image`` is the target unchanged and ``edited`` all False.
    """

    image: np.ndarray
    source: np.ndarray
    target: np.ndarray
    source_mask: np.ndarray | None
    target_mask: np.ndarray | None
    layout: np.ndarray | None
    edited: np.ndarray | None
    parts: tuple[str, ...]
    method: str
    faces: list[Face] = field(default_factory=list)
    labels: tuple[str, ...] = EDIT_LABELS
    refused: str | None = None

    def raise_if_refused(self) -> EditResult:
        """``self``, or ``ComponentNotFoundError(self.refused)`` when the edit was refused."""
        if self.refused is not None:
            from facehub.errors import ComponentNotFoundError

            raise ComponentNotFoundError(self.refused)
        return self

    def image_pil(self) -> Image.Image:
        from PIL import Image

        return Image.fromarray(self.image)

    def _mask_image(self, mask: np.ndarray | None, like: np.ndarray) -> Image.Image:
        from PIL import Image

        from facehub.editing.masks import mask_colours

        return Image.fromarray(mask_colours(mask if mask is not None else np.zeros(like.shape[:2], np.uint8)))

    def source_mask_image(self) -> Image.Image:
        return self._mask_image(self.source_mask, self.source)

    def target_mask_image(self) -> Image.Image:
        return self._mask_image(self.target_mask, self.target)

    def layout_image(self) -> Image.Image:
        return self._mask_image(self.layout, self.target)

    def overlay(self) -> Image.Image:
        """Source | target | result, side by side at the target's height (PIL image)."""
        from PIL import Image

        height = self.target.shape[0]
        tiles = []
        for array in (self.source, self.target, self.image):
            tile = Image.fromarray(array)
            tiles.append(tile.resize((max(1, round(tile.width * height / tile.height)), height)))
        canvas = Image.new("RGB", (sum(t.width for t in tiles), height))
        x = 0
        for tile in tiles:
            canvas.paste(tile, (x, 0))
            x += tile.width
        return canvas

    def to_json(self) -> dict:
        return {"parts": list(self.parts), "method": self.method, "faces": [f.to_json() for f in self.faces],
                "size": list(self.image.shape[:2]), "refused": self.refused}

    def save(self, folder: str | Path, stem: str) -> list[Path]:
        """``folder/stem.png``: the edited target photo (the CLI's ``edit --out``)."""
        return export.save_edit(self, folder, stem)
