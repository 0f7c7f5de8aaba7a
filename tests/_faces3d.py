"""Synthetic 3D faces for tests: the canonical mesh posed and placed in image space."""

from __future__ import annotations

import numpy as np

from facehub.reconstruction.uv import canonical_mesh


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """``Ry(yaw) @ Rx(-pitch) @ Rz(roll)`` (degrees) in the canonical y-up frame: yaw > 0 turns the nose to the
    image's right, roll > 0 tilts counter-clockwise (not ``head_pose``'s AFLW2000-3D convention, see
    tests/reconstruction/test_head_pose.py; these faces only need to be turned)."""
    a, b, c = np.radians([yaw, -pitch, roll])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


def posed_face(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, scale: float = 6.0, centre=(64.0, 64.0)) -> np.ndarray:
    """(468, 3) image-space points (x right, y down, smaller z nearer) of the rotated canonical mesh."""
    vertices = canonical_mesh().vertices @ rotation(yaw, pitch, roll).T * scale
    return vertices * np.array([1.0, -1.0, -1.0]) + np.array([centre[0], centre[1], 0.0])
