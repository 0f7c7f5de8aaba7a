"""MTCNN networks: output shapes and ranges, and strict loading of the shipped checkpoint."""

from __future__ import annotations

import json

import pytest
import torch

from facehub.detection.models.mtcnn import MTCNN, ONet, PNet, RNet
from facehub.errors import CheckpointError
from facehub.hub import (
    load_model,
    load_state_dict_strict,
    save_pretrained,
    weights_root,
)
from facehub.registry import build_model


def test_pnet_is_fully_convolutional() -> None:
    prob, offsets = PNet().eval()(torch.randn(2, 3, 40, 30))
    assert prob.shape == (2, 15, 10) and offsets.shape == (2, 4, 15, 10)
    assert prob.min() >= 0 and prob.max() <= 1


@pytest.mark.parametrize("net, size", [(RNet, 24), (ONet, 48)])
def test_refinement_nets(net: type[torch.nn.Module], size: int) -> None:
    outputs = net().eval()(torch.randn(5, 3, size, size))
    assert outputs[0].shape == (5,) and outputs[1].shape == (5, 4)
    if net is ONet:
        assert outputs[2].shape == (5, 10)


def test_family_builds_from_registry() -> None:
    model = build_model("mtcnn", {})
    assert isinstance(model, MTCNN) and {"pnet", "rnet", "onet"} <= dict(model.named_children()).keys()


def test_shipped_checkpoint_loads_strictly_in_fp32() -> None:
    loaded = load_model("mtcnn")
    config = json.loads((weights_root() / "mtcnn" / "config.json").read_text())
    assert config["family"] == "mtcnn" and config["task"] == "detection" and config["model_args"] == {}
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    # O-Net above MTCNN's 0.7 (a false face on the astronaut's badge scores 0.825), below 0.9 (real faces score 0.899)
    assert loaded.config["thresholds"][:2] == [0.6, 0.7] and 0.825 < loaded.config["thresholds"][2] < 0.899


def test_extra_key_is_an_error(tmp_path) -> None:
    model = MTCNN()
    model.register_buffer("stray", torch.zeros(1))
    save_pretrained(model, {"family": "mtcnn", "task": "detection", "model_args": {}}, tmp_path, half=False)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_state_dict_strict(MTCNN(), tmp_path / "model.safetensors", "mtcnn")
