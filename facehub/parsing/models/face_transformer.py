"""A ViT segmenter for face parsing (the "face transformer").

Conv patch embedding (``patch`` x ``patch``, stride ``patch``) + learned position
embeddings -> ``depth`` pre-norm transformer encoder layers (``heads`` heads,
``mlp`` hidden units) -> reshape to the (image/patch)^2 grid -> 1x1 conv ->
transposed-conv head up to full resolution.

FaceHub addition (``skip=True`` in the shipped checkpoint): a light conv stem
(two stride-2 conv-BN-ReLU, ``skip_width`` channels) whose stride-4 features are
concatenated with the upsampled transformer features before the last
transposed conv, which recovers thin parts (eyes, lips) that 16-px patches blur.

Input: (B, 3, image_size, image_size) float, normalised with the checkpoint's
mean/std (the size is fixed by the position embeddings). Output: logits
(B, num_classes, image_size, image_size).
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _up_block(cin: int, cout: int) -> nn.Sequential:
    """Transposed conv x2 -> BN -> ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 2, 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class FaceTransformer(nn.Module):
    """ViT segmenter; see the module docstring. ``patch`` must be 8, 16 or 32 and divide ``image_size``."""

    def __init__(
        self,
        num_classes: int = 15,
        image_size: int = 256,
        patch: int = 16,
        dim: int = 192,
        depth: int = 6,
        heads: int = 3,
        mlp: int = 384,
        decoder_width: int = 64,
        skip: bool = True,
        skip_width: int = 32,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if image_size % patch or patch not in (8, 16, 32):
            raise ValueError(f"patch must be 8, 16 or 32 and divide image_size; got patch={patch}, image_size={image_size}.")
        self.image_size, self.patch, self.grid = image_size, patch, image_size // patch
        self.embed = nn.Conv2d(3, dim, patch, patch)
        self.position = nn.Parameter(torch.zeros(1, self.grid * self.grid, dim))
        nn.init.trunc_normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp, dropout, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.project = nn.Conv2d(dim, decoder_width, 1)
        # transposed convs from stride `patch` down to stride 4 (or 2 when patch is 8 and skip is off)
        ups, width, stride = [], decoder_width, patch
        while stride > 4:
            ups.append(_up_block(width, max(width // 2, 32)))
            width, stride = max(width // 2, 32), stride // 2
        self.upsample = nn.Sequential(*ups)
        self.skip = skip
        if skip:
            self.stem = nn.Sequential(_conv_bn_relu(3, skip_width, 2), _conv_bn_relu(skip_width, skip_width, 2))
            self.fuse = _conv_bn_relu(width + skip_width, width)
        self.head = nn.ConvTranspose2d(width, num_classes, 4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> logits (B, num_classes, S, S)."""
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            raise ValueError(f"FaceTransformer expects {self.image_size}x{self.image_size} crops, got {tuple(x.shape[-2:])}.")
        tokens = self.embed(x).flatten(2).transpose(1, 2) + self.position  # (B, N, D)
        tokens = self.norm(self.encoder(tokens))
        grid = tokens.transpose(1, 2).reshape(x.shape[0], -1, self.grid, self.grid)  # (B, D, g, g)
        features = self.upsample(self.project(grid))  # (B, w, S/4, S/4)
        if self.skip:
            features = self.fuse(torch.cat([features, self.stem(x)], 1))
        return self.head(features)
