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
  the five-point similarity, each inner component then fitted onto the
  target's by ``fit_components``), averaged over the edited classes (the mouth:
  upper lip, inner mouth, lower lip; a 1-2 px sliver of inner mouth that the
  source's closed lips gave counts as much as a lip). ``f1_component``: the same
  for each part as one region (the mouth = its three classes together; the
  eyes = both eyes), the component-level reading. ``f1_pooled`` (summary
  only): each edited class's F1 over the pixels of all pairs pooled, averaged
  over the classes, as the parsing benchmarks pool them (a sliver of inner
  mouth weighs by its pixels, not as one pair's class).
* ``sharpness``: variance of the Laplacian (grey, 0-255, 4-neighbour) of the
  output inside the intended part region over the same of the source photo
  inside its own part region (the real component being moved), both regions
  eroded by 2 px so that the outline itself does not count. 1.0: as sharp as
  the real part; a blurry rendering gives well under 1. ``sharpness_crop``: the
  same with both photos first resized to the editor's crop scale (the GAN's
  working resolution: the scale of each face's five-point alignment into the
  ``input_size`` crop), which asks whether a rendering is as sharp as a real
  face *at the resolution it was made*; ``sharpness`` asks it at the photo's.
* ``ms``: the edit's wall time including detection and parsing of both photos.

A pair the editor refuses (a chosen part not found, ``facehub/editing/refusal.py``: e.g. eyes behind sunglasses) is
counted as ``refused`` and left out of the other measures: the untouched target it returns is the right answer there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.editing.blend import warp_with_labels  # noqa: E402
from facehub.editing.blend_ops import dilate, erode, rgb_to_lab  # noqa: E402
from facehub.editing.masks import (  # noqa: E402
    PART_CLASSES,
    fit_components,
    intended_layout,
    part_mask,
)
from facehub.geometry.align import similarity_transform  # noqa: E402
from facehub.train.data import data_root  # noqa: E402

PART_SETS = {"hair": ("hair",), "eyes": ("eyes",), "mouth": ("mouth",)}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean()) if a.size else 0.0
    return 100.0 if mse < 1e-10 else 10 * np.log10(255.0**2 / mse)


def f1(want: np.ndarray, got: np.ndarray) -> float:
    """F1 (Dice) of two (H, W) bool masks."""
    return float(2 * (want & got).sum() / max(1, want.sum() + got.sum()))


def laplacian_variance(image: np.ndarray, mask: np.ndarray) -> float | None:
    """Variance of the 4-neighbour Laplacian of (H, W, 3) uint8 ``image`` in grey over the (H, W) bool ``mask``
    eroded by 2 px; None when fewer than 50 pixels remain."""
    grey = image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    lap = np.zeros_like(grey)
    lap[1:-1, 1:-1] = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    inner = erode(torch.from_numpy(mask), 2).numpy()
    inner[[0, -1], :] = inner[:, [0, -1]] = False
    return float(lap[inner].var()) if inner.sum() >= 50 else None


def at_photo_scale(image: np.ndarray, mask: np.ndarray, points5: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` and ``mask`` as they are (``at_crop_scale``'s counterpart)."""
    return image, mask


def at_crop_scale(editor, image: np.ndarray, mask: np.ndarray, points5: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (H, W, 3) and ``mask`` (H, W) resized by the scale of ``points5``'s alignment into the editor's crop."""
    from facehub.geometry.align import alignment_matrix

    matrix = alignment_matrix(np.asarray(points5, np.float64), editor.crop_spec)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    size = (max(8, round(image.shape[1] * scale)), max(8, round(image.shape[0] * scale)))
    small = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=None))
    return small, np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST)) > 127


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
    if result.refused:  # the right answer where a part is missing: counted apart, not scored as an edit
        return {"ms": ms, "refused": result.refused, "result": result}
    src, tgt = editor.parse(source), editor.parse(target)
    placed = fit_components(warped_source_map(editor, src, tgt), tgt.class_map, parts)
    intended = intended_layout(tgt.class_map, placed, parts)
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
    for key, scaled in (("sharpness", at_photo_scale), ("sharpness_crop", partial(at_crop_scale, editor))):
        out_sharp = laplacian_variance(*scaled(result.image, region, tgt.face.points))
        real_sharp = laplacian_variance(*scaled(source, src_region, src.face.points))
        if out_sharp is not None and real_sharp:
            row[key] = out_sharp / real_sharp
    if getattr(editor, "can_reparse", True):
        reparsed = editor.parse(result.image)
        if reparsed.class_map is not None:
            scores, counts = [], {}
            for part in parts:
                for name in PART_CLASSES[part]:
                    from facehub.editing.masks import INDEX

                    want, got = intended == INDEX[name], reparsed.class_map == INDEX[name]
                    counts[name] = (int((want & got).sum()), int(want.sum() + got.sum()))
                    if want.sum() == 0 and got.sum() == 0:
                        continue
                    scores.append(f1(want, got))
            row["class_counts"] = counts  # (overlap, want + got) pixels per class, pooled in summarise
            row["f1"] = float(np.mean(scores)) if scores else float("nan")
            components = []
            for part in parts:
                want, got = part_mask(intended, part), part_mask(reparsed.class_map, part)
                if want.any() or got.any():
                    components.append(f1(want, got))
            row["f1_component"] = float(np.mean(components)) if components else float("nan")
    row["result"] = result
    return row


def summarise(rows: list[dict]) -> dict:
    """Medians and means over the pairs that were edited; ``refused`` counts the pairs the editor refused."""
    timed, rows = rows, [r for r in rows if "refused" not in r]
    out = {"pairs": len(rows), "refused": len(timed) - len(rows),
           "psnr_outside_median": float(np.median([r["psnr_outside"] for r in rows]))}
    closer = [r["closer_to_source"] for r in rows if "closer_to_source" in r]
    out["closer_to_source"] = f"{sum(closer)}/{len(closer)}"
    for key, name in (("f1", "reparse_f1_mean"), ("f1_component", "reparse_f1_component_mean")):
        f1 = [r[key] for r in rows if key in r and np.isfinite(r[key])]
        if f1:
            out[name] = float(np.mean(f1))
    pooled: dict[str, list[int]] = {}
    for r in rows:
        for name, (overlap, total) in r.get("class_counts", {}).items():
            pooled.setdefault(name, [0, 0])
            pooled[name][0] += overlap
            pooled[name][1] += total
    if pooled:
        per_class = {name: 2 * overlap / total for name, (overlap, total) in pooled.items() if total}
        out["reparse_f1_pooled_per_class"] = {name: round(v, 4) for name, v in per_class.items()}
        out["reparse_f1_pooled_mean"] = float(np.mean(list(per_class.values())))
    for key in ("sharpness", "sharpness_crop"):
        sharp = [r[key] for r in rows if key in r]
        if sharp:
            out[f"{key}_median"] = float(np.median(sharp))
    out["ms_median"] = float(np.median([r["ms"] for r in timed]))
    out["per_pair"] = {key: [round(float(r[key]), 4) if key in r else None for r in rows]
                       for key in ("psnr_outside", "f1", "f1_component", "sharpness")}  # to find the pair that moved
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


def write_card(folder: Path, metrics: dict, note: str) -> None:
    """Render weights/portrait-editor/README.md from config.json and metrics.json."""
    from facehub.hub import ModelCard

    config = json.loads((folder / "config.json").read_text())
    args, training = config["model_args"], config.get("training", {})
    rows = []
    for key, m in metrics.items():
        part, method = key.split("/")
        refused = f" (+{m['refused']} refused)" if m.get("refused") else ""
        rows.append(f"| {part} | {method} | {m['pairs']}{refused} | {m['psnr_outside_median']:.1f} | {m['closer_to_source']} | "
                    f"{m.get('reparse_f1_mean', float('nan')):.3f} | {m.get('reparse_f1_pooled_mean', float('nan')):.3f} | "
                    f"{m.get('reparse_f1_component_mean', float('nan')):.3f} | "
                    f"{m.get('sharpness_median', float('nan')):.2f} | "
                    f"{m.get('sharpness_crop_median', float('nan')):.2f} | {m['ms_median']:.0f} |")
    table = ("| parts | method | pairs | median PSNR outside (dB) | colour closer to source | re-parse F1 (per class) | "
             "re-parse F1 (per class, pixels pooled) | re-parse F1 (per component) | sharpness | sharpness at crop scale | "
             "ms / edit |\n|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows))
    card = ModelCard(
        title="FaceHub portrait editor (mask-guided GAN + classical blend baseline)",
        summary=(
            "Moves components (hair, eyes, brows, nose, mouth, face) from a source portrait onto a target portrait. "
            f"Two methods share one predictor: **blend** (default; classical: per-component similarity fit from the "
            "parsing masks and five points, Poisson cloning with a CG solver for inner parts with the source's colours "
            "kept inside each component (the lips' colour as it stands against the skin), feathered alpha for hair, exemplar inpainting (PatchMatch) of the target's "
            "uncovered hair: skin patches inside the source's head outline, background patches beside it) "
            "and **gan** (a small re-implementation of Gu et al., *Mask-Guided Portrait Editing with Conditional GANs*, "
            f"CVPR 2019, at {config['input_size']} px: local embedding encoders/decoders for left eye, right eye, mouth, "
            "face skin and hair; mask encoder E_m with embeddings placed at the target mask's component positions; "
            "generator G_m; background fusing E_b/G_b; two conditional PatchGAN discriminators at full and half "
            "resolution). The GAN is trained here on 2 CPU threads for a couple of hours and is far from the "
            "paper's quality. The default method is **" + str(config.get("default_method", "blend")) + "**, chosen on the "
            "held-out measures below.\n\n"
            "```python\nimport facehub\neditor = facehub.load(\"portrait-editor\")\n"
            "result = editor(\"source.jpg\", \"target.jpg\", parts=(\"hair\",), method=\"blend\")\n"
            "result.image_pil().save(\"edited.png\")\n```\n"
            "CLI: `python -m facehub edit --source S --target T --parts hair,eyes,mouth --out OUT.png [--method gan|blend]`."
        ),
        data=(
            "CelebA-HQ portraits: `../shared/data/celebamask19/train` (745 faces with **human** CelebAMask-HQ 19-class "
            "labels; the 5 photos that are also in `celebamask_hair/val` left out) and the CelebAMask-HQ *hair* subset "
            "(`../shared/data/celebamask_hair/train`, 740 faces the MediaPipe teacher found; masks: MediaPipe Face Mesh "
            "regions + the real CelebAMask-HQ hair masks, `scripts/pseudo_label_parsing.py`), all mapped to the "
            "editor's 11 classes (ears and glasses join the skin; neck, clothes, hats and jewellery are background) and "
            "aligned with five points into the editor crop "
            f"(zoom {config['crop']['zoom']}, shift_y {config['crop']['shift_y']}) at {config['input_size']} px, "
            f"mirrored at random with left/right classes swapped (`--data {training.get('data', '')}`). Evaluation "
            "pairs: consecutive images of `celebamask_hair/val`, never trained on."
        ),
        training=(
            f"`python scripts/train_editor.py --resolution {config['input_size']} --init-from weights/portrait-editor ...` "
            f"(the runs' full commands are under *Held-out pairs*; model_args {json.dumps(args)}); batch {training.get('batch')}, Adam 2e-4 (β 0.5, 0.999), "
            f"{training.get('steps')} steps. Losses: local reconstruction L2 (λ=10), global L1 reconstruction on paired "
            "samples (λ=10) plus L1 on the kept background, hinge adversarial loss with feature matching (λ=10, paired "
            f"samples), parsing cross-entropy through the frozen parser: {training.get('parser_critic', 'not used')}. "
            "Half of the samples are paired (source = target); unpaired ones take a random subset of components from "
            "another face."
        ),
        metrics={f"{key}: {field}": (round(value, 3) if isinstance(value, float) else value)
                 for key, m in metrics.items() if key.startswith("hair/")
                 for field, value in m.items() if field != "pairs"},
        extra=(
            f"### Held-out pairs\n\n{table}\n\n{note}\n\n"
            "![source, target, blend, gan](examples_hair.png)\n\n*Columns: source | target | blend | gan "
            "(`--parts hair`, val faces not trained on).*\n\n"
            "![source, target, blend, gan](examples_eyes.png)\n\n*The same for `--parts eyes`.*\n\n"
            "Measured with `python scripts/eval_editor.py --card`; PSNR is against the target outside the edited region "
            "(target part ∪ intended part, dilated 2 %), lower neck and clothes excepted; identical pixels count as "
            "100 dB. Colour: mean Lab of the output in the intended part region vs the source's and the target's part. "
            "Sharpness: variance of the Laplacian of the output inside the intended part region over the same of the "
            "source photo inside its part (both eroded by 2 px; 1.0 = as sharp as the real part), median over pairs; "
            "at crop scale: the same after resizing both photos to the editor's crop scale (the GAN's resolution)."
            "\n\n### Limitations\n\nHair masks of the parser decide everything: glasses, hands or dark clothes it "
            "labels hair are moved with it (only hair blobs not connected to the head are dropped). The target's "
            "uncovered hair: both methods fill it with patches of the target (skin inside the head outline, background beside "
            "it); where that outline is a guess (a face turned, hair that hid a cheek) the skin patches form a flat block. "
            "Faces turned far apart "
            "(one frontal, one profile) give misplaced parts. The GAN renders at "
            f"{config['input_size']} px: its detail finer than a crop pixel is the source's own (`source_detail`), so "
            "what the source does not have (hair the GAN extends beyond the source's, the filled background) stays blurry."
        ),
        tags=["face-editing", "gan", "image-to-image"],
    )
    (folder / "README.md").write_text(card.render())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--model", default="portrait-editor")
    parser.add_argument("--out", type=Path, default=Path("weights/portrait-editor"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--grid-rows", type=int, default=4)
    parser.add_argument("--parts", default="hair,eyes,mouth", help="part sets to measure, comma-separated")
    parser.add_argument("--methods", default="blend,gan")
    parser.add_argument("--card", action="store_true", help="also write the model card into --out")
    parser.add_argument("--note", default="", help="a line for the card (e.g. which parser and load)")
    parser.add_argument("--fill-uncovered-hair", choices=["config", "on", "off"], default="config",
                        help="the GAN: exemplar-fill the target's uncovered hair (default: as config.json says)")
    parser.add_argument("--no-source-detail", action="store_true",
                        help="the GAN without the source's fine detail (facehub/editing/detail.py), for comparison")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import facehub

    editor = facehub.load(args.model, device="cpu")
    editor.source_detail = not args.no_source_detail
    if args.fill_uncovered_hair != "config":
        editor.fill_uncovered = args.fill_uncovered_hair == "on"
    editor.parse_cache = 8  # measure() clears it before each timed edit, then reuses the parses
    from facehub.image import load_image

    pairs = [(load_image(a), load_image(b)) for a, b in val_pairs(args.pairs)]
    previous = args.out / "metrics.json"
    metrics: dict[str, dict] = json.loads(previous.read_text()) if previous.is_file() else {}  # rows not re-measured stay
    picture: list[tuple] = []  # (part set, source, target, method, output)
    for part_name, parts in PART_SETS.items():
        if part_name not in args.parts.split(","):
            continue
        for method in args.methods.split(","):
            rows = []
            for source, target in pairs:
                row = measure(editor, source, target, parts, method)
                if row is not None:
                    rows.append(row)
                    picture.append((part_name, source, target, method, row["result"].image))
            metrics[f"{part_name}/{method}"] = summarise(rows)
            print(part_name, method, json.dumps(metrics[f"{part_name}/{method}"]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    for part_name in PART_SETS:
        by_pair: dict[int, dict] = {}
        for name, source, target, method, image in picture:
            if name == part_name:
                by_pair.setdefault(id(target), {"source": source, "target": target})[method] = image
        rows = [(p["source"], p["target"], p["blend"], p["gan"]) for p in by_pair.values() if "blend" in p and "gan" in p]
        if rows:
            grid(rows[: args.grid_rows], args.out / f"examples_{part_name}.png")
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if args.card:
        write_card(args.out, metrics, args.note)
    print(f"wrote {args.out / 'metrics.json'} and {args.out / 'examples_hair.png'}")


if __name__ == "__main__":
    main()
