"""Stacked Hourglass: shapes, Gaussian targets and sub-pixel decoding."""

from __future__ import annotations

import pytest
import torch

from facehub.landmarks.models.hourglass import StackedHourglass


@pytest.mark.parametrize("num_points", [68, 98])
def test_shapes(num_points: int) -> None:
    model = StackedHourglass(num_points=num_points, num_stacks=2, width=16, depth=2, input_size=64, heatmap_size=16).eval()
    outputs = model(torch.zeros(2, 3, 64, 64))
    assert len(outputs) == 2 and all(o.shape == (2, num_points, 16, 16) for o in outputs)
    assert model.predict(torch.zeros(2, 3, 64, 64)).shape == (2, num_points, 2)


@pytest.mark.parametrize("heatmap_size", [32, 64])
def test_round_trip_within_half_pixel_at_heatmap_resolution(heatmap_size: int) -> None:
    torch.manual_seed(0)
    model = StackedHourglass(num_points=68, width=16, depth=2, input_size=128, heatmap_size=heatmap_size)
    points = torch.rand(4, 68, 2) * 112 + 8  # a known point set, inside the crop
    decoded = model.decode_heatmaps(model.targets(points))
    error_heatmap_px = (decoded - points).abs().max() / model.ratio
    assert error_heatmap_px < 0.5
    assert (decoded - points).norm(dim=-1).mean() / model.ratio < 0.1  # sub-pixel: far better than argmax


def test_targets_peak_at_points() -> None:
    model = StackedHourglass(num_points=2, width=16, depth=2, input_size=64, heatmap_size=16)
    points = torch.tensor([[[1.5, 5.5], [33.5, 61.5]]])  # heatmap coords (0, 1) and (8, 15)
    heat = model.targets(points)
    assert heat.max() <= 1.0 and heat.min() >= 0.0
    assert heat[0, 0].flatten().argmax().item() == 1 * 16 + 0
    assert heat[0, 1].flatten().argmax().item() == 15 * 16 + 8


def test_loss_has_intermediate_supervision() -> None:
    model = StackedHourglass(num_points=68, num_stacks=3, width=16, depth=2, input_size=64, heatmap_size=16)
    terms = model.loss(model(torch.randn(2, 3, 64, 64)), torch.rand(2, 68, 2) * 60)
    assert {"stack0", "stack1", "stack2", "total"} <= set(terms)
    terms["total"].backward()
    assert model.heads[0].weight.grad is not None
