"""Train PRNet on MediaPipe-teacher UV position maps (facehub/train/reconstruction/recipe.py).

    nohup python scripts/train_prnet.py --out runs/prnet --budget-min 75 > runs/prnet.log 2>&1 &
    python scripts/train_prnet.py --out runs/prnet --resume     # continue after a stop
    torchrun --nproc_per_node 4 scripts/train_prnet.py --out runs/prnet --budget-min 75   # DDP, --batch per process

The learning rate follows a cosine over the *time budget* (``--budget-min``; or over ``--epochs``
when no budget is given). Writes ``OUT/last.pt`` every ``--save-every`` steps, ``OUT/best.pt`` and
``OUT/best/`` on the best held-out NME, and ``OUT/log.csv``. ``--push-to-hub REPO`` exports
``best.pt`` like ``scripts/export_prnet.py`` to ``OUT/export`` and uploads it at the end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from facehub.train.reconstruction.recipe import PRNetConfig, train_prnet  # noqa: E402


def main() -> None:
    d = PRNetConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=d.out)
    for name in ("input_size", "uv_size", "width", "depth", "batch", "epochs", "eval_every", "save_every", "val_limit", "threads"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    for name in ("zoom", "shift_y", "lr"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(d, name))
    parser.add_argument("--budget-min", type=float, default=d.budget_min, help="wall-clock budget; 0 = by epochs")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--init-from", default="", help="start from this run's checkpoint (weights only)")
    parser.add_argument("--labels68-weight", type=float, default=0.0,
                        help="weight of an L1 loss (crop px) between the mapped 68 points and ytf68's human labels; "
                             "> 0 also picks the best checkpoint by held-out NME against those labels")
    parser.add_argument("--no-mirror-labels", action="store_true",
                        help="the human-label loss only on unmirrored samples (mirrored ones keep the teacher loss)")
    parser.add_argument("--map-68", default="", help="468 -> 68 map JSON (scripts/fit_68_map.py --out) for that loss; default: the teacher map")
    parser.add_argument("--profiled", action="store_true",
                        help="add one face-profiled (turned 25-88 degrees of yaw) view of every face to train and val")
    parser.add_argument("--extra-profiled-yaw", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                        help="with --profiled: a second turned view of every training face, |yaw| in [LO, HI] degrees")
    parser.add_argument("--labelled", default="",
                        help="comma-separated folders under the data root of real photos with human 68 points and no 3D "
                             "target (e.g. 300w68/helen_train,300w68/afw): they feed the human-label loss only")
    parser.add_argument("--labelled-repeat", type=int, default=d.labelled_repeat, help="each labelled face this many times per epoch")
    parser.add_argument("--push-to-hub", default="")
    args = vars(parser.parse_args())
    args["mirror_labels"] = not args.pop("no_mirror_labels")
    args["labelled"] = tuple(f for f in args["labelled"].split(",") if f)
    train_prnet(PRNetConfig(**args))


if __name__ == "__main__":
    main()
