"""The app as users reach it (``app_url``: tests/conftest.py): every API name through gradio_client, and the
Parsing tab in Chromium. Uploads: test_app_uploads.py; 20 users at once: test_app_load.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "astronaut.jpg")
PAIR = str(ROOT / "examples" / "two_people.jpg")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


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
    from PIL import Image

    overlay, legend, crops, files, note = client.predict(
        handle_file(EXAMPLE), "bisenet", 0.5, [], api_name="/parse"
    )
    assert len(crops) == 1 and "1" in note
    downloads = {Path(f).name: Path(f) for f in files}  # facehub.export's layout, named after the upload
    assert sorted(downloads) == ["astronaut.json", "astronaut.png", "astronaut_colour.png", "astronaut_overlay.png", "labels.json"]
    mask = Image.open(downloads["astronaut.png"])
    assert mask.mode == "L" and mask.size == Image.open(EXAMPLE).size  # the CLI's class-index mask
    labels = json.loads(downloads["labels.json"].read_text())
    assert labels["model"] == "bisenet"
    # the page gets a JPEG preview at full size; the lossless overlay is the PNG download
    assert Image.open(overlay).format == "JPEG" and Image.open(overlay).size == mask.size
    assert Image.open(downloads["astronaut_overlay.png"]).format == "PNG"
    # the legend: one chip (swatch + name) per class but the background, those in the photo at full opacity
    assert legend.count('class="fh-chip"') == len(labels["labels"]) - 1
    assert ">background</span>" not in legend and ">hair</span>" in legend and "opacity:1.0" in legend


def test_parse_legend_follows_the_ticked_classes(client) -> None:
    from gradio_client import handle_file

    _, legend, *_ = client.predict(handle_file(EXAMPLE), "bisenet", 0.5, ["hair", "nose"], api_name="/parse")
    assert legend.count('class="fh-chip"') == 2 and ">hair</span>" in legend and ">nose</span>" in legend


def test_landmarks_returns_68_points_per_face(client) -> None:
    from gradio_client import handle_file

    overlay, crops, files, points, note = client.predict(handle_file(PAIR), "pipnet", False, True, api_name="/landmarks")
    from PIL import Image

    assert Image.open(overlay).format == "JPEG" and Image.open(overlay).size == Image.open(PAIR).size
    assert len(points) == 2 and all(len(face["points"]) == 68 for face in points)
    assert sorted(Path(f).name for f in files) == ["two_people.csv", "two_people.json", "two_people_overlay.png"]
    assert json.loads(Path([f for f in files if f.endswith(".json")][0]).read_text()) == points  # the CLI's entry


def test_reconstruct_returns_a_glb_and_pose(client) -> None:
    from gradio_client import handle_file

    mesh, overlay, depth, pose, files, note = client.predict(handle_file(EXAMPLE), "prnet", api_name="/reconstruct")
    assert Path(mesh).read_bytes()[:4] == b"glTF"
    assert len(pose["data"]) == 1 and len(pose["data"][0]) == 4
    assert sorted(Path(f).name for f in files) == ["astronaut.glb", "astronaut.json", "astronaut_obj.zip", "astronaut_overlay.png"]
    data = json.loads(Path([f for f in files if f.endswith(".json")][0]).read_text())
    assert len(data["faces"][0]["landmarks3d"]) == 68
    # the table shows the JSON's pose (yaw, pitch, roll), whose convention the JSON states
    assert pose["data"][0][1:] == pytest.approx([data["faces"][0]["pose"][k] for k in ("yaw", "pitch", "roll")], abs=0.051)
    assert "Pose_Para" in data["convention"]["matches"]


def test_edit_moves_hair(client) -> None:
    from gradio_client import handle_file

    result, source_mask, target_mask, download, note, (before, after) = client.predict(
        handle_file(EXAMPLE), handle_file(str(ROOT / "examples" / "grace_hopper.jpg")), ["hair"], "blend", api_name="/edit"
    )
    from PIL import Image

    assert Image.open(result).size == Image.open(ROOT / "examples" / "grace_hopper.jpg").size
    assert Image.open(result).format == "JPEG" and Image.open(download).format == "PNG"
    assert Path(download).name == "grace_hopper_edited.png"
    # the comparison slider: the untouched target, then the result
    hopper = np.asarray(Image.open(ROOT / "examples" / "grace_hopper.jpg").convert("RGB"), dtype=np.float64)
    assert np.abs(np.asarray(Image.open(before), dtype=np.float64) - hopper).mean() < 3  # JPEG of the target
    assert np.array_equal(np.asarray(Image.open(after)), np.asarray(Image.open(result)))


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (.ci/run installs it)")
def test_parsing_tab_in_a_browser(app_url) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        page.get_by_role("tab", name="Parsing").click()
        page.locator("input[type=file]").first.set_input_files(EXAMPLE)
        page.get_by_role("button", name="Parse", exact=True).click()
        page.get_by_text("Found 1 face(s)").wait_for(timeout=120_000)
        shown = page.locator("img[src*='gradio_api/file=']")
        # the upload, the overlay and one face crop
        assert shown.count() >= 3
        assert any(shown.nth(i).get_attribute("alt") == "face 1" for i in range(shown.count()))
        # the legend: chips with a visible swatch and a name at a readable size
        hair = page.locator(".fh-chip", has_text="hair").first
        hair.wait_for(timeout=10_000)
        assert page.locator(".fh-chip").count() >= 10
        assert float(hair.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 13
        assert hair.locator("span").first.bounding_box()["width"] >= 14
        # the faces JSON is open: every number shows without a click (a closed one shows the points as "Array(2)")
        page.get_by_role("button", name="Detect faces only", exact=True).click()
        holder = page.locator(".json-holder").first
        holder.get_by_text('"points"').wait_for(timeout=60_000)
        assert "Array(" not in holder.inner_text()
        browser.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (.ci/run installs it)")
def test_a_bad_upload_in_the_browser_shows_facehubs_message(app_url, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "page.png"
    page_file.write_text("<!DOCTYPE html><html><body>Not an image</body></html>")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url)
        page.locator("input[type=file]").first.set_input_files(str(page_file))
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="Parse", exact=True).click()
        page.get_by_text("page.png is not an image FaceHub can read").wait_for(timeout=60_000)
        assert page.get_by_text("Could not preprocess").count() == 0
        browser.close()
