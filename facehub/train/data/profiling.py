"""Face profiling: large-pose training faces synthesised from a photo and its dense 3D shape.

As 300W-LP was made from 300-W (Zhu et al., CVPR 2016, "Face Alignment Across Large Poses: A 3D
Solution", section "face profiling", and 3DDFA's code): take a dense 3D shape of the face (here the
MediaPipe teacher's 468 points with the canonical mesh's 898 triangles), rotate it about a head centre,
project it orthographically (weak perspective, as 3DDFA) and re-render the photo triangle by triangle
(piecewise-affine, far to near, so the near surface wins). The surroundings (hair, ears, neck,
background) follow through anchors on a depth-extended contour: rings of points on rays from the face
centre through the face outline out to the image border, whose depth goes from the outline's towards a
depth behind the head and whose share of the rotation fades to nothing at the border (which stays
fixed). Every label (68 points, five points, a label map) moves with the same warp.

Coordinates (inputs and outputs alike): image pixels, x to the right, y down, z in the same pixel
units with **smaller z nearer the camera** (the teacher cache's convention, ``z = mediapipe z * W``).

Rotation convention: ``(yaw, pitch, roll)`` in degrees is the rotation **added** to the photo's head
pose, in the camera frame, written as AFLW2000-3D's ``Pose_Para`` is (``facehub.reconstruction.mesh.
POSE_CONVENTION``): ``R = Rx(-pitch) @ Ry(-yaw) @ Rz(-roll)`` in the camera frame (x right, y up, z
towards the viewer). So **yaw > 0 turns the face towards the image's left (the subject's own right)**:
the nose moves left and the subject's left cheek comes into view; pitch > 0 makes the face look up;
roll > 0 tilts the head clockwise on screen. For a frontal photo the result's ``Pose_Para`` (as
``facehub.reconstruction.mesh.head_pose`` reads it) is the rotation itself; otherwise the rotation
composes with the photo's pose (``R_new = R @ R_photo``).

The 68 points: each is lifted to 3D with the shape's depth (barycentric depth of the mesh triangle it
falls in, the nearest one where the mesh folds; outside the mesh, the inverse-distance mean depth of
the three nearest outline vertices), then rotated with the shape. Points that turn away stay on the 3D
surface: the jaw follows the 3D jaw (AFLW2000-3D's convention), not the new silhouette. ``visible68``
is a z-test of each point against the nearest rendered face surface at its new position.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import cv2
import numpy as np

from facehub.geometry.five_points import five_points_from_68
from facehub.reconstruction.mesh import Pose

# The canonical mesh's outer boundary, in loop order (its only boundary: eyes and mouth are closed).
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
CHEEK_SIDES = (234, 454)  # outline points in front of the ears (subject's right, left)


@dataclass
class ProfiledFace:
    """One synthesised view.

    image: (H, W, 3) uint8, the input's size; mesh: (468, 3) float64 pixels of the new view (z smaller =
    nearer); rotation: (yaw, pitch, roll) degrees that were applied (see the module docstring);
    points68: (68, 3) float64 (x, y, z) pixels in the new view, or None; visible68: (68,) bool, or None;
    points5: (5, 2) float64 eye centres, nose tip, mouth corners from ``points68`` (MTCNN's order), or None;
    label_map: (H, W) uint8 warped with nearest-neighbour, or None.
    """

    image: np.ndarray
    mesh: np.ndarray
    rotation: tuple[float, float, float]
    points68: np.ndarray | None = None
    visible68: np.ndarray | None = None
    points5: np.ndarray | None = None
    label_map: np.ndarray | None = None


@lru_cache(maxsize=1)
def face_triangles() -> np.ndarray:
    """(898, 3) int64 triangles of the canonical mesh, indices into the 468 points (landmark order)."""
    from facehub.reconstruction.uv import canonical_mesh

    return canonical_mesh().triangles.copy()


@lru_cache(maxsize=1)
def _canonical_facts() -> tuple[np.ndarray, np.ndarray]:
    """Mirror map (468,) int64 (vertex -> its left/right twin) and each triangle's (898,) signed-area sign
    in a frontal view in image coordinates (the sign a front-facing triangle has)."""
    from facehub.reconstruction.uv import canonical_mesh

    vertices = canonical_mesh().vertices * np.array([1.0, -1.0, -1.0])
    twin = np.linalg.norm(vertices[:, None] - (vertices * [-1.0, 1.0, 1.0])[None], axis=-1).argmin(1)
    return twin, np.sign(_signed_area(vertices[face_triangles(), :2]))


@lru_cache(maxsize=1)
def _twin_triangles() -> np.ndarray:
    """(898,) int64: index of each face triangle's mirror twin (-1 where none)."""
    twin = _canonical_facts()[0]
    lookup = {frozenset(t): i for i, t in enumerate(face_triangles().tolist())}
    return np.array([lookup.get(frozenset(twin[t].tolist()), -1) for t in face_triangles()], dtype=np.int64)


def _signed_area(corners: np.ndarray) -> np.ndarray:
    """(T, 3, 2) -> (T,) twice the signed area."""
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def hidden_in_source(mesh: np.ndarray, tolerance: float = 0.03) -> np.ndarray:
    """(898,) bool: face triangles the photo does not show (turned away, or behind a nearer part of the face
    by more than ``tolerance`` face widths at their centroid), for a (468, 3) mesh."""
    _, front = _canonical_facts()
    corners = mesh[face_triangles()]
    away = np.sign(_signed_area(corners[:, :, :2])) != front
    centroid = corners.mean(1)
    _, width = head_centre(mesh)
    behind = centroid[:, 2] > surface_depth(centroid[:, :2], mesh) + tolerance * width
    return away | behind


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """(3, 3) rotation in image coordinates (x right, y down, z away from the camera), angles in degrees.

    ``D @ Rx(-pitch) @ Ry(-yaw) @ Rz(-roll) @ D`` with ``D = diag(1, -1, -1)`` (camera frame <-> image frame).
    """
    d = np.diag([1.0, -1.0, -1.0])
    return d @ Pose(yaw=yaw, pitch=pitch, roll=roll).rotation() @ d


def head_centre(mesh: np.ndarray, behind: float = 0.15) -> tuple[np.ndarray, float]:
    """Rotation centre (3,) and face width (pixels) of a (468, 3) mesh.

    x, y: the mesh centroid; z: the cheek sides' depth (in front of the ears) plus ``behind`` face widths.
    """
    width = float(np.linalg.norm(mesh[CHEEK_SIDES[0]] - mesh[CHEEK_SIDES[1]]))
    centre = mesh.mean(0).astype(np.float64)
    centre[2] = mesh[list(CHEEK_SIDES), 2].mean() + behind * width
    return centre, width


def _barycentric(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """points (N, 2), corners (T, 3, 2) -> (N, T, 3) barycentric coordinates (NaN for degenerate triangles)."""
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    v0, v1 = b - a, c - a
    det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
    det = np.where(np.abs(det) < 1e-9, np.nan, det)
    d = points[:, None, :] - a[None]
    l1 = (d[..., 0] * v1[None, :, 1] - d[..., 1] * v1[None, :, 0]) / det
    l2 = (v0[None, :, 0] * d[..., 1] - v0[None, :, 1] * d[..., 0]) / det
    return np.stack([1 - l1 - l2, l1, l2], -1)


def surface_depth(points: np.ndarray, mesh: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Nearest mesh depth under each 2D point: points (N, 2), mesh (468, 3) -> (N,) z, NaN off the mesh."""
    tris = face_triangles()
    bary = _barycentric(points, mesh[tris, :2])
    inside = np.all(bary >= -eps, -1)
    depth = np.einsum("ntk,tk->nt", np.nan_to_num(bary), mesh[tris, 2])
    depth = np.where(inside, depth, np.inf).min(1)
    return np.where(np.isfinite(depth), depth, np.nan)


def lift_points(points: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """2D points (N, 2) -> (N, 3) with the mesh's depth: on the mesh the nearest surface under the point,
    off it the inverse-distance mean depth of the three nearest outline vertices."""
    points = np.asarray(points, dtype=np.float64)
    depth = surface_depth(points, mesh)
    outline = mesh[FACE_OVAL]
    dist = np.linalg.norm(points[:, None] - outline[None, :, :2], axis=-1)
    near = np.argsort(dist, 1)[:, :3]
    w = 1.0 / (np.take_along_axis(dist, near, 1) + 1e-6)
    off_mesh = (w * outline[near, 2]).sum(1) / w.sum(1)
    return np.column_stack([points, np.where(np.isnan(depth), off_mesh, depth)])


@dataclass
class Surroundings:
    """Anchors around the face: points (A, 3) source pixels with extended depth, share (A,) in [0, 1] of the
    rotation each follows (0 on the image border), triangles (T, 3) into ``[mesh (468), anchors (A)]``."""

    points: np.ndarray
    share: np.ndarray
    triangles: np.ndarray


def _border_hit(origin: np.ndarray, direction: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Distance (N,) along unit rays from origins (N, 2) to the border of the (H, W) image."""
    high = np.array([size[1] - 1.0, size[0] - 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(direction > 0, (high - origin) / direction, np.where(direction < 0, -origin / direction, np.inf))
    return np.maximum(t.min(1), 0.0)


def surroundings(
    mesh: np.ndarray,
    size: tuple[int, int],
    rings: tuple[float, ...] = (0.1, 0.25, 0.45, 0.7, 1.0),
    back: float = 0.35,
    behind: float = 0.15,
) -> Surroundings:
    """The depth-extended contour of one face in an (H, W) image.

    Ring k lies on the ray from the face centre through each outline vertex, ``rings[k]`` face widths
    beyond it (at most ``(k + 1) / (len(rings) + 1)`` of the way to the border, so rings never cross);
    its depth goes from the outline vertex's to ``back`` face widths behind the head centre, and its share
    of the rotation falls from 1 near the face to 0 at the border (faster below the chin). The border ring (ray hits plus the
    image corners) is fixed.
    """
    centre, width = head_centre(mesh, behind)
    outline = mesh[FACE_OVAL].astype(np.float64)
    ray = outline[:, :2] - centre[:2]
    ray /= np.linalg.norm(ray, axis=1, keepdims=True) + 1e-9
    reach = _border_hit(outline[:, :2], ray, size)
    z_back = centre[2] + back * width
    points, share = [], []
    for k, u in enumerate(rings):
        dist = np.minimum(u * width, reach * (k + 1) / (len(rings) + 1))
        t = np.clip(dist / (0.6 * width), 0.0, 1.0)
        depth = outline[:, 2] + (z_back - outline[:, 2]) * (t * (2 - t))
        falloff = 1.0 + 0.8 * np.maximum(ray[:, 1], 0.0)  # neck and body below the chin follow less
        follow = np.clip(1.3 - falloff * dist / width, 0.0, 1.0) * (1.0 - dist / np.maximum(reach, 1e-6)) ** 0.5
        points.append(np.column_stack([outline[:, :2] + ray * dist[:, None], depth]))
        share.append(np.clip(follow, 0.0, 1.0))
    border = outline[:, :2] + ray * reach[:, None]
    n, m = len(FACE_OVAL), len(rings)
    points.append(np.column_stack([border, np.full(n, z_back)]))
    share.append(np.zeros(n))
    corners = np.array([[0, 0], [size[1] - 1, 0], [size[1] - 1, size[0] - 1], [0, size[0] - 1]], dtype=np.float64)
    points.append(np.column_stack([corners, np.full(4, z_back)]))
    share.append(np.zeros(4))

    base = len(mesh)
    loops = [np.asarray(FACE_OVAL)] + [base + k * n + np.arange(n) for k in range(m + 1)]
    triangles = []
    for inner, outer in pairwise(loops):
        for i in range(n):
            j = (i + 1) % n
            triangles += [[inner[i], inner[j], outer[j]], [inner[i], outer[j], outer[i]]]
    # corners: each goes into the sector whose border hits straddle it (angles about the face centre)
    corner_ids = base + (m + 1) * n + np.arange(4)
    angle = np.arctan2(border[:, 1] - centre[1], border[:, 0] - centre[0])
    corner_angle = np.arctan2(corners[:, 1] - centre[1], corners[:, 0] - centre[0])
    outer = loops[-1]
    for c, a in zip(corner_ids, corner_angle):
        for i in range(n):
            j = (i + 1) % n
            span = (angle[j] - angle[i]) % (2 * np.pi)
            if span < np.pi and 0 < (a - angle[i]) % (2 * np.pi) < span:
                triangles.append([outer[i], c, outer[j]])
                break
    return Surroundings(np.vstack(points), np.concatenate(share), np.asarray(triangles, dtype=np.int64))


def _warp_triangles(
    sources: list[np.ndarray], targets: list[np.ndarray], src_xy: np.ndarray, dst_xy: np.ndarray,
    src_triangles: np.ndarray, dst_triangles: np.ndarray, flags: list[int],
) -> None:
    """Piecewise-affine warp, in the given triangle order (later ones drawn over earlier ones).

    sources/targets: images of the same size (H, W[, C]); src_xy, dst_xy: (V, 2) vertex positions;
    src_triangles, dst_triangles: (T, 3), row t's texture comes from the first and lands on the second
    (corner k onto corner k); flags: cv2 interpolation per source.
    """
    height, width = targets[0].shape[:2]
    for src_tri, dst_tri in zip(src_triangles, dst_triangles):
        s, d = src_xy[src_tri].astype(np.float32), dst_xy[dst_tri].astype(np.float64)
        x0, y0 = np.floor(d.min(0)).astype(int)
        x1, y1 = np.ceil(d.max(0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        src_area = (s[1, 0] - s[0, 0]) * (s[2, 1] - s[0, 1]) - (s[1, 1] - s[0, 1]) * (s[2, 0] - s[0, 0])
        if x1 <= x0 or y1 <= y0 or abs(src_area) < 1e-6:
            continue
        local = (d - [x0, y0]).astype(np.float32)
        matrix = cv2.getAffineTransform(s, local)
        mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        cv2.fillConvexPoly(mask, np.round(local * 16).astype(np.int32), 1, lineType=cv2.LINE_8, shift=4)
        inside = mask.astype(bool)
        for source, target, flag in zip(sources, targets, flags):
            patch = cv2.warpAffine(source, matrix, (x1 - x0, y1 - y0), flags=flag, borderMode=cv2.BORDER_REPLICATE)
            target[y0:y1, x0:x1][inside] = patch[inside]


def _rotate(points: np.ndarray, centre: np.ndarray, angles: np.ndarray, share: np.ndarray | None = None) -> np.ndarray:
    """Rotate (N, 3) points about ``centre`` by ``angles`` (yaw, pitch, roll), each by its ``share`` of them."""
    if share is None:
        return (points - centre) @ rotation_matrix(*angles).T + centre
    out = np.empty_like(points)
    for value in np.unique(share):
        rows = share == value
        out[rows] = (points[rows] - centre) @ rotation_matrix(*(angles * value)).T + centre
    return out


def visibility(points: np.ndarray, mesh: np.ndarray, tolerance: float = 0.03) -> np.ndarray:
    """(N,) bool: (N, 3) points are not behind the nearest face surface of the (468, 3) mesh at their
    (x, y) by more than ``tolerance`` face widths; points off the rendered face count as visible."""
    _, width = head_centre(mesh)
    depth = surface_depth(points[:, :2], mesh)
    return np.isnan(depth) | (points[:, 2] <= depth + tolerance * width)


def profile_face(
    image: np.ndarray,
    mesh468: np.ndarray,
    rotation: tuple[float, float, float],
    points68: np.ndarray | None = None,
    label_map: np.ndarray | None = None,
    behind: float = 0.15,
    back: float = 0.35,
) -> ProfiledFace:
    """Render ``image`` (H, W, 3) uint8 as seen after turning its face by ``rotation`` (yaw, pitch, roll deg).

    mesh468: (468, 3) pixels (z smaller = nearer); points68: (68, 2) or (68, 3) pixels (z is recomputed from
    the mesh); label_map: (H, W) uint8. ``behind``: the head centre's depth behind the cheek sides, in face
    widths; ``back``: how far behind the centre the surroundings' depth goes. See the module docstring.
    """
    mesh = np.asarray(mesh468, dtype=np.float64)
    if mesh.shape != (468, 3) or not np.isfinite(mesh).all():
        raise ValueError(f"mesh468 must be a finite (468, 3) array, got {mesh.shape}")
    angles = np.asarray(rotation, dtype=np.float64)
    size = image.shape[:2]
    centre, _ = head_centre(mesh, behind)
    around = surroundings(mesh, size, back=back, behind=behind)
    new_mesh = _rotate(mesh, centre, angles)
    new_around = _rotate(around.points, centre, angles, around.share)
    src = np.vstack([mesh, around.points])
    dst = np.vstack([new_mesh, new_around])

    faces = face_triangles()
    twin, _ = _canonical_facts()
    hidden = hidden_in_source(mesh)
    pair = _twin_triangles()
    borrow = hidden & (pair >= 0) & ~hidden[np.maximum(pair, 0)]
    texture = np.where(borrow[:, None], twin[faces], faces)
    order_out = np.argsort(-dst[around.triangles, 2].mean(1), kind="stable")
    order_face = np.argsort(-dst[faces, 2].mean(1), kind="stable")
    # surroundings under the face, each far to near; a face triangle the photo hides takes its mirror
    # twin's texture (mirrored) where the twin is shown
    src_tris = np.vstack([around.triangles[order_out], texture[order_face]])
    dst_tris = np.vstack([around.triangles[order_out], faces[order_face]])

    sources, targets, flags = [image], [np.zeros_like(image)], [cv2.INTER_LINEAR]
    if label_map is not None:
        sources.append(label_map)
        targets.append(np.zeros_like(label_map))
        flags.append(cv2.INTER_NEAREST)
    _warp_triangles(sources, targets, src[:, :2], dst[:, :2], src_tris, dst_tris, flags)

    result = ProfiledFace(image=targets[0], mesh=new_mesh, rotation=(float(angles[0]), float(angles[1]), float(angles[2])),
                          label_map=targets[1] if label_map is not None else None)
    if points68 is not None:
        lifted = lift_points(np.asarray(points68, dtype=np.float64)[:, :2], mesh)
        moved = _rotate(lifted, centre, angles)
        result.points68 = moved
        result.visible68 = visibility(moved, new_mesh)
        result.points5 = five_points_from_68(moved[:, :2])
    return result
