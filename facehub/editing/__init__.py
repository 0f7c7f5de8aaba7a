"""Component editing helpers: the editor's label set, parts and mask geometry.

The predictor lives in ``facehub/tasks/editing.py``, the classical baseline in
``facehub/blend.py`` and the GAN in ``facehub/models/portrait_editor.py``.
"""

from .masks import (
    EDIT_LABELS,
    GAN_COMPONENTS,
    PART_CLASSES,
    component_fit,
    fit_components,
    intended_layout,
    part_mask,
    parse_parts,
    to_edit_labels,
)

__all__ = [
    "EDIT_LABELS",
    "GAN_COMPONENTS",
    "PART_CLASSES",
    "component_fit",
    "fit_components",
    "intended_layout",
    "part_mask",
    "parse_parts",
    "to_edit_labels",
]
