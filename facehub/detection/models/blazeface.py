"""MediaPipe's BlazeFace face detectors (Bazarevsky et al., 'BlazeFace: Sub-millisecond Neural Face Detection
on Mobile GPUs', 2019) in plain torch.

Two variants, the two ``.tflite`` graphs of the mediapipe 0.10.21 wheel that ``scripts/convert_blazeface.py``
converts (layer for layer, weights unchanged):

- ``"short"``: ``face_detection_short_range.tflite``, 128x128 input, faces within about 2 m of a front
  camera. A 5x5 stem and 16 single BlazeBlocks; heads at stride 8 (2 anchors per cell) and 16 (6 per cell):
  896 anchors. TensorFlow 'SAME' padding, which is asymmetric for stride 2 (the extra row and column go after
  the image, at the bottom and right), reproduced by ``pad_same``.
- ``"full"``: ``face_detection_full_range_sparse.tflite``, 192x192 input, faces within about 5 m. Double
  (bottleneck) BlazeBlocks down to stride 32, a feature-pyramid path back up to stride 4, one anchor per
  stride-4 cell: 2304 anchors. Every 3x3 layer pads 1 pixel on each side (Keras ``ZeroPadding2D``).

Input of both: (N, 3, S, S) RGB scaled to [-1, 1] (``pixel / 127.5 - 1``), S = ``input_size``. Output:
``(logits, regression)``, (N, A) score logits (sigmoid gives the face probability) and (N, A, 16) raw box and
keypoint offsets, anchor ``a`` in row-major cell order (``(y * width + x) * per_cell + k``). Decoding lives in
``facehub/detection/blazeface.py``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = {"short": 128, "full": 192}
NUM_ANCHORS = {"short": 896, "full": 2304}
SHORT_BLOCKS = [  # (in, out, stride) of the short-range model's BlazeBlocks, in graph order
    (24, 24, 1), (24, 28, 1), (28, 32, 2), (32, 36, 1), (36, 42, 1), (42, 48, 2), (48, 56, 1), (56, 64, 1),
    (64, 72, 1), (72, 80, 1), (80, 88, 1),  # -> 16x16x88, the stride-8 head
    (88, 96, 2), (96, 96, 1), (96, 96, 1), (96, 96, 1), (96, 96, 1),  # -> 8x8x96, the stride-16 head
]


def pad_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad (N, C, H, W) as TensorFlow's 'SAME' does: total ``(ceil(H / s) - 1) * s + k - H``, the odd pixel after."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad takes the last dimension first
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


def depth_to_space(x: torch.Tensor, block: int) -> torch.Tensor:
    """TensorFlow's DEPTH_TO_SPACE on NCHW: (N, b*b*C, H, W) -> (N, C, H*b, W*b); channel ``(i*b + j)*C + c`` -> row i, column j."""
    n, channels, height, width = x.shape
    out = channels // (block * block)
    x = x.view(n, block, block, out, height, width).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, out, height * block, width * block)


def _flatten_anchors(x: torch.Tensor, values: int) -> torch.Tensor:
    """(N, per_cell * values, H, W) head output -> (N, H * W * per_cell, values), anchors in row-major cell order."""
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, values)


# --------------------------------------------------------------------------- short range
class BlazeBlock(nn.Module):
    """Single BlazeBlock: 3x3 depthwise (TF 'SAME') -> 1x1 conv, plus the input (2x2 max-pooled when ``stride`` is
    2, zero channels appended when ``out_channels`` is larger), then ReLU. (N, in, H, W) -> (N, out, H/s, W/s)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self.extra_channels = out_channels - in_channels
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pointwise(self.depthwise(pad_same(x, 3, self.stride)))
        if self.stride == 2:
            x = F.max_pool2d(x, 2)
        if self.extra_channels:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))
        return F.relu(x + y)


class ShortRangeNet(nn.Module):
    """128x128 front-camera BlazeFace. (N, 3, 128, 128) -> (N, 896) logits, (N, 896, 16) regression."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 24, 5, 2)
        self.blocks = nn.ModuleList(BlazeBlock(*spec) for spec in SHORT_BLOCKS)
        self.classifier_8 = nn.Conv2d(88, 2, 1)
        self.classifier_16 = nn.Conv2d(96, 6, 1)
        self.regressor_8 = nn.Conv2d(88, 32, 1)
        self.regressor_16 = nn.Conv2d(96, 96, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu(self.stem(pad_same(x, 5, 2)))
        for block in self.blocks[:11]:
            x = block(x)
        stride8 = x
        for block in self.blocks[11:]:
            x = block(x)
        logits = torch.cat([_flatten_anchors(self.classifier_8(stride8), 1), _flatten_anchors(self.classifier_16(x), 1)], 1)
        regression = torch.cat([_flatten_anchors(self.regressor_8(stride8), 16), _flatten_anchors(self.regressor_16(x), 16)], 1)
        return logits[..., 0], regression


# --------------------------------------------------------------------------- full range
def _separable(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 depthwise (1 px zero padding, ``stride``) then 1x1 conv; no activation."""
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, 3, stride, padding=1, groups=in_channels),
        nn.Conv2d(in_channels, out_channels, 1),
    )


class ResidualBlock(nn.Module):
    """Double BlazeBlock: separable(C -> M), ReLU, separable(M -> C), plus the input, ReLU. (N, C, H, W) -> same."""

    def __init__(self, channels: int, mid_channels: int) -> None:
        super().__init__()
        self.reduce = _separable(channels, mid_channels)
        self.expand = _separable(mid_channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.expand(F.relu(self.reduce(x))))


class DownBlock(nn.Module):
    """Stride-2 double block without a shortcut: separable(C -> M, stride 2), ReLU, separable(M -> O), ReLU."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int) -> None:
        super().__init__()
        self.reduce = _separable(in_channels, mid_channels, stride=2)
        self.expand = _separable(mid_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.expand(F.relu(self.reduce(x))))


def _stage(channels: int, mid_channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*(ResidualBlock(channels, mid_channels) for _ in range(count)))


def _lateral(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.ReLU())


class FullRangeNet(nn.Module):
    """192x192 full-range BlazeFace. (N, 3, 192, 192) -> (N, 2304) logits, (N, 2304, 16) regression.

    Encoder 96 -> 48 -> 24 -> 12 -> 6 cells (32, 64, 128, 192, 384 channels); decoder back to 48x48 by bilinear
    2x upsampling (half-pixel centres) plus 1x1 lateral projections of the encoder maps; each head is a 1x1 conv,
    a stride-2 3x3 depthwise conv and a depth-to-space back to 48x48.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 2, padding=1), nn.ReLU())
        self.stage96 = _stage(32, 8, 2)
        self.down48, self.stage48, self.lateral48 = DownBlock(32, 16, 64), _stage(64, 16, 2), _lateral(64, 48)
        self.down24, self.stage24, self.lateral24 = DownBlock(64, 32, 128), _stage(128, 32, 2), _lateral(128, 64)
        self.down12, self.stage12, self.lateral12 = DownBlock(128, 48, 192), _stage(192, 48, 2), _lateral(192, 96)
        self.down6, self.stage6, self.top6 = DownBlock(192, 96, 384), _stage(384, 96, 3), _lateral(384, 96)
        self.up12, self.top12 = _stage(96, 48, 2), _lateral(96, 64)
        self.up24, self.top24 = _stage(64, 32, 2), _lateral(64, 48)
        self.up48 = _stage(48, 24, 1)
        self.classifier = nn.Sequential(nn.Conv2d(48, 4, 1), nn.Conv2d(4, 4, 3, 2, padding=1, groups=4))
        self.regressor = nn.Sequential(nn.Conv2d(48, 64, 1), nn.Conv2d(64, 64, 3, 2, padding=1, groups=64))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Same order of operations as the tflite graph (the converter relies on it to pair the layers).
        x = self.stage96(self.stem(x))
        c48 = self.stage48(self.down48(x))
        l48 = self.lateral48(c48)
        c24 = self.stage24(self.down24(c48))
        l24 = self.lateral24(c24)
        c12 = self.stage12(self.down12(c24))
        l12 = self.lateral12(c12)
        x = self.top6(self.stage6(self.down6(c12)))
        x = self.top12(self.up12(l12 + _upsample(x)))
        x = self.top24(self.up24(l24 + _upsample(x)))
        x = self.up48(l48 + _upsample(x))
        logits = depth_to_space(self.classifier(x), 2).flatten(1)
        regression = _flatten_anchors(depth_to_space(self.regressor(x), 2), 16)
        return logits, regression


def _upsample(x: torch.Tensor) -> torch.Tensor:
    """2x bilinear (TF ``half_pixel_centers=True``, which is torch's ``align_corners=False``)."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


# --------------------------------------------------------------------------- the family
class BlazeFace(nn.Module):
    """The ``blazeface`` family: ``variant`` ``"short"`` (128 px, 896 anchors) or ``"full"`` (192 px, 2304 anchors).

    ``forward(x)``: x (N, 3, S, S) RGB in [-1, 1] -> (N, A) score logits, (N, A, 16) raw regression
    (box centre x, y, width, height, then 6 keypoints x, y; in input pixels relative to the anchor centre).
    """

    def __init__(self, variant: str = "full") -> None:
        super().__init__()
        if variant not in INPUT_SIZE:
            raise ValueError(f"Unknown BlazeFace variant {variant!r}; use one of {sorted(INPUT_SIZE)}.")
        self.variant = variant
        self.input_size = INPUT_SIZE[variant]
        self.net = ShortRangeNet() if variant == "short" else FullRangeNet()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(x)
