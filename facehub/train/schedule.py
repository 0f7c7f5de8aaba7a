"""The one learning-rate schedule of every recipe: warm-up, then cosine, over training progress.

Each recipe keeps its own documented constants as a :class:`Schedule`; progress is
``max(step / steps, seconds / budget)`` (:func:`progress_of`), so a time-budgeted run
anneals by its deadline however busy the machine is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    """Constants of the warm-up + cosine schedule (see :func:`warmup_cosine`).

    ``warmup``: warm-up length as a fraction of progress. ``warmup_steps``: when set, the warm-up
    ramps ``(step + 1) / warmup_steps`` by steps instead (while ``step < warmup_steps`` and
    ``progress < warmup``). ``warmup_floor``: the smallest factor of a progress ramp. The cosine
    falls from ``end + height`` to ``end`` (``height`` defaults to ``1 - end``) over progress
    ``[warmup, 1]``, or over ``[0, 1]`` when ``cosine_from_warmup`` is False.
    """

    warmup: float = 0.0
    warmup_steps: int | None = None
    warmup_floor: float = 0.0
    end: float = 0.0
    height: float | None = None
    cosine_from_warmup: bool = True


def warmup_cosine(base_lr: float, progress: float, step: int = 0, schedule: Schedule | None = Schedule()) -> float:
    """Learning rate at ``progress`` in [0, 1] (and ``step``, for a step warm-up); ``schedule=None``: constant."""
    if schedule is None:
        return base_lr
    s = schedule
    if s.warmup_steps is not None:
        if step < s.warmup_steps and progress < s.warmup:
            return base_lr * (step + 1) / s.warmup_steps
    elif progress < s.warmup:
        return base_lr * max(progress / s.warmup, s.warmup_floor)
    t = (progress - s.warmup) / (1 - s.warmup) if s.cosine_from_warmup else progress
    height = 1.0 - s.end if s.height is None else s.height
    return base_lr * (s.end + height * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def progress_of(step: int, seconds: float, steps: int = 0, minutes: float = 0.0) -> float:
    """Training progress ``max(step / steps, seconds / (60 * minutes))`` over the terms that are set (> 0)."""
    progress = step / steps if steps else 0.0
    if minutes:
        progress = max(progress, seconds / (60.0 * minutes))
    return progress
