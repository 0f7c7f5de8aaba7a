"""PRNet model shapes and ranges, checkpoint round trip, and the training data's target transforms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facehub.geometry.align import CropSpec
from facehub.hub import load_state_dict_strict, save_pretrained
from facehub.reconstruction.models.prnet import PRNet
from facehub.reconstruction.uv import points_468_to_68
from facehub.registry import build_model
from facehub.train.reconstruction.dataset import (
    LOOSE,
    Augment,
    LooseCrops,
    PRNetDataset,
    loose_matrix,
    mirror_index,
)
from tests._faces3d import posed_face


@pytest.mark.parametrize(
    ("input_size", "uv_size", "width", "depth"), [(128, 64, 4, 5), (64, 64, 4, 4), (64, 32, 2, 3)]
)
def test_output_shape_and_range(input_size: int, uv_size: int, width: int, depth: int) -> None:
    model = PRNet(input_size=input_size, uv_size=uv_size, width=width, depth=depth).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, input_size, input_size) * 3)
    assert out.shape == (2, 3, uv_size, uv_size)
    margin = 0.1 * input_size
    assert out[:, :2].min() >= -margin - 1e-3 and out[:, :2].max() <= input_size + margin + 1e-3
    assert out[:, 2].abs().max() <= input_size / 2 + margin + 1e-3


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        PRNet(input_size=100, uv_size=64, depth=5)
    with pytest.raises(ValueError):
        PRNet(input_size=128, uv_size=48, depth=5)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    args = {"input_size": 64, "uv_size": 32, "width": 2, "depth": 3}
    model = build_model("prnet", args).eval()
    config = {"family": "prnet", "task": "reconstruction", "model_args": args, "input_size": 64, "uv_size": 32}
    folder = save_pretrained(model, config, tmp_path / "prnet", half=False)
    again = build_model("prnet", args).eval()
    load_state_dict_strict(again, folder / "model.safetensors")
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(model(x), again(x))


def test_one_training_step_reduces_the_loss() -> None:
    torch.manual_seed(0)
    model = PRNet(input_size=64, uv_size=32, width=4, depth=3)
    x, target = torch.randn(4, 3, 64, 64), torch.rand(4, 3, 32, 32) * 40 + 10
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = (model(x) - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]


def _dataset(augment: Augment, seed: int = 0) -> tuple[PRNetDataset, np.ndarray]:
    """One synthetic loose crop: the posed canonical face, with a bright dot painted at the nose tip."""
    spec = CropSpec(64, 0.65, -0.06)
    loose_size = int(round(64 * 1.625))
    face = posed_face(15, 5, 0, scale=9.0, centre=(150.0, 140.0))
    from facehub.train.reconstruction.dataset import five_points_from_468

    matrix = loose_matrix(five_points_from_468(face), spec, loose_size)
    scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    points = np.concatenate([face[:, :2] @ matrix[:, :2].T + matrix[:, 2], face[:, 2:] * scale], 1)
    image = np.zeros((loose_size, loose_size, 3), dtype=np.uint8)
    x, y = np.round(points[1, :2]).astype(int)
    image[y - 1 : y + 2, x - 1 : x + 2] = 255
    crops = LooseCrops(image[None], points[None].astype(np.float32), np.array(["a.jpg"]), np.array(["synthetic"]))
    return PRNetDataset(crops, spec, 32, augment, [0.5] * 3, [0.5] * 3, seed=seed), points


def test_plain_crop_targets_match_the_model_crop() -> None:
    data, loose_points = _dataset(Augment.none())
    crop, uv, points, labels68 = data[0]
    assert labels68.shape == (68, 2) and torch.isnan(labels68).all()  # a face without human labels
    assert crop.shape == (3, 64, 64) and uv.shape == (3, 32, 32) and points.shape == (468, 3)
    k = 64 * LOOSE / data.crops.images.shape[1]
    c_in, c_out = (data.crops.images.shape[1] - 1) / 2, (64 - 1) / 2
    expected = (loose_points[:, :2] - c_in) * k + c_out
    np.testing.assert_allclose(points[:, :2].numpy(), expected, atol=1e-3)
    np.testing.assert_allclose(points[:, 2].numpy(), loose_points[:, 2] * k, atol=1e-3)
    lm = points_468_to_68(points.numpy().astype(np.float64))
    assert 0 < lm[:, :2].min() and lm[:, :2].max() < 64  # the whole 68-point face is in the crop


@pytest.mark.parametrize("seed", range(6))
def test_augmented_targets_follow_the_image(seed: int) -> None:
    """Rotation, scale, shift and mirror move the painted nose-tip dot and its target point together."""
    data, _ = _dataset(Augment(colour_prob=0.0, gray_prob=0.0, blur_prob=0.0, flip_prob=0.5), seed=seed)
    crop, _, points, _ = data[0]
    brightness = crop.mean(0).numpy() + 1.0  # 0 = black
    weight = np.where(brightness > 0.5 * brightness.max(), brightness, 0.0)
    ys, xs = np.mgrid[0:64, 0:64]
    x, y = (weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()
    assert abs(x - points[1, 0]) <= 1.0 and abs(y - points[1, 1]) <= 1.0
    eyes = points[[33, 263], 0]
    assert eyes[0] < eyes[1] or abs(float(points[33, 1] - points[263, 1])) > 10  # image-left eye stays index 33 after a mirror


@pytest.mark.parametrize("seed", range(4))
def test_human_labels_move_and_mirror_with_the_crop(seed: int) -> None:
    """Labels given as the face's own 68-mapped points stay its 68-mapped points through rotation, scale and mirror."""
    data, loose_points = _dataset(Augment(colour_prob=0.0, gray_prob=0.0, blur_prob=0.0, flip_prob=0.5), seed=seed)
    data.crops.labels68 = points_468_to_68(loose_points[None, :, :2]).astype(np.float32)
    _, _, points, labels68 = data[0]
    expected = points_468_to_68(points.numpy().astype(np.float64))[:, :2]
    assert np.abs(labels68.numpy() - expected).max() < 1.0
    data.rng = np.random.default_rng(seed)
    _, mirrored = data._matrix(data.crops.images.shape[1])  # what this seed's augmentation does
    data.mirror_labels = False
    data.rng = np.random.default_rng(seed)  # the same augmentation again
    _, _, _, labels_again = data[0]
    if mirrored:  # dropped rather than index-swapped
        assert torch.isnan(labels_again).all()
    else:
        assert np.allclose(labels_again.numpy(), labels68.numpy())


def test_mirror_index_is_an_involution() -> None:
    mirror = mirror_index()
    assert np.array_equal(mirror[mirror], np.arange(468))
    assert mirror[33] == 263 and mirror[1] == 1
