"""The one training loop every recipe uses.

A recipe subclasses :class:`Recipe` and supplies the models, this rank's batches, the loss,
validation and the exported ``config.json``; :func:`train` does the rest: optimiser (AdamW
unless the recipe builds its own), the warm-up + cosine schedule (:func:`warmup_cosine`) over
``progress = max(step / steps, time / budget)``, optional EMA of the weights, AMP on CUDA
(bf16, or fp16 with a ``GradScaler``; off on the CPU), gradient clipping, ``last.pt`` every N
steps or minutes (read back with ``torch.load(weights_only=True)``; ``resume=True`` continues
it), a tqdm bar and ``log.csv``, periodic validation with the best weights exported to
``<out>/best/`` (``config.json`` + ``model.safetensors`` + ``metrics.json``), and DDP::

    class Tiny(Recipe):
        def models(self):
            return {"model": torch.nn.Linear(4, 1)}
        def batches(self, shard, start_step):            # endless; this rank's share of each global batch
            return shard_loader(TensorDataset(x, y), 8, shard, start_step, seed=0)
        def loss(self, model, batch, ctx):               # model is DDP-wrapped under torchrun
            inputs, target = batch
            return F.mse_loss(model(inputs), target), {}
        def validate(self, model, final):                 # rank 0 only; the EMA copy when ema > 0
            return {"mse": ...}
        def export_config(self):
            return {"family": "...", "task": "...", "model_args": {...}}

    train(Tiny(), EngineConfig(out="runs/tiny", lr=1e-3, steps=1000, val_every=100, monitor="mse"))

Several models and optimisers (a GAN): return them from ``models()``/``optimisers()`` under
the same names and override ``train_step(ctx, batch)``, calling ``ctx.backward_step(name, loss)``
for each (forward passes inside ``with ctx.autocast():``); ``Recipe.main`` names the model that
is validated, averaged and exported.

Under ``torchrun --nproc_per_node N`` (``WORLD_SIZE`` > 1) the engine joins the process group
(gloo on the CPU, nccl on CUDA), wraps every trainable model in ``DistributedDataParallel``,
syncs the clock (so all ranks stop at the same step), and does validation and all file I/O on
rank 0 only. Batch sizes are per rank: the effective batch is ``N x batch``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from facehub.hub import ModelCard, load_state_dict_strict, push_to_hub, save_pretrained
from facehub.train.csvlog import CsvLog
from facehub.train.distributed import (
    Shard,
    broadcast_float,
    init_distributed,
    shard_loader,
    unwrap,
    wrap_ddp,
)
from facehub.train.schedule import Schedule, progress_of, warmup_cosine

ENGINE_API_STABLE = True

__all__ = ["ENGINE_API_STABLE", "EngineConfig", "Recipe", "Schedule", "Shard", "StepContext", "TrainState", "export",
           "load_initial_weights", "progress_of", "shard_loader", "train", "unwrap", "update_ema", "warmup_cosine"]


@dataclass
class EngineConfig:
    """How :func:`train` runs a recipe. Progress is ``max(step / steps, seconds / (60 * minutes))``
    (a zero term is left out); training stops at progress 1 or at ``max_steps`` (a hard stop
    that does not stretch the schedule)."""

    out: str | Path = "runs/train"
    lr: float = 1e-3  # default optimiser: AdamW(lr, weight_decay)
    weight_decay: float = 0.0
    steps: int = 0
    minutes: float = 0.0
    max_steps: int = 0
    minutes_per_run: bool = False  # True: the time budget counts this run only, not the time before --resume
    schedule: Schedule | None = field(default_factory=Schedule)  # None: constant learning rate
    clip_grad: float = 0.0  # max gradient norm (0: off)
    ema: float = 0.0  # decay of an exponential moving average of the main model's weights (0: off)
    amp: str = "auto"  # "auto" (CUDA: bf16 if supported else fp16; CPU: off), "bf16", "fp16", "off"
    val_every: int = 0  # steps (0: off)
    val_every_minutes: float = 0.0
    checkpoint_every: int = 0  # steps (0: off); last.pt is also written after each validation and at the end
    checkpoint_every_minutes: float = 0.0
    log_every: int = 20  # steps between log.csv rows of the smoothed training logs
    smoothing: float = 0.9  # running average of the logs: r <- s * r + (1 - s) * value
    monitor: str = ""  # validation score that picks best/ ("" : no best/)
    mode: str = "min"  # or "max"
    export_final: bool = False  # the final validation's weights become best/ whatever their score
    report: tuple[str, ...] = ()  # scores printed after each validation (default: monitor)
    resume: bool = False  # continue <out>/last.pt when it exists
    init_from: str = ""  # weights for the main model: a last.pt or a save_pretrained folder (ignored when resuming)
    seed: int = 0
    threads: int = 1
    device: str = "auto"  # "auto": cuda:LOCAL_RANK when available, else cpu
    find_unused_parameters: bool = False  # DDP: set when some trained parameters get no gradient
    desc: str = "train"


@dataclass
class StepContext:
    """What one training step sees. ``models`` are DDP-wrapped when distributed."""

    step: int  # steps done before this one
    progress: float
    models: dict[str, torch.nn.Module]
    optimisers: dict[str, torch.optim.Optimizer]
    shard: Shard
    device: torch.device
    clip_grad: float = 0.0
    amp_dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision for forward passes on CUDA when AMP is on; a no-op otherwise."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def backward_step(self, name: str, loss: torch.Tensor) -> None:
        """Zero ``optimisers[name]``'s grads, backprop ``loss`` (scaled for fp16), clip, step."""
        optimiser = self.optimisers[name]
        optimiser.zero_grad(set_to_none=True)
        (self.scaler.scale(loss) if self.scaler else loss).backward()
        if self.clip_grad > 0:
            if self.scaler:
                self.scaler.unscale_(optimiser)
            params = [p for group in optimiser.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.clip_grad)
        if self.scaler:
            self.scaler.step(optimiser)
        else:
            optimiser.step()


class Recipe:
    """What a training recipe supplies; override ``models``, ``batches`` and ``loss`` (or ``train_step``)."""

    main = "model"  # the model that is validated, averaged (EMA) and exported

    def models(self) -> dict[str, torch.nn.Module]:
        """Freshly built models on the CPU (the engine seeds torch first and moves them)."""
        raise NotImplementedError

    def optimisers(self, models: dict[str, torch.nn.Module], config: EngineConfig) -> dict[str, torch.optim.Optimizer]:
        """Default: ``AdamW(main.parameters(), config.lr, weight_decay=config.weight_decay)``."""
        return {self.main: torch.optim.AdamW(models[self.main].parameters(), lr=config.lr, weight_decay=config.weight_decay)}

    def batches(self, shard: Shard, start_step: int) -> Iterable[Any]:
        """Endless batches of this rank's share, starting at global step ``start_step`` (see ``shard_loader``)."""
        raise NotImplementedError

    def loss(self, model: torch.nn.Module, batch: Any, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        """(scalar loss, its parts as floats) of one batch (a batch mean, so DDP's average is the global mean)."""
        raise NotImplementedError

    def train_step(self, ctx: StepContext, batch: Any) -> dict[str, float]:
        """One step; the default runs ``loss`` under autocast and ``ctx.backward_step(main, loss)``."""
        with ctx.autocast():
            loss, parts = self.loss(ctx.models[self.main], batch, ctx)
        ctx.backward_step(self.main, loss)
        return {"loss": float(loss.detach()), **parts}

    def validate(self, model: torch.nn.Module, final: bool) -> dict[str, float]:
        """Scores of ``model`` (the main model, or its EMA); rank 0 only. ``final``: after the last step."""
        return {}

    def export_config(self) -> dict | None:
        """``config.json`` of best/ (``family``, ``task``, ``model_args``, ...); None: no best/ export."""
        return None

    def on_best(self, scores: dict[str, float], step: int, minutes: float) -> None:
        """Called on rank 0 after best/ was written (extra files for the recipe's own export)."""

    def state_dict(self) -> dict[str, Any]:
        """Plain values (numbers, strings) of the recipe's own that ``--resume`` restores; saved in last.pt."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (an empty dict for runs saved without it)."""


@dataclass
class TrainState:
    """Where a run ended: steps, seconds trained, best monitored score, the (unwrapped) models."""

    step: int
    elapsed: float
    best: float
    models: dict[str, torch.nn.Module]
    ema: torch.nn.Module | None = None


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """``ema`` <- decay * ema + (1 - decay) * model for parameters; buffers (BN statistics) are copied."""
    for averaged, current in zip(ema.parameters(), model.parameters()):
        averaged.mul_(decay).add_(current.detach(), alpha=1 - decay)
    for averaged, current in zip(ema.buffers(), model.buffers()):
        averaged.copy_(current)


def load_initial_weights(model: torch.nn.Module, source: str | Path) -> None:
    """Load ``source`` (a run's ``last.pt``, old or new layout, or a ``save_pretrained`` folder) strictly."""
    source = Path(source)
    if source.is_dir():
        load_state_dict_strict(model, source / "model.safetensors")
        return
    model.load_state_dict(torch.load(source, map_location="cpu", weights_only=True)["model"])


def export(model: torch.nn.Module, config: dict, folder: str | Path, card: ModelCard | None = None,
           half: bool = True, push_to: str | None = None) -> Path:
    """``save_pretrained`` (config.json + model.safetensors, fp16 when ``half``, + card) and push it when asked."""
    folder = save_pretrained(model, config, folder, card=card, half=half)
    if push_to:
        print(push_to_hub(folder, push_to), flush=True)
    return folder


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _amp_dtype(config: EngineConfig, device: torch.device) -> torch.dtype | None:
    if config.amp == "off" or device.type != "cuda":
        return None
    if config.amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[config.amp]


def train(recipe: Recipe, config: EngineConfig) -> TrainState:
    """Run ``recipe`` to the end of its schedule (see the module docstring); returns the final state."""
    if not (config.steps or config.minutes or config.max_steps):
        raise ValueError("EngineConfig needs steps, minutes or max_steps, or training never ends.")
    use_cuda = config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available())
    shard, created = init_distributed(use_cuda)
    try:
        state = _Run(recipe, config, shard, use_cuda).loop()
        if created:
            dist.barrier()  # rank 0's final validation and export are done before anyone leaves
        return state
    finally:
        if created:
            dist.destroy_process_group()


class _Run:
    """One call of :func:`train`: state and the pieces of its loop."""

    def __init__(self, recipe: Recipe, config: EngineConfig, shard: Shard, use_cuda: bool) -> None:
        self.recipe, self.config, self.shard = recipe, config, shard
        torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        name = config.device
        if name in ("auto", "cuda"):
            name = f"cuda:{shard.local_rank}" if use_cuda else "cpu"
        self.device = torch.device(name)
        self.out = Path(config.out)
        if shard.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.models = recipe.models()
        if shard.world > 1:  # same initial weights everywhere, then rank-distinct randomness (dropout, sampling)
            torch.manual_seed(config.seed + shard.rank)
        main = self.models[recipe.main]
        resuming = config.resume and (self.out / "last.pt").is_file()
        if config.init_from and not resuming:
            load_initial_weights(main, config.init_from)
            if shard.is_main:
                print(f"initialised from {config.init_from}", flush=True)
        for model in self.models.values():
            model.to(self.device).train()
        self.ema = copy.deepcopy(main).eval() if config.ema > 0 else None
        self.optimisers = recipe.optimisers(self.models, config)
        for optimiser in self.optimisers.values():
            for group in optimiser.param_groups:
                group.setdefault("base_lr", group["lr"])
        self.amp_dtype = _amp_dtype(config, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.step, self.elapsed = 0, 0.0
        self.best = math.inf if config.mode == "min" else -math.inf
        if resuming:
            self._load(self.out / "last.pt")
        self.log = CsvLog(self.out / "log.csv", fresh=not resuming) if shard.is_main else None
        self.wrapped = {n: wrap_ddp(m, shard, self.device, config.find_unused_parameters) for n, m in self.models.items()}

    # ------------------------------------------------------------------ checkpoints
    def _save(self) -> None:
        main = self.recipe.main
        models = {n: m.state_dict() for n, m in self.models.items()}
        state: dict[str, Any] = {"step": self.step, "elapsed": self.elapsed, "best": self.best, "models": models,
                                 "model": models[main], "optimisers": {n: o.state_dict() for n, o in self.optimisers.items()}}
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        state["recipe"] = self.recipe.state_dict()
        path = self.out / "last.pt"
        torch.save(state, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)

    def _load(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        main = self.recipe.main
        models = state.get("models") or {main: state["model"]}  # older runs: one "model"
        optimisers = state.get("optimisers") or {main: state.get("optimiser", state.get("opt", state.get("optimizer")))}
        for name, model in self.models.items():
            model.load_state_dict(models[name])
        for name, optimiser in self.optimisers.items():
            base_lrs = [group["base_lr"] for group in optimiser.param_groups]
            optimiser.load_state_dict(optimisers[name])
            for group, base_lr in zip(optimiser.param_groups, base_lrs):
                group["base_lr"] = base_lr  # this run's learning rate, as a restarted command asks
        if self.ema is not None:
            self.ema.load_state_dict(state.get("ema", models[main]))
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.elapsed, self.best = int(state["step"]), float(state["elapsed"]), float(state["best"])
        self.recipe.load_state_dict(state.get("recipe", {}))
        if self.shard.is_main:
            print(f"resumed {path} at step {self.step} ({self.elapsed / 60:.1f} min, best {self.best:.4f})", flush=True)

    # ------------------------------------------------------------------ validation
    def _better(self, value: float) -> bool:
        return value < self.best if self.config.mode == "min" else value > self.best

    def _validate(self, final: bool) -> None:
        judged = self.ema if self.ema is not None else self.models[self.recipe.main]
        scores = self.recipe.validate(judged, final)
        for model in self.models.values():
            model.train()
        if not scores:
            return
        minutes = self.elapsed / 60
        assert self.log is not None
        self.log.write({"step": self.step, "minutes": round(minutes, 2), **scores})
        keys = self.config.report or ((self.config.monitor,) if self.config.monitor else tuple(scores))
        shown = " ".join(f"{k} {scores[k]:.4f}" for k in keys if k in scores)
        _write(f"step {self.step}{' (final)' if final else ''}: {shown}")
        monitor = self.config.monitor
        export_config = self.recipe.export_config()
        if not monitor or monitor not in scores:
            return
        improved = self._better(scores[monitor])
        if improved:
            self.best = scores[monitor]
        if export_config is not None and (improved or (final and self.config.export_final)):
            best = save_pretrained(judged, export_config, self.out / "best", half=False)
            (best / "metrics.json").write_text(json.dumps({"step": self.step, "minutes": minutes, **scores}, indent=2))
            self.recipe.on_best(scores, self.step, minutes)

    # ------------------------------------------------------------------ the loop
    def _finished(self, seconds: float) -> bool:
        return progress_of(self.step, seconds, self.config.steps, self.config.minutes) >= 1.0 or bool(
            self.config.max_steps and self.step >= self.config.max_steps)

    def loop(self) -> TrainState:
        config, shard = self.config, self.shard
        run_start = self.elapsed if config.minutes_per_run else 0.0
        start = time.time() - self.elapsed
        if broadcast_float(float(self.step), shard, self.device) != self.step:
            raise RuntimeError(f"Rank {shard.rank} starts at step {self.step}, rank 0 elsewhere: --resume needs "
                               f"{self.out / 'last.pt'} on every node (a shared file system).")
        batches: Iterator[Any] = iter(self.recipe.batches(shard, self.step))
        from tqdm import tqdm

        bar = tqdm(total=config.steps or None, initial=self.step, desc=config.desc, disable=not shard.is_main,
                   dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 30.0)
        running: dict[str, float] = {}
        last_val = last_ckpt = time.time()
        self.elapsed = broadcast_float(time.time() - start, shard, self.device)
        while not self._finished(self.elapsed - run_start):
            progress = progress_of(self.step, self.elapsed - run_start, config.steps, config.minutes)
            lr = self._set_lr(progress)
            try:
                batch = _to_device(next(batches), self.device)
            except StopIteration:
                raise RuntimeError(f"recipe.batches() ran out at step {self.step}; it must be endless.") from None
            ctx = StepContext(self.step, progress, self.wrapped, self.optimisers, shard, self.device,
                              config.clip_grad, self.amp_dtype, self.scaler)
            logs = self.recipe.train_step(ctx, batch)
            if self.scaler is not None:
                self.scaler.update()
            if self.ema is not None:
                update_ema(self.ema, self.models[self.recipe.main], config.ema)
            self.step += 1
            for key, value in logs.items():
                running[key] = config.smoothing * running.get(key, value) + (1 - config.smoothing) * value
            bar.update(1)
            bar.set_postfix(loss=f"{running.get('loss', float('nan')):.4f}", lr=f"{lr:.1e}", min=f"{self.elapsed / 60:.1f}")
            if shard.is_main:
                self.elapsed = time.time() - start
                if config.log_every and self.step % config.log_every == 0:
                    assert self.log is not None
                    self.log.write({"step": self.step, "minutes": round(self.elapsed / 60, 2), "lr": lr, **running})
                if not self._finished(self.elapsed - run_start):
                    now = time.time()
                    validated = bool(config.val_every and self.step % config.val_every == 0) or bool(
                        config.val_every_minutes and now - last_val >= 60 * config.val_every_minutes)
                    if validated:
                        self._validate(final=False)
                        last_val = time.time()
                    if validated or (config.checkpoint_every and self.step % config.checkpoint_every == 0) or (
                            config.checkpoint_every_minutes and now - last_ckpt >= 60 * config.checkpoint_every_minutes):
                        self._save()
                        last_ckpt = time.time()
            self.elapsed = broadcast_float(time.time() - start, shard, self.device)
        bar.close()
        if shard.is_main:
            self._validate(final=True)
            self._save()
        return TrainState(self.step, self.elapsed, self.best, self.models, self.ema)

    def _set_lr(self, progress: float) -> float:
        """Set every param group's lr from its ``base_lr``; returns the main optimiser's first group's."""
        for optimiser in self.optimisers.values():
            for group in optimiser.param_groups:
                group["lr"] = warmup_cosine(group["base_lr"], progress, self.step, self.config.schedule)
        main = self.optimisers.get(self.recipe.main) or next(iter(self.optimisers.values()))
        return float(main.param_groups[0]["lr"])


def _write(line: str) -> None:
    from tqdm import tqdm

    tqdm.write(line)
