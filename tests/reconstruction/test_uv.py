"""UV layout: rasterise -> sample round trips, the 468 -> 68 map, the grid mesh (the loss mask: tests/train)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facehub.reconstruction.uv import (
    canonical_mesh,
    layout_uv,
    map_68,
    points_468_to_68,
    uv_layout,
)
from facehub.train.data import cache_root
from tests._faces3d import posed_face


@pytest.mark.parametrize("size", [128, 256])
@pytest.mark.parametrize("pose", [(0, 0, 0), (40, 0, 0), (-35, 15, 10), (0, -25, 30)])
def test_round_trip_within_half_pixel(size: int, pose: tuple[float, float, float]) -> None:
    points = posed_face(*pose)  # about 93 px wide, like a face in a 128 px crop
    layout = uv_layout(size)
    back = layout.sample(layout.rasterise(points))
    assert back.shape == (468, 3)
    assert np.linalg.norm(back - points, axis=1).max() < 0.5


def test_round_trip_on_real_teacher_faces() -> None:
    """MediaPipe faces of the cache (open mouths, turned heads) at crop scale, UV map of 128."""
    path = cache_root() / "teacher" / "celebamask_hair_val.npz"
    if not path.is_file():
        pytest.skip("teacher cache not built")
    points = np.load(path)["points"]
    points = points[~np.isnan(points[:, 0, 0])][:40].astype(np.float64) * 0.35  # ~100 px wide faces
    layout = uv_layout(128)
    maps = np.stack([layout.rasterise(p) for p in points])
    back = layout.sample(maps)
    assert np.linalg.norm(back - points, axis=-1).max() < 0.5


def test_sample_accepts_torch_batches_and_is_affine_equivariant() -> None:
    layout = uv_layout(64)
    points = posed_face(20, 5, 0)
    maps = torch.from_numpy(np.stack([layout.rasterise(points), layout.rasterise(points * 2 + 3)]))
    back = layout.sample(maps)
    assert isinstance(back, torch.Tensor) and back.shape == (2, 468, 3)
    torch.testing.assert_close(back[1], back[0] * 2 + 3, atol=1e-3, rtol=1e-4)


def test_rasterise_is_zero_outside_and_covers_every_triangle_region() -> None:
    layout = uv_layout(64)
    uv_map = layout.rasterise(posed_face())
    assert uv_map.shape == (3, 64, 64) and uv_map.dtype == np.float32
    assert np.all(uv_map[:, ~layout.valid] == 0)
    assert layout.valid.sum() > 0.5 * 64 * 64


def test_opened_mouth_layout_folds_no_triangle() -> None:
    mesh = canonical_mesh()

    def signed_areas(uv: np.ndarray) -> np.ndarray:
        a, b, c = (uv[mesh.triangles[:, i]] for i in range(3))
        return (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]

    before, after = signed_areas(mesh.uv), signed_areas(layout_uv(mesh.uv))
    assert np.all(np.sign(before) == np.sign(after))
    opened = layout_uv(mesh.uv)
    assert opened[14, 1] - opened[13, 1] > 0.015  # inner lips apart: a pixel of a 64 map


def test_map_68_is_sum_to_one() -> None:
    indices, weights = map_68()
    assert indices.shape == weights.shape and indices.shape[0] == 68
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-5)
    assert weights.min() >= 0 and indices.max() < 468
    points = posed_face()
    lm = points_468_to_68(points)
    assert lm.shape == (68, 3)
    assert lm[36:42, 0].mean() < lm[42:48, 0].mean()  # image-left eye first
    assert lm[8, 1] > lm[30, 1] > lm[27, 1]  # chin below nose tip below nose root
    torch.testing.assert_close(points_468_to_68(torch.from_numpy(points)), torch.from_numpy(lm))


def test_grid_triangles_index_dense_vertices() -> None:
    layout = uv_layout(64)
    triangles = layout.grid_triangles()
    count = len(layout.pixels)
    assert triangles.min() >= 0 and triangles.max() < count
    assert len(triangles) > count  # about two per vertex
    dense = layout.dense_vertices(layout.rasterise(posed_face()))
    assert dense.shape == (count, 3)
    tri = dense[triangles]
    cross = np.cross(tri[:, 1, :2] - tri[:, 0, :2], tri[:, 2, :2] - tri[:, 0, :2])
    assert (cross < 0).mean() > 0.95  # counter-clockwise on screen (y down) for a frontal face
    uv = layout.uv_of_pixels()
    assert uv.shape == (count, 2) and uv.min() > 0 and uv.max() < 1
