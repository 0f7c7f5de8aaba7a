"""Parsing metrics: per-class and per-group F1 from confusion matrices."""

from __future__ import annotations

import numpy as np

from facehub.parsing.labels import CELEBAMASK
from facehub.train.eval.metrics import confusion_matrix, f1_per_class, group_f1


def test_group_f1_pools_left_and_right() -> None:
    l_eye, r_eye, skin = (CELEBAMASK.index(n) for n in ("l_eye", "r_eye", "skin"))
    target = np.array([[l_eye, l_eye, r_eye, r_eye, skin, skin, skin, 0]])
    pred = np.array([[r_eye, l_eye, l_eye, skin, skin, skin, 0, 0]])  # left/right confused: still the eyes group
    confusion = confusion_matrix(pred, target, len(CELEBAMASK))
    groups = group_f1(confusion, CELEBAMASK.names)
    assert groups["eyes"] == 2 * 3 / (3 + 4)  # 3 predicted eye pixels, all on eyes; 4 eye pixels
    assert groups["skin"] == 2 * 2 / (3 + 3)
    assert np.isnan(groups["cloth"])  # never present, never predicted: out of the mean
    assert groups["mean"] == np.nanmean([groups[g] for g in ("skin", "eyes")])
    per_class = f1_per_class(confusion)
    assert per_class[l_eye] < groups["eyes"]


def test_group_f1_of_a_perfect_map_is_one() -> None:
    target = np.random.default_rng(0).integers(0, len(CELEBAMASK), (32, 32))
    groups = group_f1(confusion_matrix(target, target, len(CELEBAMASK)), CELEBAMASK.names)
    assert groups["mean"] == 1.0


def test_box_nme_divides_by_the_square_root_of_the_point_box_area() -> None:
    from facehub.train.eval.landmarks import box_nme

    target = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 10.0], [40.0, 10.0]])  # box 40 x 10: sqrt(area) 20
    assert box_nme(target + [3.0, 4.0], target) == 5.0 / 20.0
    assert box_nme(target, target) == 0.0


def test_point_errors_average_to_the_nme_of_either_normaliser() -> None:
    from facehub.train.eval.landmarks import box_nme, point_errors
    from facehub.train.eval.metrics import nme

    rng = np.random.default_rng(0)
    target = rng.uniform(0, 100, (68, 2))
    pred = target + rng.normal(0, 2, (68, 2))
    errors = point_errors(pred, target)
    assert errors.shape == (68,)
    np.testing.assert_allclose(errors.mean(), nme(pred, target)[0])
    np.testing.assert_allclose(point_errors(pred, target, "box").mean(), box_nme(pred, target))
    shifted = pred.copy()
    shifted[30] += 10.0  # one point moved: only its error changes
    changed = np.flatnonzero(~np.isclose(point_errors(shifted, target), errors))
    assert changed.tolist() == [30]


def test_landmark_nme_by_yaw_bins_reads_each_faces_pose(tmp_path) -> None:
    from scipy.io import savemat

    from facehub.train.eval.landmarks import nme_by_yaw

    for name, yaw in (("a", 10.0), ("b", -45.0), ("c", 80.0), ("d", -97.0)):
        savemat(tmp_path / f"{name}.mat", {"Pose_Para": np.radians([[5.0, yaw, 0.0, 0, 0, 0, 1]])})
    bins = nme_by_yaw({"a.jpg": 0.02, "b.jpg": 0.05, "c.jpg": 0.1, "d.jpg": None}, tmp_path)
    assert bins["[0,30)"] == {"nme": 0.02, "faces": 1, "missed": 0}
    assert bins["[30,60)"]["nme"] == 0.05
    assert bins["[60,90]"] == {"nme": 0.1, "faces": 1, "missed": 1}
    assert nme_by_yaw({"e.jpg": 0.02}, tmp_path) is None


def test_face_free_strips_end_where_the_labelled_face_begins(tmp_path) -> None:
    """Strips are cut above the first eye/brow row and below the last face row of each label map, kept from
    ``min_rows`` tall, and hold no labelled face pixel."""
    import json

    from PIL import Image

    from facehub.train.eval.detection import face_free_strips

    classes = list(CELEBAMASK.names)
    folder = tmp_path / "celebamask19" / "val"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    (folder / "classes.json").write_text(json.dumps({"classes": classes}))
    labels = np.zeros((400, 300), np.uint8)
    labels[150:260, 100:200] = classes.index("skin")
    labels[170:180, 120:140] = classes.index("l_brow")
    labels[0:150, 50:250] = classes.index("hair")
    Image.fromarray(labels).save(folder / "labels" / "a.png")
    Image.fromarray(np.full((800, 600, 3), 90, np.uint8)).save(folder / "images" / "a.jpg")  # labels at half size
    strips = face_free_strips(tmp_path, "val", min_rows=96)
    assert [s.shape for s in strips] == [(800 - (259 + 4) * 2, 600, 3), ((170 - 8) * 2, 600, 3)]
    assert face_free_strips(tmp_path, "val", min_rows=400) == []
