"""UV layout of the MediaPipe face mesh: position maps <-> 468 points.

A *UV position map* of size ``s`` is an image (3, s, s) whose pixel at
``(row, col)`` holds the ``(x, y, z)`` of the face surface point with UV
coordinates ``((col + 0.5) / s, (row + 0.5) / s)`` (UV ``v`` grows downward in
MediaPipe's layout, so the face is upright). Pixels outside the mesh hold 0.

``UVLayout.rasterise`` fills the map by barycentric interpolation inside each
of the canonical mesh's 898 triangles (each triangle on its own, so folded
triangles on turned faces cannot cancel). ``UVLayout.sample`` is its
left inverse: a least-squares fit of the 468 vertices to the valid pixels
(damped towards bilinear sampling at each vertex's UV), exact up to float
error on rasterised maps and a denoiser on predicted ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

ASSETS = Path(__file__).resolve().parents[1] / "assets"
MAP_68_PATH = ASSETS / "prnet_68_map.json"


def canonical_mesh_path() -> Path:
    """``facehub/assets/canonical_face_mesh.json`` (MediaPipe's canonical mesh, Apache-2.0; see assets/README.md)."""
    return ASSETS / "canonical_face_mesh.json"


@dataclass(frozen=True)
class CanonicalMesh:
    """vertices (468, 3) cm, x right / y up / z towards the viewer; uv (468, 2) in [0, 1]; triangles (898, 3)."""

    vertices: np.ndarray
    uv: np.ndarray
    triangles: np.ndarray


@lru_cache(maxsize=1)
def canonical_mesh() -> CanonicalMesh:
    data = json.loads(canonical_mesh_path().read_text())
    return CanonicalMesh(
        np.asarray(data["vertices"], dtype=np.float64),
        np.asarray(data["uv"], dtype=np.float64),
        np.asarray(data["triangles"], dtype=np.int64),
    )


@lru_cache(maxsize=1)
def map_68() -> tuple[np.ndarray, np.ndarray]:
    """The fitted 468 -> 68 map: indices (68, k) int64, weights (68, k) float64 summing to 1 per row."""
    data = json.loads(MAP_68_PATH.read_text())
    return np.asarray(data["indices"], dtype=np.int64), np.asarray(data["weights"], dtype=np.float64)


def points_468_to_68(
    points: np.ndarray | torch.Tensor, mapping: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray | torch.Tensor:
    """(..., 468, C) -> (..., 68, C) with a sum-to-one map (numpy or torch).

    ``mapping`` is ``(indices (68, k), weights (68, k))``; default: the teacher map of ``map_68()``.
    """
    indices, weights = mapping if mapping is not None else map_68()
    if isinstance(points, torch.Tensor):
        w = torch.as_tensor(weights, dtype=points.dtype, device=points.device)
        return (points[..., torch.as_tensor(indices), :] * w[..., None]).sum(-2)
    return (np.asarray(points)[..., indices, :] * weights[..., None]).sum(-2)


def layout_uv(uv: np.ndarray, gap: float = 0.025, sharpness: float = 0.005) -> np.ndarray:
    """MediaPipe's UVs with the mouth opened: (468, 2) in [0, 1].

    In the canonical UVs the inner upper and lower lips lie 0.003 apart, so at
    a small map size one pixel would hold both. A smooth monotone warp of ``v``
    (``v + a(u) * gap * tanh((v - v_mouth) / sharpness)``, ``a`` fading out
    beyond the mouth corners) moves them apart without folding any triangle.
    """
    uv = np.asarray(uv, dtype=np.float64).copy()
    v_mouth = 0.5 * (uv[13, 1] + uv[14, 1])
    half_width = abs(uv[291, 0] - uv[61, 0]) / 2 + 0.02
    u_off = np.abs(uv[:, 0] - 0.5 * (uv[61, 0] + uv[291, 0]))
    fade = np.clip((half_width + 0.06 - u_off) / 0.06, 0.0, 1.0)
    fade = fade * fade * (3 - 2 * fade)  # smoothstep
    uv[:, 1] += fade * gap * np.tanh((uv[:, 1] - v_mouth) / sharpness)
    return uv


def _barycentric(px: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (P, 3) of points ``px`` (P, 2) in triangle ``tri`` (3, 2)."""
    a, b, c = tri
    v0, v1, v2 = b - a, c - a, px - a
    den = v0[0] * v1[1] - v1[0] * v0[1]
    if abs(den) < 1e-12:
        return np.full((len(px), 3), -1.0)
    l1 = (v2[:, 0] * v1[1] - v1[0] * v2[:, 1]) / den
    l2 = (v0[0] * v2[:, 1] - v2[:, 0] * v0[1]) / den
    return np.stack([1.0 - l1 - l2, l1, l2], axis=1)


class UVLayout:
    """Rasterisation tables of the canonical mesh at ``size`` x ``size`` UV pixels.

    Attributes: ``pixels`` (P,) flat indices of covered pixels; ``pixel_vertices``
    (P, 3) vertex ids; ``pixel_weights`` (P, 3) barycentric weights; ``valid``
    (size, size) bool; ``vertex_px`` (468, 2) the vertices' UV in pixel units.
    """

    def __init__(self, size: int):
        mesh = canonical_mesh()
        self.size = size
        self.uv = layout_uv(mesh.uv)
        self.vertex_px = self.uv * size - 0.5
        owner = np.full(size * size, -1, dtype=np.int64)
        bary = np.zeros((size * size, 3))
        for t, tri in enumerate(mesh.triangles):
            corners = self.vertex_px[tri]
            x0, y0 = np.floor(corners.min(0)).astype(int)
            x1, y1 = np.ceil(corners.max(0)).astype(int)
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size - 1), min(y1, size - 1)
            if x1 < x0 or y1 < y0:
                continue
            ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
            px = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
            lam = _barycentric(px, corners)
            inside = (lam >= -1e-9).all(1)
            flat = (ys.ravel() * size + xs.ravel())[inside]
            free = owner[flat] < 0
            owner[flat[free]] = t
            bary[flat[free]] = lam[inside][free]
        self._dilate(owner, bary, mesh.triangles)
        self.pixels = np.nonzero(owner >= 0)[0]
        self.pixel_vertices = mesh.triangles[owner[self.pixels]]
        self.pixel_weights = np.clip(bary[self.pixels], 0.0, 1.0)
        self.pixel_weights /= self.pixel_weights.sum(1, keepdims=True)
        self.valid = np.zeros(size * size, dtype=bool)
        self.valid[self.pixels] = True
        self.valid = self.valid.reshape(size, size)
        self._build_sampler()

    def _dilate(self, owner: np.ndarray, bary: np.ndarray, triangles: np.ndarray, radius: float = 1.5) -> None:
        """Give uncovered pixels within ``radius`` of the mesh to the nearest triangle (clamped barycentrics),
        so that thin triangles and the rims of the eye and mouth holes reach at least one pixel."""
        size = self.size
        best = np.full(size * size, np.inf)
        free_before = owner < 0
        for t, tri in enumerate(triangles):
            corners = self.vertex_px[tri]
            x0, y0 = np.floor(corners.min(0) - radius).astype(int)
            x1, y1 = np.ceil(corners.max(0) + radius).astype(int)
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size - 1), min(y1, size - 1)
            if x1 < x0 or y1 < y0:
                continue
            ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
            flat = ys.ravel() * size + xs.ravel()
            keep = free_before[flat]
            if not keep.any():
                continue
            px = np.stack([xs.ravel(), ys.ravel()], 1)[keep].astype(np.float64)
            lam = np.clip(_barycentric(px, corners), 0.0, None)
            if (lam.sum(1) <= 0).any():
                continue
            lam /= lam.sum(1, keepdims=True)
            dist = np.linalg.norm(lam @ corners - px, axis=1)
            flat = flat[keep]
            better = (dist <= radius) & (dist < best[flat])
            best[flat[better]] = dist[better]
            owner[flat[better]] = t
            bary[flat[better]] = lam[better]

    def _build_sampler(self, damping: float = 0.05) -> None:
        """Precompute ``sample``: (A^T A + d I)^-1 (A^T m + d B m), A the raster matrix, B bilinear."""
        n = len(self.vertex_px)
        gram = np.zeros((n, n))
        for i in range(3):
            for j in range(3):
                np.add.at(gram, (self.pixel_vertices[:, i], self.pixel_vertices[:, j]), self.pixel_weights[:, i] * self.pixel_weights[:, j])
        self._solve = torch.from_numpy(np.linalg.inv(gram + damping * np.eye(n))).float()
        self._damping = damping
        # Bilinear taps at each vertex's UV, restricted to valid pixels (nearest valid pixel as fallback).
        size = self.size
        x, y = self.vertex_px[:, 0], self.vertex_px[:, 1]
        x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
        taps, weights = [], []
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            xi, yi = np.clip(x0 + dx, 0, size - 1), np.clip(y0 + dy, 0, size - 1)
            w = (1 - np.abs(x - (x0 + dx))) * (1 - np.abs(y - (y0 + dy)))
            taps.append(yi * size + xi)
            weights.append(w * self.valid.ravel()[yi * size + xi])
        taps, weights = np.stack(taps, 1), np.stack(weights, 1)
        empty = weights.sum(1) < 1e-6
        if empty.any():
            valid_xy = np.stack([self.pixels % size, self.pixels // size], 1)
            for v in np.nonzero(empty)[0]:
                nearest = self.pixels[np.argmin(((valid_xy - self.vertex_px[v]) ** 2).sum(1))]
                taps[v], weights[v] = nearest, [1.0, 0.0, 0.0, 0.0]
        self._taps = torch.from_numpy(taps)
        self._tap_weights = torch.from_numpy(weights / weights.sum(1, keepdims=True)).float()
        self._pix = torch.from_numpy(self.pixels)
        self._pix_vertices = torch.from_numpy(self.pixel_vertices)
        self._pix_weights = torch.from_numpy(self.pixel_weights).float()

    def rasterise(self, points: np.ndarray) -> np.ndarray:
        """(468, C) points -> (C, size, size) float32 map, 0 outside the mesh."""
        points = np.asarray(points, dtype=np.float64)
        values = (points[self.pixel_vertices] * self.pixel_weights[..., None]).sum(1)  # (P, C)
        out = np.zeros((self.size * self.size, points.shape[1]), dtype=np.float32)
        out[self.pixels] = values
        return out.T.reshape(points.shape[1], self.size, self.size)

    def sample(self, maps: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """(..., C, size, size) maps -> (..., 468, C) vertices (numpy in, numpy out)."""
        as_numpy = isinstance(maps, np.ndarray)
        m = torch.as_tensor(maps, dtype=torch.float32)
        flat = m.flatten(-2).transpose(-1, -2)  # (..., HW, C)
        dev = m.device  # the tables follow the maps (a no-op on the CPU)
        at_pixels = flat[..., self._pix.to(dev), :]  # (..., P, C)
        lead = at_pixels.shape[:-2]
        channels = at_pixels.shape[-1]
        at_m = torch.zeros(*lead, len(self.vertex_px), channels, dtype=m.dtype, device=dev)
        for i in range(3):
            contrib = at_pixels * self._pix_weights[:, i, None].to(dev)
            at_m.index_add_(-2, self._pix_vertices[:, i].to(dev), contrib)
        bilinear = (flat[..., self._taps.to(dev), :] * self._tap_weights[..., None].to(dev)).sum(-2)  # (..., 468, C)
        out = self._solve.to(dev) @ (at_m + self._damping * bilinear)
        return out.numpy() if as_numpy else out

    def dense_vertices(self, map_: np.ndarray) -> np.ndarray:
        """(C, size, size) -> (P, C) values at the valid pixels (row-major order)."""
        return map_.reshape(map_.shape[0], -1)[:, self.pixels].T

    def grid_triangles(self) -> np.ndarray:
        """(K, 3) triangles over ``dense_vertices`` from the valid 2x2 pixel quads.

        Quads with three valid corners give one triangle. Winding: counter-clockwise
        on screen (x right, y down) seen from the viewer.
        """
        size = self.size
        index = np.full(size * size, -1, dtype=np.int64)
        index[self.pixels] = np.arange(len(self.pixels))
        index = index.reshape(size, size)
        a, b = index[:-1, :-1], index[:-1, 1:]
        c, d = index[1:, :-1], index[1:, 1:]
        tris = [np.stack([a, c, b], -1), np.stack([b, c, d], -1)]
        tris = np.concatenate([t.reshape(-1, 3) for t in tris])
        return tris[(tris >= 0).all(1)]

    def uv_of_pixels(self) -> np.ndarray:
        """(P, 2) texture coordinates in [0, 1] (u right, v down) of the dense vertices."""
        cols, rows = self.pixels % self.size, self.pixels // self.size
        return np.stack([(cols + 0.5) / self.size, (rows + 0.5) / self.size], 1)


@lru_cache(maxsize=4)
def uv_layout(size: int) -> UVLayout:
    """The cached layout of ``size`` UV pixels."""
    return UVLayout(size)
