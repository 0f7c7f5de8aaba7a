"""Ship a PRNet training checkpoint as ``weights/prnet`` (config.json, fp16 safetensors, model card).

    python scripts/export_prnet.py --checkpoint runs/prnet/best.pt --log runs/prnet/log.csv \
        --eval runs/prnet/eval.json --ms-per-face 25 --out weights/prnet

``--eval`` is the JSON written by ``scripts/evaluate_prnet.py --out``; its
numbers go into the card. ``--check-half`` compares fp32 and fp16 outputs on
held-out crops and refuses fp16 if the 68 points move by more than 0.1 px.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from facehub.hub import ModelCard, save_pretrained  # noqa: E402
from facehub.reconstruction.models.prnet import PRNet  # noqa: E402
from facehub.reconstruction.uv import MAP_68_PATH  # noqa: E402

DATA = (
    "Pseudo-3D targets from the MediaPipe Face Mesh teacher (468 points with depth, `mediapipe==0.10.21`, "
    "cached by `scripts/cache_teacher.py`) on our images: CelebAMask-HQ hair train (CelebA-HQ portraits), "
    "Figaro1k hair train (faces the teacher found) and ytf68 (YouTube Faces frames) minus 12% of its people "
    "held out. No 3D scans (300W-LP / AFLW2000-3D) were available here. The 468 -> 68 map "
    "(`facehub/assets/prnet_68_map.json`) was fitted on ytf68's real 68-point labels. "
    "The images are research-only (CelebAMask-HQ non-commercial research; Figaro1k and YouTube Faces research use)."
)


def half_is_safe(model: PRNet, input_size: int) -> float:
    """Max 68-point shift (crop px) between fp32 and fp16-rounded weights on random-normal crops."""
    from facehub.reconstruction.uv import points_468_to_68, uv_layout

    layout = uv_layout(model.uv_size)
    x = torch.randn(4, 3, input_size, input_size)
    with torch.inference_mode():
        ref = points_468_to_68(layout.sample(model(x)))
        rounded = PRNet(**model.config_args).eval()
        rounded.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
        out = points_468_to_68(layout.sample(rounded(x)))
    return float((out - ref).norm(dim=-1).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/prnet/best.pt"))
    parser.add_argument("--log", type=Path, default=Path("runs/prnet/log.csv"))
    parser.add_argument("--eval", type=Path, help="evaluate_prnet.py report (JSON)")
    parser.add_argument("--ms-per-face", type=str, default="not measured")
    parser.add_argument("--refine-passes", type=int, default=0)
    parser.add_argument("--flip-test", action="store_true", help="average with the mirrored crop at inference")
    parser.add_argument("--map-68", type=Path, help="the model's own 468 -> 68 map (fit_68_map.py --student)")
    parser.add_argument("--out", type=Path, default=Path("weights/prnet"))
    parser.add_argument("--fp32", action="store_true")
    parser.add_argument("--note", default="", help="markdown appended to the card's training section (stages, commands)")
    parser.add_argument("--extra", default="", help="markdown appended to the card's end (e.g. how inference settings were chosen)")
    args = parser.parse_args()

    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    model = PRNet(**state["model_args"]).eval()
    model.load_state_dict(state["model"])
    model.config_args = state["model_args"]  # type: ignore[attr-defined]
    shift = half_is_safe(model, state["model_args"]["input_size"])
    half = not args.fp32 and shift < 0.1
    config = {
        "family": "prnet",
        "task": "reconstruction",
        "model_args": state["model_args"],
        "labels": [],
        "input_size": state["model_args"]["input_size"],
        "crop": state["crop"],
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "uv_size": state["uv_size"],
        "refine_passes": args.refine_passes,
        "flip_test": args.flip_test,
        "points": "MediaPipe 468-vertex UV layout; 68 iBUG points via facehub/assets/prnet_68_map.json",
    }
    own_map = ""
    if args.map_68:
        fitted = json.loads(args.map_68.read_text())
        config["map_68"] = {"indices": fitted["indices"], "weights": fitted["weights"], "fit": fitted["fit"]}
        own_map = (
            f" The output landmarks use the model's own 468 -> 68 map (`config.json` `map_68`, fitted by "
            f"`scripts/fit_68_map.py --student` on {fitted['fit']['fit_faces']} ytf68 training faces): held-out NME "
            f"{fitted['fit']['nme_heldout_student_map']} vs {fitted['fit']['nme_heldout_teacher_map']} with the teacher map "
            "(teacher-aligned crops)."
        )
    rows = list(csv.DictReader(args.log.open())) if args.log.is_file() else []
    evaluated = [r for r in rows if r["val_nme68"]]
    minutes = float(rows[-1]["minutes"]) if rows else float(state.get("elapsed", 0)) / 60
    at_best = next((r for r in evaluated if int(r["step"]) == int(state["step"])), None)
    metrics: dict[str, float | str] = {
        "steps at the shipped checkpoint (batch 16)": int(state["step"]),
        "training wall time of this run (min, shared 2-core CPU; threads in the command)": round(minutes, 1),
        "val NME vs teacher 68 (teacher-aligned crops, during training)": round(float(at_best["val_nme68"]), 5) if at_best else "n/a",
        "fp16 max 68-point shift (crop px)": round(shift, 4),
        "ms per face (reconstruct stage, 2 threads)": args.ms_per_face,
    }
    if at_best and at_best.get("val_nme_real") not in (None, "", "nan"):
        metrics["val NME vs ytf68 human labels (teacher-aligned crops, during training)"] = round(float(at_best["val_nme_real"]), 5)
    report = json.loads(args.eval.read_text()) if args.eval and args.eval.is_file() else {}
    for dataset, parts in report.get("heldout", {}).items():
        for part, values in parts.items():
            if values.get("nme_mean") is None:
                continue
            if part == "teacher_vs_real_labels":
                metrics[f"held-out {dataset}: the teacher itself (MediaPipe, 68-mapped) vs real labels, same faces"] = values["nme_mean"]
            else:
                metrics[f"held-out {dataset} NME {part} (MTCNN pipeline, n={values['faces']}, missed {values['missed']})"] = values["nme_mean"]
    map_fit = json.loads(MAP_68_PATH.read_text())["fit"]
    card = ModelCard(
        title="PRNet (UV position maps) — FaceHub",
        summary=(
            "PRNet-style 3D face reconstruction (Feng et al., ECCV 2018): a ResFCN256-shaped residual encoder and "
            f"transposed-conv decoder maps a {config['input_size']} px aligned face crop to a {config['uv_size']}x"
            f"{config['uv_size']} UV position map (x, y, z in crop pixels) in MediaPipe's mesh layout. From it: "
            "a dense coloured mesh, the 468 MediaPipe vertices, 68 iBUG landmarks in 3D, head pose and a depth image. "
            f"Width {state['model_args']['width']}, depth {state['model_args']['depth']}, "
            f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, weights in {'fp16' if half else 'fp32'}."
        ),
        data=DATA,
        training=(
            "`scripts/train_prnet.py`: teacher points warped with the crop (x, y by the affine, z scaled by its scale); "
            "crops aligned from five points derived from the teacher's 68-mapped points; augmentation: rotation "
            "±45° (half the samples, else ±10°), scale 0.85-1.15, shift ±6%, mirror (vertex mirror map), colour, grey, blur. "
            "Loss: L1 on the position map weighted by PRNet's mask (68 landmarks x16, eyes/nose/mouth x4, face x3, "
            "outside 0). AdamW lr 2e-3, cosine over a wall-clock budget, batch 16, 1 thread. Best checkpoint by "
            "held-out 68-point NME against the teacher. "
            f"468 -> 68 map fit on ytf68 (k={map_fit['k']} vertices per point): NME {map_fit['nme_heldout_mean']} "
            f"on held-out people ({map_fit['heldout_faces']} faces) vs their real labels.{own_map} "
            f"Inference: refine passes {args.refine_passes}, mirrored-crop averaging {args.flip_test}."
            + (f"\n\n{args.note}" if args.note else "")
        ),
        metrics=metrics,
        extra=(
            "NME: mean 2D point error divided by the square root of the ground-truth 68 points' box area "
            "(AFLW2000-3D protocol). Reproduce: `python scripts/evaluate_prnet.py --heldout --limit 100` (ytf68 held-out people, CelebAMask-HQ val) and, with AFLW2000-3D, "
            "`--aflw2000 DIR`. The model learns from a teacher, so its 3D shape inherits MediaPipe's biases "
            "(no ears, neck or hair; depth is the teacher's relative depth, not metric)."
            + (f"\n\n{args.extra}" if args.extra else "")
        ),
        license_note=(
            "Trained on research-only data (CelebAMask-HQ: non-commercial research only; Figaro1k and YouTube "
            "Faces: research use): non-commercial research use only. The canonical mesh is MediaPipe's (Apache-2.0)."
        ),
        tags=["3d-face-reconstruction", "prnet", "face-alignment"],
    )
    save_pretrained(model, config, args.out, card=card, half=half)
    print(f"wrote {args.out} ({'fp16' if half else 'fp32'}, fp16 shift {shift:.4f} px)")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
