"""The editor's label set (LaPa-11), editable parts and the layouts they imply.

Every class map here is an (H, W) integer array of indices into
``EDIT_LABELS``. Parsers with other label sets (CelebAMask-HQ-19, LaPa plus
neck/cloth/ears) are mapped by name with ``to_edit_labels``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

EDIT_LABELS: tuple[str, ...] = (
    "background", "skin", "left_eyebrow", "right_eyebrow", "left_eye", "right_eye",
    "nose", "upper_lip", "inner_mouth", "lower_lip", "hair",
)
INDEX = {name: i for i, name in enumerate(EDIT_LABELS)}
BACKGROUND, SKIN, HAIR = INDEX["background"], INDEX["skin"], INDEX["hair"]

# Other sets' spellings -> ours; anything not listed (neck, cloth, hat, glasses, earrings) is background.
_ALIASES = {
    "l_brow": "left_eyebrow", "r_brow": "right_eyebrow", "l_eye": "left_eye", "r_eye": "right_eye",
    "u_lip": "upper_lip", "l_lip": "lower_lip", "mouth": "inner_mouth",
    "l_ear": "skin", "r_ear": "skin", "ear": "skin", "ears": "skin", "left_ear": "skin", "right_ear": "skin",
}

FACE_INNER = ("left_eyebrow", "right_eyebrow", "left_eye", "right_eye", "nose", "upper_lip", "inner_mouth", "lower_lip")
PART_CLASSES: dict[str, tuple[str, ...]] = {
    "hair": ("hair",),
    "eyes": ("left_eye", "right_eye"),
    "brows": ("left_eyebrow", "right_eyebrow"),
    "nose": ("nose",),
    "mouth": ("upper_lip", "inner_mouth", "lower_lip"),
    "face": ("skin",) + FACE_INNER,
}
_PART_ALIASES = {"eye": "eyes", "eyebrows": "brows", "brow": "brows", "lips": "mouth", "skin": "face", "hairs": "hair"}

# The GAN's five local components (the paper's left eye, right eye, mouth, face skin, hair).
GAN_COMPONENTS: tuple[str, ...] = ("left_eye", "right_eye", "mouth", "face", "hair")


def to_edit_labels(class_map: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Map an (H, W) class map over ``labels`` (names in index order) to EDIT_LABELS indices, uint8."""
    lookup = np.zeros(max(len(labels), int(class_map.max(initial=0)) + 1), dtype=np.uint8)
    for index, name in enumerate(labels):
        key = _ALIASES.get(name.lower(), name.lower())
        lookup[index] = INDEX.get(key, BACKGROUND)
    return lookup[np.asarray(class_map, dtype=np.int64)]


def parse_parts(parts: str | Iterable[str]) -> tuple[str, ...]:
    """``"hair,eyes"`` or ``["hair", "eye"]`` -> canonical part names; unknown names raise ValueError."""
    items = parts.split(",") if isinstance(parts, str) else list(parts)
    out: list[str] = []
    for item in items:
        key = _PART_ALIASES.get(item.strip().lower(), item.strip().lower())
        if not key:
            continue
        if key not in PART_CLASSES:
            raise ValueError(f"Unknown part {item!r}. Valid parts: {', '.join(PART_CLASSES)}.")
        if key not in out:
            out.append(key)
    if not out:
        raise ValueError(f"No part given. Valid parts: {', '.join(PART_CLASSES)}.")
    # paint order: the face first, then the inner parts, hair last (it lies on top)
    order = ["face", "nose", "brows", "eyes", "mouth", "hair"]
    return tuple(sorted(out, key=order.index))


def class_ids(part: str) -> list[int]:
    return [INDEX[name] for name in PART_CLASSES[part]]


def part_mask(class_map: np.ndarray, part: str) -> np.ndarray:
    """(H, W) bool: the pixels of ``part`` in an EDIT_LABELS class map."""
    return np.isin(class_map, class_ids(part))


def intended_layout(target_map: np.ndarray, source_map: np.ndarray, parts: Iterable[str]) -> np.ndarray:
    """The layout an edit aims at: the target's map with the source's parts.

    ``source_map`` is the source's class map already aligned to the target
    (same (H, W)). Target pixels of an edited part that the source does not
    cover become background (hair) or skin (inner parts; face -> the source
    face inside the target's head). Returns (H, W) uint8.
    """
    out = np.asarray(target_map, dtype=np.uint8).copy()
    target_face = part_mask(target_map, "face")
    for part in parse_parts(parts):
        src = part_mask(source_map, part)
        if part == "hair":
            out[part_mask(target_map, "hair")] = BACKGROUND
            out[src] = HAIR
        elif part == "face":
            region = target_face & part_mask(source_map, "face")
            out[region] = source_map[region]
            out[target_face & ~region] = SKIN
        else:
            out[part_mask(out, part)] = SKIN
            inside = src & (part_mask(out, "face"))
            out[inside] = source_map[inside]
    return out
