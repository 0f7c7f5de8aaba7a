"""The portrait-editor recipe on the engine: three GAN steps on a tiny editing cache (with a tiny parser
critic) write last.pt, sample grids and an export that facehub.hub loads strictly; --resume and
--export-only continue from last.pt."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from facehub.editing.masks import EDIT_LABELS
from facehub.hub import load_state_dict_strict, read_config, save_pretrained
from facehub.registry import build_model
from facehub.train.editing.recipe import EditorConfig, train_editor
from tests.editing.test_portrait_editor import face_labels

R = 32
TINY_PARSER = {"backbone_width": 8, "spatial_width": 8, "context_width": 16, "fuse_width": 16}


def tiny_cache(path: Path, count: int = 6) -> Path:
    """An editing cache (.npz: names, images (N, R, R, 3) uint8, labels (N, R, R) uint8) of noise faces."""
    rng = np.random.default_rng(0)
    labels = face_labels(count, R).numpy().astype(np.uint8)
    images = rng.integers(0, 255, (count, R, R, 3), dtype=np.uint8)
    np.savez(path, names=np.array([f"{i}.jpg" for i in range(count)]), images=images, labels=labels)
    return path


def tiny_parser(folder: Path) -> Path:
    args = {**TINY_PARSER, "num_classes": len(EDIT_LABELS)}
    config = {"family": "bisenet", "task": "parsing", "model_args": args, "labels": list(EDIT_LABELS),
              "input_size": R, "crop": {"zoom": 0.5, "shift_y": 0.0}, "mean": [0.5] * 3, "std": [0.5] * 3}
    return save_pretrained(build_model("bisenet", args), config, folder, half=False)


def _config(tmp_path: Path, **changes) -> EditorConfig:
    cache = tiny_cache(tmp_path / "cache.npz")
    base = dict(out=str(tmp_path / "run"), weights_out=str(tmp_path / "editor"), resolution=R, width=4, embed=8, n_res=1,
                batch=2, steps=3, minutes=0.0, parser=str(tiny_parser(tmp_path / "parser")), parsing_every=2,
                parsing_batch=1, sample_every=2, save_every=2, data=str(cache), val_data=str(cache))
    return EditorConfig(**{**base, **changes})


def _load(folder: Path) -> tuple[dict, torch.nn.Module]:
    config = read_config(folder)
    model = build_model(config["family"], config["model_args"])
    load_state_dict_strict(model, folder / "model.safetensors")
    return config, model


def test_a_few_gan_steps_export_an_editor_that_loads_back(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    config = _config(tmp_path)
    folder = train_editor(config)
    assert folder == Path(config.weights_out)
    exported, model = _load(folder)
    assert (exported["family"], exported["task"], exported["input_size"]) == ("portrait_editor", "editing", R)
    assert exported["training"]["steps"] == 3
    assert exported["training"]["parser_critic"] == f"2 of 3 steps (parser {tmp_path / 'parser'})"  # steps 0 and 2
    run = Path(config.out)
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3] and all(r["parse"] and r["d"] for r in rows)
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_000002.png", "step_000003.png"]
    state = torch.load(run / "last.pt", weights_only=True)
    assert set(state["models"]) == {"generator", "discriminator"} and state["recipe"]["critic_steps"] == 2
    for key, value in model.state_dict().items():  # the export is the final generator
        torch.testing.assert_close(value, state["models"]["generator"][key])

    resumed = train_editor(_config(tmp_path, steps=5, resume=True))
    again, _ = _load(resumed)
    assert again["training"]["steps"] == 5 and again["training"]["parser_critic"].startswith("3 of 5 steps")

    only = train_editor(_config(tmp_path, export_only=True, weights_out=str(tmp_path / "again")))
    assert read_config(only)["training"] == again["training"]


def test_init_from_starts_the_generator_from_exported_weights(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    first = train_editor(_config(tmp_path, parser="none"))
    _, start = _load(first)
    # lr 0: one more step leaves the generator where --init-from put it
    again = train_editor(_config(tmp_path, parser="none", out=str(tmp_path / "run2"), weights_out=str(tmp_path / "e2"),
                                 init_from=str(first), lr=0.0, steps=1))
    _, model = _load(again)
    for key, value in start.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)
    fresh = train_editor(_config(tmp_path, parser="none", out=str(tmp_path / "run3"), weights_out=str(tmp_path / "e3"),
                                 lr=0.0, steps=1))
    _, other = _load(fresh)
    assert any(not torch.equal(other.state_dict()[k], v) for k, v in start.state_dict().items())
