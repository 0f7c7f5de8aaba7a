"""The parsing and landmark recipes run through the engine on a few synthetic faces (tiny models, 3 steps):
losses, batches, validation, best/ with the recipe's config.json, and the landmark export with its card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facehub.geometry.align import CropSpec
from facehub.parsing.labels import CELEBAMASK, FACEHUB
from facehub.train import engine
from facehub.train.parsing.dataset import ParsingItem

RNG = np.random.default_rng(0)
FIVE = np.array([[40.0, 50.0], [88.0, 50.0], [64.0, 72.0], [46.0, 92.0], [82.0, 92.0]])


def _image(path: Path) -> Path:
    Image.fromarray(RNG.integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(path)
    return path


def _points68() -> np.ndarray:
    """68 points whose eyes, nose tip and mouth corners sit at ``FIVE`` (jittered); the rest anywhere on the face."""
    points = RNG.uniform(30, 100, (68, 2))
    points[36:42] = FIVE[0] + RNG.normal(0, 2, (6, 2))
    points[42:48] = FIVE[1] + RNG.normal(0, 2, (6, 2))
    points[[30, 48, 54]] = FIVE[2:] + RNG.normal(0, 1, (3, 2))
    return points


@pytest.mark.parametrize("family", ["bisenet", "face_transformer"])
def test_parsing_recipe_trains_and_exports(tmp_path: Path, family: str) -> None:
    from facehub.train.parsing.recipe import ParsingConfig, ParsingRecipe, engine_config

    items = []  # pseudo-labelled (FACEHUB) and human-labelled (CelebAMask-HQ) faces, trained in CelebAMask-HQ's 19
    for i in range(6):
        human = i % 2 == 1
        label = RNG.integers(0, len(CELEBAMASK if human else FACEHUB), (128, 128)).astype(np.uint8)
        Image.fromarray(label).save(tmp_path / f"{i}.png")
        items.append(ParsingItem(_image(tmp_path / f"{i}.jpg"), tmp_path / f"{i}.png", FIVE + RNG.normal(0, 1, (5, 2)),
                                 "synthetic", CELEBAMASK.names if human else FACEHUB.names, human=human))
    model_args = ({"backbone_width": 8, "spatial_width": 8, "context_width": 16, "fuse_width": 16} if family == "bisenet"
                  else {"image_size": 64, "patch": 16, "dim": 16, "depth": 1, "heads": 2, "mlp": 16, "decoder_width": 8})
    config = ParsingConfig(family=family, out=str(tmp_path / "run"), model_args=model_args, input_size=64, batch=2,
                           max_steps=3, reward=0.5, reward_start=0.0, partial_labels=True, rare_boost=3.0)
    state = engine.train(ParsingRecipe(config, items[:4], items[4:]), engine_config(config))
    assert state.step == 3
    best = tmp_path / "run" / "best"
    exported = json.loads((best / "config.json").read_text())
    assert exported["model_args"]["num_classes"] == len(CELEBAMASK) and exported["labels"] == list(CELEBAMASK.names)
    metrics = json.loads((best / "metrics.json").read_text())  # the final weights always become best/
    assert metrics["step"] == 3 and 0.0 <= metrics["coarse_mean5"] <= 1.0 and 0.0 <= metrics["human_mean11"] <= 1.0
    assert (tmp_path / "run" / "last.pt").is_file()


def _ytf68_folder(root: Path, people: int = 6, frames: int = 2) -> Path:
    (root / "images").mkdir(parents=True)
    rows = ["image," + ",".join(f"x{i},y{i}" for i in range(68))]
    for person in range(people):
        for frame in range(frames):
            name = f"training_Person{person}_{frame}.jpg"
            _image(root / "images" / name)
            rows.append(name + "," + ",".join(f"{v:.2f}" for v in _points68().ravel()))
    (root / "landmarks68.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("family", ["pipnet", "hourglass"])
def test_landmark_recipe_trains_and_exports(tmp_path: Path, family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from facehub.train.data.landmark_files import read_labelled_folder
    from facehub.train.landmarks import recipe
    from facehub.train.landmarks.export import LandmarkExport, export_checkpoint

    data = _ytf68_folder(tmp_path / "ytf68")
    other = _ytf68_folder(tmp_path / "300w_like", people=3, frames=1)  # a second folder, validated on its own
    monkeypatch.setattr(recipe, "teacher_landmark_samples", lambda names: read_labelled_folder(data)[:4])
    config = recipe.LandmarkConfig(family=family, data=f"{data},{other}", out=tmp_path / "run", steps=3, batch_size=4, width=8,
                                   input_size=64, heatmap_size=16, val_fraction=0.34, val_every=2, ema=0.5,
                                   teacher_data="fake", argv=["--family", family])
    state = recipe.train(config)
    assert state.step == 3 and state.ema is not None
    info = json.loads((tmp_path / "run" / "best_info.json").read_text())
    assert info["teacher_faces"] == 4 and info["people"] == 3 and np.isfinite(info["nme_noisy"])
    assert np.isclose(info["nme_noisy"], (info["nme_noisy_ytf68"] + info["nme_noisy_300w_like"]) / 2)
    folder = export_checkpoint(tmp_path / "run", LandmarkExport(tmp_path / "shipped", history="Stage 1."))
    card = (folder / "README.md").read_text()
    assert "Stage 1. This run:" in card and f"train_landmarks.py --family {family}" in card
    assert json.loads((folder / "config.json").read_text())["task"] == "landmarks"


def test_flip_folders_mirror_only_the_named_folders_faces(tmp_path: Path) -> None:
    from facehub.train.landmarks import recipe

    ytf = _ytf68_folder(tmp_path / "ytf68")
    helen = _ytf68_folder(tmp_path / "helen_train", people=3, frames=2)
    config = recipe.LandmarkConfig(data=f"{ytf},{helen}", out=tmp_path / "run", input_size=64, val_fraction=0.34,
                                   flip_prob=1.0, flip_folders=str(helen))
    built = recipe.LandmarkRecipe(config)
    from_helen = [s.path.parent.parent.name == "helen_train" for s in built.train_s]
    assert built.mirrorable == from_helen and any(from_helen) and not all(from_helen)
    spec = CropSpec(64, config.zoom, config.shift_y)
    indices = range(len(built.train_s))
    plain, _ = recipe.crop_batch(built.train_i, built.train_s, indices, spec, recipe.LandmarkAugment.none(), np.random.default_rng(0))
    always = recipe.LandmarkAugment.none()
    always.flip_prob = 1.0
    mixed, _ = recipe.crop_batch(built.train_i, built.train_s, indices, spec, always, np.random.default_rng(0), built.mirrorable)
    for i, mirrored in enumerate(from_helen):
        expected = plain[i].flip(-1) if mirrored else plain[i]
        assert torch.allclose(mixed[i], expected)
    with pytest.raises(ValueError, match="not in --data"):
        recipe.LandmarkRecipe(recipe.LandmarkConfig(data=str(ytf), out=tmp_path / "run2", flip_folders="afw"))
