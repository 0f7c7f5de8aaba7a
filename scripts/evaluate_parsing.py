"""Per-class F1 of a face parser on a labelled folder (CelebAMask-HQ, LaPa or Helen layout).

Runs the full CLI pipeline (``python -m facehub parse IMAGES --out DIR --model NAME``: detection,
alignment, parsing, paste-back), then scores the written class-index PNGs against the labels:
per-class F1 in the folder's own label set (predicted names mapped by name, e.g. ``left_eye`` ->
``l_eye``, ``neck`` kept for CelebAMask-HQ and folded into ``skin`` for LaPa/Helen) and the coarse
classes (background, skin+ears+neck, hair+brows, eyes, nose, mouth) with their mean over the five
non-background classes (``mean5``).

    python scripts/evaluate_parsing.py /data/LaPa --split test --model bisenet --json lapa.json

``--lips-gain G`` parses copies of the photos whose labelled lips are multiplied by G (``scale_lips``; 0.55: a dark
lipstick or dark lips), to see whether dark lips stay lips or turn into an open mouth.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from facehub.train.data.parsing_layouts import open_parsing_folder  # noqa: E402
from facehub.train.eval.parsing import run_cli, score  # noqa: E402


def _with_lips_scaled(sample, lips: tuple[int, ...], gain: float, folder: Path) -> Path:
    """A PNG copy of ``sample``'s photo in ``folder`` (same stem) with its labelled ``lips`` (class indices) times
    ``gain``."""
    from PIL import Image

    from facehub.image import load_image
    from facehub.train.parsing.augment import scale_lips

    image, label = load_image(sample.image), sample.load_label()
    if label.shape != image.shape[:2]:
        label = np.asarray(Image.fromarray(label).resize(image.shape[1::-1], Image.NEAREST))
    path = folder / f"{sample.image.stem}.png"
    Image.fromarray(scale_lips(image, label, lips, gain)).save(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--split", default=None, help="subfolder, e.g. test")
    parser.add_argument("--model", default="bisenet")
    parser.add_argument("--pred-dir", type=Path, default=None, help="keep predictions here (default: a temporary folder)")
    parser.add_argument("--limit", type=int, default=0, help="first N images only")
    parser.add_argument("--json", type=Path, default=None, help="write the scores here")
    parser.add_argument("--lips-gain", type=float, default=1.0, help="labelled lips' pixels times this before parsing")
    args = parser.parse_args()
    folder = open_parsing_folder(args.folder, args.split)
    if args.limit:
        folder.samples = folder.samples[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        pred_dir = args.pred_dir or Path(tmp) / "predicted"
        pred_dir.mkdir(parents=True, exist_ok=True)
        images = [s.image for s in folder.samples]
        if args.lips_gain != 1.0:
            from facehub.train.parsing.augment import lip_classes

            lips = lip_classes(folder.labels)
            images = [_with_lips_scaled(s, lips, args.lips_gain, Path(tmp)) for s in folder.samples]
        run_cli(images, pred_dir, args.model)
        scores = {"model": args.model, **asdict(score(folder, pred_dir))}
    for name, value in {**scores["f1"], **{f"coarse {k}": v for k, v in scores["coarse_f1"].items()}}.items():
        print(f"{name:>20s}  {value:.4f}")
    for name, value in scores["groups"].items():
        if value == value:  # not NaN
            print(f"{'group ' + name:>20s}  {value:.4f}")
    print(f"{'coarse mean5':>20s}  {scores['mean5']:.4f}  ({scores['images']} images, layout {scores['layout']})")
    if args.json:
        args.json.write_text(json.dumps(scores, indent=2))


if __name__ == "__main__":
    main()
