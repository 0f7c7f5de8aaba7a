"""Face meshes in image space: colours, texture, OBJ/MTL/PNG and GLB writers, head pose, depth.

Coordinates: ``(x, y, z)`` in input-photo pixels, x right, y down, z in the
same pixel scale with smaller = nearer the camera (MediaPipe's convention).
The writers convert to the y-up, right-handed frame of OBJ and glTF by
``(x, -y, -z)`` (a rotation, so nothing is mirrored; the face looks at +z).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from facehub.reconstruction.uv import canonical_mesh


@dataclass
class Pose:
    """Head pose in degrees, from a rigid fit of the canonical face (``head_pose``, ``head_pose_68``), in
    AFLW2000-3D's ``Pose_Para`` convention (see ``POSE_CONVENTION``).

    pitch > 0: the face looks up; yaw > 0: the face turns towards the image's left (its nose points left,
    the subject turns to their own right); roll > 0: the head tilts clockwise on screen (its top moves
    towards the image's right).
    """

    yaw: float
    pitch: float
    roll: float

    def to_json(self) -> dict[str, float]:
        return {"yaw": round(self.yaw, 2), "pitch": round(self.pitch, 2), "roll": round(self.roll, 2)}

    def rotation(self) -> np.ndarray:
        """(3, 3) ``R = Rx(-pitch) @ Ry(-yaw) @ Rz(-roll)`` (``POSE_CONVENTION``): its columns are the face's own
        axes (x towards the face's image-right side when frontal, y up, z out of the face) in the camera frame
        (x right, y up, z towards the viewer). ``pose_of`` reads it back."""

        def axis(index: int, degrees: float) -> np.ndarray:
            c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
            i, j = [(1, 2), (2, 0), (0, 1)][index]
            r = np.eye(3)
            r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
            return r

        return axis(0, -self.pitch) @ axis(1, -self.yaw) @ axis(2, -self.roll)


POSE_CONVENTION: dict[str, str] = {
    "units": "degrees",
    "axes": "camera frame: x towards the image's right, y up, z towards the viewer (right-handed)",
    "pitch": "rotation about x; > 0: the face looks up",
    "yaw": "rotation about y; > 0: the face turns towards the image's left (the subject's own right)",
    "roll": "rotation about z; > 0: the head tilts clockwise on screen",
    "rotation": "R = Rx(-pitch) @ Ry(-yaw) @ Rz(-roll) (right-handed matrices, column vectors): roll first, then yaw, "
                "then pitch; R turns the frontal face (looking at the camera) into the photo's",
    "matches": "AFLW2000-3D Pose_Para [pitch, yaw, roll] (3DDFA's RotationMatrix), there in radians",
}


@dataclass
class Mesh:
    """A triangle mesh: vertices (V, 3) float image px; colours (V, 3) uint8 RGB;
    triangles (T, 3) int; uv (V, 2) texture coords in [0, 1] (v down); texture (S, S, 3) uint8 or None."""

    vertices: np.ndarray
    colours: np.ndarray
    triangles: np.ndarray
    uv: np.ndarray | None = None
    texture: np.ndarray | None = None

    def save(self, path: str | Path) -> list[Path]:
        """Write ``.glb`` or ``.obj`` (+ ``.mtl`` + texture ``.png``) by the suffix of ``path``."""
        path = Path(path)
        if path.suffix.lower() == ".glb":
            return [write_glb([self], path)]
        return write_obj([self], path.with_suffix(""))


def bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample ``image`` (H, W, C) uint8 at pixel coordinates ``x``, ``y`` (any equal shapes), clamped at the border.

    Returns (..., C) uint8 (pixel-centre convention: pixel ``i`` is at ``i``).
    """
    height, width = image.shape[:2]
    x = np.clip(np.asarray(x, dtype=np.float64), 0, width - 1)
    y = np.clip(np.asarray(y, dtype=np.float64), 0, height - 1)
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    img = image.astype(np.float32)
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return np.clip(top * (1 - fy) + bottom * fy + 0.5, 0, 255).astype(np.uint8)


def sample_colours(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear colours (N, 3) uint8 of ``image`` (H, W, 3) uint8 at pixel points ``xy`` (N, 2)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return bilinear(image, xy[:, 0], xy[:, 1])


def uv_texture(image: np.ndarray, position_map: np.ndarray) -> np.ndarray:
    """Texture (S, S, 3) uint8: the photo sampled at a UV position map (3, S, S) in image pixels."""
    return bilinear(image, position_map[0], position_map[1])


def _merge(meshes: list[Mesh]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate vertices (y-up frame), colours and triangles of several meshes."""
    vertices = np.concatenate([m.vertices for m in meshes]) * np.array([1.0, -1.0, -1.0])
    colours = np.concatenate([m.colours for m in meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    triangles = np.concatenate([m.triangles + o for m, o in zip(meshes, offsets)])
    return vertices, colours, triangles


def write_obj(meshes: list[Mesh], stem: str | Path) -> list[Path]:
    """Write ``stem.obj`` (vertices with colours, UVs, faces), ``stem.mtl`` and ``stem_texture.png``.

    Several meshes (faces of one photo) go into one OBJ, one group each; the
    textures are placed side by side in one PNG. Returns the written paths.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    obj, mtl, png = stem.with_suffix(".obj"), stem.with_suffix(".mtl"), stem.parent / f"{stem.name}_texture.png"
    textures = [m.texture if m.texture is not None else np.full((8, 8, 3), 200, np.uint8) for m in meshes]
    tile = max([t.shape[0] for t in textures], default=8)
    atlas = np.zeros((tile, tile * max(len(meshes), 1), 3), dtype=np.uint8)
    for i, t in enumerate(textures):
        atlas[: t.shape[0], i * tile : i * tile + t.shape[1]] = t
    Image.fromarray(atlas).save(png)
    mtl.write_text(f"newmtl face\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nd 1\nillum 1\nmap_Kd {png.name}\n")
    lines = [f"# FaceHub PRNet mesh: {len(meshes)} face(s), x/y/z in photo pixels (y up)", f"mtllib {mtl.name}"]
    offset = 0
    for i, mesh in enumerate(meshes):
        v = mesh.vertices * np.array([1.0, -1.0, -1.0])
        c = mesh.colours / 255.0
        uv = mesh.uv if mesh.uv is not None else np.zeros((len(v), 2))
        size = textures[i].shape[0]
        u = (i * tile + uv[:, 0] * size) / (tile * len(meshes))
        vt = 1.0 - uv[:, 1] * size / tile
        lines.append(f"o face_{i + 1}\nusemtl face")
        lines += [f"v {a:.3f} {b:.3f} {d:.3f} {r:.4f} {g:.4f} {bl:.4f}" for (a, b, d), (r, g, bl) in zip(v, c)]
        lines += [f"vt {a:.6f} {b:.6f}" for a, b in zip(u, vt)]
        lines += [f"f {a}/{a} {b}/{b} {d}/{d}" for a, b, d in mesh.triangles + offset + 1]
        offset += len(v)
    obj.write_text("\n".join(lines) + "\n")
    return [obj, mtl, png]


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def write_glb(meshes: list[Mesh], path: str | Path) -> Path:
    """Write one glTF 2.0 binary with POSITION, COLOR_0 (linear float RGB) and uint32 indices.

    All faces of a photo go into one unlit, double-sided primitive.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not meshes:
        return _write_empty_glb(path)
    vertices, colours, triangles = _merge(meshes)
    positions = vertices.astype(np.float32)
    colour = _srgb_to_linear(colours.astype(np.float64) / 255.0).astype(np.float32)
    indices = triangles.astype(np.uint32).ravel()
    blobs = [positions.tobytes(), colour.tobytes(), indices.tobytes()]
    views, offset = [], 0
    for blob, target in zip(blobs, (34962, 34962, 34963)):
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob), "target": target})
        offset += (len(blob) + 3) // 4 * 4
    binary = b"".join(blob + b"\x00" * ((-len(blob)) % 4) for blob in blobs)
    gltf = {
        "asset": {"version": "2.0", "generator": "facehub"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "faces"}],
        "meshes": [{"name": "faces", "primitives": [{"attributes": {"POSITION": 0, "COLOR_0": 1}, "indices": 2, "material": 0, "mode": 4}]}],
        "materials": [
            {
                "name": "vertex_colour",
                "doubleSided": True,
                "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0, "roughnessFactor": 1.0},
                "extensions": {"KHR_materials_unlit": {}},
            }
        ],
        "extensionsUsed": ["KHR_materials_unlit"],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": views,
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(positions), "type": "VEC3",
             "min": positions.min(0).tolist(), "max": positions.max(0).tolist()},
            {"bufferView": 1, "componentType": 5126, "count": len(colour), "type": "VEC3"},
            {"bufferView": 2, "componentType": 5125, "count": len(indices), "type": "SCALAR"},
        ],
    }
    text = json.dumps(gltf, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    with path.open("wb") as handle:
        handle.write(struct.pack("<III", 0x46546C67, 2, total))
        handle.write(struct.pack("<II", len(text), 0x4E4F534A) + text)
        handle.write(struct.pack("<II", len(binary), 0x004E4942) + binary)
    return path


def _write_empty_glb(path: Path) -> Path:
    """A valid glTF 2.0 binary with an empty scene (a photo without faces)."""
    text = json.dumps({"asset": {"version": "2.0", "generator": "facehub"}, "scene": 0, "scenes": [{"nodes": []}]}).encode()
    text += b" " * ((-len(text)) % 4)
    with path.open("wb") as handle:
        handle.write(struct.pack("<III", 0x46546C67, 2, 12 + 8 + len(text)))
        handle.write(struct.pack("<II", len(text), 0x4E4F534A) + text)
    return path


def rigid_fit(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (Umeyama, no reflection) with ``target ~ s * R @ source + t``; (N, 3) each -> (s, R (3, 3), t (3,))."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    a, b = source - mu_s, target - mu_t
    u, sig, vt = np.linalg.svd(b.T @ a / len(a))
    d = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2, 2] = -1
    rotation = u @ d @ vt
    scale = float((sig * np.diag(d)).sum() / (a**2).sum() * len(a))
    return scale, rotation, mu_t - scale * rotation @ mu_s


def head_pose(points468: np.ndarray) -> Pose:
    """Pose of a face from its 468 image-space points (468, 3) (x right, y down, smaller z nearer).

    The canonical mesh (frontal; x right, y up, z towards the viewer) is fitted to ``(x, -y, -z)``, and the
    fitted rotation is read as ``R = Rx(-pitch) @ Ry(-yaw) @ Rz(-roll)`` (``POSE_CONVENTION``, AFLW2000-3D's).
    """
    target = np.asarray(points468, dtype=np.float64) * np.array([1.0, -1.0, -1.0])
    _, rotation, _ = rigid_fit(canonical_mesh().vertices, target)
    return pose_of(rotation)


@dataclass(frozen=True)
class YawCalibration:
    """A turn about the camera's vertical axis added to a fitted pose past ``from_yaw`` degrees of |yaw|:
    ``gain * (|yaw| - from_yaw)`` degrees, away from the frontal view. Fitted points read turned faces as less
    turned than they are (PRNet's card: -10 degrees of signed yaw at 60-90 on AFLW2000-3D val), and a turned head's
    pitch and roll follow its yaw near 90 degrees, so the whole rotation turns, not the yaw angle alone.
    Config key ``pose_calibration`` (``{"gain": G, "from_yaw": Y}``); absent: poses as fitted."""

    gain: float = 0.0
    from_yaw: float = 0.0

    @classmethod
    def from_config(cls, config: dict | None) -> YawCalibration | None:
        values = (config or {}).get("pose_calibration")
        return None if not values else cls(**{k: float(v) for k, v in values.items()})

    def to_config(self) -> dict[str, float]:
        return {"gain": self.gain, "from_yaw": self.from_yaw}

    def apply(self, rotation: np.ndarray) -> np.ndarray:
        """A fitted rotation (3, 3) (``Pose.rotation``'s kind) -> the calibrated one (3, 3)."""
        yaw = pose_of(rotation).yaw
        extra = float(np.sign(yaw)) * self.gain * max(0.0, abs(yaw) - self.from_yaw)
        return Pose(yaw=extra, pitch=0.0, roll=0.0).rotation() @ rotation


def head_pose_68(points68: np.ndarray, calibration: YawCalibration | None = None) -> Pose:
    """Pose of a face from its 68 image-space landmarks (68, 3) (x right, y down, smaller z nearer), as
    ``head_pose`` reads it from the 468 points, but fitted to the eyes, brows, nose and mouth alone (17-67; the
    jaw's convention changes with the pose): the canonical face's 68 points (``template_68``) fitted to ``(x, -y,
    -z)``, then ``calibration`` applied if given. ``FaceReconstructor`` uses it because its 68 points carry the
    landmark model's x, y."""
    from facehub.geometry.profile_jaw import INNER, template_68

    target = np.asarray(points68, dtype=np.float64)[INNER] * np.array([1.0, -1.0, -1.0])
    _, rotation, _ = rigid_fit(template_68()[INNER], target)
    return pose_of(rotation if calibration is None else calibration.apply(rotation))


def pose_of(rotation: np.ndarray) -> Pose:
    """A rotation (3, 3) that turns the frontal face (x right, y up, z towards the viewer) into the photo's, read as
    ``R = Rx(-pitch) @ Ry(-yaw) @ Rz(-roll)`` (``POSE_CONVENTION``)."""
    r = rotation
    pitch = np.degrees(np.arctan2(r[1, 2], r[2, 2]))
    yaw = -np.degrees(np.arcsin(np.clip(r[0, 2], -1.0, 1.0)))
    roll = np.degrees(np.arctan2(r[0, 1], r[0, 0]))
    return Pose(float(yaw), float(pitch), float(roll))


def depth_map(meshes: list[Mesh], image_size: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 z of the nearest surface (image px, smaller = nearer), +inf where no face.

    Painter's algorithm: each triangle filled with its mean z, far to near (PIL, float image).
    """
    height, width = image_size
    canvas = Image.new("F", (width, height), float("inf"))
    draw = ImageDraw.Draw(canvas)
    for mesh in meshes:
        tri = mesh.vertices[mesh.triangles]  # (T, 3, 3)
        depth = tri[:, :, 2].mean(1)
        for index in np.argsort(-depth):
            draw.polygon([tuple(p) for p in tri[index, :, :2]], fill=float(depth[index]))
    return np.asarray(canvas, dtype=np.float32).copy()


def depth_to_image(depth: np.ndarray) -> Image.Image:
    """Greyscale PIL image of a depth map: nearer = brighter, background black."""
    face = np.isfinite(depth)
    out = np.zeros(depth.shape, dtype=np.uint8)
    if face.any():
        near, far = float(depth[face].min()), float(depth[face].max())
        out[face] = (40 + 215 * (far - depth[face]) / max(far - near, 1e-6)).astype(np.uint8)
    return Image.fromarray(out, mode="L")
