"""BiSeNet V1 (Yu et al., ECCV 2018) for face parsing, configurable width and class count.

* Spatial path: three stride-2 conv-BN-ReLU blocks (stride 8, ``spatial_width`` channels).
* Context path: a ResNet-18 (``facehub.nn.resnet``, no torchvision) of width
  ``backbone_width``; Attention Refinement Modules on its stride-16 and stride-32
  outputs, plus global-average context added to the stride-32 branch.
* Feature Fusion Module joins both paths at stride 8; a conv head gives the logits.
* Auxiliary heads (training only) on the two context branches.
* ``detail_skip`` (a FaceHub addition, on in the shipped checkpoint): the
  fused stride-8 features are upsampled and fused with the backbone's stride-4
  features before the classifier, so thin parts (eyes, lips) get a finer grid.

Input: (B, 3, H, W) float, normalised with the checkpoint's mean/std, H and W
multiples of 32. Output: logits (B, num_classes, H, W).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facehub.nn.resnet import ResNet


class ConvBNReLU(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class AttentionRefinement(nn.Module):
    """ARM: conv, then channel attention from global average pooling (sigmoid gate)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(cin, cout)
        self.attention = nn.Sequential(nn.Conv2d(cout, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return x * self.attention(x.mean((2, 3), keepdim=True))


class FeatureFusion(nn.Module):
    """FFM: concat both paths, conv, then a squeeze-excite style residual re-weighting."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(cin, cout, kernel=1)
        self.attention = nn.Sequential(
            nn.Conv2d(cout, max(cout // 4, 8), 1), nn.ReLU(inplace=True), nn.Conv2d(max(cout // 4, 8), cout, 1), nn.Sigmoid()
        )

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.conv(torch.cat([spatial, context], 1))
        return x + x * self.attention(x.mean((2, 3), keepdim=True))


class Head(nn.Sequential):
    """3x3 conv-BN-ReLU then a 1x1 classifier."""

    def __init__(self, cin: int, mid: int, num_classes: int) -> None:
        super().__init__(ConvBNReLU(cin, mid), nn.Conv2d(mid, num_classes, 1))


def _up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class BiSeNet(nn.Module):
    """BiSeNet V1 face parser; see the module docstring.

    Args: num_classes; backbone_width (ResNet-18 base width, 64 = standard);
    spatial_width (spatial-path channels); context_width (ARM/context channels);
    fuse_width (FFM output channels); detail_skip (stride-4 refinement); aux (build auxiliary heads).
    """

    def __init__(
        self,
        num_classes: int = 15,
        backbone_width: int = 64,
        spatial_width: int = 64,
        context_width: int = 128,
        fuse_width: int = 256,
        detail_skip: bool = False,
        aux: bool = True,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.spatial = nn.Sequential(
            ConvBNReLU(3, spatial_width, 7, 2), ConvBNReLU(spatial_width, spatial_width, 3, 2),
            ConvBNReLU(spatial_width, spatial_width, 3, 2),
        )
        self.backbone = ResNet(18, 3, backbone_width)
        c2, _, c4, c5 = self.backbone.out_channels
        self.arm16 = AttentionRefinement(c4, context_width)
        self.arm32 = AttentionRefinement(c5, context_width)
        self.global_context = ConvBNReLU(c5, context_width, kernel=1)
        self.refine32 = ConvBNReLU(context_width, context_width)
        self.refine16 = ConvBNReLU(context_width, context_width)
        self.ffm = FeatureFusion(spatial_width + context_width, fuse_width)
        self.detail_skip = detail_skip
        if detail_skip:
            self.detail = ConvBNReLU(c2, 32, kernel=1)
            self.detail_reduce = ConvBNReLU(fuse_width, 32, kernel=1)
            self.detail_fuse = ConvBNReLU(64, 48)
            self.head = Head(48, 32, num_classes)
        else:
            self.head = Head(fuse_width, fuse_width // 2, num_classes)
        self.aux = aux
        if aux:
            self.aux16 = Head(context_width, 64, num_classes)
            self.aux32 = Head(context_width, 64, num_classes)

    def _context(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns stride-4 backbone features, context at stride 8, and the stride-16 / 32 branches."""
        c2, _, c4, c5 = self.backbone.forward_features(x)
        global_feat = self.global_context(c5.mean((2, 3), keepdim=True))
        branch32 = self.refine32(_up(self.arm32(c5) + global_feat, c4.shape[-2:]))
        branch16 = self.refine16(_up(self.arm16(c4) + branch32, (c4.shape[-2] * 2, c4.shape[-1] * 2)))
        return c2, branch16, branch16, branch32

    def _head_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The main head's logits on its own grid, and the stride-16 / 32 context branches."""
        spatial = self.spatial(x)
        c2, context, branch16, branch32 = self._context(x)
        fused = self.ffm(spatial, _up(context, spatial.shape[-2:]))
        if self.detail_skip:
            fused = self.detail_fuse(torch.cat([_up(self.detail_reduce(fused), c2.shape[-2:]), self.detail(c2)], 1))
        return self.head(fused), branch16, branch32

    def coarse_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> logits (B, C, H/4, W/4) (H/8, W/8 without ``detail_skip``): the head's own grid, before
        ``forward`` upsamples them to the input's size (16x fewer values to softmax and paste at stride 4)."""
        return self._head_logits(x)[0]

    def forward(self, x: torch.Tensor, with_aux: bool = False) -> torch.Tensor | list[torch.Tensor]:
        """(B, 3, H, W) -> logits (B, C, H, W); with ``with_aux`` a list [main, aux16, aux32], all (B, C, H, W)."""
        if with_aux and not self.aux:
            raise ValueError("This BiSeNet was built with aux=False; it has no auxiliary heads.")
        size = x.shape[-2:]
        logits, branch16, branch32 = self._head_logits(x)
        logits = _up(logits, size)
        if not with_aux:
            return logits
        return [logits, _up(self.aux16(branch16), size), _up(self.aux32(branch32), size)]
