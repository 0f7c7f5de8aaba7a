"""Five-point similarity alignment, its inverse, and paste-back.

Points are ``(x, y)`` pixel coordinates with the pixel-centre convention
(pixel ``i`` covers ``[i - 0.5, i + 0.5]``). The five points are, in order:
left eye centre, right eye centre, nose tip, left mouth corner, right mouth
corner, where "left" is the image's left (the subject's right eye), as MTCNN
returns them; ``facehub.geometry.five_points`` derives them from 68 or 468
points or a box.

A matrix ``M`` (2x3) maps image points to crop points: ``crop = M @ [x, y, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

# ArcFace's 112x112 template, normalised to [0, 1] crop units.
TEMPLATE_5 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
) / 112.0


@dataclass(frozen=True)
class CropSpec:
    """How a model wants its face crop: ``size`` pixels square, the template
    scaled by ``zoom`` about the crop centre (smaller zoom = more context) and
    moved down by ``shift_y`` crop units."""

    size: int
    zoom: float = 1.0
    shift_y: float = 0.0

    @classmethod
    def from_config(cls, config: dict) -> "CropSpec":
        crop = config.get("crop", {})
        return cls(size=int(config["input_size"]), zoom=float(crop.get("zoom", 1.0)), shift_y=float(crop.get("shift_y", 0.0)))

    def template(self) -> np.ndarray:
        """The five canonical points in crop pixels, shape (5, 2)."""
        unit = (TEMPLATE_5 - 0.5) * self.zoom + 0.5 + np.array([0.0, self.shift_y])
        return unit * self.size - 0.5


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama, no reflection) mapping ``src`` (N,2) onto ``dst`` (N,2); returns 2x3."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    variance = (src_c**2).sum() / len(src)
    scale = (singular * np.diag(sign)).sum() / max(variance, 1e-12)
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply 2x3 ``matrix`` to (..., 2) points (extra trailing columns such as z are left alone)."""
    points = np.asarray(points, dtype=np.float64)
    xy = points[..., :2] @ matrix[:, :2].T + matrix[:, 2]
    return np.concatenate([xy, points[..., 2:]], axis=-1) if points.shape[-1] > 2 else xy


def alignment_matrix(points5: np.ndarray, spec: CropSpec) -> np.ndarray:
    """2x3 matrix mapping image pixels to the crop of ``spec`` for a face with ``points5`` (5, 2)."""
    return similarity_transform(points5, spec.template())


def _sampling_grid(inverse: torch.Tensor, out_h: int, out_w: int, in_h: int, in_w: int) -> torch.Tensor:
    """Grid for ``grid_sample``: for each output pixel, its source location in normalised [-1, 1] units.

    ``inverse`` (N, 2, 3) maps output pixels to input pixels.
    """
    ys, xs = torch.meshgrid(
        torch.arange(out_h, dtype=inverse.dtype, device=inverse.device),
        torch.arange(out_w, dtype=inverse.dtype, device=inverse.device),
        indexing="ij",
    )
    ones = torch.ones_like(xs)
    coords = torch.stack([xs, ys, ones], dim=-1).reshape(1, -1, 3)  # (1, HW, 3)
    source = coords @ inverse.transpose(1, 2)  # (N, HW, 2) in input pixels
    norm = torch.tensor([2.0 / in_w, 2.0 / in_h], dtype=inverse.dtype, device=inverse.device)
    grid = (source + 0.5) * norm - 1.0
    return grid.reshape(-1, out_h, out_w, 2)


def _warp_grid(matrices: torch.Tensor, out_size: tuple[int, int], in_size: tuple[int, int]) -> torch.Tensor:
    """``grid_sample``'s grid (N, out_h, out_w, 2) for 2x3 ``matrices`` (N, 2, 3) or (2, 3), input px -> output px."""
    if matrices.ndim == 2:
        matrices = matrices[None]
    full = torch.cat([matrices, matrices.new_tensor([0.0, 0.0, 1.0]).expand(len(matrices), 1, 3)], dim=1)
    inverse = torch.linalg.inv(full)[:, :2]
    return _sampling_grid(inverse, out_size[0], out_size[1], in_size[0], in_size[1])


def warp_affine(
    images: torch.Tensor, matrices: np.ndarray | torch.Tensor, out_size: tuple[int, int], mode: str = "bilinear"
) -> torch.Tensor:
    """Warp ``images`` (N, C, H, W) float by 2x3 ``matrices`` (N, 2, 3; input px -> output px).

    Returns (N, C, out_h, out_w) in the dtype of ``images`` (float16/bfloat16 are warped in float32;
    integer images come back as float32); outside the input is zero.
    """
    out_dtype = images.dtype if images.is_floating_point() else torch.float32
    if images.dtype != torch.float64:
        images = images.float()
    if isinstance(matrices, torch.Tensor):
        matrices = matrices.to(device=images.device, dtype=images.dtype)
    else:
        matrices = torch.as_tensor(np.asarray(matrices), dtype=images.dtype, device=images.device)
    grid = _warp_grid(matrices, out_size, images.shape[-2:])
    if images.shape[0] == 1 and grid.shape[0] > 1:
        images = images.expand(grid.shape[0], -1, -1, -1)
    return F.grid_sample(images, grid, mode=mode, padding_mode="zeros", align_corners=False).to(out_dtype)


def crop_faces(image: np.ndarray, points5: np.ndarray, spec: CropSpec) -> tuple[torch.Tensor, np.ndarray]:
    """Aligned crops of every face.

    ``image`` (H, W, 3) uint8 RGB; ``points5`` (F, 5, 2). Returns crops
    (F, 3, size, size) float in [0, 1] and matrices (F, 2, 3) image -> crop.
    """
    matrices = np.stack([alignment_matrix(p, spec) for p in points5]) if len(points5) else np.zeros((0, 2, 3))
    if len(matrices) == 0:
        return torch.zeros(0, 3, spec.size, spec.size), matrices
    # only the part of the photo the crops read is converted to float (a 12 MP photo would cost ~50 MB and tens of ms)
    (x0, y0, x1, y1), shifted = _footprint(matrices, spec.size, image.shape[:2])
    tensor = torch.from_numpy(np.array(image[y0:y1, x0:x1])).permute(2, 0, 1)[None].float() / 255.0  # a writable copy
    crops = warp_affine(tensor, shifted, (spec.size, spec.size)).clamp(0, 1)
    return crops, matrices


def _footprint(matrices: np.ndarray, size: int, image_size: tuple[int, int]) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The box ``(x0, y0, x1, y1)`` of the photo (H, W) that the (F, 2, 3) image -> crop ``matrices`` sample for
    ``size`` px crops (every bilinear neighbour included), and the matrices from that box's pixels to the crops."""
    height, width = image_size
    corners = np.array([[-2.0, -2.0, 1.0], [size + 1.0, -2.0, 1.0], [-2.0, size + 1.0, 1.0], [size + 1.0, size + 1.0, 1.0]])
    reach = np.concatenate([corners @ invert_affine(m).T for m in matrices])  # (4F, 2) photo pixels
    x0, y0 = np.clip(np.floor(reach.min(0)).astype(int) - 1, 0, [width, height])
    x1, y1 = np.clip(np.ceil(reach.max(0)).astype(int) + 2, 0, [width, height])
    if x1 <= x0 or y1 <= y0:  # every crop lies off the photo: keep one pixel so the warp has an input
        x0, y0, x1, y1 = 0, 0, 1, 1
    shifted = matrices.copy()
    shifted[:, :, 2] += matrices[:, :, :2] @ np.array([x0, y0], dtype=np.float64)
    return (int(x0), int(y0), int(x1), int(y1)), shifted


def paste_grid(matrix: np.ndarray, image_size: tuple[int, int], crop_size: int) -> torch.Tensor:
    """The (1, H, W, 2) float32 ``grid_sample`` grid at which ``paste_back`` samples an (s, s) crop of ``matrix``
    (2, 3; image -> crop) for an (H, W) image: normalised crop coordinates, bilinear, zeros outside."""
    inverse = torch.as_tensor(invert_affine(matrix)[None], dtype=torch.float32)
    return _warp_grid(inverse, image_size, (crop_size, crop_size))


def rescale_matrices(matrices: np.ndarray, crop_size: int, grid_size: int) -> np.ndarray:
    """Matrices (..., 2, 3) image px -> crop px of an (s, s) crop, for the same crop sampled on an (r, r) grid
    (a model's coarser output): pixel centres kept, ``u_r = (u + 0.5) * r / s - 0.5`` (``grid_sample``'s convention)."""
    scale = grid_size / crop_size
    out = np.asarray(matrices, dtype=np.float64) * scale
    out[..., 2] += 0.5 * scale - 0.5
    return out


def paste_back(
    crop_maps: torch.Tensor, matrices: np.ndarray, image_size: tuple[int, int], mode: str = "bilinear"
) -> torch.Tensor:
    """Warp per-face crop maps (F, C, s, s) back to the image (F, C, H, W); zero outside each crop.

    ``image_size`` is (H, W). Use probabilities or logits with ``bilinear``,
    and argmax after pasting, so that edges stay smooth.
    """
    inverse = np.stack([invert_affine(m) for m in matrices])
    return warp_affine(crop_maps, inverse, image_size, mode=mode)


def crop_shift(matrices: np.ndarray, points5: np.ndarray, spec: CropSpec) -> np.ndarray:
    """How far re-aligning moves each crop: ``matrices`` (F, 2, 3) image -> crop now, ``points5`` (F, 5, 2) the
    five points to re-align from; returns (F,) the largest displacement of the re-aligned crop's four corners in
    the current crop's pixels, as a share of ``spec.size``."""
    size = spec.size
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
    moved = [transform_points(transform_points(corners, invert_affine(alignment_matrix(p, spec))), m)
             for m, p in zip(matrices, points5)]
    return np.array([np.linalg.norm(m - corners, axis=1).max() / size for m in moved])
