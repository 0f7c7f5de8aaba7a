"""The face-parsing training loop shared by both families (``scripts/train_parsing.py`` is its CLI).

Time-budgeted: the learning rate follows a warm-up + cosine schedule over
``minutes`` of wall time (not steps), so a run on a busy CPU still anneals and
ends on time. Checkpoints (``last.pt``: model, optimiser, step, elapsed time)
allow ``--resume``; the best validation checkpoint is exported with
``facehub.hub.save_pretrained`` to ``<out>/best/``. A CSV log (``log.csv``)
gets one row per logging interval and per validation.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from facehub.geometry.align import CropSpec
from facehub.hub import save_pretrained
from facehub.parsing.labels import FACEHUB
from facehub.registry import build_model
from facehub.train.eval.metrics import coarse_f1, confusion_matrix, f1_per_class
from facehub.train.parsing.dataset import (
    ParsingTrainSet,
    ParsingValSet,
    load_items,
    yaw_proxy,
)
from facehub.train.parsing.losses import (
    dice_loss,
    ohem_cross_entropy,
    reinforce_f1_loss,
)

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


@dataclass
class TrainConfig:
    """Everything a run needs; saved next to its checkpoints as ``train_config.json``."""

    family: str = "bisenet"
    out: str = "runs/bisenet"
    model_args: dict = field(default_factory=dict)
    input_size: int = 256
    zoom: float = 0.5
    shift_y: float = 0.0
    minutes: float = 75.0
    max_steps: int = 0  # 0 = only the time budget
    batch: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    ohem_keep: float = 0.3
    dice: float = 0.5
    aux: float = 0.4
    reward: float = 0.0  # weight of the REINFORCE F1 term (0 = off)
    reward_start: float = 0.5  # fraction of the budget after which the reward term is on
    val_every_minutes: float = 15.0
    val_items: int = 200
    final_val_items: int = 0  # 0 = the whole validation split
    checkpoint_every_minutes: float = 5.0
    threads: int = 1
    seed: int = 0
    schedule: str = "cosine"  # or "constant" (short comparisons)
    init_from: str = ""  # a last.pt whose model weights start this run (fine-tuning comparisons)


def lr_at(config: TrainConfig, progress: float) -> float:
    """Learning rate at ``progress`` in [0, 1] of the budget: 3% linear warm-up, then cosine to 1%
    (``schedule="constant"``: always ``config.lr``)."""
    if config.schedule == "constant":
        return config.lr
    if progress < 0.03:
        return config.lr * max(progress / 0.03, 0.02)
    t = min(1.0, (progress - 0.03) / 0.97)
    return config.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def checkpoint_config(config: TrainConfig) -> dict:
    """The ``config.json`` of an exported checkpoint."""
    model_args = dict(config.model_args, num_classes=len(FACEHUB))
    return {
        "family": config.family, "task": "parsing", "model_args": model_args, "labels": list(FACEHUB.names),
        "label_set": FACEHUB.name, "input_size": config.input_size, "crop": {"zoom": config.zoom, "shift_y": config.shift_y},
        "mean": MEAN, "std": STD,
    }


def compute_losses(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, config: TrainConfig,
                   use_reward: bool) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts for one batch: OHEM CE (+ aux heads) + Dice (+ REINFORCE F1)."""
    aux_capable = config.family == "bisenet" and config.aux > 0
    outputs = model(images, with_aux=True) if aux_capable else [model(images)]
    logits = outputs[0]
    ce = ohem_cross_entropy(logits, labels, keep=config.ohem_keep)
    total = ce + sum(config.aux * ohem_cross_entropy(o, labels, keep=config.ohem_keep) for o in outputs[1:])
    parts = {"ce": float(ce.detach())}
    if config.dice > 0:
        dice = dice_loss(logits, labels)
        total = total + config.dice * dice
        parts["dice"] = float(dice.detach())
    if use_reward:
        rl, reward = reinforce_f1_loss(logits, labels)
        total = total + config.reward * rl
        parts["reward"] = float(reward)
    return total, parts


@torch.inference_mode()
def validate(model: torch.nn.Module, dataset: ParsingValSet, limit: int = 0) -> dict[str, float]:
    """Per-class F1 on held-out crops (vs pseudo-labels) plus coarse F1 and mean5, overall and on turned faces."""
    model.eval()
    count = len(dataset) if limit <= 0 else min(limit, len(dataset))
    picks = np.linspace(0, len(dataset) - 1, count).astype(int)
    confusion = np.zeros((len(FACEHUB), len(FACEHUB)), dtype=np.int64)
    turned = np.zeros_like(confusion)
    for index in picks:
        image, label = dataset[index]
        pred = model(image[None]).argmax(1)[0].numpy()
        matrix = confusion_matrix(pred, label.numpy(), len(FACEHUB))
        confusion += matrix
        if yaw_proxy(dataset.items[index].points5) > 0.25:
            turned += matrix
    model.train()
    scores = {f"f1_{name}": float(v) for name, v in zip(FACEHUB.names, f1_per_class(confusion))}
    scores.update({f"coarse_{k}": v for k, v in coarse_f1(confusion, FACEHUB.names).items()})
    if turned.sum():
        scores["turned_mean5"] = coarse_f1(turned, FACEHUB.names)["mean5"]
    scores["val_images"] = float(count)
    return scores


class CsvLog:
    """Appends dict rows to ``path``; the header is the union of keys seen so far, fixed at the first row."""

    def __init__(self, path: Path, keys: list[str]) -> None:
        self.path, self.keys = path, keys
        if not path.exists():
            with path.open("w", newline="") as handle:
                csv.writer(handle).writerow(keys)

    def write(self, row: dict) -> None:
        with self.path.open("a", newline="") as handle:
            csv.writer(handle).writerow([row.get(k, "") for k in self.keys])


def _save_checkpoint(path: Path, model, optimiser, step: int, elapsed: float, best: float) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                "elapsed": elapsed, "best": best}, tmp)
    tmp.replace(path)


def train(config: TrainConfig, resume: bool = False) -> Path:
    """Run training; returns the folder of the best exported checkpoint (``<out>/best``)."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps(asdict(config), indent=2))
    spec = CropSpec(config.input_size, config.zoom, config.shift_y)
    train_set = ParsingTrainSet(load_items("train"), spec, MEAN, STD, seed=config.seed)
    val_set = ParsingValSet(load_items("val"), spec, MEAN, STD)
    sampler = torch.utils.data.WeightedRandomSampler(train_set.weights(), num_samples=10**7, replacement=True)
    loader = torch.utils.data.DataLoader(train_set, batch_size=config.batch, sampler=sampler, num_workers=0, drop_last=True)
    exported = checkpoint_config(config)
    model = build_model(config.family, exported["model_args"])
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "position" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1 or "position" in n]
    optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
    step, elapsed_before, best = 0, 0.0, -1.0
    last = out / "last.pt"
    if config.init_from:
        model.load_state_dict(torch.load(config.init_from, map_location="cpu", weights_only=True)["model"])
    if resume and last.is_file():
        state = torch.load(last, map_location="cpu", weights_only=True)  # training-time resume only
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step, elapsed_before, best = state["step"], state["elapsed"], state["best"]
    keys = ["step", "minutes", "lr", "loss", "ce", "dice", "reward", "coarse_mean5", "turned_mean5",
            *[f"f1_{n}" for n in FACEHUB.names], *[f"coarse_{n}" for n in ("background", "skin", "hair", "eyes", "nose", "mouth")]]
    log = CsvLog(out / "log.csv", keys)
    budget = config.minutes * 60.0
    start = time.time() - elapsed_before
    last_val, last_ckpt = time.time(), time.time()
    model.train()
    bar = tqdm(desc=f"train {config.family}", initial=step, unit="step", dynamic_ncols=True)
    running: dict[str, float] = {}
    for images, labels in loader:
        elapsed = time.time() - start
        progress = elapsed / budget
        if progress >= 1.0 or (config.max_steps and step >= config.max_steps):
            break
        lr = lr_at(config, progress)
        for group in optimiser.param_groups:
            group["lr"] = lr
        use_reward = config.reward > 0 and progress >= config.reward_start
        loss, parts = compute_losses(model, images, labels, config, use_reward)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimiser.step()
        step += 1
        for key, value in {"loss": float(loss), **parts}.items():
            running[key] = 0.9 * running.get(key, value) + 0.1 * value
        bar.update(1)
        bar.set_postfix(loss=f"{running['loss']:.3f}", lr=f"{lr:.1e}", min=f"{elapsed / 60:.1f}")
        if step % 20 == 0:
            log.write({"step": step, "minutes": round(elapsed / 60, 2), "lr": lr, **{k: round(v, 4) for k, v in running.items()}})
        if time.time() - last_ckpt > config.checkpoint_every_minutes * 60:
            _save_checkpoint(last, model, optimiser, step, time.time() - start, best)
            last_ckpt = time.time()
        if time.time() - last_val > config.val_every_minutes * 60:
            best = _validate_and_export(model, val_set, config, exported, step, time.time() - start, best, log)
            last_val = time.time()
    bar.close()
    best = _validate_and_export(model, val_set, config, exported, step, time.time() - start, best, log, limit=config.final_val_items, force=True)
    _save_checkpoint(last, model, optimiser, step, time.time() - start, best)
    return out / "best"


def _validate_and_export(model, val_set, config: TrainConfig, exported: dict, step: int, elapsed: float,
                         best: float, log: CsvLog, limit: int | None = None, force: bool = False) -> float:
    """Validate; export to ``<out>/best`` (and ``metrics.json``) when mean5 improved or ``force``
    (the final, annealed weights on the full validation set). Returns the best mean5."""
    scores = validate(model, val_set, config.val_items if limit is None else limit)
    log.write({"step": step, "minutes": round(elapsed / 60, 2), **{k: round(v, 4) for k, v in scores.items()}})
    tqdm.write(f"step {step}: val mean5 {scores['coarse_mean5']:.4f} turned {scores.get('turned_mean5', float('nan')):.4f}")
    out = Path(config.out)
    if force or scores["coarse_mean5"] > best:
        best = max(best, scores["coarse_mean5"])
        save_pretrained(model, exported, out / "best", half=False)
        (out / "best" / "metrics.json").write_text(json.dumps({"step": step, "minutes": elapsed / 60, **scores}, indent=2))
    return best


def compare_reward(config: TrainConfig, steps: int) -> dict[str, dict[str, float]]:
    """Fine-tune ``config.init_from`` twice for ``steps`` steps with identical batches: cross-entropy
    (+ Dice) alone, then with the REINFORCE F1 term (weight ``config.reward``, on from the start).
    Returns the final validation scores of both; runs go to ``<out>/ce`` and ``<out>/reward``."""
    from dataclasses import replace

    results = {}
    for name, reward in (("ce", 0.0), ("reward", config.reward or 0.5)):
        run = replace(config, out=str(Path(config.out) / name), reward=reward, reward_start=0.0, max_steps=steps,
                      minutes=10**6, val_every_minutes=10**6, schedule="constant")
        train(run)
        results[name] = json.loads((Path(run.out) / "best" / "metrics.json").read_text())
    (Path(config.out) / "comparison.json").write_text(json.dumps(results, indent=2))
    return results
