"""Parsing evaluation through the CLI, shared by scripts and tests.

``run_cli`` runs ``python -m facehub parse IMAGES --out DIR --model NAME`` (detection, alignment, parsing,
paste-back); ``score`` compares the written class-index PNGs with a labelled folder's labels: per-class F1 in
the folder's own label set (predicted names mapped by name, e.g. ``left_eye`` -> ``l_eye``, ``neck`` kept for
CelebAMask-HQ and folded into ``skin`` for LaPa/Helen) and the coarse classes (background, skin+ears+neck,
hair+brows, eyes, nose, mouth) with their mean over the five non-background classes (``mean5``), and for
CelebAMask-HQ folders the 11 class groups of the hidden benchmark (``metrics.CELEBAMASK_GROUPS``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from facehub.parsing.labels import COARSE_NAMES, coarse_lookup, convert, label_set_for
from facehub.train.eval.metrics import confusion_matrix, f1_per_class, group_f1

REPO_ROOT = Path(__file__).resolve().parents[3]


def run_cli(images: list[Path], out: Path, model: str, chunk: int = 200) -> None:
    """``python -m facehub parse`` over ``images`` in chunks (keeps command lines short)."""
    for start in range(0, len(images), chunk):
        command = [sys.executable, "-m", "facehub", "parse", *map(str, images[start:start + chunk]), "--out", str(out),
                   "--model", model]
        subprocess.run(command, check=False, cwd=REPO_ROOT)


@dataclass
class ParsingScores:
    """F1 per class of the folder's label set, per coarse class, and ``mean5`` (coarse, background excluded);
    ``groups``: F1 per CelebAMask-HQ class group (left/right merged, pixels pooled) with their ``mean`` (the hidden
    CelebAMask-HQ-19 measure; NaN for groups the folder's label set does not name)."""

    layout: str
    images: int
    missing_predictions: int
    f1: dict[str, float]
    coarse_f1: dict[str, float]
    mean5: float
    groups: dict[str, float]


def score(folder, pred_dir: Path) -> ParsingScores:
    """Confusions of every sample of ``folder`` (``open_parsing_folder``) whose prediction exists in ``pred_dir``."""
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
    return ParsingScores(
        layout=folder.layout, images=len(folder.samples) - missing, missing_predictions=missing,
        f1={name: round(float(v), 4) for name, v in zip(target_set.names, f1_per_class(fine))},
        coarse_f1={name: round(float(v), 4) for name, v in zip(COARSE_NAMES, coarse_f1)},
        mean5=round(float(np.nanmean(coarse_f1[1:])), 4),
        groups={name: round(v, 4) for name, v in group_f1(fine, target_set.names).items()},
    )
