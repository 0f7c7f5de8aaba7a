"""Synthesise large-pose faces by face profiling (facehub.train.data.profiling) from a teacher-cached dataset.

    nice -n 19 python scripts/profile_faces.py --dataset ytf68 --count 20 --grid runs/profiling_grid.png \
        --out cache/profiling/ytf68

Each face gets a target yaw of +-U(yaw range) (its Pose_Para yaw after profiling; faces already turned more
than 10 degrees keep their side, as 300W-LP turned faces further the way they face, because the side a photo
hides cannot be shown), pitch +-U(pitch), roll +-U(roll). With --out: ``images/<stem>_p<k>.jpg`` and
``landmarks68.csv`` (``image, x0, y0, ..., x67, y67``, readable with ``read_points_csv``) plus ``poses.csv``
(rotation applied, resulting pose, visible-point count). The 68 points are the human ones (ytf68, matched
by file name) moved by the warp; datasets without human points get the teacher's 468 -> 68 points.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facehub.reconstruction.mesh import head_pose
from facehub.reconstruction.uv import points_468_to_68
from facehub.train.data import cache_root
from facehub.train.data.profiling import profile_face
from facehub.train.data.teacher import TEACHER_DATASETS, load_teacher_cache
from facehub.train.data.ytf68 import read_ytf68


def draw(image: np.ndarray, points: np.ndarray, visible: np.ndarray, radius: float) -> Image.Image:
    """The image with its 68 points: green visible, red hidden."""
    canvas = Image.fromarray(image)
    pen = ImageDraw.Draw(canvas)
    for (x, y), shown in zip(points[:, :2], visible):
        pen.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(0, 255, 0) if shown else (255, 0, 0))
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ytf68", choices=sorted(TEACHER_DATASETS))
    parser.add_argument("--count", type=int, default=20, help="faces to profile (one view each)")
    parser.add_argument("--yaw", type=float, nargs=2, default=(30.0, 90.0), help="|target yaw| range, degrees")
    parser.add_argument("--pitch", type=float, default=20.0, help="pitch drawn from +-U(0, this)")
    parser.add_argument("--roll", type=float, default=15.0, help="roll drawn from +-U(0, this)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", type=Path, default=Path("runs/profiling_grid.png"))
    parser.add_argument("--grid-size", type=int, default=20, help="samples shown in the grid")
    parser.add_argument("--cell", type=int, default=192, help="grid cell size, pixels")
    parser.add_argument("--out", type=Path, default=None, help=f"write samples here (e.g. {cache_root() / 'profiling'})")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    cache = load_teacher_cache(args.dataset)
    human = {s.path.name: s.points for s in read_ytf68()} if args.dataset == "ytf68" else {}
    found = np.flatnonzero(cache.found())
    if human:
        found = np.array([i for i in found if str(cache.names[i]) in human])
    chosen = rng.choice(found, size=min(args.count, len(found)), replace=False)
    if args.out:
        (args.out / "images").mkdir(parents=True, exist_ok=True)
    rows, poses, cells, seconds = [], [], [], []
    for k, index in enumerate(chosen):
        name = str(cache.names[index])
        image = np.asarray(Image.open(cache.image_dir / name).convert("RGB"))
        mesh = cache.points[index].astype(np.float64)
        points = human.get(name)
        if points is None:
            points = points_468_to_68(mesh[:, :2])
        source = head_pose(mesh)
        side = np.sign(source.yaw) if abs(source.yaw) > 10 else rng.choice([-1.0, 1.0])
        target_yaw = side * rng.uniform(*args.yaw)
        rotation = (target_yaw - source.yaw, rng.uniform(-args.pitch, args.pitch), rng.uniform(-args.roll, args.roll))
        start = time.perf_counter()
        result = profile_face(image, mesh, rotation, points68=points)
        seconds.append(time.perf_counter() - start)
        pose = head_pose(result.mesh)
        stem = f"{Path(name).stem}_p{k}"
        rows.append([f"{stem}.jpg", *np.round(result.points68[:, :2], 2).ravel().tolist()])
        poses.append([f"{stem}.jpg", *np.round(rotation, 2), round(pose.yaw, 2), round(pose.pitch, 2), round(pose.roll, 2),
                      int(result.visible68.sum())])
        if args.out:
            Image.fromarray(result.image).save(args.out / "images" / f"{stem}.jpg", quality=95)
        if len(cells) < args.grid_size:
            radius = max(1.0, image.shape[1] / 150)
            pair = [draw(image, np.asarray(points), np.ones(68, bool), radius),
                    draw(result.image, result.points68, result.visible68, radius)]
            cells.append([c.resize((args.cell, args.cell)) for c in pair])
            label = ImageDraw.Draw(cells[-1][1])
            # the applied rotation and the resulting yaw (Euler pitch/roll are ill-defined near yaw 90)
            label.text((4, 4), f"rot {rotation[0]:+.0f}/{rotation[1]:+.0f}/{rotation[2]:+.0f} -> yaw {pose.yaw:+.0f}",
                       fill=(255, 255, 0))
    if args.out:
        with (args.out / "landmarks68.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["image"] + [f"{a}{i}" for i in range(68) for a in "xy"])
            writer.writerows(rows)
        with (args.out / "poses.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["image", "rot_yaw", "rot_pitch", "rot_roll", "yaw", "pitch", "roll", "visible68"])
            writer.writerows(poses)
    columns = 4  # pairs per row
    grid = Image.new("RGB", (columns * 2 * args.cell, -(-len(cells) // columns) * args.cell), (0, 0, 0))
    for i, pair in enumerate(cells):
        for j, cell in enumerate(pair):
            grid.paste(cell, (((i % columns) * 2 + j) * args.cell, (i // columns) * args.cell))
    args.grid.parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.grid)
    print(f"{len(rows)} faces, {np.mean(seconds) * 1000:.0f} ms each (median {np.median(seconds) * 1000:.0f}); grid {args.grid}"
          + (f"; samples in {args.out}" if args.out else ""))


if __name__ == "__main__":
    main()
