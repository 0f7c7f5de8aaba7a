"""Per-class F1 of a face parser on a labelled folder (CelebAMask-HQ, LaPa or Helen layout).

Runs the full CLI pipeline (``python -m facehub parse IMAGES --out DIR --model NAME``: detection,
alignment, parsing, paste-back), then scores the written class-index PNGs against the labels:
per-class F1 in the folder's own label set (predicted names mapped by name, e.g. ``left_eye`` ->
``l_eye``, ``neck`` kept for CelebAMask-HQ and folded into ``skin`` for LaPa/Helen) and the coarse
classes (background, skin+ears+neck, hair+brows, eyes, nose, mouth) with their mean over the five
non-background classes (``mean5``).

    python scripts/evaluate_parsing.py /data/LaPa --split test --model bisenet --json lapa.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.parsing.labels import COARSE_NAMES, coarse_lookup, convert, label_set_for  # noqa: E402
from facehub.train.data.parsing_layouts import open_parsing_folder  # noqa: E402
from facehub.train.eval.metrics import confusion_matrix, f1_per_class  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run_cli(images: list[Path], out: Path, model: str, chunk: int = 200) -> None:
    """``python -m facehub parse`` over ``images`` in chunks (keeps command lines short)."""
    for start in range(0, len(images), chunk):
        command = [sys.executable, "-m", "facehub", "parse", *map(str, images[start:start + chunk]), "--out", str(out), "--model", model]
        subprocess.run(command, check=False, cwd=ROOT)


def score(folder, pred_dir: Path) -> dict:
    """Confusions of every sample whose prediction exists -> per-class and coarse F1."""
    predicted = label_set_for(json.loads((pred_dir / "labels.json").read_text())["labels"])
    target_set = folder.labels
    fine = np.zeros((len(target_set), len(target_set)), np.int64)
    coarse = np.zeros((len(COARSE_NAMES), len(COARSE_NAMES)), np.int64)
    pred_coarse, target_coarse = coarse_lookup(predicted), coarse_lookup(target_set)
    missing = 0
    for sample in folder.samples:
        path = pred_dir / f"{sample.image.stem}.png"
        if not path.is_file():
            missing += 1
            continue
        pred = np.asarray(Image.open(path))
        target = sample.load_label()
        if target.shape != pred.shape:
            target = np.asarray(Image.fromarray(target).resize((pred.shape[1], pred.shape[0]), Image.NEAREST))
        fine += confusion_matrix(convert(pred, predicted, target_set), target, len(target_set))
        coarse += confusion_matrix(pred_coarse[pred], target_coarse[target], len(COARSE_NAMES))
    coarse_f1 = f1_per_class(coarse)
    return {
        "layout": folder.layout, "images": len(folder.samples) - missing, "missing_predictions": missing,
        "f1": {name: round(float(v), 4) for name, v in zip(target_set.names, f1_per_class(fine))},
        "coarse_f1": {name: round(float(v), 4) for name, v in zip(COARSE_NAMES, coarse_f1)},
        "mean5": round(float(np.nanmean(coarse_f1[1:])), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--split", default=None, help="subfolder, e.g. test")
    parser.add_argument("--model", default="bisenet")
    parser.add_argument("--pred-dir", type=Path, default=None, help="keep predictions here (default: a temporary folder)")
    parser.add_argument("--limit", type=int, default=0, help="first N images only")
    parser.add_argument("--json", type=Path, default=None, help="write the scores here")
    args = parser.parse_args()
    folder = open_parsing_folder(args.folder, args.split)
    if args.limit:
        folder.samples = folder.samples[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        pred_dir = args.pred_dir or Path(tmp)
        pred_dir.mkdir(parents=True, exist_ok=True)
        run_cli([s.image for s in folder.samples], pred_dir, args.model)
        scores = {"model": args.model, **score(folder, pred_dir)}
    for name, value in {**scores["f1"], **{f"coarse {k}": v for k, v in scores["coarse_f1"].items()}}.items():
        print(f"{name:>20s}  {value:.4f}")
    print(f"{'coarse mean5':>20s}  {scores['mean5']:.4f}  ({scores['images']} images, layout {scores['layout']})")
    if args.json:
        args.json.write_text(json.dumps(scores, indent=2))


if __name__ == "__main__":
    main()
