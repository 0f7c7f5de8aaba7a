"""The far side of a turned face's jaw, drawn where AFLW2000-3D draws it: on the 3D jaw behind the face.

Two conventions part on a turned face. 300-W (and ytf68, and dlib) put the jaw points of the side turning away on
the visible outline of the cheek; AFLW2000-3D puts them where the jaw itself is, hidden behind the face, which a
photo shows inside the face's outline, towards the ear. A landmark model learns the outline from its real photos.
``hide_far_jaw`` moves the far side's jaw points (0-7 when the face turns to the image's left, 9-16 to its right;
the chin, 8, stays) to the 3D convention: the canonical face's 68 points (``template_68``, its jaw pushed
``depth_scale`` times deeper behind the inner face, since MediaPipe's face oval lies on the front of the cheek, not
on the jaw bone) are fitted to the face's eyes, brows, nose and mouth (17-67) by a scaled orthographic projection,
and the far jaw is read from the fitted template. Faces turned less than ``from_yaw`` (the fit's yaw) keep their
points; between ``from_yaw`` and ``full_yaw`` the two are blended. The settings are each checkpoint's config key
``profile_jaw`` (see the model cards for the measurements behind them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

JAW = 17  # jaw points 0-16 (iBUG order); 8 is the chin
INNER = np.arange(17, 68)  # brows, nose, eyes, mouth: the same points in both conventions
SKIP_MARGIN = 15.0  # degrees: a face whose closed-form yaw is this far below ``from_yaw`` skips the iterative fit


@dataclass(frozen=True)
class ProfileJaw:
    """Where the far jaw switches convention: ``from_yaw`` / ``full_yaw`` in degrees of |yaw| (blend between);
    ``depth_scale``: how much deeper than MediaPipe's face oval the jaw lies behind the inner face."""

    from_yaw: float = 40.0
    full_yaw: float = 55.0
    depth_scale: float = 1.5

    @classmethod
    def from_config(cls, config: dict | None) -> ProfileJaw | None:
        """``config["profile_jaw"]`` (a dict of the fields) as settings; None when absent or null (points unchanged)."""
        values = (config or {}).get("profile_jaw")
        return None if not values else cls(**{k: float(v) for k, v in values.items()})

    @classmethod
    def parse(cls, text: str) -> ProfileJaw | None:
        """``"40,55,1.5"`` (from_yaw, full_yaw, depth_scale) as settings; ``""`` -> None (off). For export options."""
        return cls(*(float(v) for v in text.split(","))) if text.strip() else None

    def to_config(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=4)
def template_68(depth_scale: float = 1.0) -> np.ndarray:
    """The canonical face's 68 points (68, 3): cm, x right, y up, z towards the viewer, centred on the inner points,
    the jaw's depth behind them scaled by ``depth_scale``. Read-only."""
    from facehub.reconstruction.uv import canonical_mesh, points_468_to_68

    points = np.asarray(points_468_to_68(canonical_mesh().vertices), dtype=np.float64)
    points = points - points[INNER].mean(0)
    points[:JAW, 2] *= depth_scale
    points.setflags(write=False)
    return points


def affine_rotation(template: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The rotation (3, 3) of the least-squares affine map from centred ``template`` (K, 3; x right, y up) to
    centred ``points`` (K, 2; x right, y up), its two rows made orthonormal (weak perspective's closed form)."""
    m = np.linalg.lstsq(template, points, rcond=None)[0]  # (3, 2): points ~ template @ m
    first = m[:, 0] / max(np.linalg.norm(m[:, 0]), 1e-12)
    second = m[:, 1] - (m[:, 1] @ first) * first
    second = second / max(np.linalg.norm(second), 1e-12)
    return np.stack([first, second, np.cross(first, second)])


def fit_rotation(
    points: np.ndarray, template: np.ndarray, index: np.ndarray = INNER, iterations: int = 8
) -> tuple[float, np.ndarray]:
    """Scaled orthographic fit of ``template[index]`` (K, 3; x right, y up) to ``points[index]`` (K, 2; image x right,
    y down): (scale, rotation (3, 3)). Starts from ``affine_rotation``; then the depth each 2D fit leaves is
    completed from the rotated template and the rotation refitted in 3D, ``iterations`` times."""
    from facehub.reconstruction.mesh import rigid_fit

    a = template[index] - template[index].mean(0)
    b = np.asarray(points, dtype=np.float64)[index] * np.array([1.0, -1.0])
    b = b - b.mean(0)
    rotation = affine_rotation(a, b)
    turned = a @ rotation.T
    scale = float((turned[:, :2] * b).sum() / max((turned[:, :2] ** 2).sum(), 1e-12))
    for _ in range(iterations):
        if not scale > 1e-9:  # the points coincide: nothing to fit
            break
        _, rotation, _ = rigid_fit(a, np.concatenate([b / scale, turned[:, 2:]], 1))
        turned = a @ rotation.T
        scale = float((turned[:, :2] * b).sum() / max((turned[:, :2] ** 2).sum(), 1e-12))
    return scale, rotation


def yaw_of(rotation: np.ndarray) -> float:
    """Yaw in degrees (``facehub.reconstruction.mesh.POSE_CONVENTION``: > 0 turns towards the image's left) of a
    rotation (3, 3) that turns the frontal template (x right, y up, z towards the viewer) into the photo's."""
    from facehub.reconstruction.mesh import pose_of

    return pose_of(rotation).yaw


def yaw_from_68(points: np.ndarray, iterations: int = 30) -> float:
    """Yaw (degrees, ``POSE_CONVENTION``) of a face from its (68, 2) image points, all 68 fitted; ``iterations`` 0:
    the closed form alone (0.1 ms instead of 2; within 2-5 degrees of the full fit on AFLW2000-3D's labels)."""
    return yaw_of(fit_rotation(points, template_68(), np.arange(68), iterations=iterations)[1])


def far_jaw(yaw: float) -> np.ndarray:
    """Indices of the jaw points on the side turning away: 0-7 for ``yaw`` > 0 (the image's left), else 9-16."""
    return np.arange(0, 8) if yaw > 0 else np.arange(9, 17)


def hide_far_jaw(points: np.ndarray, settings: ProfileJaw) -> np.ndarray:
    """(68, 2) or (68, 3) image points (x right, y down; z, if given, smaller = nearer, same pixel scale) -> a copy
    whose far-side jaw points follow the 3D jaw (module docstring) once the face is turned past ``from_yaw``."""
    points = np.asarray(points, dtype=np.float64)
    if not np.isfinite(points).all():
        return points.copy()
    template = template_68(settings.depth_scale)
    if abs(yaw_of(fit_rotation(points[:, :2], template, iterations=0)[1])) < settings.from_yaw - SKIP_MARGIN:
        return points.copy()  # clearly frontal: the closed form's yaw is within a few degrees of the fit's
    scale, rotation = fit_rotation(points[:, :2], template)
    yaw = yaw_of(rotation)
    weight = float(np.clip((abs(yaw) - settings.from_yaw) / max(settings.full_yaw - settings.from_yaw, 1e-9), 0.0, 1.0))
    out = points.copy()
    if weight == 0.0:
        return out
    turned = template @ rotation.T * scale * np.array([1.0, -1.0, -1.0])  # image axes, centred on the inner points
    placed = turned[:, : points.shape[1]] + points[INNER].mean(0)
    side = far_jaw(yaw)
    out[side] = (1 - weight) * points[side] + weight * placed[side]
    return out
