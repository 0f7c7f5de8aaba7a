"""Losses for face parsing: cross-entropy with OHEM, soft Dice, and the REINFORCE F1 reward.

All take logits (B, C, H, W) float and targets (B, H, W) int64 with 255 = ignore,
and return a scalar tensor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = 255


def pixel_cross_entropy(logits: torch.Tensor, target: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """(B, H, W) CE per pixel, 0 at ignore pixels. ``allowed`` (B, C, C) bool: row t of sample b marks the
    classes a pixel labelled t may be (partial labels, ``facehub.train.parsing.partial``); the pixel then
    costs ``-log sum_allowed p``. None = plain CE."""
    if allowed is None:
        return F.cross_entropy(logits, target, ignore_index=IGNORE, reduction="none")
    num_classes = logits.shape[1]
    valid = target != IGNORE
    rows = allowed[torch.arange(target.shape[0], device=target.device).view(-1, 1, 1), target.clamp(max=num_classes - 1)]
    masked = logits.masked_fill(~rows.permute(0, 3, 1, 2), float("-inf"))
    losses = logits.logsumexp(1) - masked.logsumexp(1)
    return torch.where(valid, losses, torch.zeros_like(losses))


def ohem_cross_entropy(logits: torch.Tensor, target: torch.Tensor, keep: float = 0.3, threshold: float = 0.7,
                       weight: torch.Tensor | None = None, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """Pixel CE averaged over the hard pixels: those with p(true) < ``threshold``, at least the
    ``keep`` fraction of valid pixels (the hardest ones). ``keep=1`` is plain CE. ``allowed``: partial
    labels as in ``pixel_cross_entropy`` (not with ``weight``)."""
    if allowed is not None:
        losses = pixel_cross_entropy(logits, target, allowed).flatten()
    else:
        losses = F.cross_entropy(logits, target, weight=weight, ignore_index=IGNORE, reduction="none").flatten()
    valid = (target != IGNORE).flatten()
    losses = losses[valid]
    if losses.numel() == 0:
        return logits.sum() * 0.0
    if keep >= 1.0:
        return losses.mean()
    minimum = max(1, int(keep * losses.numel()))
    hard = losses[losses > -torch.log(torch.tensor(threshold))]
    if hard.numel() < minimum:
        hard = torch.topk(losses, minimum).values
    return hard.mean()


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - mean soft Dice over the classes present in the batch's target (ignore pixels skipped)."""
    num_classes = logits.shape[1]
    valid = (target != IGNORE).unsqueeze(1).float()  # (B, 1, H, W)
    probs = logits.softmax(1) * valid
    onehot = F.one_hot(target.clamp(max=num_classes - 1) * (target != IGNORE), num_classes).permute(0, 3, 1, 2).float() * valid
    inter = (probs * onehot).sum((0, 2, 3))
    total = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    present = onehot.sum((0, 2, 3)) > 0
    dice = (2 * inter + smooth) / (total + smooth)
    return 1.0 - dice[present].mean() if present.any() else logits.sum() * 0.0


def f1_reward(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per-image mean F1 (B,) in [0, 1] of hard maps ``pred`` vs ``target`` (B, H, W) over the classes
    present in either; ignore pixels skipped. No gradient."""
    valid = target != IGNORE
    pred = torch.where(valid, pred, torch.zeros_like(pred))
    tgt = torch.where(valid, target, torch.zeros_like(target))
    p = F.one_hot(pred, num_classes).flatten(1, 2).float() * valid.flatten(1).unsqueeze(-1)
    t = F.one_hot(tgt, num_classes).flatten(1, 2).float() * valid.flatten(1).unsqueeze(-1)
    tp = (p * t).sum(1)
    denominator = p.sum(1) + t.sum(1)
    present = denominator > 0
    f1 = torch.where(present, 2 * tp / denominator.clamp(min=1), torch.zeros_like(tp))
    return f1.sum(1) / present.sum(1).clamp(min=1)


def reinforce_f1_loss(logits: torch.Tensor, target: torch.Tensor, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """REINFORCE over a sampled label map with the per-image F1 as reward and the greedy
    (argmax) map's F1 as the self-critical baseline.

    Returns (loss scalar, mean sampled reward scalar). The loss is
    ``-mean_b[(R(sample_b) - R(argmax_b)) * mean_pixels log p(sample_b)]``.
    """
    num_classes = logits.shape[1]
    log_probs = (logits / temperature).log_softmax(1)  # (B, C, H, W)
    with torch.no_grad():
        flat = log_probs.permute(0, 2, 3, 1).reshape(-1, num_classes).exp()
        sample = torch.multinomial(flat, 1).view(target.shape)
        reward = f1_reward(sample, target, num_classes)
        baseline = f1_reward(logits.argmax(1), target, num_classes)
    valid = (target != IGNORE).float()
    chosen = log_probs.gather(1, sample.unsqueeze(1)).squeeze(1) * valid  # (B, H, W)
    mean_log_prob = chosen.sum((1, 2)) / valid.sum((1, 2)).clamp(min=1)
    return -((reward - baseline) * mean_log_prob).mean(), reward.mean()
