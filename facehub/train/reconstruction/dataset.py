"""Training data for PRNet: teacher 468-point faces -> aligned crops + UV position maps.

Each face with a MediaPipe teacher fit (``cache/teacher/<dataset>.npz``) is
cut once as a *loose* crop (``LOOSE`` times the model crop's field of view,
so that rotation and scale augmentation never run out of picture) and cached
in ``cache/prnet/<name>.npz``. A training sample then warps the loose crop by
a random similarity (rotation, scale, shift, mirror) to the model crop,
applies colour jitter, and rasterises the transformed teacher points
(x, y by the affine; z scaled by the same scale) into the UV map.

The crop is aligned like inference aligns it: five points (eye centres, nose
tip, mouth corners; here from the teacher's 68-mapped points, at inference
from MTCNN) to ``CropSpec``'s template.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from facehub.geometry.align import CropSpec, alignment_matrix
from facehub.geometry.five_points import five_points_from_468
from facehub.geometry.landmarks68 import flip_index
from facehub.reconstruction.uv import canonical_mesh, uv_layout
from facehub.train.data import cache_root
from facehub.train.data.teacher import TeacherCache, load_teacher_cache
from facehub.train.data.ytf68 import person_of

LOOSE = 1.6  # loose crop field of view / model crop field of view
LOOSE_PIXELS = 1.625  # loose crop size / model crop size (pixels), a little more than LOOSE
# Faces whose human labels mirror with the index swap even when ``mirror_labels`` is off: 300-W's are
# nearly mirror-symmetric (see the PIPNet card), ytf68's are not.
MIRRORED_LABEL_SOURCES = ("labelled_300w68",)
TRAIN_SETS = ("celebamask_hair_train", "figaro1k_hair_train", "ytf68")
VAL_SETS = ("celebamask_hair_val", "ytf68")


def ytf68_val_people(val_fraction: float = 0.12, seed: int = 0) -> set[str]:
    """The held-out people of ``facehub.train.data.ytf68.split_by_person`` (same seed and fraction)."""
    import random

    cache = teacher_cache("ytf68")
    people = sorted({person_of(str(n)) for n in cache.names})
    random.Random(seed).shuffle(people)
    return set(people[: max(1, round(len(people) * val_fraction))])


def mirror_index() -> np.ndarray:
    """(468,) vertex of the mirrored face: point ``i`` of a flipped face is point ``MIRROR[i]`` of the original."""
    vertices = canonical_mesh().vertices
    mirrored = vertices * np.array([-1.0, 1.0, 1.0])
    dist = ((mirrored[:, None] - vertices[None]) ** 2).sum(-1)
    return dist.argmin(1)


@dataclass
class LooseCrops:
    """images (N, L, L, 3) uint8; points (N, 468, 3) float32 in loose-crop pixels; names (N,) str; sources (N,) str;
    labels68 (N, 68, 2) float32 human-labelled 68 points in loose-crop pixels (NaN where a face has none)."""

    images: np.ndarray
    points: np.ndarray
    names: np.ndarray
    sources: np.ndarray
    labels68: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.labels68 is None:
            self.labels68 = np.full((len(self.images), 68, 2), np.nan, dtype=np.float32)

    FIELDS = ("images", "points", "names", "sources", "labels68")

    @classmethod
    def concat(cls, parts: list[LooseCrops]) -> LooseCrops:
        """The faces of ``parts`` in order (all cut at the same loose size)."""
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.FIELDS))

    @classmethod
    def load(cls, path: Path) -> LooseCrops:
        """Read what ``save`` wrote."""
        z = np.load(path)
        return cls(*(z[f] for f in cls.FIELDS))

    def save(self, path: Path) -> None:
        """Write every field to the ``.npz`` at ``path`` (its folder made if needed)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **{f: getattr(self, f) for f in self.FIELDS})


def loose_size(input_size: int) -> int:
    """Side (px) of the cached loose crops for a model crop of ``input_size`` px."""
    return int(round(input_size * LOOSE_PIXELS))


def loose_matrix(points5: np.ndarray, spec: CropSpec, loose_size: int) -> np.ndarray:
    """2x3 image -> loose crop: the model crop's alignment widened by ``LOOSE`` about its centre."""
    m = np.vstack([alignment_matrix(points5, spec), [0, 0, 1]])
    c = (spec.size - 1) / 2
    k = loose_size / (spec.size * LOOSE)
    widen = np.array([[k, 0, (loose_size - 1) / 2 - k * c], [0, k, (loose_size - 1) / 2 - k * c], [0, 0, 1]])
    return (widen @ m)[:2]


def cut_loose(image: np.ndarray, mesh: np.ndarray, spec: CropSpec, loose_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The loose crop (L, L, 3) uint8 of the face whose (468, 3) image-pixel mesh is ``mesh``, aligned from the
    mesh's five points; the mesh in loose-crop pixels (468, 3) float32 (z scaled with x, y); and the 2x3 matrix."""
    matrix = loose_matrix(five_points_from_468(mesh), spec, loose_size)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    xy = mesh[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    return warp_loose(image, matrix, loose_size), np.concatenate([xy, mesh[:, 2:] * scale], 1).astype(np.float32), matrix


def warp_loose(image: np.ndarray, matrix: np.ndarray, loose_size: int) -> np.ndarray:
    """The (L, L, 3) uint8 loose crop of ``image`` (H, W, 3) under the 2x3 image -> loose-crop ``matrix``
    (area-averaged where it shrinks the photo below 0.7x, bilinear otherwise)."""
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    return cv2.warpAffine(image, matrix, (loose_size, loose_size), flags=cv2.INTER_AREA if scale < 0.7 else cv2.INTER_LINEAR)


def build_loose_crops(split: str, spec: CropSpec, loose_size: int) -> LooseCrops:
    """Cut (or read from ``cache/prnet``) the loose crops of ``split`` ("train" or "val")."""
    path = cache_root() / "prnet" / f"{split}_{spec.size}_{spec.zoom}_{spec.shift_y}_{loose_size}.npz"
    if path.is_file():
        z = np.load(path)
        if "labels68" in z.files:
            return LooseCrops.load(path)
        crops = LooseCrops(z["images"], z["points"], z["names"], z["sources"], _ytf68_labels(z["names"], z["sources"], spec, loose_size))
        crops.save(path)
        return crops
    images, points, names, sources = [], [], [], []
    for dataset, name, index in source_faces(split):
        cache = teacher_cache(dataset)
        image = np.asarray(Image.open(cache.image_dir / name).convert("RGB"))
        crop, moved, _ = cut_loose(image, cache.points[index], spec, loose_size)
        images.append(crop)
        points.append(moved)
        names.append(name)
        sources.append(dataset)
    names_, sources_ = np.array(names), np.array(sources)
    crops = LooseCrops(np.stack(images), np.stack(points), names_, sources_, _ytf68_labels(names_, sources_, spec, loose_size))
    crops.save(path)
    return crops


@cache
def teacher_cache(dataset: str) -> TeacherCache:
    """``load_teacher_cache(dataset)``, read once per process."""
    return load_teacher_cache(dataset)


@cache
def ytf68_human_points() -> dict[str, np.ndarray]:
    """ytf68's human 68 points (68, 2) image pixels by file name, read once per process."""
    from facehub.train.data.ytf68 import read_ytf68

    return {sample.path.name: sample.points for sample in read_ytf68()}


def source_faces(split: str, datasets: tuple[str, ...] | None = None) -> list[tuple[str, str, int]]:
    """(dataset, file name, teacher-cache index) of every face the teacher fitted in ``datasets`` (default
    ``TRAIN_SETS`` for "train", ``VAL_SETS`` for "val"), ytf68 restricted to its training or held-out people."""
    held = ytf68_val_people()
    faces = []
    for dataset in datasets or (TRAIN_SETS if split == "train" else VAL_SETS):
        cache = teacher_cache(dataset)
        for index in np.flatnonzero(cache.found()):
            name = str(cache.names[index])
            if dataset == "ytf68" and ((person_of(name) in held) != (split == "val")):
                continue
            faces.append((dataset, name, int(index)))
    return faces


def _ytf68_labels(names: np.ndarray, sources: np.ndarray, spec: CropSpec, loose_size: int) -> np.ndarray:
    """(N, 68, 2) float32: ytf68's human labels moved into each loose crop (the crop's own teacher alignment); NaN elsewhere."""
    labels = ytf68_human_points()
    cache = teacher_cache("ytf68")
    index = {str(n): i for i, n in enumerate(cache.names)}
    out = np.full((len(names), 68, 2), np.nan, dtype=np.float32)
    for i, (name, source) in enumerate(zip(names, sources)):
        if source == "ytf68" and str(name) in labels and str(name) in index:
            matrix = loose_matrix(five_points_from_468(cache.points[index[str(name)]]), spec, loose_size)
            out[i] = labels[str(name)] @ matrix[:, :2].T + matrix[:, 2]
    return out


@dataclass
class Augment:
    """Augmentation strengths (``Augment.none()``: the plain aligned crop)."""

    max_rotation: float = 45.0
    large_rotation_prob: float = 0.5  # else within +-10 degrees
    scale: tuple[float, float] = (0.85, 1.15)
    shift: float = 0.06  # fraction of the crop
    flip_prob: float = 0.5
    colour_prob: float = 0.8
    gray_prob: float = 0.1
    blur_prob: float = 0.2

    @classmethod
    def none(cls) -> "Augment":
        return cls(0.0, 0.0, (1.0, 1.0), 0.0, 0.0, 0.0, 0.0, 0.0)


class PRNetDataset(torch.utils.data.Dataset):
    """Yields (crop (3, s, s) normalised float, uv map (3, uv, uv) crop pixels, points (468, 3) crop pixels,
    labels68 (68, 2) human-labelled points in crop pixels, NaN where the face has none). A face without a 3D
    target (``points`` NaN, ``labelled.py``) yields NaN points and a NaN map inside the face."""

    def __init__(
        self, crops: LooseCrops, spec: CropSpec, uv_size: int, augment: Augment, mean: list[float], std: list[float], seed: int = 0,
        mirror_labels: bool = True,
    ):
        """``mirror_labels=False``: a mirrored sample's human labels are dropped (NaN), not index-swapped, so that
        a loss on them learns the labellers' own left/right conventions (ytf68's are not mirror-symmetric)."""
        self.crops, self.spec, self.augment = crops, spec, augment
        self.mirror_labels = mirror_labels
        self.layout = uv_layout(uv_size)
        self.mean = np.asarray(mean, dtype=np.float32)[:, None, None]
        self.std = np.asarray(std, dtype=np.float32)[:, None, None]
        self.mirror = mirror_index()
        self.mirror_68 = np.asarray(flip_index(68))
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.crops.images)

    def _matrix(self, loose_size: int) -> tuple[np.ndarray, bool]:
        """2x3 loose crop -> model crop with a random similarity; and whether to mirror."""
        a, r = self.augment, self.rng
        size = self.spec.size
        limit = a.max_rotation if r.random() < a.large_rotation_prob else min(10.0, a.max_rotation)
        angle = np.deg2rad(r.uniform(-limit, limit))
        scale = r.uniform(*a.scale) * size * LOOSE / loose_size
        shift = r.uniform(-a.shift, a.shift, 2) * size
        cos, sin = scale * np.cos(angle), scale * np.sin(angle)
        c_in, c_out = (loose_size - 1) / 2, (size - 1) / 2
        rot = np.array([[cos, -sin], [sin, cos]])
        t = np.array([c_out, c_out]) + shift - rot @ np.array([c_in, c_in])
        return np.hstack([rot, t[:, None]]), bool(r.random() < a.flip_prob)

    def _colour(self, image: np.ndarray) -> np.ndarray:
        a, r = self.augment, self.rng
        out = image.astype(np.float32)
        if r.random() < a.colour_prob:
            out = out * r.uniform(0.6, 1.4) + r.uniform(-30, 30)  # contrast/brightness
            gray = out.mean(2, keepdims=True)
            out = gray + (out - gray) * r.uniform(0.5, 1.5)  # saturation
            out = out * r.uniform(0.9, 1.1, 3)  # white balance
        if r.random() < a.gray_prob:
            out = np.repeat(out.mean(2, keepdims=True), 3, 2)
        if r.random() < a.blur_prob:
            out = cv2.GaussianBlur(out, (0, 0), r.uniform(0.5, 1.5))
        return np.clip(out, 0, 255)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        image, points = self.crops.images[index], self.crops.points[index].astype(np.float64)
        size = self.spec.size
        matrix, flip = self._matrix(image.shape[0])
        if flip:
            matrix = np.array([[-1.0, 0, size - 1], [0, 1, 0]]) @ np.vstack([matrix, [0, 0, 1]])
        crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        xy = points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
        target = np.concatenate([xy, points[:, 2:] * scale], 1)
        labels68 = self.crops.labels68[index].astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
        if flip:
            target = target[self.mirror]
            mirrors = self.mirror_labels or str(self.crops.sources[index]).startswith(MIRRORED_LABEL_SOURCES)
            labels68 = labels68[self.mirror_68] if mirrors else np.full_like(labels68, np.nan)
        crop = (self._colour(crop) / 255.0).transpose(2, 0, 1)
        crop = (crop - self.mean) / self.std
        uv = self.layout.rasterise(target)  # NaN inside the face where a face has no 3D target (labelled.py)
        return (torch.from_numpy(crop.astype(np.float32)), torch.from_numpy(uv), torch.from_numpy(target.astype(np.float32)),
                torch.from_numpy(labels68.astype(np.float32)))
