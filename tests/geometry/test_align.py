"""Alignment: the similarity fit, the pixel-centre convention of ``warp_affine``, and align -> un-align.

The real-face tests use 68-point faces from ``ytf68`` (``facehub.train.data.data_root()``) and are
skipped only when that data is absent.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from facehub.geometry.align import (
    TEMPLATE_5,
    CropSpec,
    alignment_matrix,
    crop_faces,
    invert_affine,
    paste_back,
    rescale_matrices,
    similarity_transform,
    transform_points,
    warp_affine,
)
from facehub.geometry.five_points import five_points_from_68
from facehub.image import load_image
from facehub.train.data import data_root


def similarity(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    """2x3 matrix of a rotation by ``angle`` radians, scaling and translation."""
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    return np.array([[c, -s, tx], [s, c, ty]])


@pytest.fixture(scope="module")
def ytf_faces() -> list[tuple[np.ndarray, np.ndarray]]:
    """A few (image, points68) pairs from ytf68, spread over the file."""
    root = data_root() / "ytf68"
    if not (root / "landmarks68.csv").is_file():
        pytest.skip(f"ytf68 is not available under {root}")
    from facehub.train.data.ytf68 import read_ytf68

    samples = read_ytf68(root)
    picked = samples[:: max(1, len(samples) // 6)][:6]
    return [(load_image(s.path), s.points) for s in picked]


# --- similarity fit -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    scale=st.floats(0.05, 20),
    angle=st.floats(-math.pi, math.pi),
    tx=st.floats(-500, 500),
    ty=st.floats(-500, 500),
    seed=st.integers(0, 1000),
)
def test_similarity_transform_recovers_a_known_similarity(
    scale: float, angle: float, tx: float, ty: float, seed: int
) -> None:
    src = np.random.default_rng(seed).uniform(-100, 100, (5, 2))
    truth = similarity(scale, angle, tx, ty)
    fitted = similarity_transform(src, transform_points(src, truth))
    np.testing.assert_allclose(fitted, truth, atol=1e-6 * max(1.0, scale), rtol=1e-6)


def test_similarity_transform_never_reflects() -> None:
    """A mirrored (anisotropic) point set is fitted by a proper rotation, never by a reflection."""
    src = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 1.0], [4.0, 1.0], [2.0, 3.0]])
    mirrored = src * np.array([-1.0, 1.0])
    fitted = similarity_transform(src, mirrored)
    assert np.linalg.det(fitted[:, :2]) > 0
    rotation = fitted[:, :2] / math.sqrt(np.linalg.det(fitted[:, :2]))
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(2), atol=1e-9)


def test_similarity_transform_is_least_squares_under_noise() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 200, (68, 2))
    truth = similarity(1.7, 0.3, 12.0, -8.0)
    dst = transform_points(src, truth) + rng.normal(0, 0.5, (68, 2))
    fitted = similarity_transform(src, dst)
    residual = np.abs(transform_points(src, fitted) - dst).mean()
    assert residual < 1.0
    np.testing.assert_allclose(fitted, truth, atol=0.05 * 1.7 + 0.5)


def test_invert_affine_and_transform_points() -> None:
    matrix = similarity(2.0, 0.5, 3.0, 4.0)
    points = np.random.default_rng(1).uniform(0, 100, (10, 3))  # x, y, z: z is carried along
    back = transform_points(transform_points(points, matrix), invert_affine(matrix))
    np.testing.assert_allclose(back, points, atol=1e-9)
    assert transform_points(points[:, :2], matrix).shape == (10, 2)


# --- crop specification -------------------------------------------------------------------------


def test_template_and_crop_spec() -> None:
    spec = CropSpec(112)
    np.testing.assert_allclose(spec.template(), TEMPLATE_5 * 112 - 0.5)
    zoomed = CropSpec(112, zoom=0.5).template()
    centre = np.array([55.5, 55.5])
    np.testing.assert_allclose(zoomed - centre, (spec.template() - centre) * 0.5, atol=1e-9)
    shifted = CropSpec(100, shift_y=0.1).template()
    np.testing.assert_allclose(shifted - CropSpec(100).template(), [[0.0, 10.0]] * 5, atol=1e-9)
    from_config = CropSpec.from_config({"input_size": 256, "crop": {"zoom": 0.8, "shift_y": 0.05}})
    assert from_config == CropSpec(256, 0.8, 0.05)
    assert CropSpec.from_config({"input_size": 64}) == CropSpec(64)


# --- warping conventions ------------------------------------------------------------------------


def test_warp_affine_identity_is_identity() -> None:
    images = torch.rand(2, 3, 21, 34)
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    for mode in ("bilinear", "nearest"):
        out = warp_affine(images, np.stack([identity, identity]), (21, 34), mode=mode)
        torch.testing.assert_close(out, images, atol=1e-5, rtol=0)


def test_warp_affine_integer_shift_and_outside_is_zero() -> None:
    image = torch.arange(20 * 30, dtype=torch.float32).reshape(1, 1, 20, 30)
    shift = np.array([[1.0, 0.0, 3.0], [0.0, 1.0, 2.0]])  # input (x, y) -> output (x + 3, y + 2)
    out = warp_affine(image, shift, (20, 30))
    torch.testing.assert_close(out[0, 0, 2:, 3:], image[0, 0, :-2, :-3], atol=1e-3, rtol=0)
    bleed = 1e-4 * float(image.max())  # float32 grid rounding at the border, nothing more
    assert out[0, 0, :2].abs().max() < bleed and out[0, 0, :, :3].abs().max() < bleed


def test_warp_affine_one_image_many_matrices() -> None:
    image = torch.rand(1, 3, 16, 16)
    matrices = np.stack([similarity(1.0, 0.0, 0.0, 0.0), similarity(0.5, 0.0, 0.0, 0.0)])
    out = warp_affine(image, matrices, (8, 8))
    assert out.shape == (2, 3, 8, 8)


def _blob_image(points: np.ndarray, height: int, width: int, sigma: float = 1.5) -> np.ndarray:
    """A uint8 RGB image with a Gaussian blob at each (sub-pixel) point, pixel-centre convention."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    canvas = np.zeros((height, width))
    for x, y in points:
        canvas = np.maximum(canvas, np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)))
    return np.repeat((canvas * 255).round().astype(np.uint8)[..., None], 3, axis=2)


def _centroid(channel: np.ndarray, around: np.ndarray, radius: int) -> np.ndarray:
    """Intensity-weighted (x, y) centroid of ``channel`` within ``radius`` of ``around``."""
    x0, y0 = np.round(around).astype(int)
    window = channel[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1].astype(np.float64)
    window = np.clip(window - 0.05 * window.max(), 0, None)
    ys, xs = np.mgrid[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1]
    return np.array([(xs * window).sum(), (ys * window).sum()]) / window.sum()


@pytest.mark.parametrize("spec", [CropSpec(112), CropSpec(256, zoom=0.8, shift_y=0.05)], ids=["112", "256-zoomed"])
def test_crop_pixels_match_transformed_points(spec: CropSpec) -> None:
    """What warp_affine draws at a point's transformed position is that point: the pixel conventions agree."""
    points5 = np.array([[40.3, 50.2], [80.7, 49.6], [60.1, 72.8], [45.5, 92.4], [76.2, 91.9]])
    image = _blob_image(points5, 140, 120)
    crops, matrices = crop_faces(image, points5[None], spec)
    crop = crops[0, 0].numpy()
    expected = transform_points(points5, matrices[0])
    scale = math.sqrt(abs(np.linalg.det(matrices[0][:, :2])))
    for point, target in zip(points5, expected):
        found = _centroid(crop, target, radius=max(3, int(4 * 1.5 * scale)))
        back = transform_points(found, invert_affine(matrices[0]))
        assert np.abs(back - point).max() < 0.25, (point, back)


# --- real faces ---------------------------------------------------------------------------------


def test_align_unalign_round_trips_real_points(ytf_faces: list[tuple[np.ndarray, np.ndarray]]) -> None:
    spec = CropSpec(256, zoom=0.8)
    for image, points68 in ytf_faces:
        matrix = alignment_matrix(five_points_from_68(points68), spec)
        in_crop = transform_points(points68, matrix)
        back = transform_points(in_crop, invert_affine(matrix))
        assert np.abs(back - points68).max() < 0.5
        # the aligned eyes and mouth land near the template, so the face is upright and centred
        assert np.abs(transform_points(five_points_from_68(points68), matrix) - spec.template()).max() < 0.12 * spec.size


def test_real_face_landmarks_survive_crop_and_paste_back(ytf_faces: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Blobs drawn at real landmarks are found in the crop where transform_points says, and map back within 0.5 px."""
    spec = CropSpec(128, zoom=0.8)
    checked = 0
    for image, points68 in ytf_faces[:3]:
        height, width = image.shape[:2]
        chosen = points68[[30, 36, 45, 48, 54]]  # nose tip, outer eye corners, mouth corners: well apart
        blobs = _blob_image(chosen, height, width, sigma=2.0)
        crops, matrices = crop_faces(blobs, five_points_from_68(points68)[None], spec)
        scale = math.sqrt(abs(np.linalg.det(matrices[0][:, :2])))
        for point, target in zip(chosen, transform_points(chosen, matrices[0])):
            if not (8 <= target[0] < spec.size - 8 and 8 <= target[1] < spec.size - 8):
                continue
            found = _centroid(crops[0, 0].numpy(), target, radius=max(3, int(3 * 2.0 * scale)))
            back = transform_points(found, invert_affine(matrices[0]))
            assert np.abs(back - point).max() < 0.5, (point, back)
            checked += 1
    assert checked >= 10


def test_crop_faces_and_paste_back_put_a_square_back(ytf_faces: list[tuple[np.ndarray, np.ndarray]]) -> None:
    image, points68 = ytf_faces[0]
    height, width = image.shape[:2]
    nose = np.round(points68[30]).astype(int)
    marked = image.copy() // 4
    x0, y0 = nose - 10
    marked[y0 : y0 + 20, x0 : x0 + 20] = 255
    spec = CropSpec(160, zoom=0.8)
    crops, matrices = crop_faces(marked, five_points_from_68(points68)[None], spec)
    assert crops.shape == (1, 3, 160, 160) and matrices.shape == (1, 2, 3)
    assert 0.0 <= float(crops.min()) and float(crops.max()) <= 1.0
    pasted = paste_back(crops, matrices, (height, width))[0, 0].numpy()
    square = pasted[y0 + 2 : y0 + 18, x0 + 2 : x0 + 18]
    assert square.min() > 0.9  # the inside of the square comes back bright
    ring = np.ones((height, width), bool)
    ring[y0 - 3 : y0 + 23, x0 - 3 : x0 + 23] = False
    footprint = paste_back(torch.ones_like(crops), matrices, (height, width))[0, 0].numpy() > 0.999
    assert pasted[ring & footprint].max() < 0.5  # and nothing bright anywhere else
    bright = pasted > 0.5
    ys, xs = np.nonzero(bright)
    assert abs(xs.mean() - (x0 + 9.5)) < 0.5 and abs(ys.mean() - (y0 + 9.5)) < 0.5


def test_crop_faces_with_no_face() -> None:
    crops, matrices = crop_faces(np.zeros((50, 50, 3), np.uint8), np.zeros((0, 5, 2)), CropSpec(64))
    assert crops.shape == (0, 3, 64, 64) and matrices.shape == (0, 2, 3)


def test_crop_faces_many_faces_batch() -> None:
    points5 = CropSpec(64).template()
    faces = np.stack([points5 + 10, points5 * 1.5 + 5])
    crops, matrices = crop_faces(np.full((140, 140, 3), 200, np.uint8), faces, CropSpec(64))
    assert crops.shape == (2, 3, 64, 64)
    np.testing.assert_allclose(transform_points(faces[0], matrices[0]), points5, atol=1e-6)
    pasted = paste_back(crops, matrices, (140, 140))
    assert pasted.shape == (2, 3, 140, 140)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.uint8])
def test_warp_affine_and_paste_back_accept_every_dtype(dtype: torch.dtype) -> None:
    """Half-precision logits (a model run in fp16) and float64 maps paste back; floats keep their dtype."""
    maps = (torch.rand(2, 4, 16, 16) * 10).to(dtype)
    matrices = np.stack([similarity(2.0, 0.1, 5.0, 3.0), similarity(1.5, -0.2, 2.0, 8.0)])
    out = paste_back(maps, matrices, (40, 50))
    assert out.shape == (2, 4, 40, 50)
    assert out.dtype == (dtype if dtype.is_floating_point else torch.float32)
    reference = paste_back(maps.float(), matrices, (40, 50))
    torch.testing.assert_close(out.float(), reference, atol=0.1, rtol=0.02)
    as_tensor = warp_affine(maps, torch.as_tensor(matrices), (8, 8))
    assert as_tensor.shape == (2, 4, 8, 8)


def test_crops_read_from_the_faces_footprint_equal_crops_of_the_whole_photo() -> None:
    """crop_faces converts only the box its crops sample; the crops are those of warping the whole photo,
    for faces inside, across the border and wholly outside the photo."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (300, 420, 3), dtype=np.uint8)
    spec = CropSpec(64, 0.6, -0.05)
    template = spec.template()
    faces = np.stack([
        (template - 32) * 0.8 + [200, 150],  # inside
        (template - 32) * 1.5 + [10, 280],  # across the bottom-left corner
        (template - 32) * 0.5 + [900, 900],  # off the photo
    ])
    crops, matrices = crop_faces(photo, faces, spec)
    whole = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255.0
    expected = warp_affine(whole, matrices, (64, 64)).clamp(0, 1)
    torch.testing.assert_close(crops, expected, atol=1e-4, rtol=0)
    assert float(crops[0].std()) > 0.1 and float(crops[2].abs().max()) == 0.0


def test_crop_shift_measures_how_far_the_crop_moves() -> None:
    from facehub.geometry.align import CropSpec, alignment_matrix, crop_shift

    spec = CropSpec(64, 0.68, -0.1)
    points5 = np.array([[60, 50], [90, 50], [75, 65], [62, 82], [88, 82]], dtype=np.float64)
    matrix = alignment_matrix(points5, spec)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # crop px per image px
    moved = points5 + [6.4 / scale, 0.0]  # re-aligned, the crop's content moves 6.4 crop pixels
    assert crop_shift(matrix[None], points5[None], spec)[0] == pytest.approx(0.0, abs=1e-9)
    assert crop_shift(matrix[None], moved[None], spec)[0] == pytest.approx(0.1)


def test_rescale_matrices_samples_the_same_place_on_a_coarser_grid() -> None:
    """A crop map pasted from a 4x coarser grid with the rescaled matrix lands where the full-size map does."""
    matrix = np.array([[0.8, 0.1, -5.0], [-0.1, 0.8, 3.0]])
    ramp = torch.linspace(0, 1, 64)[None, None, None].expand(1, 1, 64, 64).contiguous()  # linear in x: bilinear-exact
    coarse = torch.nn.functional.interpolate(ramp, size=(16, 16), mode="area")
    full_pasted = paste_back(ramp, matrix[None], (70, 70))[0, 0]
    coarse_pasted = paste_back(coarse, rescale_matrices(matrix[None], 64, 16), (70, 70))[0, 0]
    ones = paste_back(torch.ones(1, 1, 16, 16), rescale_matrices(matrix[None], 64, 16), (70, 70))[0, 0]
    inside = ones > 0.999  # away from the crop's edge, where the zero padding reaches further on the coarse grid
    assert inside.sum() > 500
    assert torch.allclose(full_pasted[inside], coarse_pasted[inside], atol=0.02)
    assert np.allclose(rescale_matrices(matrix, 64, 64), matrix)
