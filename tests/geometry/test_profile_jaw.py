"""The far jaw of turned faces on the 3D jaw (facehub/geometry/profile_jaw.py): the yaw read from 2D points,
which side is far, the points it moves and the ones it keeps, the blend, and the config round trip."""

from __future__ import annotations

import numpy as np
import pytest

from facehub.geometry.profile_jaw import (
    INNER,
    ProfileJaw,
    far_jaw,
    fit_rotation,
    hide_far_jaw,
    template_68,
    yaw_from_68,
    yaw_of,
)
from facehub.reconstruction.mesh import head_pose
from facehub.reconstruction.uv import points_468_to_68
from tests._faces3d import posed_face, rotation

SETTINGS = ProfileJaw(from_yaw=30.0, full_yaw=45.0, depth_scale=1.5)
SCALE, CENTRE = 9.0, np.array([160.0, 150.0])


def deep_face(yaw: float, pitch: float = 5.0, roll: float = -4.0) -> np.ndarray:
    """(68, 3) image points (x right, y down, smaller z nearer) of the template whose jaw lies 1.5x deeper, posed."""
    turned = template_68(1.5) @ rotation(yaw, pitch, roll).T * SCALE
    return turned * np.array([1.0, -1.0, -1.0]) + np.array([*CENTRE, 0.0])


def fitted_yaw(points: np.ndarray) -> float:
    """The yaw ``hide_far_jaw`` reads from (68, 2+) points: the deep template fitted to the inner face."""
    return yaw_of(fit_rotation(points[:, :2], template_68(SETTINGS.depth_scale))[1])


def outline_jaw(points: np.ndarray) -> np.ndarray:
    """(68, 2) ``points`` with the far jaw moved 15 px towards where the nose points, as a visible-outline
    labelling would draw it."""
    moved = points.copy()
    moved[far_jaw(fitted_yaw(points)), 0] += 15.0 * np.sign(points[30, 0] - points[INNER, 0].mean())
    return moved


@pytest.mark.parametrize("yaw", [-70.0, -40.0, 0.0, 25.0, 55.0])
def test_yaw_from_68_reads_the_turn_of_projected_points(yaw: float) -> None:
    face = posed_face(yaw, pitch=8.0, roll=5.0, scale=9.0, centre=(160.0, 150.0))
    truth = head_pose(face).yaw
    assert abs(truth) == pytest.approx(abs(yaw), abs=6.0)  # the same turn, whatever the sign convention
    assert yaw_from_68(points_468_to_68(face[:, :2])) == pytest.approx(truth, abs=3.0)


def test_far_side_is_the_side_the_nose_turns_towards() -> None:
    face = deep_face(60.0)
    yaw = fitted_yaw(face)
    nose_left = face[30, 0] < face[INNER, 0].mean()  # the nose points to the image's left
    assert (yaw > 0) == nose_left  # POSE_CONVENTION: yaw > 0 turns towards the image's left
    side = far_jaw(yaw)
    # the far side's jaw points lie on the nose's side of the face, behind the near side's (larger z)
    near = np.setdiff1d(np.arange(17), np.append(side, 8))
    assert (face[side, 0].mean() < face[near, 0].mean()) == nose_left
    assert face[side, 2].mean() > face[near, 2].mean()


@pytest.mark.parametrize("yaw", [-65.0, -50.0, 50.0, 70.0])
def test_a_turned_face_gets_its_far_jaw_from_the_3d_jaw(yaw: float) -> None:
    truth = deep_face(yaw)
    labelled = outline_jaw(truth[:, :2])
    out = hide_far_jaw(labelled, SETTINGS)
    side = far_jaw(fitted_yaw(truth))
    assert np.abs(labelled[side] - truth[side, :2]).max() > 10  # the outline labelling was off
    np.testing.assert_allclose(out[side], truth[side, :2], atol=0.5)  # now on the (deep) 3D jaw
    kept = np.setdiff1d(np.arange(68), side)
    np.testing.assert_array_equal(out[kept], labelled[kept])  # the near jaw, the chin and the inner face untouched


def test_three_d_points_get_a_depth_for_the_moved_jaw() -> None:
    truth = deep_face(60.0)
    labelled = truth.copy()
    labelled[:, :2] = outline_jaw(truth[:, :2])
    out = hide_far_jaw(labelled, SETTINGS)
    side = far_jaw(fitted_yaw(truth))
    np.testing.assert_allclose(out[side], truth[side], atol=0.5)


@pytest.mark.parametrize("yaw", [0.0, 12.0, -25.0])
def test_faces_turned_less_than_from_yaw_keep_their_points(yaw: float) -> None:
    labelled = outline_jaw(deep_face(yaw)[:, :2])
    np.testing.assert_array_equal(hide_far_jaw(labelled, SETTINGS), labelled)


def test_between_from_and_full_yaw_the_two_are_blended() -> None:
    truth = deep_face(37.5, pitch=0.0, roll=0.0)
    labelled = outline_jaw(truth[:, :2])
    yaw = abs(fitted_yaw(truth))
    assert SETTINGS.from_yaw < yaw < SETTINGS.full_yaw
    weight = (yaw - SETTINGS.from_yaw) / (SETTINGS.full_yaw - SETTINGS.from_yaw)
    side = far_jaw(fitted_yaw(truth))
    out = hide_far_jaw(labelled, SETTINGS)
    np.testing.assert_allclose(out[side], (1 - weight) * labelled[side] + weight * truth[side, :2], atol=0.5)


def test_settings_come_from_the_config_and_from_export_options() -> None:
    assert ProfileJaw.from_config({}) is None and ProfileJaw.from_config({"profile_jaw": None}) is None
    settings = ProfileJaw.from_config({"profile_jaw": SETTINGS.to_config()})
    assert settings == SETTINGS
    assert ProfileJaw.parse("30,45,1.5") == SETTINGS and ProfileJaw.parse("") is None


def test_degenerate_points_are_returned_as_they_are() -> None:
    everywhere = ProfileJaw(0.0, 1.0, 1.5)  # would move any turned face
    for points in (np.full((68, 2), 7.0), np.full((68, 3), np.nan)):
        out = hide_far_jaw(points, everywhere)
        np.testing.assert_array_equal(out, points)
        assert out is not points
