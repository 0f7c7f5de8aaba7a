"""The device helper, and the rule that importing FaceHub never initialises CUDA (ZeroGPU Spaces need that)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from facehub.device import resolve_device, set_cpu_threads
from facehub.hub import REPO_ROOT


def test_auto_is_cpu_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.delenv("FACEHUB_DEVICE", raising=False)
    assert resolve_device() == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")


def test_auto_is_cuda_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_real_auto_matches_torch() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert torch.zeros(1, device=resolve_device("auto")).device.type == expected


def test_environment_variable_and_explicit_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEHUB_DEVICE", "cpu")
    assert resolve_device() == torch.device("cpu")
    monkeypatch.setenv("FACEHUB_DEVICE", "cuda:1")
    assert resolve_device() == torch.device("cuda", 1)  # named, not initialised
    assert resolve_device("cpu") == torch.device("cpu")  # an explicit name wins over the variable
    assert resolve_device("meta") == torch.device("meta")


def test_unknown_device_name_is_an_error() -> None:
    with pytest.raises((RuntimeError, ValueError), match="gpu"):
        resolve_device("gpu")


def test_set_cpu_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    try:
        set_cpu_threads(1)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("FACEHUB_THREADS", "2")
        set_cpu_threads()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


IMPORT_EVERYTHING = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import torch

    calls = []
    for name in ("init", "_lazy_init", "set_device", "current_device", "synchronize"):
        original = getattr(torch.cuda, name)
        def recorder(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)
        setattr(torch.cuda, name, recorder)

    import facehub
    imported, failed = [], {}
    names = ["facehub"] + [m.name for m in pkgutil.walk_packages(facehub.__path__, "facehub.")]
    names += ["apps"] + [f"apps.{m.name}" for m in pkgutil.iter_modules([sys.argv[1] + "/apps"])]
    names += ["app"]
    for name in names:
        if name == "facehub.cli":
            continue
        try:
            importlib.import_module(name)
            imported.append(name)
        except ImportError as error:  # optional training-only dependencies (teachers) may be absent
            failed[name] = f"{type(error).__name__}: {error}"
    print(json.dumps({"initialized": torch.cuda.is_initialized(), "calls": calls,
                      "imported": imported, "failed": failed}))
    """
)


def test_importing_facehub_and_the_apps_does_not_initialise_cuda() -> None:
    """Import every facehub module, the tab modules and app.py in a fresh interpreter; CUDA stays untouched."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING, str(REPO_ROOT)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["initialized"] is False
    assert report["calls"] == [], f"CUDA was touched at import time: {report['calls']}"
    for core in ("facehub", "facehub.hub", "facehub.registry", "facehub.registry", "facehub.image", "facehub.geometry.align",
                 "facehub.device"):
        assert core in report["imported"], report["failed"].get(core)
    core_failures = {k: v for k, v in report["failed"].items() if not k.startswith(("facehub.train.data.", "apps", "app"))}
    assert not core_failures, core_failures
