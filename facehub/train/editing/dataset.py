"""Training data of the portrait editor: aligned faces with EDIT_LABELS masks, paired and unpaired.

``build_editing_cache`` aligns every face of a teacher-cached dataset (five
points from the MediaPipe mesh) into the editor's crop and stores
``cache/editing/<dataset>_<size>.npz``: ``names`` (N,), ``images`` (N, S, S, 3)
uint8, ``labels`` (N, S, S) uint8 EDIT_LABELS indices. Masks come from
``cache/parsing/<dataset>/<stem>.png`` (``scripts/pseudo_label_parsing.py``)
when present, else from the same pseudo-labeller run here.
``build_human_editing_cache`` does the same for a human-labelled parsing folder
(``celebamask19/train``: its label PNGs, mapped by class name, and the detector's
five points from ``cache/parsing/celebamask19_train.npz``), leaving out the photos that are also in the
editor's evaluation folder (``celebamask_hair/val``: 5 of celebamask19/train, found by thumbnail).

``EditingPairs`` samples, per item, a target face and either the same face as
source (paired: the target itself is the ground truth) or another face
(unpaired: a random subset of components comes from the source).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from facehub.editing.masks import EDIT_LABELS, to_edit_labels
from facehub.geometry.align import CropSpec, alignment_matrix, warp_affine
from facehub.train.data import cache_root, data_root

# The editor's crop: the whole head with its hair (small zoom = more context), a little lower.
EDITOR_CROP = {"zoom": 0.65, "shift_y": 0.04}


def editor_crop_spec(size: int) -> CropSpec:
    return CropSpec(size=size, zoom=EDITOR_CROP["zoom"], shift_y=EDITOR_CROP["shift_y"])


def align_pair(image: np.ndarray, labels: np.ndarray, points5: np.ndarray, spec: CropSpec) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``image`` (H, W, 3) uint8 and ``labels`` (H, W) uint8 to the aligned crop (S, S, 3) / (S, S)."""
    matrix = alignment_matrix(points5, spec)
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    crop = warp_affine(tensor, matrix, (spec.size, spec.size))[0].clamp(0, 255)
    lab = torch.from_numpy(labels.astype(np.float32))[None, None]
    lab_crop = warp_affine(lab, matrix, (spec.size, spec.size), mode="nearest")[0, 0]
    return (crop.permute(1, 2, 0).numpy() + 0.5).astype(np.uint8), lab_crop.numpy().astype(np.uint8)


def _labels_for(dataset: str, name: str, image: np.ndarray, cache, index: int) -> np.ndarray:
    from facehub.parsing.labels import FACEHUB

    path = cache_root() / "parsing" / dataset / (Path(name).stem + ".png")
    if path.is_file():
        raw = np.asarray(Image.open(path))
    else:
        from facehub.train.data.parsing_pseudo import load_hair_mask, pseudo_label

        hair_path = cache.image_dir.parent / "masks" / f"{Path(name).stem}_hair.png"
        hair = load_hair_mask(hair_path, image.shape[:2]) if hair_path.is_file() else None
        raw = pseudo_label(image, cache.points[index], cache.person_mask(name), hair)
    return to_edit_labels(raw, FACEHUB.names)  # IGNORE (255) becomes background


def _save_cache(out: Path, names: list[str], images: list[np.ndarray], labels: list[np.ndarray]) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, names=np.array(names), images=np.stack(images), labels=np.stack(labels))
    return out


EVALUATION_FOLDER = Path("celebamask_hair") / "val" / "images"  # scripts/eval_editor.py's pairs, under the data root


def _thumbnail(image: Image.Image) -> np.ndarray:
    """(16, 16) float grey thumbnail: identical photos differ by < 3 grey levels on average, others by > 10."""
    return np.asarray(image.convert("L").resize((16, 16), Image.BILINEAR), np.float32)


def _is_duplicate(thumb: np.ndarray, thumbs: np.ndarray) -> bool:
    return bool(len(thumbs)) and float(np.abs(thumbs - thumb).mean((1, 2)).min()) < 3.0


def build_human_editing_cache(dataset: str, split: str, size: int, exclude: Path | None = None) -> Path:
    """Align every detected face of the human-labelled ``<data>/<dataset>/<split>`` except photos also in
    ``exclude`` (default: the editor's evaluation folder); returns the .npz path."""
    from tqdm import tqdm

    from facehub.train.parsing.dataset import load_human_items

    out = cache_root() / "editing" / f"{dataset}_{split}_{size}.npz"
    if out.is_file():
        return out
    exclude = exclude or data_root() / EVALUATION_FOLDER
    held_out = [_thumbnail(Image.open(p)) for p in sorted(exclude.glob("*.jpg"))] if exclude.is_dir() else []
    held_out_thumbs = np.stack(held_out) if held_out else np.zeros((0, 16, 16), np.float32)
    spec = editor_crop_spec(size)
    names, images, labels, dropped = [], [], [], 0
    for item in tqdm(load_human_items(split, (dataset,)), desc=f"editing cache {dataset}/{split}", mininterval=5):
        photo = Image.open(item.image).convert("RGB")
        if _is_duplicate(_thumbnail(photo), held_out_thumbs):
            dropped += 1
            continue
        image = np.array(photo)  # writable, for torch.from_numpy
        lab = to_edit_labels(np.asarray(Image.open(item.label)), item.labels)
        crop, lab_crop = align_pair(image, lab, np.asarray(item.points5, np.float32), spec)
        names.append(item.image.name)
        images.append(crop)
        labels.append(lab_crop)
    print(f"[editing cache] {dataset}/{split}: {len(names)} faces, {dropped} left out (also in {exclude})", flush=True)
    return _save_cache(out, names, images, labels)


def build_editing_cache(dataset: str, size: int, limit: int | None = None) -> Path:
    """Align and label every teacher-found face of ``dataset``; returns the .npz path (reused when present)."""
    from tqdm import tqdm

    from facehub.train.data.parsing_pseudo import five_points_from_mesh
    from facehub.train.data.teacher import load_teacher_cache

    out = cache_root() / "editing" / f"{dataset}_{size}.npz"
    if out.is_file():
        return out
    cache = load_teacher_cache(dataset)
    spec = editor_crop_spec(size)
    names, images, labels = [], [], []
    found = np.flatnonzero(cache.found())[:limit]
    for index in tqdm(found, desc=f"editing cache {dataset}"):
        name = str(cache.names[index])
        image = np.asarray(Image.open(cache.image_dir / name).convert("RGB"))
        lab = _labels_for(dataset, name, image, cache, index)
        crop, lab_crop = align_pair(image, lab, five_points_from_mesh(cache.points[index]), spec)
        names.append(name)
        images.append(crop)
        labels.append(lab_crop)
    return _save_cache(out, names, images, labels)


@dataclass
class EditingSample:
    """target/source: (3, S, S) float in [-1, 1]; *_labels: (S, S) long; paired: source is the target;
    swap: (5,) bool, which components (COMPONENTS order) come from the source."""

    target: torch.Tensor
    target_labels: torch.Tensor
    source: torch.Tensor
    source_labels: torch.Tensor
    paired: bool
    swap: torch.Tensor


# EDIT_LABELS with left and right swapped: a mirrored face's left brow/eye is the unmirrored one's right
_MIRROR = torch.arange(len(EDIT_LABELS))
for _a, _b in (("left_eyebrow", "right_eyebrow"), ("left_eye", "right_eye")):
    _MIRROR[EDIT_LABELS.index(_a)], _MIRROR[EDIT_LABELS.index(_b)] = EDIT_LABELS.index(_b), EDIT_LABELS.index(_a)


class EditingPairs(torch.utils.data.Dataset):
    """Paired (probability ``paired_p``) and unpaired samples from one or more editing caches, with random flips."""

    def __init__(self, path: Path | list[Path], paired_p: float = 0.5, indices: np.ndarray | None = None, seed: int = 0):
        archives = [np.load(p) for p in (path if isinstance(path, list) else [path])]
        names = np.concatenate([a["names"].astype(str) for a in archives])
        images = np.concatenate([a["images"] for a in archives])
        labels = np.concatenate([a["labels"] for a in archives])
        keep = indices if indices is not None else np.arange(len(names))
        self.names = names[keep]
        self.images = torch.from_numpy(images[keep]).permute(0, 3, 1, 2).contiguous()
        self.labels = torch.from_numpy(labels[keep].astype(np.int64))
        self.paired_p = paired_p
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.names)

    def _get(self, index: int, flip: bool) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index].float() / 127.5 - 1.0
        labels = self.labels[index]
        if flip:  # left/right classes swapped so that masks and the parser critic keep one convention
            image, labels = image.flip(-1), _MIRROR[labels.flip(-1)]
        return image, labels

    def __getitem__(self, index: int) -> EditingSample:
        paired = bool(self.rng.random() < self.paired_p)
        target, target_labels = self._get(index, bool(self.rng.random() < 0.5))
        if paired:
            return EditingSample(target, target_labels, target, target_labels, True, torch.zeros(5, dtype=torch.bool))
        other = int(self.rng.integers(len(self) - 1))
        other += other >= index
        source, source_labels = self._get(other, bool(self.rng.random() < 0.5))
        swap = torch.from_numpy(self.rng.random(5) < 0.5)
        if not bool(swap.any()):
            swap[int(self.rng.integers(5))] = True
        return EditingSample(target, target_labels, source, source_labels, False, swap)


def collate(samples: list[EditingSample]) -> dict[str, torch.Tensor]:
    """Stack samples into a batch dict (images (B, 3, S, S), labels (B, S, S), paired (B,), swap (B, 5))."""
    return {
        "target": torch.stack([s.target for s in samples]),
        "target_labels": torch.stack([s.target_labels for s in samples]),
        "source": torch.stack([s.source for s in samples]),
        "source_labels": torch.stack([s.source_labels for s in samples]),
        "paired": torch.tensor([s.paired for s in samples]),
        "swap": torch.stack([s.swap for s in samples]),
    }


def one_hot(labels: torch.Tensor, num_classes: int = len(EDIT_LABELS)) -> torch.Tensor:
    """(B, H, W) long -> (B, C, H, W) float; values outside [0, C) give all-zero pixels."""
    valid = (labels >= 0) & (labels < num_classes)
    hot = F.one_hot(labels.clamp(0, num_classes - 1), num_classes).permute(0, 3, 1, 2).float()
    return hot * valid[:, None].float()
