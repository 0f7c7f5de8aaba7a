"""``pip install .`` in a fresh venv (offline): the ``facehub`` command, the package data and where weights come from."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("detect", "parse", "landmarks", "reconstruct", "edit", "bench")


def _copy_project(to: Path) -> Path:
    """The files a build reads, copied (the build writes build/ and *.egg-info beside them)."""
    to.mkdir()
    for name in ("pyproject.toml", "README.md", *(p.name for p in ROOT.glob("requirements*.txt"))):
        shutil.copy2(ROOT / name, to / name)
    shutil.copytree(ROOT / "facehub", to / "facehub", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return to


def _run(args: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FACEHUB_WEIGHTS")}
    environment.update(HF_HUB_OFFLINE="1", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **env)
    return subprocess.run([str(a) for a in args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=300,
                          check=False)


def _venv(path: Path) -> Path:
    """A venv that sees this interpreter's packages (torch & co.) but none of this checkout; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def _install(python: Path, source: Path, *options: str) -> None:
    done = _run([python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q", *options, source],
                cwd=source.parent)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """``pip install .`` (not editable) into a fresh venv; returns the venv."""
    tmp = tmp_path_factory.mktemp("packaging")
    python = _venv(tmp / "venv")
    _install(python, _copy_project(tmp / "src"))
    return tmp / "venv"


def test_the_console_script_is_the_same_cli(installed: Path, tmp_path: Path) -> None:
    script = _run([installed / "bin" / "facehub", "--help"], cwd=tmp_path)
    assert script.returncode == 0, script.stderr
    assert all(command in script.stdout for command in COMMANDS)
    module = _run([installed / "bin" / "python", "-m", "facehub", "--help"], cwd=tmp_path)
    assert module.stdout == script.stdout


def test_the_installed_package_is_the_venvs_copy_with_its_data_files(installed: Path, tmp_path: Path) -> None:
    code = ("import facehub, facehub.train; from facehub.reconstruction.uv import canonical_mesh; "
            "print(facehub.__file__); print(len(canonical_mesh().vertices))")
    done = _run([installed / "bin" / "python", "-c", code], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    location, vertices = done.stdout.split()
    assert Path(location).is_relative_to(installed) and vertices == "468"


def test_an_installed_package_finds_weights_through_facehub_weights(installed: Path, tmp_path: Path) -> None:
    photo, out = ROOT / "examples" / "two_people.jpg", tmp_path / "faces.json"
    command = [installed / "bin" / "facehub", "--device", "cpu", "detect", photo, "--out", out]
    done = _run(command, cwd=tmp_path, FACEHUB_WEIGHTS=str(ROOT / "weights"), OMP_NUM_THREADS="1")
    assert done.returncode == 0, done.stderr
    assert "2 faces in 1 images" in done.stdout
    # no repository beside site-packages and nothing in the (empty) Hub cache: the error says what to set
    missing = _run(command, cwd=tmp_path, HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"))
    assert missing.returncode == 2
    assert "'face-detector'" in missing.stderr and "$FACEHUB_WEIGHTS" in missing.stderr


def test_an_editable_install_finds_the_repositorys_weights(tmp_path: Path) -> None:
    source = _copy_project(tmp_path / "src")
    (source / "weights").symlink_to(ROOT / "weights", target_is_directory=True)
    python = _venv(tmp_path / "venv")
    _install(python, source, "-e")
    code = "from facehub.hub import resolve_checkpoint; print(resolve_checkpoint('mtcnn'))"
    done = _run([python, "-c", code], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == source / "weights" / "mtcnn"


def test_ci_runs_the_readmes_test_command_and_each_dependency_is_listed_once() -> None:
    setup = (ROOT / "README.md").read_text().split("## Set up a fresh machine")[1].split("\n## ")[0]
    commands = re.findall(r"```bash\n(.+?)\n```", setup)
    assert len(commands) == 2  # start the app; run the tests
    assert commands[1] in (ROOT / ".ci" / "run").read_text().splitlines()
    lines = [line.strip() for path in sorted(ROOT.glob("requirements*.txt")) for line in path.read_text().splitlines()]
    names = [re.split(r"[<>=!~\[; ]", line)[0].lower() for line in lines if line and not line.startswith("#")]
    assert len(names) == len(set(names)), names
    assert "torch==2.13.0" in lines
