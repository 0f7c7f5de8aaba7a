"""BatchNorm folding keeps every family's outputs and removes the BN ops it can."""

import pytest
import torch
from torch import nn

from facehub.nn.fuse import fuse_batchnorm
from facehub.registry import build_model

FAMILIES = {
    "bisenet": ({"num_classes": 5, "backbone_width": 8, "spatial_width": 8, "context_width": 16, "fuse_width": 16}, 64),
    "face_transformer": ({"num_classes": 5, "image_size": 64, "patch": 16, "dim": 32, "depth": 1, "heads": 2, "mlp": 32}, 64),
    "pipnet": ({"num_points": 68, "width": 8, "input_size": 64}, 64),
    "hourglass": ({"num_points": 68, "num_stacks": 1, "width": 16, "input_size": 64, "heatmap_size": 16}, 64),
    "prnet": ({"input_size": 64, "uv_size": 32, "width": 4, "depth": 3}, 64),
}


def _randomise_batchnorm(model: nn.Module) -> None:
    """Non-trivial running statistics and affine terms, so that a wrong fold shows."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=generator))
            module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(size, generator=generator))
            module.bias.data.copy_(torch.randn(size, generator=generator))


def _flatten(output) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        return [t for value in output.values() for t in _flatten(value)]
    return [t for value in output for t in _flatten(value)]


def _batchnorms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_folding_keeps_outputs_and_removes_batchnorm(family):
    args, size = FAMILIES[family]
    torch.manual_seed(0)
    model = build_model(family, args)
    _randomise_batchnorm(model)
    model.eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        before = _flatten(model(x))
        count = _batchnorms(model)
        fuse_batchnorm(model)
        after = _flatten(model(x))
    assert _batchnorms(model) < count
    for a, b in zip(before, after):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * float(a.abs().max()) + 1e-5)


def test_folding_is_idempotent_and_refuses_training_mode():
    model = build_model("pipnet", FAMILIES["pipnet"][0])
    with pytest.raises(ValueError, match="eval-mode"):
        fuse_batchnorm(model.train())
    fuse_batchnorm(model.eval())
    remaining = _batchnorms(model)
    fuse_batchnorm(model)
    assert _batchnorms(model) == remaining
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.backbone.modules())
