"""Facts about ytf68 and a landmark checkpoint quoted in the landmark cards and the issue notes.

    python scripts/diagnose_landmarks.py [--weights runs/pipnet/best --limit 800]

* the MediaPipe teacher mapped to 68 points (``facehub/assets/prnet_68_map.json``, fitted on ytf68's training
  people) scored like the landmark models: inter-ocular NME (outer eye corners) on the held-out people;
* how asymmetric the labels are: the mean label shape in the five-point crop frame against its mirror image,
  mean point distance / 2 in inter-ocular distances (0 for perfectly symmetric labelling);
* with ``--weights``: the checkpoint's *systematic* error, the per-point mean of (prediction - label) in crop
  pixels through the detector pipeline, on its training people and on the validation people. A model trained
  with mirror augmentation on these asymmetric labels kept a 0.72 px mean shift (400 training faces); without
  mirroring (``train_landmarks.py --flip-prob 0``) it is 0.11 px.
Needs the teacher cache (``python scripts/cache_teacher.py --datasets ytf68``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from facehub.geometry.align import (  # noqa: E402
    CropSpec,
    alignment_matrix,
    transform_points,
)
from facehub.geometry.five_points import five_points_from_68  # noqa: E402
from facehub.geometry.landmarks68 import (
    flip_points,  # noqa: E402
    )
from facehub.reconstruction.uv import points_468_to_68  # noqa: E402
from facehub.train.data.teacher import load_teacher_cache  # noqa: E402
from facehub.train.data.ytf68 import read_ytf68, split_by_person  # noqa: E402
from facehub.train.eval.landmarks import crop_residuals, load_landmark_predictor  # noqa: E402
from facehub.train.eval.metrics import nme  # noqa: E402


def systematic_error(weights: str, limit: int) -> None:
    """Print the checkpoint's mean per-point shift (crop px and inter-ocular units) on training and validation people."""

    predictor = load_landmark_predictor(weights=weights)
    train, val = split_by_person(read_ytf68(), 0.12, 0)
    train = [train[i] for i in np.random.default_rng(0).permutation(len(train))[:limit]]
    for name, samples in (("training", train), ("validation", val)):
        residuals = crop_residuals(predictor, samples)
        shift = np.linalg.norm(residuals.mean(0), axis=1).mean()
        spread = np.linalg.norm(residuals, axis=2).mean()
        print(f"{weights} on {len(residuals)} {name} faces: mean shift {shift:.3f} px, mean error {spread:.3f} px (crop px)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", help="also measure this checkpoint folder's systematic error")
    parser.add_argument("--limit", type=int, default=800, help="training faces for --weights")
    args = parser.parse_args()
    if args.weights:
        systematic_error(args.weights, args.limit)
    samples = read_ytf68()
    _, val = split_by_person(samples, 0.12, 0)
    cache = load_teacher_cache("ytf68")
    index = {str(n): i for i, n in enumerate(cache.names)}
    found = [s for s in val if not np.isnan(cache.points[index[s.path.name], 0, 0])]
    teacher = np.stack([points_468_to_68(cache.points[index[s.path.name], :, :2]) for s in found])
    errors = nme(teacher, np.stack([s.points for s in found]))
    print(f"teacher (MediaPipe -> 68) val NME {errors.mean():.4f} (median {np.median(errors):.4f}), "
          f"{len(found)} of {len(val)} faces found")
    spec = CropSpec(128, 0.68, -0.1)
    aligned = np.stack([transform_points(s.points, alignment_matrix(five_points_from_68(s.points), spec)) for s in samples])
    mean = aligned.mean(0)
    mirrored = flip_points(mean, spec.size)
    iod = np.linalg.norm(mean[36] - mean[45])
    print(f"label asymmetry: {np.linalg.norm(mean - mirrored, axis=1).mean() / 2 / iod:.4f} inter-ocular distances")


if __name__ == "__main__":
    main()
