"""Large-pose parsing samples: human-labelled faces turned by face profiling, their label maps moved with them.

The human 19-class labels (celebamask19) are nearly all frontal CelebA-HQ portraits; a parser trained on them
alone loses the eyes of turned faces. ``profiled_view`` renders such a portrait at a new head pose drawn like
PRNet's profiled views (``facehub.train.reconstruction.profiled.target_rotation``: |yaw| 25-88 degrees on the
face's own side, pitch +-20, roll +-15) with ``facehub.train.data.profiling.profile_face``, which warps the
label map with the same triangles (nearest neighbour): skin, eyes, hair, ears, neck and cloth stay on their
pixels, and what turns away is hidden by the near surface. ``scripts/export_profiled_parsing.py`` writes the
views as a celebamask19-layout folder the parsing recipe reads as one more human-labelled set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facehub.train.data.profiling import profile_face
from facehub.train.reconstruction.profiled import PoseRange, target_rotation

PROFILED_PREFIX = "profiled_"  # the dataset name of a set's profiled views: profiled_<set>


@dataclass
class ProfiledParsingView:
    """image: (H, W, 3) uint8; label: (H, W) uint8 class indices of the source's label set (the source's
    size); rotation: the (yaw, pitch, roll) degrees added to the source's head pose."""

    image: np.ndarray
    label: np.ndarray
    rotation: tuple[float, float, float]


def is_profiled(dataset: str) -> bool:
    """Whether ``dataset`` names profiled views (``profiled_<set>``)."""
    return dataset.startswith(PROFILED_PREFIX)


def profiled_view(image: np.ndarray, label: np.ndarray, mesh468: np.ndarray, rng: np.random.Generator,
                  poses: PoseRange = PoseRange()) -> ProfiledParsingView:
    """Turn the face of ``image`` (H, W, 3) uint8 with its ``label`` (H, W) uint8 (any size: resized to the
    image's with nearest neighbour) to a pose drawn from ``poses``; ``mesh468`` (468, 3) pixels of ``image``
    (the MediaPipe teacher's, z smaller = nearer). Raises ``ValueError`` for a mesh profiling cannot use."""
    if label.shape != image.shape[:2]:
        rows = (np.arange(image.shape[0]) * label.shape[0] // image.shape[0])[:, None]
        cols = (np.arange(image.shape[1]) * label.shape[1] // image.shape[1])[None, :]
        label = label[rows, cols]
    mesh = np.asarray(mesh468, dtype=np.float64)
    rotation = target_rotation(mesh, poses, rng)
    turned = profile_face(image, mesh, rotation, label_map=np.ascontiguousarray(label))
    return ProfiledParsingView(turned.image, turned.label_map, turned.rotation)
