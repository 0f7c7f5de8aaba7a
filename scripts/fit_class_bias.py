"""Score a grid of logit offsets for one or more classes of a parser on labelled CelebAMask-HQ-layout folders.

The parser runs once per photo (``facehub.train.parsing.class_bias``); each offset is then scored by re-compositing,
as the group F1 of the hidden CelebAMask-HQ-19 benchmark (pixels pooled). Fit on training photos, check on the
validation folders (and each half of them), then write the chosen offsets into the checkpoint's config.json as
``class_bias``:

    python scripts/fit_class_bias.py --fit ../shared/data/celebamask19/train --limit 200 --classes cloth \\
        --values 0 0.25 0.5 0.75 1.0 --check ../shared/data/celebamask19/val cache/parsing/profiled_celebamask19/val
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import facehub  # noqa: E402
from facehub.train.parsing.class_bias import cache_probabilities, score_offsets  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bisenet")
    parser.add_argument("--fit", type=Path, required=True, help="a folder with images/ and labels/ (training photos)")
    parser.add_argument("--check", type=Path, nargs="*", default=[], help="validation folders, scored for every value")
    parser.add_argument("--limit", type=int, default=0, help="first N photos of each folder")
    parser.add_argument("--classes", nargs="+", required=True, help="class names that get the offset")
    parser.add_argument("--values", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = facehub.load(args.model)
    model.class_bias = None  # score offsets from the network's own logits
    fade = float(model.config.get("fade_band", 0.0))
    names = model.labels
    for folder in [args.fit, *args.check]:
        images = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in (".jpg", ".png"))[: args.limit or None]
        photos = cache_probabilities(model, images)
        halves = {"all": photos, "even": photos[0::2], "odd": photos[1::2]}
        for value in args.values:
            offsets = {name: value for name in args.classes}
            cells = []
            for half, subset in halves.items():
                groups = score_offsets(subset, names, offsets, fade)
                cells.append(f"{half} mean {groups['mean']:.4f} " + " ".join(f"{c} {groups.get(c, float('nan')):.3f}" for c in args.classes))
            print(f"{folder} ({len(photos)} photos) offset {value:+.2f}: " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
