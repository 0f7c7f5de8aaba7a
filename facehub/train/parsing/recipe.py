"""The face-parsing recipe (both families) for the training engine; ``scripts/train_parsing.py`` is its CLI.

Labels: the run's ``label_set`` (default CelebAMask-HQ's 19 classes); human-labelled ``human_sets`` (celebamask19)
make ``human_share`` of the samples, the pseudo-label cache the rest (turned faces, hair masks), each item's map
converted to the run's classes by name. ``init_from`` a shipped folder with other classes starts through
``relabel.load_relabelled``.

Time-budgeted: the learning rate follows :data:`PARSING_SCHEDULE` (3% linear warm-up from 2%,
then cosine to 1%) over ``minutes`` of wall time (not steps), so a run on a busy CPU still
anneals and ends on time. The engine writes ``last.pt`` every ``checkpoint_every_minutes``
(``--resume`` continues it), ``log.csv`` (a row every 20 steps and per validation) and exports
the best validation weights (``monitor``: by default the group mean F1 on the human validation faces) to ``<out>/best/`` with ``metrics.json``; the final,
annealed weights, validated on ``final_val_items``, always become ``best/``. Under torchrun each
process trains on its share of each global batch of ``N x batch`` crops (gradients synced by DDP).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from facehub.geometry.align import CropSpec
from facehub.parsing.labels import get_label_set
from facehub.registry import build_model
from facehub.train import engine
from facehub.train.distributed import is_main_process
from facehub.train.eval.metrics import (
    coarse_f1,
    confusion_matrix,
    f1_per_class,
    group_f1,
)
from facehub.train.parsing.augment import ParsingAugment
from facehub.train.parsing.dataset import (
    ParsingItem,
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
from facehub.train.parsing.partial import alternatives_table, sample_tables
from facehub.train.parsing.profiled import is_profiled
from facehub.train.parsing.relabel import load_relabelled
from facehub.train.schedule import Schedule

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
PARSING_SCHEDULE = Schedule(warmup=0.03, warmup_floor=0.02, end=0.01, height=0.99)


@dataclass
class ParsingConfig:
    """Everything a run needs; saved next to its checkpoints as ``train_config.json``."""

    family: str = "bisenet"
    out: str = "runs/bisenet"
    model_args: dict = field(default_factory=dict)
    label_set: str = "celebamask"
    human_sets: str = "celebamask19"  # comma-separated; "" = pseudo-labels only
    human_share: float = 0.6  # share of training samples drawn from the human-labelled sets
    profiled_share: float = 0.0  # share of the human samples from face-profiled views (profiled_<set> in human_sets)
    rare_boost: float = 1.0  # sampling weight of a human-labelled face showing glasses, a hat, an earring or a necklace
    lip_colour: float = 0.0  # probability of recolouring a sample's labelled lips (augment.recolour_lips)
    partial_labels: bool = False  # teacher "skin" may be glasses etc. (facehub.train.parsing.partial)
    self_labels: str = ""  # a scripts/self_label_parsing.py folder: its training labels replace the teacher's
    input_size: int = 384
    zoom: float = 0.55  # CelebA-HQ's own framing is ~0.74 (scripts/detect_parsing_faces.py points): this shows the whole head
    shift_y: float = -0.03  # face a little above centre: more neck, shoulders and long hair below
    minutes: float = 75.0
    max_steps: int = 0  # 0 = only the time budget
    batch: int = 8  # per process; under torchrun the effective batch is N x batch
    lr: float = 2e-3
    weight_decay: float = 1e-4
    ohem_keep: float = 0.3
    dice: float = 0.5
    aux: float = 0.4
    reward: float = 0.0  # weight of the REINFORCE F1 term (0 = off)
    reward_start: float = 0.5  # fraction of the budget after which the reward term is on
    val_every_minutes: float = 15.0
    val_every_steps: int = 0  # 0 = by minutes only; compare_reward validates both runs at the same steps
    val_items: int = 200
    final_val_items: int = 0  # 0 = the whole validation split
    checkpoint_every_minutes: float = 5.0
    threads: int = 1
    seed: int = 0
    schedule: str = "cosine"  # or "constant" (short comparisons)
    init_from: str = ""  # a last.pt or a save_pretrained folder (other classes are mapped by name) starting this run
    monitor: str = "human_mean11"  # or "coarse_mean5" (pseudo-labelled validation faces)

    @property
    def labels(self):
        return get_label_set(self.label_set)

    @property
    def human(self) -> tuple[str, ...]:
        return tuple(n for n in self.human_sets.split(",") if n)


def checkpoint_config(config: ParsingConfig) -> dict:
    """The ``config.json`` of an exported checkpoint."""
    labels = config.labels
    model_args = dict(config.model_args, num_classes=len(labels))
    return {
        "family": config.family, "task": "parsing", "model_args": model_args, "labels": list(labels.names),
        "label_set": labels.name, "input_size": config.input_size, "crop": {"zoom": config.zoom, "shift_y": config.shift_y},
        "mean": MEAN, "std": STD,
    }


def compute_losses(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, config: ParsingConfig,
                   use_reward: bool, human: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts for one batch (images (B, 3, s, s), labels (B, s, s) int64, 255 = ignore;
    ``human`` (B,) bool, which samples a person labelled): OHEM CE (+ aux heads; partial labels on the
    teacher's samples with ``config.partial_labels``) + Dice (+ REINFORCE F1)."""
    aux_capable = config.family == "bisenet" and config.aux > 0
    outputs = model(images, with_aux=True) if aux_capable else [model(images)]
    logits = outputs[0]
    allowed = None
    if config.partial_labels and human is not None:
        allowed = sample_tables(human, alternatives_table(config.labels).to(labels.device))
    ce = ohem_cross_entropy(logits, labels, keep=config.ohem_keep, allowed=allowed)
    total = ce + sum(config.aux * ohem_cross_entropy(o, labels, keep=config.ohem_keep, allowed=allowed)
                     for o in outputs[1:])
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
    """F1 on held-out crops in ``dataset.labels``: on the human-labelled faces per class group and their mean
    (``human_mean11``, the hidden CelebAMask-HQ-19 measure; their face-profiled views apart, as
    ``profiled_<group>`` and ``profiled_mean11``); on the pseudo-labelled faces per class, coarse F1
    and mean5, overall and on turned faces. ``limit`` caps the pseudo-labelled faces (evenly spaced)."""
    model.eval()
    device = next(model.parameters()).device
    labels = dataset.labels
    human = [i for i, item in enumerate(dataset.items) if item.human]
    pseudo = [i for i, item in enumerate(dataset.items) if not item.human]
    if limit > 0 and len(pseudo) > limit:
        pseudo = [pseudo[i] for i in np.linspace(0, len(pseudo) - 1, limit).astype(int)]
    confusions = {name: np.zeros((len(labels), len(labels)), dtype=np.int64)
                  for name in ("human", "profiled", "pseudo", "turned")}
    for index in human + pseudo:
        image, label = dataset[index]
        pred = model(image[None].to(device)).argmax(1)[0].cpu().numpy()
        matrix = confusion_matrix(pred, label.numpy(), len(labels))
        item = dataset.items[index]
        confusions[("profiled" if is_profiled(item.dataset) else "human") if item.human else "pseudo"] += matrix
        if not item.human and yaw_proxy(item.points5) > 0.25:
            confusions["turned"] += matrix
    model.train()
    scores: dict[str, float] = {}
    for name in ("human", "profiled"):
        if confusions[name].sum():
            scores.update({f"{name}_{k}" if k != "mean" else f"{name}_mean11": v
                           for k, v in group_f1(confusions[name], labels.names).items()})
    if pseudo:
        scores.update({f"f1_{name}": float(v) for name, v in zip(labels.names, f1_per_class(confusions["pseudo"]))})
        scores.update({f"coarse_{k}": v for k, v in coarse_f1(confusions["pseudo"], labels.names).items()})
    if confusions["turned"].sum():
        scores["turned_mean5"] = coarse_f1(confusions["turned"], labels.names)["mean5"]
    scores["val_images"] = float(len(human) + len(pseudo))
    return scores


def _is_folder(path: str) -> bool:
    return bool(path) and Path(path).is_dir()


class ParsingRecipe(engine.Recipe):
    """Weighted random crops (human labels at ``human_share``, turned faces oversampled); validation on held-out crops."""

    def __init__(self, config: ParsingConfig, train_items: list[ParsingItem] | None = None,
                 val_items: list[ParsingItem] | None = None) -> None:
        """Items default to the pseudo-label cache's splits plus the human sets' (``load_items``)."""
        self.config = config
        self.spec = CropSpec(config.input_size, config.zoom, config.shift_y)
        self_labels = Path(config.self_labels) if config.self_labels else None
        self.train_items = load_items("train", human=config.human, self_labels=self_labels) if train_items is None else train_items
        val_items = load_items("val", human=config.human) if val_items is None else val_items
        self.val_set = ParsingValSet(val_items, self.spec, MEAN, STD, labels=config.labels)

    def models(self) -> dict[str, torch.nn.Module]:
        """The parser; ``init_from`` a checkpoint folder is loaded here (its classes mapped to the run's by name)."""
        model = build_model(self.config.family, checkpoint_config(self.config)["model_args"])
        if _is_folder(self.config.init_from):
            load_relabelled(model, self.config.init_from, self.config.labels)
        return {"model": model}

    def optimisers(self, models: dict[str, torch.nn.Module], config: engine.EngineConfig) -> dict[str, torch.optim.Optimizer]:
        """AdamW; no weight decay on biases, norms and position embeddings."""
        named = list(models["model"].named_parameters())
        decay = [p for n, p in named if p.ndim > 1 and "position" not in n]
        no_decay = [p for n, p in named if p.ndim <= 1 or "position" in n]
        groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return {"model": torch.optim.AdamW(groups, lr=config.lr)}

    def batches(self, shard: engine.Shard, start_step: int):
        """This rank's crops of one seeded weighted stream; augmentation randomness differs per rank."""
        train_set = ParsingTrainSet(self.train_items, self.spec, MEAN, STD, seed=self.config.seed + shard.rank,
                                    config=ParsingAugment(lip_colour_p=self.config.lip_colour),
                                    labels=self.config.labels, human_share=self.config.human_share,
                                    rare_boost=self.config.rare_boost, profiled_share=self.config.profiled_share)
        generator = torch.Generator().manual_seed(self.config.seed)
        sampler = torch.utils.data.WeightedRandomSampler(train_set.weights(), num_samples=10**7, replacement=True,
                                                         generator=generator)
        return engine.shard_loader(train_set, self.config.batch, shard, start_step, sampler=sampler)

    def loss(self, model: torch.nn.Module, batch, ctx: engine.StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        images, labels, human = batch
        use_reward = self.config.reward > 0 and ctx.progress >= self.config.reward_start
        return compute_losses(model, images, labels, self.config, use_reward, human)

    def validate(self, model: torch.nn.Module, final: bool) -> dict[str, float]:
        return validate(model, self.val_set, self.config.final_val_items if final else self.config.val_items)

    def export_config(self) -> dict:
        return checkpoint_config(self.config)


def engine_config(config: ParsingConfig, resume: bool = False) -> engine.EngineConfig:
    """The engine settings of a parsing run: time budget, clipping at 5, best by ``config.monitor``; an
    ``init_from`` folder is loaded by the recipe (``models``), a ``last.pt`` by the engine."""
    return engine.EngineConfig(
        out=config.out, lr=config.lr, weight_decay=config.weight_decay, minutes=config.minutes, max_steps=config.max_steps,
        schedule=None if config.schedule == "constant" else PARSING_SCHEDULE, clip_grad=5.0,
        val_every=config.val_every_steps, val_every_minutes=config.val_every_minutes,
        checkpoint_every_minutes=config.checkpoint_every_minutes,
        log_every=20, smoothing=0.9, monitor=config.monitor, mode="max", export_final=True,
        report=("human_mean11", "profiled_mean11", "coarse_mean5", "turned_mean5"), resume=resume,
        init_from="" if _is_folder(config.init_from) else config.init_from, seed=config.seed,
        threads=config.threads, desc=f"train {config.family}",
        find_unused_parameters=config.family == "bisenet" and config.aux <= 0,  # the aux heads get no gradient then
    )


def train(config: ParsingConfig, resume: bool = False) -> Path:
    """Run training; returns the folder of the exported checkpoint (``<out>/best``)."""
    out = Path(config.out)
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(asdict(config), indent=2))
    engine.train(ParsingRecipe(config), engine_config(config, resume))
    return out / "best"


def compare_reward(config: ParsingConfig, steps: int) -> dict[str, dict[str, float]]:
    """Fine-tune ``config.init_from`` twice for ``steps`` steps with identical batches: cross-entropy
    (+ Dice) alone, then with the REINFORCE F1 term (weight ``config.reward``, on from the start); both are
    validated at the same steps (every ``steps // 4`` unless ``config.val_every_steps`` says), so their
    ``log.csv`` curves line up. Returns the final validation scores of both; runs go to ``<out>/ce`` and
    ``<out>/reward``."""
    results = {}
    for name, reward in (("ce", 0.0), ("reward", config.reward or 0.5)):
        run = replace(config, out=str(Path(config.out) / name), reward=reward, reward_start=0.0, max_steps=steps,
                      minutes=10**6, val_every_minutes=0.0, val_every_steps=config.val_every_steps or max(1, steps // 4),
                      schedule="constant")
        train(run)
        results[name] = json.loads((Path(run.out) / "best" / "metrics.json").read_text())
    (Path(config.out) / "comparison.json").write_text(json.dumps(results, indent=2))
    return results
