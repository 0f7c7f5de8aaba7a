"""Write face-profiled ytf68 training faces as a labelled folder for ``scripts/train_landmarks.py``.

    python scripts/export_profiled_landmarks.py --out cache/landmarks/profiled_ytf68 --limit 1800
    python scripts/train_landmarks.py --data 300w68/helen_train,300w68/afw,ytf68,cache/landmarks/profiled_ytf68 ...
    python scripts/export_profiled_landmarks.py --labelled-folder cache/landmarks/dlib_celebahq \
        --teacher-set celebamask_hair_train --out cache/landmarks/profiled_dlib_celebahq
    python scripts/export_profiled_landmarks.py --yaw 70 90 --view-seed 1 --limit 1200 \
        --out cache/landmarks/profiled_ytf68_yaw70-90

The views are PRNet's (``build_profiled_crops("train", ...)``, cached in ``cache/prnet/``; built on the first
call, which takes a few minutes): ytf68's training people only, so ytf68's held-out people stay unseen.
``--yaw LO HI --view-seed 1``: the second, extreme view PRNet's ``--extra-profiled-yaw 70 90`` trains on
(the same cache). With ``--labelled-folder``, the faces of that folder (e.g. ``scripts/pseudo_label_landmarks.py``'s dlib-labelled
CelebA-HQ portraits) that the teacher cache ``--teacher-set`` holds are turned instead, their 68 points moved with them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.train.data.landmark_files import read_labelled_folder  # noqa: E402
from facehub.train.data.ytf68 import person_of, read_ytf68, split_by_person  # noqa: E402
from facehub.train.landmarks.profiled_folder import write_labelled_folder  # noqa: E402
from facehub.train.reconstruction.dataset import loose_size  # noqa: E402
from facehub.train.reconstruction.profiled import (  # noqa: E402
    PoseRange,
    build_labelled_profiled_crops,
    build_profiled_crops,
)
from facehub.train.reconstruction.recipe import PRNetConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("cache/landmarks/profiled_ytf68"))
    parser.add_argument("--limit", type=int, default=None, help="at most this many views (random, --seed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--labelled-folder", type=Path, default=None, help="turn this folder's faces instead of ytf68's")
    parser.add_argument("--teacher-set", default="celebamask_hair_train", help="the teacher cache holding their meshes")
    parser.add_argument("--yaw", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                        help="turn the faces to |yaw| in [LO, HI] degrees (default: PoseRange's 25-88)")
    parser.add_argument("--view-seed", type=int, default=0, help="the views' pose seed (PRNet's extra view: 1)")
    args = parser.parse_args()
    poses = PoseRange() if args.yaw is None else PoseRange(yaw=tuple(args.yaw))
    config = PRNetConfig()  # the crops PRNet trains on (128 px, its zoom and shift)
    if args.labelled_folder is not None:
        labels = {s.path.name: s.points for s in read_labelled_folder(args.labelled_folder)}
        crops = build_labelled_profiled_crops(args.teacher_set, labels, config.spec, loose_size(config.input_size), poses,
                                              seed=args.view_seed or args.seed)
        count = write_labelled_folder(crops, args.out, args.limit, args.seed)
        print(f"{count} profiled faces of {args.labelled_folder} written to {args.out}")
        return
    crops = build_profiled_crops("train", config.spec, loose_size(config.input_size), poses, seed=args.view_seed)
    _, held_out = split_by_person(read_ytf68())
    leaked = {person_of(str(n)) for n in crops.names} & {s.person for s in held_out}
    if leaked:
        raise SystemExit(f"Profiled views of ytf68's held-out people ({len(leaked)}, e.g. {min(leaked)}): not exported.")
    count = write_labelled_folder(crops, args.out, args.limit, args.seed)
    print(f"{count} profiled faces written to {args.out}")


if __name__ == "__main__":
    main()
