"""facehub.export: what ``result.save(folder, stem)`` and the app's downloads write, on small hand-made results."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facehub import export
from facehub.detection.result import DetectionResult, Face
from facehub.editing.result import EditResult
from facehub.landmarks.result import LandmarksResult
from facehub.parsing.labels import LAPA
from facehub.parsing.result import ParsingResult
from facehub.reconstruction.mesh import Mesh, Pose
from facehub.reconstruction.result import ReconstructedFace, ReconstructionResult

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 255, (40, 60, 3), dtype=np.uint8)
FACE = Face(np.array([10.0, 5, 40, 35]), 0.98765, np.array([[18.0, 15], [32, 15], [25, 22], [19, 28], [31, 28]]))


def _parsing() -> ParsingResult:
    class_map = RNG.integers(0, len(LAPA.names), (40, 60)).astype(np.uint8)
    face_index = np.where(class_map > 0, 0, -1).astype(np.int16)
    return ParsingResult(IMAGE, [FACE], class_map, tuple(LAPA.names), face_index=face_index, model="tiny-parser")


def _reconstruction() -> ReconstructionResult:
    vertices = np.array([[10.0, 5, 0], [40, 5, 1], [25, 35, -2]])
    mesh = Mesh(vertices, np.full((3, 3), 200, np.uint8), np.array([[0, 1, 2]]), np.array([[0.0, 0], [1, 0], [0.5, 1]]))
    xs, ys = np.meshgrid(np.linspace(10, 40, 4), np.linspace(5, 35, 4))
    position_map = np.stack([xs, ys, np.zeros((4, 4))]).astype(np.float32)  # (3, 4, 4) photo pixels
    face = ReconstructedFace(FACE, np.zeros((468, 3)), RNG.normal(size=(68, 3)) + 20, Pose(10.0, -5.0, 2.0), mesh, position_map)
    return ReconstructionResult(IMAGE, [face])


def test_parsing_save_writes_the_class_indices_and_the_label_names(tmp_path: Path) -> None:
    result = _parsing()
    paths = result.save(tmp_path, "photo")
    assert paths == [tmp_path / "photo.png", tmp_path / "labels.json"]
    assert np.array_equal(np.asarray(Image.open(paths[0])), result.class_map)
    assert json.loads(paths[1].read_text()) == {"model": "tiny-parser", "labels": list(LAPA.names)}


def test_parsing_save_refuses_a_map_that_is_not_uint8(tmp_path: Path) -> None:
    result = _parsing()
    result.class_map = result.class_map.astype(np.int64)
    with pytest.raises(ValueError, match="uint8"):
        result.save(tmp_path, "photo")


@pytest.mark.parametrize("make", [
    lambda: DetectionResult(IMAGE, [FACE]),
    lambda: LandmarksResult(IMAGE, [FACE], points=RNG.normal(size=(1, 68, 2)) + 20, model="tiny"),
])
def test_faces_save_writes_the_entry_the_cli_stores_under_the_photo(tmp_path: Path, make) -> None:
    result = make()
    (path,) = result.save(tmp_path / "new", "photo")
    assert path == tmp_path / "new" / "photo.json"
    assert path.read_text() == json.dumps(result.to_json(), indent=2)
    assert json.loads(path.read_text())[0]["score"] == 0.9877


def test_reconstruction_save_writes_json_obj_mtl_texture_and_glb(tmp_path: Path) -> None:
    result = _reconstruction()
    paths = result.save(tmp_path, "photo")
    assert [p.name for p in paths] == ["photo.json", "photo.obj", "photo.mtl", "photo_texture.png", "photo.glb"]
    assert json.loads(paths[0].read_text()) == json.loads(json.dumps(result.to_json()))
    assert "mtllib photo.mtl" in paths[1].read_text() and "map_Kd photo_texture.png" in paths[2].read_text()
    assert paths[4].read_bytes()[:4] == b"glTF"


def test_edit_save_writes_the_edited_photo(tmp_path: Path) -> None:
    edited = RNG.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    result = EditResult(edited, IMAGE, IMAGE, None, None, None, None, ("hair",), "blend", [FACE])
    (path,) = result.save(tmp_path, "edited")
    assert path.name == "edited.png" and np.array_equal(np.asarray(Image.open(path)), edited)


def test_downloads_are_the_saved_files_plus_the_extras(tmp_path: Path) -> None:
    parsing = export.parsing_downloads(_parsing(), tmp_path / "p", "photo")
    assert [p.name for p in parsing] == ["photo.png", "labels.json", "photo_colour.png", "photo_overlay.png", "photo.json"]
    landmarks = LandmarksResult(IMAGE, [FACE], points=RNG.normal(size=(1, 68, 2)) + 20)
    files = export.landmarks_downloads(landmarks, tmp_path / "l", "photo")
    assert [p.name for p in files] == ["photo.json", "photo.csv", "photo_overlay.png"]
    assert files[1].read_text() == landmarks.to_csv()
    shown = Image.new("RGB", (60, 40), (1, 2, 3))
    files = export.reconstruction_downloads(_reconstruction(), tmp_path / "r", "photo", overlay=shown)
    assert [p.name for p in files] == ["photo.json", "photo.glb", "photo_obj.zip", "photo_overlay.png"]
    assert sorted(zipfile.ZipFile(files[2]).namelist()) == ["photo.mtl", "photo.obj", "photo_texture.png"]
    assert np.asarray(Image.open(files[3])).reshape(-1, 3).tolist()[0] == [1, 2, 3]  # the drawing given is the one saved
