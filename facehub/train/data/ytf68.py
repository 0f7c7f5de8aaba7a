"""Reader for ``ytf68``: YouTube-Faces frames with 68 iBUG points.

Layout: ``<root>/images/*.jpg`` and ``<root>/landmarks68.csv`` with the header
``image, x0, y0, ..., x67, y67`` (pixel coordinates of the file). File names
carry the person: ``training_Luis_Fonsi_21.jpg`` -> ``Luis_Fonsi``.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_PREFIX = re.compile(r"^(training|test)_")


@dataclass
class LandmarkSample:
    """One labelled face: ``path`` to its image, ``points`` (N, 2) float pixels, ``person`` id."""

    path: Path
    points: np.ndarray
    person: str


def person_of(name: str) -> str:
    """``training_Luis_Fonsi_21.jpg`` -> ``Luis_Fonsi`` (prefix and frame number dropped)."""
    stem = Path(name).stem
    stem = _PREFIX.sub("", stem)
    head, _, tail = stem.rpartition("_")
    return head if head and tail.isdigit() else stem


def read_points_csv(csv_path: Path | str, image_dir: Path | str | None = None) -> list[LandmarkSample]:
    """Read a ``image, x0, y0, ...`` CSV; images are looked up in ``image_dir`` (default: ``images/`` beside it)."""
    csv_path = Path(csv_path)
    image_dir = Path(image_dir) if image_dir is not None else csv_path.parent / "images"
    samples: list[LandmarkSample] = []
    with csv_path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        count = (len(header) - 1) // 2
        for row in reader:
            if not row:
                continue
            values = np.asarray([float(v) for v in row[1 : 1 + 2 * count]], dtype=np.float64)
            samples.append(LandmarkSample(image_dir / row[0], values.reshape(count, 2), person_of(row[0])))
    return samples


def write_points_csv(csv_path: Path | str, names: list[str], points: list[np.ndarray]) -> None:
    """Write ``read_points_csv``'s layout: a header ``image, x0, y0, ...`` and one row per image name with its
    (N, 2) pixel points, rounded to 0.01 px."""
    count = len(points[0]) if points else 68
    with Path(csv_path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image"] + [f"{a}{i}" for i in range(count) for a in "xy"])
        for name, pts in zip(names, points):
            writer.writerow([name, *np.round(np.asarray(pts, dtype=np.float64), 2).ravel().tolist()])


def read_ytf68(root: Path | str | None = None) -> list[LandmarkSample]:
    """All ytf68 samples (3,403 faces of 278 people in the shipped copy)."""
    if root is None:
        from facehub.train.data import data_root

        root = data_root() / "ytf68"
    root = Path(root)
    return read_points_csv(root / "landmarks68.csv", root / "images")


def split_by_person(
    samples: list[LandmarkSample], val_fraction: float = 0.12, seed: int = 0
) -> tuple[list[LandmarkSample], list[LandmarkSample]]:
    """Split into (train, val) so that no person is in both; about ``val_fraction`` of the people go to val."""
    people = sorted({s.person for s in samples})
    random.Random(seed).shuffle(people)
    held = set(people[: max(1, round(len(people) * val_fraction))])
    train = [s for s in samples if s.person not in held]
    val = [s for s in samples if s.person in held]
    return train, val
