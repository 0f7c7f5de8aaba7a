"""What the tab handlers hand to Gradio: every picture as a file of its own, never an array or a PIL image.

Gradio saves a returned array under a hash of its bytes and rewrites that file on every call, so when 20 users ran
the same example at once one of them downloaded a gallery crop while the next call was rewriting it and got 0 bytes
(``test_app_load.py`` failed in CI that way). A returned path is copied into Gradio's cache atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.app_server import ROOT, app_environment

PHOTO = str(ROOT / "examples" / "two_people.jpg")


@pytest.fixture(scope="module", autouse=True)
def app_env():
    with app_environment():
        yield


def pictures_in(value) -> list:
    """Every array or PIL image anywhere inside a handler's return value."""
    if isinstance(value, (np.ndarray, Image.Image)):
        return [value]
    if isinstance(value, dict):
        return [p for v in value.values() for p in pictures_in(v)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in pictures_in(v)]
    return []


def image_files_in(value) -> list[Path]:
    """Every path to an existing picture file inside a handler's return value."""
    if isinstance(value, str) and value.endswith((".jpg", ".png")) and Path(value).is_file():
        return [Path(value)]
    if isinstance(value, dict):
        return [p for v in value.values() for p in image_files_in(v)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in image_files_in(v)]
    return []


def handler_outputs():
    from apps import editing, landmarks, parsing, reconstruction

    yield "landmarks", landmarks.landmarks(PHOTO, "pipnet", False, True)
    yield "parse", parsing.parse(PHOTO, "bisenet", 0.5, None)
    yield "detect", parsing.detect(PHOTO)
    yield "reconstruct", reconstruction.reconstruct(PHOTO, "prnet")
    yield "edit", editing.edit(PHOTO, str(ROOT / "examples" / "astronaut.jpg"), ["eyes"], "blend")
    yield "load_mask", editing.load_mask(PHOTO)


def test_every_picture_a_handler_returns_is_a_file() -> None:
    for name, output in handler_outputs():
        assert pictures_in(output) == [], f"/{name} returned an in-memory picture"
        files = image_files_in(output)
        assert files, f"/{name} returned no picture file"
        for path in files:
            with Image.open(path) as picture:
                assert min(picture.size) > 0


def test_gallery_crops_are_one_file_per_face() -> None:
    from apps import landmarks

    crops = landmarks.landmarks(PHOTO, "pipnet", False, True)[1]
    assert [caption for _, caption in crops] == ["face 1", "face 2"]
    assert len({path for path, _ in crops}) == 2


def test_gallery_numbers_faces_by_size_as_the_editing_tab_does(tmp_path) -> None:
    """The detector lists faces by score; the gallery shows the largest first, captioned with its editing number."""
    from apps import common
    from facehub.detection.result import Face

    faces = [Face(np.array([0.0, 0, side, side]), score, np.zeros((5, 2))) for side, score in ((10, 0.99), (40, 0.9), (20, 0.8))]
    crops = [np.full((8, 8, 3), shade, np.uint8) for shade in (10, 120, 240)]  # one grey per face
    shown = common.gallery(crops, faces, tmp_path, "photo")
    assert [caption for _, caption in shown] == ["face 1", "face 2", "face 3"]
    shades = [int(np.asarray(Image.open(path)).mean().round()) for path, _ in shown]
    assert [abs(shade - want) <= 3 for shade, want in zip(shades, (120, 240, 10))] == [True] * 3


def test_edit_takes_the_face_numbered_by_size_and_refuses_one_past_the_photo() -> None:
    """The tab's face numbers reach the editor; a number the photo lacks gets the CLI's words, a fraction is refused."""
    import gradio as gr

    from apps import editing

    source = str(ROOT / "examples" / "astronaut.jpg")
    *_, note, _ = editing.edit(source, PHOTO, ["eyes"], "blend", 1, 2)
    assert "onto target face 2" in note
    with pytest.raises(gr.Error) as info:
        editing.edit(source, PHOTO, ["eyes"], "blend", 1, 3)
    assert "The target photo has 2 faces, so there is no face 3. Choose a face number from 1" in str(info.value.message)
    with pytest.raises(gr.Error, match="whole numbers from 1"):
        editing.edit(source, PHOTO, ["eyes"], "blend", 1.5, 1)
