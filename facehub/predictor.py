"""The front every task shares: load the image, take or detect the faces, align, normalise.

Every predictor is ``predictor(image, faces=None)``. ``faces`` skips detection; it may be

* ``Face`` objects (one or a list) or a ``DetectionResult`` (what ``facehub.load("mtcnn")`` returns);
* five points: an array (F, 5, 2) or (5, 2) in MTCNN's order (eye centres, nose tip, mouth corners,
  image left first), in the photo's pixels;
* boxes: an array (F, 4) or (4,) ``x0, y0, x1, y1``; their five points are estimated from the box
  (``facehub.geometry.five_points.BOX_TEMPLATE_5``).

``as_faces`` turns any of these into ``Face`` objects; faces the caller gives have score 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from facehub.detection import load_detector
from facehub.detection.result import DetectionResult, Face
from facehub.device import resolve_device
from facehub.geometry.align import CropSpec, crop_faces
from facehub.geometry.five_points import box_from_five_points, five_points_from_box
from facehub.hub import LoadedModel, load_model
from facehub.image import ImageInput, as_rgb_array
from facehub.nn.frozen import FrozenModule
from facehub.nn.fuse import fuse_batchnorm

FacesInput = DetectionResult | Face | Sequence[Face] | np.ndarray  # or nested lists of numbers


def as_faces(faces: FacesInput) -> list[Face]:
    """Faces given by the caller (see the module docstring for the forms) -> ``Face`` objects.

    An empty list or array means "no face". Raises ``ValueError`` for any other shape.
    """
    if isinstance(faces, DetectionResult):
        return list(faces.faces)
    if isinstance(faces, Face):
        return [faces]
    if isinstance(faces, Sequence) and all(isinstance(face, Face) for face in faces):
        return list(faces)  # also the empty list
    array = np.array(faces, dtype=np.float64)  # a copy: the faces do not share the caller's memory
    if array.size == 0:
        return []
    if array.shape in ((4,), (5, 2)):
        array = array[None]
    if array.ndim == 2 and array.shape[1] == 4:
        return [Face(box=box, score=1.0, points=points) for box, points in zip(array, five_points_from_box(array))]
    if array.ndim == 3 and array.shape[1:] == (5, 2):
        return [Face(box=box, score=1.0, points=points) for box, points in zip(box_from_five_points(array), array)]
    raise ValueError(
        f"faces must be Face objects, a DetectionResult, boxes (F, 4) x0, y0, x1, y1 or five points (F, 5, 2); "
        f"got an array of shape {array.shape}."
    )


def face_points(faces: list[Face]) -> np.ndarray:
    """The five points of ``faces`` stacked: (F, 5, 2) (F may be 0)."""
    return np.stack([face.points for face in faces]) if faces else np.zeros((0, 5, 2))


@dataclass
class PreparedFaces:
    """A photo, its faces and their aligned crops.

    image: (H, W, 3) uint8 RGB; pixels: (F, 3, s, s) float crops in [0, 1]; crops: the same normalised
    with the model's mean/std; matrices: (F, 2, 3) image px -> crop px.
    """

    image: np.ndarray
    faces: list[Face]
    pixels: torch.Tensor
    crops: torch.Tensor
    matrices: np.ndarray


class Predictor:
    """Base of every task predictor: a loaded model, its crop, and the face detector (loaded when first needed)."""

    task = ""

    def __init__(self, loaded: LoadedModel, detector=None, device: torch.device | str | None = None):
        self.loaded = loaded
        self.model = loaded.model
        self.config = loaded.config
        self.device = resolve_device(str(device) if device is not None else None)
        self.model.to(self.device)
        fuse_batchnorm(self.model.eval())  # idempotent: a second predictor on the same model finds nothing to fold
        self.forward = FrozenModule(self.model)  # the model's forward; on the CPU a frozen trace from the second call
        self.crop_spec = CropSpec.from_config(self.config)
        self._detector = detector
        self.mean = torch.tensor(self.config.get("mean", [0.5, 0.5, 0.5])).view(1, 3, 1, 1)
        self.std = torch.tensor(self.config.get("std", [0.5, 0.5, 0.5])).view(1, 3, 1, 1)

    @classmethod
    def from_pretrained(cls, name: str, device: torch.device | str | None = None, detector=None, **options):
        """Load checkpoint ``name``; ``options`` are the subclass's own constructor arguments."""
        device = resolve_device(str(device) if device is not None else None)
        return cls(load_model(name, device), detector=detector, device=device, **options)

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def detector(self):
        """The face detector, ``detector(image) -> DetectionResult`` (the default detector unless one was given; loaded on first use)."""
        if self._detector is None or isinstance(self._detector, str):
            self._detector = load_detector(self._detector, device=self.device)
        return self._detector

    def crop(self, image: np.ndarray, points5: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """Aligned crops of the faces with five points ``points5`` (F, 5, 2) in ``image`` (H, W, 3) uint8.

        Returns pixels (F, 3, s, s) in [0, 1], the same normalised, and matrices (F, 2, 3) image -> crop.
        """
        pixels, matrices = crop_faces(image, points5, self.crop_spec)
        return pixels, (pixels - self.mean) / self.std, matrices

    def prepare(self, source: ImageInput, faces: FacesInput | None = None) -> PreparedFaces:
        """Load ``source``, take ``faces`` (or detect every face) and cut their aligned crops."""
        image = as_rgb_array(source)
        found = self.detector(image).faces if faces is None else as_faces(faces)
        pixels, crops, matrices = self.crop(image, face_points(found))
        return PreparedFaces(image=image, faces=found, pixels=pixels, crops=crops, matrices=matrices)
