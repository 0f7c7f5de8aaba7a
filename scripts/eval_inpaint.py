"""Evaluate how the classical hair swap fills the target's uncovered hair: smooth push-pull vs exemplar inpainting.

Pairs come from CelebAMask-HQ val (``<data>/celebamask19/val/images`` + ``labels``, 19-class PNGs, 13 = hair):
the ``--pairs`` // 2 shortest-haired sources onto the longest-haired targets, and as many long-haired sources
onto short-haired targets (hair area by the label PNGs). Each pair runs
``facehub.load("portrait-editor")(source, target, parts=("hair",), method="blend")`` (the new exemplar fill);
the old fill is ``blend_parts(..., hole_fill="smooth")`` on the same parsings.

The measure (``facehub.editing.inpaint.fill_measure``), for the target's hair pixels (the parser's) that the result
relabels background, and separately those it relabels skin, each against the target's own background
(resp. skin) pixels within 24 px of that region:

- gradient ratio: mean |∇L| of Lab lightness inside the fill / the same in the band (1 = as textured as
  the surroundings; a smooth fill is far below 1);
- Lab distance: Euclidean distance of the Lab means of fill and band (0 = same colour on average).

Both are pixel-weighted over the pairs. A grid (target, source, old result, new result per row) goes to
``--grid`` (default runs/inpaint_grid.png).

    python scripts/eval_inpaint.py --pairs 10
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import facehub
from facehub.editing.blend import blend_parts
from facehub.editing.inpaint import fill_measure
from facehub.editing.masks import BACKGROUND, HAIR, SKIN


def pick_pairs(folder: Path, count: int) -> list[tuple[str, Path, Path]]:
    """(kind, source image, target image): short-onto-long first, then long-onto-short."""
    labels = sorted((folder / "labels").glob("*.png"))
    area = {p.stem: float((np.asarray(Image.open(p)) == 13).mean()) for p in labels}
    ranked = sorted((a, s) for s, a in area.items() if a > 0.02)  # some hair, or the editor refuses
    half = count // 2
    short, long = [s for _, s in ranked[: 2 * half]], [s for _, s in ranked[::-1][: 2 * half]]
    image = {p.stem: p for p in (folder / "images").iterdir()}
    pairs = [("short->long", image[short[i]], image[long[i]]) for i in range(half)]
    pairs += [("long->short", image[long[half + i]], image[short[half + i]]) for i in range(half)]
    return pairs


def measure(image: np.ndarray, layout: np.ndarray, target_map: np.ndarray) -> dict[str, object]:
    tensor = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    hair = torch.from_numpy(target_map == HAIR)
    result = {}
    for name, label in (("background", BACKGROUND), ("skin", SKIN)):
        region = hair & torch.from_numpy(layout == label)
        result[name] = fill_measure(tensor, region, torch.from_numpy(target_map == label))
    return result


def _tile(image: np.ndarray, side: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).convert("RGB").resize((side, side), Image.BILINEAR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="celebamask19/val folder (default: <data_root>/celebamask19/val)")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--grid", type=Path, default=Path("runs/inpaint_grid.png"))
    parser.add_argument("--tile", type=int, default=256)
    args = parser.parse_args()
    if args.data is None:
        from facehub.train.data import data_root

        args.data = data_root() / "celebamask19" / "val"
    editor = facehub.load("portrait-editor")
    editor.parse_cache = 4
    rows, totals = [], {}
    for kind, source_path, target_path in pick_pairs(args.data, args.pairs):
        source, target = np.asarray(Image.open(source_path).convert("RGB")), np.asarray(Image.open(target_path).convert("RGB"))
        start = time.perf_counter()
        new = editor(source, target, parts=("hair",), method="blend")
        if new.refused is not None:
            print(f"{kind} {source_path.stem[:8]} -> {target_path.stem[:8]}: refused ({new.refused})")
            continue
        src, tgt = editor.parse(source), editor.parse(target)
        start = time.perf_counter()
        blend_parts(src.image, src.class_map, src.face.points, tgt.image, tgt.class_map, tgt.face.points, ("hair",))
        new_ms = 1000 * (time.perf_counter() - start)
        start = time.perf_counter()
        old = blend_parts(src.image, src.class_map, src.face.points, tgt.image, tgt.class_map, tgt.face.points, ("hair",),
                          hole_fill="smooth")
        old_ms = 1000 * (time.perf_counter() - start)
        line = [f"{kind} {source_path.stem[:8]} -> {target_path.stem[:8]}  blend ms old {old_ms:.0f} new {new_ms:.0f}"]
        for method, image, layout in (("old", old.image, old.layout), ("new", new.image, new.layout)):
            for region, m in measure(image, layout, tgt.class_map).items():
                if m is None:
                    continue
                key = totals.setdefault((method, region), [0.0, 0.0, 0])
                key[0] += m.gradient_ratio * m.pixels
                key[1] += m.lab_distance * m.pixels
                key[2] += m.pixels
                line.append(f"  {method} {region:10s} grad ratio {m.gradient_ratio:.2f}  Lab dist {m.lab_distance:5.1f}  "
                            f"std ratio {m.std_ratio:.2f}  ({m.pixels} px)")
        print("\n".join(line))
        rows.append(np.concatenate([_tile(x, args.tile) for x in (target, source, old.image, new.image)], 1))
    print("\npixel-weighted over pairs:")
    for (method, region), (grad, dist, pixels) in sorted(totals.items()):
        print(f"  {method} {region:10s} gradient ratio {grad / pixels:.2f}  Lab distance {dist / pixels:.1f}  ({pixels} px)")
    if rows:
        args.grid.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.concatenate(rows, 0)).save(args.grid)
        print(f"grid (target, source, old, new) -> {args.grid}")


if __name__ == "__main__":
    main()
