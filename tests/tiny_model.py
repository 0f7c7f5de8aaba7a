"""A test-only model family: tiny, fast, with a buffer and an int tensor to exercise save/load."""

from __future__ import annotations

import torch
from torch import nn


class TinyNet(nn.Module):
    """Conv -> BatchNorm -> linear head; ``channels`` and ``classes`` are JSON-plain constructor args."""

    def __init__(self, channels: int = 4, classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1)
        self.norm = nn.BatchNorm2d(channels)
        self.head = nn.Linear(channels, classes)
        self.register_buffer("index", torch.arange(classes, dtype=torch.int64))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) float -> (N, classes) logits."""
        features = self.norm(self.conv(images)).relu().mean(dim=(2, 3))
        return self.head(features)
