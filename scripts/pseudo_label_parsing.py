"""Write parsing pseudo-labels (MediaPipe mesh regions + real hair masks) to cache/parsing/.

Needs the teacher cache (``python scripts/cache_teacher.py``). Output, per dataset:
``cache/parsing/<dataset>/<stem>.png`` (uint8 FACEHUB indices, 255 = ignore, the image's size) and
``cache/parsing/<dataset>.npz`` (``names``, ``points5`` (N, 5, 2) MTCNN-like points, ``has_hair`` (N,) bool).
Images where the teacher found no face are skipped.

    python scripts/pseudo_label_parsing.py [--datasets ...] [--overlays weights/bisenet/pseudo_labels.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.parsing.labels import FACEHUB  # noqa: E402
from facehub.train.data import cache_root  # noqa: E402
from facehub.train.data.parsing_pseudo import (  # noqa: E402
    five_points_from_mesh,
    load_hair_mask,
    pseudo_label,
)
from facehub.train.data.teacher import TEACHER_DATASETS, load_teacher_cache  # noqa: E402


def hair_mask_path(dataset: str, image_dir: Path, name: str) -> Path | None:
    """The real hair mask of ``name`` or None for datasets without one."""
    stem = Path(name).stem
    if dataset.startswith("celebamask_hair"):
        return image_dir.parent / "masks" / f"{stem}_hair.png"
    if dataset.startswith("figaro1k_hair"):
        return image_dir.parent / "masks" / f"{stem}.png"
    return None


def label_dataset(dataset: str, out_root: Path) -> None:
    cache = load_teacher_cache(dataset)
    folder = out_root / dataset
    folder.mkdir(parents=True, exist_ok=True)
    names, points5, has_hair = [], [], []
    for index in tqdm(np.where(cache.found())[0], desc=dataset):
        name = str(cache.names[index])
        image = np.asarray(Image.open(cache.image_dir / name).convert("RGB"))
        mask_path = hair_mask_path(dataset, cache.image_dir, name)
        hair = load_hair_mask(mask_path, image.shape[:2]) if mask_path is not None and mask_path.is_file() else None
        label = pseudo_label(image, cache.points[index], cache.person_mask(name), hair)
        Image.fromarray(label).save(folder / f"{Path(name).stem}.png")
        names.append(name)
        points5.append(five_points_from_mesh(cache.points[index]))
        has_hair.append(hair is not None)
    np.savez(out_root / f"{dataset}.npz", names=np.array(names), points5=np.array(points5, dtype=np.float32),
             has_hair=np.array(has_hair))


def save_overlays(out_root: Path, path: Path, picks: list[tuple[str, int]], tile: int = 256) -> None:
    """A grid of image | label overlay pairs for the model card (ignore drawn white)."""
    from facehub.train.data import data_root
    from facehub.train.data.teacher import TEACHER_DATASETS as folders

    rows = []
    for dataset, index in picks:
        index_file = np.load(out_root / f"{dataset}.npz")
        name = str(index_file["names"][index])
        image = Image.open(data_root() / folders[dataset] / name).convert("RGB")
        label = np.asarray(Image.open(out_root / dataset / f"{Path(name).stem}.png"))
        overlay = (0.45 * np.asarray(image) + 0.55 * FACEHUB.colourise(label)).astype(np.uint8)
        pair = [np.asarray(image.resize((tile, tile))), np.asarray(Image.fromarray(overlay).resize((tile, tile), Image.NEAREST))]
        rows.append(np.hstack(pair))
    grid = np.vstack([np.hstack(rows[i:i + 2]) for i in range(0, len(rows) - len(rows) % 2, 2)])
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(TEACHER_DATASETS))
    parser.add_argument("--out", type=Path, default=cache_root() / "parsing")
    parser.add_argument("--overlays", type=Path, default=None, help="also save a PNG grid of label overlays")
    args = parser.parse_args()
    for dataset in args.datasets:
        label_dataset(dataset, args.out)
    if args.overlays:
        picks = [("celebamask_hair_val", 3), ("celebamask_hair_val", 40), ("figaro1k_hair_train", 10),
                 ("figaro1k_hair_train", 50), ("ytf68", 5), ("ytf68", 1500)]
        save_overlays(args.out, args.overlays, picks)


if __name__ == "__main__":
    main()
