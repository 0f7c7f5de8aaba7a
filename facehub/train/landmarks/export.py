"""Ship a landmark run: ``<run>/best`` -> an fp16 ``save_pretrained`` folder with its model card.

The card's numbers come from ``<run>/best_info.json`` (written at training time), an optional
full-pipeline evaluation (``scripts/evaluate_landmarks.py --out``) and a speed measurement here.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from facehub.geometry.profile_jaw import ProfileJaw
from facehub.hub import ModelCard, load_folder
from facehub.train import engine


@dataclass
class LandmarkExport:
    """What ``--export`` asks for: the target folder and what the card and config.json add."""

    target: Path
    seed: int = 0  # of the person split, for the card
    pipeline_eval: Path | None = None  # JSON from scripts/evaluate_landmarks.py --out
    refine_passes: int = 0  # re-alignment passes stored in config.json
    refine_min_shift: float = 0.0  # refine only faces whose crop moves more than this share of its side
    flip_test: bool = False  # average with the mirrored crop at inference
    profile_jaw: str = ""  # "from_yaw,full_yaw,depth_scale" stored as config.json's profile_jaw; "" = off
    history: str = ""  # how the --init-from weights were trained
    push_to_hub: str | None = None


def measure_ms(model: torch.nn.Module, size: int, repeats: int = 40) -> tuple[float, float]:
    """(fastest, median) ms per face (batch of 1, current thread count) of the model alone.

    On a shared, loaded machine the fastest run is the closest to the unloaded speed.
    """
    model.eval()
    x = torch.randn(1, 3, size, size)
    times = []
    with torch.inference_mode():
        for i in range(repeats + 5):
            t = time.perf_counter()
            model.decode_outputs(model(x))
            if i >= 5:
                times.append(time.perf_counter() - t)
    return float(np.min(times) * 1000), float(np.median(times) * 1000)


def _pipeline_metrics(path: Path) -> dict[str, str]:
    pipe = json.loads(path.read_text())["summary"]
    return {
        f"pipeline val NME (default detector, refine {pipe['refine_passes']}, flip {pipe.get('flip_test')})": f"{pipe['nme']:.4f}",
        "pipeline val failure rate @0.10 (misses count)": f"{pipe['fr']:.4f}",
        "pipeline val AUC @0.10": f"{pipe['auc']:.4f}",
        "pipeline missed faces": f"{pipe['missed']} / {pipe['count']}",
        "pipeline landmark ms per face (median, incl. crops)": f"{pipe['landmark_ms_per_face_median']:.1f}",
    }


def export_checkpoint(run: Path, options: LandmarkExport) -> Path:
    """Write ``run/best`` as fp16 + model card to ``options.target`` (and push it when asked)."""
    best = run / "best"
    loaded = load_folder(best)
    model, config = loaded.model, loaded.config
    info = json.loads((run / "best_info.json").read_text())
    info["history"] = options.history
    torch.set_num_threads(1)
    # a selective refine (refine_min_shift > 0) re-runs only turned faces: the per-face time is one pass's
    factor = (2 if options.flip_test else 1) * (1 + (options.refine_passes if options.refine_min_shift <= 0 else 0))
    fastest, median = (factor * t for t in measure_ms(model, config["input_size"]))
    load = os.getloadavg()[0]
    config = {k: v for k, v in config.items() if k != "training"}
    config["refine_passes"] = options.refine_passes
    config["refine_min_shift"] = options.refine_min_shift
    config["flip_test"] = options.flip_test
    jaw = ProfileJaw.parse(options.profile_jaw)
    if jaw is not None:
        config["profile_jaw"] = jaw.to_config()
    metrics = {"val NME (inter-ocular, GT 5-point crops)": f"{info['nme']:.4f}",
               "val failure rate @0.10": f"{info['fr']:.4f}", "val AUC @0.10": f"{info['auc']:.4f}",
               "val NME, 5 points jittered 5% (detector-like)": f"{info.get('nme_noisy', float('nan')):.4f}",
               "val faces / people": f"{info['count']} / {info['people']}",
               "model ms per face, 1 thread, fastest of 40 (shared 2-core CPU)": f"{fastest:.1f}",
               f"model ms per face, 1 thread, median (load average {load:.0f} on 2 cores)": f"{median:.1f}"}
    if options.pipeline_eval is not None:
        metrics.update(_pipeline_metrics(options.pipeline_eval))
    card = _card(config, info, metrics, options)
    engine.export(model, config, options.target, card=card, half=True)
    print(f"exported {options.target} ({fastest:.1f} / {median:.1f} ms per face, fastest / median)", flush=True)
    if options.push_to_hub:
        from facehub.hub import push_to_hub

        print(push_to_hub(options.target, options.push_to_hub), flush=True)
    return options.target


def _card(config: dict, info: dict, metrics: dict[str, str], options: LandmarkExport) -> ModelCard:
    argv = info.get("argv", [])
    flip_prob = info.get("flip_prob", float(argv[argv.index("--flip-prob") + 1]) if "--flip-prob" in argv else 0.5)
    processes = info.get("processes", 1)
    name = "PIPNet" if config["family"] == "pipnet" else "Stacked Hourglass"
    return ModelCard(
        title=f"FaceHub {name}, 68 facial landmarks",
        summary=(f"{name} predicting the 68 iBUG/300W points on a {config['input_size']} px face crop aligned from "
                 f"MTCNN's five points (`CropSpec` zoom {config['crop']['zoom']}, shift_y {config['crop']['shift_y']}). "
                 f"model_args: `{json.dumps(config['model_args'])}`. Use: `facehub.load(\"{options.target.name}\")(image).points`."),
        data=(("300-W (`../shared/data/300w68`: Helen train 870 and AFW 337 in-the-wild faces, the 300-W 68-point "
               "annotation; Sagonas et al. 2013, non-commercial research only) and " if "300w68" in info.get("data", "") else "")
              + "ytf68 (`../shared/data/ytf68`): 3,403 YouTube-Faces frames of 278 people with 68 points "
              "(YouTube Faces DB, Wolf et al. 2011, as prepared for a course): research use only. "
              + ("Large poses: face-profiled views of ytf68's training people (`scripts/export_profiled_landmarks.py`: "
                 "each face turned in 3D to |yaw| 25-88 degrees by `facehub/train/data/profiling.py`, its human 68 "
                 "points moved with the warp, so a jaw that turns away follows the 3D jaw as AFLW2000-3D's does). "
                 if "profiled" in info.get("data", "") else "")
              + f"Validation: {info['people']} held-out people ({info['count']} faces, each folder split by person, "
              f"seed {options.seed}), scored per folder."
              + (f" Extra training faces (never validated on): {info['teacher_faces']} MediaPipe Face Mesh faces of "
                 f"`{info['teacher_data']}` (CelebAMask-HQ / Figaro-1k images, research use only) mapped to 68 points "
                 "by `facehub/assets/prnet_68_map.json`, a share of "
                 f"{info['teacher_fraction']:.2f} of each batch at loss weight {info['teacher_weight']}."
                 if info.get("teacher_faces") else "")),
        training=((f"{info['history']} " if info.get("history") else "")
                  + f"This run: {info['step']} steps of batch {info['batch_size']}"
                  + (f" x {processes} processes (DDP)" if processes > 1 else "")
                  + f" ({info['wall_min']:.0f} min wall, {info.get('threads', 1)} CPU thread(s))"
                  + (f", initialised from `{info['init_from']}`" if info.get("init_from") else ", from scratch (no ImageNet weights)")
                  + ", AdamW + cosine LR, "
                  "crops from the ground truth's five points jittered like a detector, rotation up to 30 degrees, "
                  "scale, shift, " + (("mirror with index swap" + (f" ({info['flip_folders']} only)" if info.get("flip_folders") else "")
                                        + ", ") if flip_prob > 0 else "no mirroring, ")
                  + "colour, blur/downscale and occlusion patches. "
                  "Command: `python scripts/train_landmarks.py " + " ".join(argv) + "`."),
        metrics=metrics, tags=["landmarks", "face-alignment", config["family"]],
    )
