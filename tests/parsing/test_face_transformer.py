"""Face transformer (ViT segmenter): shapes, input checks, and the parsing losses (REINFORCE F1 included)."""

from __future__ import annotations

import pytest
import torch

from facehub.parsing.labels import FACEHUB, LAPA
from facehub.registry import build_model
from facehub.train.parsing.losses import (
    dice_loss,
    f1_reward,
    ohem_cross_entropy,
    reinforce_f1_loss,
)

TINY = {"image_size": 64, "patch": 16, "dim": 32, "depth": 2, "heads": 2, "mlp": 64, "decoder_width": 32, "skip_width": 8}


@pytest.mark.parametrize("labels", [LAPA, FACEHUB], ids=lambda s: s.name)
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("patch", [8, 16])
def test_shapes(labels, skip: bool, patch: int) -> None:
    model = build_model("face_transformer", {**TINY, "patch": patch, "skip": skip, "num_classes": len(labels)}).eval()
    with torch.inference_mode():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, len(labels), 64, 64)


def test_wrong_size_and_patch() -> None:
    model = build_model("face_transformer", {**TINY, "num_classes": 3})
    with pytest.raises(ValueError, match="64x64"):
        model(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="patch"):
        build_model("face_transformer", {**TINY, "patch": 12, "num_classes": 3})


def _batch(classes: int = 15) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    logits = torch.randn(2, classes, 32, 32, requires_grad=True)
    target = torch.randint(0, classes, (2, 32, 32))
    target[:, :4] = 255  # ignore rows
    return logits, target


def test_reward_loss_gives_finite_gradients() -> None:
    model = build_model("face_transformer", {**TINY, "num_classes": 15})
    images, (_, target) = torch.randn(2, 3, 64, 64), _batch()
    target = torch.nn.functional.interpolate(target[:, None].float(), size=(64, 64), mode="nearest")[:, 0].long()
    loss, reward = reinforce_f1_loss(model(images), target)
    loss.backward()
    assert torch.isfinite(loss) and 0.0 <= float(reward) <= 1.0
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_f1_reward_perfect_and_ignore() -> None:
    _, target = _batch()
    clean = torch.where(target == 255, torch.zeros_like(target), target)
    assert torch.allclose(f1_reward(clean, target, 15), torch.ones(2))
    assert (f1_reward(torch.zeros_like(target), target, 15) < 0.5).all()


def test_ce_and_dice_finite() -> None:
    logits, target = _batch()
    for loss in (ohem_cross_entropy(logits, target), ohem_cross_entropy(logits, target, keep=1.0), dice_loss(logits, target)):
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
