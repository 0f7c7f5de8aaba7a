"""The CLI contract of DESIGN.md: file layouts, JSON shapes, and errors that keep the good results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facehub.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PAIR = EXAMPLES / "two_people.jpg"


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.jpg"
    path.write_bytes((EXAMPLES / "astronaut.jpg").read_bytes()[:3000])
    return path


def test_detect_writes_faces_by_file_name_and_skips_a_broken_file(tmp_path: Path, broken: Path, capsys) -> None:
    out = tmp_path / "faces.json"
    assert main(["detect", str(PAIR), str(broken), "--out", str(out)]) == 1
    faces = json.loads(out.read_text())
    assert list(faces) == ["two_people.jpg"]
    assert len(faces["two_people.jpg"]) == 2
    first, second = faces["two_people.jpg"]
    assert first["score"] >= second["score"]
    assert len(first["box"]) == 4 and np.array(first["points"]).shape == (5, 2)
    assert "broken.jpg" in capsys.readouterr().err


def test_parse_writes_a_class_index_mask_at_the_input_size(tmp_path: Path) -> None:
    assert main(["parse", str(PAIR), "--out", str(tmp_path)]) == 0
    mask = np.asarray(Image.open(tmp_path / "two_people.png"))
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert mask.dtype == np.uint8 and mask.shape == Image.open(PAIR).size[::-1]
    assert labels["model"] == "bisenet" and labels["labels"][0] == "background"
    present = {labels["labels"][i] for i in np.unique(mask)}
    assert {"skin", "nose", "hair"} <= present


def test_landmarks_gives_68_points_inside_each_box(tmp_path: Path) -> None:
    out = tmp_path / "points.json"
    assert main(["landmarks", str(PAIR), "--out", str(out)]) == 0
    faces = json.loads(out.read_text())["two_people.jpg"]
    assert len(faces) == 2
    for face in faces:
        points = np.array(face["points"])
        x0, y0, x1, y1 = face["box"]
        assert points.shape == (68, 2)
        inside = (points[:, 0] > x0 - 10) & (points[:, 0] < x1 + 10) & (points[:, 1] > y0 - 10) & (points[:, 1] < y1 + 10)
        assert inside.mean() > 0.9


def test_reconstruct_writes_json_obj_and_glb(tmp_path: Path) -> None:
    assert main(["reconstruct", str(PAIR), "--out", str(tmp_path)]) == 0
    faces = json.loads((tmp_path / "two_people.json").read_text())["faces"]
    assert len(faces) == 2
    assert np.array(faces[0]["landmarks3d"]).shape == (68, 3)
    assert set(faces[0]["pose"]) == {"yaw", "pitch", "roll"}
    assert (tmp_path / "two_people.glb").read_bytes()[:4] == b"glTF"
    assert "mtllib" in (tmp_path / "two_people.obj").read_text()[:500]


def test_edit_without_a_face_exits_2_and_writes_nothing(tmp_path: Path, capsys) -> None:
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), (128, 128, 128)).save(blank)
    out = tmp_path / "out.png"
    assert main(["edit", "--source", str(EXAMPLES / "astronaut.jpg"), "--target", str(blank), "--out", str(out)]) == 2
    assert not out.exists()
    assert "No face found" in capsys.readouterr().err


def test_edit_hair_writes_the_target_size(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    target = EXAMPLES / "grace_hopper.jpg"
    args = ["edit", "--source", str(EXAMPLES / "astronaut.jpg"), "--target", str(target), "--parts", "hair", "--out", str(out)]
    assert main(args) == 0
    assert Image.open(out).size == Image.open(target).size
