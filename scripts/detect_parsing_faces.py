"""Find the labelled face of every image of a human-labelled parsing folder once, for training crops.

    python scripts/detect_parsing_faces.py                      # celebamask19 train and val
    python scripts/detect_parsing_faces.py --folder DIR --split train --name mine

Writes ``cache/parsing/<name>_<split>.npz`` with ``names`` (image file names), ``points5`` (N, 5, 2) float
pixels of the largest face the default detector finds, and ``labels`` (the folder's class names in index order).
Images without a face are left out (and counted).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.detection import largest_face_of, load_detector  # noqa: E402
from facehub.image import load_image  # noqa: E402
from facehub.train.data import cache_root, data_root  # noqa: E402
from facehub.train.data.parsing_layouts import open_parsing_folder  # noqa: E402


def cache_points(folder: Path, split: str, name: str, detector) -> Path:
    """Detect every image of ``folder/split``; returns the written index."""
    labelled = open_parsing_folder(folder, split)
    names, points, missed = [], [], 0
    for sample in tqdm(labelled.samples, desc=f"{name}/{split}", mininterval=5):
        face = largest_face_of(detector, load_image(sample.image))
        if face is None or face.points is None:
            missed += 1
            continue
        names.append(sample.image.name)
        points.append(np.asarray(face.points, np.float32))
    out = cache_root() / "parsing" / f"{name}_{split}.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, names=np.array(names), points5=np.stack(points), labels=np.array(labelled.labels.names))
    print(f"{out}: {len(names)} faces, {missed} images without one")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=None, help="default: <data>/celebamask19")
    parser.add_argument("--split", action="append", default=None, help="default: train and val")
    parser.add_argument("--name", default="celebamask19")
    args = parser.parse_args()
    detector = load_detector()
    for split in args.split or ["train", "val"]:
        cache_points(args.folder or data_root() / "celebamask19", split, args.name, detector)


if __name__ == "__main__":
    main()
