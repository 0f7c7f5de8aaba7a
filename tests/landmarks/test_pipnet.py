"""PIPNet and its ResNet backbone: shapes, target/decoding round trip, neighbour merging, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facehub.geometry.landmarks68 import neighbour_indices
from facehub.landmarks.models.pipnet import PIPNet
from facehub.nn.resnet import ResNet18, ResNet34


def test_resnet_feature_strides() -> None:
    net = ResNet18(in_channels=3, width=8).eval()
    feats = net.forward_features(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == net.out_channels == [8, 16, 32, 64]
    assert [f.shape[-1] for f in feats] == [16, 8, 4, 2]
    assert len(ResNet34(width=8).layer3) == 6


@pytest.mark.parametrize("num_points", [68, 98])
@pytest.mark.parametrize("net_stride", [16, 32])
def test_shapes(num_points: int, net_stride: int) -> None:
    model = PIPNet(num_points=num_points, num_nb=4, width=8, net_stride=net_stride, input_size=64).eval()
    score, offset, neighbour = model(torch.zeros(2, 3, 64, 64))
    g = 64 // net_stride
    assert score.shape == (2, num_points, g, g)
    assert offset.shape == (2, 2 * num_points, g, g)
    assert neighbour.shape == (2, 2 * num_points * 4, g, g)
    assert model.predict(torch.zeros(2, 3, 64, 64)).shape == (2, num_points, 2)


def _perfect_outputs(model: PIPNet, points: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Head outputs that encode ``points`` exactly at every cell."""
    cell, score, offset, nb = model.targets(points)
    b, n, g = points.shape[0], model.num_points, model.grid_size
    off_map = offset.permute(0, 2, 1)[..., None, None].expand(b, 2, n, g, g).reshape(b, 2 * n, g, g)
    nb_map = nb.permute(0, 3, 1, 2)[..., None, None].expand(b, 2, n, model.num_nb, g, g).reshape(b, -1, g, g)
    return score, off_map, nb_map


def test_round_trip_within_half_pixel() -> None:
    torch.manual_seed(0)
    model = PIPNet(num_points=68, num_nb=6, width=8, net_stride=16, input_size=128)
    points = torch.rand(3, 68, 2) * 120 + 4
    model.set_neighbours(points[0].numpy())
    decoded = model.decode_outputs(_perfect_outputs(model, points), merge=True)
    error_grid = (decoded - points).abs().max() / model.net_stride
    assert error_grid < 0.5 / model.net_stride + 1e-4  # within 0.5 crop px, far below 0.5 px at output resolution
    assert torch.allclose(model.decode_outputs(_perfect_outputs(model, points), merge=False), points, atol=1e-4)


def test_neighbour_merging_averages_votes() -> None:
    model = PIPNet(num_points=68, num_nb=3, width=8, net_stride=32, input_size=64)
    points = torch.rand(1, 68, 2) * 60
    score, offset, nb = _perfect_outputs(model, points)
    nb = nb + 1.0  # every neighbour vote off by one cell in x and y
    merged = model.decode_outputs((score, offset, nb))
    own = model.decode_outputs((score, offset, nb), merge=False)
    assert torch.allclose(own, points, atol=1e-4)
    votes = torch.bincount(model.nb_index.flatten(), minlength=68).float()
    expected = points + (votes / (votes + 1))[None, :, None] * model.net_stride
    assert torch.allclose(merged, expected, atol=1e-3)


def test_loss_is_finite_and_decreases() -> None:
    torch.manual_seed(0)
    model = PIPNet(num_points=68, num_nb=4, width=8, net_stride=16, input_size=64)
    x, points = torch.randn(4, 3, 64, 64), torch.rand(4, 68, 2) * 60
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    first = None
    for _ in range(5):
        loss = model.loss(model(x), points)["total"]
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert np.isfinite(loss.item()) and loss.item() < first


def test_neighbours_from_mean_face_saved_and_loaded_strictly(tmp_path) -> None:
    from facehub.hub import WEIGHTS_NAME, load_state_dict_strict, save_pretrained

    model = PIPNet(num_points=68, num_nb=5, width=8, net_stride=16, input_size=64)
    mean = np.random.default_rng(0).random((68, 2))
    model.set_neighbours(mean)
    assert (model.nb_index.numpy() == neighbour_indices(mean, 5)).all()
    config = {"family": "pipnet", "task": "landmarks", "model_args": {"num_points": 68, "num_nb": 5, "width": 8, "net_stride": 16, "input_size": 64}}
    save_pretrained(model, config, tmp_path)
    fresh = PIPNet(**config["model_args"])
    load_state_dict_strict(fresh, tmp_path / WEIGHTS_NAME)
    assert torch.equal(fresh.nb_index, model.nb_index)
