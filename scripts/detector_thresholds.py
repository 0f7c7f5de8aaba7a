"""Count missed and extra faces per score threshold (the threshold tables of weights/mtcnn/README.md and
weights/face-detector/README.md).

    python scripts/detector_thresholds.py [--detector mtcnn|blazeface-short|blazeface]

Runs the detector once at its loosest threshold (MTCNN: O-Net 0.7; BlazeFace: 0.3) on CelebAMask-HQ val (all
photos) and every 4th ytf68 frame, then counts, for each stricter threshold, photos whose best face scores
below it (misses; each photo holds one labelled person) and further faces at or above it (extras).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from facehub.image import load_image  # noqa: E402
from facehub.train.data import data_root  # noqa: E402

SETS = {"CelebAMask-HQ val": ("celebamask_hair/val/images", 1), "ytf68, every 4th frame": ("ytf68/images", 4)}
THRESHOLDS = {"mtcnn": (0.7, 0.8, 0.85, 0.9), "blazeface": (0.3, 0.4, 0.5, 0.6, 0.7)}


def _detector(name: str):
    if name == "mtcnn":
        from facehub.detection.detector import FaceDetector

        return FaceDetector.from_pretrained(thresholds=(0.6, 0.7, 0.7)), THRESHOLDS["mtcnn"]
    from facehub.detection.blazeface import BlazeFaceDetector

    return BlazeFaceDetector.from_pretrained(name, score_threshold=0.3), THRESHOLDS["blazeface"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", default="mtcnn", choices=["mtcnn", "blazeface-short", "blazeface"])
    args = parser.parse_args()
    detector, thresholds = _detector(args.detector)
    print("| set | photos | " + " | ".join(str(t) for t in thresholds) + " |")
    for name, (folder, step) in SETS.items():
        paths = sorted((data_root() / folder).glob("*.jpg"))[::step]
        best, extra = [], []
        for path in paths:
            scores = sorted((face.score for face in detector(load_image(path)).faces), reverse=True)
            best.append(scores[0] if scores else 0.0)
            extra += scores[1:]
        best, extra = np.array(best), np.array(extra)
        cells = [f"{int((best < t).sum())} / {int((extra >= t).sum())}" for t in thresholds]
        print(f"| {name} | {len(paths)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
