"""BiSeNet: output shapes for each label set, auxiliary heads, strict save/load round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from facehub.hub import load_state_dict_strict, save_pretrained
from facehub.parsing.labels import CELEBAMASK, FACEHUB, LAPA
from facehub.registry import build_model

TINY = {"backbone_width": 8, "spatial_width": 8, "context_width": 16, "fuse_width": 16}


@pytest.mark.parametrize("labels", [LAPA, CELEBAMASK, FACEHUB], ids=lambda s: s.name)
@pytest.mark.parametrize("detail_skip", [False, True])
def test_shapes(labels, detail_skip: bool) -> None:
    model = build_model("bisenet", {**TINY, "num_classes": len(labels), "detail_skip": detail_skip}).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 64, 96))
    assert out.shape == (2, len(labels), 64, 96)


def test_aux_heads_in_training() -> None:
    model = build_model("bisenet", {**TINY, "num_classes": 15, "detail_skip": True}).train()
    outs = model(torch.randn(2, 3, 64, 64), with_aux=True)
    assert len(outs) == 3 and all(o.shape == (2, 15, 64, 64) for o in outs)
    sum(o.mean() for o in outs).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_no_aux_build_refuses_aux() -> None:
    model = build_model("bisenet", {**TINY, "num_classes": 5, "aux": False})
    with pytest.raises(ValueError, match="aux"):
        model(torch.randn(1, 3, 32, 32), with_aux=True)


def test_save_load_round_trip(tmp_path: Path) -> None:
    args = {**TINY, "num_classes": 15, "detail_skip": True}
    model = build_model("bisenet", args).eval()
    folder = save_pretrained(model, {"family": "bisenet", "task": "parsing", "model_args": args}, tmp_path / "ckpt")
    clone = build_model("bisenet", args).eval()
    load_state_dict_strict(clone, folder / "model.safetensors")
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(model(x), clone(x), atol=5e-2)


@pytest.mark.parametrize("detail_skip", [False, True])
def test_coarse_logits_are_the_logits_before_upsampling(detail_skip: bool) -> None:
    model = build_model("bisenet", {**TINY, "num_classes": 7, "detail_skip": detail_skip}).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.inference_mode():
        coarse = model.coarse_logits(x)
        full = model(x)
    stride = 4 if detail_skip else 8
    assert coarse.shape == (1, 7, 64 // stride, 96 // stride)
    upsampled = torch.nn.functional.interpolate(coarse, size=(64, 96), mode="bilinear", align_corners=False)
    assert torch.equal(upsampled, full)
