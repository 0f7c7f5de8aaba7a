"""PRNet training checkpoints: the config.json of a PRNet checkpoint and the one reader of a run's files.

A run (``facehub/train/reconstruction/recipe.py``) leaves ``OUT/last.pt`` (the engine's, with the
recipe's ``model_args``/``crop``/``uv_size`` under ``"recipe"``), ``OUT/best.pt`` (the best weights:
``model``, ``step``, ``elapsed``, ``best``, ``model_args``, ``crop``, ``uv_size``; the layout older runs
wrote for both files) and ``OUT/best/`` (``config.json`` + ``model.safetensors`` + ``metrics.json``).
:func:`read_checkpoint` reads any of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from facehub.hub import load_folder
from facehub.reconstruction.models.prnet import PRNet

MEAN, STD = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]


@dataclass
class PRNetCheckpoint:
    """A trained PRNet (eval mode, CPU) with what built it: ``model_args``, ``crop`` {zoom, shift_y}, ``uv_size``;
    ``step`` and ``elapsed`` (seconds) of the run when it was saved."""

    model: PRNet
    model_args: dict[str, int]
    crop: dict[str, float]
    uv_size: int
    step: int
    elapsed: float

    def meta(self) -> dict[str, Any]:
        return {"model_args": self.model_args, "crop": self.crop, "uv_size": self.uv_size}


def checkpoint_config(model_args: dict[str, int], crop: dict[str, float], uv_size: int) -> dict[str, Any]:
    """The ``config.json`` of a PRNet checkpoint (``export.py`` adds the inference settings and the 68 map)."""
    return {
        "family": "prnet", "task": "reconstruction", "model_args": dict(model_args), "labels": [],
        "input_size": model_args["input_size"], "crop": dict(crop), "mean": MEAN, "std": STD, "uv_size": uv_size,
    }


def save_best_pt(path: Path, model: torch.nn.Module, meta: dict[str, Any], step: int, elapsed: float, best: float) -> None:
    """Write ``path`` (a ``best.pt``) atomically in the layout :func:`read_checkpoint` and ``--init-from`` read."""
    state = {"model": model.state_dict(), "step": step, "elapsed": elapsed, "best": best, **meta}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def read_checkpoint(path: str | Path) -> PRNetCheckpoint:
    """A run's ``best.pt`` / ``last.pt`` (old or engine layout) or a checkpoint folder (``OUT/best``, ``weights/prnet``)."""
    path = Path(path)
    if path.is_dir():
        loaded = load_folder(path)
        model, config = loaded.model, loaded.config
        metrics = json.loads((path / "metrics.json").read_text()) if (path / "metrics.json").is_file() else {}
        return PRNetCheckpoint(model.eval(), config["model_args"], config["crop"], int(config["uv_size"]),
                               int(metrics.get("step", 0)), 60.0 * float(metrics.get("minutes", 0.0)))
    state = torch.load(path, map_location="cpu", weights_only=True)
    meta = state.get("recipe") or state  # the engine keeps the recipe's values under "recipe"
    if "model_args" not in meta:
        raise ValueError(f"{path} does not say which PRNet it holds (no model_args); pass the run's best.pt or best/.")
    model = PRNet(**meta["model_args"])
    model.load_state_dict(state["model"])
    return PRNetCheckpoint(model.eval(), dict(meta["model_args"]), dict(meta["crop"]), int(meta["uv_size"]),
                           int(state["step"]), float(state["elapsed"]))
