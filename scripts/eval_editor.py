"""Evaluate the portrait editor on held-out pairs and write its model card.

    python scripts/eval_editor.py --pairs 10 --out weights/portrait-editor [--card]

Pairs are consecutive CelebAMask-HQ *val* images (never trained on). For every
pair, method (blend, gan) and part set (hair; eyes; mouth) it measures:

* ``psnr_outside``: PSNR (dB) of the output against the target outside the
  edited region (target part ∪ intended part, dilated by 2 % of the image
  side), rows below the target's chin + 25 % face height (lower neck, clothes)
  excepted. Identical pixels count as 100 dB.
* ``closer_to_source``: the output's mean Lab colour inside the intended part
  region is nearer the source part's mean colour than the target's.
* ``f1``: re-parsing the output with the parser, F1 of each edited class
  against the intended layout (target mask with the source's parts, moved by
  the five-point similarity), averaged over the edited classes.
* ``ms``: the edit's wall time including detection and parsing of both photos.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.align import similarity_transform  # noqa: E402
from facehub.blend import warp_with_labels  # noqa: E402
from facehub.blend_ops import dilate, rgb_to_lab  # noqa: E402
from facehub.data import data_root  # noqa: E402
from facehub.editing.masks import PART_CLASSES, intended_layout, part_mask  # noqa: E402

PART_SETS = {"hair": ("hair",), "eyes": ("eyes",), "mouth": ("mouth",)}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean()) if a.size else 0.0
    return 100.0 if mse < 1e-10 else 10 * np.log10(255.0**2 / mse)


def warped_source_map(editor, src, tgt) -> np.ndarray:
    matrix = similarity_transform(src.face.points, tgt.face.points)
    image = torch.from_numpy(src.image).permute(2, 0, 1).float() / 255
    _, labels, _ = warp_with_labels(image, torch.from_numpy(src.class_map.astype(np.int64)), matrix, tgt.image.shape[:2])
    labels[labels == 255] = 0
    return labels.numpy().astype(np.uint8)


def lab_mean(image: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    if mask.sum() < 20:
        return None
    lab = rgb_to_lab(torch.from_numpy(image).permute(2, 0, 1).float() / 255)
    return lab[:, torch.from_numpy(mask)].mean(1).numpy()


def measure(editor, source: np.ndarray, target: np.ndarray, parts: tuple[str, ...], method: str) -> dict | None:
    editor._cache.clear()
    start = time.perf_counter()
    result = editor(source, target, parts=parts, method=method)
    ms = (time.perf_counter() - start) * 1000
    if not result.faces:
        return None
    src, tgt = editor.parse(source), editor.parse(target)
    intended = intended_layout(tgt.class_map, warped_source_map(editor, src, tgt), parts)
    height, width = target.shape[:2]
    edited = np.zeros((height, width), bool)
    for part in parts:
        edited |= part_mask(tgt.class_map, part) | part_mask(intended, part)
    edited = dilate(torch.from_numpy(edited), max(2, int(0.02 * max(height, width)))).numpy()
    face_rows = np.nonzero(part_mask(tgt.class_map, "face").any(1))[0]
    chin = face_rows.max() + 0.25 * (face_rows.max() - face_rows.min()) if len(face_rows) else height
    below = np.arange(height)[:, None] > chin
    keep = ~edited & ~np.broadcast_to(below, edited.shape)
    row = {"ms": ms, "psnr_outside": psnr(result.image[keep], target[keep])}
    region = np.zeros_like(edited)
    for part in parts:
        region |= part_mask(intended, part)
    out_c, src_c = lab_mean(result.image, region), None
    src_region = np.zeros(src.class_map.shape, bool)
    tgt_region = np.zeros(tgt.class_map.shape, bool)
    for part in parts:
        src_region |= part_mask(src.class_map, part)
        tgt_region |= part_mask(tgt.class_map, part)
    src_c, tgt_c = lab_mean(source, src_region), lab_mean(target, tgt_region)
    if out_c is not None and src_c is not None and tgt_c is not None:
        row["closer_to_source"] = bool(np.linalg.norm(out_c - src_c) < np.linalg.norm(out_c - tgt_c))
    if getattr(editor, "can_reparse", True):
        reparsed = editor.parse(result.image)
        if reparsed.class_map is not None:
            scores = []
            for part in parts:
                for name in PART_CLASSES[part]:
                    from facehub.editing.masks import INDEX

                    want, got = intended == INDEX[name], reparsed.class_map == INDEX[name]
                    if want.sum() == 0 and got.sum() == 0:
                        continue
                    scores.append(2 * (want & got).sum() / max(1, want.sum() + got.sum()))
            row["f1"] = float(np.mean(scores)) if scores else float("nan")
    row["result"] = result
    return row


def summarise(rows: list[dict]) -> dict:
    out = {"pairs": len(rows), "psnr_outside_median": float(np.median([r["psnr_outside"] for r in rows]))}
    closer = [r["closer_to_source"] for r in rows if "closer_to_source" in r]
    out["closer_to_source"] = f"{sum(closer)}/{len(closer)}"
    f1 = [r["f1"] for r in rows if "f1" in r and np.isfinite(r["f1"])]
    if f1:
        out["reparse_f1_mean"] = float(np.mean(f1))
    out["ms_median"] = float(np.median([r["ms"] for r in rows]))
    return out


def val_pairs(count: int) -> list[tuple[Path, Path]]:
    folder = data_root() / "celebamask_hair" / "val" / "images"
    names = sorted(folder.glob("*.jpg"))
    return [(names[2 * i], names[2 * i + 1]) for i in range(min(count, len(names) // 2))]


def grid(results: list[tuple], path: Path, tile: int = 192) -> None:
    """Rows: source | target | blend | gan."""
    rows = []
    for source, target, blend, gan in results:
        tiles = [Image.fromarray(a).resize((tile, tile)) for a in (source, target, blend, gan)]
        rows.append(np.concatenate([np.asarray(t) for t in tiles], 1))
    Image.fromarray(np.concatenate(rows, 0)).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--model", default="portrait-editor")
    parser.add_argument("--out", type=Path, default=Path("weights/portrait-editor"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--grid-rows", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import facehub

    editor = facehub.load(args.model, device="cpu")
    editor.parse_cache = 8  # measure() clears it before each timed edit, then reuses the parses
    from facehub.image import load_image

    pairs = [(load_image(a), load_image(b)) for a, b in val_pairs(args.pairs)]
    metrics: dict[str, dict] = {}
    picture: list[tuple] = []
    for part_name, parts in PART_SETS.items():
        for method in ("blend", "gan"):
            rows = []
            for source, target in pairs:
                row = measure(editor, source, target, parts, method)
                if row is not None:
                    rows.append(row)
                    if part_name == "hair":
                        picture.append((source, target, method, row["result"].image))
            metrics[f"{part_name}/{method}"] = summarise(rows)
            print(part_name, method, json.dumps(metrics[f"{part_name}/{method}"]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    by_pair: dict[int, dict] = {}
    for source, target, method, image in picture:
        by_pair.setdefault(id(target), {"source": source, "target": target})[method] = image
    rows = [(p["source"], p["target"], p["blend"], p["gan"]) for p in by_pair.values() if "blend" in p and "gan" in p]
    grid(rows[: args.grid_rows], args.out / "examples_hair.png")
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"wrote {args.out / 'metrics.json'} and {args.out / 'examples_hair.png'}")


if __name__ == "__main__":
    main()
