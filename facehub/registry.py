"""Every named checkpoint, declared once: name, family, description, and whether it is its task's default.

A family names its ``torch.nn.Module`` class and the task it serves (stored once, in ``FAMILIES``); a task
names its predictor class (``TASKS``). The model's constructor arguments, label set, input size and
normalisation live in the checkpoint's ``config.json``. Classes are imported lazily, so ``import facehub``
loads no model code.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import torch

from facehub.errors import CheckpointError

HUB_ORGANISATION = "facehub"

TASKS: dict[str, str] = {  # task -> predictor class
    "detection": "facehub.detection.detector:FaceDetector",
    "parsing": "facehub.parsing.predictor:FaceParser",
    "landmarks": "facehub.landmarks.predictor:LandmarkPredictor",
    "reconstruction": "facehub.reconstruction.predictor:FaceReconstructor",
    "editing": "facehub.editing.predictor:PortraitEditor",
}


@dataclass(frozen=True)
class Family:
    """A model family: its class (``module:Class``), the task it serves, and its own predictor where the task's
    does not fit it (``module:Class``; None: ``TASKS[task]``). An empty ``target`` is a family composed of other
    checkpoints: its ``config.json`` names them and it has no ``model.safetensors`` of its own."""

    target: str
    task: str
    predictor: str | None = None


FAMILIES: dict[str, Family] = {
    "mtcnn": Family("facehub.detection.models.mtcnn:MTCNN", "detection"),
    "blazeface": Family("facehub.detection.models.blazeface:BlazeFace", "detection",
                        predictor="facehub.detection.blazeface:BlazeFaceDetector"),
    "face_detector": Family("", "detection", predictor="facehub.detection.cascade:CascadeDetector"),
    "bisenet": Family("facehub.parsing.models.bisenet:BiSeNet", "parsing"),
    "face_transformer": Family("facehub.parsing.models.face_transformer:FaceTransformer", "parsing"),
    "pipnet": Family("facehub.landmarks.models.pipnet:PIPNet", "landmarks"),
    "hourglass": Family("facehub.landmarks.models.hourglass:StackedHourglass", "landmarks"),
    "prnet": Family("facehub.reconstruction.models.prnet:PRNet", "reconstruction"),
    "portrait_editor": Family("facehub.editing.models.portrait_editor:PortraitEditor", "editing"),
}


@dataclass(frozen=True)
class CheckpointSpec:
    """Where a named checkpoint lives and what it does."""

    name: str
    family: str
    description: str
    default: bool = False
    revision: str = "main"

    @property
    def task(self) -> str:
        return FAMILIES[self.family].task

    @property
    def repo_id(self) -> str:
        return f"{HUB_ORGANISATION}/{self.name}"


_SPECS = [
    CheckpointSpec("mtcnn", "mtcnn", "MTCNN P/R/O-Net face detector with 5 points"),
    CheckpointSpec("blazeface-short", "blazeface", "BlazeFace short-range face detector (MediaPipe, 128 px), 5 points"),
    CheckpointSpec("blazeface", "blazeface", "BlazeFace full-range face detector (MediaPipe, 192 px), 5 points"),
    CheckpointSpec("face-detector", "face_detector",
                   "BlazeFace short range, with MTCNN for small faces and padded/mirrored retries, 5 points", default=True),
    CheckpointSpec("bisenet", "bisenet", "BiSeNet V1 face parser (ResNet-18 context path)", default=True),
    CheckpointSpec("face-transformer", "face_transformer", "ViT face-parsing segmenter"),
    CheckpointSpec("pipnet", "pipnet", "PIPNet 68-point landmarks (ResNet-18)", default=True),
    CheckpointSpec("hourglass", "hourglass", "Stacked Hourglass 68-point landmarks"),
    CheckpointSpec("prnet", "prnet", "PRNet UV position-map 3D reconstruction", default=True),
    CheckpointSpec("portrait-editor", "portrait_editor", "Mask-guided portrait editor", default=True),
]
REGISTRY: dict[str, CheckpointSpec] = {spec.name: spec for spec in _SPECS}
DEFAULTS: dict[str, str] = {spec.task: spec.name for spec in _SPECS if spec.default}


def get_spec(name: str) -> CheckpointSpec:
    """Return the spec of ``name``; an unknown name lists the valid ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        valid = ", ".join(sorted(REGISTRY))
        raise CheckpointError(f"Unknown checkpoint {name!r}. Valid names: {valid}.") from None


def names_for_task(task: str) -> list[str]:
    """Checkpoint names that serve ``task``, the default first."""
    names = [spec.name for spec in _SPECS if spec.task == task]
    return sorted(names, key=lambda n: n != DEFAULTS.get(task))


def list_models(task: str | None = None) -> list[CheckpointSpec]:
    """Every shipped checkpoint (or those of ``task``), each task's default first; an unknown task lists the valid ones."""
    if task is not None and task not in TASKS:
        raise CheckpointError(f"Unknown task {task!r}. Valid tasks: {', '.join(TASKS)}.")
    tasks = [task] if task else list(TASKS)
    return [REGISTRY[name] for t in tasks for name in names_for_task(t)]


def import_target(target: str):
    """``"package.module:Name"`` -> the object."""
    module_name, attribute = target.split(":")
    return getattr(importlib.import_module(module_name), attribute)


def family_class(family: str) -> type[torch.nn.Module]:
    """Return the class of ``family``; an unknown family lists the valid ones."""
    try:
        target = FAMILIES[family].target
    except KeyError:
        valid = ", ".join(sorted(FAMILIES))
        raise CheckpointError(f"Unknown model family {family!r}. Valid families: {valid}.") from None
    if not target:
        raise CheckpointError(f"Model family {family!r} is composed of other checkpoints; it has no model class.")
    return import_target(target)


def build_model(family: str, model_args: dict) -> torch.nn.Module:
    """Instantiate ``family`` with ``model_args`` (random weights)."""
    return family_class(family)(**model_args)


def predictor_class(spec: CheckpointSpec):
    """The predictor class that serves checkpoint ``spec``: its family's own, else its task's."""
    family = FAMILIES[spec.family]
    return import_target(family.predictor or TASKS[family.task])
