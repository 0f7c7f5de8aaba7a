"""PRNet (Feng et al., ECCV 2018): a face crop -> its UV position map.

ResFCN256's shape: a stem conv, pairs of residual bottleneck blocks that
halve the resolution (the first of each pair has stride 2) and double the
width, then a transposed-conv decoder back up to the UV map size. Everything
is configurable: ``input_size`` and ``uv_size`` (powers of two), the base
``width`` (PRNet: 16) and the bottleneck ``depth`` (number of halvings;
PRNet: 5, 256 -> 8).

Output: (N, 3, uv_size, uv_size) positions in crop pixels: ``x`` and ``y`` in
``[-margin, (1 + margin) * input_size]`` and ``z`` in
``[-(0.5 + margin) * input_size, (0.5 + margin) * input_size]`` via a scaled
sigmoid (z = teacher z, zero near the head centre, smaller = nearer).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class ResBlock(nn.Module):
    """PRNet's residual bottleneck: 1x1 -> 3x3 (stride) -> 1x1, shortcut projected when shapes change."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        mid = max(cout // 2, 4)
        self.body = nn.Sequential(
            _conv_bn(cin, mid, 1),
            _conv_bn(mid, mid, 3, stride),
            nn.Conv2d(mid, cout, 1, bias=False),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )
        self.norm = nn.BatchNorm2d(cout)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.body(x) + self.shortcut(x)))


def _up(cin: int, cout: int, stride: int) -> nn.Sequential:
    """Transposed conv (kernel 4 for stride 2, 3 for stride 1) + BN + ReLU."""
    if stride == 2:
        conv = nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)
    else:
        conv = nn.ConvTranspose2d(cin, cout, 3, 1, 1, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class PRNet(nn.Module):
    """Encoder-decoder regressing a UV position map from a normalised crop.

    Input: (N, 3, input_size, input_size) normalised RGB. Output: see module docstring.
    """

    def __init__(
        self,
        input_size: int = 256,
        uv_size: int = 256,
        width: int = 16,
        depth: int = 5,
        max_width: int = 512,
        margin: float = 0.1,
    ):
        super().__init__()
        if input_size % (2**depth) or uv_size < input_size // 2**depth:
            raise ValueError(f"input_size {input_size} must be divisible by 2**depth and uv_size >= bottleneck size")
        self.input_size, self.uv_size, self.margin = input_size, uv_size, margin
        channels = [min(width * 2**i, max_width) for i in range(depth + 1)]  # stem + each level
        self.stem = _conv_bn(3, channels[0], 3)
        blocks: list[nn.Module] = []
        for level in range(1, depth + 1):
            blocks += [ResBlock(channels[level - 1], channels[level], 2), ResBlock(channels[level], channels[level])]
        self.encoder = nn.Sequential(*blocks)
        bottleneck = input_size // 2**depth
        ups = int(round(math.log2(uv_size / bottleneck)))
        if bottleneck * 2**ups != uv_size:
            raise ValueError("uv_size / bottleneck size must be a power of two")
        layers: list[nn.Module] = [_up(channels[-1], channels[-1], 1)]
        cin = channels[-1]
        for i in range(ups):
            cout = channels[max(depth - 1 - i, 0)]
            layers += [_up(cin, cout, 2), _up(cout, cout, 1)]
            cin = cout
        layers += [_up(cin, cin, 1), nn.ConvTranspose2d(cin, 3, 3, 1, 1)]
        self.decoder = nn.Sequential(*layers)
        span = torch.tensor([1.0, 1.0, 1.0]) * (1 + 2 * margin) * input_size
        low = torch.tensor([-margin, -margin, -(0.5 + margin)]) * input_size
        self.register_buffer("span", span.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("low", low.view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, s, s) -> (N, 3, uv, uv) crop-pixel positions."""
        raw = self.decoder(self.encoder(self.stem(x)))
        return torch.sigmoid(raw) * self.span + self.low
