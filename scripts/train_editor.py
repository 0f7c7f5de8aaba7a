"""Train the mask-guided portrait editor (GAN) on aligned CelebA-HQ faces: celebamask19/train's human masks and
celebamask_hair_train's pseudo-label masks by default (facehub/train/editing/recipe.py has the losses).

    python scripts/train_editor.py --resolution 128 --init-from weights/portrait-editor --minutes 105 --out runs/editor
    python scripts/train_editor.py --resume --out runs/editor --minutes 10
    python scripts/train_editor.py --export-only --out runs/editor --push-to-hub you/portrait-editor
    torchrun --nproc_per_node 4 scripts/train_editor.py --out runs/editor   # DDP, --batch per process

Writes ``OUT/last.pt`` (resumable), sample grids ``OUT/samples/step_*.png``, ``OUT/log.csv``, and the
checkpoint ``--weights-out`` (default ``weights/portrait-editor/``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from facehub.train.editing.recipe import EditorConfig, train_editor  # noqa: E402


def main() -> None:
    d = EditorConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=d.out)
    parser.add_argument("--weights-out", default=d.weights_out)
    for name in ("resolution", "width", "embed", "n_res", "batch", "steps", "parsing_every", "sample_every", "save_every", "threads"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--minutes", type=float, default=d.minutes, help="wall-clock budget of this run")
    parser.add_argument("--parser", default=d.parser, help="checkpoint name or folder of the frozen parser; 'none'")
    parser.add_argument("--parsing-weight", type=float, default=d.parsing_weight)
    parser.add_argument("--parsing-batch", type=int, default=d.parsing_batch, help="batch items the parser critic sees")
    parser.add_argument("--data", default=d.data, help="comma-separated: teacher-cached datasets, human-labelled "
                        "folder/split (celebamask19/train), editing cache .npz files")
    parser.add_argument("--init-from", default=d.init_from, help="generator weights to start from (exported folder)")
    parser.add_argument("--val-data", default=d.val_data, help="the same, for the sample grids")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--export-only", action="store_true", help="export OUT/last.pt to --weights-out and stop")
    parser.add_argument("--push-to-hub", default=None, metavar="REPO_ID")
    train_editor(EditorConfig(**vars(parser.parse_args())))


if __name__ == "__main__":
    main()
