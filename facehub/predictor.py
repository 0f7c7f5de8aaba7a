"""The front every task shares: load the image, detect, align, normalise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from facehub.detection.result import Face
from facehub.device import resolve_device
from facehub.geometry.align import CropSpec, crop_faces
from facehub.hub import LoadedModel, load_model
from facehub.image import ImageInput, load_image
from facehub.nn.fuse import fuse_batchnorm


@dataclass
class PreparedFaces:
    """A photo, its faces and their aligned, normalised crops.

    image: (H, W, 3) uint8 RGB; crops: (F, 3, s, s) float, normalised with the
    model's mean/std; matrices: (F, 2, 3) image px -> crop px.
    """

    image: np.ndarray
    faces: list[Face]
    crops: torch.Tensor
    matrices: np.ndarray


class Predictor:
    """Base of every task predictor: a loaded model plus the shared face detector."""

    task = ""

    def __init__(self, loaded: LoadedModel, detector=None, device: torch.device | str | None = None):
        self.loaded = loaded
        self.model = loaded.model
        self.config = loaded.config
        self.device = resolve_device(str(device) if device is not None else None)
        self.model.to(self.device)
        fuse_batchnorm(self.model.eval())  # idempotent: a second predictor on the same model finds nothing to fold
        self.crop_spec = CropSpec.from_config(self.config)
        if detector is None:
            from facehub.detection.detector import FaceDetector

            detector = FaceDetector.from_pretrained(device=self.device)
        self.detector = detector
        self.mean = torch.tensor(self.config.get("mean", [0.5, 0.5, 0.5])).view(1, 3, 1, 1)
        self.std = torch.tensor(self.config.get("std", [0.5, 0.5, 0.5])).view(1, 3, 1, 1)

    @classmethod
    def from_pretrained(cls, name: str, device: torch.device | str | None = None, detector=None):
        device = resolve_device(str(device) if device is not None else None)
        return cls(load_model(name, device), detector=detector, device=device)

    @property
    def name(self) -> str:
        return self.loaded.name

    def prepare(self, source: ImageInput) -> PreparedFaces:
        """Load ``source``, detect every face and cut its aligned crop."""
        image = source if isinstance(source, np.ndarray) and source.dtype == np.uint8 and source.ndim == 3 else load_image(source)
        faces = self.detector(image).faces
        points = np.stack([face.points for face in faces]) if faces else np.zeros((0, 5, 2))
        crops, matrices = crop_faces(image, points, self.crop_spec)
        crops = (crops - self.mean) / self.std
        return PreparedFaces(image=image, faces=faces, crops=crops, matrices=matrices)
