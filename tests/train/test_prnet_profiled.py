"""PRNet's profiled training faces: the drawn rotation reaches the target pose range on the side the face
already turns to, and a profiled face cut as a loose crop keeps its mesh and points on its pixels."""

from __future__ import annotations

import numpy as np

from facehub.geometry.align import CropSpec
from facehub.reconstruction.mesh import head_pose
from facehub.train.data.profiling import profile_face, rotation_matrix
from facehub.train.reconstruction.dataset import cut_loose, loose_size
from facehub.train.reconstruction.profiled import PoseRange, target_rotation
from tests.train.test_profiling import (
    NOSE_TIP,
    frontal_mesh,
    paint_marker,
    textured_image,
)


def _turned(mesh: np.ndarray, rotation: tuple[float, float, float]) -> np.ndarray:
    """``mesh`` (468, 3) turned by ``rotation`` about its centroid, as ``profile_face`` turns it (up to the centre)."""
    centre = mesh.mean(0)
    return (mesh - centre) @ rotation_matrix(*rotation).T + centre


def test_the_drawn_rotation_reaches_the_pose_range_and_keeps_a_turned_face_on_its_side() -> None:
    rng = np.random.default_rng(0)
    poses = PoseRange(yaw=(40.0, 80.0), pitch=5.0, roll=5.0)
    frontal = frontal_mesh()
    turned_left = _turned(frontal, (30.0, 0.0, 0.0))
    assert head_pose(turned_left).yaw > 25
    sides = []
    for mesh in (frontal,) * 20 + (turned_left,) * 20:
        rotation = target_rotation(mesh, poses, rng)
        pose = head_pose(_turned(mesh, rotation))
        assert 40 - 2 <= abs(pose.yaw) <= 80 + 2
        sides.append(np.sign(pose.yaw))
    assert set(sides[:20]) == {-1.0, 1.0}  # a frontal face may turn either way
    assert set(sides[20:]) == {1.0}  # a turned face turns further its own way


def test_a_profiled_face_cut_loose_keeps_a_painted_marker_on_its_point() -> None:
    mesh, image = frontal_mesh(), textured_image()
    labels = np.zeros(image.shape[:2], np.uint8)
    paint_marker(image, labels, mesh[NOSE_TIP, :2], (255, 0, 255), 1)
    turned = profile_face(image, mesh, (50.0, 0.0, 0.0), points68=np.repeat(mesh[[NOSE_TIP], :2], 68, 0))
    spec = CropSpec(64, 0.65, -0.06)
    crop, points, matrix = cut_loose(turned.image, turned.mesh, spec, loose_size(64))
    assert crop.shape == (loose_size(64), loose_size(64), 3) and points.shape == (468, 3)
    x, y = np.round(points[NOSE_TIP, :2]).astype(int)
    assert np.abs(crop[y - 1 : y + 2, x - 1 : x + 2].astype(int) - [255, 0, 255]).sum(-1).min() < 60
    label = turned.points68[0, :2] @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(label, points[NOSE_TIP, :2], atol=0.5)


def test_faces_labelled_by_another_teacher_are_turned_with_their_points(tmp_path, monkeypatch) -> None:
    """``build_labelled_profiled_crops`` turns only the labelled faces of a teacher cache, and their points land
    where the warp puts the mesh vertex they were painted on."""
    from PIL import Image

    from facehub.train.data.teacher import TeacherCache
    from facehub.train.reconstruction import profiled

    mesh, image = frontal_mesh(), textured_image()
    Image.fromarray(image).save(tmp_path / "a.jpg")
    Image.fromarray(image).save(tmp_path / "b.jpg")
    cache = TeacherCache("fake", tmp_path, np.array(["a.jpg", "b.jpg"]), np.stack([mesh, mesh]).astype(np.float32),
                         np.array([image.shape[:2]] * 2))
    monkeypatch.setattr(profiled, "teacher_cache", lambda dataset: cache)
    nose = np.repeat(mesh[[NOSE_TIP], :2], 68, 0)
    crops = profiled.build_labelled_profiled_crops("fake", {"b.jpg": nose}, CropSpec(64, 0.65, -0.06), loose_size(64),
                                                   PoseRange(yaw=(40.0, 60.0), pitch=0.0, roll=0.0), workers=1)
    assert list(crops.names) == ["b.jpg"] and list(crops.sources) == ["profiled_fake"]
    assert 40 - 3 <= abs(head_pose(crops.points[0]).yaw) <= 60 + 3
    np.testing.assert_allclose(crops.labels68[0], np.repeat(crops.points[0][[NOSE_TIP], :2], 68, 0), atol=0.5)
