"""The CLI contract of DESIGN.md: file layouts, JSON shapes, and errors that keep the good results."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facehub.cli import Progress, expand_images, main

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


def test_edit_a_face_number_past_the_photo_exits_2_with_the_count(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.png"
    args = ["edit", "--source", str(EXAMPLES / "astronaut.jpg"), "--target", str(PAIR), "--parts", "eyes",
            "--method", "blend", "--target-face", "3", "--out", str(out)]
    assert main(args) == 2 and not out.exists()
    assert "target photo has 2 faces, so there is no face 3" in capsys.readouterr().err


def test_edit_hair_writes_the_target_size(tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    target = EXAMPLES / "grace_hopper.jpg"
    args = ["edit", "--source", str(EXAMPLES / "astronaut.jpg"), "--target", str(target), "--parts", "hair", "--out", str(out)]
    assert main(args) == 0
    assert Image.open(out).size == Image.open(target).size


# --- IMAGES: files, folders and globs; a progress bar for many --------------------------------------------------


def _grey(path: Path, size: int = 48) -> Path:
    """A small faceless photo (the detector finds nothing fast)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), (128, 128, 128)).save(path)
    return path


@pytest.fixture
def album(tmp_path: Path) -> Path:
    """album/ with photos at two depths, a non-image, a hidden file and a hidden folder."""
    root = tmp_path / "album"
    for name in ("b.png", "trip/a.jpg", "trip/day2/c.JPEG", ".hidden.jpg", ".cache/d.jpg"):
        _grey(root / name)
    (root / "notes.txt").write_text("not a photo")
    return root


def test_a_folder_is_searched_recursively_for_images(album: Path) -> None:
    photos = expand_images([str(album)])
    assert [p.relative_to(album).as_posix() for p in photos] == ["b.png", "trip/a.jpg", "trip/day2/c.JPEG"]


def test_globs_expand_recursively_and_repeats_are_dropped(album: Path) -> None:
    photos = expand_images([f"{album}/**/*.jpg", str(album / "trip" / "a.jpg"), f"{album}/trip/day2"])
    assert [p.name for p in photos] == ["a.jpg", "c.JPEG"]
    assert expand_images([str(album / "missing.jpg")]) == [album / "missing.jpg"]  # reported when it is read


@pytest.mark.parametrize("pattern", ["empty", "album/*.gif"])
def test_a_folder_or_glob_without_images_exits_2_and_writes_nothing(tmp_path: Path, album: Path, capsys, pattern: str) -> None:
    (tmp_path / "empty").mkdir()
    out = tmp_path / "faces.json"
    assert main(["detect", str(tmp_path / pattern), "--out", str(out)]) == 2
    assert "no images found" in capsys.readouterr().err and not out.exists()


def test_detect_on_a_folder_keys_every_photo_by_file_name(album: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "faces.json"
    assert main(["detect", str(album / "trip"), str(album / "b.png"), "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == {"a.jpg": [], "c.JPEG": [], "b.png": []}
    assert "0 faces in 3 images" in capsys.readouterr().out


def test_two_photos_with_one_output_name_are_an_error(tmp_path: Path, capsys) -> None:
    first, second = _grey(tmp_path / "a" / "x.jpg"), _grey(tmp_path / "b" / "x.png")
    assert main(["parse", str(first), str(second), "--out", str(tmp_path / "out")]) == 2
    assert f"{first} and {second} would both be written as 'x'" in capsys.readouterr().err


def test_many_photos_get_a_progress_bar_on_stderr(tmp_path: Path, capsys) -> None:
    for i in range(5):
        _grey(tmp_path / "many" / f"{i}.png")
    assert main(["detect", str(tmp_path / "many"), "--out", str(tmp_path / "faces.json")]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines and lines[-1].startswith("detect 5/5 [") and "100%" in lines[-1]
    assert len(lines) == 5 and "wrote" in captured.out and "5/5" not in captured.out
    assert main(["detect", *(str(tmp_path / "many" / f"{i}.png") for i in range(3)), "--out", str(tmp_path / "f.json")]) == 0
    assert capsys.readouterr().err == ""  # a few photos: no bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_redraws_in_place_on_a_terminal() -> None:
    stream = _Terminal()
    progress = Progress(4, "parse", stream=stream, width=8)
    progress.step()
    progress.message("facehub: b.jpg: corrupt")
    for _ in range(3):
        progress.step()
    text = stream.getvalue()
    assert text.startswith("\rparse 1/4 [##......]  25%")
    assert "\r\x1b[Kfacehub: b.jpg: corrupt\n" in text
    assert text.endswith("\n") and "\rparse 4/4 [########] 100%" in text


def test_the_cli_writes_what_result_save_writes(tmp_path: Path) -> None:
    import facehub

    assert main(["parse", str(PAIR), "--out", str(tmp_path / "cli")]) == 0
    paths = facehub.load("bisenet")(str(PAIR)).save(tmp_path / "py", PAIR.stem)
    assert [p.name for p in paths] == ["two_people.png", "labels.json"]
    for path in paths:
        assert (tmp_path / "cli" / path.name).read_bytes() == path.read_bytes()
