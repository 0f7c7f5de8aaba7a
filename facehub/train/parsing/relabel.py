"""Start a parser with one label set from a checkpoint trained on another (e.g. FACEHUB's 15 -> CelebAMask-HQ's 19).

Every weight is copied except the class-output layers (their class axis: 0 for a convolution, 1 for a
transposed one): their rows are picked by class name through the same aliases as
``facehub.parsing.labels.convert`` (``left_eye`` -> ``l_eye``); a class the source lacks starts as a copy of a
related class (``NEW_CLASS_DONORS``) with its bias lowered by ``NEW_CLASS_BIAS``, so the start predicts it
rarely and behaves like the source model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from facehub.hub import read_config
from facehub.parsing.labels import LabelSet, convert, label_set_for
from facehub.train.engine import load_initial_weights

NEW_CLASS_DONORS = {"eye_g": "skin", "hat": "hair", "ear_r": "skin", "neck_l": "neck"}
NEW_CLASS_BIAS = 3.0


def class_rows(source: LabelSet, target: LabelSet) -> np.ndarray:
    """(C_target,) int64: the source class each target class copies (by name, else its donor, else background)."""
    rows = np.zeros(len(target), np.int64)
    forward = convert(np.arange(len(source), dtype=np.uint8), source, target)  # source index -> target index
    for source_index, target_index in enumerate(forward):
        if target_index and not rows[target_index]:
            rows[target_index] = source_index
    for target_index, name in enumerate(target.names):
        if target_index and not rows[target_index] and name in NEW_CLASS_DONORS:
            donor = NEW_CLASS_DONORS[name]
            rows[target_index] = rows[target.index(donor)] if donor in target.names else 0
    return rows


def is_new_class(source: LabelSet, target: LabelSet) -> np.ndarray:
    """(C_target,) bool: target classes with no same-named source class."""
    forward = set(convert(np.arange(len(source), dtype=np.uint8), source, target).tolist())
    return np.array([i not in forward for i in range(len(target))])


def _class_axis(incoming: tuple[int, ...], wanted: tuple[int, ...], n_source: int, n_target: int) -> int | None:
    """The axis holding the classes of a class-output weight (0 for Conv2d/Linear, 1 for ConvTranspose2d),
    or None where the shapes already agree or differ elsewhere."""
    if incoming == wanted or len(incoming) != len(wanted):
        return None
    differing = [i for i, (a, b) in enumerate(zip(incoming, wanted)) if a != b]
    if len(differing) == 1 and incoming[differing[0]] == n_source and wanted[differing[0]] == n_target:
        return differing[0]
    return None


def load_relabelled(model: torch.nn.Module, folder: str | Path, target: LabelSet) -> None:
    """Load the ``save_pretrained`` parser ``folder`` into ``model`` (built for ``target``'s classes)."""
    folder = Path(folder)
    source = label_set_for(read_config(folder)["labels"])
    if source.names == target.names:
        load_initial_weights(model, folder)
        return
    from safetensors.torch import load_file

    weights = load_file(str(folder / "model.safetensors"))
    own = model.state_dict()
    rows = torch.as_tensor(class_rows(source, target))
    new = torch.as_tensor(is_new_class(source, target))
    merged = {}
    for key, value in own.items():
        if key not in weights:
            raise KeyError(f"{folder}: no weight {key!r} for this architecture.")
        incoming = weights[key].to(value.dtype)
        axis = _class_axis(tuple(incoming.shape), tuple(value.shape), len(source), len(target))
        if axis is not None:
            incoming = incoming.index_select(axis, rows).clone()
            if key.endswith("bias"):
                incoming[new] -= NEW_CLASS_BIAS
        if incoming.shape != value.shape:
            raise ValueError(f"{folder}: {key} has shape {tuple(incoming.shape)}, the model wants {tuple(value.shape)}.")
        merged[key] = incoming
    model.load_state_dict(merged, strict=True)
