"""Results of the parsing predictor (dataclasses: drawing, ``to_json``, saving)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from facehub import export
from facehub.detection.result import Face
from facehub.parsing.labels import LabelSet, convert, draw_legend, get_label_set, label_set_for


@dataclass
class ParsingResult:
    """Parsing of every face of one photo.

    image: (H, W, 3) uint8 RGB; faces: detections (descending score);
    class_map: (H, W) uint8 class indices into ``labels`` (0 = background);
    face_index: (H, W) int16, the face each pixel's class came from (-1 = none);
    crop_probs: per face, its (C, r, r) float32 class probabilities in [0, 1] on the grid the parser pasted from
    (r <= s: half the crop for BiSeNet); ``crop_maps`` (per face, its (s, s) uint8 class map in the aligned crop) is made from them
    on first use; crop_images: per face, its (s, s, 3) uint8 aligned crop; matrices: (F, 2, 3) image px -> crop px.
    """

    image: np.ndarray
    faces: list[Face]
    class_map: np.ndarray
    labels: tuple[str, ...]
    face_index: np.ndarray | None = None
    crop_probs: list[np.ndarray] = field(default_factory=list)
    crop_images: list[np.ndarray] = field(default_factory=list)
    matrices: np.ndarray | None = None
    model: str = ""
    _crop_maps: list[np.ndarray] | None = field(default=None, init=False, repr=False)

    @property
    def crop_maps(self) -> list[np.ndarray]:
        """Per face, its (s, s) uint8 class map in the aligned crop: ``crop_probs`` upsampled bilinearly to the
        crop's size, then the most probable class (made on first use, then kept)."""
        if self._crop_maps is None:
            self._crop_maps = [crop_class_map(probs, image.shape[0]) for probs, image in zip(self.crop_probs, self.crop_images)]
        return self._crop_maps

    @property
    def label_map(self) -> np.ndarray:
        """Alias of ``class_map`` (the CLI's name)."""
        return self.class_map

    @property
    def label_set(self) -> LabelSet:
        return label_set_for(self.labels)

    def as_label_set(self, name: str | LabelSet) -> "ParsingResult":
        """This result in another label set (``"lapa"``, ``"facehub"``, ``"celebamask"``, ``"helen"``), classes
        mapped by name (``l_brow`` -> ``left_eyebrow``); a class the set lacks becomes its coarse class where the
        set has it (``neck``, ``l_ear`` -> ``skin``; ``eye_g`` -> ``skin``), else background (``cloth``, ``hat``)."""
        target = name if isinstance(name, LabelSet) else get_label_set(name)
        source = self.label_set
        if source.names == target.names:
            return self
        mapping = convert(np.arange(len(source.names), dtype=np.uint8), source, target)  # class -> its class in target
        merge = np.zeros((len(target.names), len(source.names)), np.float32)
        merge[mapping, np.arange(len(source.names))] = 1.0  # probabilities of classes that meet add up
        probs = [np.einsum("ts,shw->thw", merge, p) for p in self.crop_probs]
        return replace(self, class_map=convert(self.class_map, source, target), labels=target.names, crop_probs=probs)

    def _class_ids(self, classes: list[str] | list[int] | None) -> list[int]:
        if not classes:
            return list(range(1, len(self.labels)))
        return [c if isinstance(c, (int, np.integer)) else self.label_set.index(str(c)) for c in classes]

    def colour_mask(self, classes: list[str] | list[int] | None = None) -> Image.Image:
        """The class map in the label set's palette (hidden classes black), same size as the photo."""
        shown = np.zeros(256, dtype=bool)
        shown[self._class_ids(classes)] = True
        colours = self.label_set.palette[self.class_map]
        colours[~shown[self.class_map]] = 0
        return Image.fromarray(colours)

    def overlay(self, alpha: float = 0.5, classes: list[str] | list[int] | None = None) -> Image.Image:
        """The photo with the classes in ``classes`` (names or indices; None = all but background)
        blended in at opacity ``alpha`` in [0, 1]."""
        shown = np.zeros(256, dtype=bool)
        shown[self._class_ids(classes)] = True
        mask = shown[self.class_map][..., None]
        colours = self.label_set.palette[self.class_map].astype(np.float32)
        base = self.image.astype(np.float32)
        blended = np.where(mask, (1 - alpha) * base + alpha * colours, base)
        return Image.fromarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8))

    def legend(self, classes: list[str] | list[int] | None = None) -> Image.Image:
        """Colour swatches and names of the classes (all by default, background included)."""
        ids = None if not classes else self._class_ids(classes)
        return draw_legend(self.label_set, ids)

    def face_crops(self, alpha: float = 0.5) -> list[Image.Image]:
        """Per face: its aligned crop with its own parsing blended in."""
        crops = []
        for image, classes in zip(self.crop_images, self.crop_maps):
            colours = self.label_set.palette[classes].astype(np.float32)
            mask = (classes > 0)[..., None]
            blended = np.where(mask, (1 - alpha) * image + alpha * colours, image)
            crops.append(Image.fromarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8)))
        return crops

    def to_json(self) -> dict:
        """Faces (box, score, points, pixel count per class within the face's pixels) and the label names."""
        faces = []
        for index, face in enumerate(self.faces):
            entry = face.to_json()
            if self.face_index is not None:
                counts = np.bincount(self.class_map[self.face_index == index], minlength=len(self.labels))
                entry["pixels"] = {name: int(n) for name, n in zip(self.labels, counts) if n and name != "background"}
            faces.append(entry)
        height, width = self.class_map.shape
        return {"model": self.model, "size": [width, height], "labels": list(self.labels), "faces": faces}

    def save(self, folder: str | Path, stem: str) -> list[Path]:
        """What the CLI's ``parse`` writes for this photo: ``folder/stem.png`` (class indices) and ``labels.json``."""
        return export.save_parsing(self, folder, stem)


def crop_class_map(probs: np.ndarray, size: int) -> np.ndarray:
    """(C, r, r) probabilities in [0, 1] -> (size, size) uint8 most probable class, upsampled bilinearly
    (``align_corners=False``, the crop's pixel centres) when r < size."""
    import torch

    scores = torch.from_numpy(probs)[None]
    if scores.shape[-1] != size:
        scores = torch.nn.functional.interpolate(scores, size=(size, size), mode="bilinear", align_corners=False)
    return scores[0].max(0).indices.numpy().astype(np.uint8)  # max(0) is ~5x faster than argmax(0) on the CPU
