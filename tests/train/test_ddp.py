"""DDP for real: 2 CPU processes (gloo on 127.0.0.1) train a tiny model through the engine; both ranks
end with identical weights, equal to one process trained on the same global batches."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import torch
import torch.multiprocessing as mp

from facehub.train.engine import EngineConfig, Schedule, train
from tests.train.tiny_recipe import TinyRecipe

WORLD, PER_RANK, STEPS = 2, 4, 6


def _config(out: Path) -> EngineConfig:
    return EngineConfig(out=out, lr=0.05, steps=STEPS, clip_grad=0.5, schedule=Schedule(warmup=0.3, end=0.1),
                        val_every=3, checkpoint_every=2, log_every=1, monitor="mse", device="cpu", threads=1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rank(rank: int, port: int, out: str) -> None:
    """One torchrun-like process: the environment torchrun would set, then the engine."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(WORLD), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    if sys.platform == "linux":
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    state = train(TinyRecipe(batch_size=PER_RANK), _config(Path(out) / "run"))
    torch.save(state.models["model"].state_dict(), Path(out) / f"rank{rank}.pt")


def test_two_processes_match_one_on_the_same_global_batches(tmp_path: Path, monkeypatch) -> None:
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    mp.spawn(_rank, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    single = train(TinyRecipe(batch_size=WORLD * PER_RANK), _config(tmp_path / "single")).models["model"].state_dict()
    initial = TinyRecipe().models()["model"].state_dict()  # seed 0, as the engine builds it
    for key, value in single.items():
        assert torch.equal(ranks[0][key], ranks[1][key]), key
        assert torch.allclose(ranks[0][key], value, atol=1e-5), key
        assert not torch.allclose(initial[key], value, atol=1e-3), key  # it did train
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(log) == 1 + STEPS + 2  # rank 0 alone writes: header, one row per step, validations at step 3 and the end
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["step"] == STEPS
