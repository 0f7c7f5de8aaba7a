"""Shared fixtures: an isolated Hugging Face environment and a loopback Hub.

Every test runs offline (``HF_HUB_OFFLINE=1``, endpoint on a closed local port). ``hf_isolated``
points every Hugging Face path (home, hub cache, token) into ``tmp_path`` and disables Xet (so
uploads take the plain LFS path). ``hub`` adds a running :class:`tests.hub_server.LoopbackHub`,
points ``HF_ENDPOINT`` at it and turns offline mode off. ``app_url`` serves the Gradio app for the session.

``huggingface_hub`` reads its settings into ``huggingface_hub.constants`` when it is imported,
so setting the environment is not enough in-process: the fixtures set both the environment
variables (for subprocesses) and the constant values (for this process). No function of
``huggingface_hub`` is patched; its real HTTP code runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hub_server import LoopbackHub

CLOSED_ENDPOINT = "http://127.0.0.1:9"  # the discard port: connections are refused
FAKE_TOKEN = "hf_loopbackTestTokenNotARealOne"


def set_hf_endpoint(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point ``huggingface_hub`` at ``url`` (env var and the constants derived from it at import)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")


def set_hf_offline(monkeypatch: pytest.MonkeyPatch, offline: bool) -> None:
    """Switch ``HF_HUB_OFFLINE`` (env var and constant) on or off."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)


@pytest.fixture(autouse=True)
def _hub_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with ``HF_HUB_OFFLINE=1`` and a closed endpoint: a checkpoint missing from
    ``weights/`` fails at once instead of retrying the network; only ``hub`` turns the Hub back on."""
    set_hf_offline(monkeypatch, True)
    set_hf_endpoint(monkeypatch, CLOSED_ENDPOINT)


@pytest.fixture
def hf_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An HF home and hub cache under ``tmp_path``, a fake token, Xet off (still offline)."""
    from huggingface_hub import constants

    home = tmp_path / "hf_home"
    cache = home / "hub"
    cache.mkdir(parents=True)
    values = {
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(cache),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
        monkeypatch.setattr(constants, key, value)
    for key in ("HF_HUB_DISABLE_XET", "HF_HUB_DISABLE_TELEMETRY", "HF_HUB_DISABLE_PROGRESS_BARS"):
        monkeypatch.setenv(key, "1")
        monkeypatch.setattr(constants, key, True)
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    return cache


@pytest.fixture
def hub(hf_isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackHub]:
    """A running loopback Hub on 127.0.0.1 with ``HF_ENDPOINT`` pointing at it."""
    server = LoopbackHub().start()
    set_hf_endpoint(monkeypatch, server.url)
    set_hf_offline(monkeypatch, False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """The Gradio app (``app.build_demo()``) on a free 127.0.0.1 port, shared by the tests/test_app*.py files."""
    from tests.app_server import serve_app

    with serve_app() as url:
        yield url


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread (``FACEHUB_TEST_THREADS`` to change): the 2 cores are shared with trainings,
    and oversubscribed threads make small CPU tests many times slower."""
    import os

    import torch

    torch.set_num_threads(int(os.environ.get("FACEHUB_TEST_THREADS", "1")))
