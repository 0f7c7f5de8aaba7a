"""The app as users reach it: every API name through gradio_client, and the Parsing tab in Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "astronaut.jpg")
PAIR = str(ROOT / "examples" / "two_people.jpg")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", FACEHUB_DEVICE="cpu")
    log = (tmp_path_factory.mktemp("app") / "app.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"app.py exited with {process.returncode}; see {log.name}")
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(1)
    else:
        process.kill()
        pytest.fail("app.py did not answer within 180 s")
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_every_public_endpoint_has_its_api_name(client) -> None:
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/parse", "/landmarks", "/reconstruct", "/edit", "/detect"} <= names


def test_detect_finds_both_people(client) -> None:
    from gradio_client import handle_file

    overlay, faces = client.predict(handle_file(PAIR), api_name="/detect")
    assert Path(overlay).is_file()
    assert len(faces) == 2
    assert all(len(face["points"]) == 5 for face in faces)


def test_parse_returns_masks_and_legend(client) -> None:
    from gradio_client import handle_file

    overlay, legend, crops, files, note = client.predict(
        handle_file(EXAMPLE), "bisenet", 0.5, [], api_name="/parse"
    )
    assert Path(overlay).is_file() and Path(legend).is_file()
    assert len(crops) == 1 and "1" in note
    downloads = {Path(f).name: Path(f) for f in files}  # facehub.export's layout, named after the upload
    assert sorted(downloads) == ["astronaut.json", "astronaut.png", "astronaut_colour.png", "astronaut_overlay.png", "labels.json"]
    from PIL import Image

    mask = Image.open(downloads["astronaut.png"])
    assert mask.mode == "L" and mask.size == Image.open(EXAMPLE).size  # the CLI's class-index mask
    assert json.loads(downloads["labels.json"].read_text())["model"] == "bisenet"


def test_landmarks_returns_68_points_per_face(client) -> None:
    from gradio_client import handle_file

    overlay, crops, files, points, note = client.predict(handle_file(PAIR), "pipnet", False, True, api_name="/landmarks")
    assert Path(overlay).is_file()
    assert len(points) == 2 and all(len(face["points"]) == 68 for face in points)
    assert sorted(Path(f).name for f in files) == ["two_people.csv", "two_people.json", "two_people_overlay.png"]
    assert json.loads(Path([f for f in files if f.endswith(".json")][0]).read_text()) == points  # the CLI's entry


def test_reconstruct_returns_a_glb_and_pose(client) -> None:
    from gradio_client import handle_file

    mesh, overlay, depth, pose, files, note = client.predict(handle_file(EXAMPLE), "prnet", api_name="/reconstruct")
    assert Path(mesh).read_bytes()[:4] == b"glTF"
    assert len(pose["data"]) == 1 and len(pose["data"][0]) == 4
    assert sorted(Path(f).name for f in files) == ["astronaut.glb", "astronaut.json", "astronaut_obj.zip", "astronaut_overlay.png"]
    faces = json.loads(Path([f for f in files if f.endswith(".json")][0]).read_text())["faces"]
    assert len(faces[0]["landmarks3d"]) == 68


def test_edit_moves_hair(client) -> None:
    from gradio_client import handle_file

    result, source_mask, target_mask, download, note = client.predict(
        handle_file(EXAMPLE), handle_file(str(ROOT / "examples" / "grace_hopper.jpg")), ["hair"], "blend", api_name="/edit"
    )
    from PIL import Image

    assert Image.open(result).size == Image.open(ROOT / "examples" / "grace_hopper.jpg").size
    assert Path(download).name == "grace_hopper_edited.png"


def test_corrupt_upload_gets_a_message_not_a_traceback(client, tmp_path) -> None:
    from gradio_client import handle_file

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(Path(EXAMPLE).read_bytes()[:2000])
    with pytest.raises(Exception) as error:
        client.predict(handle_file(str(broken)), api_name="/detect")
    assert "corrupt" in str(error.value).lower() or "truncated" in str(error.value).lower()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (.ci/run installs it)")
def test_parsing_tab_in_a_browser(app_url) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page()
        page.goto(app_url)
        page.get_by_role("tab", name="Parsing").click()
        page.locator("input[type=file]").first.set_input_files(EXAMPLE)
        page.get_by_role("button", name="Parse", exact=True).click()
        page.get_by_text("Found 1 face(s)").wait_for(timeout=120_000)
        shown = page.locator("img[src*='gradio_api/file=']")
        # the upload, the overlay, the legend and one face crop
        assert shown.count() >= 4
        assert any(shown.nth(i).get_attribute("alt") == "face 1" for i in range(shown.count()))
        browser.close()
