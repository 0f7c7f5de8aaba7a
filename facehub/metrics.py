"""Evaluation metrics.

Landmarks: normalised mean error (NME, inter-ocular: the distance between the
outer eye corners, points 36/45 of 68 or 60/72 of 98), failure rate at a
threshold and the area under the cumulative error distribution (AUC).
A missed face counts as ``inf`` NME (a failure that never enters the AUC).
"""

from __future__ import annotations

import numpy as np

from .landmarks68 import OUTER_EYE_CORNERS


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
