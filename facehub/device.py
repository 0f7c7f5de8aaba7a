"""The one device helper. Never initialises CUDA at import time."""

from __future__ import annotations

import os

import torch


def resolve_device(name: str | None = None) -> torch.device:
    """Return the torch device for ``name``.

    ``None`` reads ``FACEHUB_DEVICE`` (default ``"auto"``); ``"auto"`` is CUDA
    when it is available and the CPU otherwise. Any other value is passed to
    ``torch.device`` as is (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``).
    """
    name = name or os.environ.get("FACEHUB_DEVICE", "auto")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def set_cpu_threads(count: int | None = None) -> None:
    """Set torch's intra-op thread count (``FACEHUB_THREADS`` or all cores)."""
    count = count or int(os.environ.get("FACEHUB_THREADS", "0")) or os.cpu_count() or 1
    torch.set_num_threads(count)
