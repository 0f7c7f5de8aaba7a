"""Score a landmark checkpoint through the full pipeline (our detector's boxes) on a labelled folder.

    python scripts/evaluate_landmarks.py --model pipnet --data ../shared/data/ytf68 --split val
    python scripts/evaluate_landmarks.py --weights runs/pipnet/best --data /path/to/300W/ibug --refine-passes 1

Folders: a ``*.csv`` in the ytf68 layout (``image, x0, y0, ...``), WFLW's
``list_98pt_rect_attr_*.txt`` + ``WFLW_images/``, or images with ``.pts`` beside them.
Each labelled face is matched to the detected face whose box overlaps the
ground truth's point box best (IoU >= 0.3); no match is a miss, counted as a
failure (``inf`` NME). Prints NME (inter-ocular, outer eye corners, or ``--normalise box``: by the square root
of the labelled point box's area, as AFLW2000-3D is scored; mean over
the faces found), failure rate at 0.10 (misses included), AUC at 0.10, misses,
and ms per face of the landmark stage (AFLW2000-3D folders, a ``.mat`` beside each image: also the NME per |yaw| bin); ``--out`` writes per-image errors and the mean error per point index as JSON
(``scripts/plot_landmark_errors.py`` draws them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.train.data import data_root  # noqa: E402
from facehub.train.data.landmark_files import read_labelled_folder  # noqa: E402
from facehub.train.data.ytf68 import split_by_person  # noqa: E402
from facehub.train.eval.landmarks import detect_all, evaluate_folder, load_landmark_predictor, nme_by_yaw  # noqa: E402


def evaluate(args: argparse.Namespace) -> dict:
    samples = read_labelled_folder(args.data or data_root() / "ytf68")
    if args.split != "all":
        train, val = split_by_person(samples, args.val_fraction, args.seed)
        samples = val if args.split == "val" else train
    samples = samples[: args.limit] if args.limit else samples
    predictor = load_landmark_predictor(args.model, args.weights, refine_passes=args.refine_passes, flip_test=args.flip_test,
                                        refine_min_shift=args.refine_min_shift, profile_jaw=args.profile_jaw)
    scores = evaluate_folder(predictor, samples, detect_all(predictor.detector, samples, args.detections), args.normalise)
    scores.summary["model"] = str(args.weights or args.model)
    by_yaw = nme_by_yaw(scores.per_image, samples[0].path.parent) if samples else None
    if by_yaw:  # AFLW2000-3D layout: a .mat with Pose_Para beside each image
        scores.summary["by_yaw"] = by_yaw
    if args.out:
        Path(args.out).write_text(json.dumps(scores.to_json(), indent=2))
    return scores.summary


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="pipnet", help="checkpoint name (weights/<name>/ or the Hub)")
    p.add_argument("--weights", default=None, help="a checkpoint folder instead of --model (e.g. runs/pipnet/best)")
    p.add_argument("--data", type=Path, default=None, help="labelled folder (default: data_root()/ytf68)")
    p.add_argument("--split", choices=["all", "val", "train"], default="all", help="ytf68 person split to score")
    p.add_argument("--val-fraction", type=float, default=0.12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refine-passes", type=int, default=None, help="default: the checkpoint's config")
    p.add_argument("--refine-min-shift", type=float, default=None,
                   help="refine only faces whose crop moves by more than this share of its side (default: the checkpoint's config)")
    p.add_argument("--flip-test", action=argparse.BooleanOptionalAction, default=None,
                   help="average with the mirrored crop (default: the checkpoint's config)")
    p.add_argument("--profile-jaw", action=argparse.BooleanOptionalAction, default=None,
                   help="--no-profile-jaw: the model's own jaw on turned faces too (default: the checkpoint's config)")
    p.add_argument("--detections", type=Path, default=None, help="JSON cache of the detector's faces per image")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--normalise", choices=["interocular", "box"], default="interocular",
                   help="NME denominator: outer-eye-corner distance (300-W) or sqrt of the labelled point box's area (AFLW2000-3D)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    summary = evaluate(args)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
