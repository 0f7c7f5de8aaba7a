"""Training and validation samples from the parsing pseudo-label cache.

``cache/parsing/<dataset>.npz`` + ``cache/parsing/<dataset>/<stem>.png`` are
written by ``scripts/pseudo_label_parsing.py``. Splits: ``celebamask_hair_val``
and a held-out tenth of the ytf68 *people* are validation; the rest is training.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facehub.geometry.align import CropSpec
from facehub.parsing.labels import FACEHUB
from facehub.train.data import cache_root, data_root
from facehub.train.data.teacher import TEACHER_DATASETS
from facehub.train.parsing.augment import ParsingAugment, aligned_pair, augment

TRAIN_SETS = ("celebamask_hair_train", "figaro1k_hair_train", "ytf68")
VAL_SETS = ("celebamask_hair_val", "ytf68")


@dataclass
class ParsingItem:
    """One labelled photo: paths, MTCNN-like five points (5, 2) and its dataset."""

    image: Path
    label: Path
    points5: np.ndarray
    dataset: str


def _ytf_person(name: str) -> str:
    return name.rsplit("_", 1)[0]


def is_held_out(dataset: str, name: str) -> bool:
    """Validation membership: all of celebamask_hair_val and a fixed tenth of ytf68's people (by name hash)."""
    if dataset == "celebamask_hair_val":
        return True
    if dataset == "ytf68":
        return zlib.crc32(_ytf_person(name).encode()) % 10 == 0
    return False


def load_items(split: str, root: Path | None = None) -> list[ParsingItem]:
    """Items of ``split`` ("train" or "val") from the pseudo-label cache."""
    root = root or cache_root() / "parsing"
    items = []
    for dataset in TRAIN_SETS if split == "train" else VAL_SETS:
        index_path = root / f"{dataset}.npz"
        if not index_path.is_file():
            raise FileNotFoundError(f"{index_path} is missing: run `python scripts/pseudo_label_parsing.py`.")
        index = np.load(index_path)
        for name, points in zip(index["names"], index["points5"]):
            if is_held_out(dataset, str(name)) != (split == "val"):
                continue
            items.append(ParsingItem(data_root() / TEACHER_DATASETS[dataset] / str(name),
                                     root / dataset / f"{Path(str(name)).stem}.png", points, dataset))
    return items


def yaw_proxy(points5: np.ndarray) -> float:
    """|nose offset from the eye midpoint| / eye distance: ~0 frontal, >0.3 clearly turned."""
    eyes = points5[1] - points5[0]
    offset = points5[2] - (points5[0] + points5[1]) / 2
    return abs(float(np.dot(offset, eyes) / max(np.dot(eyes, eyes), 1e-6)))


def read_pair(item: ParsingItem) -> tuple[np.ndarray, np.ndarray]:
    """Image (H, W, 3) uint8 RGB and label (H, W) uint8."""
    return np.asarray(Image.open(item.image).convert("RGB")), np.asarray(Image.open(item.label))


def to_tensor(image: np.ndarray, mean: list[float], std: list[float]) -> torch.Tensor:
    """(s, s, 3) uint8 -> (3, s, s) float normalised."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
    return (tensor - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


class ParsingTrainSet(torch.utils.data.Dataset):
    """Random augmented crops; ``weights()`` oversamples turned faces."""

    def __init__(self, items: list[ParsingItem], spec: CropSpec, mean: list[float], std: list[float],
                 config: ParsingAugment | None = None, seed: int = 0) -> None:
        self.items, self.spec, self.mean, self.std = items, spec, mean, std
        self.config = config or ParsingAugment()
        self.permutation = FACEHUB.flip_permutation()
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.items)

    def weights(self) -> np.ndarray:
        """(N,) sampling weights: 1, 2 for turned faces (yaw proxy > 0.2), 3 beyond 0.35."""
        yaw = np.array([yaw_proxy(item.points5) for item in self.items])
        return 1.0 + (yaw > 0.2) + (yaw > 0.35)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns image (3, s, s) float normalised and label (s, s) int64 (255 = ignore)."""
        image, label = read_pair(self.items[index])
        crop, crop_label = augment(image, label, self.items[index].points5, self.spec, self.permutation, self.rng, self.config)
        return to_tensor(crop, self.mean, self.std), torch.from_numpy(crop_label.astype(np.int64))


class ParsingValSet(ParsingTrainSet):
    """Un-augmented aligned crops of the held-out items."""

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, label = read_pair(self.items[index])
        crop, crop_label = aligned_pair(image, label, self.items[index].points5, self.spec)
        return to_tensor(crop, self.mean, self.std), torch.from_numpy(crop_label.astype(np.int64))
