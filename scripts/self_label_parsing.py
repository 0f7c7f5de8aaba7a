"""Self-training labels: the teacher's pseudo-labels corrected by the real-label parser where it is sure.

For every *training* item of the pseudo-label cache (``scripts/pseudo_label_parsing.py``: ytf68, CelebAMask-HQ hair
and Figaro1k photos, labelled by the MediaPipe teacher in FACEHUB's 15 classes), the parser (default
``weights/bisenet``, trained on the human 19-class labels) parses the photo at the item's five points, and

* where its top probability is at least ``--confident``, its class replaces the teacher's (but never skin where
  the teacher knows nothing: the parser calls grey hair on video frames skin);
* where it finds glasses, a hat, an earring or a necklace (the classes the teacher cannot label) with at least
  ``--confident-rare``, that class replaces the teacher's;
* elsewhere the teacher's label stays (converted to the 19 classes by name), so turned faces keep the teacher
  where the parser hesitates;
* on photos with a real hair mask (CelebAMask-HQ hair, Figaro1k) the mask's hair stays hair, and the parser's hair
  outside it is ignored (255).

Writes ``cache/parsing/self/<dataset>/<stem>.png`` (uint8, CelebAMask-HQ's 19 classes, 255 = ignore) and
``cache/parsing/self/<dataset>.npz`` (``names``, ``points5``, ``labels``); ``train_parsing.py --self-labels
cache/parsing/self`` trains on them in place of the teacher's. Validation items are never relabelled.

    python scripts/self_label_parsing.py [--weights weights/bisenet] [--confident 0.8] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import facehub
from facehub.geometry.align import paste_back
from facehub.parsing.labels import CELEBAMASK, FACEHUB, convert, label_set_for
from facehub.train.data import cache_root, data_root
from facehub.train.data.teacher import TEACHER_DATASETS
from facehub.train.parsing.dataset import load_items
from facehub.train.parsing.self_labels import HAIR_MASK_SETS, corrected_label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default="bisenet", help="a shipped model name or a weights folder")
    parser.add_argument("--confident", type=float, default=0.8)
    parser.add_argument("--confident-rare", type=float, default=0.75)
    parser.add_argument("--out", type=Path, default=None, help="default: cache/parsing/self")
    parser.add_argument("--limit", type=int, default=0, help="at most this many items (0 = all)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = args.out or cache_root() / "parsing" / "self"
    model = facehub.load(args.weights, device="cpu")
    if tuple(model.labels) != CELEBAMASK.names:
        raise SystemExit(f"{args.weights} predicts {len(model.labels)} classes; self-labels need CelebAMask-HQ's 19.")
    items = load_items("train")
    items = items[: args.limit] if args.limit else items
    index: dict[str, dict[str, list]] = defaultdict(lambda: {"names": [], "points5": []})
    changed = total = 0
    for item in tqdm(items, desc="self-labels", mininterval=10):
        image = np.asarray(Image.open(item.image).convert("RGB"))
        teacher = np.asarray(Image.open(item.label))
        prepared = model.prepare(image, item.points5[None])
        probs = paste_back(model.crop_probabilities(prepared.crops), prepared.matrices, image.shape[:2])[0].numpy()
        label = corrected_label(teacher, probs, item.dataset in HAIR_MASK_SETS, args.confident, args.confident_rare)
        before = convert(teacher, label_set_for(FACEHUB.names), CELEBAMASK)
        changed += int((label != before).sum())
        total += label.size
        folder = out / item.dataset
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(label).save(folder / f"{item.label.stem}.png")
        index[item.dataset]["names"].append(str(item.image.relative_to(data_root() / TEACHER_DATASETS[item.dataset])))
        index[item.dataset]["points5"].append(np.asarray(item.points5, np.float32))
    for dataset, entries in index.items():
        np.savez(out / f"{dataset}.npz", names=np.array(entries["names"]), points5=np.stack(entries["points5"]),
                 labels=np.array(CELEBAMASK.names))
        print(f"{dataset}: {len(entries['names'])} photos -> {out / dataset}")
    print(f"pixels whose label changed from the teacher's: {changed / max(total, 1):.2%}")


if __name__ == "__main__":
    main()
