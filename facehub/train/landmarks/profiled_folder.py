"""Face-profiled views as a labelled landmark folder, so the landmark recipe trains on large poses.

The views come from ``facehub.train.reconstruction.profiled.build_profiled_crops`` (the face-profiling
synthesiser PRNet trains on): one turned view (|yaw| 25-88 degrees) of every ytf68 *training* person's
face, its human 68 points moved with the 3D warp. ``write_labelled_folder`` writes those that carry
human points as ``images/<name>`` plus ``landmarks68.csv`` (``read_labelled_folder``'s ytf68 layout;
the file names keep ytf68's, so ``person_of`` keeps each face's person for the per-person split).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from facehub.train.data.ytf68 import write_points_csv
from facehub.train.reconstruction.dataset import LooseCrops


def write_labelled_folder(crops: LooseCrops, out: Path, limit: int | None = None, seed: int = 0) -> int:
    """Write the faces of ``crops`` with finite human 68 points (at most ``limit``, drawn with ``seed``)
    to ``out/images/*.jpg`` and ``out/landmarks68.csv`` (points in those crops' pixels). Returns the count."""
    labelled = np.flatnonzero(np.isfinite(crops.labels68).all(axis=(1, 2)))
    if limit is not None and limit < len(labelled):
        labelled = np.sort(np.random.default_rng(seed).choice(labelled, size=limit, replace=False))
    names = [str(crops.names[i]) for i in labelled]
    if len(set(names)) != len(names):
        raise ValueError("Two profiled views share a file name; write one view per face.")
    (out / "images").mkdir(parents=True, exist_ok=True)
    for i, name in zip(labelled, names):
        Image.fromarray(crops.images[i]).save(out / "images" / name, quality=95)
    write_points_csv(out / "landmarks68.csv", names, [crops.labels68[i] for i in labelled])
    return len(labelled)
