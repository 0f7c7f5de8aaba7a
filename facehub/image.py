"""Decoding and validation of user images.

``load_image`` accepts a path, bytes, a PIL image or a numpy array and
returns an RGB uint8 array of shape (H, W, 3), upright (EXIF orientation
applied). Grayscale, palette, RGBA/LA (composited on white), CMYK and 16-bit
or float images are converted. Anything else raises ``ImageError`` with a
message that says what to do. ``as_rgb_array`` (what every predictor and the
detector call) hands an (H, W, 3) uint8 array back untouched and loads
anything else with ``load_image``.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facehub.errors import ImageError

MAX_PIXELS = int(os.environ.get("FACEHUB_MAX_PIXELS", 40_000_000))  # 40 MP, e.g. 8000 x 5000
MIN_SIDE = 16
SUPPORTED = "JPEG, PNG, WebP, BMP, TIFF or GIF"

ImageInput = str | os.PathLike | bytes | Image.Image | np.ndarray


def _open(source: ImageInput) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not len(source):
            raise ImageError("The image file is empty (0 bytes). Upload a " + SUPPORTED + " file.")
        return Image.open(io.BytesIO(bytes(source)))
    if not isinstance(source, (str, os.PathLike)):
        raise ImageError(
            f"Expected an image (a path, bytes, a PIL image or a numpy array); got {type(source).__name__}. "
            f"Upload a {SUPPORTED} file."
        )
    path = Path(source)
    if not path.is_file():
        raise ImageError(f"No such image file: {path}. Check the path.")
    if path.stat().st_size == 0:
        raise ImageError(f"{path.name} is empty (0 bytes). Upload a {SUPPORTED} file.")
    return Image.open(path)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() if array.size else 1.0
        scale = 65535.0 if peak > 255 else 255.0
        if image.mode == "F" and peak <= 1.0:
            scale = 1.0
        array = np.clip(array / scale * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(array, "L").convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _from_array(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageError(f"Expected an image array of shape (H, W[, 1|3|4]); got {array.shape}.")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    if not (array.dtype == np.bool_ or np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ImageError(f"Expected an image array of integers, floats or booleans; got dtype {array.dtype}.")
    if array.dtype != np.uint8:
        floating = np.issubdtype(array.dtype, np.floating) or array.dtype == np.bool_
        peak = 65535.0 if array.dtype == np.uint16 else (1.0 if floating else 255.0)
        array = np.clip(array.astype(np.float64) / peak * 255.0, 0, 255).astype(np.uint8)
    if array.shape[2] == 4:
        return np.asarray(_to_rgb(Image.fromarray(array, "RGBA")), dtype=np.uint8).copy()
    return np.ascontiguousarray(array)


def _check_size(width: int, height: int, label: str) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{label} is {width}x{height} = {width * height / 1e6:.0f} MP, over the {MAX_PIXELS / 1e6:.0f} MP limit. "
            "Downscale it (or set FACEHUB_MAX_PIXELS) and try again."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"{label} is only {width}x{height} pixels; use an image at least {MIN_SIDE} px on each side.")


def load_image(source: ImageInput, name: str | None = None) -> np.ndarray:
    """Decode ``source`` to an upright RGB uint8 array (H, W, 3)."""
    label = name or (Path(source).name if isinstance(source, (str, os.PathLike)) else "The image")
    if isinstance(source, np.ndarray):
        array = _from_array(source)
        _check_size(array.shape[1], array.shape[0], label)
        return array
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            # PIL warns between MAX_PIXELS and twice that: _check_size refuses those before decoding,
            # with the size and the limit in the message; beyond twice, PIL itself refuses to open.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = _open(source)
            _check_size(image.width, image.height, label)
            image.load()
            image = ImageOps.exif_transpose(image) or image
            rgb = _to_rgb(image)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{label} declares more than {MAX_PIXELS / 1e6:.0f} MP (a possible decompression bomb); refused. "
            "Downscale it (or set FACEHUB_MAX_PIXELS) and try again."
        ) from None
    except UnidentifiedImageError:
        raise ImageError(f"{label} is not an image FaceHub can read. Use a {SUPPORTED} file.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"{label} is corrupt or truncated ({error}). Re-export or re-download it.") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    return np.asarray(rgb, dtype=np.uint8).copy()


def as_rgb_array(source: ImageInput) -> np.ndarray:
    """``source`` itself if it already is an (H, W, 3) uint8 RGB array (no copy, no checks), else ``load_image(source)``."""
    if isinstance(source, np.ndarray) and source.dtype == np.uint8 and source.ndim == 3 and source.shape[2] == 3:
        return source
    return load_image(source)


def downscale_for_detection(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Return a copy whose longer side is at most ``max_side`` and the factor (<= 1) it was scaled by."""
    height, width = image.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    if factor >= 1.0:
        return image, 1.0
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = Image.fromarray(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(small), factor
