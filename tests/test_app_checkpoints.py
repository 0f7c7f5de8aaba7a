"""A damaged checkpoint reaches the app's user as FaceHub's own message (the CLI's words), not a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import gradio as gr
import pytest

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "examples" / "grace_hopper.jpg"


@pytest.fixture
def truncated_pipnet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of weights/ whose pipnet model.safetensors lost its second half; the app's caches emptied."""
    from apps import common

    weights = tmp_path / "weights"
    shutil.copytree(ROOT / "weights", weights)
    target = weights / "pipnet" / "model.safetensors"
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    monkeypatch.setenv("FACEHUB_WEIGHTS", str(weights))
    for cached in (common.predictor, common.task_predictor, common.availability):
        cached.cache_clear()
    yield weights
    for cached in (common.predictor, common.task_predictor, common.availability):
        cached.cache_clear()


def test_a_truncated_checkpoint_gives_the_clis_message_in_the_app(truncated_pipnet: Path) -> None:
    from apps import landmarks

    with pytest.raises(gr.Error) as info:
        landmarks.landmarks(str(PHOTO), "pipnet", False, True)
    message = str(info.value.message)
    cli = subprocess.run([sys.executable, "-m", "facehub", "landmarks", str(PHOTO), "--out", str(truncated_pipnet / "x.json")],
                         capture_output=True, text=True, cwd=ROOT, env={**__import__("os").environ})
    assert cli.returncode == 2 and "Traceback" not in cli.stderr
    assert "'pipnet'" in message and "model.safetensors" in message
    assert message in cli.stderr  # the same words in the CLI and the app
