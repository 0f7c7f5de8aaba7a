"""``facehub.geometry.five_points``: the one 68 -> 5, 468 -> 5 and box -> 5 conversion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facehub.geometry.five_points import (
    MTCNN_OFFSET_468,
    box_from_five_points,
    five_points_from_68,
    five_points_from_468,
    five_points_from_box,
)
from facehub.reconstruction.uv import canonical_mesh

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _mesh() -> np.ndarray:
    """A fixed (468, 3) face: MediaPipe's canonical mesh, 9 px per cm, y down, centred at (200, 150)."""
    vertices = canonical_mesh().vertices
    return np.c_[vertices[:, 0] * 9.0 + 200.0, -vertices[:, 1] * 9.0 + 150.0, vertices[:, 2] * 9.0]


# What the two training modules' own functions returned on ``_mesh()`` before they became calls of
# ``five_points_from_468`` (facehub/train/data/parsing_pseudo.py and facehub/train/reconstruction/dataset.py
# at commit 46ac16b), to the last bit.
PARSING_PSEUDO_BEFORE = [[171.331709447, 124.56237253762501], [227.81506761987498, 124.56237253762501],
                         [199.374303182375, 155.93255186325], [176.41522624925, 189.026707471125],
                         [222.50402470212498, 188.91294441337502]]
PRNET_DATASET_BEFORE = [[172.35410167810105, 127.20809983314298], [230.85146544932866, 127.76046187025152],
                        [201.874461549464, 159.998117643384], [179.40938638515502, 190.573288451043],
                        [223.62604954180398, 192.289428078963]]


def test_five_points_from_68() -> None:
    points = np.zeros((68, 2))
    points[36:42] = [10, 20]
    points[42:48] = [30, 20]
    points[30] = [20, 30]
    points[48] = [12, 40]
    points[54] = [28, 40]
    np.testing.assert_allclose(five_points_from_68(points), [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]])


def test_both_training_call_sites_are_bit_identical_to_their_old_functions() -> None:
    from facehub.train.data.parsing_pseudo import five_points_from_mesh
    from facehub.train.reconstruction.dataset import (
        five_points_from_468 as prnet_five_points,
    )

    assert five_points_from_mesh(_mesh()).tolist() == PARSING_PSEUDO_BEFORE
    assert prnet_five_points(_mesh()).tolist() == PRNET_DATASET_BEFORE
    assert five_points_from_468(_mesh(), via="mesh", offset=MTCNN_OFFSET_468).tolist() == PARSING_PSEUDO_BEFORE
    assert five_points_from_468(_mesh()).tolist() == PRNET_DATASET_BEFORE


def test_the_offset_is_in_inter_ocular_units_and_optional() -> None:
    plain = five_points_from_468(_mesh(), via="mesh")
    eyes = float(np.linalg.norm(plain[1] - plain[0]))
    moved = five_points_from_468(_mesh(), via="mesh", offset=MTCNN_OFFSET_468)
    np.testing.assert_allclose(moved - plain, MTCNN_OFFSET_468 * eyes)
    assert plain[0, 0] < plain[2, 0] < plain[1, 0] and plain[2, 1] < plain[3, 1]  # image-left eye first, nose above mouth
    with pytest.raises(ValueError, match="via"):
        five_points_from_468(_mesh(), via="ears")


def test_box_points_round_trip_and_sit_where_mtcnn_puts_them() -> None:
    boxes = np.array([[10.0, 20, 110, 140], [-5, 0, 45, 60]])
    points = five_points_from_box(boxes)
    assert points.shape == (2, 5, 2)
    np.testing.assert_allclose(box_from_five_points(points), boxes, atol=1e-9)
    from facehub.detection.detector import FaceDetector
    from facehub.image import load_image

    detector = FaceDetector.from_pretrained(device="cpu")
    faces = [f for name in ("astronaut.jpg", "grace_hopper.jpg", "two_people.jpg")
             for f in detector(load_image(EXAMPLES / name)).faces]
    assert len(faces) >= 3
    for face in faces:
        width = face.box[2] - face.box[0]
        assert np.abs(five_points_from_box(face.box) - face.points).max() < 0.1 * width
