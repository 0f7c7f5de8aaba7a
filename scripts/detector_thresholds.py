"""Count missed and extra faces per O-Net threshold (the numbers of weights/mtcnn/README.md).

    python scripts/detector_thresholds.py

Runs MTCNN once at O-Net threshold 0.7 on CelebAMask-HQ val (all photos) and every 4th ytf68 frame, then counts,
for each stricter threshold, photos whose best face scores below it (misses; each photo holds one labelled
person) and further faces at or above it (extras).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from facehub.detection.detector import FaceDetector  # noqa: E402
from facehub.image import load_image  # noqa: E402
from facehub.train.data import data_root  # noqa: E402

SETS = {"CelebAMask-HQ val": ("celebamask_hair/val/images", 1), "ytf68, every 4th frame": ("ytf68/images", 4)}
THRESHOLDS = (0.7, 0.8, 0.85, 0.9)


def main() -> None:
    detector = FaceDetector.from_pretrained(thresholds=(0.6, 0.7, 0.7))
    print("| set | photos | " + " | ".join(str(t) for t in THRESHOLDS) + " |")
    for name, (folder, step) in SETS.items():
        paths = sorted((data_root() / folder).glob("*.jpg"))[::step]
        best, extra = [], []
        for path in paths:
            scores = sorted((face.score for face in detector(load_image(path)).faces), reverse=True)
            best.append(scores[0] if scores else 0.0)
            extra += scores[1:]
        best, extra = np.array(best), np.array(extra)
        cells = [f"{int((best < t).sum())} / {int((extra >= t).sum())}" for t in THRESHOLDS]
        print(f"| {name} | {len(paths)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
