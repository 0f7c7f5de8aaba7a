"""Named checkpoints: name -> family, task, Hub repo id and revision.

The model's own constructor arguments, label set, input size and
normalisation live in the checkpoint's ``config.json``; the registry only says
where to find each checkpoint and which task serves it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CheckpointError

HUB_ORGANISATION = "facehub"


@dataclass(frozen=True)
class CheckpointSpec:
    """Where a named checkpoint lives and what it does."""

    name: str
    family: str
    task: str  # "detection" | "parsing" | "landmarks" | "reconstruction" | "editing"
    description: str
    revision: str = "main"

    @property
    def repo_id(self) -> str:
        return f"{HUB_ORGANISATION}/{self.name}"


_SPECS = [
    CheckpointSpec("mtcnn", "mtcnn", "detection", "MTCNN P/R/O-Net face detector with 5 points"),
    CheckpointSpec("bisenet", "bisenet", "parsing", "BiSeNet V1 face parser (ResNet-18 context path)"),
    CheckpointSpec("face-transformer", "face_transformer", "parsing", "ViT face-parsing segmenter"),
    CheckpointSpec("pipnet", "pipnet", "landmarks", "PIPNet 68-point landmarks (ResNet-18)"),
    CheckpointSpec("hourglass", "hourglass", "landmarks", "Stacked Hourglass 68-point landmarks"),
    CheckpointSpec("prnet", "prnet", "reconstruction", "PRNet UV position-map 3D reconstruction"),
    CheckpointSpec("portrait-editor", "portrait_editor", "editing", "Mask-guided portrait editor"),
]
REGISTRY: dict[str, CheckpointSpec] = {spec.name: spec for spec in _SPECS}

DEFAULTS = {
    "detection": "mtcnn",
    "parsing": "bisenet",
    "landmarks": "pipnet",
    "reconstruction": "prnet",
    "editing": "portrait-editor",
}


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
    default = DEFAULTS.get(task)
    return sorted(names, key=lambda n: n != default)
