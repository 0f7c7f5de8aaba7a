"""Model families. Each family is a ``torch.nn.Module`` class whose constructor
takes JSON-plain keyword arguments (stored in ``config.json["model_args"]``).

Modules are imported lazily so that ``import facehub`` stays cheap.
"""

from __future__ import annotations

import importlib

import torch

from ..errors import CheckpointError

FAMILIES: dict[str, str] = {
    "mtcnn": "facehub.models.mtcnn:MTCNN",
    "bisenet": "facehub.models.bisenet:BiSeNet",
    "face_transformer": "facehub.models.face_transformer:FaceTransformer",
    "pipnet": "facehub.models.pipnet:PIPNet",
    "hourglass": "facehub.models.hourglass:StackedHourglass",
    "prnet": "facehub.models.prnet:PRNet",
    "portrait_editor": "facehub.models.portrait_editor:PortraitEditor",
}


def family_class(family: str) -> type[torch.nn.Module]:
    """Return the class of ``family``; an unknown family lists the valid ones."""
    try:
        target = FAMILIES[family]
    except KeyError:
        valid = ", ".join(sorted(FAMILIES))
        raise CheckpointError(f"Unknown model family {family!r}. Valid families: {valid}.") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_model(family: str, model_args: dict) -> torch.nn.Module:
    """Instantiate ``family`` with ``model_args`` (random weights)."""
    return family_class(family)(**model_args)
