"""Training crops for landmark models.

A crop is cut the way inference cuts it: the five points of the face (here
``five_points_from_68`` of the ground truth, perturbed like a detector's) are
aligned to ``CropSpec``'s template; then a random similarity (rotation,
scale, shift), a mirror with point-index swap, colour, blur and occlusion
are applied. Pixel-centre convention throughout (pixel ``i`` is at ``i``),
as in ``facehub.geometry.align``; ``cv2.warpAffine`` follows it too.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facehub.geometry.align import (
    CropSpec,
    alignment_matrix,
    transform_points,
)
from facehub.geometry.five_points import five_points_from_68
from facehub.geometry.landmarks68 import flip_index, to_68


@dataclass
class LandmarkAugment:
    """Strength of each augmentation; ``LandmarkAugment.none()`` gives the plain inference crop."""

    point_noise: float = 0.05  # std of the 5-point jitter, in inter-eye distances
    rotate_prob: float = 0.5
    max_rotation: float = 30.0  # degrees, uniform when applied; else +-5
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.05  # fraction of the crop size
    flip_prob: float = 0.5
    colour_prob: float = 0.8
    gray_prob: float = 0.05
    blur_prob: float = 0.25
    occlude_prob: float = 0.3

    @classmethod
    def none(cls) -> LandmarkAugment:
        return cls(0.0, 0.0, 0.0, (1.0, 1.0), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def _jitter_matrix(spec: CropSpec, cfg: LandmarkAugment, rng: np.random.Generator) -> np.ndarray:
    """A random 3x3 similarity about the crop centre (crop px -> crop px)."""
    if rng.random() < cfg.rotate_prob:
        angle = rng.uniform(-cfg.max_rotation, cfg.max_rotation)
    else:
        angle = rng.uniform(-5.0, 5.0) if cfg.max_rotation > 0 else 0.0
    scale = rng.uniform(*cfg.scale)
    centre = (spec.size - 1) / 2.0
    shift = rng.uniform(-cfg.shift, cfg.shift, size=2) * spec.size
    m = cv2.getRotationMatrix2D((centre, centre), angle, scale)
    m[:, 2] += shift
    return np.vstack([m, [0.0, 0.0, 1.0]])


def crop_matrix(
    points: np.ndarray, spec: CropSpec, cfg: LandmarkAugment, rng: np.random.Generator
) -> np.ndarray:
    """2x3 image -> crop matrix for a face with ground-truth ``points`` (68 or 98, 2), detector-like noise included."""
    five = five_points_from_68(to_68(points))
    if cfg.point_noise > 0:
        eye_distance = np.linalg.norm(five[1] - five[0])
        five = five + rng.normal(0.0, cfg.point_noise * eye_distance, size=five.shape)
    base = np.vstack([alignment_matrix(five, spec), [0.0, 0.0, 1.0]])
    return (_jitter_matrix(spec, cfg, rng) @ base)[:2]


def _colour(crop: np.ndarray, cfg: LandmarkAugment, rng: np.random.Generator) -> np.ndarray:
    out = crop.astype(np.float32)
    if rng.random() < cfg.colour_prob:
        out = out * rng.uniform(0.6, 1.4) + rng.uniform(-30, 30)  # contrast, brightness
        gray = out.mean(axis=2, keepdims=True)
        out = gray + (out - gray) * rng.uniform(0.5, 1.5)  # saturation
        out = out * rng.uniform(0.9, 1.1, size=(1, 1, 3))  # white balance
    if rng.random() < cfg.gray_prob:
        out = np.repeat(out.mean(axis=2, keepdims=True), 3, axis=2)
    return np.clip(out, 0, 255).astype(np.uint8)


def _blur(crop: np.ndarray, cfg: LandmarkAugment, rng: np.random.Generator) -> np.ndarray:
    if rng.random() >= cfg.blur_prob:
        return crop
    size = crop.shape[0]
    if rng.random() < 0.5:
        return cv2.GaussianBlur(crop, (0, 0), rng.uniform(0.5, 1.8))
    small = max(16, int(size * rng.uniform(0.3, 0.7)))
    down = cv2.resize(crop, (small, small), interpolation=cv2.INTER_AREA)
    return cv2.resize(down, (size, size), interpolation=cv2.INTER_LINEAR)


def _occlude(crop: np.ndarray, cfg: LandmarkAugment, rng: np.random.Generator) -> np.ndarray:
    if rng.random() >= cfg.occlude_prob:
        return crop
    size = crop.shape[0]
    h, w = (rng.uniform(0.15, 0.4, size=2) * size).astype(int)
    y, x = rng.integers(0, size - h), rng.integers(0, size - w)
    crop = crop.copy()
    if rng.random() < 0.5:
        crop[y : y + h, x : x + w] = rng.integers(0, 256, size=3)
    else:
        crop[y : y + h, x : x + w] = rng.integers(0, 256, size=(h, w, 3))
    return crop


def make_crop(
    image: np.ndarray, points: np.ndarray, spec: CropSpec, cfg: LandmarkAugment, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut one augmented training crop.

    image: (H, W, 3) uint8 RGB; points: (N, 2) pixels, N in {68, 98}.
    Returns crop (s, s, 3) uint8, crop points (N, 2) float in crop pixels, and the
    2x3 image -> crop matrix (before any mirror).
    """
    matrix = crop_matrix(points, spec, cfg, rng)
    crop = cv2.warpAffine(
        image, matrix, (spec.size, spec.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    crop_points = transform_points(points, matrix)
    if rng.random() < cfg.flip_prob:
        crop = np.ascontiguousarray(crop[:, ::-1])
        crop_points = crop_points.copy()
        crop_points[:, 0] = spec.size - 1 - crop_points[:, 0]
        crop_points = crop_points[flip_index(len(crop_points))]
    crop = _occlude(_blur(_colour(crop, cfg, rng), cfg, rng), cfg, rng)
    return crop, crop_points, matrix
