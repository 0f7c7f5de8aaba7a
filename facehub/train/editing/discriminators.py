"""The portrait editor's conditional discriminators (training only; the shipped checkpoint holds none).

Images are (B, 3, H, W) in [-1, 1]; masks (B, C, H, W) one-hot float over EDIT_LABELS.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class EditorDiscriminator(nn.Module):
    """PatchGAN on [image (3), mask (C)]: (B, 3 + C, H, W) -> (logits (B, 1, H/2^n, W/2^n), features list)."""

    def __init__(self, num_classes: int = 11, width: int = 32, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3 + num_classes
        for i in range(n_layers):
            cout = width * 2**i
            layers.append(nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)))
            cin = cout
        self.layers = nn.ModuleList(layers)
        self.head = nn.Conv2d(cin, 1, 3, 1, 1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = torch.cat([image, mask], 1)
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return self.head(x), features


class TwoScaleDiscriminator(nn.Module):
    """The paper's two conditional discriminators: full and half resolution; one ``(logits, features)`` per scale."""

    def __init__(self, num_classes: int = 11, width: int = 32, n_layers: int = 3):
        super().__init__()
        self.full = EditorDiscriminator(num_classes, width, n_layers)
        self.half_scale = EditorDiscriminator(num_classes, width, n_layers)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        half_image, half_mask = F.avg_pool2d(image, 2), F.avg_pool2d(mask, 2)
        return [self.full(image, mask), self.half_scale(half_image, half_mask)]
