"""Ship a PRNet training checkpoint: config.json (+ inference settings, the model's own 68 map), fp16
safetensors when that moves no 68 point by 0.1 px or more, and the model card with the run's numbers."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from facehub.geometry.profile_jaw import ProfileJaw
from facehub.hub import ModelCard, save_pretrained
from facehub.reconstruction.mesh import YawCalibration
from facehub.reconstruction.models.prnet import PRNet
from facehub.reconstruction.uv import MAP_68_PATH, points_468_to_68, uv_layout
from facehub.train.reconstruction.checkpoint import (
    PRNetCheckpoint,
    checkpoint_config,
    read_checkpoint,
)

DATA = (
    "Pseudo-3D targets from the MediaPipe Face Mesh teacher (468 points with depth, `mediapipe==0.10.21`, "
    "cached by `scripts/cache_teacher.py`) on our images: CelebAMask-HQ hair train (CelebA-HQ portraits), "
    "Figaro1k hair train (faces the teacher found) and ytf68 (YouTube Faces frames) minus 12% of its people "
    "held out. No 3D scans (300W-LP / AFLW2000-3D) were available here; instead, as 300W-LP was made, with "
    "`--profiled` every one of those faces is also rendered once at a large pose by face profiling "
    "(`facehub/train/data/profiling.py`: the teacher mesh turned to |yaw| 25-88°, pitch ±20°, roll ±15°, the photo "
    "warped with it; `facehub/train/reconstruction/profiled.py`), whose turned mesh is an exact target for its "
    "rendered pixels. AFLW2000-3D's 200 validation faces were only scored, never trained on. The 468 -> 68 map "
    "(`facehub/assets/prnet_68_map.json`) was fitted on ytf68's real 68-point labels. "
    "The images are research-only (CelebAMask-HQ non-commercial research; Figaro1k and YouTube Faces research use)."
)


@dataclass
class ExportOptions:
    """What ``scripts/export_prnet.py`` takes (see its --help)."""

    checkpoint: Path = Path("runs/prnet/best.pt")
    log: Path = Path("runs/prnet/log.csv")
    eval: Path | None = None  # evaluate_prnet.py report (JSON)
    ms_per_face: str = "not measured"
    refine_passes: int = 0
    refine_min_shift: float = 0.0  # refine only faces whose crop moves by more than this share of its side
    flip_test: bool = False
    profile_jaw: str = ""  # "from_yaw,full_yaw,depth_scale": config.json's profile_jaw (geometry/profile_jaw.py); "" = off
    landmarks: str = ""  # "NAME", "NAME:WEIGHT", "NAME:WEIGHT,JAW_WEIGHT" or "NAME:WEIGHT,JAW_WEIGHT,FLIP_BELOW_YAW": a landmark model whose points the 68 landmarks average in; "" = none
    pose_calibration: str = ""  # "GAIN,FROM_YAW": config.json's pose_calibration (reconstruction/mesh.py YawCalibration); "" = off
    map_68: Path | None = None  # the model's own 468 -> 68 map (fit_68_map.py --student)
    out: Path = Path("weights/prnet")
    fp32: bool = False
    note: str = ""  # markdown appended to the card's training section
    extra: str = ""  # markdown appended to the card's end


def half_shift(model: PRNet, model_args: dict[str, int]) -> float:
    """Max 68-point shift (crop px) between fp32 and fp16-rounded weights on random-normal crops."""
    layout = uv_layout(model.uv_size)
    size = model_args["input_size"]
    x = torch.randn(4, 3, size, size)
    with torch.inference_mode():
        ref = points_468_to_68(layout.sample(model(x)))
        rounded = PRNet(**model_args).eval()
        rounded.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
        out = points_468_to_68(layout.sample(rounded(x)))
    return float((out - ref).norm(dim=-1).max())


def _metrics(ckpt: PRNetCheckpoint, opts: ExportOptions, shift: float) -> dict[str, float | str]:
    rows = list(csv.DictReader(opts.log.open())) if opts.log.is_file() else []
    evaluated = [r for r in rows if r.get("val_nme68")]
    minutes = float(rows[-1]["minutes"]) if rows else ckpt.elapsed / 60
    at_best = next((r for r in evaluated if int(r["step"]) == ckpt.step), None)
    metrics: dict[str, float | str] = {
        "steps at the shipped checkpoint (batch 16)": ckpt.step,
        "training wall time of this run (min, shared 2-core CPU; threads in the command)": round(minutes, 1),
        "val NME vs teacher 68 (teacher-aligned crops, during training)": round(float(at_best["val_nme68"]), 5) if at_best else "n/a",
        "fp16 max 68-point shift (crop px)": round(shift, 4),
        "ms per face (reconstruct stage, 2 threads)": opts.ms_per_face,
    }
    if at_best and at_best.get("val_nme_real") not in (None, "", "nan"):
        metrics["val NME vs ytf68 human labels (teacher-aligned crops, during training)"] = round(float(at_best["val_nme_real"]), 5)
    report = json.loads(opts.eval.read_text()) if opts.eval and opts.eval.is_file() else {}
    for dataset, parts in report.get("heldout", {}).items():
        for part, values in parts.items():
            if values.get("nme_mean") is None:
                continue
            if part == "teacher_vs_real_labels":
                metrics[f"held-out {dataset}: the teacher itself (MediaPipe, 68-mapped) vs real labels, same faces"] = values["nme_mean"]
            else:
                metrics[f"held-out {dataset} NME {part} (default-detector pipeline, n={values['faces']}, missed {values['missed']})"] = values["nme_mean"]
    return metrics


def _card(ckpt: PRNetCheckpoint, config: dict, opts: ExportOptions, metrics: dict, half: bool, own_map: str) -> ModelCard:
    map_fit = json.loads(MAP_68_PATH.read_text())["fit"]
    return ModelCard(
        title="PRNet (UV position maps) — FaceHub",
        summary=(
            "PRNet-style 3D face reconstruction (Feng et al., ECCV 2018): a ResFCN256-shaped residual encoder and "
            f"transposed-conv decoder maps a {config['input_size']} px aligned face crop to a {config['uv_size']}x"
            f"{config['uv_size']} UV position map (x, y, z in crop pixels) in MediaPipe's mesh layout. From it: "
            "a dense coloured mesh, the 468 MediaPipe vertices, 68 iBUG landmarks in 3D, head pose and a depth image. "
            f"Width {ckpt.model_args['width']}, depth {ckpt.model_args['depth']}, "
            f"{sum(p.numel() for p in ckpt.model.parameters()) / 1e6:.2f} M parameters, weights in {'fp16' if half else 'fp32'}."
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
            f"Inference: refine passes {opts.refine_passes}"
            + (f" (each only for faces whose crop moves by more than {opts.refine_min_shift:g} of its side)" if opts.refine_min_shift > 0 else "")
            + f", mirrored-crop averaging {opts.flip_test}."
            + (f"\n\n{opts.note}" if opts.note else "")
        ),
        metrics=metrics,
        extra=(
            "NME: mean 2D point error divided by the square root of the ground-truth 68 points' box area "
            "(AFLW2000-3D protocol). Reproduce: `python scripts/evaluate_prnet.py --heldout --limit 100` (ytf68 held-out people, CelebAMask-HQ val) and, with AFLW2000-3D, "
            "`--aflw2000 DIR`. The model learns from a teacher, so its 3D shape inherits MediaPipe's biases "
            "(no ears, neck or hair; depth is the teacher's relative depth, not metric)."
            + (f"\n\n{opts.extra}" if opts.extra else "")
        ),
        license_note=(
            "Trained on research-only data (CelebAMask-HQ: non-commercial research only; Figaro1k and YouTube "
            "Faces: research use): non-commercial research use only. The canonical mesh is MediaPipe's (Apache-2.0)."
        ),
        tags=["3d-face-reconstruction", "prnet", "face-alignment"],
    )


def export_prnet(opts: ExportOptions) -> tuple[Path, dict[str, float | str]]:
    """Write ``opts.out`` (config.json, safetensors, README.md); returns the folder and the card's metrics."""
    ckpt = read_checkpoint(opts.checkpoint)
    shift = half_shift(ckpt.model, ckpt.model_args)
    half = not opts.fp32 and shift < 0.1
    config = checkpoint_config(ckpt.model_args, ckpt.crop, ckpt.uv_size)
    config.update({
        "refine_passes": opts.refine_passes, "refine_min_shift": opts.refine_min_shift, "flip_test": opts.flip_test,
        "points": "MediaPipe 468-vertex UV layout; 68 iBUG points via facehub/assets/prnet_68_map.json",
    })
    jaw = ProfileJaw.parse(opts.profile_jaw)
    if jaw is not None:
        config["profile_jaw"] = jaw.to_config()
    if opts.pose_calibration:
        gain, from_yaw = (float(v) for v in opts.pose_calibration.split(","))
        config["pose_calibration"] = YawCalibration(gain, from_yaw).to_config()
    if opts.landmarks:
        model, _, weights = opts.landmarks.partition(":")
        weight, _, rest = weights.partition(",")
        jaw, _, flip_below = rest.partition(",")
        config["landmarks"] = {"model": model, "weight": float(weight or 0.5)}
        if jaw:
            config["landmarks"]["jaw_weight"] = float(jaw)
        if flip_below:
            config["landmarks"]["flip_below_yaw"] = float(flip_below)
    own_map = ""
    if opts.map_68:
        fitted = json.loads(opts.map_68.read_text())
        config["map_68"] = {"indices": fitted["indices"], "weights": fitted["weights"], "fit": fitted["fit"]}
        own_map = (
            f" The output landmarks use the model's own 468 -> 68 map (`config.json` `map_68`, fitted by "
            f"`scripts/fit_68_map.py --student` on {fitted['fit']['fit_faces']} ytf68 training faces): held-out NME "
            f"{fitted['fit']['nme_heldout_student_map']} vs {fitted['fit']['nme_heldout_teacher_map']} with the teacher map "
            "(teacher-aligned crops)."
        )
    metrics = _metrics(ckpt, opts, shift)
    card = _card(ckpt, config, opts, metrics, half, own_map)
    folder = save_pretrained(ckpt.model, config, opts.out, card=card, half=half)
    print(f"wrote {folder} ({'fp16' if half else 'fp32'}, fp16 shift {shift:.4f} px)")
    return folder, metrics
