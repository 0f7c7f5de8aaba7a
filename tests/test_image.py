"""``facehub.image.load_image``: formats, EXIF, modes, arrays, limits, and every failure as ``ImageError``."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import facehub.image as image_module
from facehub.errors import ImageError
from facehub.image import MIN_SIDE, as_rgb_array, downscale_for_detection, load_image

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def two_tone(width: int = 64, height: int = 48) -> Image.Image:
    """Left half red, right half blue (big flat areas survive lossy codecs)."""
    array = np.zeros((height, width, 3), np.uint8)
    array[:, : width // 2] = RED
    array[:, width // 2 :] = BLUE
    return Image.fromarray(array)


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def assert_color(pixel: np.ndarray, expected: tuple[int, int, int], tolerance: int = 12) -> None:
    assert np.abs(pixel.astype(int) - np.array(expected)).max() <= tolerance, (pixel, expected)


# --- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_formats_decode_from_bytes_and_path(fmt: str, tmp_path: Path) -> None:
    data = encode(two_tone(), fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    path = tmp_path / f"face.{fmt.lower()}"
    path.write_bytes(data)
    for source in (data, path, str(path)):
        array = load_image(source)
        assert array.shape == (48, 64, 3) and array.dtype == np.uint8 and array.flags.writeable
        assert_color(array[24, 8], RED)
        assert_color(array[24, 56], BLUE)


def test_animated_gif_gives_the_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), RED), Image.new("RGB", (32, 32), BLUE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    assert_color(load_image(buffer.getvalue())[16, 16], RED)


@pytest.mark.parametrize(("orientation", "rotate"), [(1, 0), (3, 2), (6, -1), (8, 1)])
def test_exif_orientation_is_applied(orientation: int, rotate: int) -> None:
    """Orientation 6 = rotate 90 degrees clockwise to view, 8 = counter-clockwise, 3 = 180."""
    source = np.zeros((40, 60, 3), np.uint8)
    source[:20, :20] = RED  # a marker in the top-left corner
    source[20:, 40:] = BLUE
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(Image.fromarray(source), "JPEG", quality=95, exif=exif.tobytes())
    array = load_image(data)
    expected = np.rot90(source, k=rotate)
    assert array.shape == expected.shape
    assert np.abs(array.astype(int) - expected.astype(int)).mean() < 6


# --- modes --------------------------------------------------------------------------------------


def test_grayscale_l() -> None:
    array = load_image(encode(Image.new("L", (20, 20), 100), "PNG"))
    assert (array == 100).all()


def test_la_and_rgba_are_composited_on_white() -> None:
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[:, :10] = (255, 0, 0, 255)  # opaque red
    rgba[:, 10:] = (255, 0, 0, 0)  # transparent: white
    rgba[0, 0] = (0, 0, 0, 128)  # half-transparent black over white: mid grey
    array = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert_color(array[5, 5], RED, 0)
    assert_color(array[5, 15], WHITE, 0)
    assert_color(array[0, 0], (127, 127, 127), 2)
    la = Image.fromarray(np.dstack([np.full((20, 20), 0, np.uint8), np.full((20, 20), 0, np.uint8)]), "LA")
    assert (load_image(encode(la, "PNG")) == 255).all()


def test_palette_with_and_without_transparency() -> None:
    palette = two_tone().convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    array = load_image(encode(palette, "PNG"))
    assert_color(array[10, 5], RED, 0) and assert_color(array[10, 60], BLUE, 0)
    transparent = palette.copy()
    transparent.info["transparency"] = palette.getpixel((0, 0))  # red becomes transparent
    array = load_image(encode(transparent, "PNG"))
    assert_color(array[10, 5], WHITE, 0)
    assert_color(array[10, 60], BLUE, 0)


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk(fmt: str) -> None:
    cmyk = Image.new("CMYK", (20, 20), (0, 255, 255, 0))  # red ink mix
    assert_color(load_image(encode(cmyk, fmt))[10, 10], RED, 20)


def test_16_bit_png_is_scaled_to_8_bit() -> None:
    values = np.array([[0, 32768, 65535]], np.uint16).repeat(20, 0).repeat(8, 1)  # 20 x 24
    image = Image.fromarray(values)
    assert image.mode.startswith("I;16")
    data = encode(image, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    array = load_image(data)
    assert array.shape == (20, 24, 3)
    assert tuple(array[0, [0, 8, 16], 0]) == (0, 127, 255)


def test_32_bit_int_and_float_modes() -> None:
    ints = Image.fromarray(np.array([[0, 1000, 65535]], np.int32).repeat(20, 0).repeat(8, 1))
    assert ints.mode == "I"
    assert tuple(load_image(encode(ints, "TIFF"))[0, [0, 8, 16], 1]) == (0, 3, 255)
    floats = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32).repeat(20, 0).repeat(8, 1))
    assert floats.mode == "F"
    assert tuple(load_image(encode(floats, "TIFF"))[0, [0, 8, 16], 2]) == (0, 127, 255)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "I", "I;16", "F"])
def test_pil_image_input_of_every_mode(mode: str) -> None:
    array = load_image(Image.new(mode, (17, 23)))
    assert array.shape == (23, 17, 3) and array.dtype == np.uint8


# --- numpy input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.full((20, 20, 3), 200, np.uint8), 200),
        (np.full((20, 20), 200, np.uint8), 200),
        (np.full((20, 20, 1), 200, np.uint8), 200),
        (np.full((20, 20, 3), 65535, np.uint16), 255),
        (np.full((20, 20, 3), 0.5, np.float32), 127),
        (np.full((20, 20, 3), 1.0, np.float64), 255),
        (np.full((20, 20, 3), 0.5, np.float16), 127),
        (np.full((20, 20, 3), 2.0, np.float32), 255),  # clipped
        (np.full((20, 20, 3), -1.0, np.float32), 0),  # clipped
        (np.full((20, 20, 3), 100, np.int32), 100),
        (np.full((20, 20, 3), 100, np.int64), 100),
        (np.ones((20, 20), bool), 255),
        (np.full((20, 20, 4), 255, np.uint8), 255),
        (np.full((20, 20, 4), 1.0, np.float32), 255),
    ],
    ids=lambda v: f"{v.dtype}{list(v.shape)}" if isinstance(v, np.ndarray) else str(v),
)
def test_numpy_dtypes(array: np.ndarray, expected: int) -> None:
    out = load_image(array)
    assert out.shape == (20, 20, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    assert (out == expected).all()


def test_rgba_array_is_composited_on_white() -> None:
    rgba = np.zeros((20, 20, 4), np.uint8)  # transparent black
    assert (load_image(rgba) == 255).all()


def test_as_rgb_array_passes_rgb_arrays_through_and_loads_the_rest(tmp_path: Path) -> None:
    rgb = np.zeros((20, 30, 3), np.uint8)
    assert as_rgb_array(rgb) is rgb
    rgba = np.zeros((20, 30, 4), np.uint8)  # uint8 but not RGB: composited on white like load_image does
    assert as_rgb_array(rgba).shape == (20, 30, 3) and (as_rgb_array(rgba) == 255).all()
    assert as_rgb_array(np.ones((20, 30, 3))).dtype == np.uint8
    two_tone().save(tmp_path / "a.png")
    assert np.array_equal(as_rgb_array(tmp_path / "a.png"), load_image(tmp_path / "a.png"))


def test_non_contiguous_array() -> None:
    array = np.zeros((40, 40, 3), np.uint8)[::2, ::2]
    array[:] = 7
    assert (load_image(array[..., ::-1]) == 7).all()


@pytest.mark.parametrize(
    "array",
    [np.zeros((20, 20, 2), np.uint8), np.zeros((1, 20, 20, 3), np.uint8), np.zeros(20, np.uint8),
     np.full((20, 20, 3), None, object), np.ones((20, 20, 3), complex), np.zeros((0, 0, 3), np.uint8)],
    ids=["2-channels", "4d", "1d", "object", "complex", "empty"],
)
def test_bad_arrays(array: np.ndarray) -> None:
    with pytest.raises(ImageError):
        load_image(array)


# --- failures -----------------------------------------------------------------------------------


def test_empty_bytes_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.jpg is empty"):
        load_image(tmp_path / "empty.jpg")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP"])
def test_truncated_files(fmt: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
    data = encode(Image.fromarray(noise), fmt)
    for cut in (len(data) // 2, 40):
        with pytest.raises(ImageError, match="corrupt or truncated|not an image"):
            load_image(data[:cut], name="upload.bin")


@pytest.mark.parametrize("data", [b"hello, I am not an image", b"%PDF-1.4\n" + b"0" * 100, bytes(range(256))])
def test_non_image_bytes(data: bytes, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"not an image FaceHub can read.*JPEG, PNG"):
        load_image(data)
    (tmp_path / "notes.png").write_bytes(data)
    with pytest.raises(ImageError, match=r"notes\.png is not an image"):
        load_image(tmp_path / "notes.png")


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` but holds one empty IDAT: a decompression-bomb header."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(100_000, 100_000), (9_000, 5_000), (200_000, 300)])
def test_decompression_bomb_headers(size: tuple[int, int]) -> None:
    """Declared size far over, just over (PIL warns) and over in one dimension: refused before decoding."""
    previous = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError, match=r"MP|decompression bomb") as info:
        load_image(png_header(*size))
    assert "Downscale" in str(info.value)
    assert Image.MAX_IMAGE_PIXELS == previous  # the global limit is restored


def test_pixel_limit_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image_module, "MAX_PIXELS", 64 * 64 - 1)
    with pytest.raises(ImageError, match=r"64x64.*FACEHUB_MAX_PIXELS"):
        load_image(encode(Image.new("RGB", (64, 64)), "PNG"))
    with pytest.raises(ImageError, match="64x64"):
        load_image(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ImageError, match="64x64"):
        load_image(Image.new("RGB", (64, 64)))
    assert load_image(np.zeros((63, 64, 3), np.uint8)).shape == (63, 64, 3)


@pytest.mark.parametrize("size", [(15, 100), (100, 15), (1, 1)])
def test_too_small(size: tuple[int, int]) -> None:
    for source in (encode(Image.new("RGB", size), "PNG"), np.zeros((size[1], size[0], 3), np.uint8)):
        with pytest.raises(ImageError, match=f"at least {MIN_SIDE} px"):
            load_image(source)


def test_missing_path_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"No such image file: .*nope\.jpg"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="No such image file"):
        load_image(tmp_path)


@pytest.mark.parametrize("source", [None, 42, [[1, 2], [3, 4]], {"path": "x.jpg"}])
def test_unsupported_input_types(source: object) -> None:
    with pytest.raises(ImageError, match="Expected an image"):
        load_image(source)  # type: ignore[arg-type]


def test_bytearray_and_memoryview() -> None:
    data = encode(two_tone(), "PNG")
    assert load_image(bytearray(data)).shape == load_image(memoryview(data)).shape == (48, 64, 3)


# --- properties ---------------------------------------------------------------------------------

MODES = ["RGB", "L", "LA", "RGBA", "P", "CMYK", "I;16", "I", "F", "1"]
FORMATS_FOR = {"RGB": "JPEG", "L": "PNG", "LA": "PNG", "RGBA": "WEBP", "P": "GIF", "CMYK": "TIFF",
               "I;16": "PNG", "I": "TIFF", "F": "TIFF", "1": "BMP"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(MIN_SIDE, 400),
    height=st.integers(MIN_SIDE, 400),
    mode=st.sampled_from(MODES),
    seed=st.integers(0, 2**16),
)
def test_any_size_and_mode_decodes_to_rgb(width: int, height: int, mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8)).convert(mode)
    for source in (image, encode(image, FORMATS_FOR[mode])):
        array = load_image(source)
        assert array.shape == (height, width, 3) and array.dtype == np.uint8


_VALID_PNG = encode(two_tone(40, 30), "PNG")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_damaged_files_raise_only_image_error(data: st.DataObject) -> None:
    """Truncations and byte flips of a valid PNG either decode or raise ImageError: never anything else."""
    damaged = bytearray(_VALID_PNG[: data.draw(st.integers(0, len(_VALID_PNG)), label="cut")])
    for _ in range(data.draw(st.integers(0, 4), label="flips")):
        if damaged:
            index = data.draw(st.integers(0, len(damaged) - 1), label="index")
            damaged[index] = data.draw(st.integers(0, 255), label="value")
    try:
        array = load_image(bytes(damaged))
    except ImageError:
        return
    assert array.shape == (30, 40, 3)


@given(side=st.integers(MIN_SIDE, 3000), other=st.integers(MIN_SIDE, 3000), max_side=st.integers(64, 1024))
@settings(max_examples=20, deadline=None)
def test_downscale_for_detection(side: int, other: int, max_side: int) -> None:
    image = np.zeros((side, other, 3), np.uint8)
    small, factor = downscale_for_detection(image, max_side)
    assert 0 < factor <= 1
    assert max(small.shape[:2]) <= max_side + 1
    if max(side, other) <= max_side:
        assert small is image and factor == 1.0
    else:
        assert abs(small.shape[0] - side * factor) <= 1 and abs(small.shape[1] - other * factor) <= 1
