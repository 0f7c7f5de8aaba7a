"""Mesh writers read back (GLB with pygltflib and a parser of our own, OBJ/MTL/PNG), depth (head pose: test_head_pose.py)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facehub.reconstruction.mesh import (
    Mesh,
    depth_map,
    depth_to_image,
    sample_colours,
    uv_texture,
    write_glb,
    write_obj,
)
from facehub.reconstruction.uv import uv_layout
from tests._faces3d import posed_face


def _mesh(yaw: float = 0.0, centre=(64.0, 64.0)) -> Mesh:
    layout = uv_layout(32)
    uv_map = layout.rasterise(posed_face(yaw, centre=centre))
    vertices = layout.dense_vertices(uv_map).astype(np.float64)
    image = np.random.default_rng(0).integers(0, 255, (128, 256, 3), dtype=np.uint8)
    return Mesh(vertices, sample_colours(image, vertices[:, :2]), layout.grid_triangles(), layout.uv_of_pixels(), uv_texture(image, uv_map))


def read_glb(path: Path) -> tuple[dict, bytes]:
    """Parse a glTF 2.0 binary: (JSON chunk, BIN chunk)."""
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert magic == 0x46546C67 and version == 2 and length == len(data)
    json_len, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A
    gltf = json.loads(data[20 : 20 + json_len])
    binary = b""
    if 20 + json_len < len(data):
        bin_len, bin_type = struct.unpack_from("<II", data, 20 + json_len)
        assert bin_type == 0x004E4942
        binary = data[28 + json_len : 28 + json_len + bin_len]
    return gltf, binary


def _accessor(gltf: dict, binary: bytes, index: int) -> np.ndarray:
    accessor = gltf["accessors"][index]
    view = gltf["bufferViews"][accessor["bufferView"]]
    dtype = {5126: np.float32, 5125: np.uint32}[accessor["componentType"]]
    width = {"VEC3": 3, "SCALAR": 1}[accessor["type"]]
    raw = np.frombuffer(binary, dtype=dtype, count=accessor["count"] * width, offset=view["byteOffset"])
    return raw.reshape(accessor["count"], width)


def test_glb_reads_back_with_colours(tmp_path: Path) -> None:
    meshes = [_mesh(0.0), _mesh(20.0, centre=(180.0, 64.0))]
    path = write_glb(meshes, tmp_path / "faces.glb")
    gltf, binary = read_glb(path)
    primitive = gltf["meshes"][0]["primitives"][0]
    assert "COLOR_0" in primitive["attributes"]
    total = sum(len(m.vertices) for m in meshes)
    positions = _accessor(gltf, binary, primitive["attributes"]["POSITION"])
    colours = _accessor(gltf, binary, primitive["attributes"]["COLOR_0"])
    indices = _accessor(gltf, binary, primitive["indices"])
    assert len(positions) == len(colours) == total
    assert indices.max() < total and len(indices) == 3 * sum(len(m.triangles) for m in meshes)
    np.testing.assert_allclose(positions[: len(meshes[0].vertices), 1], -meshes[0].vertices[:, 1], atol=1e-3)
    assert 0 <= colours.min() and colours.max() <= 1
    np.testing.assert_allclose(gltf["accessors"][primitive["attributes"]["POSITION"]]["min"], positions.min(0), atol=1e-4)


def test_glb_loads_in_pygltflib(tmp_path: Path) -> None:
    pygltflib = pytest.importorskip("pygltflib")
    mesh = _mesh()
    path = mesh.save(tmp_path / "face.glb")[0]
    gltf = pygltflib.GLTF2().load(str(path))
    attributes = gltf.meshes[0].primitives[0].attributes
    assert attributes.COLOR_0 is not None
    assert gltf.accessors[attributes.POSITION].count == len(mesh.vertices)
    assert gltf.accessors[attributes.COLOR_0].count == len(mesh.vertices)


def test_empty_glb_is_valid(tmp_path: Path) -> None:
    gltf, binary = read_glb(write_glb([], tmp_path / "none.glb"))
    assert gltf["asset"]["version"] == "2.0" and binary == b""


def test_obj_references_mtl_and_texture(tmp_path: Path) -> None:
    meshes = [_mesh(), _mesh(-15.0, centre=(180.0, 64.0))]
    paths = write_obj(meshes, tmp_path / "out" / "photo")
    obj, mtl, png = paths
    assert all(p.is_file() for p in paths)
    text = obj.read_text().splitlines()
    mtllib = [line.split(maxsplit=1)[1] for line in text if line.startswith("mtllib ")]
    assert mtllib == [mtl.name] and (obj.parent / mtllib[0]).is_file()
    texture = [line.split(maxsplit=1)[1] for line in mtl.read_text().splitlines() if line.startswith("map_Kd ")]
    assert texture == [png.name]
    atlas = Image.open(obj.parent / texture[0])
    assert atlas.size == (2 * 32, 32)
    total = sum(len(m.vertices) for m in meshes)
    vertices = [line for line in text if line.startswith("v ")]
    uvs = [line for line in text if line.startswith("vt ")]
    faces = [line for line in text if line.startswith("f ")]
    assert len(vertices) == len(uvs) == total and len(vertices[0].split()) == 7  # x y z r g b
    assert len(faces) == sum(len(m.triangles) for m in meshes)
    assert max(int(tok.split("/")[0]) for line in faces for tok in line.split()[1:]) == total


def test_depth_nearest_at_the_nose() -> None:
    mesh = _mesh()
    depth = depth_map([mesh], (128, 256))
    face = np.isfinite(depth)
    assert face[64, 64] and not face[5, 250]
    y, x = np.unravel_index(np.where(face, depth, np.inf).argmin(), depth.shape)
    nose = posed_face()[1]
    assert abs(x - nose[0]) < 8 and abs(y - nose[1]) < 8
    picture = depth_to_image(depth)
    assert picture.size == (256, 128) and picture.mode == "L"
    assert np.asarray(picture)[y, x] == 255 and np.asarray(picture)[5, 250] == 0
