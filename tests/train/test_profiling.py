"""Face profiling: rotated shapes render where they project, labels move with the pixels, yaw sign."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facehub.reconstruction.mesh import head_pose
from facehub.reconstruction.uv import canonical_mesh
from facehub.train.data import cache_root, data_root
from facehub.train.data.profiling import lift_points, profile_face, rotation_matrix

SIZE = 240
SCALE = 8.0  # pixels per canonical cm (face about 123 px wide)
NOSE_TIP, LEFT_CHEEK, RIGHT_CHEEK = 1, 425, 205  # subject's left cheek lies on the image's right


def frontal_mesh() -> np.ndarray:
    """The canonical mesh as a frontal face in a SIZE x SIZE image: (468, 3) pixels, smaller z nearer."""
    v = canonical_mesh().vertices
    return np.column_stack([SIZE / 2 + SCALE * v[:, 0], SIZE / 2 - SCALE * v[:, 1], -SCALE * v[:, 2]])


def textured_image(seed: int = 0) -> np.ndarray:
    """(SIZE, SIZE, 3) uint8 smooth random colours (no flat areas, so misplaced pixels show)."""
    noise = np.random.default_rng(seed).uniform(0, 255, (12, 12, 3)).astype(np.float32)
    return cv2.resize(noise, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8)


def paint_marker(image: np.ndarray, labels: np.ndarray, xy: np.ndarray, colour, label: int, radius: int = 3) -> None:
    centre = (round(float(xy[0])), round(float(xy[1])))
    cv2.circle(image, centre, radius, colour, -1)
    cv2.circle(labels, centre, radius, label, -1)


def test_zero_rotation_returns_the_input():
    mesh, image = frontal_mesh(), textured_image()
    labels = (image[..., 0] // 32).astype(np.uint8)
    points = lift_points(mesh[[1, 33, 263, 61, 291, 152] * 11 + [1, 1], :2], mesh)[:, :2]  # 68 points on the face
    result = profile_face(image, mesh, (0.0, 0.0, 0.0), points68=points, label_map=labels)
    assert np.abs(result.image.astype(int) - image).max() <= 1
    assert np.array_equal(result.label_map, labels)
    np.testing.assert_allclose(result.points68[:, :2], points, atol=1e-9)
    np.testing.assert_allclose(result.mesh, mesh, atol=1e-9)
    assert result.visible68.all()


@pytest.mark.parametrize("vertex, rotation", [(NOSE_TIP, (30.0, 0.0, 0.0)), (LEFT_CHEEK, (30.0, 0.0, 0.0)),
                                              (NOSE_TIP, (-20.0, 15.0, 10.0))])
def test_marker_lands_at_the_projected_vertex(vertex, rotation):
    mesh, image = frontal_mesh(), textured_image(1)
    labels = np.zeros((SIZE, SIZE), np.uint8)
    paint_marker(image, labels, mesh[vertex], (255, 0, 255), 7)
    points = np.repeat(mesh[vertex : vertex + 1, :2], 68, 0)
    result = profile_face(image, mesh, rotation, points68=points, label_map=labels)
    x, y = np.round(result.mesh[vertex, :2]).astype(int)
    assert np.abs(result.image[y, x].astype(int) - [255, 0, 255]).max() < 40  # the marker's colour is there
    assert result.label_map[y, x] == 7  # the label moved the same way
    np.testing.assert_allclose(result.points68[0, :2], result.mesh[vertex, :2], atol=0.5)  # and so did the point
    # the marker moved (it is not just left where it was)
    assert np.linalg.norm(result.mesh[vertex, :2] - mesh[vertex, :2]) > 3
    # label pixels and marker pixels coincide
    magenta = np.all(np.abs(result.image.astype(int) - [255, 0, 255]) < 40, -1)
    overlap = (magenta & (result.label_map == 7)).sum() / max((result.label_map == 7).sum(), 1)
    assert overlap > 0.7


def test_positive_yaw_turns_the_face_to_the_image_left():
    """yaw > 0: the nose moves towards the image's left, the subject's left cheek (image right) comes into
    view, the right one turns away; the result's Pose_Para yaw (head_pose) is the rotation's."""
    mesh = frontal_mesh()
    assert abs(head_pose(mesh).yaw) < 1.0
    result = profile_face(textured_image(), mesh, (30.0, 0.0, 0.0))
    assert result.mesh[NOSE_TIP, 0] < mesh[NOSE_TIP, 0] - 10
    assert head_pose(result.mesh).yaw == pytest.approx(30.0, abs=1.0)
    for angles in [(0.0, 20.0, 0.0), (0.0, 0.0, 15.0), (-40.0, 10.0, 5.0)]:
        pose = head_pose(profile_face(textured_image(), mesh, angles).mesh)
        assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx(angles, abs=1.0)
    turned = profile_face(textured_image(), mesh, (70.0, 0.0, 0.0), points68=np.repeat(mesh[[LEFT_CHEEK, RIGHT_CHEEK], :2], 34, 0))
    assert turned.visible68[0] and not turned.visible68[34]  # left cheek faces the camera, right one is behind the nose
    # rotation_matrix is orthonormal and a proper rotation
    r = rotation_matrix(30.0, 10.0, -5.0)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_surroundings_follow_and_the_border_stays():
    mesh, image = frontal_mesh(), textured_image(2)
    result = profile_face(image, mesh, (60.0, 10.0, 0.0))
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    edge = np.concatenate([np.abs(result.image[0].astype(int) - image[0]), np.abs(result.image[-1].astype(int) - image[-1]),
                           np.abs(result.image[:, 0].astype(int) - image[:, 0]), np.abs(result.image[:, -1].astype(int) - image[:, -1])])
    assert np.median(edge) <= 2  # the image border is (nearly) fixed
    assert (result.image.sum(-1) == 0).mean() < 0.001  # no holes (the texture has no black)
    # the picture changed (the head and its surroundings moved)
    assert np.abs(result.image.astype(int) - image).mean() > 5


def test_lift_points_takes_the_mesh_depth():
    mesh = frontal_mesh()
    lifted = lift_points(mesh[[NOSE_TIP, LEFT_CHEEK], :2], mesh)
    np.testing.assert_allclose(lifted[:, 2], mesh[[NOSE_TIP, LEFT_CHEEK], 2], atol=0.5)
    outside = lift_points(mesh[[152], :2] + [0, 5], mesh)  # just below the chin
    assert abs(outside[0, 2] - mesh[152, 2]) < 0.1 * SCALE * 15


YTF = cache_root() / "teacher" / "ytf68.npz"


@pytest.mark.skipif(not YTF.is_file() or not (data_root() / "ytf68" / "landmarks68.csv").is_file(),
                    reason="ytf68 teacher cache or data not present")
def test_real_ytf68_face():
    from PIL import Image

    from facehub.train.data.teacher import load_teacher_cache
    from facehub.train.data.ytf68 import read_ytf68

    cache = load_teacher_cache("ytf68")
    human = {s.path.name: s.points for s in read_ytf68()}
    index = next(i for i in np.flatnonzero(cache.found()) if str(cache.names[i]) in human
                 and abs(head_pose(cache.points[i]).yaw) < 15)
    name = str(cache.names[index])
    image = np.asarray(Image.open(cache.image_dir / name).convert("RGB"))
    mesh = cache.points[index].astype(np.float64)
    result = profile_face(image, mesh, (60.0, 0.0, 0.0), points68=human[name])
    assert result.image.shape == image.shape
    assert head_pose(result.mesh).yaw == pytest.approx(head_pose(mesh).yaw + 60.0, abs=8.0)
    width = image.shape[1]
    assert np.all((result.points68[:, 0] > -5) & (result.points68[:, 0] < width + 5))
    assert result.visible68[30]  # nose tip
    assert not result.visible68[:4].all()  # the image-left jaw (subject's right) turned away
    assert result.visible68[12:17].all()  # the image-right jaw faces the camera
    assert result.points5.shape == (5, 2)
