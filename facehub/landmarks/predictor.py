"""Facial landmarks: ``facehub.load("pipnet")(image) -> LandmarksResult``.

Every detected face is aligned from MTCNN's five points to the model's crop
(``CropSpec`` from the checkpoint config), the model predicts points in crop
pixels, and they are mapped back to the photo. With ``refine_passes >= 1``
(config key or constructor argument) the crop is re-aligned from the five
points derived from the first prediction and the model is run again.
"""

from __future__ import annotations

import numpy as np
import torch

from facehub.geometry.align import (
    alignment_matrix,
    five_points_from_68,
    invert_affine,
    transform_points,
    warp_affine,
)
from facehub.geometry.landmarks68 import flip_index, to_68
from facehub.image import ImageInput, load_image
from facehub.landmarks.result import LandmarksResult
from facehub.predictor import Predictor


class LandmarkPredictor(Predictor):
    """Detect faces, align each one and locate its landmarks; ``__call__`` returns a ``LandmarksResult``."""

    task = "landmarks"

    def __init__(
        self, loaded, detector=None, device=None, refine_passes: int | None = None, flip_test: bool | None = None
    ) -> None:
        super().__init__(loaded, detector=detector, device=device)
        self.refine_passes = int(self.config.get("refine_passes", 0) if refine_passes is None else refine_passes)
        self.flip_test = bool(self.config.get("flip_test", False) if flip_test is None else flip_test)

    @classmethod
    def from_pretrained(
        cls, name: str, device=None, detector=None, refine_passes: int | None = None, flip_test: bool | None = None
    ):
        from facehub.device import resolve_device
        from facehub.hub import load_model

        device = resolve_device(str(device) if device is not None else None)
        return cls(load_model(name, device), detector=detector, device=device, refine_passes=refine_passes, flip_test=flip_test)

    @torch.inference_mode()
    def predict_crops(self, crops: torch.Tensor) -> np.ndarray:
        """(F, 3, s, s) normalised crops -> (F, N, 2) crop pixels; with ``flip_test``, averaged with the mirror's."""
        n = getattr(self.model, "num_points", 68)
        if len(crops) == 0:
            return np.zeros((0, n, 2))
        batch = torch.cat([crops, crops.flip(-1)]) if self.flip_test else crops
        points = self.model.predict(batch.to(self.device)).float().cpu().numpy().astype(np.float64)
        if not self.flip_test:
            return points
        mirrored = points[len(crops):, flip_index(n)]
        mirrored[..., 0] = crops.shape[-1] - 1 - mirrored[..., 0]
        return (points[: len(crops)] + mirrored) / 2

    def _crops(self, pixels: torch.Tensor, points5: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """Crops of ``pixels`` (1, 3, H, W) in [0, 1] for faces ``points5`` (F, 5, 2): raw, normalised, matrices."""
        matrices = np.stack([alignment_matrix(p, self.crop_spec) for p in points5])
        size = self.crop_spec.size
        raw = warp_affine(pixels, matrices, (size, size)).clamp(0, 1)
        return raw, (raw - self.mean) / self.std, matrices

    def locate(self, image: np.ndarray, points5: np.ndarray) -> tuple[np.ndarray, torch.Tensor, np.ndarray, np.ndarray]:
        """Points for faces given by their five points (F, 5, 2) in ``image`` (H, W, 3) uint8.

        Returns photo points (F, N, 2), raw crops (F, 3, s, s) in [0, 1], crop points (F, N, 2)
        and matrices (F, 2, 3) image -> crop, all of the last pass.
        """
        n, size = getattr(self.model, "num_points", 68), self.crop_spec.size
        if len(points5) == 0:
            return np.zeros((0, n, 2)), torch.zeros(0, 3, size, size), np.zeros((0, n, 2)), np.zeros((0, 2, 3))
        pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
        for index in range(1 + self.refine_passes):
            if index:
                points5 = np.stack([five_points_from_68(to_68(p)) for p in points])
            raw, crops, matrices = self._crops(pixels, points5)
            crop_points = self.predict_crops(crops)
            points = np.stack([transform_points(p, invert_affine(m)) for p, m in zip(crop_points, matrices)])
        return points, raw, crop_points, matrices

    def __call__(self, source: ImageInput) -> LandmarksResult:
        """Landmarks of every face in ``source`` (path, bytes, PIL or (H, W, 3) array)."""
        image = source if isinstance(source, np.ndarray) and source.dtype == np.uint8 and source.ndim == 3 else load_image(source)
        faces = self.detector(image).faces
        points5 = np.stack([f.points for f in faces]) if faces else np.zeros((0, 5, 2))
        points, raw, crop_points, _ = self.locate(image, points5)
        crops = (raw.permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
        return LandmarksResult(image=image, faces=faces, points=points, crops=crops, crop_points=crop_points, model=self.name)
