"""PIPNet: Pixel-in-Pixel regression with neighbour offsets (Jin et al., IJCV 2021).

A ResNet backbone (``facehub.nn.resnet``) gives a feature map of stride
``net_stride`` (32: ``c5``; 16: ``c5`` upsampled x2 plus a 1x1 lateral of
``c4``). On its ``G x G`` grid, 1x1 heads predict per landmark:

* ``score`` (B, N, G, G): which cell holds the landmark (trained towards 1 there, 0 elsewhere);
* ``offset`` (B, 2N, G, G): x then y of the landmark inside that cell, in cell units;
* ``neighbour`` (B, 2 N K, G, G): x then y of its ``K = num_nb`` neighbours
  (the nearest points of the mean face, buffer ``nb_index`` (N, K)) relative to the same cell.

Coordinates: a crop pixel ``p`` (pixel-centre convention, ``[-0.5, s - 0.5]``)
is ``u = (p + 0.5) / net_stride`` grid units. ``decode`` returns (B, N, 2)
crop pixels after neighbour regression merging (NRM): each point is the mean
of its own estimate and those of the landmarks that list it as a neighbour.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from facehub.geometry.landmarks68 import neighbour_indices
from facehub.nn.resnet import ResNet


class PIPNet(nn.Module):
    """PIPNet for ``num_points`` landmarks on ``input_size`` px crops; see the module docstring."""

    def __init__(
        self,
        num_points: int = 68,
        num_nb: int = 10,
        depth: int = 18,
        width: int = 64,
        net_stride: int = 32,
        input_size: int = 256,
    ) -> None:
        super().__init__()
        if net_stride not in (16, 32):
            raise ValueError(f"net_stride must be 16 or 32, got {net_stride}.")
        self.num_points, self.num_nb, self.net_stride, self.input_size = num_points, num_nb, net_stride, input_size
        self.backbone = ResNet(depth, 3, width)
        channels = self.backbone.out_channels[-1]
        self.lateral: nn.Module | None = None
        if net_stride == 16:
            self.lateral = nn.Sequential(nn.Conv2d(self.backbone.out_channels[-2], channels, 1, bias=False), nn.BatchNorm2d(channels))
        self.score = nn.Conv2d(channels, num_points, 1)
        self.offset = nn.Conv2d(channels, 2 * num_points, 1)
        self.neighbour = nn.Conv2d(channels, 2 * num_points * num_nb, 1)
        for head in (self.score, self.offset, self.neighbour):
            nn.init.normal_(head.weight, std=0.001)
            nn.init.zeros_(head.bias)
        # Default neighbours: nearest indices along the point order; training sets them from the mean face.
        default = np.stack([np.cos(np.arange(num_points) / num_points * 6.28), np.sin(np.arange(num_points) / num_points * 6.28)], 1)
        self.register_buffer("nb_index", torch.from_numpy(neighbour_indices(default, num_nb)).long())

    @property
    def grid_size(self) -> int:
        return self.input_size // self.net_stride

    def set_neighbours(self, mean_face: np.ndarray) -> None:
        """Choose each point's ``num_nb`` neighbours from ``mean_face`` (N, 2)."""
        self.nb_index.copy_(torch.from_numpy(neighbour_indices(mean_face, self.num_nb)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 3, s, s) normalised crops -> (score (B,N,G,G), offset (B,2N,G,G), neighbour (B,2NK,G,G))."""
        c2, c3, c4, c5 = self.backbone.forward_features(x)
        feature = c5
        if self.lateral is not None:
            feature = F.relu(F.interpolate(c5, size=c4.shape[-2:], mode="nearest") + self.lateral(c4))
        return self.score(feature), self.offset(feature), self.neighbour(feature)

    def targets(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Targets for crop ``points`` (B, N, 2) px.

        Returns ``cell`` (B, N) long flat index of each landmark's cell, score map
        (B, N, G, G) in {0, 1}, offsets (B, N, 2) and neighbour offsets (B, N, K, 2) in cell units.
        """
        g = self.grid_size
        u = (points + 0.5) / self.net_stride  # (B, N, 2) grid units
        cell_xy = u.floor().clamp(0, g - 1)
        cell = (cell_xy[..., 1] * g + cell_xy[..., 0]).long()
        score = F.one_hot(cell, g * g).float().view(*cell.shape, g, g)
        offset = u - cell_xy
        neighbours = u[:, self.nb_index] - cell_xy[:, :, None]  # (B, N, K, 2)
        return cell, score, offset, neighbours

    def _gather(self, offset: torch.Tensor, neighbour: torch.Tensor, cell: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Head values at each landmark's ``cell`` (B, N): offsets (B, N, 2), neighbours (B, N, K, 2)."""
        b, n, k = cell.shape[0], self.num_points, self.num_nb
        off = offset.flatten(2).view(b, 2, n, -1)
        off = off.gather(3, cell[:, None, :, None].expand(b, 2, n, 1))[..., 0].permute(0, 2, 1)
        nb = neighbour.flatten(2).view(b, 2, n, k, -1)
        nb = nb.gather(4, cell[:, None, :, None, None].expand(b, 2, n, k, 1))[..., 0].permute(0, 2, 3, 1)
        return off, nb

    def loss(self, outputs: tuple[torch.Tensor, ...], points: torch.Tensor, score_weight: float = 10.0) -> dict[str, torch.Tensor]:
        """PIPNet loss: ``score_weight`` x MSE on scores + L1 on offsets and neighbour offsets at the true cells."""
        score, offset, neighbour = outputs
        cell, score_target, offset_target, nb_target = self.targets(points)
        off, nb = self._gather(offset, neighbour, cell)
        terms = {
            "score": score_weight * F.mse_loss(score, score_target),
            "offset": F.l1_loss(off, offset_target),
            "neighbour": F.l1_loss(nb, nb_target),
        }
        terms["total"] = terms["score"] + terms["offset"] + terms["neighbour"]
        return terms

    def decode_outputs(self, outputs: tuple[torch.Tensor, ...], merge: bool = True) -> torch.Tensor:
        """Outputs -> (B, N, 2) crop pixels; ``merge`` applies NRM."""
        score, offset, neighbour = outputs
        g = self.grid_size
        cell = score.flatten(2).argmax(-1)  # (B, N)
        cell_xy = torch.stack([cell % g, torch.div(cell, g, rounding_mode="floor")], -1).to(score.dtype)
        off, nb = self._gather(offset, neighbour, cell)
        own = cell_xy + off  # (B, N, 2) grid units
        if merge:
            votes = cell_xy[:, :, None] + nb  # (B, N, K, 2): landmark i's estimate of point nb_index[i, k]
            index = self.nb_index.reshape(1, -1, 1).expand(own.shape[0], -1, 2)
            total = own.clone().scatter_add_(1, index, votes.reshape(own.shape[0], -1, 2))
            count = torch.ones_like(own[..., :1]).scatter_add_(1, index[..., :1], torch.ones_like(votes.reshape(own.shape[0], -1, 2)[..., :1]))
            own = total / count
        return own * self.net_stride - 0.5

    @torch.inference_mode()
    def predict(self, x: torch.Tensor, merge: bool = True) -> torch.Tensor:
        """(B, 3, s, s) normalised crops -> (B, N, 2) crop pixels."""
        return self.decode_outputs(self(x), merge)
