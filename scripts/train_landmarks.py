"""Train a 68-point landmark model (PIPNet or stacked Hourglass) on ytf68-style data.

    nohup python scripts/train_landmarks.py --family pipnet --out runs/pipnet --steps 6000 > runs/pipnet.log 2>&1 &
    python scripts/train_landmarks.py --family pipnet --out runs/pipnet --resume          # continue
    python scripts/train_landmarks.py --family pipnet --out runs/pipnet --export weights/pipnet  # ship best

Validation is on held-out people (``split_by_person``). ``runs/<name>/``: ``log.csv``
(step, losses, lr, val NME), ``last.pt`` (resume state, read with
``weights_only=True``), ``best/`` (a ``save_pretrained`` folder, fp32).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facehub.geometry.align import (  # noqa: E402
    CropSpec,
    alignment_matrix,
    five_points_from_68,
    transform_points,
)
from facehub.hub import ModelCard, push_to_hub, save_pretrained  # noqa: E402
from facehub.registry import build_model  # noqa: E402
from facehub.train.data import data_root  # noqa: E402
from facehub.train.data.landmark_files import read_labelled_folder  # noqa: E402
from facehub.train.data.teacher import teacher_landmark_samples  # noqa: E402
from facehub.train.data.ytf68 import LandmarkSample, split_by_person  # noqa: E402
from facehub.train.eval.metrics import landmark_summary, nme  # noqa: E402
from facehub.train.landmarks.augment import AugmentConfig, make_crop  # noqa: E402

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--family", choices=["pipnet", "hourglass"], default="pipnet")
    p.add_argument("--data", type=Path, default=None, help="labelled folder (default: data_root()/ytf68)")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/<family>)")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--minutes", type=float, default=None,
                   help="wall-clock budget: the LR schedule follows max(step/steps, time/budget) and training stops at 1")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--input-size", type=int, default=128)
    p.add_argument("--zoom", type=float, default=0.68)
    p.add_argument("--shift-y", type=float, default=-0.1)
    p.add_argument("--width", type=int, default=None, help="channels (pipnet: ResNet stem width, 32; hourglass: 64)")
    p.add_argument("--net-stride", type=int, default=16)
    p.add_argument("--num-nb", type=int, default=10)
    p.add_argument("--stacks", type=int, default=2)
    p.add_argument("--heatmap-size", type=int, default=32)
    p.add_argument("--val-fraction", type=float, default=0.12)
    p.add_argument("--val-every", type=int, default=250)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start from these weights (a run's last.pt or a save_pretrained folder); optimiser and step start fresh")
    p.add_argument("--teacher-data", default="",
                   help="comma-separated teacher caches (e.g. celebamask_hair_train,figaro1k_hair_train): MediaPipe "
                        "points mapped to 68 as extra training faces (never in validation)")
    p.add_argument("--teacher-fraction", type=float, default=0.25, help="share of each batch drawn from --teacher-data")
    p.add_argument("--teacher-weight", type=float, default=0.3, help="loss weight of the teacher-labelled faces")
    p.add_argument("--flip-prob", type=float, default=0.5,
                   help="share of training crops mirrored (with the point-index swap); 0 keeps the labels' own asymmetry")
    p.add_argument("--ema", type=float, default=0.0,
                   help="keep an exponential moving average of the weights with this decay (e.g. 0.998); "
                        "validation, best/ and export use the average")
    p.add_argument("--export", type=Path, default=None, help="write the best checkpoint, fp16 + model card, here and exit")
    p.add_argument("--pipeline-eval", type=Path, default=None,
                   help="with --export: JSON from scripts/evaluate_landmarks.py --out (full pipeline) for the card")
    p.add_argument("--refine-passes", type=int, default=0, help="with --export: re-alignment passes stored in config.json")
    p.add_argument("--flip-test", action="store_true", help="with --export: average with the mirrored crop at inference")
    p.add_argument("--push-to-hub", default=None, metavar="REPO", help="upload the exported folder to this Hub repo")
    p.add_argument("--history", default="", help="with --export: how the --init-from weights were trained, for the card")
    return p.parse_args(argv)


def model_args(args: argparse.Namespace) -> dict:
    if args.width is None:
        args.width = 32 if args.family == "pipnet" else 64
    if args.family == "pipnet":
        return {"num_points": 68, "num_nb": args.num_nb, "depth": 18, "width": args.width,
                "net_stride": args.net_stride, "input_size": args.input_size}
    return {"num_points": 68, "num_stacks": args.stacks, "width": args.width,
            "input_size": args.input_size, "heatmap_size": args.heatmap_size}


def make_config(args: argparse.Namespace) -> dict:
    return {"family": args.family, "task": "landmarks", "model_args": model_args(args),
            "labels": [f"p{i}" for i in range(68)], "num_points": 68, "point_set": "ibug68",
            "input_size": args.input_size, "crop": {"zoom": args.zoom, "shift_y": args.shift_y},
            "mean": MEAN, "std": STD}


def load_images(samples: list[LandmarkSample]) -> list[np.ndarray]:
    images = []
    for s in samples:
        image = cv2.imread(str(s.path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"Cannot read {s.path}")
        images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return images


def to_tensor(crops: list[np.ndarray]) -> torch.Tensor:
    """List of (s, s, 3) uint8 -> (B, 3, s, s) normalised float."""
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def batch(images, samples, indices, spec, cfg, rng) -> tuple[torch.Tensor, torch.Tensor]:
    crops, points = [], []
    for i in indices:
        crop, pts, _ = make_crop(images[i], samples[i].points, spec, cfg, rng)
        crops.append(crop)
        points.append(pts)
    return to_tensor(crops), torch.from_numpy(np.stack(points)).float()


def mean_face(samples: list[LandmarkSample], spec: CropSpec) -> np.ndarray:
    aligned = [transform_points(s.points, alignment_matrix(five_points_from_68(s.points), spec)) for s in samples]
    return np.mean(aligned, 0)


@torch.no_grad()
def evaluate(model, images, samples, spec, noise: float = 0.0, seed: int = 123) -> dict[str, float]:
    """NME on crops from the ground truth's 5 points (plus detector-like ``noise``)."""
    model.eval()
    cfg = AugmentConfig.none()
    cfg.point_noise = noise
    rng = np.random.default_rng(seed)
    errors = []
    for start in range(0, len(samples), 64):
        idx = range(start, min(start + 64, len(samples)))
        x, pts = batch(images, samples, idx, spec, cfg, rng)
        pred = model.decode_outputs(model(x))
        errors.append(nme(pred.numpy(), pts.numpy()))
    model.train()
    return landmark_summary(np.concatenate(errors))


def progress_of(step: int, minutes: float, args: argparse.Namespace) -> float:
    """Training progress in [0, 1]: by steps, or by wall time when ``--minutes`` is given (whichever is further)."""
    progress = step / args.steps
    if args.minutes:
        progress = max(progress, minutes / args.minutes)
    return progress


def lr_at(step: int, progress: float, args: argparse.Namespace) -> float:
    warm = min(300, args.steps // 10)
    if step < warm and progress < 0.1:
        return args.lr * (step + 1) / warm
    return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def measure_ms(model, size: int, repeats: int = 40) -> tuple[float, float]:
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


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """``ema`` <- decay * ema + (1 - decay) * model for parameters; buffers (BN statistics) are copied."""
    for averaged, current in zip(ema.parameters(), model.parameters()):
        averaged.mul_(decay).add_(current, alpha=1 - decay)
    for averaged, current in zip(ema.buffers(), model.buffers()):
        averaged.copy_(current)


def load_initial_weights(model: torch.nn.Module, source: Path) -> None:
    """Load ``source`` (a run's ``last.pt`` or a ``save_pretrained`` folder) into ``model``, strictly."""
    if source.is_dir():
        from facehub.hub import load_state_dict_strict

        load_state_dict_strict(model, source / "model.safetensors")
    else:
        model.load_state_dict(torch.load(source, weights_only=True)["model"])


def export(args: argparse.Namespace, out: Path) -> None:
    """Write ``out/best`` as fp16 + model card to ``args.export`` (and push it when asked)."""
    from facehub.hub import load_state_dict_strict, read_config

    best = out / "best"
    config = read_config(best)
    model = build_model(config["family"], config["model_args"])
    load_state_dict_strict(model, best / "model.safetensors")
    info = json.loads((out / "best_info.json").read_text())
    info["history"] = args.history
    torch.set_num_threads(1)
    factor = (2 if args.flip_test else 1) * (1 + args.refine_passes)
    fastest, median = (factor * t for t in measure_ms(model, config["input_size"]))
    load = os.getloadavg()[0]
    config = {k: v for k, v in config.items() if k != "training"}
    config["refine_passes"] = args.refine_passes
    config["flip_test"] = args.flip_test
    metrics = {"val NME (inter-ocular, GT 5-point crops)": f"{info['nme']:.4f}",
               "val failure rate @0.10": f"{info['fr']:.4f}", "val AUC @0.10": f"{info['auc']:.4f}",
               "val NME, 5 points jittered 5% (detector-like)": f"{info.get('nme_noisy', float('nan')):.4f}",
               "val faces / people": f"{info['count']} / {info['people']}",
               "model ms per face, 1 thread, fastest of 40 (shared 2-core CPU)": f"{fastest:.1f}",
               f"model ms per face, 1 thread, median (load average {load:.0f} on 2 cores)": f"{median:.1f}"}
    argv = info.get("argv", [])
    flip_prob = info.get("flip_prob", float(argv[argv.index("--flip-prob") + 1]) if "--flip-prob" in argv else 0.5)
    if args.pipeline_eval is not None:
        pipe = json.loads(args.pipeline_eval.read_text())["summary"]
        metrics.update({
            "pipeline val NME (MTCNN boxes, refine %d, flip %s)" % (pipe["refine_passes"], pipe.get("flip_test")): f"{pipe['nme']:.4f}",
            "pipeline val failure rate @0.10 (misses count)": f"{pipe['fr']:.4f}",
            "pipeline val AUC @0.10": f"{pipe['auc']:.4f}",
            "pipeline missed faces": f"{pipe['missed']} / {pipe['count']}",
            "pipeline landmark ms per face (median, incl. crops)": f"{pipe['landmark_ms_per_face_median']:.1f}",
        })
    name = "PIPNet" if config["family"] == "pipnet" else "Stacked Hourglass"
    card = ModelCard(
        title=f"FaceHub {name}, 68 facial landmarks",
        summary=(f"{name} predicting the 68 iBUG/300W points on a {config['input_size']} px face crop aligned from "
                 f"MTCNN's five points (`CropSpec` zoom {config['crop']['zoom']}, shift_y {config['crop']['shift_y']}). "
                 f"model_args: `{json.dumps(config['model_args'])}`. Use: `facehub.load(\"{args.export.name}\")(image).points`."),
        data=("ytf68 (`../shared/data/ytf68`): 3,403 YouTube-Faces frames of 278 people with 68 points "
              "(YouTube Faces DB, Wolf et al. 2011, as prepared for a course): research use only. "
              f"Validation: {info['people']} held-out people ({info['count']} faces, split by person, seed {args.seed})."
              + (f" Extra training faces (never validated on): {info['teacher_faces']} MediaPipe Face Mesh faces of "
                 f"`{info['teacher_data']}` (CelebAMask-HQ / Figaro-1k images, research use only) mapped to 68 points "
                 "by `facehub/assets/prnet_68_map.json`, a share of "
                 f"{info['teacher_fraction']:.2f} of each batch at loss weight {info['teacher_weight']}."
                 if info.get("teacher_faces") else "")),
        training=((f"{info['history']} " if info.get("history") else "")
                  + f"This run: {info['step']} steps of batch {info['batch_size']} ({info['wall_min']:.0f} min wall, "
                  f"{info.get('threads', 1)} CPU thread(s))"
                  + (f", initialised from `{info['init_from']}`" if info.get("init_from") else ", from scratch (no ImageNet weights)")
                  + ", AdamW + cosine LR, "
                  "crops from the ground truth's five points jittered like a detector, rotation up to 30 degrees, "
                  "scale, shift, " + ("mirror with index swap, " if flip_prob > 0 else "no mirroring, ")
                  + "colour, blur/downscale and occlusion patches. "
                  "Command: `python scripts/train_landmarks.py " + " ".join(argv) + "`."),
        metrics=metrics, tags=["landmarks", "face-alignment", config["family"]],
    )
    save_pretrained(model, config, args.export, card=card, half=True)
    print(f"exported {args.export} ({fastest:.1f} / {median:.1f} ms per face, fastest / median)")
    if args.push_to_hub:
        print(push_to_hub(args.export, args.push_to_hub))


def train(args: argparse.Namespace, out: Path) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    samples = read_labelled_folder(args.data or data_root() / "ytf68")
    train_s, val_s = split_by_person(samples, args.val_fraction, args.seed)
    print(f"{len(train_s)} train / {len(val_s)} val faces; {len({s.person for s in val_s})} val people", flush=True)
    train_i, val_i = load_images(train_s), load_images(val_s)
    spec = CropSpec(args.input_size, args.zoom, args.shift_y)
    config = make_config(args)
    model = build_model(args.family, config["model_args"])
    if hasattr(model, "set_neighbours"):
        model.set_neighbours(mean_face(train_s, spec))
    if args.init_from is not None and not args.resume:
        load_initial_weights(model, args.init_from)
        print(f"initialised from {args.init_from}", flush=True)
    teacher_s = teacher_landmark_samples(args.teacher_data.split(",")) if args.teacher_data else []
    teacher_i = load_images(teacher_s)
    n_teacher = round(args.batch_size * args.teacher_fraction) if teacher_s else 0
    if teacher_s:
        print(f"{len(teacher_s)} teacher-labelled faces, {n_teacher} per batch at loss weight {args.teacher_weight}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    ema = copy.deepcopy(model).eval() if args.ema > 0 else None
    step, best, elapsed0 = 0, float("inf"), 0.0
    if args.resume and (out / "last.pt").is_file():
        state = torch.load(out / "last.pt", weights_only=True)
        model.load_state_dict(state["model"])
        if ema is not None:
            ema.load_state_dict(state.get("ema", state["model"]))
        opt.load_state_dict(state["opt"])
        step, best, elapsed0 = state["step"], state["best"], state["elapsed"]
        print(f"resumed at step {step} (best val NME {best:.4f})", flush=True)
    rng = np.random.default_rng(args.seed + step)
    cfg = AugmentConfig(flip_prob=args.flip_prob)
    log_path = out / "log.csv"
    new_log = not log_path.is_file() or not args.resume
    log = log_path.open("w" if new_log else "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "loss", "lr", "val_nme", "val_fr", "val_auc", "val_nme_noisy", "minutes"])
    from tqdm import tqdm

    bar = tqdm(total=args.steps, initial=step, disable=not sys.stderr.isatty(), dynamic_ncols=True)
    start, running = time.time(), None
    model.train()
    minutes = elapsed0 / 60
    while progress_of(step, minutes, args) < 1.0:
        lr = lr_at(step, progress_of(step, minutes, args), args)
        for group in opt.param_groups:
            group["lr"] = lr
        x, pts = batch(train_i, train_s, rng.integers(0, len(train_s), args.batch_size - n_teacher), spec, cfg, rng)
        if n_teacher:
            xt, pts_t = batch(teacher_i, teacher_s, rng.integers(0, len(teacher_s), n_teacher), spec, cfg, rng)
            outputs = model(torch.cat([x, xt]))
            n_real = len(x)
            terms = model.loss(tuple(o[:n_real] for o in outputs), pts)
            extra = model.loss(tuple(o[n_real:] for o in outputs), pts_t)
            terms["total"] = terms["total"] + args.teacher_weight * extra["total"]
        else:
            terms = model.loss(model(x), pts)
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        opt.step()
        if ema is not None:
            update_ema(ema, model, args.ema)
        step += 1
        running = terms["total"].item() if running is None else 0.98 * running + 0.02 * terms["total"].item()
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}", lr=f"{lr:.1e}")
        minutes = (elapsed0 + time.time() - start) / 60
        if step % 50 == 0 and not sys.stderr.isatty():
            print(f"step {step}/{args.steps} loss {running:.4f} lr {lr:.2e} {minutes:.1f} min", flush=True)
        done = progress_of(step, minutes, args) >= 1.0
        if step % args.val_every == 0 or done:
            judged = ema if ema is not None else model
            clean = evaluate(judged, val_i, val_s, spec)
            noisy = evaluate(judged, val_i, val_s, spec, noise=0.05)
            writer.writerow([step, f"{running:.5f}", f"{lr:.2e}", f"{clean['nme']:.5f}", f"{clean['fr']:.4f}",
                             f"{clean['auc']:.4f}", f"{noisy['nme']:.5f}", f"{minutes:.1f}"])
            log.flush()
            print(f"VAL step {step}: nme {clean['nme']:.4f} fr {clean['fr']:.4f} auc {clean['auc']:.4f} "
                  f"noisy nme {noisy['nme']:.4f}", flush=True)
            if noisy["nme"] < best:
                best = noisy["nme"]
                save_pretrained(judged, config, out / "best", half=False)
                info = {**clean, "nme_noisy": noisy["nme"], "step": step, "batch_size": args.batch_size,
                        "wall_min": minutes, "people": len({s.person for s in val_s}), "argv": sys.argv[1:], "flip_prob": args.flip_prob,
                        "threads": args.threads, "init_from": str(args.init_from or ""),
                        "teacher_data": args.teacher_data, "teacher_faces": len(teacher_s),
                        "teacher_fraction": args.teacher_fraction, "teacher_weight": args.teacher_weight,
                        "ema": args.ema}
                (out / "best_info.json").write_text(json.dumps(info, indent=2))
        if step % 100 == 0 or step % args.val_every == 0 or done:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "best": best,
                        **({"ema": ema.state_dict()} if ema is not None else {}),
                        "elapsed": elapsed0 + time.time() - start}, out / "last.pt")
    bar.close()
    log.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    out = args.out or Path("runs") / args.family
    out.mkdir(parents=True, exist_ok=True)
    if args.export is not None:
        export(args, out)
    else:
        train(args, out)


if __name__ == "__main__":
    main()
