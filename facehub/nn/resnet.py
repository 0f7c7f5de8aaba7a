"""A plain ResNet-18 / ResNet-34 backbone (He et al. 2016), written here without torchvision.

``ResNet(depth=18, in_channels=3, width=64)`` holds a stem (7x7/2 conv, 3x3/2
max-pool) and four stages of basic blocks with ``width * (1, 2, 4, 8)``
channels. ``forward_features(x)`` returns the four stage outputs:

=========  ======  ==============
name       stride  channels
=========  ======  ==============
``c2``     4       ``width``
``c3``     8       ``2 * width``
``c4``     16      ``4 * width``
``c5``     32      ``8 * width``
=========  ======  ==============

Input: (B, in_channels, H, W) float (normalised), H and W multiples of 32
for exact strides. No classifier head; ``out_channels`` lists the four
channel counts. Reused by PIPNet and available to other families
(e.g. BiSeNet's context path).
"""

from __future__ import annotations

import torch
from torch import nn

STAGE_BLOCKS: dict[int, tuple[int, int, int, int]] = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet-18/34 feature extractor; see the module docstring for the outputs."""

    def __init__(self, depth: int = 18, in_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        if depth not in STAGE_BLOCKS:
            raise ValueError(f"depth must be one of {sorted(STAGE_BLOCKS)}, got {depth}.")
        self.out_channels = [width, 2 * width, 4 * width, 8 * width]
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages = []
        previous = width
        for index, (blocks, channels) in enumerate(zip(STAGE_BLOCKS[depth], self.out_channels)):
            stride = 1 if index == 0 else 2
            layers = [BasicBlock(previous, channels, stride)]
            layers += [BasicBlock(channels, channels) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*layers))
            previous = channels
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for module in self.modules():  # zero-init the last BN of each block: starts as identity
            if isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, C, H, W) -> [c2 (stride 4), c3 (8), c4 (16), c5 (32)]."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c2, c3, c4, c5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The stride-32 feature map (B, 8 * width, H / 32, W / 32)."""
        return self.forward_features(x)[-1]


def ResNet18(in_channels: int = 3, width: int = 64) -> ResNet:
    """ResNet-18 backbone; ``forward_features`` gives strides 4/8/16/32."""
    return ResNet(18, in_channels, width)


def ResNet34(in_channels: int = 3, width: int = 64) -> ResNet:
    """ResNet-34 backbone; ``forward_features`` gives strides 4/8/16/32."""
    return ResNet(34, in_channels, width)
