"""The Gradio app served for tests, and the uploads a demanding user throws at it.

``serve_app()`` launches ``app.build_demo()`` in this process on a free 127.0.0.1 port (CPU, Hub offline) and
yields its URL. ``bad_uploads(folder)`` writes the eight files FaceHub must refuse with its own message (the
CLI's words); ``odd_uploads(folder)`` the eight unusual but valid photos it must read, each made from an example
photo with one face.
"""

from __future__ import annotations

import os
import socket
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "astronaut.jpg"
APP_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "FACEHUB_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def app_environment() -> Iterator[None]:
    """``APP_ENV`` set (CPU, Hub offline, no analytics) while inside; the previous values restored after."""
    previous = {key: os.environ.get(key) for key in APP_ENV}
    os.environ.update(APP_ENV)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def serve_app() -> Iterator[str]:
    """``app.build_demo()`` running on 127.0.0.1 (the launch options of ``python app.py``); yields its URL."""
    with app_environment():
        import app

        demo = app.build_demo()
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.LAUNCH_OPTIONS)
        try:
            yield f"http://127.0.0.1:{port}/"
        finally:
            demo.close()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bad_uploads(folder: Path) -> dict[str, Path]:
    """Eight files that are no usable photo, by kind: ``{kind: path}``."""
    folder.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes()
    bomb_header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
    contents: dict[str, tuple[str, bytes]] = {
        "empty": ("empty.jpg", b""),
        "text": ("notes.jpg", b"just some text, not a photo\n"),
        "html": ("page.png", b"<!DOCTYPE html><html><body><h1>Not an image</h1></body></html>\n"),
        "svg": ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle r="30"/></svg>'),
        "png_header_noise": ("noise.png", b"\x89PNG\r\n\x1a\n" + noise),
        "decompression_bomb": ("bomb.png", b"\x89PNG\r\n\x1a\n" + bomb_header
                               + _png_chunk(b"IDAT", zlib.compress(b"")) + _png_chunk(b"IEND", b"")),
        "truncated_jpeg": ("truncated.jpg", EXAMPLE.read_bytes()[:2000]),
    }
    paths = {kind: folder / name for kind, (name, _) in contents.items()}
    for kind, (_, data) in contents.items():
        paths[kind].write_bytes(data)
    paths["too_small"] = folder / "tiny.png"
    Image.new("RGB", (8, 8), (200, 100, 50)).save(paths["too_small"])
    return paths


def odd_uploads(folder: Path) -> dict[str, Path]:
    """Eight valid photos of one face in unusual encodings: ``{kind: path}``."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = Image.open(EXAMPLE).convert("RGB")
    paths = {
        "tiff_16_bit": folder / "sixteen_bit.tif", "cmyk_jpeg": folder / "cmyk.jpg", "animated_gif": folder / "animated.gif",
        "exif_rotated": folder / "exif_rotated.jpg", "grayscale": folder / "grey.png", "rgba": folder / "rgba.png",
        "webp": folder / "photo.webp", "palette_bmp": folder / "palette.bmp",
    }
    Image.fromarray(np.asarray(photo.convert("L"), dtype=np.uint16) * 257).save(paths["tiff_16_bit"])
    photo.convert("CMYK").save(paths["cmyk_jpeg"])
    photo.save(paths["animated_gif"], save_all=True, append_images=[photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)],
               duration=200, loop=0)
    exif = Image.Exif()
    exif[274] = 6  # stored turned a quarter anticlockwise; shown upright once rotated 90 degrees clockwise
    photo.rotate(90, expand=True).save(paths["exif_rotated"], exif=exif)
    photo.convert("L").save(paths["grayscale"])
    rgba = photo.convert("RGBA")
    rgba.putalpha(200)
    rgba.save(paths["rgba"])
    photo.save(paths["webp"])
    photo.convert("P", palette=Image.Palette.ADAPTIVE).save(paths["palette_bmp"])
    return paths
