"""Self-training labels for parsing: the teacher's pseudo-labels corrected by the real-label parser where it is sure
(written by ``scripts/self_label_parsing.py``, read by ``load_items(self_labels=...)``)."""

from __future__ import annotations

import numpy as np

from facehub.parsing.labels import CELEBAMASK, FACEHUB, IGNORE, convert, label_set_for
from facehub.train.parsing.dataset import RARE_CLASSES

HAIR_MASK_SETS = ("celebamask_hair_train", "figaro1k_hair_train")  # their teacher hair is a person's hair mask


def corrected_label(teacher: np.ndarray, probs: np.ndarray, has_hair_mask: bool, confident: float,
                    confident_rare: float) -> np.ndarray:
    """The merged (H, W) uint8 19-class label of one photo.

    teacher: (H, W) uint8 FACEHUB indices (255 = ignore); probs: (19, H, W) float parser probabilities pasted
    into the photo (all zero outside the face's crop).
    """
    label = convert(teacher, label_set_for(FACEHUB.names), CELEBAMASK).copy()
    top, best = probs.max(0), probs.argmax(0)
    sure = top >= confident
    # where the teacher knows nothing (hair, neck, clothes of video frames) the parser may not claim skin: on
    # low-resolution frames it calls grey and white hair skin, and the teacher's skin (mesh + colour match) is sound
    sure &= ~((teacher == IGNORE) & (best == CELEBAMASK.index("skin")))
    label[sure] = best[sure]
    for name in RARE_CLASSES:
        index = CELEBAMASK.index(name)
        label[probs[index] >= confident_rare] = index
    if has_hair_mask:
        hair_mask = teacher == FACEHUB.index("hair")
        hair = CELEBAMASK.index("hair")
        label[(label == hair) & ~hair_mask & (teacher != IGNORE)] = IGNORE
        label[hair_mask] = hair
    return label.astype(np.uint8)
