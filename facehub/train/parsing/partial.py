"""Partial labels for the teacher-labelled parsing samples: what a pseudo-label class may truly be.

The MediaPipe teacher has no glasses, earrings, necklaces or hats: under its "skin" may lie a glasses
frame or an earring, under its "eye" or "brow" a lens or rim, under its "neck" a necklace. Plain
cross-entropy on those pixels teaches the student *against* the rare classes the human labels teach.
A partial-label loss scores such a pixel by the summed probability of every class it may be
(``-log sum_{c in allowed} p_c``), so the teacher still separates skin from hair while glasses stay free.
"""

from __future__ import annotations

import torch

from facehub.parsing.labels import LabelSet

TEACHER_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "skin": ("eye_g", "ear_r"),
    "nose": ("eye_g",),
    "l_eye": ("eye_g",),
    "r_eye": ("eye_g",),
    "l_brow": ("eye_g",),
    "r_brow": ("eye_g",),
    "l_ear": ("ear_r",),
    "r_ear": ("ear_r",),
    "neck": ("neck_l",),
    "cloth": ("neck_l",),
}


def alternatives_table(labels: LabelSet, alternatives: dict[str, tuple[str, ...]] = TEACHER_ALTERNATIVES) -> torch.Tensor:
    """(C, C) bool: row t marks the classes a teacher pixel labelled t may be (t itself always); names
    ``labels`` lacks are skipped, so a label set without glasses etc. gets the identity."""
    table = torch.eye(len(labels), dtype=torch.bool)
    for name, others in alternatives.items():
        if name in labels.names:
            for other in others:
                if other in labels.names:
                    table[labels.index(name), labels.index(other)] = True
    return table


def sample_tables(human: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """(B, C, C) bool: the identity for human-labelled samples (``human`` (B,) bool), ``table`` for the rest."""
    identity = torch.eye(table.shape[0], dtype=torch.bool, device=table.device)
    return torch.where(human.view(-1, 1, 1).to(table.device), identity, table)
