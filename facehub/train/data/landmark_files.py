"""Readers for the official landmark layouts: 300W / iBUG ``.pts`` and WFLW annotation ``.txt``.

``.pts``::

    version: 1
    n_points:  68
    {
    x y
    ...
    }

iBUG ``.pts`` coordinates are 1-based (MATLAB); ``read_pts`` subtracts 1 so
points follow FaceHub's 0-based pixel-centre convention.

WFLW ``list_98pt_rect_attr_*.txt``: one face per line, 196 coordinates
(x0 y0 ... x97 y97, 0-based), 4 box values, 6 attribute flags, then the image
path relative to ``WFLW_images/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facehub.train.data.ytf68 import LandmarkSample, person_of, read_points_csv

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def read_pts(path: Path | str, one_based: bool = True) -> np.ndarray:
    """Read a ``.pts`` file -> (N, 2) float64 pixel points (0-based when ``one_based``)."""
    lines = Path(path).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "{") + 1
    end = next(i for i, line in enumerate(lines) if line.strip() == "}")
    points = np.asarray([[float(v) for v in line.split()[:2]] for line in lines[start:end] if line.strip()])
    header = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines[:start] if ":" in line)}
    if "n_points" in header and int(header["n_points"]) != len(points):
        raise ValueError(f"{path}: n_points says {header['n_points']} but {len(points)} points follow.")
    return points - 1.0 if one_based else points


def write_pts(path: Path | str, points: np.ndarray, one_based: bool = True) -> None:
    """Write (N, 2) 0-based points as a ``.pts`` file."""
    points = np.asarray(points, dtype=np.float64) + (1.0 if one_based else 0.0)
    body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in points)
    Path(path).write_text(f"version: 1\nn_points:  {len(points)}\n{{\n{body}\n}}\n")


def read_pts_folder(folder: Path | str) -> list[LandmarkSample]:
    """Every image in ``folder`` (recursively) with a ``.pts`` beside it (300W / iBUG / Helen / LFPW layout)."""
    samples: list[LandmarkSample] = []
    for pts in sorted(Path(folder).rglob("*.pts")):
        image = next((pts.with_suffix(s) for s in IMAGE_SUFFIXES if pts.with_suffix(s).is_file()), None)
        if image is not None:
            samples.append(LandmarkSample(image, read_pts(pts), person_of(image.name)))
    return samples


def read_wflw(annotation: Path | str, image_dir: Path | str) -> list[LandmarkSample]:
    """Read a WFLW annotation file -> samples with (98, 2) points; ``image_dir`` is ``WFLW_images/``."""
    samples: list[LandmarkSample] = []
    for line in Path(annotation).read_text().splitlines():
        fields = line.split()
        if len(fields) < 196 + 1:
            continue
        points = np.asarray([float(v) for v in fields[:196]]).reshape(98, 2)
        name = fields[-1]
        samples.append(LandmarkSample(Path(image_dir) / name, points, Path(name).parent.name or person_of(name)))
    return samples


def read_labelled_folder(root: Path | str) -> list[LandmarkSample]:
    """Any supported layout under ``root``: a ``*.csv`` (ytf68 layout), WFLW ``list_98pt*.txt``, or ``.pts`` files."""
    root = Path(root)
    if root.is_file() and root.suffix == ".csv":
        return read_points_csv(root)
    csvs = sorted(root.glob("*.csv"))
    if csvs:
        return read_points_csv(csvs[0], root / "images" if (root / "images").is_dir() else root)
    wflw = sorted(root.rglob("list_98pt_rect_attr_test.txt")) or sorted(root.rglob("list_98pt*.txt"))
    if wflw:
        images = next((p for p in root.rglob("WFLW_images") if p.is_dir()), root)
        return read_wflw(wflw[0], images)
    samples = read_pts_folder(root)
    if not samples:
        raise FileNotFoundError(f"No landmark labels (csv, WFLW txt or .pts) found under {root}.")
    return samples
