"""The MediaPipe teacher: 468 3D face-mesh points and a person mask per image.

Training-only (``requirements-train.txt``): ``mediapipe`` is imported lazily
and never by the app. The cache layout is documented in docs/CONTRIBUTING.md:
``cache/teacher/<dataset>.npz`` (``names``, ``points`` (N, 468, 3) float32
pixels with z = mediapipe z * width, NaN where no face, ``sizes`` (N, 2)) and
``cache/teacher/<dataset>/person/<stem>.png`` (uint8 0-255).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facehub.train.data import cache_root, data_root
from facehub.train.data.ytf68 import LandmarkSample

# dataset name -> image folder relative to the data root
TEACHER_DATASETS: dict[str, str] = {
    "celebamask_hair_train": "celebamask_hair/train/images",
    "celebamask_hair_val": "celebamask_hair/val/images",
    "figaro1k_hair_train": "figaro1k_hair/train/images",
    "ytf68": "ytf68/images",
}


@dataclass
class TeacherOutput:
    """points: (468, 3) float32 pixels, NaN when no face; person: (H, W) uint8 0-255."""

    points: np.ndarray
    person: np.ndarray


class MediaPipeTeacher:
    """Face Mesh (static images, largest face kept) plus selfie segmentation."""

    def __init__(self, max_faces: int = 4):
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=max_faces, refine_landmarks=False, min_detection_confidence=0.3
        )
        self._selfie = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def __call__(self, image: np.ndarray) -> TeacherOutput:
        """``image`` (H, W, 3) uint8 RGB."""
        height, width = image.shape[:2]
        result = self._mesh.process(image)
        points = np.full((468, 3), np.nan, dtype=np.float32)
        best_area = -1.0
        for landmarks in result.multi_face_landmarks or []:
            face = np.array([[p.x * width, p.y * height, p.z * width] for p in landmarks.landmark], dtype=np.float32)
            area = float(np.ptp(face[:, 0]) * np.ptp(face[:, 1]))
            if area > best_area:
                points, best_area = face, area
        mask = self._selfie.process(image).segmentation_mask
        person = np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return TeacherOutput(points=points, person=person)


@dataclass
class TeacherCache:
    """A loaded teacher cache of one dataset."""

    dataset: str
    image_dir: Path
    names: np.ndarray
    points: np.ndarray
    sizes: np.ndarray

    def person_mask(self, name: str) -> np.ndarray:
        """(H, W) uint8 0-255 person probability of image ``name``."""
        from PIL import Image

        path = cache_root() / "teacher" / self.dataset / "person" / (Path(name).stem + ".png")
        return np.asarray(Image.open(path))

    def found(self) -> np.ndarray:
        """(N,) bool: the teacher found a face."""
        return ~np.isnan(self.points[:, 0, 0])


def load_teacher_cache(dataset: str, root: Path | None = None) -> TeacherCache:
    """Read ``cache/teacher/<dataset>.npz``; run ``python scripts/cache_teacher.py`` first."""
    path = cache_root() / "teacher" / f"{dataset}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python scripts/cache_teacher.py --datasets {dataset}`.")
    archive = np.load(path)
    return TeacherCache(
        dataset=dataset,
        image_dir=(root or data_root()) / TEACHER_DATASETS[dataset],
        names=archive["names"],
        points=archive["points"],
        sizes=archive["sizes"],
    )


def teacher_landmark_samples(datasets: list[str], root: Path | None = None) -> list[LandmarkSample]:
    """Teacher-labelled 68-point faces: the cached 468 points of ``datasets`` through the fitted 468 -> 68 map.

    Returns ``LandmarkSample``s (points (68, 2) float pixels of the image) with ``person``
    ``"<dataset>:<stem>"`` (these images hold one person each); faces the teacher missed are skipped.
    """
    from facehub.reconstruction.uv import points_468_to_68

    samples = []
    for dataset in datasets:
        cache = load_teacher_cache(dataset, root)
        for name, points, found in zip(cache.names, cache.points, cache.found()):
            if found:
                samples.append(LandmarkSample(cache.image_dir / str(name), points_468_to_68(points[:, :2]).astype(np.float64),
                                              f"{dataset}:{Path(str(name)).stem}"))
    return samples
