"""What every tab shares: cached predictors, GPU decoration, user errors, temp outputs."""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np

try:  # before torch touches CUDA, as ZeroGPU requires; pre-installed on ZeroGPU Spaces, the `app` extra elsewhere
    import spaces
except ImportError:  # a Space or machine without it runs every event on the process's own device
    spaces = None

import facehub
from facehub.errors import CheckpointError, FaceHubError
from facehub.image import load_image
from facehub.registry import names_for_task

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(str(p) for p in EXAMPLES_DIR.glob("*.jpg"))
GPU_QUEUE = "gpu"  # concurrency_id shared by every inference event: one model run at a time


@functools.lru_cache(maxsize=None)
def predictor(name: str):
    """The predictor of checkpoint ``name``, loaded once per process."""
    return facehub.load(name)


def detector():
    return predictor("mtcnn")


@dataclass
class Availability:
    """Whether a checkpoint can be loaded here, and if not, why."""

    ready: bool
    message: str = ""


@functools.lru_cache(maxsize=None)
def availability(name: str) -> Availability:
    """Try to resolve ``name`` (weights/ or Hub); remember the answer for the process."""
    from facehub.hub import resolve_checkpoint

    try:
        resolve_checkpoint(name)
    except CheckpointError as error:
        return Availability(False, str(error))
    return Availability(True)


def model_choices(task: str) -> list[str]:
    return names_for_task(task)


def photo_and_model(task: str) -> tuple[gr.Image, gr.Dropdown]:
    """The photo input and the model picker every single-photo tab starts with (default model first)."""
    models = model_choices(task)
    photo = gr.Image(type="filepath", label="Photo (one or more faces)", sources=["upload", "clipboard", "webcam"])
    model = gr.Dropdown(models, value=models[0], label="Model")
    return photo, model


def user_errors(function: Callable) -> Callable:
    """Turn FaceHub's user-facing errors into ``gr.Error`` with the same message."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except FaceHubError as error:
            raise gr.Error(str(error), duration=None) from None

    return wrapper


def inference(function: Callable) -> Callable:
    """Decorate an event handler that runs a model: user errors + ``spaces.GPU`` on a Space."""
    return user_errors(spaces.GPU(function) if spaces is not None else function)


def read_image(path: str | None, role: str = "photo") -> np.ndarray:
    if not path:
        raise FaceHubError(f"Upload a {role} first (or pick an example).")
    return load_image(path, name=Path(path).name)


def output_dir() -> Path:
    """A fresh folder for one request's downloads (written by facehub.export, the CLI's layout)."""
    return Path(tempfile.mkdtemp(prefix="facehub_"))


def download_stem(path: str) -> str:
    """The stem the downloads of an upload are named by: the photo's own (``astronaut.jpg`` -> ``astronaut``)."""
    return Path(path).stem or "photo"


def not_trained_note(name: str, faces: int) -> str:
    reason = availability(name).message
    return (
        f"**The `{name}` model is not available here yet**, so this tab shows the {faces} detected "
        f"face(s) only — no fake output.\n\n{reason}"
    )


def faces_note(count: int, extra: str = "") -> str:
    if count == 0:
        return "**No face found.** Try a larger, frontal, well-lit face (at least ~40 px between the eyes)."
    return f"Found **{count}** face(s). {extra}".strip()


def detection_fallback(image: np.ndarray, name: str):
    """Detected faces drawn on the photo, and the note that ``name`` is not trained yet."""
    result = detector()(image)
    return result.overlay(), not_trained_note(name, len(result.faces)), result
