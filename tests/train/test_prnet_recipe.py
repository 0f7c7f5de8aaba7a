"""The PRNet recipe on the engine: a few steps on synthetic loose crops write last.pt, best.pt and best/,
which load back (facehub.hub, the export), and --resume continues the run."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from facehub.geometry.align import CropSpec
from facehub.geometry.five_points import five_points_from_468
from facehub.hub import load_state_dict_strict, read_config
from facehub.reconstruction.uv import points_468_to_68
from facehub.registry import build_model
from facehub.train.reconstruction.checkpoint import read_checkpoint
from facehub.train.reconstruction.dataset import LooseCrops, loose_matrix, loose_size
from facehub.train.reconstruction.export import ExportOptions, export_prnet
from facehub.train.reconstruction.recipe import PRNetConfig, train_prnet
from tests._faces3d import posed_face

SIZE = 64


def synthetic_crops(count: int, seed: int = 0) -> LooseCrops:
    """``count`` posed canonical faces on noise, in loose-crop pixels; every other face has human labels."""
    rng = np.random.default_rng(seed)
    spec, loose = CropSpec(SIZE, 0.65, -0.06), loose_size(SIZE)
    images, points, labels = [], [], np.full((count, 68, 2), np.nan, dtype=np.float32)
    for i in range(count):
        face = posed_face(rng.uniform(-30, 30), rng.uniform(-10, 10), 0, scale=9.0, centre=(150.0, 140.0))
        matrix = loose_matrix(five_points_from_468(face), spec, loose)
        scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
        pts = np.concatenate([face[:, :2] @ matrix[:, :2].T + matrix[:, 2], face[:, 2:] * scale], 1)
        images.append(rng.integers(0, 255, (loose, loose, 3), dtype=np.uint8))
        points.append(pts.astype(np.float32))
        if i % 2 == 0:
            labels[i] = points_468_to_68(pts[:, :2])
    names = np.array([f"{i}.jpg" for i in range(count)])
    return LooseCrops(np.stack(images), np.stack(points), names, np.array(["synthetic"] * count), labels)


def _config(out: Path, **changes) -> PRNetConfig:
    base = dict(out=str(out), input_size=SIZE, uv_size=32, width=2, depth=3, batch=2, epochs=1, eval_every=1,
                save_every=1, val_limit=4, labels68_weight=1.0, mirror_labels=False)
    return PRNetConfig(**{**base, **changes})


def test_a_few_steps_write_checkpoints_that_load_back(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    out = tmp_path / "run"
    state = train_prnet(_config(out), train_crops=synthetic_crops(4), val_crops=synthetic_crops(3, seed=1))
    assert state.step == 2  # one epoch of 4 faces in batches of 2
    assert {"last.pt", "best.pt", "best", "log.csv"} <= {p.name for p in out.iterdir()}
    rows = list(csv.DictReader((out / "log.csv").open()))
    scored = [r for r in rows if r.get("val_nme_real")]
    assert scored and all(np.isfinite(float(r["val_nme_real"])) for r in scored)

    config = read_config(out / "best")  # the engine's export: a checkpoint facehub.hub loads strictly
    assert (config["family"], config["task"], config["uv_size"]) == ("prnet", "reconstruction", 32)
    model = build_model(config["family"], config["model_args"]).eval()
    load_state_dict_strict(model, out / "best" / "model.safetensors")
    best = read_checkpoint(out / "best.pt")
    x = torch.randn(1, 3, SIZE, SIZE)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), best.model(x))
    assert best.crop == {"zoom": 0.65, "shift_y": -0.06} and best.step in (1, 2)

    folder, metrics = export_prnet(ExportOptions(checkpoint=out / "best.pt", log=out / "log.csv", out=tmp_path / "export"))
    shipped = read_config(folder)
    assert shipped["crop"] == config["crop"] and (folder / "README.md").is_file()
    assert "pose_calibration" not in shipped
    calibrated, _ = export_prnet(ExportOptions(checkpoint=out / "best.pt", log=out / "log.csv", out=tmp_path / "cal",
                                               pose_calibration="0.2,30", landmarks="pipnet:0.75,0.25"))
    assert read_config(calibrated)["pose_calibration"] == {"gain": 0.2, "from_yaw": 30.0}
    assert read_config(calibrated)["landmarks"] == {"model": "pipnet", "weight": 0.75, "jaw_weight": 0.25}
    gated, _ = export_prnet(ExportOptions(checkpoint=out / "best.pt", log=out / "log.csv", out=tmp_path / "gated",
                                          landmarks="pipnet:0.75,0.25,50"))
    assert read_config(gated)["landmarks"] == {"model": "pipnet", "weight": 0.75, "jaw_weight": 0.25, "flip_below_yaw": 50.0}
    assert metrics["steps at the shipped checkpoint (batch 16)"] == best.step
    again = build_model("prnet", shipped["model_args"])
    load_state_dict_strict(again, folder / "model.safetensors")

    resumed = train_prnet(_config(out, epochs=2, resume=True), train_crops=synthetic_crops(4), val_crops=synthetic_crops(3, seed=1))
    assert resumed.step == 4
    assert read_checkpoint(out / "last.pt").step == 4


def test_extra_profiled_views_join_training_only(monkeypatch) -> None:
    """--extra-profiled-yaw adds a second turned view (seed 1, that yaw range) to training; val keeps one."""
    from facehub.train.reconstruction import profiled
    from facehub.train.reconstruction.recipe import PRNetRecipe

    calls = []

    def fake_build(split, spec, loose, poses=profiled.PoseRange(), seed=0, workers=2):
        calls.append((split, poses.yaw, seed))
        return synthetic_crops(2, seed=len(calls))

    monkeypatch.setattr(profiled, "build_profiled_crops", fake_build)
    recipe = PRNetRecipe(_config("unused", profiled=True, extra_profiled_yaw=(55.0, 90.0)),
                         train_crops=synthetic_crops(4), val_crops=synthetic_crops(3, seed=1))
    assert sorted(calls) == [("train", (25.0, 88.0), 0), ("train", (55.0, 90.0), 1), ("val", (25.0, 88.0), 0)]
    assert len(recipe.train_crops.images) == 4 + 2 + 2 and len(recipe.val) == 3 + 2
