"""The CLI writes what it wrote before the per-task refactor: tests/golden/ was recorded from the code before it
(``python scripts/record_cli_outputs.py``) with the shipped weights on the example photos."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_outputs_on_the_examples_match_the_recorded_ones() -> None:
    spec = importlib.util.spec_from_file_location("record_cli_outputs", ROOT / "scripts" / "record_cli_outputs.py")
    recorder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recorder)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        problems = recorder.compare(out, recorder.record(out))
    assert problems == []
