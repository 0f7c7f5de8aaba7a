"""Face-parsing label sets, one palette each, left/right swaps and legends.

Names follow each set's own spelling (DESIGN.md). "Left" means the subject's
left (the image's right in an un-mirrored frontal photo), as in MediaPipe's
``FACEMESH_LEFT_*`` sets.

* ``LAPA`` (11): LaPa (Liu et al., AAAI 2020).
* ``CELEBAMASK`` (19): CelebAMask-HQ (Lee et al., CVPR 2020), index 0 = background.
* ``HELEN`` (11): Helen as relabelled by Smith et al. (2013).
* ``FACEHUB`` (15): what the shipped parsers predict: LaPa's 11 plus ``l_ear``,
  ``r_ear``, ``neck``, ``cloth`` under their CelebAMask-HQ names.

``IGNORE`` (255) marks pixels no label source knows; losses and metrics skip it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

IGNORE = 255


@dataclass(frozen=True)
class LabelSet:
    """Class names in index order with one RGB colour per class (uint8 triples)."""

    name: str
    names: tuple[str, ...]
    colours: tuple[tuple[int, int, int], ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.colours):
            raise ValueError(f"Label set {self.name}: {len(self.names)} names but {len(self.colours)} colours.")

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of class ``name``; an unknown name lists the valid ones."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{name!r} is not in label set {self.name}: {', '.join(self.names)}") from None

    @property
    def palette(self) -> np.ndarray:
        """(256, 3) uint8 lookup table: class index -> colour; 255 (ignore) is white, unused entries black."""
        table = np.zeros((256, 3), dtype=np.uint8)
        table[: len(self.colours)] = np.array(self.colours, dtype=np.uint8)
        table[IGNORE] = 255
        return table

    def flip_permutation(self) -> np.ndarray:
        """(C,) int64: the class each class becomes under a horizontal flip (left <-> right)."""
        perm = np.arange(len(self.names))
        for i, name in enumerate(self.names):
            other = _mirror_name(name)
            if other != name and other in self.names:
                perm[i] = self.names.index(other)
        return perm

    def colourise(self, class_map: np.ndarray) -> np.ndarray:
        """(H, W) uint8 class map -> (H, W, 3) uint8 colour image."""
        return self.palette[np.asarray(class_map, dtype=np.uint8)]


_MIRROR_PREFIXES = (("left_", "right_"), ("l_", "r_"))


def _mirror_name(name: str) -> str:
    for left, right in _MIRROR_PREFIXES:
        if name.startswith(left):
            return right + name[len(left):]
        if name.startswith(right):
            return left + name[len(right):]
    return name


# Colours chosen to tell neighbours apart; the same class has the same colour in every set.
_COLOURS: dict[str, tuple[int, int, int]] = {
    "background": (0, 0, 0),
    "skin": (204, 153, 102),
    "left_eyebrow": (153, 51, 0), "l_brow": (153, 51, 0),
    "right_eyebrow": (102, 0, 51), "r_brow": (102, 0, 51),
    "left_eye": (0, 153, 255), "l_eye": (0, 153, 255),
    "right_eye": (0, 255, 153), "r_eye": (0, 255, 153),
    "nose": (255, 204, 0),
    "upper_lip": (255, 0, 85), "u_lip": (255, 0, 85),
    "inner_mouth": (153, 0, 153), "mouth": (153, 0, 153),
    "lower_lip": (255, 102, 153), "l_lip": (255, 102, 153),
    "hair": (85, 51, 0),
    "eye_g": (200, 200, 200),
    "l_ear": (255, 153, 51), "r_ear": (204, 102, 0),
    "hat": (0, 102, 204),
    "ear_r": (255, 255, 102),
    "neck_l": (102, 255, 255),
    "neck": (255, 178, 140),
    "cloth": (51, 102, 153),
}


def _make(name: str, names: list[str]) -> LabelSet:
    return LabelSet(name, tuple(names), tuple(_COLOURS[n] for n in names))


LAPA = _make("lapa", [
    "background", "skin", "left_eyebrow", "right_eyebrow", "left_eye", "right_eye",
    "nose", "upper_lip", "inner_mouth", "lower_lip", "hair",
])
CELEBAMASK = _make("celebamask", [
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
    "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
])
# Helen (Smith et al.): 0 bg, 1 face skin, 2/3 brows, 4/5 eyes, 6 nose, 7 upper lip, 8 inner mouth, 9 lower lip, 10 hair.
HELEN = _make("helen", [
    "background", "skin", "left_eyebrow", "right_eyebrow", "left_eye", "right_eye",
    "nose", "upper_lip", "inner_mouth", "lower_lip", "hair",
])
FACEHUB = _make("facehub", list(LAPA.names) + ["l_ear", "r_ear", "neck", "cloth"])

LABEL_SETS: dict[str, LabelSet] = {s.name: s for s in (LAPA, CELEBAMASK, HELEN, FACEHUB)}

# Coarse classes of the team's evaluation; every name of every set maps to one of them.
COARSE_NAMES = ("background", "skin", "hair", "eyes", "nose", "mouth")
_COARSE_OF: dict[str, str] = {
    "skin": "skin", "l_ear": "skin", "r_ear": "skin", "neck": "skin", "eye_g": "skin",  # glasses sit on the face
    "hair": "hair", "left_eyebrow": "hair", "right_eyebrow": "hair", "l_brow": "hair", "r_brow": "hair",
    "left_eye": "eyes", "right_eye": "eyes", "l_eye": "eyes", "r_eye": "eyes",
    "nose": "nose",
    "upper_lip": "mouth", "lower_lip": "mouth", "inner_mouth": "mouth", "u_lip": "mouth", "l_lip": "mouth", "mouth": "mouth",
}


def get_label_set(name: str) -> LabelSet:
    """Label set by name; an unknown name lists the valid ones."""
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise KeyError(f"Unknown label set {name!r}. Valid: {', '.join(sorted(LABEL_SETS))}") from None


def label_set_for(names: list[str] | tuple[str, ...]) -> LabelSet:
    """The registered set with exactly these ``names``, else an ad-hoc set coloured by name."""
    for candidate in LABEL_SETS.values():
        if tuple(names) == candidate.names:
            return candidate
    return LabelSet("custom", tuple(names), tuple(_COLOURS.get(n, (128, 128, 128)) for n in names))


def coarse_lookup(labels: LabelSet) -> np.ndarray:
    """(256,) uint8 table mapping ``labels`` indices to ``COARSE_NAMES`` indices (255 stays 255)."""
    table = np.zeros(256, dtype=np.uint8)
    for i, name in enumerate(labels.names):
        table[i] = COARSE_NAMES.index(_COARSE_OF.get(name, "background"))
    table[IGNORE] = IGNORE
    return table


def convert(class_map: np.ndarray, source: LabelSet, target: LabelSet) -> np.ndarray:
    """Map a (H, W) uint8 map from ``source`` to ``target`` by name; names ``target`` lacks become
    their coarse equivalent when present (e.g. ``neck`` -> ``skin``), else background."""
    table = np.zeros(256, dtype=np.uint8)
    aliases = {"l_brow": "left_eyebrow", "r_brow": "right_eyebrow", "l_eye": "left_eye", "r_eye": "right_eye",
               "u_lip": "upper_lip", "l_lip": "lower_lip", "mouth": "inner_mouth"}
    reverse = {v: k for k, v in aliases.items()}
    for i, name in enumerate(source.names):
        for candidate in (name, aliases.get(name), reverse.get(name), _COARSE_OF.get(name)):
            if candidate is not None and candidate in target.names:
                table[i] = target.names.index(candidate)
                break
    table[IGNORE] = IGNORE
    return table[np.asarray(class_map, dtype=np.uint8)]


def draw_legend(labels: LabelSet, classes: list[int] | None = None, swatch: int = 16, width: int = 180) -> Image.Image:
    """A legend image: one colour swatch and name per class (all, or the indices in ``classes``)."""
    indices = list(range(len(labels))) if classes is None else list(classes)
    row = swatch + 4
    canvas = Image.new("RGB", (width, row * len(indices) + 4), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, index in enumerate(indices):
        y = 2 + r * row
        draw.rectangle([4, y, 4 + swatch, y + swatch], fill=labels.colours[index], outline=(0, 0, 0))
        draw.text((swatch + 10, y + swatch // 2 - 5), labels.names[index], fill=(0, 0, 0))
    return canvas
