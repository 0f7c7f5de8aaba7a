"""The training engine: the one schedule (with each recipe's constants), progress, EMA, best/ export,
checkpoint + resume, the data sharding behind DDP, export. Tiny models, a few steps each."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from facehub.hub import ModelCard
from facehub.train.engine import (
    EngineConfig,
    Schedule,
    Shard,
    export,
    load_initial_weights,
    progress_of,
    shard_loader,
    train,
    update_ema,
    warmup_cosine,
)
from tests.train.tiny_recipe import TinyRecipe

GRID = [i / 200 for i in range(230)]  # progress 0 .. 1.15


def old_parsing_lr(lr: float, progress: float) -> float:  # facehub/train/parsing/recipe.py before the engine
    if progress < 0.03:
        return lr * max(progress / 0.03, 0.02)
    t = min(1.0, (progress - 0.03) / 0.97)
    return lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def old_landmark_lr(lr: float, step: int, progress: float, steps: int) -> float:  # scripts/train_landmarks.py
    warm = min(300, steps // 10)
    if step < warm and progress < 0.1:
        return lr * (step + 1) / warm
    return lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def old_prnet_lr(base: float, progress: float, warmup: float = 0.02) -> float:  # scripts/train_prnet.py
    if progress < warmup:
        return base * progress / warmup
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - warmup) / (1 - warmup)))) + base * 0.01


def test_one_schedule_reproduces_each_recipes_constants() -> None:
    from facehub.train.landmarks.recipe import landmark_schedule
    from facehub.train.parsing.recipe import PARSING_SCHEDULE
    from facehub.train.reconstruction.recipe import SCHEDULE as PRNET_SCHEDULE

    for p in GRID:
        assert warmup_cosine(2e-3, p, 0, PARSING_SCHEDULE) == pytest.approx(old_parsing_lr(2e-3, p), rel=1e-12)
        assert warmup_cosine(2e-3, p, 0, PRNET_SCHEDULE) == pytest.approx(old_prnet_lr(2e-3, p), rel=1e-12)
    for steps in (5, 3000, 6000):
        for step in range(0, steps + 1, max(1, steps // 300)):
            p = step / steps
            got = warmup_cosine(2e-3, p, step, landmark_schedule(steps))
            assert got == pytest.approx(old_landmark_lr(2e-3, step, p, steps), rel=1e-12)
    assert warmup_cosine(0.1, 0.5, 7, None) == 0.1


def test_progress_is_the_further_of_steps_and_time() -> None:
    assert progress_of(50, 600.0, steps=100, minutes=20.0) == 0.5
    assert progress_of(10, 600.0, steps=100, minutes=20.0) == 0.5
    assert progress_of(10, 60.0, steps=100) == 0.1
    assert progress_of(10, 60.0, minutes=2.0) == 0.5


def test_ema_averages_parameters_and_copies_buffers() -> None:
    ema, model = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        ema.weight.fill_(1.0)
        model.weight.fill_(3.0)
        model.running_mean.fill_(5.0)
    update_ema(ema, model, 0.75)
    assert torch.allclose(ema.weight, torch.full((3,), 1.5)) and torch.equal(ema.running_mean, model.running_mean)


def test_train_validates_exports_best_and_logs(tmp_path: Path) -> None:
    recipe = TinyRecipe()
    config = EngineConfig(out=tmp_path, lr=0.05, steps=6, val_every=2, log_every=1, monitor="mse", device="cpu")
    state = train(recipe, config)
    assert state.step == 6 and recipe.validated == [0, 0, 1]  # steps 2 and 4, then the final one
    metrics = json.loads((tmp_path / "best" / "metrics.json").read_text())
    assert metrics["mse"] == pytest.approx(state.best)
    assert json.loads((tmp_path / "best" / "config.json").read_text())["family"] == "tiny"
    assert set(load_file(str(tmp_path / "best" / "model.safetensors"))) == set(state.models["model"].state_dict())
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert last["step"] == 6 and last["best"] == pytest.approx(state.best)
    log = (tmp_path / "log.csv").read_text().splitlines()
    assert log[0].split(",")[:4] == ["step", "minutes", "lr", "loss"] and len(log) == 1 + 6 + 3


def test_resume_continues_like_an_uninterrupted_run(tmp_path: Path) -> None:
    def config(out: Path, **extra) -> EngineConfig:
        return EngineConfig(out=out, lr=0.05, steps=7, ema=0.8, clip_grad=0.5, schedule=Schedule(warmup=0.3, end=0.1),
                            checkpoint_every=2, device="cpu", **extra)

    whole = train(TinyRecipe(samples=16), config(tmp_path / "whole"))
    first = train(TinyRecipe(samples=16), config(tmp_path / "parts", max_steps=3))
    assert first.step == 3
    rest = train(TinyRecipe(samples=16), config(tmp_path / "parts", resume=True))
    assert rest.step == 7
    for a, b in zip([*whole.models["model"].parameters(), *whole.ema.parameters()],
                    [*rest.models["model"].parameters(), *rest.ema.parameters()]):
        assert torch.allclose(a, b, atol=1e-7)
    unchanged = train(TinyRecipe(samples=16), config(tmp_path / "parts", resume=True, max_steps=3))
    assert unchanged.step == 7  # a finished run resumes to its end at once


def test_init_from_reads_checkpoints_and_folders(tmp_path: Path) -> None:
    source = TinyRecipe().models()["model"]
    torch.save({"model": source.state_dict(), "opt": {}, "step": 3}, tmp_path / "old.pt")  # an older run's last.pt
    export(source, {"family": "tiny", "task": "test", "model_args": {}}, tmp_path / "folder", half=False)
    for origin in (tmp_path / "old.pt", tmp_path / "folder"):
        target = TinyRecipe().models()["model"]
        load_initial_weights(target, origin)
        assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))


def test_export_writes_fp16_weights_and_the_card(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    card = ModelCard(title="Tiny", summary="s", data="d", training="t", metrics={"mse": "0.1"})
    folder = export(model, {"family": "tiny", "task": "test", "model_args": {}}, tmp_path / "tiny", card=card)
    assert load_file(str(folder / "model.safetensors"))["weight"].dtype == torch.float16
    assert "# Tiny" in (folder / "README.md").read_text()


@pytest.mark.parametrize("weighted", [False, True])
def test_rank_shards_make_up_the_single_process_batches(weighted: bool) -> None:
    data = torch.utils.data.TensorDataset(torch.arange(22))

    def stream(shard: Shard, batch: int, start: int = 0) -> list[list[int]]:
        sampler = None
        if weighted:
            generator = torch.Generator().manual_seed(5)
            sampler = torch.utils.data.WeightedRandomSampler(torch.linspace(1, 3, 22), 200, generator=generator)
        loader = shard_loader(data, batch, shard, start, seed=3, sampler=sampler)
        return [next(loader)[0].tolist() for _ in range(8)]

    single = stream(Shard(0, 1), 6)
    ranks = [stream(Shard(r, 2, r), 3) for r in range(2)]
    assert [sorted(a + b) for a, b in zip(*ranks)] == [sorted(batch) for batch in single]
    assert ranks[0] != ranks[1]
    assert stream(Shard(0, 1), 6, start=3)[:5] == single[3:]  # resume skips whole global batches
