"""Training and validation samples: human labels (celebamask19) and the parsing pseudo-label cache.

* Human labels: ``<data>/celebamask19/{train,val}/{images,labels}`` (CelebAMask-HQ's 19 classes); the five
  points of each face come from ``cache/parsing/celebamask19_<split>.npz`` (``scripts/detect_parsing_faces.py``).
* Face-profiled views of a human set (``cache/parsing/profiled_<set>_<split>.npz`` naming its folder under
  ``cache/parsing/``, ``scripts/export_profiled_parsing.py``) read as one more human set, ``profiled_<set>``.
* Pseudo-labels: ``cache/parsing/<dataset>.npz`` + ``cache/parsing/<dataset>/<stem>.png`` written by
  ``scripts/pseudo_label_parsing.py`` (FACEHUB's 15 classes, 255 where the teacher does not know).
  ``celebamask_hair_val`` and a held-out tenth of the ytf68 *people* are validation; the rest is training.

Every item carries its own label names; ``read_pair`` converts its map to the run's label set by name
(``facehub.parsing.labels.convert``: e.g. ``left_eye`` -> ``l_eye``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facehub.geometry.align import CropSpec
from facehub.parsing.labels import FACEHUB, LabelSet, convert, label_set_for
from facehub.train.data import cache_root, data_root
from facehub.train.data.teacher import TEACHER_DATASETS
from facehub.train.parsing.augment import ParsingAugment, aligned_pair, augment, lip_classes
from facehub.train.parsing.profiled import is_profiled

TRAIN_SETS = ("celebamask_hair_train", "figaro1k_hair_train", "ytf68")
VAL_SETS = ("celebamask_hair_val", "ytf68")
HUMAN_SETS = ("celebamask19",)  # <data>/<name>/<split>/{images,labels} with classes.json


@dataclass
class ParsingItem:
    """One labelled photo: paths, MTCNN-like five points (5, 2), its dataset, the label PNG's class names
    and whether a person drew the labels (``human``) or the teacher did."""

    image: Path
    label: Path
    points5: np.ndarray
    dataset: str
    labels: tuple[str, ...] = FACEHUB.names
    human: bool = False


def _ytf_person(name: str) -> str:
    return name.rsplit("_", 1)[0]


def is_held_out(dataset: str, name: str) -> bool:
    """Validation membership: all of celebamask_hair_val and a fixed tenth of ytf68's people (by name hash)."""
    if dataset == "celebamask_hair_val":
        return True
    if dataset == "ytf68":
        return zlib.crc32(_ytf_person(name).encode()) % 10 == 0
    return False


def load_human_items(split: str, datasets: tuple[str, ...] = HUMAN_SETS, root: Path | None = None) -> list[ParsingItem]:
    """Human-labelled items of ``split`` ("train" or "val") of ``datasets``, with their detected five points."""
    root = root or cache_root() / "parsing"
    items = []
    for dataset in datasets:
        index_path = root / f"{dataset}_{split}.npz"
        if not index_path.is_file():
            raise FileNotFoundError(f"{index_path} is missing: run `python scripts/detect_parsing_faces.py`.")
        index = np.load(index_path)
        folder = root / str(index["folder"]) if "folder" in index.files else data_root() / dataset / split
        labels = tuple(str(n) for n in index["labels"])
        for name, points in zip(index["names"], index["points5"]):
            items.append(ParsingItem(folder / "images" / str(name), folder / "labels" / f"{Path(str(name)).stem}.png",
                                     points, dataset, labels, human=True))
    return items


def load_items(split: str, root: Path | None = None, human: tuple[str, ...] = (),
               self_labels: Path | None = None) -> list[ParsingItem]:
    """Items of ``split`` ("train" or "val") from the pseudo-label cache, then those of the ``human`` sets.

    ``self_labels``: a ``scripts/self_label_parsing.py`` folder; for "train" its labels (19 classes, the teacher's
    corrected by the real-label parser) replace the teacher's. Validation always keeps the teacher's.
    """
    root = root or cache_root() / "parsing"
    items = load_human_items(split, human, root) if human else []
    labelled = self_labels if self_labels is not None and split == "train" else root
    script = "self_label_parsing.py" if labelled is self_labels else "pseudo_label_parsing.py"
    for dataset in TRAIN_SETS if split == "train" else VAL_SETS:
        index_path = labelled / f"{dataset}.npz"
        if not index_path.is_file():
            raise FileNotFoundError(f"{index_path} is missing: run `python scripts/{script}`.")
        index = np.load(index_path)
        names = tuple(str(n) for n in index["labels"]) if "labels" in index.files else FACEHUB.names
        for name, points in zip(index["names"], index["points5"]):
            if is_held_out(dataset, str(name)) != (split == "val"):
                continue
            items.append(ParsingItem(data_root() / TEACHER_DATASETS[dataset] / str(name),
                                     labelled / dataset / f"{Path(str(name)).stem}.png", points, dataset, names))
    return items


RARE_CLASSES = ("eye_g", "hat", "ear_r", "neck_l")  # in under a fifth of celebamask19's faces each


def shows_rare_class(item: ParsingItem) -> bool:
    """Whether ``item``'s label map holds any pixel of ``RARE_CLASSES`` (by its own class names)."""
    rare = [i for i, name in enumerate(item.labels) if name in RARE_CLASSES]
    return bool(rare) and bool(np.isin(np.asarray(Image.open(item.label)), rare).any())


def yaw_proxy(points5: np.ndarray) -> float:
    """|nose offset from the eye midpoint| / eye distance: ~0 frontal, >0.3 clearly turned."""
    eyes = points5[1] - points5[0]
    offset = points5[2] - (points5[0] + points5[1]) / 2
    return abs(float(np.dot(offset, eyes) / max(np.dot(eyes, eyes), 1e-6)))


def read_pair(item: ParsingItem, labels: LabelSet = FACEHUB) -> tuple[np.ndarray, np.ndarray]:
    """Image (H, W, 3) uint8 RGB and label (H, W) uint8 in ``labels`` (255 = ignore)."""
    label = np.asarray(Image.open(item.label))
    if tuple(item.labels) != labels.names:
        label = convert(label, label_set_for(item.labels), labels)
    return np.asarray(Image.open(item.image).convert("RGB")), label


def to_tensor(image: np.ndarray, mean: list[float], std: list[float]) -> torch.Tensor:
    """(s, s, 3) uint8 -> (3, s, s) float normalised."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
    return (tensor - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


class ParsingTrainSet(torch.utils.data.Dataset):
    """Random augmented crops; ``weights()`` oversamples turned faces."""

    def __init__(self, items: list[ParsingItem], spec: CropSpec, mean: list[float], std: list[float],
                 config: ParsingAugment | None = None, seed: int = 0, labels: LabelSet = FACEHUB,
                 human_share: float = 0.0, rare_boost: float = 1.0, profiled_share: float = 0.0) -> None:
        """``labels``: the label set of the returned maps; ``human_share`` in [0, 1): the share of samples
        drawn from human-labelled items (0 = as many as their count gives); ``rare_boost``: the weight of a
        human-labelled face whose map shows one of ``RARE_CLASSES``; ``profiled_share`` in [0, 1): the share of
        the human-labelled samples drawn from face-profiled views (0 = as their count and yaw give)."""
        self.items, self.spec, self.mean, self.std = items, spec, mean, std
        self.config = config or ParsingAugment()
        self.labels, self.human_share, self.rare_boost = labels, human_share, rare_boost
        self.profiled_share = profiled_share
        self.permutation = labels.flip_permutation()
        self.lips = lip_classes(labels)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.items)

    def weights(self) -> np.ndarray:
        """(N,) sampling weights: 1, 2 for turned faces (yaw proxy > 0.2), 3 beyond 0.35; then, with a
        ``human_share``, scaled so human-labelled items get that share of the total, and with a
        ``profiled_share``, their profiled views that share of the human-labelled items' weight."""
        yaw = np.array([yaw_proxy(item.points5) for item in self.items])
        weights = 1.0 + (yaw > 0.2) + (yaw > 0.35)
        human = np.array([item.human for item in self.items], dtype=bool)
        if self.rare_boost != 1.0:
            weights[[i for i in np.flatnonzero(human) if shows_rare_class(self.items[i])]] *= self.rare_boost
        if self.human_share > 0 and human.any() and (~human).any():
            weights[human] *= self.human_share / weights[human].sum()
            weights[~human] *= (1 - self.human_share) / weights[~human].sum()
        profiled = human & np.array([is_profiled(item.dataset) for item in self.items], dtype=bool)
        if self.profiled_share > 0 and profiled.any() and (human & ~profiled).any():
            total = weights[human].sum()
            weights[profiled] *= self.profiled_share * total / weights[profiled].sum()
            weights[human & ~profiled] *= (1 - self.profiled_share) * total / weights[human & ~profiled].sum()
        return weights

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns image (3, s, s) float normalised, label (s, s) int64 (255 = ignore) and whether a person
        drew it (() bool)."""
        image, label = read_pair(self.items[index], self.labels)
        crop, crop_label = augment(image, label, self.items[index].points5, self.spec, self.permutation, self.rng, self.config,
                                   self.lips)
        return (to_tensor(crop, self.mean, self.std), torch.from_numpy(crop_label.astype(np.int64)),
                torch.tensor(self.items[index].human))


class ParsingValSet(ParsingTrainSet):
    """Un-augmented aligned crops of the held-out items."""

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, label = read_pair(self.items[index], self.labels)
        crop, crop_label = aligned_pair(image, label, self.items[index].points5, self.spec)
        return to_tensor(crop, self.mean, self.std), torch.from_numpy(crop_label.astype(np.int64))
