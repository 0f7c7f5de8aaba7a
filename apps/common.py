"""What every tab shares: the photo input, cached predictors, GPU decoration, user errors, previews, temp outputs."""

from __future__ import annotations

import functools
import html
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np
from gradio import processing_utils
from gradio.data_classes import ImageData
from PIL import Image

try:  # before torch touches CUDA, as ZeroGPU requires; pre-installed on ZeroGPU Spaces, the `app` extra elsewhere
    import spaces
except ImportError:  # a Space or machine without it runs every event on the process's own device
    spaces = None

import facehub
from facehub.errors import CheckpointError, FaceHubError
from facehub.image import load_image
from facehub.parsing.labels import LabelSet
from facehub.registry import DEFAULTS, names_for_task

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(str(p) for p in EXAMPLES_DIR.glob("*.jpg"))
GPU_QUEUE = "gpu"  # concurrency_id shared by every inference event: one model run at a time
PREVIEW_QUALITY = 90  # JPEG quality of the on-page previews; the downloads keep the lossless PNGs


@functools.lru_cache(maxsize=None)
def predictor(name: str):
    """The predictor of checkpoint ``name``, loaded once per process."""
    return facehub.load(name)


def detector(name: str | None = None):
    """Face detector ``name`` (default ``facehub.registry.DEFAULTS["detection"]``), loaded once per process."""
    return predictor(name or DEFAULTS["detection"])


@functools.lru_cache(maxsize=None)
def task_predictor(model: str, detector_name: str | None = None):
    """The predictor of ``model`` finding faces with detector ``detector_name`` (both loaded once per process)."""
    return facehub.load(model, detector=detector(detector_name))


def detector_picker() -> gr.Dropdown:
    """The face-detector picker of the single-photo tabs (the default first); API callers may omit it."""
    names = names_for_task("detection")
    return gr.Dropdown(names, value=names[0], label="Face detector",
                       info="face-detector: BlazeFace, with MTCNN for small faces and where BlazeFace finds none; "
                            "unsure faces that show no eyes, nose or mouth (backs of heads) are dropped")


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


def photo_input(label: str, height: int | None = None) -> gr.Image:
    """An upload / clipboard / webcam photo input whose event handlers get the uploaded file's path untouched.

    ``gr.Image.preprocess`` opens the upload with PIL (and converts it) before the handler runs, so a bad file
    got Gradio's "Could not preprocess input component ..." and odd modes were converted by Gradio, not by
    FaceHub. This component's ``preprocess`` is ``upload_path``: nothing reads the file, and the handler's
    ``read_image`` decodes and validates it with ``facehub.image.load_image``, whose message (the CLI's words)
    reaches the user as ``gr.Error``. (An instance attribute, not a subclass: Gradio writes a ``.pyi`` stub
    beside any module that defines a component class. No event updates these inputs' properties, the one
    case where Gradio would rebuild the component from its class.)
    """
    photo = gr.Image(type="filepath", image_mode=None, label=label, sources=["upload", "clipboard", "webcam"], height=height)
    photo.preprocess = functools.partial(upload_path, photo.GRADIO_CACHE)
    return photo


def upload_path(cache_dir: str, payload: ImageData | None) -> str | None:
    """The path of the uploaded file (a data URL's bytes, still undecoded, are saved in ``cache_dir`` first)."""
    if payload is None:
        return None
    if payload.url and payload.url.startswith("data:"):
        return processing_utils.save_base64_to_cache(payload.url, cache_dir, payload.orig_name)
    return payload.path


def photo_and_model(task: str) -> tuple[gr.Image, gr.Dropdown]:
    """The photo input and the model picker every single-photo tab starts with (default model first)."""
    models = model_choices(task)
    photo = photo_input("Photo (one or more faces)")
    model = gr.Dropdown(models, value=models[0], label="Model")
    return photo, model


def user_errors(function: Callable) -> Callable:
    """Turn FaceHub's user-facing errors into ``gr.Error`` with the same message (no traceback in the server log:
    a bad upload is the user's to fix, not a fault of the app)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except FaceHubError as error:
            raise gr.Error(str(error), duration=None, print_exception=False) from None

    return wrapper


def inference(function: Callable) -> Callable:
    """Decorate an event handler that runs a model: user errors + ``spaces.GPU`` on a Space."""
    return user_errors(spaces.GPU(function) if spaces is not None else function)


def read_image(path: str | None, role: str = "photo") -> np.ndarray:
    """The upload at ``path`` as (H, W, 3) uint8 RGB; ``FaceHubError`` with the CLI's message if it is no usable image."""
    if not path:
        raise FaceHubError(f"Upload a {role} first (or pick an example).")
    return load_image(path, name=Path(path).name)


def output_dir() -> Path:
    """A fresh folder for one request's downloads (written by facehub.export, the CLI's layout)."""
    return Path(tempfile.mkdtemp(prefix="facehub_"))


def download_stem(path: str) -> str:
    """The stem the downloads of an upload are named by: the photo's own (``astronaut.jpg`` -> ``astronaut``)."""
    return Path(path).stem or "photo"


def preview(image: Image.Image | np.ndarray, folder: Path, name: str, lossless: bool = False) -> str:
    """``folder/name.jpg`` (``.png`` if ``lossless``): ``image`` saved for the page (a JPEG is fast to send; the PNG
    stays in the downloads).

    Every picture a handler returns goes out as such a file, never as an array or PIL image: Gradio saves arrays
    under a hash of their bytes and rewrites that file on every call, so two users getting the same picture (the
    same example, say) raced, and one download could read the file while it was being rewritten (0 bytes). A file
    path is copied into Gradio's cache under a temporary name and renamed into place.
    """
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    keep = ("L", "RGB", "RGBA") if lossless else ("L", "RGB")
    picture = picture if picture.mode in keep else picture.convert("RGB")
    path = folder / f"{name}.{'png' if lossless else 'jpg'}"
    picture.save(path, **({} if lossless else {"quality": PREVIEW_QUALITY}))
    return str(path)


def gallery(crops: list, faces: list, folder: Path, stem: str) -> list[tuple[str, str]]:
    """``[(path, "face n"), ...]`` for a Gallery: each face crop (PIL or (H, W, 3) uint8, one per ``faces``) saved as a
    JPEG preview, largest face first, numbered by size as the editing tab's face numbers are (``size_order``)."""
    from facehub.detection.detector import size_order

    return [(preview(crops[i], folder, f"{stem}_face{n}"), f"face {n}") for n, i in enumerate(size_order(faces), start=1)]


CHIP_STYLE = ("display:inline-flex;align-items:center;gap:6px;padding:3px 10px 3px 4px;border-radius:999px;"
              "border:1px solid var(--border-color-primary,#ccc);font-size:14px;line-height:20px;white-space:nowrap")
SWATCH_STYLE = "width:18px;height:18px;border-radius:50%;border:1px solid rgba(0,0,0,0.35)"


def legend_html(labels: LabelSet, classes: list[int], present: set[int] | None = None) -> str:
    """Chips (colour swatch + class name, inline styles) for the label indices ``classes``; those not in
    ``present`` are dimmed and say so on hover."""
    chips = []
    for index in classes:
        found = present is None or index in present
        colour = "#%02x%02x%02x" % tuple(labels.colours[index])
        hint = "" if found else ' title="not in this photo"'
        chips.append(
            f'<span class="fh-chip" style="{CHIP_STYLE};opacity:{1.0 if found else 0.45}"{hint}>'
            f'<span style="{SWATCH_STYLE};background:{colour}"></span>{html.escape(labels.names[index])}</span>'
        )
    return f'<div class="fh-legend" style="display:flex;flex-wrap:wrap;gap:6px">{"".join(chips)}</div>'


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


def detection_fallback(image: np.ndarray, name: str, detector_name: str | None = None):
    """The detected faces drawn on the photo (a preview file's path), the note that ``name`` is not trained yet, and
    the detection result."""
    result = detector(detector_name)(image)
    return preview(result.overlay(), output_dir(), "faces"), not_trained_note(name, len(result.faces)), result
