"""Exemplar inpainting: fill a hole with patches of the nearby known pixels (pure torch).

Wexler-style completion with a vectorised PatchMatch search, coarse to fine, on a
downscaled working copy of the hole's neighbourhood (longer side <= ``work_side``):

1. crop the hole's bounding box grown by ``margin``; shrink it by an integer factor;
2. on a small pyramid, repeat: for every patch that overlaps the hole find its
   nearest source patch (PatchMatch: propagation from the 4 neighbours plus random
   search), then re-estimate the hole as the average of the overlapping source
   patches (voting);
3. at full resolution the fill is the bilinearly upsampled vote plus the
   high-frequency detail (the crop minus its blur at the working scale) of the
   full-resolution source pixels the last nearest-neighbour field points at, so
   the fill has the grain of the surroundings rather than the working copy's blur.

Source patches lie wholly in ``sources`` (never in the hole), so colours of a
masked-out object (hair) never leak into the fill. Deterministic for a given ``seed``.

```python
filled = inpaint(image, hole, sources)  # (3, H, W) in [0, 1]; pixels outside ``hole`` are returned unchanged
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from facehub.editing.blend_ops import bbox, dilate, erode, push_pull_fill, rgb_to_lab

SPATIAL = 0.5  # weight of the (distance / side)^2 prior against the patch SSD (colours in [0, 1], 3 x 5 x 5 values)


def inpaint(
    image: torch.Tensor,
    hole: torch.Tensor,
    sources: torch.Tensor,
    work_side: int = 72,
    patch: int = 5,
    margin: float = 0.4,
    seed: int = 0,
) -> torch.Tensor:
    """Fill ``hole`` of ``image`` with patches from ``sources``.

    image: (3, H, W) float in [0, 1]; hole, sources: (H, W) bool (sources inside
    the hole are ignored). Only the hole's bounding box grown by ``margin`` of its
    longer side (+8 px) is read. Falls back to a smooth push-pull fill when fewer
    than 16 whole source patches fit there. Returns (3, H, W); pixels outside
    ``hole`` are bit-identical to ``image``.
    """
    if not bool(hole.any()):
        return image
    ys, xs = bbox(hole, read_margin(hole, margin))
    crop, crop_hole = image[:, ys, xs], hole[ys, xs]
    crop_src = sources[ys, xs] & ~crop_hole
    generator = torch.Generator().manual_seed(seed)
    filled = _inpaint_crop(crop, crop_hole, crop_src, work_side, patch, generator)
    if filled is None:
        known = ~crop_hole if not bool(crop_src.any()) else crop_src
        filled = push_pull_fill(crop, known, None)
    out = image.clone()
    out[:, ys, xs] = torch.where(crop_hole[None], filled.clamp(0, 1), crop)
    return out


def read_margin(hole: torch.Tensor, margin: float = 0.4) -> int:
    """Pixels around the bounding box of ``hole`` (H, W) bool (not empty) that ``inpaint`` reads: ``margin`` of the
    box's longer side, + 8."""
    ys, xs = bbox(hole, 0)
    return int(margin * max(ys.stop - ys.start, xs.stop - xs.start)) + 8


def _inpaint_crop(
    crop: torch.Tensor, hole: torch.Tensor, sources: torch.Tensor, work_side: int, patch: int, generator: torch.Generator
) -> torch.Tensor | None:
    """The fill of a (3, h, w) crop (None when too few source patches fit)."""
    factor = max(1, math.ceil(max(crop.shape[-2:]) / work_side))
    known = (~hole).float()[None, None]
    weight = F.avg_pool2d(known, factor, ceil_mode=True)
    small = F.avg_pool2d(crop[None] * known, factor, ceil_mode=True) / weight.clamp(min=1e-8)
    small_hole = weight[0, 0] < 0.999
    small_src = F.avg_pool2d(sources.float()[None, None], factor, ceil_mode=True)[0, 0] > 0.999
    pyramid = [(small[0], small_hole, small_src)]
    while min(pyramid[-1][0].shape[-2:]) >= 48:
        img, h, s = pyramid[-1]
        k = (~h).float()[None, None]
        w = F.avg_pool2d(k, 2, ceil_mode=True)
        img = F.avg_pool2d(img[None] * k, 2, ceil_mode=True)[0] / w[0].clamp(min=1e-8)
        pyramid.append((img, w[0, 0] < 0.999, F.avg_pool2d(s.float()[None, None], 2, ceil_mode=True)[0, 0] > 0.999))
    radius = patch // 2
    levels = []
    for img, h, s in pyramid:  # fine to coarse; stop where whole source patches become too few
        valid = _valid_centres(s, radius)
        if int(valid.sum()) < 16:
            break
        levels.append((img, h, s, valid))
    if not levels:
        return None
    nnf = None
    current = None
    for level in range(len(levels) - 1, -1, -1):
        img, h, s, valid = levels[level]
        if current is None:
            current = push_pull_fill(img, ~h, None)
        else:
            up = F.interpolate(current[None], size=img.shape[-2:], mode="bilinear", align_corners=False)[0]
            current = torch.where(h[None], up, img)
        nnf = _init_nnf(nnf, valid, generator)
        iterations = 2 if level == 0 else 3
        for _ in range(iterations):
            nnf = _patchmatch(current, h, valid, nnf, radius, generator)
            current = torch.where(h[None], _vote(current, h, nnf, radius), img)
    assert nnf is not None and current is not None
    return _add_detail(crop, current, nnf, factor)


def _valid_centres(sources: torch.Tensor, radius: int) -> torch.Tensor:
    """(h, w) bool: centres whose whole (2r+1)^2 patch lies in ``sources`` and in the image."""
    inside = F.pad(sources.float()[None, None], (radius,) * 4, value=0.0)
    return -F.max_pool2d(-inside, 2 * radius + 1, stride=1)[0, 0] > 0.5


def _init_nnf(coarse: torch.Tensor | None, valid: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(2, h, w) long source coordinates (y, x): the coarse field doubled where valid, random valid centres elsewhere."""
    h, w = valid.shape
    pool = torch.nonzero(valid)
    pick = pool[torch.randint(len(pool), (h * w,), generator=generator)].T.reshape(2, h, w)
    if coarse is None:
        return pick
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    cy, cx = (yy // 2).clamp(max=coarse.shape[1] - 1), (xx // 2).clamp(max=coarse.shape[2] - 1)
    field = torch.stack([coarse[0, cy, cx] * 2 + yy % 2, coarse[1, cy, cx] * 2 + xx % 2])
    return torch.where(_is_valid(field, valid)[None], field, pick)


def _is_valid(field: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    h, w = valid.shape
    inside = (field[0] >= 0) & (field[0] < h) & (field[1] >= 0) & (field[1] < w)
    return inside & valid[field[0].clamp(0, h - 1), field[1].clamp(0, w - 1)]


def _patches(image: torch.Tensor, radius: int) -> torch.Tensor:
    """(h w, 3 p^2) contiguous patch vectors (one row per centre) of a (3, h, w) image, replicate-padded."""
    padded = F.pad(image[None], (radius,) * 4, mode="replicate")
    return F.unfold(padded, 2 * radius + 1)[0].T.contiguous()


def _patchmatch(
    image: torch.Tensor, hole: torch.Tensor, valid: torch.Tensor, nnf: torch.Tensor, radius: int, generator: torch.Generator,
    iterations: int = 1,
) -> torch.Tensor:
    """Improve ``nnf`` (2, h, w) for the patches overlapping ``hole``.

    Each iteration tries, for all targets at once, the neighbours' matches shifted back (jump-flood propagation
    at 4, 2 and 1 px in the 4 directions), then random jumps around the current match at halving spans.
    """
    h, w = hole.shape
    features = _patches(image, radius)
    targets = torch.nonzero(dilate(hole, radius).flatten()).flatten()
    wanted = features[targets]
    field = nnf.reshape(2, -1)[:, targets].clone()
    ty, tx = targets // w, targets % w
    where = torch.stack([ty, tx])
    best = _cost(features, wanted, field[:, None], w, where)[0]
    offsets = torch.tensor([(s * dy, s * dx) for s in (4, 2, 1) for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1))]).T
    spans = []
    span = max(h, w) // 2
    while span >= 1:
        spans.append(span)
        span //= 2
    spans_t = torch.tensor(spans)[:, None]
    full = nnf.clone()
    for _ in range(iterations):
        ny = (ty[None] + offsets[0][:, None]).clamp(0, h - 1)
        nx = (tx[None] + offsets[1][:, None]).clamp(0, w - 1)
        cand = torch.stack([full[0, ny, nx] - (ny - ty), full[1, ny, nx] - (nx - tx)])
        field, best = _try(features, wanted, field, best, cand, valid, w, where)
        jump = torch.rand((2, len(spans), field.shape[1]), generator=generator) * 2 - 1
        cand = field[:, None] + (jump * (spans_t[None] + 0.5)).round().long()
        field, best = _try(features, wanted, field, best, cand, valid, w, where)
        full.reshape(2, -1)[:, targets] = field
    return full


def _cost(features: torch.Tensor, wanted: torch.Tensor, field: torch.Tensor, width: int, where: torch.Tensor) -> torch.Tensor:
    """(K, T) squared patch distances of candidates ``field`` (2, K, T) to the target patches ``wanted`` (T, D)
    at ``where`` (2, T), plus ``SPATIAL`` times the squared distance between them as a fraction of the image side
    (nearby sources win among similar patches)."""
    diff = features[field[0] * width + field[1]] - wanted[None]
    side = float(max(width, features.shape[0] // width))
    far = ((field - where[:, None]).float() / side).pow(2).sum(0)
    return torch.einsum("ktd,ktd->kt", diff, diff) + SPATIAL * far


def _try(
    features: torch.Tensor, wanted: torch.Tensor, field: torch.Tensor, best: torch.Tensor, cand: torch.Tensor, valid: torch.Tensor,
    width: int, where: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep, per target, the best of its current match (2, T) and the valid candidates (2, K, T)."""
    ok = _is_valid(cand, valid)
    cand = torch.where(ok[None], cand, field[:, None])
    cost = torch.where(ok, _cost(features, wanted, cand, width, where), torch.inf)
    low, pick = cost.min(0)
    better = low < best
    chosen = torch.gather(cand, 1, pick[None, None].expand(2, 1, -1))[:, 0]
    return torch.where(better[None], chosen, field), torch.where(better, low, best)


def _vote(image: torch.Tensor, hole: torch.Tensor, nnf: torch.Tensor, radius: int) -> torch.Tensor:
    """(3, h, w): every hole pixel as the mean of the source patches of the patches that cover it."""
    h, w = hole.shape
    features = _patches(image, radius)
    targets = torch.nonzero(dilate(hole, radius).flatten()).flatten()
    canvas = torch.zeros_like(features)
    flat = nnf.reshape(2, -1)[:, targets]
    canvas[targets] = features[flat[0] * w + flat[1]]
    canvas = canvas.T[None]
    count = torch.zeros(1, features.shape[0])
    count[:, targets] = 1.0
    size = 2 * radius + 1
    total = F.fold(canvas, (h, w), size, padding=radius)[0]
    hits = F.fold(count.expand(size * size, -1)[None], (h, w), size, padding=radius)[0]
    return total / hits.clamp(min=1e-8)


def _add_detail(crop: torch.Tensor, small: torch.Tensor, nnf: torch.Tensor, factor: int) -> torch.Tensor:
    """Full-resolution fill: ``small`` upsampled plus the high-pass of the source pixels ``nnf`` maps each pixel to."""
    height, width = crop.shape[-2:]
    up = F.interpolate(small[None], size=(height, width), mode="bilinear", align_corners=False)[0]
    if factor == 1:
        return up
    low = F.avg_pool2d(crop[None], factor, ceil_mode=True)
    detail = crop - F.interpolate(low, size=(height, width), mode="bilinear", align_corners=False)[0]
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    sy = (nnf[0, yy // factor, xx // factor] * factor + yy % factor).clamp(0, height - 1)
    sx = (nnf[1, yy // factor, xx // factor] * factor + xx % factor).clamp(0, width - 1)
    return up + detail[:, sy, sx]


@dataclass
class FillMeasure:
    """How much a filled region looks like its surroundings.

    gradient_ratio: mean |∇L| (Lab lightness, central differences) over the region's interior divided by the
    same over the reference band (1 = as textured as the surroundings; a smooth fill gives far below 1);
    lab_distance: Euclidean distance of the two Lab means; std_ratio: mean over L, a, b of the ratio of their
    standard deviations (region / band). pixels: region pixels measured.
    """

    gradient_ratio: float
    lab_distance: float
    std_ratio: float
    pixels: int


def fill_measure(image: torch.Tensor, region: torch.Tensor, reference: torch.Tensor, band: int = 24) -> FillMeasure | None:
    """Measure ``region`` (H, W) bool of ``image`` (3, H, W) in [0, 1] against ``reference`` (H, W) bool pixels
    within ``band`` px of the region. Both are eroded by 1 px so mask edges do not count as texture.
    None when either has fewer than 32 pixels."""
    lab = rgb_to_lab(image)
    light = F.pad(lab[0][None, None], (1, 1, 1, 1), mode="replicate")[0, 0]
    gy = (light[2:, 1:-1] - light[:-2, 1:-1]) / 2
    gx = (light[1:-1, 2:] - light[1:-1, :-2]) / 2
    grad = torch.sqrt(gx * gx + gy * gy)
    inner = erode(region, 1)
    ring = erode(reference & ~region, 1) & dilate(region, band)
    if int(inner.sum()) < 32 or int(ring.sum()) < 32:
        return None
    ratio = float(grad[inner].mean()) / max(float(grad[ring].mean()), 1e-6)
    a, b = lab[:, inner], lab[:, ring]
    distance = float(torch.linalg.norm(a.mean(1) - b.mean(1)))
    std_ratio = float((a.std(1) / b.std(1).clamp(min=1e-3)).mean())
    return FillMeasure(ratio, distance, std_ratio, int(inner.sum()))
