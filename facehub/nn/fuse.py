"""Fold eval-mode BatchNorm into the convolution before it, for inference.

A conv followed by a BatchNorm computes ``bn(conv(x))``; in eval mode the BN
is a fixed per-channel affine map, so it folds into the conv's weight and
bias (``torch.nn.utils.fusion.fuse_conv_bn_eval``) and one op disappears.
Outputs match the unfused model to float rounding. Pairs are found as
neighbours in an ``nn.Sequential`` and as ``convN``/``bnN`` attributes of a
module whose forward applies them in that order (``resnet.BasicBlock`` and
its stem). Training needs the BN layers, so only predictors call this.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

_CONVS = (nn.Conv2d, nn.ConvTranspose2d)


def _fused(conv: nn.Module, norm: nn.BatchNorm2d) -> nn.Module:
    return fuse_conv_bn_eval(conv, norm, transpose=isinstance(conv, nn.ConvTranspose2d))


def _foldable(conv: nn.Module, norm: nn.Module) -> bool:
    return isinstance(conv, _CONVS) and isinstance(norm, nn.BatchNorm2d) and norm.track_running_stats


def fuse_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every conv -> BatchNorm2d pair of ``model`` in place (the model must be in eval mode); returns it."""
    if model.training:
        raise ValueError("fuse_batchnorm needs an eval-mode model (BatchNorm must use its running statistics).")
    with torch.no_grad():
        _fuse_module(model)
    return model


def _fuse_module(module: nn.Module) -> None:
    from facehub.nn.resnet import BasicBlock, ResNet

    for child in module.children():
        _fuse_module(child)
    if isinstance(module, nn.Sequential):
        for i in range(len(module) - 1):
            if _foldable(module[i], module[i + 1]):
                module[i] = _fused(module[i], module[i + 1])
                module[i + 1] = nn.Identity()
    pairs = {BasicBlock: (("conv1", "bn1"), ("conv2", "bn2")), ResNet: (("conv1", "bn1"),)}.get(type(module), ())
    for conv_name, norm_name in pairs:
        conv, norm = getattr(module, conv_name), getattr(module, norm_name)
        if _foldable(conv, norm):
            setattr(module, conv_name, _fused(conv, norm))
            setattr(module, norm_name, nn.Identity())
