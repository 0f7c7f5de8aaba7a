"""Stacked Hourglass (Newell et al., ECCV 2016) for facial landmarks, small and CPU-friendly.

Input (B, 3, s, s) normalised crops, ``s = input_size``. A stem (7x7/2 conv,
residual, max-pool when needed) brings the crop to ``heatmap_size``; then
``num_stacks`` hourglasses (recursive down/up modules of ``depth`` levels, bottleneck
residual blocks of ``width`` channels) each emit (B, N, h, h) heatmaps, with
intermediate supervision and the usual re-injection of heatmaps into the next stack.

Targets are Gaussians (``sigma`` heatmap pixels, peak 1), fitted with a foreground-weighted MSE. A crop pixel ``p``
(pixel-centre convention) sits at heatmap coordinate ``(p + 0.5) / r - 0.5``,
``r = s / h``. Decoding: the arg-max peak refined by the centre of mass of the
(positive) heatmap in a ``(2 * window + 1)^2`` patch around it — sub-pixel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Residual(nn.Module):
    """Pre-activation bottleneck residual block (BN-ReLU-conv x3), ``in_channels`` -> ``channels``."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        mid = channels // 2
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True), nn.Conv2d(in_channels, mid, 1, bias=False),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, mid, 3, 1, 1, bias=False),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, channels, 1, bias=False),
        )
        self.skip = nn.Identity() if in_channels == channels else nn.Conv2d(in_channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


class Hourglass(nn.Module):
    """One recursive hourglass of ``depth`` levels at ``channels``; keeps the spatial size."""

    def __init__(self, depth: int, channels: int) -> None:
        super().__init__()
        self.up = Residual(channels, channels)
        self.low1 = Residual(channels, channels)
        self.low2: nn.Module = Hourglass(depth - 1, channels) if depth > 1 else Residual(channels, channels)
        self.low3 = Residual(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2))))
        return self.up(x) + F.interpolate(low, size=x.shape[-2:], mode="nearest")


class StackedHourglass(nn.Module):
    """``num_stacks`` hourglasses predicting ``num_points`` heatmaps of ``heatmap_size`` px."""

    def __init__(
        self,
        num_points: int = 68,
        num_stacks: int = 2,
        width: int = 128,
        depth: int = 3,
        input_size: int = 128,
        heatmap_size: int = 32,
        sigma: float = 1.5,
    ) -> None:
        super().__init__()
        ratio = input_size // heatmap_size
        if ratio not in (2, 4) or input_size % heatmap_size:
            raise ValueError(f"input_size / heatmap_size must be 2 or 4, got {input_size}/{heatmap_size}.")
        self.num_points, self.num_stacks, self.input_size, self.heatmap_size, self.sigma = (
            num_points, num_stacks, input_size, heatmap_size, sigma)
        stem: list[nn.Module] = [nn.Conv2d(3, width // 2, 7, 2, 3, bias=False), nn.BatchNorm2d(width // 2),
                                 nn.ReLU(inplace=True), Residual(width // 2, width)]
        if ratio == 4:
            stem.append(nn.MaxPool2d(2))
        stem.append(Residual(width, width))
        self.stem = nn.Sequential(*stem)
        self.hourglasses = nn.ModuleList(Hourglass(depth, width) for _ in range(num_stacks))
        self.features = nn.ModuleList(
            nn.Sequential(Residual(width, width), nn.Conv2d(width, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
            for _ in range(num_stacks)
        )
        self.heads = nn.ModuleList(nn.Conv2d(width, num_points, 1) for _ in range(num_stacks))
        self.merge_features = nn.ModuleList(nn.Conv2d(width, width, 1) for _ in range(num_stacks - 1))
        self.merge_heatmaps = nn.ModuleList(nn.Conv2d(num_points, width, 1) for _ in range(num_stacks - 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, s, s) -> list of ``num_stacks`` heatmaps (B, N, h, h); the last is the prediction."""
        x = self.stem(x)
        outputs = []
        for i in range(self.num_stacks):
            feature = self.features[i](self.hourglasses[i](x))
            heatmap = self.heads[i](feature)
            outputs.append(heatmap)
            if i < self.num_stacks - 1:
                x = x + self.merge_features[i](feature) + self.merge_heatmaps[i](heatmap)
        return outputs

    @property
    def ratio(self) -> float:
        return self.input_size / self.heatmap_size

    def targets(self, points: torch.Tensor) -> torch.Tensor:
        """Gaussian heatmaps (B, N, h, h) in [0, 1] for crop ``points`` (B, N, 2) px."""
        centre = (points + 0.5) / self.ratio - 0.5  # heatmap coordinates
        grid = torch.arange(self.heatmap_size, dtype=points.dtype, device=points.device)
        gx = torch.exp(-((grid - centre[..., 0:1]) ** 2) / (2 * self.sigma**2))  # (B, N, h)
        gy = torch.exp(-((grid - centre[..., 1:2]) ** 2) / (2 * self.sigma**2))
        return gy[..., :, None] * gx[..., None, :]

    def loss(self, outputs: list[torch.Tensor], points: torch.Tensor, foreground: float = 10.0) -> dict[str, torch.Tensor]:
        """MSE between every stack's heatmaps and the Gaussian targets (intermediate supervision).

        Pixels are weighted ``1 + foreground * target`` so the few peak pixels are not drowned by
        the background (plain MSE first collapses to all-zero maps).
        """
        target = self.targets(points)
        weight = 1.0 + foreground * target
        terms = {f"stack{i}": 100.0 * (weight * (out - target) ** 2).mean() for i, out in enumerate(outputs)}
        terms["total"] = sum(terms.values())
        return terms

    def decode_heatmaps(self, heatmaps: torch.Tensor, window: int | None = None) -> torch.Tensor:
        """(B, N, h, h) heatmaps -> (B, N, 2) crop pixels: arg-max + local centre of mass.

        ``window`` (default ``ceil(2 * sigma)``) is the half-size of the patch.
        """
        window = window if window is not None else max(2, math.ceil(2 * self.sigma))
        b, n, h, w = heatmaps.shape
        peak = heatmaps.flatten(2).argmax(-1)
        px, py = peak % w, torch.div(peak, w, rounding_mode="floor")
        offsets = torch.arange(-window, window + 1, device=heatmaps.device)
        xs = (px[..., None] + offsets).clamp(0, w - 1)  # (B, N, k)
        ys = (py[..., None] + offsets).clamp(0, h - 1)
        flat = heatmaps.flatten(2)
        index = (ys[..., :, None] * w + xs[..., None, :]).flatten(2)  # (B, N, k*k)
        weights = flat.gather(2, index).clamp(min=0)
        weights = weights / weights.sum(-1, keepdim=True).clamp(min=1e-8)
        grid_x = xs[..., None, :].expand(-1, -1, len(offsets), -1).flatten(2).to(heatmaps.dtype)
        grid_y = ys[..., :, None].expand(-1, -1, -1, len(offsets)).flatten(2).to(heatmaps.dtype)
        coords = torch.stack([(weights * grid_x).sum(-1), (weights * grid_y).sum(-1)], -1)
        return (coords + 0.5) * self.ratio - 0.5

    def decode_outputs(self, outputs: list[torch.Tensor]) -> torch.Tensor:
        """Forward outputs -> (B, N, 2) crop pixels from the last stack."""
        return self.decode_heatmaps(outputs[-1])

    @torch.inference_mode()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, s, s) normalised crops -> (B, N, 2) crop pixels."""
        return self.decode_outputs(self(x))
