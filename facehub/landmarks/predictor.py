"""Facial landmarks: ``facehub.load("pipnet")(image) -> LandmarksResult``.

Every detected face is aligned from the detector's five points to the model's crop
(``CropSpec`` from the checkpoint config; ``predictor(image, faces=...)`` takes the
caller's faces instead of detecting them), the model predicts points in crop
pixels, and they are mapped back to the photo. With ``refine_passes >= 1``
(config key or constructor argument) the crop is re-aligned from the five
points derived from the first prediction and the model is run again; with ``refine_min_shift`` > 0
(config key or argument) only on the faces whose re-aligned crop would move by more than that share of
the crop's side (``facehub.geometry.align.crop_shift``): the turned faces whose detector points misplace the crop, while
frontal faces keep one pass and its cost. ``profile_jaw`` (config key; ``profile_jaw=False`` turns it off): on a
face turned past its ``from_yaw``, the 68-point jaw's far side follows the 3D jaw as AFLW2000-3D draws it, not the
cheek's visible outline as 300-W does (``facehub.geometry.profile_jaw``). ``flip_test`` averages every pass with
the mirrored crop's points; ``flip_below_yaw`` (degrees) only the last pass of the faces whose points read under
that yaw (closed-form fit, ``yaw_from_68(..., iterations=0)``), at one more network pass for those faces.
"""

from __future__ import annotations

import numpy as np
import torch

from facehub.geometry.align import crop_shift, invert_affine, transform_points
from facehub.geometry.five_points import five_points_from_68
from facehub.geometry.landmarks68 import flip_index, to_68
from facehub.geometry.profile_jaw import ProfileJaw, hide_far_jaw, yaw_from_68
from facehub.image import ImageInput
from facehub.landmarks.result import LandmarksResult
from facehub.predictor import FacesInput, Predictor


class LandmarkPredictor(Predictor):
    """Detect faces (or take the caller's), align each one and locate its landmarks: ``__call__`` -> ``LandmarksResult``."""

    task = "landmarks"

    def __init__(
        self, loaded, detector=None, device=None, refine_passes: int | None = None, flip_test: bool | None = None,
        refine_min_shift: float | None = None, profile_jaw: bool | None = None, flip_below_yaw: float | None = None,
    ) -> None:
        super().__init__(loaded, detector=detector, device=device)
        self.model.to(memory_format=torch.channels_last)  # see predict_crops
        self.refine_passes = int(self.config.get("refine_passes", 0) if refine_passes is None else refine_passes)
        self.refine_min_shift = float(self.config.get("refine_min_shift", 0.0) if refine_min_shift is None else refine_min_shift)
        self.flip_test = bool(self.config.get("flip_test", False) if flip_test is None else flip_test)
        # the mirrored crop averaged in on the last pass only for faces whose points read |yaw| below this (degrees)
        below = self.config.get("flip_below_yaw") if flip_below_yaw is None else flip_below_yaw
        self.flip_below_yaw = None if below is None else float(below)
        jaw = ProfileJaw.from_config(self.config) if profile_jaw is not False else None
        self.profile_jaw = jaw if getattr(self.model, "num_points", 68) == 68 else None

    @torch.inference_mode()
    def predict_crops(self, crops: torch.Tensor) -> np.ndarray:
        """(F, 3, s, s) normalised crops -> (F, N, 2) crop pixels; with ``flip_test``, averaged with the mirror's.
        The model runs on channels-last tensors (PIPNet about a fifth faster on the CPU, outputs within 2e-6)."""
        n = getattr(self.model, "num_points", 68)
        if len(crops) == 0:
            return np.zeros((0, n, 2))
        points = self._run(torch.cat([crops, crops.flip(-1)]) if self.flip_test else crops)
        if not self.flip_test:
            return points
        return (points[: len(crops)] + self._unmirror(points[len(crops):], crops.shape[-1])) / 2

    @torch.inference_mode()
    def _run(self, crops: torch.Tensor) -> np.ndarray:
        """(F, 3, s, s) normalised crops -> the model's (F, N, 2) crop pixels, float64."""
        batch = crops.to(self.device).contiguous(memory_format=torch.channels_last)
        return self.model.decode_outputs(self.forward(batch)).float().cpu().numpy().astype(np.float64)

    @staticmethod
    def _unmirror(points: np.ndarray, size: int) -> np.ndarray:
        """(F, N, 2) points read on mirrored (F, 3, size, size) crops -> the same points on the crops themselves."""
        points = points[:, flip_index(points.shape[1])]
        points[..., 0] = size - 1 - points[..., 0]
        return points

    def locate(self, image: np.ndarray, points5: np.ndarray) -> tuple[np.ndarray, torch.Tensor, np.ndarray, np.ndarray]:
        """Points for faces given by their five points (F, 5, 2) in ``image`` (H, W, 3) uint8.

        Returns photo points (F, N, 2), crop pixels (F, 3, s, s) in [0, 1], crop points (F, N, 2)
        and matrices (F, 2, 3) image -> crop, all of the last pass.
        """
        return self._passes(image, *self.crop(image, points5))

    def _passes(
        self, image: np.ndarray, pixels: torch.Tensor, crops: torch.Tensor, matrices: np.ndarray
    ) -> tuple[np.ndarray, torch.Tensor, np.ndarray, np.ndarray]:
        """The model on the first crops, then up to ``refine_passes`` times on crops re-aligned from its own
        points (each pass only for the faces whose crop moves by more than ``refine_min_shift``)."""
        if len(crops) == 0:
            n = getattr(self.model, "num_points", 68)
            return np.zeros((0, n, 2)), pixels, np.zeros((0, n, 2)), matrices
        crop_points = self.predict_crops(crops)
        points = np.stack([transform_points(p, invert_affine(m)) for p, m in zip(crop_points, matrices)])
        pixels, crops, matrices = pixels.clone(), crops.clone(), matrices.copy()
        for _ in range(self.refine_passes):
            five = np.stack([five_points_from_68(to_68(p)) for p in points])
            redo = np.flatnonzero(crop_shift(matrices, five, self.crop_spec) > self.refine_min_shift)
            if len(redo) == 0:
                break
            pixels[redo], crops[redo], matrices[redo] = self.crop(image, five[redo])
            crop_points[redo] = self.predict_crops(crops[redo])
            points[redo] = np.stack([transform_points(crop_points[i], invert_affine(matrices[i])) for i in redo])
        if self.flip_below_yaw is not None and not self.flip_test and points.shape[1] == 68:
            near = np.array([i for i, p in enumerate(points) if abs(yaw_from_68(p, iterations=0)) < self.flip_below_yaw], dtype=np.int64)
            if len(near):
                mirrored = self._unmirror(self._run(crops[near].flip(-1)), crops.shape[-1])
                crop_points[near] = (crop_points[near] + mirrored) / 2
                points[near] = np.stack([transform_points(crop_points[i], invert_affine(matrices[i])) for i in near])
        if self.profile_jaw is not None:
            points = np.stack([hide_far_jaw(p, self.profile_jaw) for p in points])
            crop_points = np.stack([transform_points(p, m) for p, m in zip(points, matrices)])
        return points, pixels, crop_points, matrices

    def __call__(self, source: ImageInput, faces: FacesInput | None = None) -> LandmarksResult:
        """Landmarks of every face in ``source`` (path, bytes, PIL or (H, W, 3) array), or of the given ``faces``."""
        prepared = self.prepare(source, faces)
        points, pixels, crop_points, _ = self._passes(prepared.image, prepared.pixels, prepared.crops, prepared.matrices)
        crops = (pixels.permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
        return LandmarksResult(image=prepared.image, faces=prepared.faces, points=points, crops=crops,
                               crop_points=crop_points, model=self.name)
