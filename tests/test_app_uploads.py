"""Uploads through gradio_client reach FaceHub's loader untouched: every bad file on every image endpoint gets
FaceHub's own message (the CLI's words), never Gradio's "Could not preprocess ...", and the odd but valid
photos all work."""

from __future__ import annotations

from pathlib import Path

import pytest

from facehub.errors import ImageError
from facehub.image import load_image
from tests.app_server import EXAMPLE, bad_uploads, odd_uploads

BAD_KINDS = ["empty", "text", "html", "svg", "png_header_noise", "decompression_bomb", "truncated_jpeg", "too_small"]
ODD_KINDS = ["tiff_16_bit", "cmyk_jpeg", "animated_gif", "exif_rotated", "grayscale", "rgba", "webp", "palette_bmp"]


def _arguments(endpoint: str, upload, other) -> tuple:
    """The inputs of each image endpoint with ``upload`` as its (first) photo."""
    return {
        "/detect": (upload,),
        "/parse": (upload, "bisenet", 0.5, []),
        "/landmarks": (upload, "pipnet", False, True),
        "/reconstruct": (upload, "prnet"),
        "/edit": (upload, other, ["hair"], "blend"),
        "/edit_mask": (upload, other, None),
    }[endpoint]


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    return bad_uploads(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def odd(tmp_path_factory) -> dict[str, Path]:
    return odd_uploads(tmp_path_factory.mktemp("odd"))


def test_the_bad_files_are_all_refused_by_the_loader(bad: dict[str, Path]) -> None:
    assert sorted(bad) == sorted(BAD_KINDS)
    for path in bad.values():
        with pytest.raises(ImageError):
            load_image(path)


@pytest.mark.parametrize("endpoint", ["/detect", "/parse", "/landmarks", "/reconstruct", "/edit", "/edit_mask"])
@pytest.mark.parametrize("kind", BAD_KINDS)
def test_a_bad_upload_gets_facehubs_message(client, bad: dict[str, Path], endpoint: str, kind: str) -> None:
    from gradio_client import handle_file

    with pytest.raises(ImageError) as expected:
        load_image(bad[kind], name=bad[kind].name)  # what the CLI prints after "facehub: PATH: "
    with pytest.raises(Exception) as error:
        client.predict(*_arguments(endpoint, handle_file(str(bad[kind])), handle_file(str(EXAMPLE))), api_name=endpoint)
    message = str(error.value)
    assert "Could not preprocess" not in message and "Traceback" not in message
    assert str(expected.value) in message


def test_a_data_url_upload_is_saved_as_sent(tmp_path: Path) -> None:
    """Clipboard or webcam images may arrive as data URLs: their bytes reach the loader undecoded."""
    import base64

    from gradio.data_classes import ImageData

    from apps.common import upload_path

    data = Path(EXAMPLE).read_bytes()
    url = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    path = upload_path(str(tmp_path), ImageData(url=url, orig_name="pasted.jpg"))
    assert Path(path).read_bytes() == data and Path(path).name == "pasted.jpg"
    assert upload_path(str(tmp_path), ImageData(path=str(EXAMPLE))) == str(EXAMPLE)
    assert upload_path(str(tmp_path), None) is None


def test_a_bad_target_is_named_in_the_message(client, bad: dict[str, Path]) -> None:
    from gradio_client import handle_file

    with pytest.raises(Exception) as error:
        client.predict(handle_file(str(EXAMPLE)), handle_file(str(bad["html"])), ["hair"], "blend", api_name="/edit")
    assert "page.png is not an image FaceHub can read" in str(error.value)


@pytest.mark.parametrize("kind", ODD_KINDS)
def test_an_odd_but_valid_photo_works(client, odd: dict[str, Path], kind: str) -> None:
    """Decoded by FaceHub (16-bit scaled, CMYK converted, first GIF frame, EXIF applied, alpha on white)."""
    from gradio_client import handle_file
    from PIL import Image

    overlay, faces = client.predict(handle_file(str(odd[kind])), api_name="/detect")
    assert Image.open(overlay).size == (512, 512) and len(faces) >= 1
    box = faces[0]["box"]  # the most confident face
    assert 150 < (box[0] + box[2]) / 2 < 300 and 50 < (box[1] + box[3]) / 2 < 250  # upright: the face up top


def test_odd_photos_work_on_the_model_endpoints(client, odd: dict[str, Path]) -> None:
    from gradio_client import handle_file

    _, _, _, points, _ = client.predict(handle_file(str(odd["tiff_16_bit"])), "pipnet", False, True, api_name="/landmarks")
    assert len(points) == 1
    _, _, crops, _, _ = client.predict(handle_file(str(odd["cmyk_jpeg"])), "bisenet", 0.5, [], api_name="/parse")
    assert len(crops) == 1
    _, _, _, pose, _, _ = client.predict(handle_file(str(odd["exif_rotated"])), "prnet", api_name="/reconstruct")
    assert abs(pose["data"][0][3]) < 30  # its most confident face is upright: a small roll
