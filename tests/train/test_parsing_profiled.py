"""Profiled parsing views: labels move with the pixels; the views sample at their share and read as a human set."""

from __future__ import annotations

import numpy as np
from PIL import Image

from facehub.geometry.align import CropSpec
from facehub.parsing.labels import CELEBAMASK
from facehub.reconstruction.mesh import head_pose
from facehub.train.parsing.dataset import ParsingItem, ParsingTrainSet, load_human_items
from facehub.train.parsing.profiled import is_profiled, profiled_view
from tests.train.test_profiling import NOSE_TIP, frontal_mesh, paint_marker, textured_image

FIVE = np.array([[40.0, 50.0], [88.0, 50.0], [64.0, 72.0], [46.0, 92.0], [82.0, 92.0]])


def test_a_painted_nose_stays_labelled_nose_and_the_face_turns():
    mesh, image = frontal_mesh(), textured_image(2)
    labels = np.full(image.shape[:2], CELEBAMASK.index("skin"), np.uint8)
    nose = CELEBAMASK.index("nose")
    paint_marker(image, labels, mesh[NOSE_TIP], (255, 0, 255), nose, radius=4)
    view = profiled_view(image, labels, mesh, np.random.default_rng(0))
    assert 20 <= abs(view.rotation[0]) <= 90  # a turned view, not the input
    assert view.image.shape == image.shape and view.label.shape == labels.shape
    magenta = np.abs(view.image.astype(int) - [255, 0, 255]).max(-1) < 40
    labelled_nose = view.label == nose
    assert labelled_nose.sum() > 10
    assert magenta[labelled_nose].mean() > 0.8  # where the label went, the painted pixels went
    # the nose moved towards the side the face turned to
    ys, xs = np.nonzero(labelled_nose)
    assert np.sign(mesh[NOSE_TIP, 0] - xs.mean()) == np.sign(view.rotation[0])


def test_a_small_label_map_is_brought_to_the_image_size():
    mesh, image = frontal_mesh(), textured_image(3)
    small = np.ones((image.shape[0] // 2, image.shape[1] // 2), np.uint8)
    view = profiled_view(image, small, mesh, np.random.default_rng(1))
    assert view.label.shape == image.shape[:2]
    assert abs(head_pose(mesh).yaw) < 1


def test_profiled_share_sets_the_profiled_views_share_of_the_human_samples(tmp_path):
    items = [ParsingItem(tmp_path / f"{i}.jpg", tmp_path / f"{i}.png", FIVE, dataset, human=human)
             for i, (dataset, human) in enumerate([("celebamask19", True)] * 4 + [("profiled_celebamask19", True)] * 8
                                                  + [("ytf68", False)] * 8)]
    weights = ParsingTrainSet(items, CropSpec(64), [0.5] * 3, [0.5] * 3, human_share=0.7, profiled_share=0.25).weights()
    human = np.array([item.human for item in items])
    profiled = np.array([is_profiled(item.dataset) for item in items])
    assert np.isclose(weights[human].sum() / weights.sum(), 0.7)
    assert np.isclose(weights[profiled].sum() / weights[human].sum(), 0.25)
    by_count = ParsingTrainSet(items, CropSpec(64), [0.5] * 3, [0.5] * 3, human_share=0.7).weights()
    assert np.isclose(by_count[profiled].sum() / by_count[human].sum(), 8 / 12)


def test_a_profiled_index_names_its_own_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEHUB_DATA", str(tmp_path / "elsewhere"))
    folder = tmp_path / "profiled_celebamask19" / "val"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    Image.fromarray(np.ones((8, 8), np.uint8)).save(folder / "labels" / "a_v0.png")
    np.savez_compressed(tmp_path / "profiled_celebamask19_val.npz", names=np.array(["a_v0.jpg"]),
                        points5=FIVE[None].astype(np.float32), labels=np.array(CELEBAMASK.names),
                        folder=np.array("profiled_celebamask19/val"))
    [item] = load_human_items("val", ("profiled_celebamask19",), tmp_path)
    assert item.image == folder / "images" / "a_v0.jpg" and item.label == folder / "labels" / "a_v0.png"
    assert item.human and is_profiled(item.dataset) and item.labels == CELEBAMASK.names
