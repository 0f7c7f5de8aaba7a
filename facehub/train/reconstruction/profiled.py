"""Large-pose PRNet training faces: teacher-cached faces turned by face profiling, cut as loose crops.

Each source face (ytf68, CelebAMask-HQ and Figaro1k faces the teacher fitted) is rendered once at a
new head pose by ``facehub.train.data.profiling.profile_face`` and cut like ``dataset.build_loose_crops``
cuts a photo: aligned from the five points of the turned mesh. The turned mesh is the sample's UV
target; it is exact for the rendered pixels by construction (the render *is* that mesh's warp), unlike the
teacher's own fits at large pose. ytf68's human 68 points move with the warp (lifted onto the mesh, so
a jaw that turns away follows the 3D jaw, AFLW2000-3D's convention) and feed the human-label loss.

Poses: like 300W-LP, a face already turned more than 10 degrees keeps its side; the target |yaw| is
uniform in ``yaw``, pitch and roll uniform in +-``pitch`` / +-``roll`` degrees. Built in parallel on a
run's first start (``scripts/train_prnet.py --profiled``) and cached in ``cache/prnet/profiled_<split>_...npz``.
``--extra-profiled-yaw LO HI`` adds a second view of every training face (seed 1) turned to |yaw| in
[LO, HI], for more faces at the extreme poses where the first views leave the most error.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from facehub.geometry.align import CropSpec
from facehub.reconstruction.mesh import head_pose
from facehub.train.data import cache_root
from facehub.train.data.profiling import profile_face
from facehub.train.reconstruction.dataset import (
    LooseCrops,
    cut_loose,
    source_faces,
    teacher_cache,
    ytf68_human_points,
)


@dataclass(frozen=True)
class PoseRange:
    """Target poses, degrees: |yaw| uniform in ``yaw``; pitch, roll uniform in +-``pitch``, +-``roll``."""

    yaw: tuple[float, float] = (25.0, 88.0)
    pitch: float = 20.0
    roll: float = 15.0


def target_rotation(mesh: np.ndarray, poses: PoseRange, rng: np.random.Generator) -> tuple[float, float, float]:
    """The rotation (yaw, pitch, roll) to add to the face of ``mesh`` (468, 3) to reach a pose drawn from ``poses``."""
    source = head_pose(mesh)
    side = np.sign(source.yaw) if abs(source.yaw) > 10 else rng.choice([-1.0, 1.0])
    target_yaw = side * rng.uniform(*poses.yaw)
    return (float(target_yaw - source.yaw), float(rng.uniform(-poses.pitch, poses.pitch)), float(rng.uniform(-poses.roll, poses.roll)))


def _profile_one(args: tuple[str, str, int, int, CropSpec, int, PoseRange, np.ndarray | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, str] | None:
    dataset, name, index, seed, spec, loose_size, poses, human = args
    cache = teacher_cache(dataset)
    mesh = cache.points[index].astype(np.float64)
    image = np.asarray(Image.open(cache.image_dir / name).convert("RGB"))
    rng = np.random.default_rng(seed)
    try:
        turned = profile_face(image, mesh, target_rotation(mesh, poses, rng), points68=human)
    except (ValueError, np.linalg.LinAlgError):
        return None
    crop, points, matrix = cut_loose(turned.image, turned.mesh, spec, loose_size)
    labels = np.full((68, 2), np.nan, dtype=np.float32)
    if turned.points68 is not None:
        labels = (turned.points68[:, :2] @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)
    return crop, points, labels, name, f"profiled_{dataset}"


def _profile_all(faces: list[tuple[str, str, int, np.ndarray | None]], spec: CropSpec, loose_size: int, poses: PoseRange,
                 seed: int, workers: int) -> LooseCrops:
    """One turned view of each (dataset, file name, teacher-cache index, human (68, 2) points or None) of ``faces``,
    in ``workers`` processes (1: in this process); the failed ones dropped. Face ``k`` draws its pose with seed
    ``seed * 1_000_003 + k``."""
    jobs = [(d, n, i, seed * 1_000_003 + k, spec, loose_size, poses, human) for k, (d, n, i, human) in enumerate(faces)]
    if workers <= 1:
        done = [r for r in map(_profile_one, jobs) if r is not None]
    else:
        with ProcessPoolExecutor(workers) as pool:
            done = [r for r in pool.map(_profile_one, jobs, chunksize=16) if r is not None]
    images, points, labels, names, sources = (np.stack(x) if k < 3 else np.array(x) for k, x in enumerate(zip(*done)))
    return LooseCrops(images, points, names, sources, labels)


def build_profiled_crops(split: str, spec: CropSpec, loose_size: int, poses: PoseRange = PoseRange(), seed: int = 0,
                         workers: int = 2) -> LooseCrops:
    """One turned view of every source face of ``split`` ("train" or "val") as loose crops (cached)."""
    pose_key = "" if poses == PoseRange() else f"_yaw{poses.yaw[0]:g}-{poses.yaw[1]:g}_p{poses.pitch:g}_r{poses.roll:g}"
    path = cache_root() / "prnet" / f"profiled_{split}_{spec.size}_{spec.zoom}_{spec.shift_y}_{loose_size}_{seed}{pose_key}.npz"
    if path.is_file():
        return LooseCrops.load(path)
    faces = source_faces(split, None if split == "train" else ("ytf68",))  # val: the held-out people
    human = ytf68_human_points()
    labelled = [(d, n, i, human.get(n) if d == "ytf68" else None) for d, n, i in faces]
    crops = _profile_all(labelled, spec, loose_size, poses, seed, workers)
    crops.save(path)
    return crops


def build_labelled_profiled_crops(dataset: str, labels: dict[str, np.ndarray], spec: CropSpec, loose_size: int,
                                  poses: PoseRange = PoseRange(), seed: int = 0, workers: int = 2) -> LooseCrops:
    """One turned view of every face of the teacher cache ``dataset`` that ``labels`` labels (file name -> (68, 2)
    image pixels, e.g. another teacher's 68 points), those points moved with the warp; not cached."""
    cache = teacher_cache(dataset)
    names = [str(n) for n in cache.names]
    faces = [(dataset, names[i], int(i), labels[names[i]]) for i in np.flatnonzero(cache.found()) if names[i] in labels]
    return _profile_all(faces, spec, loose_size, poses, seed, workers)
