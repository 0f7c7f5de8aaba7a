"""The portrait-editor (GAN) recipe for the training engine (``scripts/train_editor.py`` is its CLI).

Losses (the seed paper): local reconstruction L2 (λ=10), global reconstruction L1 on paired
samples (λ=10) plus L1 on the kept background, hinge adversarial loss from two conditional
discriminators (full and half resolution) with feature matching (λ=10, paired samples), and every
``parsing_every`` steps the cross-entropy of a frozen parser on the output against the target mask
(``parser``; skipped when none loads). Each step updates the discriminator, then the generator,
both with Adam (β 0.5, 0.999) at a constant learning rate. A run ends after ``steps`` or
``minutes`` of this run's wall time; the engine keeps ``OUT/last.pt`` (resumable, with the critic's
step count) and ``OUT/log.csv``; sample grids go to ``OUT/samples/step_*.png``; the final generator
is exported to ``weights_out`` (and pushed with ``push_to_hub``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from facehub.editing.masks import EDIT_LABELS
from facehub.editing.models.portrait_editor import PortraitEditor, make_inputs
from facehub.train.editing import losses as L
from facehub.train.editing.dataset import (
    EDITOR_CROP,
    EditingPairs,
    build_editing_cache,
    build_human_editing_cache,
    collate,
    one_hot,
)
from facehub.train.editing.discriminators import TwoScaleDiscriminator
from facehub.train.engine import (
    EngineConfig,
    Recipe,
    Shard,
    StepContext,
    export,
    shard_loader,
    train,
)

Batch = dict[str, torch.Tensor]  # see dataset.collate


@dataclass
class EditorConfig:
    """Everything a run needs (the CLI's flags, same names and defaults)."""

    out: str = "runs/editor"
    weights_out: str = "weights/portrait-editor"
    resolution: int = 64
    width: int = 16
    embed: int = 32
    n_res: int = 3
    batch: int = 8  # per process
    lr: float = 2e-4
    steps: int = 100_000
    minutes: float = 45.0  # wall-clock budget of this run
    parser: str = "bisenet"  # checkpoint name or folder of the frozen parser; "none"
    parsing_weight: float = 1.0
    parsing_every: int = 4
    parsing_batch: int = 4  # batch items the parser critic sees
    sample_every: int = 200
    save_every: int = 200
    threads: int = 1
    resume: bool = False
    export_only: bool = False  # export OUT/last.pt to weights_out and stop
    push_to_hub: str | None = None
    # comma-separated: teacher-cached datasets, human-labelled folders ("celebamask19/train"), editing cache .npz files
    data: str = "celebamask19/train,celebamask_hair_train"
    val_data: str = "celebamask19/val"
    init_from: str = ""  # generator weights to start from (an exported folder, e.g. weights/portrait-editor)

    @property
    def model_args(self) -> dict[str, Any]:
        return {"resolution": self.resolution, "num_classes": len(EDIT_LABELS), "width": self.width,
                "embed_channels": self.embed, "mask_channels": self.embed, "n_res": self.n_res, "with_decoders": True}


def editing_caches(data: str, resolution: int) -> list[Path]:
    """One editing cache per comma-separated entry of ``data`` (built when missing): an .npz as it is, a
    ``folder/split`` of human labels, or a teacher-cached dataset."""
    paths = []
    for entry in (e.strip() for e in data.split(",") if e.strip()):
        if entry.endswith(".npz"):
            paths.append(Path(entry))
        elif "/" in entry:
            dataset, split = entry.rsplit("/", 1)
            paths.append(build_human_editing_cache(dataset, split, resolution))
        else:
            paths.append(build_editing_cache(entry, resolution))
    return paths


def sample_grid(model: PortraitEditor, batch: Batch, path: Path) -> None:
    """Rows: source | target | paired reconstruction | target with the source's hair | all components swapped."""
    from PIL import Image

    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    model.eval()
    with torch.no_grad():
        src_oh, tgt_oh = one_hot(batch["source_labels"]), one_hot(batch["target_labels"])
        n = len(src_oh)
        none = torch.zeros(n, 5, dtype=torch.bool, device=device)
        hair = none.clone()
        hair[:, 4] = True
        recon = model(**make_inputs(batch["target"], tgt_oh, batch["target"], tgt_oh, none).as_kwargs())
        hair_out = model(**make_inputs(batch["source"], src_oh, batch["target"], tgt_oh, hair).as_kwargs())
        full = model(**make_inputs(batch["source"], src_oh, batch["target"], tgt_oh, ~none).as_kwargs())
    model.train()
    columns = [batch["source"], batch["target"], recon.image, hair_out.image, full.image]
    rows = torch.cat([torch.cat(list(c), -1) for c in zip(*columns)], -2).cpu()  # (3, n*R, 5*R)
    array = ((rows.permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5 + 0.5).byte().numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


class EditorRecipe(Recipe):
    """Generator + two-scale discriminator, two optimisers, the parser critic (see the module docstring)."""

    main = "generator"

    def __init__(self, config: EditorConfig):
        self.config = config
        self.critic: L.ParserCritic | None = None
        self.critic_source = ""  # the folder the parser critic came from
        self.critic_steps = 0  # generator steps that saw the parsing loss
        self.step = 0
        self.fixed: Batch | None = None  # the validation pairs of the sample grids

    def models(self) -> dict[str, torch.nn.Module]:
        c = self.config
        return {"generator": PortraitEditor(**c.model_args),
                "discriminator": TwoScaleDiscriminator(len(EDIT_LABELS), width=c.width * 2)}

    def optimisers(self, models: dict[str, torch.nn.Module], config: EngineConfig) -> dict[str, torch.optim.Optimizer]:
        return {name: torch.optim.Adam(m.parameters(), lr=self.config.lr, betas=(0.5, 0.999)) for name, m in models.items()}

    def batches(self, shard: Shard, start_step: int) -> Iterator[Batch]:
        c = self.config
        self.step = start_step
        data = EditingPairs(editing_caches(c.data, c.resolution), paired_p=0.5, seed=start_step + 1_000_003 * shard.rank)
        critic = L.load_parser_critic(c.parser, EDITOR_CROP)
        if critic is not None:
            self.critic, folder = critic
            self.critic_source = str(folder)
        return shard_loader(data, c.batch, shard, start_step, collate_fn=collate)

    def train_step(self, ctx: StepContext, batch: Batch) -> dict[str, float]:
        c = self.config
        generator, disc = ctx.models["generator"], ctx.models["discriminator"]
        src_oh, tgt_oh = one_hot(batch["source_labels"]), one_hot(batch["target_labels"])
        inputs = make_inputs(batch["source"], src_oh, batch["target"], tgt_oh, batch["swap"])
        real = batch["target"]
        with ctx.autocast():
            out = generator(**inputs.as_kwargs())
            d_real = disc(real, tgt_oh)
            loss_d = L.d_hinge(d_real, disc(out.image.detach(), tgt_oh))
        ctx.backward_step("discriminator", loss_d)
        paired = batch["paired"].float()
        with ctx.autocast():
            g_fake = disc(out.image, tgt_oh)
            loss_adv = L.g_hinge(g_fake)
            loss_fm = L.feature_matching([(r.detach(), [f.detach() for f in fs]) for r, fs in d_real], g_fake, 10.0, paired)
            loss_local = L.local_reconstruction(out.decoded, inputs.crops, 10.0)
            per_pixel = (out.image - real).abs()
            loss_global = 10.0 * (per_pixel.mean((1, 2, 3)) * paired).sum() / paired.sum().clamp(min=1)
            loss_keep = 10.0 * (per_pixel * inputs.keep).mean()
            loss = loss_adv + loss_fm + loss_local + loss_global + loss_keep
            logs = {"d": loss_d.item(), "adv": loss_adv.item(), "fm": loss_fm.item(), "local": loss_local.item(),
                    "global": loss_global.item(), "keep": loss_keep.item()}
            if self.critic is not None and ctx.step % c.parsing_every == 0:
                self.critic = self.critic.to(ctx.device)
                k = c.parsing_batch
                loss_parse = c.parsing_weight * self.critic(out.image[:k].float(), batch["target_labels"][:k])
                loss = loss + loss_parse
                logs["parse"] = loss_parse.item()
                self.critic_steps += 1
        ctx.backward_step("generator", loss)
        self.step = ctx.step + 1
        return {"loss": float(loss.detach()), **logs}

    def validate(self, model: torch.nn.Module, final: bool) -> dict[str, float]:
        """The sample grid of this step (rank 0); no scores (the editor keeps its final weights)."""
        if self.fixed is None:
            val = EditingPairs(editing_caches(self.config.val_data, self.config.resolution), paired_p=0.0, seed=1)
            self.fixed = collate([val[i] for i in range(0, min(48, len(val)), 6)])
        sample_grid(model, self.fixed, Path(self.config.out) / "samples" / f"step_{self.step:06d}.png")
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"critic_steps": self.critic_steps, "critic": self.critic_source}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.critic_steps = int(state.get("critic_steps", 0))
        self.critic_source = str(state.get("critic", ""))

    def checkpoint_config(self, step: int, world: int = 1) -> dict[str, Any]:
        """``config.json`` of the exported editor after ``step`` steps of ``world`` processes."""
        c = self.config
        return {
            "family": "portrait_editor", "task": "editing", "model_args": c.model_args, "labels": list(EDIT_LABELS),
            "input_size": c.resolution, "crop": dict(EDITOR_CROP), "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
            "parser": "bisenet", "default_method": "blend",
            "training": {
                "steps": step, "batch": c.batch * world, "data": c.data,
                "parser_critic": f"{self.critic_steps} of {step} steps (parser {self.critic_source or 'none'})",
            },
        }


def engine_config(config: EditorConfig) -> EngineConfig:
    """Constant learning rate; ``steps`` or ``minutes`` of this run, whichever ends first; every step's losses logged."""
    return EngineConfig(
        out=config.out, lr=config.lr, steps=config.steps, minutes=config.minutes, minutes_per_run=True, schedule=None,
        val_every=config.sample_every, checkpoint_every=config.save_every, log_every=1, smoothing=0.0, resume=config.resume,
        threads=config.threads, desc="editor", init_from=config.init_from,
    )


def train_editor(config: EditorConfig) -> Path | None:
    """Train (or with ``export_only`` just export ``OUT/last.pt``); rank 0 exports to ``weights_out`` and returns it."""
    recipe = EditorRecipe(config)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if config.export_only:
        torch.set_num_threads(config.threads)
        generator = recipe.models()["generator"]
        state = torch.load(Path(config.out) / "last.pt", map_location="cpu", weights_only=True)
        generator.load_state_dict(state["models"]["generator"])
        recipe.load_state_dict(state.get("recipe", {}))
        step = int(state["step"])
    else:
        trained = train(recipe, engine_config(config))
        generator, step = trained.models["generator"], trained.step
    if int(os.environ.get("RANK", "0")) != 0:
        return None
    folder = export(generator.cpu(), recipe.checkpoint_config(step, world), config.weights_out, half=False,
                    push_to=config.push_to_hub)
    print(f"[train_editor] exported step {step} to {folder}", flush=True)
    return folder
