"""Per-point error and CED plots from ``scripts/evaluate_landmarks.py --out`` JSON files, one curve per file.

    python scripts/evaluate_landmarks.py --data ../shared/data/300w68/helen_train --out runs/eval_lm_helen.json
    python scripts/plot_landmark_errors.py runs/eval_lm_helen.json runs/eval_lm_ytf68.json --out docs/landmark_errors.png

Left: the mean normalised error of each point index (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes, 48-67
mouth), over the faces found. Right: the cumulative error distribution (fraction of faces with NME below x,
misses counted as failures) up to 0.10, with its AUC in the legend.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REGIONS = ((0, 17, "jaw"), (17, 27, "brows"), (27, 36, "nose"), (36, 48, "eyes"), (48, 68, "mouth"))


def ced(errors: np.ndarray, limit: float = 0.10, steps: int = 201) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds (steps,) in [0, limit] and the fraction (steps,) of ``errors`` (misses as ``inf``) at or below each."""
    x = np.linspace(0.0, limit, steps)
    return x, (np.asarray(errors, dtype=np.float64)[None] <= x[:, None]).mean(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--labels", nargs="*", default=None, help="one per file (default: the file stems)")
    parser.add_argument("--out", type=Path, default=Path("docs/landmark_errors.png"))
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [2, 1]})
    for k, path in enumerate(args.results):
        data = json.loads(path.read_text())
        label = args.labels[k] if args.labels else path.stem
        per_point, summary = np.asarray(data["per_point_mean"]), data["summary"]
        errors = np.array([np.inf if v is None else v for v in data["per_image"].values()])
        left.plot(np.arange(len(per_point)), per_point, marker=".", label=f"{label} (NME {summary['nme']:.4f})")
        right.plot(*ced(errors), label=f"{label} (AUC@0.1 {summary['auc']:.3f})")  # landmark_summary's NME and AUC
    for start, stop, name in REGIONS:
        left.axvspan(start - 0.5, stop - 0.5, alpha=0.06 * (1 + start % 2))
        left.text((start + stop - 1) / 2, left.get_ylim()[1] * 0.97, name, ha="center", va="top", fontsize=8)
    left.set(xlabel="point index (iBUG 68)", ylabel="mean normalised error", title="Error per point")
    right.set(xlabel="NME", ylabel="fraction of faces", title="Cumulative error distribution", xlim=(0, 0.1), ylim=(0, 1))
    left.legend(fontsize=8)
    right.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
