"""``log.csv`` of a training run: dict rows, a header that widens when a new key appears."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


class CsvLog:
    """Appends dict rows to ``path``; a new key widens the header (the file is rewritten then).

    ``fresh`` starts a new file; otherwise rows are appended to the existing one (``--resume``).
    Floats are written with 6 significant digits; a key missing from a row is left empty.
    """

    def __init__(self, path: Path, fresh: bool) -> None:
        self.path = path
        if fresh and path.exists():
            path.unlink()
        self.keys: list[str] = []
        if path.exists():
            with path.open(newline="") as handle:
                self.keys = next(csv.reader(handle), [])

    def write(self, row: dict[str, Any]) -> None:
        row = {k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()}
        new = [k for k in row if k not in self.keys]
        if new:
            rows = self.rows()
            self.keys += new
            with self.path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, self.keys)
                writer.writeheader()
                writer.writerows(rows)
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, self.keys).writerow(row)

    def rows(self) -> list[dict[str, str]]:
        """Every row written so far (strings; "" where a row lacks a key)."""
        if not self.path.exists():
            return []
        with self.path.open(newline="") as handle:
            return list(csv.DictReader(handle))
