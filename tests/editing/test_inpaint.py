"""Exemplar inpainting (``facehub/editing/inpaint.py``): texture continues, colours do not leak, known pixels stay."""

from __future__ import annotations

import torch

from facehub.editing.blend_ops import fill_region
from facehub.editing.inpaint import fill_measure, inpaint


def _striped(size: int = 160) -> tuple[torch.Tensor, torch.Tensor]:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    wave = 0.5 + 0.3 * torch.sin((xx + yy).float() * 2 * torch.pi / 12)
    image = torch.stack([wave, wave * 0.8, torch.full_like(wave, 0.3)])
    image = (image + 0.02 * torch.randn(image.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    hole = (xx - size // 2) ** 2 + (yy - size // 2) ** 2 < (size // 4) ** 2
    return image, hole


def test_fill_continues_a_striped_texture_without_the_masked_colour() -> None:
    image, hole = _striped()
    dirty = image.clone()
    dirty[:, hole] = torch.tensor([0.95, 0.05, 0.05])[:, None]  # the "hair" to remove
    new = inpaint(dirty, hole, ~hole)
    old = fill_region(dirty, hole, ~hole)
    m_new, m_old = fill_measure(new, hole, ~hole), fill_measure(old, hole, ~hole)
    assert m_new is not None and m_old is not None
    assert 0.6 < m_new.gradient_ratio < 1.6 and m_old.gradient_ratio < 0.3
    assert m_new.lab_distance < 5
    red = new[:, hole]
    assert float((red[0] - red[1]).mean()) < float((image[0, hole] - image[1, hole]).mean()) + 0.05  # no red leak
    assert torch.equal(new[:, ~hole], dirty[:, ~hole])


def test_flat_background_fills_flat_and_is_deterministic() -> None:
    image = torch.full((3, 120, 140), 0.4)
    image[2] = 0.7
    hole = torch.zeros(120, 140, dtype=torch.bool)
    hole[30:90, 40:110] = True
    dirty = image.clone()
    dirty[:, hole] = 0.0
    out = inpaint(dirty, hole, ~hole)
    assert torch.allclose(out, image, atol=1e-4)
    assert torch.equal(out, inpaint(dirty, hole, ~hole))


def test_sources_restrict_where_patches_come_from() -> None:
    image = torch.zeros(3, 100, 100)
    image[:, :, :50] = 0.2  # left: allowed background
    image[:, :, 50:] = 0.9  # right: e.g. the face, not a source
    hole = torch.zeros(100, 100, dtype=torch.bool)
    hole[35:65, 35:65] = True
    sources = torch.zeros(100, 100, dtype=torch.bool)
    sources[:, :50] = True
    out = inpaint(image, hole, sources)
    assert torch.allclose(out[:, hole], torch.full_like(out[:, hole], 0.2), atol=0.02)
    assert torch.equal(out[:, ~hole], image[:, ~hole])


def test_too_few_sources_falls_back_to_a_smooth_fill() -> None:
    image = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(1))
    hole = torch.zeros(40, 40, dtype=torch.bool)
    hole[10:30, 10:30] = True
    sources = torch.zeros(40, 40, dtype=torch.bool)
    sources[0, 0] = True
    out = inpaint(image, hole, sources)
    assert torch.isfinite(out).all() and torch.equal(out[:, ~hole], image[:, ~hole])
    assert 0 <= float(out.min()) and float(out.max()) <= 1
