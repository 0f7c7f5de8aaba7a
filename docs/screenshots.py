"""Refresh the README's pictures: each tab of the running app, run on an example photo, in headless Chromium.

    python docs/screenshots.py     # docs/screenshot.jpg (the Parsing tab) and docs/tab_*.jpg (needs /usr/bin/chromium)

The app is served in this process (``tests.app_server.serve_app``, CPU); the page is 1400 px wide, so the
pictures show it as a laptop screen does. Each JPEG is kept under ~200 KB.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
WIDTH = 1400
MAX_BYTES = 200_000
EXAMPLES = ROOT / "examples"
# (tab, photos to upload in its panel, button, text that says it is done, file name, picture height in px)
TABS = [
    ("Parsing", ["two_people.jpg"], "Parse", "Found 2 face(s)", "screenshot.jpg", 1000),
    ("Landmarks", ["two_people.jpg"], "Locate landmarks", "Found 2 face(s)", "tab_landmarks.jpg", 900),
    ("3D reconstruction", ["astronaut.jpg"], "Reconstruct", "Found 1 face(s)", "tab_reconstruction.jpg", 1000),
    ("Component editing", ["astronaut.jpg", "grace_hopper.jpg"], "Edit", "with the **blend** method", "tab_editing.jpg", 1250),
]


def save_jpeg(png: bytes, path: Path, height: int) -> None:
    """The top ``height`` px of a screenshot as a JPEG under ``MAX_BYTES`` (quality lowered step by step)."""
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    picture = picture.crop((0, 0, picture.width, min(height, picture.height)))
    for quality in (88, 82, 76, 70, 64, 58):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
        if buffer.tell() <= MAX_BYTES:
            break
    path.write_bytes(buffer.getvalue())
    print(f"{path.relative_to(ROOT)}: {picture.width}x{picture.height}, q{quality}, {buffer.tell() // 1000} kB")


def main() -> None:
    import torch
    from playwright.sync_api import sync_playwright

    from tests.app_server import serve_app

    torch.set_num_threads(1)
    with serve_app() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
        page.goto(url)
        for tab, photos, button, done, name, height in TABS:
            page.get_by_role("tab", name=tab, exact=True).click()
            panel = page.get_by_role("tabpanel").filter(visible=True)
            inputs = panel.locator("input[type=file]")
            for index, photo in enumerate(photos):
                inputs.nth(index).set_input_files(str(EXAMPLES / photo))
                panel.locator("img[src*='gradio_api/file=']").nth(index).wait_for(timeout=30_000)  # uploaded
            panel.get_by_role("button", name=button, exact=True).click()
            panel.get_by_text(done.replace("**", "")).first.wait_for(timeout=180_000)
            page.wait_for_timeout(3000)  # images and the mesh viewer finish drawing
            page.mouse.move(0, 0)
            save_jpeg(page.screenshot(full_page=True), ROOT / "docs" / name, height)
        browser.close()


if __name__ == "__main__":
    main()
