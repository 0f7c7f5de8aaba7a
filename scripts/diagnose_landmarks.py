"""Two facts about ytf68's validation split quoted in the PIPNet card and the issue notes.

    python scripts/diagnose_landmarks.py

* the MediaPipe teacher mapped to 68 points (``facehub/assets/prnet_68_map.json``, fitted on ytf68's training
  people) scored like the landmark models: inter-ocular NME (outer eye corners) on the held-out people;
* how asymmetric the labels are: the mean label shape in the five-point crop frame against its mirror image,
  mean point distance / 2 in inter-ocular distances (0 for perfectly symmetric labelling).
Needs the teacher cache (``python scripts/cache_teacher.py --datasets ytf68``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from facehub.align import CropSpec, alignment_matrix, five_points_from_68, transform_points  # noqa: E402
from facehub.data.teacher import load_teacher_cache  # noqa: E402
from facehub.data.ytf68 import read_ytf68, split_by_person  # noqa: E402
from facehub.landmarks68 import flip_points  # noqa: E402
from facehub.metrics import nme  # noqa: E402
from facehub.uv import points_468_to_68  # noqa: E402


def main() -> None:
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
