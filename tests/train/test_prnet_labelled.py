"""Real photos with human 68 points and no 3D target (facehub/train/reconstruction/labelled.py): the cached
loose crops (labels moved with the crop, a turned face's jaw dropped), and the recipe's loss on a batch that
mixes them with teacher faces. The yaw read from 2D labels: tests/geometry/test_profile_jaw.py."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facehub.geometry.align import CropSpec
from facehub.geometry.five_points import five_points_from_68
from facehub.geometry.landmarks68 import flip_index
from facehub.reconstruction.uv import points_468_to_68
from facehub.train.reconstruction.dataset import Augment, PRNetDataset, loose_matrix, loose_size
from facehub.train.reconstruction.labelled import JAW, build_labelled_crops
from tests._faces3d import posed_face

SPEC = CropSpec(64, 0.65, -0.06)


def _labelled_folder(root: Path, yaws: list[float]) -> Path:
    """A ytf68-layout folder (landmarks68.csv + images/) of posed canonical faces, one person each."""
    folder = root / "300w68" / "afw"
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    with (folder / "landmarks68.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image"] + [f"{a}{i}" for i in range(68) for a in "xy"])
        for i, yaw in enumerate(yaws):
            name = f"person{i}_1.jpg"
            Image.fromarray(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(folder / "images" / name)
            points = points_468_to_68(posed_face(yaw, scale=10.0, centre=(150.0, 150.0))[:, :2])
            writer.writerow([name] + [f"{v:.3f}" for v in points.ravel()])
    return folder


def test_labelled_crops_move_the_labels_and_drop_a_turned_jaw(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FACEHUB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("FACEHUB_CACHE", str(tmp_path / "cache"))
    yaws = [0.0, 10.0, -15.0, 50.0, -60.0, 5.0, 20.0, -5.0, 30.0]
    _labelled_folder(tmp_path / "data", yaws)
    loose = loose_size(SPEC.size)
    crops = build_labelled_crops(("300w68/afw",), SPEC, loose)
    assert 1 <= len(crops.images) < len(yaws)  # the held-out people stay out
    assert crops.images.shape[1:] == (loose, loose, 3) and np.isnan(crops.points).all()
    assert set(crops.sources) == {"labelled_300w68_afw"}
    assert list((tmp_path / "cache" / "prnet").glob("labelled_300w68_afw_*.npz"))
    with (tmp_path / "data" / "300w68" / "afw" / "landmarks68.csv").open() as handle:
        rows = {r[0]: np.asarray(r[1:], dtype=float).reshape(68, 2) for r in list(csv.reader(handle))[1:]}
    for name, labels in zip(crops.names, crops.labels68):
        points = rows[str(name)]
        matrix = loose_matrix(five_points_from_68(points), SPEC, loose)
        expected = points @ matrix[:, :2].T + matrix[:, 2]
        turned = abs(yaws[int(str(name)[6:].split("_")[0])]) > 35
        np.testing.assert_allclose(labels[17:], expected[17:], atol=1e-3)
        assert np.isnan(labels[JAW]).all() == turned and np.isfinite(labels[JAW]).all() == (not turned)
    again = build_labelled_crops(("300w68/afw",), SPEC, loose)  # from the cache
    np.testing.assert_array_equal(again.labels68, crops.labels68)


def test_a_mirrored_300w_face_keeps_its_labels_swapped_and_has_no_map(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FACEHUB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("FACEHUB_CACHE", str(tmp_path / "cache"))
    _labelled_folder(tmp_path / "data", [0.0] * 12)
    crops = build_labelled_crops(("300w68/afw",), SPEC, loose_size(SPEC.size))
    crops.sources[:] = "labelled_300w68_afw"
    always = Augment(max_rotation=0.0, large_rotation_prob=0.0, scale=(1.0, 1.0), shift=0.0, flip_prob=1.0,
                     colour_prob=0.0, gray_prob=0.0, blur_prob=0.0)
    data = PRNetDataset(crops, SPEC, 32, always, [0.5] * 3, [0.5] * 3, mirror_labels=False)
    _, uv, points, labels = data[0]
    assert torch.isfinite(labels).all()  # index-swapped, not dropped as ytf68's would be
    assert torch.isnan(points).all() and torch.isnan(uv).any()
    plain = PRNetDataset(crops, SPEC, 32, Augment.none(), [0.5] * 3, [0.5] * 3)[0][3]
    swap = np.asarray(flip_index(68))  # point i of the mirrored face is point swap[i] of the original
    np.testing.assert_allclose(labels[:, 0].numpy(), SPEC.size - 1 - plain[swap, 0].numpy(), atol=1e-3)
    np.testing.assert_allclose(labels[:, 1].numpy(), plain[swap, 1].numpy(), atol=1e-3)


def test_the_loss_mixes_faces_with_and_without_a_map() -> None:
    from facehub.train.reconstruction.recipe import PRNetConfig, PRNetRecipe
    from tests.train.test_prnet_recipe import synthetic_crops

    config = PRNetConfig(out="unused", input_size=64, uv_size=32, width=2, depth=3, labels68_weight=1.0)
    recipe = PRNetRecipe(config, train_crops=synthetic_crops(2), val_crops=synthetic_crops(2, seed=1))
    model = recipe.models()["model"]
    items = [recipe.val[0], recipe.val[1]]
    x, uv, points, labels = (torch.stack(t) for t in zip(*items))
    uv[1], labels[1, :17] = float("nan"), float("nan")  # face 1: a labelled photo with no 3D target, jaw unknown
    labels[1, 17:] = labels[0, 17:]
    loss, _ = recipe.loss(model, (x, uv, points, labels), None)  # this recipe's loss does not read the step context
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
