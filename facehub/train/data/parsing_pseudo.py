"""Parsing pseudo-labels from the MediaPipe teacher plus real hair masks.

Label set: ``facehub.parsing.labels.FACEHUB`` (LaPa's 11 + l_ear, r_ear, neck, cloth);
255 (``IGNORE``) where no source knows the truth.

* Face regions come from the teacher's 468 points: every triangle of the
  canonical mesh (``mediapipe_face_geometry``) is given a region once (by its
  centroid in the canonical frame: brow, nose, lip polygons), the eye and inner
  mouth holes are closed with fans, and each triangle is filled on its own,
  far to near (painter's order on the teacher's z), so folded triangles on
  turned faces do not XOR and the nose hides the far cheek.
* Hair comes from real masks only; images without one get IGNORE for anything
  outside the face that is neither confident background nor labelled below.
* Forehead above the mesh, ears beside it and the neck below it are labelled
  only where the person mask says "person", the hair mask (if any) says "not
  hair" and the colour matches the face's own skin (Mahalanobis distance in
  CrCb); clothing is person, non-skin, well below the chin, in images with a
  hair mask. Everything uncertain is IGNORE.
"""

from __future__ import annotations

import json
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from facehub.geometry.five_points import (
    MESH_LEFT_EYE,
    MESH_RIGHT_EYE,
    MTCNN_OFFSET_468,
    five_points_from_468,
)
from facehub.parsing.labels import FACEHUB, IGNORE
from facehub.train.data import data_root

C = {name: i for i, name in enumerate(FACEHUB.names)}
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
LEFT_EYE, RIGHT_EYE = MESH_LEFT_EYE, MESH_RIGHT_EYE  # subject's left, right
LEFT_BROW = [276, 283, 282, 295, 285, 336, 296, 334, 293, 300]
RIGHT_BROW = [46, 53, 52, 65, 55, 107, 66, 105, 63, 70]
LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185]
LIPS_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191]
NOSE_ALAE = [4, 45, 220, 115, 48, 64, 98, 97, 2, 326, 327, 294, 278, 344, 440, 275]
LEFT_EAR_BAND = [389, 356, 454, 323, 361]  # oval points beside the subject's left ear
RIGHT_EAR_BAND = [162, 127, 234, 93, 132]
JAW = [132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361]
FOREHEAD = [54, 103, 67, 109, 10, 338, 297, 332, 284]
# (468, >=2) teacher points -> (5, 2) MTCNN-like points: straight from the mesh, moved by MTCNN's measured offset.
five_points_from_mesh = partial(five_points_from_468, via="mesh", offset=MTCNN_OFFSET_468)


def _inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test: points (N, 2), polygon (M, 2) -> (N,) bool."""
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = polygon[:, 0][None], polygon[:, 1][None]
    x1, y1 = np.roll(polygon[:, 0], -1)[None], np.roll(polygon[:, 1], -1)[None]
    crosses = ((y0 > y) != (y1 > y)) & (x < (x1 - x0) * (y - y0) / np.where(y1 == y0, 1e-9, y1 - y0) + x0)
    return crosses.sum(1) % 2 == 1


@lru_cache(maxsize=1)
def mesh_regions() -> tuple[np.ndarray, np.ndarray]:
    """Triangles (T, 3) int and their class (T,) uint8, holes closed with fans (index 468+k = a hole centre).

    Hole centres: 468 = left eye, 469 = right eye, 470 = inner mouth (mean of their rings).
    """
    mesh = json.loads((data_root() / "mediapipe_face_geometry" / "canonical_face_mesh.json").read_text())
    vertices = np.array(mesh["vertices"], dtype=np.float64)[:, :2]
    triangles = np.array(mesh["triangles"], dtype=np.int64)
    centroids = vertices[triangles].mean(1)
    classes = np.full(len(triangles), C["skin"], dtype=np.uint8)
    half = np.array([[0.6, 3.35], [0.8, 1.6], [1.25, 0.3], [1.5, -0.3], [1.9, -0.95], [1.7, -1.4], [0.6, -1.55]])
    nose_poly = np.vstack([half, (half * [-1.0, 1.0])[::-1]])  # canonical nose outline, x mirrored
    rules = [
        (_inside(centroids, nose_poly), C["nose"]),
        (_inside(centroids, vertices[LEFT_BROW]), C["left_eyebrow"]),
        (_inside(centroids, vertices[RIGHT_BROW]), C["right_eyebrow"]),
        (_inside(centroids, vertices[LIPS_OUTER]) & ~_inside(centroids, vertices[LIPS_INNER]), -1),
        (_inside(centroids, vertices[LIPS_INNER]), C["inner_mouth"]),
        (_inside(centroids, vertices[LEFT_EYE]), C["left_eye"]),
        (_inside(centroids, vertices[RIGHT_EYE]), C["right_eye"]),
    ]
    mouth_y = vertices[[61, 291], 1].mean()
    for mask, label in rules:
        if label == -1:
            classes[mask] = np.where(centroids[mask, 1] > mouth_y, C["upper_lip"], C["lower_lip"])
        else:
            classes[mask] = label
    fans, fan_classes = [], []
    for centre, ring, label in ((468, LEFT_EYE, "left_eye"), (469, RIGHT_EYE, "right_eye"), (470, LIPS_INNER, "inner_mouth")):
        for a, b in zip(ring, ring[1:] + ring[:1]):
            fans.append([centre, a, b])
            fan_classes.append(C[label])
    return np.vstack([triangles, fans]), np.concatenate([classes, np.array(fan_classes, dtype=np.uint8)])


def rasterise_mesh(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Face regions of one face: ``points`` (468, 3) pixels (z smaller = nearer), ``size`` (H, W).

    Returns (H, W) uint8 with FACEHUB indices inside the face and 0 elsewhere.
    """
    rings = [LEFT_EYE, RIGHT_EYE, LIPS_INNER]
    full = np.vstack([points, *[points[r].mean(0, keepdims=True) for r in rings]])
    triangles, classes = mesh_regions()
    depth = full[triangles, 2].mean(1)
    canvas = Image.new("L", (size[1], size[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for t in np.argsort(-depth):  # far first
        xy = [(float(x), float(y)) for x, y in full[triangles[t], :2]]
        draw.polygon(xy, fill=int(classes[t]))
    return np.asarray(canvas).copy()


def _polygon_mask(polygon: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    canvas = Image.new("L", (size[1], size[0]), 0)
    ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in polygon], fill=1)
    return np.asarray(canvas).astype(bool)


def _skin_distance(image: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """(H, W) Mahalanobis distance of each pixel's (Cr, Cb, 0.3 Y) to the face-skin pixels ``skin`` (H, W) bool."""
    rgb = image.astype(np.float64)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    features = np.stack([0.713 * (rgb[..., 0] - y), 0.564 * (rgb[..., 2] - y), 0.3 * y], -1)
    sample = features[skin]
    if len(sample) < 50:
        return np.full(image.shape[:2], np.inf)
    mean = sample.mean(0)
    cov = np.cov(sample.T) + np.eye(3) * 4.0
    diff = features - mean
    return np.sqrt(np.einsum("hwi,ij,hwj->hw", diff, np.linalg.inv(cov), diff))


def _band(base: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Polygon: the polyline ``base`` (K, 2) and its copy moved by ``direction`` (2,), reversed."""
    return np.vstack([base, (base + direction)[::-1]])


def pseudo_label(image: np.ndarray, points: np.ndarray, person: np.ndarray, hair: np.ndarray | None) -> np.ndarray:
    """One image's label map.

    image (H, W, 3) uint8 RGB; points (468, 3) teacher pixels; person (H, W) uint8 0-255;
    hair (H, W) bool or None when no hair mask exists. Returns (H, W) uint8 FACEHUB indices / 255.
    """
    size = image.shape[:2]
    label = np.full(size, IGNORE, dtype=np.uint8)
    face = rasterise_mesh(points, size)
    in_face = face > 0
    is_person = person >= 128
    label[(person < 64)] = C["background"]
    if hair is not None:
        label[~hair & (person < 128)] = C["background"]
    p = points[:, :2].astype(np.float64)
    up = p[10] - p[152]
    height = np.linalg.norm(up)
    up /= max(height, 1e-6)
    side = np.array([-up[1], up[0]])  # perpendicular; sign fixed below
    width = np.linalg.norm(p[454] - p[234])
    if np.dot(p[454] - p[234], side) < 0:
        side = -side  # side now points toward the subject's left (MediaPipe 454)
    free = is_person & ~in_face & (np.ones(size, bool) if hair is None else ~hair)
    distance = _skin_distance(image, (face == C["skin"]))
    strict = 2.0 if hair is None else 2.5
    skin_like, not_skin = distance < strict, distance > 4.0
    forehead = _polygon_mask(_band(p[FOREHEAD], up * 0.3 * height), size) & free
    label[forehead & skin_like] = C["skin"]
    for band, name, sign in ((LEFT_EAR_BAND, "l_ear", 1.0), (RIGHT_EAR_BAND, "r_ear", -1.0)):
        if hair is None:
            break  # without a hair mask, skin-coloured pixels beside the face are too often hair: leave them ignored
        region = _polygon_mask(_band(p[band], side * sign * 0.22 * width), size) & free
        label[region & skin_like] = C[name]
    neck_zone = _polygon_mask(_band(p[JAW], -up * 0.55 * height), size) & free
    label[neck_zone & skin_like] = C["neck"]
    if hair is not None:
        chin = p[152] - up * 0.25 * height
        below = ((np.indices(size)[::-1].transpose(1, 2, 0) - chin) @ -up) > 0
        label[free & below & not_skin & ~neck_zone] = C["cloth"]
        label[free & below & not_skin & neck_zone] = C["cloth"]
    label[in_face] = face[in_face]
    if hair is not None:
        label[hair] = C["hair"]
    return label


def load_hair_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Binary hair mask (0/255 PNG) resized to ``size`` (H, W) -> bool."""
    mask = Image.open(path).convert("L")
    if mask.size != (size[1], size[0]):
        mask = mask.resize((size[1], size[0]), Image.NEAREST)
    return np.asarray(mask) >= 128
