"""The PRNet recipe for the training engine (``scripts/train_prnet.py`` is its CLI).

Targets are the MediaPipe teacher's UV position maps (``dataset.py``); the loss is PRNet's
region-weighted L1 on the map, plus, with ``labels68_weight`` > 0, an L1 between the 68 points
mapped from the predicted map and ytf68's human labels. The learning rate is the engine's
warm-up + cosine (:data:`SCHEDULE`) over the wall-clock budget ``budget_min`` (or over ``epochs``
when no budget is given), so a run anneals by its deadline however busy the machine is.
Validation every ``eval_every`` steps: NME of the mapped 68 points against the teacher's
(``val_nme68``) and against ytf68's human labels (``val_nme_real``), and the map's mean abs error
(``val_uv_mae``, crop px); the best (by ``val_nme_real`` when the human-label loss is on, else
``val_nme68``) is kept as ``OUT/best.pt`` and ``OUT/best/``. ``push_to_hub`` ships ``best.pt``
with ``export.py`` to ``OUT/export`` and uploads it at the end.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facehub.geometry.align import CropSpec
from facehub.reconstruction.models.prnet import PRNet
from facehub.train.engine import (
    EngineConfig,
    Recipe,
    Schedule,
    Shard,
    StepContext,
    TrainState,
    shard_loader,
    train,
)
from facehub.train.reconstruction.checkpoint import (
    MEAN,
    STD,
    checkpoint_config,
    save_best_pt,
)
from facehub.train.reconstruction.dataset import (
    Augment,
    LooseCrops,
    PRNetDataset,
    build_loose_crops,
    loose_size,
)
from facehub.train.reconstruction.losses import (
    Mapping,
    labels68_l1,
    loss_mask,
    nme_68,
    nme_real,
    uv_map_l1,
)

# 2% linear warm-up from 0, then a cosine from 1.01 x lr down to 0.01 x lr.
SCHEDULE = Schedule(warmup=0.02, end=0.01, height=1.0)


@dataclass
class PRNetConfig:
    """Everything a run needs (the CLI's flags, same names and defaults)."""

    out: str = "runs/prnet"
    input_size: int = 128
    uv_size: int = 64
    width: int = 8
    depth: int = 5
    zoom: float = 0.65
    shift_y: float = -0.06
    batch: int = 16  # per process
    lr: float = 2e-3
    epochs: int = 1000
    budget_min: float = 0.0  # wall-clock budget; 0 = by epochs
    eval_every: int = 400
    save_every: int = 100
    val_limit: int = 400
    threads: int = 1
    resume: bool = False
    init_from: str = ""  # a run's best.pt / last.pt or a checkpoint folder (weights only)
    labels68_weight: float = 0.0
    mirror_labels: bool = True  # False: the human-label loss only on unmirrored samples
    map_68: str = ""  # 468 -> 68 map JSON for the human-label loss; "" = the teacher map
    profiled: bool = False  # add one face-profiled (turned) view of every face to train and val (profiled.py)
    extra_profiled_yaw: tuple[float, float] | None = None  # with profiled: a second training view (seed 1), |yaw| in this range
    labelled: tuple[str, ...] = ()  # folders of real photos with human 68 points and no 3D target (labelled.py)
    labelled_repeat: int = 1  # each labelled face this many times per epoch
    push_to_hub: str = ""

    @property
    def spec(self) -> CropSpec:
        return CropSpec(self.input_size, self.zoom, self.shift_y)

    @property
    def model_args(self) -> dict[str, int]:
        return {"input_size": self.input_size, "uv_size": self.uv_size, "width": self.width, "depth": self.depth}

    @property
    def meta(self) -> dict[str, Any]:
        """What a checkpoint must say to rebuild the model and its crop."""
        return {"model_args": self.model_args, "crop": {"zoom": self.zoom, "shift_y": self.shift_y}, "uv_size": self.uv_size}

    @property
    def monitor(self) -> str:
        return "val_nme_real" if self.labels68_weight > 0 else "val_nme68"


def read_map_68(path: str) -> Mapping | None:
    """A fitted 468 -> 68 map (``scripts/fit_68_map.py --out``), or None (the teacher map) for ""."""
    if not path:
        return None
    fitted = json.loads(Path(path).read_text())
    return np.asarray(fitted["indices"]), np.asarray(fitted["weights"], dtype=np.float64)


@torch.inference_mode()
def evaluate(model: torch.nn.Module, data: PRNetDataset, indices: list[int], batch: int = 32,
             mapping: Mapping | None = None) -> dict[str, float]:
    """Held-out NME (teacher 68-mapped points), NME against human labels (faces that have them, ``mapping``)
    and the UV map's mean abs error (crop px) over ``data[indices]``."""
    model.eval()
    device = next(model.parameters()).device
    layout = data.layout
    errors, real, maes = [], [], []
    valid = torch.from_numpy(layout.valid)
    for start in range(0, len(indices), batch):
        items = [data[i] for i in indices[start : start + batch]]
        x, uv, pts, labels = (torch.stack(t) for t in zip(*items))
        out = model(x.to(device)).float().cpu()
        vertices = layout.sample(out)
        errors.append(nme_68(vertices, pts))
        labelled = torch.isfinite(labels[:, 0, 0])
        if labelled.any():
            real.append(nme_real(vertices[labelled], labels[labelled], mapping))
        maes.append((out - uv).abs()[:, :, valid].mean((1, 2)))
    model.train()
    real_nme = float(torch.cat(real).mean()) if real else float("nan")
    return {"val_nme68": float(torch.cat(errors).mean()), "val_uv_mae": float(torch.cat(maes).mean()), "val_nme_real": real_nme}


class PRNetRecipe(Recipe):
    """PRNet on teacher UV maps (see the module docstring). ``train_crops``/``val_crops``: instead of the cache."""

    def __init__(self, config: PRNetConfig, train_crops: LooseCrops | None = None, val_crops: LooseCrops | None = None):
        self.config = config
        loose = loose_size(config.input_size)
        self.train_crops = train_crops if train_crops is not None else build_loose_crops("train", config.spec, loose)
        val_crops = val_crops if val_crops is not None else build_loose_crops("val", config.spec, loose)
        if config.profiled:
            from facehub.train.reconstruction.profiled import PoseRange, build_profiled_crops

            parts = [self.train_crops, build_profiled_crops("train", config.spec, loose)]
            if config.extra_profiled_yaw:
                extra = PoseRange(yaw=tuple(config.extra_profiled_yaw))
                parts.append(build_profiled_crops("train", config.spec, loose, extra, seed=1))
            self.train_crops = LooseCrops.concat(parts)
            val_crops = LooseCrops.concat([val_crops, build_profiled_crops("val", config.spec, loose)])
        if config.labelled:
            from facehub.train.reconstruction.labelled import build_labelled_crops

            labelled = build_labelled_crops(tuple(config.labelled), config.spec, loose)
            self.train_crops = LooseCrops.concat([self.train_crops] + [labelled] * config.labelled_repeat)
        self.val = PRNetDataset(val_crops, config.spec, config.uv_size, Augment.none(), MEAN, STD)
        self.val_indices = np.random.default_rng(0).permutation(len(self.val))[: config.val_limit].tolist()
        self.mapping = read_map_68(config.map_68)
        self.mask = torch.from_numpy(loss_mask(self.val.layout))[None, None]  # (1, 1, uv, uv)
        self.validated: torch.nn.Module | None = None

    def models(self) -> dict[str, torch.nn.Module]:
        return {"model": PRNet(**self.config.model_args)}

    def batches(self, shard: Shard, start_step: int) -> Iterator[Any]:
        """Each process augments with its own clock-seeded generator; the shuffle is the engine's."""
        c = self.config
        data = PRNetDataset(self.train_crops, c.spec, c.uv_size, Augment(), MEAN, STD,
                            seed=int(time.time()) + shard.rank, mirror_labels=c.mirror_labels)
        return shard_loader(data, c.batch, shard, start_step)

    def loss(self, model: torch.nn.Module, batch: Any, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        x, uv, _, labels = batch
        out = model(x).float()
        self.mask = self.mask.to(out.device)
        has_map = torch.isfinite(uv).flatten(1).all(1)  # faces with a 3D target (not labelled.py's)
        loss = uv_map_l1(out[has_map], uv[has_map], self.mask) if has_map.any() else out.sum() * 0.0
        labelled = torch.isfinite(labels[..., 0]).any(1)
        if self.config.labels68_weight > 0 and labelled.any():
            vertices = self.val.layout.sample(out[labelled])
            loss = loss + self.config.labels68_weight * labels68_l1(vertices, labels[labelled], self.mapping)
        return loss, {}

    def validate(self, model: torch.nn.Module, final: bool) -> dict[str, float]:
        self.validated = model
        return evaluate(model, self.val, self.val_indices, mapping=self.mapping)

    def export_config(self) -> dict:
        c = self.config.meta
        return checkpoint_config(c["model_args"], c["crop"], c["uv_size"])

    def on_best(self, scores: dict[str, float], step: int, minutes: float) -> None:
        assert self.validated is not None
        out = Path(self.config.out)
        save_best_pt(out / "best.pt", self.validated, self.config.meta, step, 60.0 * minutes, scores[self.config.monitor])

    def state_dict(self) -> dict[str, Any]:
        return self.config.meta

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state and state["model_args"] != self.config.model_args:
            raise ValueError(f"--resume: the run was trained with {state['model_args']}, not {self.config.model_args}.")


def engine_config(config: PRNetConfig, steps_per_epoch: int) -> EngineConfig:
    """The engine settings of ``config``: progress by the time budget, else by ``epochs``."""
    return EngineConfig(
        out=config.out, lr=config.lr, weight_decay=1e-4, schedule=SCHEDULE,
        steps=0 if config.budget_min else config.epochs * steps_per_epoch, minutes=config.budget_min,
        val_every=config.eval_every, checkpoint_every=config.save_every, smoothing=0.98,
        monitor=config.monitor, report=("val_nme68", "val_uv_mae", "val_nme_real"),
        resume=config.resume, init_from=config.init_from, threads=config.threads, desc="prnet",
        amp="fp16",  # on CUDA: bf16's 8-bit mantissa resolves about 0.5 px of a 128 px position map; fp16 + scaler keeps it
    )


def train_prnet(config: PRNetConfig, train_crops: LooseCrops | None = None, val_crops: LooseCrops | None = None) -> TrainState:
    """Train (or continue, with ``resume``) one run; under torchrun every process calls this."""
    recipe = PRNetRecipe(config, train_crops, val_crops)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    steps_per_epoch = len(recipe.train_crops.images) // (config.batch * world)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"train faces {len(recipe.train_crops.images)}, val faces {len(recipe.val)} "
              f"(evaluating {len(recipe.val_indices)})", flush=True)
    state = train(recipe, engine_config(config, steps_per_epoch))
    if config.push_to_hub and int(os.environ.get("RANK", "0")) == 0:
        from facehub.hub import push_to_hub
        from facehub.train.reconstruction.export import ExportOptions, export_prnet

        out = Path(config.out)
        folder, _ = export_prnet(ExportOptions(checkpoint=out / "best.pt", log=out / "log.csv", out=out / "export"))
        print(push_to_hub(folder, config.push_to_hub), flush=True)
    return state
