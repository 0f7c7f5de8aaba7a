"""Augmentation for face-parsing training: aligned crops with pose jitter, flips with a
left/right class swap, colour, blur and low-resolution simulation, and lips recoloured
(``recolour_lips``: dark lipstick and dark lips are lips, not an open mouth).

Everything works on numpy: image (H, W, 3) uint8 RGB, label (H, W) uint8 (255 = ignore).
Crops use the same ``facehub.geometry.align`` matrices as inference (five points ->
``CropSpec``), then a random similarity about the crop centre, so a training
crop is an inference crop of a slightly different detection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from facehub.geometry.align import CropSpec, alignment_matrix
from facehub.parsing.labels import IGNORE


@dataclass
class ParsingAugment:
    """Ranges of the random transforms (degrees, scale factors, crop fractions, probabilities)."""

    rotate: float = 30.0  # uniform +-rotate; with probability big_rotate_p up to +-big_rotate
    big_rotate: float = 50.0
    big_rotate_p: float = 0.15
    scale: tuple[float, float] = (0.8, 1.25)
    shift: float = 0.06
    flip_p: float = 0.5
    colour_p: float = 0.8
    gray_p: float = 0.05
    blur_p: float = 0.15
    lowres_p: float = 0.2
    point_noise: float = 0.03  # per-point jitter of the five points, in inter-ocular units
    lip_colour_p: float = 0.0  # probability of recolouring the labelled lips (``recolour_lips``)


def jitter_matrix(size: int, rng: np.random.Generator, config: ParsingAugment) -> np.ndarray:
    """A random 2x3 similarity about the crop centre (crop px -> crop px)."""
    limit = config.big_rotate if rng.random() < config.big_rotate_p else config.rotate
    angle = math.radians(rng.uniform(-limit, limit))
    scale = math.exp(rng.uniform(math.log(config.scale[0]), math.log(config.scale[1])))
    shift = rng.uniform(-config.shift, config.shift, size=2) * size
    centre = np.array([(size - 1) / 2.0, (size - 1) / 2.0])
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return np.hstack([rotation, (centre + shift - rotation @ centre)[:, None]])


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 matrix of ``outer`` after ``inner``."""
    return (np.vstack([outer, [0, 0, 1]]) @ np.vstack([inner, [0, 0, 1]]))[:2]


def aligned_pair(
    image: np.ndarray, label: np.ndarray, points5: np.ndarray, spec: CropSpec,
    rng: np.random.Generator | None = None, config: ParsingAugment | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut the aligned crop (size x size) of image and label; random pose jitter when ``rng`` is given.

    Outside the photo the label is background when the photo's own border is background there, else ignore.
    """
    points = np.asarray(points5, dtype=np.float64)
    if rng is not None:
        config = config or ParsingAugment()
        eye_distance = np.linalg.norm(points[1] - points[0])
        points = points + rng.normal(0, config.point_noise * eye_distance, size=points.shape)
    matrix = alignment_matrix(points, spec)
    if rng is not None:
        matrix = compose(jitter_matrix(spec.size, rng, config), matrix)
    size = (spec.size, spec.size)
    crop = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    crop_label = cv2.warpAffine(label, matrix, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=IGNORE)
    return crop, crop_label


def flip(image: np.ndarray, label: np.ndarray, permutation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal flip; ``permutation`` (C,) swaps left/right classes (ignore stays ignore)."""
    table = np.arange(256, dtype=np.uint8)
    table[: len(permutation)] = permutation
    return np.ascontiguousarray(image[:, ::-1]), table[label[:, ::-1]]


def photometric(image: np.ndarray, rng: np.random.Generator, config: ParsingAugment) -> np.ndarray:
    """Colour jitter (brightness, contrast, saturation, per-channel gain), grey, blur, low resolution."""
    out = image.astype(np.float32)
    if rng.random() < config.colour_p:
        out = out * rng.uniform(0.6, 1.4) + rng.uniform(-30, 30)
        mean = out.mean()
        out = (out - mean) * rng.uniform(0.6, 1.4) + mean
        grey = out.mean(2, keepdims=True)
        out = (out - grey) * rng.uniform(0.5, 1.5) + grey
        out = out * rng.uniform(0.88, 1.12, size=3)
    if rng.random() < config.gray_p:
        out = np.repeat(out.mean(2, keepdims=True), 3, axis=2)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < config.blur_p:
        kernel = int(rng.choice([3, 5]))
        out = cv2.GaussianBlur(out, (kernel, kernel), 0)
    if rng.random() < config.lowres_p:
        size = out.shape[0]
        small = max(24, int(size * rng.uniform(0.25, 0.6)))
        out = cv2.resize(cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA), (size, size), interpolation=cv2.INTER_LINEAR)
    return out


LIP_NAMES = ("u_lip", "l_lip", "upper_lip", "lower_lip")  # CelebAMask-HQ's and LaPa's spelling


def lip_classes(labels) -> tuple[int, ...]:
    """The class indices of the lips in ``labels`` (a ``LabelSet``): what ``recolour_lips`` and ``scale_lips`` take."""
    return tuple(i for i, name in enumerate(labels.names) if name in LIP_NAMES)


def recolour_lips(image: np.ndarray, label: np.ndarray, lips: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """The pixels ``label`` calls one of ``lips`` (class indices) in another lip colour: brightness x 0.3-1.1 and a
    per-channel gain of 0.7-1.3 (plum, brown, red, nude); see ``scale_lips``."""
    return scale_lips(image, label, lips, rng.uniform(0.3, 1.1) * rng.uniform(0.7, 1.3, size=3))


def scale_lips(image: np.ndarray, label: np.ndarray, lips: tuple[int, ...], gain) -> np.ndarray:
    """``image`` (H, W, 3) uint8 with the pixels ``label`` (H, W) calls one of ``lips`` multiplied by ``gain`` (a
    number or (3,) per channel), blended in through the lip mask blurred by about 1 px so the lips' outline stays
    the photo's. Returns (H, W, 3) uint8; the label does not change."""
    mask = np.isin(label, lips).astype(np.float32)
    if not mask.any():
        return image
    mask = cv2.GaussianBlur(mask, (5, 5), 1.0)[..., None]
    recoloured = np.clip(image.astype(np.float32) * np.asarray(gain, np.float32), 0, 255)
    return (image * (1 - mask) + recoloured * mask).round().astype(np.uint8)


def augment(
    image: np.ndarray, label: np.ndarray, points5: np.ndarray, spec: CropSpec, permutation: np.ndarray,
    rng: np.random.Generator, config: ParsingAugment | None = None, lips: tuple[int, ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """One training sample: jittered aligned crop, maybe flipped, maybe its ``lips`` (class indices) recoloured,
    photometric noise.

    Returns image (s, s, 3) uint8 and label (s, s) uint8.
    """
    config = config or ParsingAugment()
    crop, crop_label = aligned_pair(image, label, points5, spec, rng, config)
    if rng.random() < config.flip_p:
        crop, crop_label = flip(crop, crop_label, permutation)
    if lips and config.lip_colour_p > 0 and rng.random() < config.lip_colour_p:  # p = 0 draws nothing: old runs replay
        crop = recolour_lips(crop, crop_label, lips, rng)
    return photometric(crop, rng, config), crop_label
