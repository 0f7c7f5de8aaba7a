"""Train a 68-point landmark model (PIPNet or stacked Hourglass) on ytf68-style data.

    nohup python scripts/train_landmarks.py --family pipnet --out runs/pipnet --steps 6000 > runs/pipnet.log 2>&1 &
    python scripts/train_landmarks.py --family pipnet --out runs/pipnet --resume          # continue
    python scripts/train_landmarks.py --family pipnet --out runs/pipnet --export weights/pipnet  # ship best
    torchrun --nproc_per_node 4 scripts/train_landmarks.py --family pipnet ...           # DDP: --batch-size per process

Validation is on held-out people (``split_by_person``). ``runs/<name>/``: ``log.csv``
(step, losses, lr, val NME), ``last.pt`` (resume state, read with
``weights_only=True``), ``best/`` (a ``save_pretrained`` folder, fp32). The recipe is
``facehub.train.landmarks.recipe``, the loop ``facehub.train.engine``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.train.landmarks.export import LandmarkExport, export_checkpoint  # noqa: E402
from facehub.train.landmarks.recipe import LandmarkConfig, train  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", choices=["pipnet", "hourglass"], default="pipnet")
    p.add_argument("--data", default="", help="comma-separated labelled folders, under the data root unless they exist "
                   "as given (default: ytf68), e.g. 300w68/helen_train,300w68/afw,ytf68; each is validated on its own")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/<family>)")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--minutes", type=float, default=None,
                   help="wall-clock budget: the LR schedule follows max(step/steps, time/budget) and training stops at 1")
    p.add_argument("--batch-size", type=int, default=32, help="per process (under torchrun: N x this per step)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--input-size", type=int, default=128)
    p.add_argument("--zoom", type=float, default=0.68)
    p.add_argument("--shift-y", type=float, default=-0.1)
    p.add_argument("--width", type=int, default=None, help="channels (pipnet: ResNet stem width, 32; hourglass: 64)")
    p.add_argument("--net-stride", type=int, default=16)
    p.add_argument("--num-nb", type=int, default=10)
    p.add_argument("--stacks", type=int, default=2)
    p.add_argument("--heatmap-size", type=int, default=32)
    p.add_argument("--val-fraction", type=float, default=0.12)
    p.add_argument("--val-every", type=int, default=250)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start from these weights (a run's last.pt or a save_pretrained folder); optimiser and step start fresh")
    p.add_argument("--teacher-data", default="",
                   help="comma-separated teacher caches (e.g. celebamask_hair_train,figaro1k_hair_train): MediaPipe "
                        "points mapped to 68 as extra training faces (never in validation)")
    p.add_argument("--teacher-fraction", type=float, default=0.25, help="share of each batch drawn from --teacher-data")
    p.add_argument("--teacher-weight", type=float, default=0.3, help="loss weight of the teacher-labelled faces")
    p.add_argument("--flip-prob", type=float, default=0.5,
                   help="share of training crops mirrored (with the point-index swap); 0 keeps the labels' own asymmetry")
    p.add_argument("--flip-folders", default="",
                   help="comma-separated --data folders whose faces may be mirrored (e.g. 300w68/helen_train: its labels are "
                        "mirror-symmetric, ytf68's are not); empty = every folder")
    p.add_argument("--ema", type=float, default=0.0,
                   help="keep an exponential moving average of the weights with this decay (e.g. 0.998); "
                        "validation, best/ and export use the average")
    p.add_argument("--export", type=Path, default=None, help="write the best checkpoint, fp16 + model card, here and exit")
    p.add_argument("--pipeline-eval", type=Path, default=None,
                   help="with --export: JSON from scripts/evaluate_landmarks.py --out (full pipeline) for the card")
    p.add_argument("--refine-passes", type=int, default=0, help="with --export: re-alignment passes stored in config.json")
    p.add_argument("--refine-min-shift", type=float, default=0.0,
                   help="with --export: refine only faces whose crop moves by more than this share of its side")
    p.add_argument("--flip-test", action="store_true", help="with --export: average with the mirrored crop at inference")
    p.add_argument("--profile-jaw", default="",
                   help="with --export: FROM,FULL,DEPTH (e.g. 40,55,1.5): the far jaw of faces turned past FROM degrees on "
                        "the 3D jaw, as AFLW2000-3D draws it (facehub.geometry.profile_jaw); empty: off")
    p.add_argument("--push-to-hub", default=None, metavar="REPO", help="upload the exported folder to this Hub repo")
    p.add_argument("--history", default="", help="with --export: how the --init-from weights were trained, for the card")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = LandmarkConfig(**{f.name: getattr(args, f.name) for f in fields(LandmarkConfig) if f.name != "argv"},
                            argv=sys.argv[1:] if argv is None else list(argv))
    if args.export is None:
        train(config, resume=args.resume)
        return
    export_checkpoint(config.run_folder, LandmarkExport(args.export, args.seed, args.pipeline_eval, args.refine_passes,
                                                        args.refine_min_shift, args.flip_test, args.profile_jaw,
                                                        args.history, args.push_to_hub))


if __name__ == "__main__":
    main()
