"""The editor's label set (LaPa-11), editable parts, the layouts they imply, and the painted-mask colours.

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

# Other sets' spellings -> ours; glasses lie on the face (skin); anything not listed (neck, cloth, hat, earrings,
# necklace) is background.
_ALIASES = {
    "l_brow": "left_eyebrow", "r_brow": "right_eyebrow", "l_eye": "left_eye", "r_eye": "right_eye",
    "u_lip": "upper_lip", "l_lip": "lower_lip", "mouth": "inner_mouth",
    "l_ear": "skin", "r_ear": "skin", "ear": "skin", "ears": "skin", "left_ear": "skin", "right_ear": "skin",
    "eye_g": "skin",
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

# inner parts are moved one connected group at a time, each fitted onto the target's group
COMPONENT_GROUPS: dict[str, list[tuple[str, ...]]] = {
    "eyes": [("left_eye",), ("right_eye",)],
    "brows": [("left_eyebrow",), ("right_eyebrow",)],
    "nose": [("nose",)],
    "mouth": [("upper_lip", "inner_mouth", "lower_lip")],
}


def to_edit_labels(class_map: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Map an (H, W) class map over ``labels`` (names in index order) to EDIT_LABELS indices, uint8."""
    lookup = np.zeros(max(len(labels), int(class_map.max(initial=0)) + 1), dtype=np.uint8)
    for index, name in enumerate(labels):
        key = _ALIASES.get(name.lower(), name.lower())
        lookup[index] = INDEX.get(key, BACKGROUND)
    return lookup[np.asarray(class_map, dtype=np.int64)]


# Masks are shown and painted in the default parser's CelebAMask-HQ colours; these are the classes a painted
# mask can use (each maps to one EDIT_LABELS class; ears, glasses, hat, neck and cloth are left out).
PAINT_CLASSES: tuple[str, ...] = (
    "background", "skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip", "hair",
)


def mask_colours(class_map: np.ndarray) -> np.ndarray:
    """(H, W) EDIT_LABELS map -> (H, W, 3) uint8 in the CelebAMask-HQ palette (``l_brow`` for ``left_eyebrow``...)."""
    from facehub.parsing.labels import CELEBAMASK, LAPA, convert

    return CELEBAMASK.colourise(convert(np.asarray(class_map, np.uint8), LAPA, CELEBAMASK))


def colours_to_labels(painted: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 painted colours -> (H, W) uint8 EDIT_LABELS: each pixel snapped to the nearest colour of
    ``PAINT_CLASSES`` (CelebAMask-HQ palette), then mapped by name."""
    from facehub.parsing.labels import CELEBAMASK

    colours = np.array([CELEBAMASK.colours[CELEBAMASK.index(n)] for n in PAINT_CLASSES], dtype=np.float32)
    pixels = painted.reshape(-1, 3).astype(np.float32)
    nearest = ((pixels[:, None] - colours[None]) ** 2).sum(-1).argmin(1)
    return to_edit_labels(nearest.reshape(painted.shape[:2]), PAINT_CLASSES)


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


def component_fit(moved: np.ndarray, wanted: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """How a source component is placed on the target's: ``(scale, source_centre, target_centre)``.

    ``moved``/``wanted``: (H, W) bool masks of the component (source already
    aligned by the five points) and of the target's. The source is scaled about
    its centroid so its area matches the target's (scale clipped to [0.8, 1.25])
    and its centroid moved onto the target's; centres are (x, y) pixels.
    """
    (ys_s, xs_s), (ys_t, xs_t) = np.nonzero(moved), np.nonzero(wanted)
    scale = float(np.clip(np.sqrt(len(xs_t) / max(len(xs_s), 1)), 0.8, 1.25))
    return scale, np.array([xs_s.mean(), ys_s.mean()]), np.array([xs_t.mean(), ys_t.mean()])


def fit_components(source_map: np.ndarray, target_map: np.ndarray, parts: Iterable[str]) -> np.ndarray:
    """Place each inner component of an aligned source map onto the target's (``component_fit``).

    ``source_map``: (H, W) EDIT_LABELS of the source already aligned to the
    target by the five points; ``target_map``: the target's (H, W). Returns a
    copy of ``source_map`` whose eyes, brows, nose and mouth (those in ``parts``)
    sit where the target's do, at the target's size: what ``blend_parts``
    renders and ``intended_layout`` expects. Hair and face are left as aligned.
    """
    source_map = np.asarray(source_map, dtype=np.uint8)
    out = source_map.copy()
    height, width = out.shape
    for part in parse_parts(parts):
        for group in COMPONENT_GROUPS.get(part, []):
            ids = [INDEX[name] for name in group]
            moved, wanted = np.isin(source_map, ids), np.isin(target_map, ids)
            if moved.sum() < 4 or wanted.sum() < 4:
                continue
            scale, c_src, c_dst = component_fit(moved, wanted)
            out[moved] = SKIN
            ys, xs = np.nonzero(moved)  # the placed component's box, then sample it back from the source
            x0, x1 = (np.array([xs.min(), xs.max()]) - c_src[0]) * scale + c_dst[0]
            y0, y1 = (np.array([ys.min(), ys.max()]) - c_src[1]) * scale + c_dst[1]
            gy, gx = np.mgrid[max(0, int(y0) - 1): min(height, int(y1) + 2), max(0, int(x0) - 1): min(width, int(x1) + 2)]
            sx = np.clip(np.rint((gx - c_dst[0]) / scale + c_src[0]).astype(int), 0, width - 1)
            sy = np.clip(np.rint((gy - c_dst[1]) / scale + c_src[1]).astype(int), 0, height - 1)
            hit = moved[sy, sx]
            out[gy[hit], gx[hit]] = source_map[sy[hit], sx[hit]]
    return out


def intended_layout(target_map: np.ndarray, source_map: np.ndarray, parts: Iterable[str]) -> np.ndarray:
    """The layout an edit aims at: the target's map with the source's parts.

    ``source_map`` is the source's class map already aligned to the target
    (same (H, W); pass it through ``fit_components`` to place inner parts where
    the target's are, as the editor does). Target pixels of an edited part that the source does not
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
