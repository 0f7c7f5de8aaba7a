"""Image operations for the classical blend baseline, in plain torch.

Images are (C, H, W) float tensors in [0, 1] and masks (H, W) bool tensors
unless stated otherwise. Everything runs on the tensors' device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (C, H, W) or (H, W) float; ``sigma`` in pixels (<= 0: unchanged)."""
    if sigma <= 0:
        return image
    squeeze = image.ndim == 2
    x = image[None, None] if squeeze else image[:, None]
    radius = max(1, int(math.ceil(2.5 * sigma)))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return x[0, 0] if squeeze else x[:, 0]


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Square dilation of an (H, W) bool mask by ``radius`` pixels."""
    if radius <= 0:
        return mask
    x = mask[None, None].float()
    x = F.max_pool2d(x, (1, 2 * radius + 1), stride=1, padding=(0, radius))
    x = F.max_pool2d(x, (2 * radius + 1, 1), stride=1, padding=(radius, 0))
    return x[0, 0] > 0.5


def erode(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Square erosion of an (H, W) bool mask by ``radius`` pixels."""
    return ~dilate(~mask, radius)


def push_pull_fill(values: torch.Tensor, known: torch.Tensor, margin: float | None = 0.25) -> torch.Tensor:
    """Fill the unknown pixels of ``values`` (C, H, W) smoothly from the known ones (``known`` (H, W) bool).

    Pyramid push-pull: known pixels keep their values; unknown ones get a
    smooth interpolation of their surroundings (coarse averages, bilinearly
    refined). Only the box around the unknown pixels, grown by ``margin`` of
    its side (None: the whole image), is read. With no known pixel there,
    ``values`` is returned unchanged.
    """
    if not bool(known.any()) or bool(known.all()):
        return values
    if margin is not None:
        ys, xs = bbox(~known, 0)
        grow = int(margin * max(ys.stop - ys.start, xs.stop - xs.start)) + 4
        ys, xs = bbox(~known, grow)
        out = values.clone()
        out[:, ys, xs] = push_pull_fill(values[:, ys, xs], known[ys, xs], None)
        return out
    if not bool(known.any()):
        return values
    weight = known.to(values.dtype)[None]
    levels: list[tuple[torch.Tensor, torch.Tensor]] = []
    v, w = values * weight, weight
    while min(v.shape[-2:]) > 1:
        levels.append((v, w))
        v = F.avg_pool2d(v[None], 2, ceil_mode=True)[0]
        w = F.avg_pool2d(w[None], 2, ceil_mode=True)[0]
    filled = v / w.clamp(min=1e-8)
    for v, w in reversed(levels):
        up = F.interpolate(filled[None], size=v.shape[-2:], mode="bilinear", align_corners=False)[0]
        alpha = (w * 4).clamp(max=1.0)
        filled = alpha * (v / w.clamp(min=1e-8)) + (1 - alpha) * up
    known_f = known.to(values.dtype)[None]
    return known_f * values + (1 - known_f) * filled


def fill_region(image: torch.Tensor, region: torch.Tensor, known: torch.Tensor, margin: float = 0.3) -> torch.Tensor:
    """Return ``image`` (C, H, W) with ``region`` (H, W) bool push-pull filled from ``known`` pixels only,
    read within the box around ``region`` grown by ``margin`` of its side."""
    if not bool(region.any()):
        return image
    ys, xs = bbox(region, 0)
    ys, xs = bbox(region, int(margin * max(ys.stop - ys.start, xs.stop - xs.start)) + 4)
    crop_known = known[ys, xs] & ~region[ys, xs]
    if not bool(crop_known.any()):
        crop_known = ~region[ys, xs]
    crop = image[:, ys, xs]
    factor = max(1, max(crop.shape[-2:]) // 128)
    if factor > 1:  # the fill is smooth: compute it coarse and upsample
        w = crop_known.to(crop.dtype)[None, None]
        small_w = F.avg_pool2d(w, factor, ceil_mode=True)
        small = F.avg_pool2d(crop[None] * w, factor, ceil_mode=True) / small_w.clamp(min=1e-8)
        small = push_pull_fill(small[0], small_w[0, 0] > 0.5, None)
        filled = F.interpolate(small[None], size=crop.shape[-2:], mode="bilinear", align_corners=False)[0]
    else:
        filled = push_pull_fill(crop, crop_known, None)
    out = image.clone()
    out[:, ys, xs] = torch.where(region[ys, xs][None], filled, image[:, ys, xs])
    return out


def _neighbour_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of the 4 neighbours of each pixel of (C, H, W), zero outside."""
    kernel = _LAPLACE.to(x).view(1, 1, 3, 3)
    return F.conv2d(x[:, None], kernel, padding=1)[:, 0]


def solve_laplace(boundary: torch.Tensor, unknown: torch.Tensor, init: torch.Tensor, iterations: int) -> torch.Tensor:
    """Conjugate gradients for ``Δx = 0`` on ``unknown`` pixels with ``x = boundary`` elsewhere.

    ``boundary``/``init``: (C, H, W); ``unknown``: (H, W) bool, which should not
    touch the border. Returns x (C, H, W).
    """
    u = unknown.to(boundary.dtype)[None]
    known_part = boundary * (1 - u)

    def apply(x: torch.Tensor) -> torch.Tensor:
        return (4 * x - _neighbour_sum(x * u)) * u

    b = _neighbour_sum(known_part) * u
    x = init * u
    r = b - apply(x)
    p = r.clone()
    rs = (r * r).sum()
    for _ in range(iterations):
        if float(rs) < 1e-10:
            break
        ap = apply(p)
        alpha = rs / (p * ap).sum().clamp(min=1e-20)
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = (r * r).sum()
        p = r + (rs_new / rs) * p
        rs = rs_new
    return known_part + x * u


def bbox(mask: torch.Tensor, margin: int) -> tuple[slice, slice]:
    """Row and column slices of an (H, W) bool ``mask``'s bounding box grown by ``margin`` pixels, clipped to the image."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    h, w = mask.shape
    y0, y1 = max(0, int(ys.min()) - margin), min(h, int(ys.max()) + margin + 1)
    x0, x1 = max(0, int(xs.min()) - margin), min(w, int(xs.max()) + margin + 1)
    return slice(y0, y1), slice(x0, x1)


def poisson_clone(source: torch.Tensor, target: torch.Tensor, region: torch.Tensor, coarse_side: int = 96) -> torch.Tensor:
    """Seamless cloning: ``source``'s gradients inside ``region``, ``target``'s values on its border.

    Solves for a harmonic correction ``c`` with ``c = target - source`` outside
    the region and returns ``source + c`` inside, ``target`` outside
    (C, H, W in [0, 1]). Large regions are solved coarse first, then refined.
    """
    region = region.clone()
    region[0, :] = region[-1, :] = region[:, 0] = region[:, -1] = False
    if not bool(region.any()):
        return target
    ys, xs = bbox(region, 2)
    src, tgt, reg = source[:, ys, xs], target[:, ys, xs], region[ys, xs]
    diff = tgt - src
    init = push_pull_fill(diff, ~reg)
    side = max(reg.shape)
    if side > coarse_side:
        factor = int(math.ceil(side / coarse_side))
        w = (~reg).to(diff.dtype)[None]
        small_w = F.avg_pool2d(w[None], factor, ceil_mode=True)[0]
        small_d = F.avg_pool2d((diff * w)[None], factor, ceil_mode=True)[0] / small_w.clamp(min=1e-8)
        small_u = small_w[0] < 0.5
        small_u[0, :] = small_u[-1, :] = small_u[:, 0] = small_u[:, -1] = False
        small_init = F.avg_pool2d(init[None], factor, ceil_mode=True)[0]
        small = solve_laplace(small_d, small_u, small_init, iterations=2 * coarse_side)
        init = F.interpolate(small[None], size=reg.shape, mode="bilinear", align_corners=False)[0]
    correction = solve_laplace(diff, reg, init, iterations=60 if side > coarse_side else 2 * side)
    out = target.clone()
    patch = torch.where(reg[None], (src + correction).clamp(0, 1), tgt)
    out[:, ys, xs] = patch
    return out


def _srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(min=0)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)


_RGB_TO_XYZ = torch.tensor([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(3, H, W) sRGB in [0, 1] -> CIE Lab (L in [0, 100], a/b about [-128, 127]), D65."""
    xyz = torch.einsum("ij,jhw->ihw", _RGB_TO_XYZ.to(rgb), _srgb_to_linear(rgb)) / _WHITE.to(rgb).view(3, 1, 1)
    f = torch.where(xyz > 0.008856, xyz.clamp(min=1e-8) ** (1 / 3), 7.787 * xyz + 16 / 116)
    return torch.stack([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Inverse of ``rgb_to_lab``; returns sRGB clamped to [0, 1]."""
    fy = (lab[0] + 16) / 116
    f = torch.stack([fy + lab[1] / 500, fy, fy - lab[2] / 200])
    xyz = torch.where(f > 0.2069, f**3, (f - 16 / 116) / 7.787) * _WHITE.to(lab).view(3, 1, 1)
    rgb = torch.einsum("ij,jhw->ihw", torch.linalg.inv(_RGB_TO_XYZ).to(lab), xyz)
    return _linear_to_srgb(rgb).clamp(0, 1)


def match_colour(
    image: torch.Tensor, mask: torch.Tensor, reference: torch.Tensor, reference_mask: torch.Tensor, strength: float = 1.0,
    spread: bool = True,
) -> torch.Tensor:
    """Shift ``image`` (3, H, W) so its Lab mean/std inside ``mask`` match ``reference``'s inside ``reference_mask``.

    ``strength`` in [0, 1] interpolates between no change and the full match; ``spread=False`` matches the mean
    alone (a shift, no stretch). Returns the whole recoloured image (3, H, W) in [0, 1].
    """
    if int(mask.sum()) < 8 or int(reference_mask.sum()) < 8:
        return image
    lab, ref = rgb_to_lab(image), rgb_to_lab(reference)
    m, s = lab[:, mask].mean(1), lab[:, mask].std(1).clamp(min=1e-3)
    rm, rs = ref[:, reference_mask].mean(1), ref[:, reference_mask].std(1).clamp(min=1e-3)
    scale = (rs / s).clamp(0.5, 2.0) if spread else torch.ones(3)
    matched = (lab - m.view(3, 1, 1)) * scale.view(3, 1, 1) + rm.view(3, 1, 1)
    return lab_to_rgb(lab + strength * (matched - lab))
