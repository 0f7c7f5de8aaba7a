"""Fit the 468 -> 68 landmark map on ytf68's real labels.

Each of the 68 iBUG points becomes a sum-to-one, non-negative blend of the
``k`` MediaPipe vertices nearest to it on average (in a face frame normalised
by the five-point similarity). The weights are fitted by least squares on the
training people of ``split_by_person`` (seed 0) and scored on the held-out
people, as NME normalised by the square root of the label box area.

    python scripts/fit_68_map.py --k 6 --out facehub/assets/prnet_68_map.json

``--student CHECKPOINT`` fits the same kind of map on a trained PRNet's own
468 vertices instead of the teacher's (plain teacher-aligned crops of ytf68's
training people, mirrored-crop averaging), so that the map also absorbs the
model's systematic offsets; ``scripts/export_prnet.py --map-68`` ships it in
the checkpoint's config (the training alignment keeps the teacher map).

    python scripts/fit_68_map.py --student runs/prnet/best.pt --out runs/prnet/map_68.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from facehub.geometry.align import (  # noqa: E402
    CropSpec,
    alignment_matrix,
    transform_points,
)
from facehub.geometry.five_points import five_points_from_68, five_points_from_468  # noqa: E402
from facehub.reconstruction.uv import map_68, points_468_to_68, uv_layout  # noqa: E402
from facehub.train.data.teacher import load_teacher_cache  # noqa: E402
from facehub.train.data.ytf68 import read_ytf68, split_by_person  # noqa: E402
from facehub.train.reconstruction.losses import box_nme  # noqa: E402


def paired_points(samples) -> tuple[np.ndarray, np.ndarray]:
    """(N, 468, 2) teacher points and (N, 68, 2) labels, both in a 256-px five-point frame."""
    cache = load_teacher_cache("ytf68")
    index = {str(n): i for i, n in enumerate(cache.names)}
    spec = CropSpec(256, zoom=0.7)
    teacher, labels = [], []
    for sample in samples:
        i = index.get(sample.path.name)
        if i is None or np.isnan(cache.points[i, 0, 0]):
            continue
        matrix = alignment_matrix(five_points_from_68(sample.points), spec)
        teacher.append(transform_points(cache.points[i, :, :2], matrix))
        labels.append(transform_points(sample.points, matrix))
    return np.stack(teacher), np.stack(labels)


def fit_map(teacher: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return indices (68, k) int and weights (68, k) float (>= 0, rows sum to 1)."""
    indices = np.zeros((68, k), dtype=np.int64)
    weights = np.zeros((68, k))
    for j in range(68):
        dist = np.linalg.norm(teacher - labels[:, j : j + 1], axis=-1)  # (N, 468)
        candidates = np.argsort(np.median(dist, axis=0))[:k]
        design = teacher[:, candidates].transpose(0, 2, 1).reshape(-1, k)  # (N*2, k)
        target = labels[:, j].reshape(-1)
        penalty = 1e5
        design = np.vstack([design, penalty * np.ones((1, k))])
        target = np.concatenate([target, [penalty]])
        w, _ = nnls(design, target)
        indices[j], weights[j] = candidates, w / w.sum()
    return indices, weights


def student_points(checkpoint: Path, split: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 468, 2) PRNet vertices and (N, 68, 2) real labels, both in the model's crop pixels (``checkpoint``: see ``read_checkpoint``)."""
    import torch

    from facehub.train.reconstruction.checkpoint import MEAN, STD, read_checkpoint
    from facehub.train.reconstruction.dataset import (
        Augment,
        PRNetDataset,
        build_loose_crops,
        loose_size,
    )

    ckpt = read_checkpoint(checkpoint)
    model, size = ckpt.model, ckpt.model_args["input_size"]
    spec = CropSpec(size, ckpt.crop["zoom"], ckpt.crop["shift_y"])
    crops = build_loose_crops(split, spec, loose_size(size))
    labels = {s.path.name: s.points for s in read_ytf68()}
    teacher = load_teacher_cache("ytf68")
    index = {str(n): i for i, n in enumerate(teacher.names)}
    keep = [i for i, (n, src) in enumerate(zip(crops.names, crops.sources)) if src == "ytf68" and str(n) in labels][: limit or None]
    data = PRNetDataset(crops, spec, ckpt.uv_size, Augment.none(), MEAN, STD)
    layout = uv_layout(ckpt.uv_size)
    preds, targets = [], []
    with torch.inference_mode():
        for start in range(0, len(keep), 32):
            batch = keep[start : start + 32]
            x = torch.stack([data[i][0] for i in batch])
            both = model(torch.cat([x, x.flip(-1)]))
            mirrored = both[len(x) :].flip(-1)
            mirrored[:, 0] = size - 1 - mirrored[:, 0]
            preds.append(layout.sample((both[: len(x)] + mirrored) / 2)[..., :2].numpy())
            for i in batch:
                name = str(crops.names[i])
                matrix = alignment_matrix(five_points_from_468(teacher.points[index[name]]), spec)
                targets.append(transform_points(labels[name], matrix))
    return np.concatenate(preds).astype(np.float64), np.stack(targets)


def main_student(args: argparse.Namespace) -> None:
    p_train, l_train = student_points(args.student, "train", args.limit)
    p_val, l_val = student_points(args.student, "val", 0)
    indices, weights = fit_map(p_train, l_train, args.k)
    report = {
        "k": args.k,
        "checkpoint": str(args.student),
        "fit_faces": len(p_train),
        "heldout_faces": len(p_val),
        "nme_heldout_teacher_map": round(float(box_nme(points_468_to_68(p_val, map_68()), l_val).mean()), 5),
        "nme_heldout_student_map": round(float(box_nme(points_468_to_68(p_val, (indices, weights)), l_val).mean()), 5),
    }
    print(json.dumps(report, indent=2))
    payload = {"fit": report, "indices": indices.tolist(), "weights": np.round(weights, 6).tolist()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("facehub/assets/prnet_68_map.json"))
    parser.add_argument("--student", type=Path, help="fit on this PRNet checkpoint's predictions instead")
    parser.add_argument("--limit", type=int, default=1500, help="training faces for --student")
    args = parser.parse_args()
    if args.student:
        main_student(args)
        return
    train, val = split_by_person(read_ytf68(), val_fraction=0.12, seed=0)
    t_train, l_train = paired_points(train)
    t_val, l_val = paired_points(val)
    indices, weights = fit_map(t_train, l_train, args.k)
    err_train = box_nme(points_468_to_68(t_train, (indices, weights)), l_train)
    err_val = box_nme(points_468_to_68(t_val, (indices, weights)), l_val)
    report = {
        "k": args.k,
        "fit_faces": len(t_train),
        "heldout_faces": len(t_val),
        "nme_train_mean": round(float(err_train.mean()), 5),
        "nme_heldout_mean": round(float(err_val.mean()), 5),
        "nme_heldout_median": round(float(np.median(err_val)), 5),
    }
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "description": "MediaPipe 468 -> iBUG 68: points68[j] = sum_k weights[j][k] * points468[indices[j][k]]",
        "fit": report,
        "indices": indices.tolist(),
        "weights": np.round(weights, 6).tolist(),
    }
    args.out.write_text(json.dumps(payload) + "\n")


if __name__ == "__main__":
    main()
