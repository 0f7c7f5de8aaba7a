"""Results of the reconstruction predictor (dataclasses: drawing, ``to_json``, saving)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from facehub import export
from facehub.detection.result import Face
from facehub.reconstruction.mesh import (
    POSE_CONVENTION,
    Mesh,
    Pose,
    depth_map,
    depth_to_image,
    uv_texture,
    write_glb,
    write_obj,
)

TEXTURE_SIZE = 256


@dataclass
class ReconstructedFace:
    """One face in photo pixels (x right, y down, z same scale, smaller = nearer).

    face: the detection; vertices468: (468, 3) MediaPipe-layout points;
    landmarks3d: (68, 3) iBUG order; pose: yaw/pitch/roll degrees (AFLW2000-3D's signs); mesh: the
    dense mesh (one vertex per valid UV pixel, colours from the photo);
    position_map: (3, S, S) float32 UV position map in photo pixels.
    """

    face: Face
    vertices468: np.ndarray
    landmarks3d: np.ndarray
    pose: Pose
    mesh: Mesh
    position_map: np.ndarray

    @property
    def box(self) -> np.ndarray:
        return self.face.box

    def to_json(self) -> dict:
        return {
            "box": [round(float(v), 2) for v in self.face.box],
            "score": round(float(self.face.score), 4),
            "landmarks3d": [[round(float(c), 2) for c in p] for p in self.landmarks3d],
            "pose": self.pose.to_json(),
        }


@dataclass
class ReconstructionResult:
    """Every face of a photo. image: (H, W, 3) uint8 RGB; faces by descending detector score."""

    image: np.ndarray
    faces: list[ReconstructedFace] = field(default_factory=list)
    _depth: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def landmarks3d(self) -> np.ndarray:
        """(F, 68, 3) photo pixels."""
        return np.stack([f.landmarks3d for f in self.faces]) if self.faces else np.zeros((0, 68, 3))

    def to_json(self) -> dict:
        """``{"faces": [{"box", "score", "landmarks3d": [[x, y, z] x 68], "pose": {"yaw", "pitch", "roll"}}],
        "convention": {...}}``: the pose's units, axes, signs and rotation order (``POSE_CONVENTION``)."""
        return {"faces": [face.to_json() for face in self.faces], "convention": dict(POSE_CONVENTION)}

    def _textured(self) -> list[Mesh]:
        meshes = []
        for face in self.faces:
            big = F.interpolate(torch.from_numpy(face.position_map)[None], size=(TEXTURE_SIZE, TEXTURE_SIZE), mode="bilinear", align_corners=False)
            texture = uv_texture(self.image, big[0].numpy())
            meshes.append(Mesh(face.mesh.vertices, face.mesh.colours, face.mesh.triangles, face.mesh.uv, texture))
        return meshes

    def save_obj(self, stem: str | Path) -> list[Path]:
        """Write ``stem.obj``, ``stem.mtl`` and ``stem_texture.png`` (all faces); return the paths."""
        return write_obj(self._textured(), stem)

    def save_glb(self, path: str | Path) -> Path:
        """Write all faces as one glTF 2.0 binary with COLOR_0 vertex colours."""
        return write_glb([face.mesh for face in self.faces], path)

    def save(self, folder: str | Path, stem: str) -> list[Path]:
        """What the CLI's ``reconstruct`` writes for this photo: ``stem.json``, ``stem.obj`` (+ ``.mtl``,
        ``_texture.png``) and ``stem.glb`` in ``folder``."""
        return export.save_reconstruction(self, folder, stem)

    def depth_map(self) -> np.ndarray:
        """(H, W) float32 z of the nearest face surface, +inf elsewhere (computed once)."""
        if self._depth is None:
            self._depth = depth_map([face.mesh for face in self.faces], self.image.shape[:2])
        return self._depth

    def depth_image(self) -> Image.Image:
        """Greyscale depth image at the photo's size: nearer = brighter, background black."""
        return depth_to_image(self.depth_map())

    def overlay(self, alpha: float = 0.55, landmarks: bool = True, axes: bool = True) -> Image.Image:
        """Dense alignment: the depth-shaded mesh blended on the photo, plus the 68 landmarks and each face's head
        pose as three axes from the nose tip (``draw_pose_axes``)."""
        canvas = self.image.astype(np.float32)
        if self.faces:
            depth = self.depth_map()
            face = np.isfinite(depth)
            shade = np.asarray(depth_to_image(depth), dtype=np.float32)[..., None]
            tint = shade / 255.0 * np.array([90.0, 200.0, 255.0])
            canvas[face] = (1 - alpha) * canvas[face] + alpha * tint[face]
        picture = Image.fromarray(canvas.clip(0, 255).astype(np.uint8))
        if landmarks and self.faces:
            from facehub.landmarks.result import draw_points

            picture = draw_points(picture, self.landmarks3d[..., :2])
        if axes and self.faces:
            picture = draw_pose_axes(picture, self.faces)
        return picture


AXIS_COLOURS = ((230, 40, 40), (40, 200, 40), (40, 90, 255))  # the face's x (red), y (green), z (blue)


def draw_pose_axes(picture: Image.Image, faces: list[ReconstructedFace]) -> Image.Image:
    """Each face's pose (``Pose.rotation``'s columns) drawn on a copy of ``picture`` as three lines from its nose tip
    (landmark 30), each half the face box's width long: x red (towards the frontal face's image-right side), y
    green (up), z blue (out of the face: where the nose points). The camera frame's y up is the photo's y down."""
    from facehub.viz import line_width

    canvas = picture.copy()
    draw = ImageDraw.Draw(canvas)
    width = line_width(canvas.size) + 1
    for face in faces:
        origin = np.asarray(face.landmarks3d[30, :2], dtype=np.float64)
        length = 0.5 * float(face.box[2] - face.box[0])
        rotation = face.pose.rotation()
        for column in (0, 1, 2):  # z, where the nose points, on top
            tip = origin + length * rotation[:2, column] * np.array([1.0, -1.0])
            draw.line([tuple(origin), tuple(tip)], fill=AXIS_COLOURS[column], width=width)
    return canvas
