"""Missed faces / extra boxes per set and ms per photo for each detector (the numbers of weights/face-detector/README.md).

    python scripts/evaluate_detection.py [--detectors face-detector blazeface-short mtcnn blazeface] [--threads 2]
        [--parts recall speed] [--set key=value ...]

recall: AFLW2000-3D val (yaw to 90), 300-W AFW crops, every 4th ytf68 frame, CelebA-HQ val (celebamask19);
see ``facehub.train.eval.detection`` for what counts as found and as extra. speed: ms per photo at 512 and 2048 px
(``examples/astronaut.jpg`` resized, as ``python -m facehub bench``; median of 20 after 5 warm-ups) and on
``examples/two_people.jpg``. points: on AFLW2000-3D val, by abs(yaw), the median distance of each of the five
points from its 3D-labelled position (eye centres: mean of the 6 eye points; nose tip; mouth corners; a hidden
far eye's label is where it lies behind the face), in units of the labelled 68-point box's size
(sqrt of its area); pairs (eyes, mouth corners) matched in whichever order is closer. negatives: strips with no
face, cut from celebamask19's train and val photos above the brows and below the face
(``facehub.train.eval.detection.face_free_strips``): how many get a box. ``--set`` overrides face-detector settings (e.g. ``--set padded_threshold=0.45``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facehub.detection import load_detector  # noqa: E402
from facehub.train.data import data_root  # noqa: E402
from facehub.train.eval.detection import face_free_strips, labelled_sets, score_set  # noqa: E402
from facehub.bench import time_ms  # noqa: E402


def _read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _ms(function, repeats: int = 20) -> float:
    return time_ms(function, repeats, warmup=5)[0]


def _photos() -> dict[str, np.ndarray]:
    astronaut = Image.open(ROOT / "examples" / "astronaut.jpg").convert("RGB")
    photos = {f"{side} px": np.asarray(astronaut.resize((side, side), Image.Resampling.BICUBIC)) for side in (512, 2048)}
    photos["two_people.jpg (949 px)"] = _read(ROOT / "examples" / "two_people.jpg")
    return photos


def _labelled_five(points68: np.ndarray) -> np.ndarray:
    """(68, 2) -> (5, 2): right eye, left eye (subject's), nose tip, mouth corners."""
    return np.stack([points68[36:42].mean(0), points68[42:48].mean(0), points68[30], points68[48], points68[54]])


def _pair_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances (2,) of the two points ``a`` (2, 2) from ``b`` (2, 2), in the closer of the two orders."""
    straight, crossed = np.linalg.norm(a - b, axis=1), np.linalg.norm(a - b[::-1], axis=1)
    return straight if straight.sum() <= crossed.sum() else crossed


def five_point_errors(detectors: dict) -> None:
    import scipy.io

    from facehub.train.eval.metrics import box_iou

    bins = [(0, 30), (30, 60), (60, 91)]
    print("| detector | abs(yaw) | faces | eyes | nose tip | mouth corners |")
    print("|---|---|---|---|---|---|")
    for name, detector in detectors.items():
        rows: dict[tuple[int, int], list[np.ndarray]] = {b: [] for b in bins}
        for path in sorted((data_root() / "aflw2000_val").glob("*.jpg")):
            mat = scipy.io.loadmat(str(path.with_suffix(".mat")))
            points68 = mat["pt3d_68"][:2].T
            truth, yaw = np.r_[points68.min(0), points68.max(0)], abs(np.degrees(mat["Pose_Para"][0, 1]))
            faces = [f for f in detector(_read(path)).faces if box_iou(f.box, truth) > 0.3]
            if not faces:
                continue
            label, found = _labelled_five(points68), faces[0].points
            size = np.sqrt(np.prod(truth[2:] - truth[:2]))
            error = np.r_[_pair_error(found[:2], label[:2]), np.linalg.norm(found[2] - label[2]), _pair_error(found[3:], label[3:])]
            rows[next(b for b in bins if b[0] <= yaw < b[1])].append(error / size)
        for (low, high), errors in rows.items():
            e = np.median(np.array(errors), 0) if errors else np.full(5, np.nan)
            print(f"| {name} | {low}-{min(high, 90)} | {len(errors)} | {e[:2].mean():.3f} | {e[2]:.3f} | {e[3:].mean():.3f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detectors", nargs="+", default=["face-detector", "blazeface-short", "mtcnn", "blazeface"])
    parser.add_argument("--parts", nargs="+", default=["recall", "speed"], choices=["recall", "speed", "points", "negatives"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=[], help="face-detector settings, key=value")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = {k: float(v) for k, v in (item.split("=") for item in args.set)}
    detectors = {}
    for name in args.detectors:
        if settings and name == "face-detector":
            from facehub.detection.cascade import CascadeDetector

            detectors[name] = CascadeDetector.from_pretrained(name, device="cpu", **settings)
        else:
            detectors[name] = load_detector(name, device="cpu")
    boxes_of = {name: (lambda image, d=d: np.array([f.box for f in d(image).faces]).reshape(-1, 4)) for name, d in detectors.items()}
    if "recall" in args.parts:
        print("| set | photos | " + " | ".join(detectors) + " |")
        print("|---|---|" + "---|" * len(detectors))
        for set_name, photos in labelled_sets().items():
            cells = [score_set(boxes_of[name], photos, _read).cell() for name in detectors]
            print(f"| {set_name} | {len(photos)} | " + " | ".join(cells) + " |", flush=True)
        print()
    if "negatives" in args.parts:
        strips = [strip for split in ("train", "val") for strip in face_free_strips(split=split)]
        counts = {name: [int(len(boxes_of[name](strip)) > 0) for strip in strips] for name in detectors}
        print(f"| face-free strips ({len(strips)}, celebamask19) | " + " | ".join(f"{sum(c)} with a face" for c in counts.values()) + " |\n")
    if "points" in args.parts:
        five_point_errors(detectors)
    if "speed" in args.parts:
        photos = _photos()
        print(f"ms per photo ({args.threads} torch threads, median of 20)\n")
        print("| detector | " + " | ".join(photos) + " |")
        print("|---|" + "---|" * len(photos))
        for name, detector in detectors.items():
            with torch.inference_mode():
                cells = [f"{_ms(lambda d=detector, i=image: d(i)):.1f}" for image in photos.values()]
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
