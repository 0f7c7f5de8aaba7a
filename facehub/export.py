"""The files a result becomes: one layout for the CLI, the app's downloads and ``result.save``.

For one photo saved as ``stem`` in ``folder`` (``result.save(folder, stem)`` writes the first group, which is
exactly what the CLI writes for that photo; the app offers the first group plus the "downloads" extras):

=============  =====================================================  =========================================
task           ``result.save(folder, stem)`` (= the CLI)               extra downloads (the app)
=============  =====================================================  =========================================
detection      ``stem.json``: ``[{"box", "score", "points"}, ...]``     (the app shows the faces, no files)
landmarks      ``stem.json``: ``[{"box", "score", "points"}, ...]``     ``stem.csv``, ``stem_overlay.png``
parsing        ``stem.png`` (uint8 class indices, photo size),         ``stem_colour.png``, ``stem_overlay.png``,
               ``labels.json``: ``{"model", "labels"}``                 ``stem.json`` (faces, pixels per class)
reconstruction ``stem.json``: ``{"faces": [...]}``, ``stem.obj`` +      ``stem_obj.zip`` (OBJ + MTL + texture),
               ``stem.mtl`` + ``stem_texture.png``, ``stem.glb``       ``stem_overlay.png``
editing        ``stem.png``: the edited target photo                   (none)
=============  =====================================================  =========================================

Several photos, one file: the CLI's ``detect``/``landmarks --out FILE.json`` gather each photo's ``stem.json``
list under its file name (``write_faces_json``). Every JSON file is written with ``indent=2``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from facehub.detection.result import DetectionResult
    from facehub.editing.result import EditResult
    from facehub.landmarks.result import LandmarksResult
    from facehub.parsing.result import ParsingResult
    from facehub.reconstruction.result import ReconstructionResult

LABELS_NAME = "labels.json"


def write_json(data: Any, path: str | Path) -> Path:
    """Write ``data`` (JSON-plain) with ``indent=2``; create the folder. Returns ``path``."""
    return write_text(json.dumps(data, indent=2), path)


def write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` (a CSV table, an OBJ) to ``path``; create the folder. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_image(image: np.ndarray | Image.Image, path: str | Path) -> Path:
    """Write an (H, W, 3) uint8 RGB array or a PIL image; the format follows the suffix. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(path)
    return path


def write_class_mask(class_map: np.ndarray, path: str | Path) -> Path:
    """Write an (H, W) uint8 class-index map as a greyscale PNG (pixel value = label index)."""
    if class_map.ndim != 2 or class_map.dtype != np.uint8:
        raise ValueError(f"a class map is (H, W) uint8, got {class_map.shape} {class_map.dtype}")
    return write_image(Image.fromarray(class_map), path)


def write_labels(folder: str | Path, model: str, labels: tuple[str, ...] | list[str]) -> Path:
    """``folder/labels.json``: ``{"model": name, "labels": [names in index order]}``."""
    return write_json({"model": model, "labels": list(labels)}, Path(folder) / LABELS_NAME)


def write_faces_json(per_photo: dict[str, list[dict]], path: str | Path) -> Path:
    """The CLI's detect/landmarks file: ``{"<file name>": [face, ...], ...}``."""
    return write_json(per_photo, path)


def zip_files(paths: list[Path], path: str | Path) -> Path:
    """Bundle ``paths`` (by their bare names) into the zip ``path``."""
    path = Path(path)
    with zipfile.ZipFile(path, "w") as bundle:
        for file in paths:
            bundle.write(file, arcname=file.name)
    return path


# --- what ``result.save(folder, stem)`` writes: the CLI's files for one photo --------------------------------


def save_faces(result: DetectionResult | LandmarksResult, folder: str | Path, stem: str) -> list[Path]:
    """Detection or landmarks: ``stem.json``, the list the CLI stores under the photo's name."""
    return [write_json(result.to_json(), Path(folder) / f"{stem}.json")]


def save_parsing(result: ParsingResult, folder: str | Path, stem: str) -> list[Path]:
    """``stem.png`` (class indices at the photo's size) and ``labels.json``."""
    folder = Path(folder)
    return [write_class_mask(result.class_map, folder / f"{stem}.png"), write_labels(folder, result.model, result.labels)]


def save_reconstruction(result: ReconstructionResult, folder: str | Path, stem: str) -> list[Path]:
    """``stem.json`` (3D landmarks, pose), ``stem.obj`` + ``stem.mtl`` + ``stem_texture.png``, ``stem.glb``."""
    folder = Path(folder)
    json_path = write_json(result.to_json(), folder / f"{stem}.json")
    return [json_path, *result.save_obj(folder / stem), result.save_glb(folder / f"{stem}.glb")]


def save_edit(result: EditResult, folder: str | Path, stem: str) -> list[Path]:
    """``stem.png``: the edited target photo at full resolution."""
    return [write_image(result.image, Path(folder) / f"{stem}.png")]


# --- the app's downloads: the saved files plus the extras of the table above ---------------------------------


def overlay_path(folder: str | Path, stem: str) -> Path:
    return Path(folder) / f"{stem}_overlay.png"


def parsing_downloads(result: ParsingResult, folder: str | Path, stem: str, overlay: Image.Image | None = None) -> list[Path]:
    """Saved files + ``stem_colour.png``, ``stem_overlay.png`` (``overlay`` or the default drawing), ``stem.json``."""
    folder = Path(folder)
    return [
        *save_parsing(result, folder, stem),
        write_image(result.colour_mask(), folder / f"{stem}_colour.png"),
        write_image(result.overlay() if overlay is None else overlay, overlay_path(folder, stem)),
        write_json(result.to_json(), folder / f"{stem}.json"),
    ]


def landmarks_downloads(result: LandmarksResult, folder: str | Path, stem: str, overlay: Image.Image | None = None) -> list[Path]:
    """Saved ``stem.json`` + ``stem.csv`` (one row per face) + ``stem_overlay.png``."""
    folder = Path(folder)
    return [*save_faces(result, folder, stem), write_text(result.to_csv(), folder / f"{stem}.csv"),
            write_image(result.overlay() if overlay is None else overlay, overlay_path(folder, stem))]


def reconstruction_downloads(result: ReconstructionResult, folder: str | Path, stem: str,
                             overlay: Image.Image | None = None) -> list[Path]:
    """``stem.json``, ``stem.glb``, ``stem_obj.zip`` (the OBJ, MTL and texture) and ``stem_overlay.png``."""
    folder = Path(folder)
    json_path, obj, mtl, texture, glb = save_reconstruction(result, folder, stem)
    archive = zip_files([obj, mtl, texture], folder / f"{stem}_obj.zip")
    return [json_path, glb, archive, write_image(result.overlay() if overlay is None else overlay, overlay_path(folder, stem))]

