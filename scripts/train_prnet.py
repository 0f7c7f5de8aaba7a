"""Train PRNet on MediaPipe-teacher UV position maps.

    nohup python scripts/train_prnet.py --out runs/prnet --budget-min 75 > runs/prnet.log 2>&1 &
    python scripts/train_prnet.py --out runs/prnet --resume     # continue after a stop

The learning rate follows a cosine over the *time budget* (``--budget-min``;
or over ``--epochs`` when no budget is given), so the run anneals by its
deadline however busy the machine is. Writes ``OUT/last.pt`` every
``--save-every`` steps, ``OUT/best.pt`` on the best held-out NME, and
``OUT/log.csv``. ``--push-to-hub REPO`` exports ``best.pt`` with ``scripts/export_prnet.py``
to ``OUT/export`` and uploads it at the end.
For DDP, run under ``torchrun``: the script wraps the model when ``WORLD_SIZE`` > 1.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from facehub.geometry.align import CropSpec  # noqa: E402
from facehub.reconstruction.models.prnet import PRNet  # noqa: E402
from facehub.reconstruction.uv import points_468_to_68, uv_layout  # noqa: E402
from facehub.train.reconstruction.dataset import (  # noqa: E402
    Augment,
    PRNetDataset,
    build_loose_crops,
)
from facehub.train.reconstruction.losses import loss_mask, nme_68, nme_real  # noqa: E402

MEAN, STD = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]


@torch.inference_mode()
def evaluate(
    model: torch.nn.Module, data: PRNetDataset, batch: int = 32, mapping: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, float]:
    """Held-out NME (teacher 68-mapped points), NME against human labels (ytf68 faces, ``mapping``) and UV-map mean abs error (crop px)."""
    model.eval()
    layout = data.layout
    errors, real, maes = [], [], []
    valid = torch.from_numpy(layout.valid)
    for start in range(0, len(data), batch):
        items = [data[i] for i in range(start, min(start + batch, len(data)))]
        x, uv, pts, labels = (torch.stack(t) for t in zip(*items))
        out = model(x)
        vertices = layout.sample(out)
        errors.append(nme_68(vertices, pts))
        labelled = torch.isfinite(labels[:, 0, 0])
        if labelled.any():
            real.append(nme_real(vertices[labelled], labels[labelled], mapping))
        maes.append((out - uv).abs()[:, :, valid].mean((1, 2)))
    model.train()
    real_nme = float(torch.cat(real).mean()) if real else float("nan")
    return {"nme68": float(torch.cat(errors).mean()), "nme_real": real_nme, "uv_mae": float(torch.cat(maes).mean())}


def learning_rate(base: float, progress: float, warmup: float = 0.02) -> float:
    if progress < warmup:
        return base * progress / warmup
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / (1 - warmup)))) + base * 0.01


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/prnet"))
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--uv-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--zoom", type=float, default=0.65)
    parser.add_argument("--shift-y", type=float, default=-0.06)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--budget-min", type=float, default=0.0, help="wall-clock budget; 0 = by epochs")
    parser.add_argument("--eval-every", type=int, default=400)
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument("--val-limit", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--init-from", type=Path, help="start from this run's checkpoint (weights only)")
    parser.add_argument("--labels68-weight", type=float, default=0.0,
                        help="weight of an L1 loss (crop px) between the mapped 68 points and ytf68's human labels; "
                             "> 0 also picks the best checkpoint by held-out NME against those labels")
    parser.add_argument("--no-mirror-labels", action="store_true",
                        help="the human-label loss only on unmirrored samples (mirrored ones keep the teacher loss)")
    parser.add_argument("--map-68", type=Path, help="468 -> 68 map JSON (scripts/fit_68_map.py --out) for that loss; default: the teacher map")
    parser.add_argument("--push-to-hub", default="")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)

    spec = CropSpec(args.input_size, args.zoom, args.shift_y)
    loose = int(round(args.input_size * 1.625))
    train_crops = build_loose_crops("train", spec, loose)
    val_crops = build_loose_crops("val", spec, loose)
    train = PRNetDataset(train_crops, spec, args.uv_size, Augment(), MEAN, STD, seed=int(time.time()), mirror_labels=not args.no_mirror_labels)
    val = PRNetDataset(val_crops, spec, args.uv_size, Augment.none(), MEAN, STD)
    pick = np.random.default_rng(0).permutation(len(val))[: args.val_limit]
    val_subset = torch.utils.data.Subset(val, pick.tolist())
    val_subset.layout = val.layout  # type: ignore[attr-defined]
    print(f"train faces {len(train)}, val faces {len(val)} (evaluating {len(pick)})", flush=True)

    model_args = dict(input_size=args.input_size, uv_size=args.uv_size, width=args.width, depth=args.depth)
    model = PRNet(**model_args)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    mask = torch.from_numpy(loss_mask(uv_layout(args.uv_size)))[None, None]
    mapping = None
    if args.map_68:
        fitted = json.loads(args.map_68.read_text())
        mapping = (np.asarray(fitted["indices"]), np.asarray(fitted["weights"], dtype=np.float64))
    if args.init_from:
        model.load_state_dict(torch.load(args.init_from, map_location="cpu", weights_only=True)["model"])
        print(f"initialised from {args.init_from}", flush=True)
    select = "nme_real" if args.labels68_weight > 0 else "nme68"
    step, elapsed, best = 0, 0.0, float("inf")
    if args.resume and (args.out / "last.pt").is_file():
        state = torch.load(args.out / "last.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed, best = state["step"], state["elapsed"], state["best"]
        print(f"resumed at step {step}, {elapsed / 60:.1f} min, best {best:.4f}", flush=True)
    steps_per_epoch = len(train) // args.batch
    total_steps = args.epochs * steps_per_epoch
    extra = {"model_args": model_args, "crop": {"zoom": args.zoom, "shift_y": args.shift_y}, "uv_size": args.uv_size}

    def save(name: str) -> None:
        torch.save(
            {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "elapsed": elapsed, "best": best, **extra},
            args.out / f"{name}.tmp",
        )
        os.replace(args.out / f"{name}.tmp", args.out / f"{name}.pt")

    log_path = args.out / "log.csv"
    new_log = not log_path.is_file()
    log = log_path.open("a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "epoch", "minutes", "lr", "loss", "val_nme68", "val_uv_mae", "val_nme_real"])
    loader = torch.utils.data.DataLoader(train, batch_size=args.batch, shuffle=True, drop_last=True, num_workers=0)
    model.train()
    start = time.time() - elapsed
    bar = tqdm(initial=step, total=total_steps if not args.budget_min else None, dynamic_ncols=True, mininterval=10)
    running, done = 0.0, False
    while not done:
        for x, uv, _, labels in loader:
            elapsed = time.time() - start
            progress = elapsed / (args.budget_min * 60) if args.budget_min else step / total_steps
            if progress >= 1.0:
                done = True
                break
            lr = learning_rate(args.lr, progress)
            for group in optimizer.param_groups:
                group["lr"] = lr
            out = model(x)
            loss = ((out - uv).abs().sum(1, keepdim=True) * mask).sum() / (mask.sum() * len(x))
            labelled = torch.isfinite(labels[:, 0, 0])
            if args.labels68_weight > 0 and labelled.any():
                points = points_468_to_68(train.layout.sample(out[labelled]), mapping)[..., :2]
                loss = loss + args.labels68_weight * (points - labels[labelled]).abs().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            value = float(loss.detach())
            running = 0.98 * running + 0.02 * value if step > 1 else value
            bar.update(1)
            bar.set_postfix(loss=f"{running:.3f}", lr=f"{lr:.1e}", min=f"{elapsed / 60:.1f}")
            if step % args.save_every == 0:
                save("last")
            if step % args.eval_every == 0:
                metrics = evaluate(model, val_subset, mapping=mapping)
                writer.writerow([step, round(step / steps_per_epoch, 2), round(elapsed / 60, 2), f"{lr:.2e}", round(running, 4),
                                 round(metrics["nme68"], 5), round(metrics["uv_mae"], 3), round(metrics["nme_real"], 5)])
                log.flush()
                print(f"\nstep {step}: {metrics}", flush=True)
                if metrics[select] < best:
                    best = metrics[select]
                    save("best")
    metrics = evaluate(model, val_subset, mapping=mapping)
    writer.writerow([step, round(step / steps_per_epoch, 2), round(elapsed / 60, 2), "end", round(running, 4),
                     round(metrics["nme68"], 5), round(metrics["uv_mae"], 3), round(metrics["nme_real"], 5)])
    log.close()
    if metrics[select] < best:
        best = metrics[select]
        save("best")
    save("last")
    print(f"done: step {step}, final {metrics}, best {best:.4f}", flush=True)
    if args.push_to_hub:
        import subprocess

        from facehub.hub import push_to_hub

        export = Path(__file__).resolve().parent / "export_prnet.py"
        subprocess.run(
            [sys.executable, str(export), "--checkpoint", str(args.out / "best.pt"), "--log", str(log_path), "--out", str(args.out / "export")],
            check=True,
        )
        print(push_to_hub(args.out / "export", args.push_to_hub))


if __name__ == "__main__":
    main()
