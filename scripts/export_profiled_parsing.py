"""Write face-profiled views of a human-labelled parsing folder (celebamask19) for ``scripts/train_parsing.py``.

    python scripts/export_profiled_parsing.py                  # 2 views of each train face, 1 of each val face
    python scripts/train_parsing.py --human-sets celebamask19,profiled_celebamask19 --profiled-share 0.3 ...
    python scripts/evaluate_parsing.py cache/parsing/profiled_celebamask19 --split val --model bisenet

Each face gets the MediaPipe teacher's mesh, is turned to |yaw| 25-88 degrees (``facehub.train.parsing.profiled``)
with its label map, and is found again by the default detector (its five points are what the crops are cut from,
as at run time); a view the detector misses is left out and counted. Writes
``cache/parsing/profiled_<name>/<split>/{images,labels}/`` + ``classes.json`` (celebamask19's layout) and the index
``cache/parsing/profiled_<name>_<split>.npz`` (``names``, ``points5``, ``labels``, ``folder``). Train views come
from train faces only, val views from val faces only. Needs requirements-train.txt and the MediaPipe teacher.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.detection import largest_face_of, load_detector  # noqa: E402
from facehub.image import load_image  # noqa: E402
from facehub.train.data import cache_root, data_root  # noqa: E402
from facehub.train.data.parsing_layouts import open_parsing_folder  # noqa: E402
from facehub.train.data.teacher import MediaPipeTeacher  # noqa: E402
from facehub.train.parsing.profiled import PROFILED_PREFIX, profiled_view  # noqa: E402


def export_split(source: Path, split: str, name: str, views: int, seed: int, teacher, detector) -> None:
    """Write ``views`` profiled views of every face of ``source/split`` and the split's index."""
    labelled = open_parsing_folder(source, split)
    folder = f"{PROFILED_PREFIX}{name}/{split}"
    out = cache_root() / "parsing" / folder
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    (out / "labels").mkdir(parents=True)
    shutil.copy(source / split / "classes.json", out / "classes.json")
    names, points, counts = [], [], {"no mesh": 0, "not found after turning": 0}
    for index, sample in enumerate(tqdm(labelled.samples, desc=f"{name}/{split}", mininterval=5)):
        image = load_image(sample.image)
        mesh = teacher(image).points
        if not np.isfinite(mesh).all():
            counts["no mesh"] += 1
            continue
        label = sample.load_label()
        for view in range(views):
            rng = np.random.default_rng((seed, index, view))
            try:
                turned = profiled_view(image, label, mesh, rng)
            except (ValueError, np.linalg.LinAlgError):
                counts["no mesh"] += 1
                continue
            face = largest_face_of(detector, turned.image)
            if face is None or face.points is None:
                counts["not found after turning"] += 1
                continue
            stem = f"{sample.name}_v{view}"
            Image.fromarray(turned.image).save(out / "images" / f"{stem}.jpg", quality=95)
            Image.fromarray(turned.label).save(out / "labels" / f"{stem}.png")
            names.append(f"{stem}.jpg")
            points.append(np.asarray(face.points, np.float32))
    index_path = cache_root() / "parsing" / f"{PROFILED_PREFIX}{name}_{split}.npz"
    np.savez_compressed(index_path, names=np.array(names), points5=np.stack(points),
                        labels=np.array(labelled.labels.names), folder=np.array(folder))
    print(f"{index_path}: {len(names)} views of {len(labelled.samples)} faces; left out: {json.dumps(counts)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=None, help="default: <data>/celebamask19")
    parser.add_argument("--name", default="celebamask19")
    parser.add_argument("--train-views", type=int, default=2)
    parser.add_argument("--val-views", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    source = args.folder or data_root() / args.name
    teacher, detector = MediaPipeTeacher(), load_detector()
    for split, views in (("train", args.train_views), ("val", args.val_views)):
        export_split(source, split, args.name, views, args.seed, teacher, detector)


if __name__ == "__main__":
    main()
