"""Portrait-editor training: the two-scale discriminator's shapes, every loss's gradients, the parser critic's frame."""

from __future__ import annotations

import pytest
import torch

from facehub.editing.models.portrait_editor import PortraitEditor, make_inputs
from facehub.train.editing import losses as L
from facehub.train.editing.discriminators import TwoScaleDiscriminator
from tests.editing.test_portrait_editor import B, C, R, face_labels, one_hot


class _TinyParser(torch.nn.Module):
    def __init__(self, classes: int = 4):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


@pytest.fixture(scope="module")
def model() -> PortraitEditor:
    torch.manual_seed(0)
    return PortraitEditor(resolution=R, width=4, embed_channels=8, mask_channels=8, n_res=1)


def test_two_scale_discriminator_shapes() -> None:
    disc = TwoScaleDiscriminator(C, width=4, n_layers=2)
    (full, full_feats), (half, half_feats) = disc(torch.rand(B, 3, R, R), torch.rand(B, C, R, R))
    assert full.shape == (B, 1, R // 4, R // 4) and half.shape == (B, 1, R // 8, R // 8)
    assert [f.shape[1] for f in full_feats] == [4, 8] and [f.shape[1] for f in half_feats] == [4, 8]


def test_every_loss_gives_finite_gradients(model: PortraitEditor) -> None:
    lab = face_labels()
    real = torch.rand(B, 3, R, R) * 2 - 1
    inputs = make_inputs(real.flip(0), one_hot(lab), real, one_hot(lab), torch.tensor([[True] * 5, [False] * 5]))
    disc = TwoScaleDiscriminator(C, width=4, n_layers=2)
    groups = [[0], [1], [2], [3]]  # parser classes of each (toy) editor class
    critic = L.ParserCritic(_TinyParser(4), {"input_size": 32, "crop": {"zoom": 1.0}}, {"zoom": 0.65, "shift_y": 0.04}, groups)
    target_small = lab.clamp(max=3)
    losses = {
        "local": lambda out: L.local_reconstruction(out.decoded, inputs.crops),
        "global": lambda out: L.global_reconstruction(out.image, real),
        "adv": lambda out: L.g_hinge(disc(out.image, inputs.target_mask)),
        "fm": lambda out: L.feature_matching(disc(real, inputs.target_mask), disc(out.image, inputs.target_mask), 10.0, torch.tensor([1.0, 0.0])),
        "parse": lambda out: critic(out.image, target_small),
        "d": lambda out: L.d_hinge(disc(real, inputs.target_mask), disc(out.image.detach(), inputs.target_mask)),
    }
    for name, loss_fn in losses.items():
        model.zero_grad(set_to_none=True)
        disc.zero_grad(set_to_none=True)
        loss = loss_fn(model(**inputs.as_kwargs()))
        assert torch.isfinite(loss), name
        loss.backward()
        params = list(disc.parameters()) if name == "d" else list(model.parameters())
        grads = [p.grad for p in params if p.grad is not None]
        assert grads, f"{name}: no gradient"
        assert all(torch.isfinite(g).all() for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name


def test_parser_critic_frame_is_identity_for_equal_crops() -> None:
    critic = L.ParserCritic(_TinyParser(2), {"input_size": 16, "crop": {"zoom": 0.5, "shift_y": 0.1}}, {"zoom": 0.5, "shift_y": 0.1}, [[0], [1]])
    assert torch.allclose(critic.theta, torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), atol=1e-6)
