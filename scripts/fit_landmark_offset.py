"""Fit a landmark checkpoint's mean error on its training people and store it as ``point_offset``.

    python scripts/fit_landmark_offset.py --weights runs/pipnet/best [--limit 800]

The checkpoint is run through the full pipeline (MTCNN's five points -> the
model's crop) on ytf68 faces of the *training* people (``split_by_person``,
the same seed and fraction as training, so validation people are never used).
The mean of (prediction - human label) in crop pixels, per point, is written
to ``config.json`` as ``point_offset`` (``LandmarkPredictor`` subtracts it),
with ``point_offset_fit`` saying on how many faces and people it was fitted.
Why: a model trained with mirror augmentation on slightly asymmetric labels,
and with teacher-labelled faces of another point convention, keeps a small
systematic shift that averaging over faces measures well. Score the result with
``scripts/evaluate_landmarks.py --weights ... --split val``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.align import transform_points  # noqa: E402
from facehub.data import data_root  # noqa: E402
from facehub.data.landmark_files import read_labelled_folder  # noqa: E402
from facehub.data.ytf68 import split_by_person  # noqa: E402
from facehub.image import load_image  # noqa: E402
from facehub.landmarks68 import to_68  # noqa: E402


def crop_residuals(predictor, samples, box_iou) -> np.ndarray:
    """(F, N, 2) prediction - label in crop pixels for the faces the detector finds (IoU >= 0.3 with the label box)."""
    residuals = []
    for sample in samples:
        image = load_image(sample.path)
        gt = to_68(sample.points) if len(sample.points) != predictor.loaded.config.get("num_points", 68) else sample.points
        gt_box = np.r_[gt.min(0), gt.max(0)]
        faces = predictor.detector(image).faces
        ious = [box_iou(f.box, gt_box) for f in faces]
        if not ious or max(ious) < 0.3:
            continue
        face = faces[int(np.argmax(ious))]
        _, _, crop_points, matrices = predictor.locate(image, face.points[None])
        residuals.append(crop_points[0] - transform_points(gt, matrices[0]))
    return np.stack(residuals)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True, help="a save_pretrained folder (e.g. runs/pipnet/best)")
    parser.add_argument("--data", type=Path, default=None, help="labelled folder (default: data_root()/ytf68)")
    parser.add_argument("--val-fraction", type=float, default=0.12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=800, help="training faces to fit on (a random subset; 0: all)")
    parser.add_argument("--flip-test", action=argparse.BooleanOptionalAction, default=None,
                        help="fit (and store in config.json) with mirrored-crop averaging on or off; default: the config's")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from evaluate_landmarks import box_iou, build_predictor

    predictor = build_predictor(argparse.Namespace(weights=str(args.weights), model=None, refine_passes=None, flip_test=args.flip_test))
    predictor.point_offset = None  # fit from the raw predictions
    train, _ = split_by_person(read_labelled_folder(args.data or data_root() / "ytf68"), args.val_fraction, args.seed)
    if args.limit:
        train = [train[i] for i in np.random.default_rng(0).permutation(len(train))[: args.limit]]
    residuals = crop_residuals(predictor, train, box_iou)
    offset = residuals.mean(0)
    config_path = args.weights / "config.json"
    config = json.loads(config_path.read_text())
    config["point_offset"] = np.round(offset, 4).tolist()
    config["flip_test"] = predictor.flip_test  # the offset holds for this setting
    config["point_offset_fit"] = {
        "faces": len(residuals), "people": len({s.person for s in train}),
        "mean_shift_px": round(float(np.linalg.norm(offset, axis=1).mean()), 4),
        "crop_size": config.get("input_size"), "flip_test": predictor.flip_test,
        "command": "python scripts/fit_landmark_offset.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    print(json.dumps(config["point_offset_fit"], indent=2))


if __name__ == "__main__":
    main()
