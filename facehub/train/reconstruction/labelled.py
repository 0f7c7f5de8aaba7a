"""PRNet training faces with human 68 points and no 3D target: 300-W's in-the-wild photos (Helen, AFW).

The teacher's fits at large pose are the errors PRNet must not copy, and the face-profiled views are
synthetic; these real photos (AFW's turned heads among them) carry no UV target: their ``points`` are NaN,
the map loss skips them, and they feed only the human-label loss (``recipe.PRNetRecipe.loss``). 300-W
draws a turned face's jaw along its visible outline, not where AFLW2000-3D projects the 3D jaw, so the
jaw labels (0-16) of a face turned more than ``JAW_MAX_YAW`` degrees are dropped (NaN); its eyes, brows,
nose and mouth are the same points in both conventions. A face's yaw is read from its labels by a rigid
fit of the canonical face's 68 points (``yaw_from_68``). Crops are aligned from the labels' five points,
and warped as ``dataset.cut_loose`` cuts a teacher face (``warp_loose``).

Only each folder's training people are used (``split_by_person`` with the landmark recipe's defaults), so
the landmark models' validation faces stay unseen here too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facehub.geometry.align import CropSpec
from facehub.geometry.five_points import five_points_from_68
from facehub.geometry.profile_jaw import yaw_from_68
from facehub.image import load_image
from facehub.train.data import cache_root, data_root
from facehub.train.data.landmark_files import read_labelled_folder
from facehub.train.data.ytf68 import split_by_person
from facehub.train.reconstruction.dataset import LooseCrops, loose_matrix, warp_loose

JAW_MAX_YAW = 35.0  # degrees: beyond, 300-W's visible-outline jaw and the 3D jaw part
JAW = slice(0, 17)
SOURCE_PREFIX = "labelled_"  # LooseCrops.sources of these faces: "labelled_<folder>"


def build_labelled_crops(folders: tuple[str, ...], spec: CropSpec, loose_size: int) -> LooseCrops:
    """Loose crops of the training people's faces in ``folders`` (paths under the data root, any layout
    ``read_labelled_folder`` reads), cached in ``cache/prnet/labelled_<folder>_...npz``: images (N, L, L, 3),
    points NaN (no UV target), labels68 (N, 68, 2) in loose-crop pixels (jaw NaN past ``JAW_MAX_YAW``)."""
    return LooseCrops.concat([_folder_crops(folder, spec, loose_size) for folder in folders])


def _folder_crops(folder: str, spec: CropSpec, loose_size: int) -> LooseCrops:
    tag = folder.strip("/").replace("/", "_")
    path = cache_root() / "prnet" / f"labelled_{tag}_{spec.size}_{spec.zoom}_{spec.shift_y}_{loose_size}.npz"
    if path.is_file():
        return LooseCrops.load(path)
    train, _ = split_by_person(read_labelled_folder(data_root() / folder))
    images, labels, names = [], [], []
    for sample in train:
        points = np.asarray(sample.points, dtype=np.float64)
        if points.shape != (68, 2):
            continue
        matrix = loose_matrix(five_points_from_68(points), spec, loose_size)
        images.append(warp_loose(load_image(Path(sample.path)), matrix, loose_size))
        moved = (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)
        if abs(yaw_from_68(points)) > JAW_MAX_YAW:
            moved[JAW] = np.nan
        labels.append(moved)
        names.append(Path(sample.path).name)
    count = len(images)
    crops = LooseCrops(np.stack(images), np.full((count, 468, 3), np.nan, dtype=np.float32), np.array(names),
                       np.array([SOURCE_PREFIX + tag] * count), np.stack(labels))
    crops.save(path)
    return crops
