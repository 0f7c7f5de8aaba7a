"""Partial labels: a teacher's "skin" pixel may be glasses; a person's label means what it says."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from facehub.parsing.labels import CELEBAMASK, FACEHUB
from facehub.train.parsing.losses import ohem_cross_entropy, pixel_cross_entropy
from facehub.train.parsing.partial import alternatives_table, sample_tables

SKIN, GLASSES, HAIR = CELEBAMASK.index("skin"), CELEBAMASK.index("eye_g"), CELEBAMASK.index("hair")


def _glasses_logits(batch: int) -> torch.Tensor:
    logits = torch.zeros(batch, len(CELEBAMASK), 4, 4)
    logits[:, GLASSES] = 6.0  # the model is sure of glasses everywhere
    return logits


def test_teacher_skin_may_be_glasses_but_a_persons_skin_may_not() -> None:
    logits = _glasses_logits(2)
    target = torch.full((2, 4, 4), SKIN)
    allowed = sample_tables(torch.tensor([True, False]), alternatives_table(CELEBAMASK))
    losses = pixel_cross_entropy(logits, target, allowed)
    plain = F.cross_entropy(logits, target, reduction="none")
    torch.testing.assert_close(losses[0], plain[0])  # human: plain CE
    assert (losses[1] < 0.1).all() and (plain[1] > 5).all()  # teacher: glasses over "skin" costs nothing


def test_teacher_hair_is_still_not_glasses() -> None:
    logits = _glasses_logits(1)
    target = torch.full((1, 4, 4), HAIR)
    allowed = sample_tables(torch.tensor([False]), alternatives_table(CELEBAMASK))
    torch.testing.assert_close(pixel_cross_entropy(logits, target, allowed), F.cross_entropy(logits, target, reduction="none"))


def test_ignore_pixels_cost_nothing_and_ohem_accepts_partial_labels() -> None:
    logits = torch.randn(1, len(CELEBAMASK), 4, 4, requires_grad=True)
    target = torch.full((1, 4, 4), SKIN)
    target[0, 0] = 255
    allowed = sample_tables(torch.tensor([False]), alternatives_table(CELEBAMASK))
    assert (pixel_cross_entropy(logits, target, allowed)[0, 0] == 0).all()
    loss = ohem_cross_entropy(logits, target, keep=1.0, allowed=allowed)
    loss.backward()
    assert torch.isfinite(loss) and logits.grad[0, :, 0].abs().sum() == 0


def test_a_label_set_without_the_rare_classes_gets_the_identity() -> None:
    assert torch.equal(alternatives_table(FACEHUB), torch.eye(len(FACEHUB), dtype=torch.bool))
