"""Evaluation metrics.

Landmarks: normalised mean error (NME, inter-ocular: the distance between the
outer eye corners, points 36/45 of 68 or 60/72 of 98), failure rate at a
threshold and the area under the cumulative error distribution (AUC).
A missed face counts as ``inf`` NME (a failure that never enters the AUC).
"""

from __future__ import annotations

import numpy as np

from facehub.geometry.landmarks68 import OUTER_EYE_CORNERS


def nme(pred: np.ndarray, target: np.ndarray, corners: tuple[int, int] | None = None) -> np.ndarray:
    """Per-face NME: mean point error / outer-eye-corner distance.

    pred, target: (F, N, 2) or (N, 2) pixels. Returns (F,) float (>= 0).
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.ndim == 2:
        pred, target = pred[None], target[None]
    a, b = corners or OUTER_EYE_CORNERS[target.shape[1]]
    norm = np.linalg.norm(target[:, a] - target[:, b], axis=-1)
    return np.linalg.norm(pred - target, axis=-1).mean(-1) / np.maximum(norm, 1e-6)


def failure_rate(errors: np.ndarray, threshold: float = 0.10) -> float:
    """Fraction of faces with NME above ``threshold`` (missed faces, ``inf``, count)."""
    errors = np.asarray(errors, dtype=np.float64)
    return float((errors > threshold).mean()) if errors.size else float("nan")


def auc(errors: np.ndarray, threshold: float = 0.10, steps: int = 1000) -> float:
    """Area under the cumulative error distribution on [0, threshold], divided by ``threshold`` (in [0, 1])."""
    errors = np.asarray(errors, dtype=np.float64)
    if not errors.size:
        return float("nan")
    grid = np.linspace(0.0, threshold, steps + 1)
    ced = (errors[None, :] <= grid[:, None]).mean(1)
    return float(np.trapezoid(ced, grid) / threshold)


def landmark_summary(errors: np.ndarray, threshold: float = 0.10) -> dict[str, float]:
    """``{"nme", "fr", "auc", "count"}``; the mean NME is over the faces found (finite errors)."""
    errors = np.asarray(errors, dtype=np.float64)
    finite = errors[np.isfinite(errors)]
    return {
        "nme": float(finite.mean()) if finite.size else float("nan"),
        "fr": failure_rate(errors, threshold),
        "auc": auc(errors, threshold),
        "count": int(errors.size),
        "missed": int((~np.isfinite(errors)).sum()),
    }


# --------------------------------------------------------------------------- parsing
# Per-class F1 (Dice) and IoU from a confusion matrix accumulated over images;
# pixels labelled 255 (ignore) in the target are skipped.


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two ``[x0, y0, x1, y1]`` boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / max(union, 1e-9)


def confusion_matrix(pred: np.ndarray, target: np.ndarray, num_classes: int, ignore: int = 255) -> np.ndarray:
    """(C, C) int64 counts, rows = target class, columns = predicted class.

    pred, target: integer class maps of the same shape; target pixels equal to ``ignore`` are skipped,
    predictions outside [0, C) count as class 0 (background).
    """
    pred = np.asarray(pred).astype(np.int64).ravel()
    target = np.asarray(target).astype(np.int64).ravel()
    keep = target != ignore
    pred, target = pred[keep], target[keep]
    pred = np.where((pred >= 0) & (pred < num_classes), pred, 0)
    return np.bincount(target * num_classes + pred, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def f1_per_class(confusion: np.ndarray) -> np.ndarray:
    """(C,) F1 = 2TP / (2TP + FP + FN) per class from a (C, C) confusion matrix; NaN where a class never occurs."""
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    denominator = confusion.sum(0) + confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / denominator, np.nan)


def iou_per_class(confusion: np.ndarray) -> np.ndarray:
    """(C,) IoU = TP / (TP + FP + FN) per class; NaN where a class never occurs."""
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    denominator = confusion.sum(0) + confusion.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, tp / denominator, np.nan)


def coarse_f1(confusion: np.ndarray, names: list[str] | tuple[str, ...]) -> dict[str, float]:
    """Coarse-class F1 (background, skin with ears/neck, hair with brows, eyes, nose, mouth) from a
    fine (C, C) confusion matrix over label ``names``, plus ``mean5``: the mean over skin, hair, eyes, nose, mouth."""
    from facehub.parsing.labels import COARSE_NAMES, coarse_lookup, label_set_for

    table = coarse_lookup(label_set_for(list(names)))[: len(names)].astype(np.int64)
    coarse = np.zeros((len(COARSE_NAMES), len(COARSE_NAMES)), dtype=np.float64)
    np.add.at(coarse, (table[:, None].repeat(len(names), 1), table[None, :].repeat(len(names), 0)), confusion)
    scores = f1_per_class(coarse)
    result = {name: float(score) for name, score in zip(COARSE_NAMES, scores)}
    result["mean5"] = float(np.nanmean(scores[1:]))
    return result


# The hidden CelebAMask-HQ-19 benchmark's class groups (left/right merged); classes in no group are not scored.
CELEBAMASK_GROUPS: dict[str, tuple[str, ...]] = {
    "skin": ("skin",), "nose": ("nose",), "eyes": ("l_eye", "r_eye"), "brows": ("l_brow", "r_brow"),
    "ears": ("l_ear", "r_ear"), "upper_lip": ("u_lip",), "lower_lip": ("l_lip",), "inner_mouth": ("mouth",),
    "hair": ("hair",), "neck": ("neck",), "cloth": ("cloth",),
}


def group_f1(confusion: np.ndarray, names: list[str] | tuple[str, ...],
             groups: dict[str, tuple[str, ...]] = CELEBAMASK_GROUPS) -> dict[str, float]:
    """F1 per class group (pixels pooled over the group's classes) from a fine (C, C) confusion matrix
    (rows = target, columns = prediction, as ``confusion_matrix``) over label ``names``, plus ``mean``
    over the groups. A group none of whose classes is in ``names`` is NaN and left out of the mean."""
    index = {name: i for i, name in enumerate(names)}
    result = {}
    for group, members in groups.items():
        ids = [index[m] for m in members if m in index]
        if not ids:
            result[group] = float("nan")
            continue
        hit = confusion[np.ix_(ids, ids)].sum()
        actual, predicted = confusion[ids, :].sum(), confusion[:, ids].sum()
        result[group] = float(2 * hit / (predicted + actual)) if predicted + actual else float("nan")
    result["mean"] = float(np.nanmean([result[g] for g in groups]))
    return result
