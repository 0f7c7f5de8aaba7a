"""When the editor refuses: a chosen component it cannot find in the source (or the target) photo.

A component's size is its parsed area over the face box's area (``Face.box``,
the detector's or the caller's), so it does not depend on the photo's
resolution. An edit is refused, and the target returned untouched, when for a
chosen part

* the source's area is below ``MIN_AREA[part]``, or for hair below
  ``MIN_RELATIVE`` of the target's (hair much smaller than the hair it
  replaces: the target's would be erased, not replaced; inner parts are scaled
  onto the target's, so only their absence matters); or
* the part is an inner one (eyes, brows, nose, mouth, face) and the target's
  area is below ``MIN_AREA[part]``: there is nothing to put the source's on.
  A target without hair is fine (the source's hair is added).

The thresholds come from the shipped parser (bisenet, stage 13 at 352 px) on 253 CelebA-HQ val
faces (celebamask19/val and celebamask_hair/val), area / face-box area:

=====  ======  ======  ======  ======  ===========
part   min     1st %   median  max     MIN_AREA
=====  ======  ======  ======  ======  ===========
hair   0.061   0.090   0.85    2.05    0.02
eyes   0       0.0011  0.014   0.024   0.003
brows  0       0.0017  0.025   0.046   0.001
nose   0.024   0.040   0.057   0.074   0.005
mouth  0.0083  0.018   0.033   0.117   0.003
face   0.47    0.56    0.87    1.53    0.1
=====  ======  ======  ======  ======  ===========

``MIN_AREA`` sits 2.8x (mouth) to 4.8x (nose) below the smallest face that has
the component. The smallest/largest hair ratio among these faces is 0.03 (0.07
when ``MIN_RELATIVE`` = 0.05 was set): the face with the least hair is refused as
a hair source onto the one with the most. Eyes: the five smallest read 0 to 0.0014
(the two looked at: dark sunglasses; eyes squinting behind tinted glasses); then a mirrored pair of
sunglasses, celebamask_hair/val 28509, at 0.0026 (stage 12 read it 0.0015, stage 11
0.0007), then tinted sunglasses the eyes show through at 0.0032 and clear glasses
at 0.0037: the threshold (0.001 until stage 12, 0.002 with it) sits at 0.003, in
that gap, and refuses 6 of the 253. Brows: 3 of the 253 under 0.001.
Grace Hopper's hair under her cap (examples/grace_hopper.jpg): refused as a hair
source (``tests/editing``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from facehub.detection.result import Face
from facehub.editing.masks import PART_CLASSES, part_mask

MIN_AREA: dict[str, float] = {"hair": 0.02, "eyes": 0.003, "brows": 0.001, "nose": 0.005, "mouth": 0.003, "face": 0.1}
MIN_RELATIVE = 0.05  # the source's hair at least this fraction of the target's
_NEEDED_IN_TARGET = ("eyes", "brows", "nose", "mouth", "face")  # hair may be added to a target without any


def component_area(class_map: np.ndarray, face: Face, part: str) -> float:
    """Area of ``part`` in an (H, W) EDIT_LABELS map over the area of ``face``'s box (>= 0; about 1 for hair)."""
    x0, y0, x1, y1 = (float(v) for v in face.box)
    return float(part_mask(class_map, part).sum()) / max((x1 - x0) * (y1 - y0), 1.0)


def _problem(part: str, source: float, target: float) -> str | None:
    """Which photo lacks ``part`` ("source" / "target"), or None when it can be moved."""
    if source < MIN_AREA[part] or (part == "hair" and source < MIN_RELATIVE * target):
        return "source"
    if part in _NEEDED_IN_TARGET and target < MIN_AREA[part]:
        return "target"
    return None


def refusal(
    parts: Iterable[str], source_map: np.ndarray, source_face: Face, target_map: np.ndarray, target_face: Face
) -> str | None:
    """The refusal message for moving ``parts`` (canonical names) between two parsed photos, or None to edit.

    The message names each missing component and the photo it is missing from, and what to try: another photo,
    or the parts that both photos do have.
    """
    parts = tuple(parts)
    found = {
        part: _problem(part, component_area(source_map, source_face, part), component_area(target_map, target_face, part))
        for part in PART_CLASSES
    }
    missing = [part for part in parts if found[part]]
    if not missing:
        return None
    where = "; ".join(_missing_words(part, found[part]) for part in missing)
    photos = " and ".join(sorted({str(found[part]) for part in missing}))
    names = ", ".join(missing)
    others = [part for part in PART_CLASSES if not found[part] and part not in missing]
    advice = f"choose a {photos} photo where the {names} {_be(missing, 'is', 'are')} clearly visible"
    if others:
        advice += f", or edit {', '.join(others)} only"
    return f"Nothing was edited: {where}. Try again: {advice}."


def _be(parts: list[str], singular: str, plural: str) -> str:
    return singular if len(parts) == 1 and parts[0] not in ("eyes", "brows") else plural


def _missing_words(part: str, photo: str | None) -> str:
    was, are = _be([part], "was", "were"), _be([part], "is", "are")
    if photo == "source":
        return f"the {part} {was} not found in the source photo (or {are} much smaller than the target's)"
    return f"the {part} {was} not found in the target photo, so there is nothing to replace"
