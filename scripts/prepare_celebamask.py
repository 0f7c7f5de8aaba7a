"""Merge CelebAMask-HQ's per-part binary masks into one class-index PNG per image.

    python scripts/prepare_celebamask.py CelebAMask-HQ/CelebAMask-HQ-mask-anno --out CelebAMask-HQ/CelebAMask-HQ-mask

Reads ``<k>/<id:05d>_<part>.png`` (any depth), writes ``<out>/<id>.png`` (uint8 CelebAMask-HQ-19
indices: 0 background, 1 skin, ..., 18 cloth; later parts drawn over earlier ones, as in the
dataset's ``g_mask.py``). The same merge runs on the fly in ``facehub.train.data.parsing_layouts``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.train.data.parsing_layouts import (  # noqa: E402
    find_celebamask_parts,
    merge_celebamask_parts,
)


def prepare(mask_root: Path, out: Path, size: int = 512) -> int:
    """Merge every image found under ``mask_root`` into ``out``; returns the count written."""
    out.mkdir(parents=True, exist_ok=True)
    index = find_celebamask_parts(mask_root)
    for image_id, parts in tqdm(sorted(index.items()), desc="merge"):
        Image.fromarray(merge_celebamask_parts(parts, (size, size))).save(out / f"{image_id}.png")
    return len(index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mask_root", type=Path, help="CelebAMask-HQ-mask-anno folder (or any folder of <id>_<part>.png)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    print(f"merged {prepare(args.mask_root, args.out, args.size)} images into {args.out}")


if __name__ == "__main__":
    main()
