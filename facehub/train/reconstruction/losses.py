"""PRNet's training losses: the region-weighted L1 on UV position maps, the human-label L1, box NME.

Position maps are (B, 3, s, s) in crop pixels (x, y, z); points are crop pixels too.
"""

from __future__ import annotations

import numpy as np
import torch

from facehub.reconstruction.uv import UVLayout, points_468_to_68

# Loss weights of PRNet's mask, by region.
WEIGHT_LANDMARK, WEIGHT_FEATURE, WEIGHT_FACE = 16.0, 4.0, 3.0
Mapping = tuple[np.ndarray, np.ndarray]  # (indices (68, k), weights (68, k)) of a 468 -> 68 map


def loss_mask(layout: UVLayout) -> np.ndarray:
    """(size, size) float32 weights: 68 landmarks 16, eyes/nose/mouth 4, rest of face 3, outside 0."""
    from PIL import Image, ImageDraw

    size = layout.size
    lm = points_468_to_68(layout.vertex_px)  # (68, 2) UV pixels
    scale = 4  # draw at 4x and average down for smooth region edges
    canvas = Image.new("L", (size * scale, size * scale), 0)
    draw = ImageDraw.Draw(canvas)
    for group in (range(36, 42), range(42, 48), range(27, 36), range(48, 60)):
        pts = lm[list(group)]
        centre = pts.mean(0)
        grown = centre + (pts - centre) * 1.3
        hull = _convex_hull(grown)
        draw.polygon([((x + 0.5) * scale, (y + 0.5) * scale) for x, y in hull], fill=1)
    feature = np.asarray(canvas.resize((size, size), Image.BOX), dtype=np.float32) > 0
    mask = np.where(layout.valid, WEIGHT_FACE, 0.0).astype(np.float32)
    mask[feature & layout.valid] = WEIGHT_FEATURE
    radius = max(0.75, size / 128)
    ys, xs = np.mgrid[0:size, 0:size]
    for x, y in lm:
        near = (xs - x) ** 2 + (ys - y) ** 2 <= radius**2
        mask[near & layout.valid] = WEIGHT_LANDMARK
    return mask


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Monotone-chain convex hull of (N, 2) points, (M, 2) in order."""
    pts = sorted(map(tuple, np.asarray(points, dtype=np.float64)))

    def half(seq):
        out: list = []
        for p in seq:
            while len(out) >= 2 and (out[-1][0] - out[-2][0]) * (p[1] - out[-2][1]) - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0]) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]

    return np.array(half(pts) + half(reversed(pts)))


def uv_map_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Scalar: the L1 over x, y, z summed per pixel, weighted by ``mask`` (1, 1, s, s), per unit weight and sample."""
    return ((pred - target).abs().sum(1, keepdim=True) * mask).sum() / (mask.sum() * len(pred))


def labels68_l1(vertices: torch.Tensor, labels68: torch.Tensor, mapping: Mapping | None) -> torch.Tensor:
    """Scalar: mean L1 (crop px) between mapped 68 points of ``vertices`` (N, 468, 3) and human ``labels68``
    (N, 68, 2) over the labelled points (a NaN point, e.g. a turned 300-W face's jaw, is left out)."""
    known = torch.isfinite(labels68)
    error = (points_468_to_68(vertices, mapping)[..., :2] - torch.nan_to_num(labels68)).abs()
    return (error * known).sum() / known.sum().clamp(min=1)


def nme_real(pred468: torch.Tensor, labels68: torch.Tensor, mapping: Mapping | None) -> torch.Tensor:
    """(N,) 68-point 2D NME of the mapped prediction against human labels (N, 68, 2), sqrt-box-area normalised."""
    p = points_468_to_68(pred468, mapping)[..., :2]
    wh = labels68.amax(1) - labels68.amin(1)
    return (p - labels68).norm(dim=-1).mean(-1) / (wh[:, 0] * wh[:, 1]).sqrt()


def nme_68(pred468: torch.Tensor, gt468: torch.Tensor) -> torch.Tensor:
    """(N,) 68-point 2D NME of mapped points against the teacher's (both through the teacher map)."""
    return nme_real(pred468, points_468_to_68(gt468)[..., :2], None)


def box_nme(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(...,) mean 2D point error of (..., 68, >=2) points / sqrt(w * h) of the GT points' box (AFLW2000-3D protocol)."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    wh = np.ptp(gt[..., :2], axis=-2)
    return np.linalg.norm(pred[..., :2] - gt[..., :2], axis=-1).mean(-1) / np.sqrt(wh[..., 0] * wh[..., 1])
