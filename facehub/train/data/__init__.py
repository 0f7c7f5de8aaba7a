"""Dataset readers and derived data (pseudo-labels, caches).

``data_root()`` is where the training data lives: ``$FACEHUB_DATA`` or
``../shared/data`` next to the repository. ``cache_root()`` is the ignored
folder derived data is written to (``$FACEHUB_CACHE`` or ``<repo>/cache``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def data_root() -> Path:
    return Path(os.environ.get("FACEHUB_DATA", REPO_ROOT.parent / "shared" / "data"))


def cache_root() -> Path:
    return Path(os.environ.get("FACEHUB_CACHE", REPO_ROOT / "cache"))
