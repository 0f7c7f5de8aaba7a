"""Readers for labelled face-parsing folders in their official layouts.

* **CelebAMask-HQ**: ``CelebA-HQ-img/<id>.jpg`` and either the per-part binary masks
  ``CelebAMask-HQ-mask-anno/<k>/<id:05d>_<part>.png`` (k = id // 2000; merged here with
  ``merge_celebamask_parts``, later parts overwrite earlier ones as in the dataset's own
  ``g_mask.py``) or already merged ``CelebAMask-HQ-mask/<id>.png``. Label set ``CELEBAMASK``.
* **LaPa**: ``[split/]images/<name>.jpg`` and ``[split/]labels/<name>.png`` (indices 0-10). ``LAPA``.
* **Merged PNGs with ``classes.json``** (e.g. ``celebamask19/{train,val}``): as LaPa, with the class names in index
  order in ``classes.json`` (``{"classes": [...]}``); CelebAMask-HQ's 19 names give ``CELEBAMASK``.
* **Helen** (Smith et al. relabelling): ``images/<name>.jpg`` and ``labels/<name>/<name>_lbl00.png`` ...
  ``_lbl10.png`` (one 0-255 map per class; merged by argmax). ``HELEN``.

``open_parsing_folder(root)`` detects the layout and returns (image path, label loader) items.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from facehub.parsing.labels import CELEBAMASK, HELEN, LAPA, LabelSet, label_set_for

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
CELEBAMASK_PARTS = CELEBAMASK.names[1:]  # skin ... cloth, in merge order
_PART_FILE = re.compile(r"^(\d+)_([a-z_]+)\.png$")


def find_celebamask_parts(mask_root: Path) -> dict[int, dict[str, Path]]:
    """Index ``<id>_<part>.png`` files under ``mask_root`` (any depth): id -> part -> path."""
    index: dict[int, dict[str, Path]] = {}
    for path in sorted(Path(mask_root).rglob("*.png")):
        match = _PART_FILE.match(path.name)
        if match and match.group(2) in CELEBAMASK_PARTS:
            index.setdefault(int(match.group(1)), {})[match.group(2)] = path
    return index


def merge_celebamask_parts(parts: dict[str, Path], size: tuple[int, int] | None = None) -> np.ndarray:
    """Merge one image's binary part masks into a (H, W) uint8 CELEBAMASK class map.

    ``parts``: part name -> PNG path (0 / 255, or any non-zero = part). Parts are drawn in
    ``CELEBAMASK`` order, later over earlier; pixels of no part are background (0).
    ``size`` (H, W) defaults to the first mask's size; masks of another size are resized (nearest).
    """
    unknown = sorted(set(parts) - set(CELEBAMASK_PARTS))
    if unknown:
        raise ValueError(f"Unknown CelebAMask-HQ parts {unknown}; valid: {', '.join(CELEBAMASK_PARTS)}")
    merged: np.ndarray | None = None if size is None else np.zeros(size, np.uint8)
    for index, part in enumerate(CELEBAMASK_PARTS, start=1):
        if part not in parts:
            continue
        mask = Image.open(parts[part]).convert("L")
        if merged is None:
            merged = np.zeros((mask.height, mask.width), np.uint8)
        if mask.size != (merged.shape[1], merged.shape[0]):
            mask = mask.resize((merged.shape[1], merged.shape[0]), Image.NEAREST)
        merged[np.asarray(mask) > 127] = index
    if merged is None:
        raise ValueError("No part masks given and no size to make an empty map.")
    return merged


def merge_helen_maps(paths: list[Path]) -> np.ndarray:
    """Helen's 11 per-class maps (``_lbl00`` ... ``_lbl10``, 0-255) -> (H, W) uint8 HELEN indices by argmax."""
    stack = np.stack([np.asarray(Image.open(p).convert("L")) for p in sorted(paths)])
    return stack.argmax(0).astype(np.uint8)


@dataclass
class ParsingSample:
    """One labelled image: its path, a name, and a loader of its (H, W) uint8 class map."""

    image: Path
    name: str
    load_label: Callable[[], np.ndarray]


@dataclass
class ParsingFolder:
    """A labelled folder: its layout name, label set and samples."""

    layout: str
    labels: LabelSet
    samples: list[ParsingSample]


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _read_png(path: Path) -> Callable[[], np.ndarray]:
    return lambda: np.asarray(Image.open(path))


def _celebamask(root: Path) -> ParsingFolder:
    images = {int(p.stem): p for p in _images(root / "CelebA-HQ-img") if p.stem.isdigit()}
    samples = []
    merged_dir = root / "CelebAMask-HQ-mask"
    if merged_dir.is_dir():
        for image_id, path in images.items():
            label = merged_dir / f"{image_id}.png"
            if label.is_file():
                samples.append(ParsingSample(path, path.stem, _read_png(label)))
    else:
        index = find_celebamask_parts(root / "CelebAMask-HQ-mask-anno")
        for image_id, path in images.items():
            if image_id in index:
                parts = index[image_id]
                samples.append(ParsingSample(path, path.stem, lambda parts=parts: merge_celebamask_parts(parts, (512, 512))))
    return ParsingFolder("celebamask", CELEBAMASK, samples)


def _lapa_or_helen(root: Path) -> ParsingFolder:
    images_dir, labels_dir = root / "images", root / "labels"
    samples, helen = [], False
    for path in _images(images_dir):
        flat = labels_dir / f"{path.stem}.png"
        nested = sorted((labels_dir / path.stem).glob(f"{path.stem}_lbl*.png")) if (labels_dir / path.stem).is_dir() else []
        if nested:
            helen = True
            samples.append(ParsingSample(path, path.stem, lambda nested=nested: merge_helen_maps(nested)))
        elif flat.is_file():
            samples.append(ParsingSample(path, path.stem, _read_png(flat)))
    if helen:
        return ParsingFolder("helen", HELEN, samples)
    named = root / "classes.json"  # merged class-index PNGs whose classes are listed beside them (celebamask19)
    if named.is_file():
        labels = label_set_for(json.loads(named.read_text())["classes"])
        return ParsingFolder(labels.name, labels, samples)
    return ParsingFolder("lapa", LAPA, samples)


def open_parsing_folder(root: Path | str, split: str | None = None) -> ParsingFolder:
    """Detect the layout of ``root`` (optionally its ``split`` subfolder, e.g. "test") and list its samples."""
    root = Path(root)
    if split:
        root = root / split
    if (root / "CelebA-HQ-img").is_dir():
        return _celebamask(root)
    if (root / "images").is_dir() and (root / "labels").is_dir():
        return _lapa_or_helen(root)
    for sub in ("test", "val"):
        if (root / sub / "images").is_dir():
            return _lapa_or_helen(root / sub)
    raise FileNotFoundError(
        f"{root} is not a CelebAMask-HQ (CelebA-HQ-img/ + CelebAMask-HQ-mask-anno/), LaPa or Helen "
        "(images/ + labels/) folder."
    )
