"""Point sets, flip maps, 98->68, file readers (.pts, WFLW, ytf68 CSV), person split, crops, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from facehub.geometry.align import CropSpec
from facehub.geometry.landmarks68 import (
    FLIP_68,
    FLIP_98,
    MAP_98_TO_68,
    flip_index,
    flip_points,
    to_68,
)
from facehub.train.data import data_root
from facehub.train.data.landmark_files import (
    read_labelled_folder,
    read_pts,
    read_pts_folder,
    read_wflw,
    write_pts,
)
from facehub.train.data.ytf68 import (
    person_of,
    read_points_csv,
    read_ytf68,
    split_by_person,
    write_points_csv,
)
from facehub.train.eval.metrics import auc, failure_rate, landmark_summary, nme
from facehub.train.landmarks.augment import LandmarkAugment, make_crop

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("n", [68, 98])
def test_flip_is_an_involution(n: int) -> None:
    order = flip_index(n)
    assert sorted(order) == list(range(n))
    assert [order[i] for i in order] == list(range(n))
    points = RNG.random((n, 2)) * 100
    assert np.allclose(flip_points(flip_points(points, 120), 120), points)


def test_flip_swaps_named_points() -> None:
    assert FLIP_68[36] == 45 and FLIP_68[45] == 36 and FLIP_68[0] == 16 and FLIP_68[48] == 54
    assert FLIP_68[30] == 30 and FLIP_68[8] == 8 and FLIP_68[62] == 62
    assert FLIP_98[60] == 72 and FLIP_98[96] == 97 and FLIP_98[16] == 16
    points = RNG.random((68, 2)) * 100
    flipped = flip_points(points, 100)
    assert np.allclose(flipped[36], [99 - points[45, 0], points[45, 1]])


def test_98_to_68_map() -> None:
    assert len(MAP_98_TO_68) == 68 and len(set(MAP_98_TO_68)) == 68
    assert MAP_98_TO_68[36] == 60 and MAP_98_TO_68[45] == 72 and MAP_98_TO_68[8] == 16 and MAP_98_TO_68[67] == 95
    points98 = RNG.random((98, 2))
    assert to_68(points98).shape == (68, 2)
    # flipping commutes with the conversion
    assert np.allclose(to_68(flip_points(points98, 1.0)), flip_points(to_68(points98), 1.0))


def test_pts_round_trip_and_folder(tmp_path) -> None:
    points = RNG.random((68, 2)) * 200
    write_pts(tmp_path / "face_01.pts", points)
    assert "n_points:  68" in (tmp_path / "face_01.pts").read_text()
    assert np.allclose(read_pts(tmp_path / "face_01.pts"), points, atol=1e-3)
    assert np.allclose(read_pts(tmp_path / "face_01.pts", one_based=False), points + 1, atol=1e-3)
    from PIL import Image

    Image.new("RGB", (32, 32)).save(tmp_path / "face_01.jpg")
    samples = read_pts_folder(tmp_path)
    assert len(samples) == 1 and samples[0].path.name == "face_01.jpg"
    assert len(read_labelled_folder(tmp_path)) == 1
    (tmp_path / "bad.pts").write_text("version: 1\nn_points: 3\n{\n1 2\n}\n")
    with pytest.raises(ValueError, match="n_points"):
        read_pts(tmp_path / "bad.pts")


def test_wflw_reader(tmp_path) -> None:
    points = RNG.random((2, 98, 2)) * 300
    lines = []
    for i, p in enumerate(points):
        values = " ".join(f"{v:.3f}" for v in p.reshape(-1))
        lines.append(f"{values} 10 20 200 220 0 1 0 0 0 0 51--Dresses/51_Dresses_{i}.jpg")
    (tmp_path / "list_98pt_rect_attr_test.txt").write_text("\n".join(lines) + "\n")
    samples = read_wflw(tmp_path / "list_98pt_rect_attr_test.txt", tmp_path / "WFLW_images")
    assert len(samples) == 2 and samples[1].points.shape == (98, 2)
    assert np.allclose(samples[1].points, points[1], atol=1e-3)
    assert samples[0].path == tmp_path / "WFLW_images" / "51--Dresses" / "51_Dresses_0.jpg"
    assert len(read_labelled_folder(tmp_path)) == 2


def test_person_parsing() -> None:
    assert person_of("training_Luis_Fonsi_21.jpg") == "Luis_Fonsi"
    assert person_of("test_Abdel_Aziz_Al-Hakim_01.jpg") == "Abdel_Aziz_Al-Hakim"
    assert person_of("Someone.jpg") == "Someone"


def test_csv_reader_and_person_split(tmp_path) -> None:
    header = "image," + ",".join(f"x{i},y{i}" for i in range(68))
    rows = [header]
    for person in ["Ann_Lee", "Bo_Chen", "Cy_Dee", "Di_Eve", "Ed_Fox"]:
        for frame in range(3):
            rows.append(f"training_{person}_{frame:02d}.jpg," + ",".join(f"{v:.1f}" for v in RNG.random(136) * 90))
    (tmp_path / "landmarks68.csv").write_text("\n".join(rows) + "\n")
    samples = read_points_csv(tmp_path / "landmarks68.csv")
    assert len(samples) == 15 and samples[0].points.shape == (68, 2)
    assert samples[0].path == tmp_path / "images" / "training_Ann_Lee_00.jpg"
    train, val = split_by_person(samples, 0.4, seed=1)
    assert {s.person for s in train}.isdisjoint({s.person for s in val})
    assert len(train) + len(val) == 15 and len({s.person for s in val}) == 2


def test_points_csv_writer_round_trips(tmp_path) -> None:
    points = [RNG.random((68, 2)) * 300, RNG.random((68, 2)) * 300]
    write_points_csv(tmp_path / "landmarks68.csv", ["a_01.jpg", "b_02.jpg"], points)
    samples = read_points_csv(tmp_path / "landmarks68.csv")
    assert [s.path.name for s in samples] == ["a_01.jpg", "b_02.jpg"] and [s.person for s in samples] == ["a", "b"]
    for sample, expected in zip(samples, points):
        np.testing.assert_allclose(sample.points, expected, atol=0.005 + 1e-9)


@pytest.mark.skipif(not (data_root() / "ytf68" / "landmarks68.csv").is_file(), reason="ytf68 not on this machine")
def test_ytf68_split_has_no_shared_person() -> None:
    samples = read_ytf68()
    assert len(samples) == 3403 and len({s.person for s in samples}) == 278
    train, val = split_by_person(samples)
    assert {s.person for s in train}.isdisjoint({s.person for s in val})
    assert 250 < len(val) < 600


def _face_image() -> tuple[np.ndarray, np.ndarray]:
    """A synthetic 200 px image with a plausible 68-point face (mean-ish shape) and texture."""
    t = np.linspace(0, np.pi, 17)
    jaw = np.stack([100 - 60 * np.cos(t), 90 + 70 * np.sin(t)], 1)
    rest = np.stack([np.linspace(60, 140, 51), np.full(51, 95.0)], 1)
    points = np.concatenate([jaw, rest])
    points[36:42] = [[62, 80], [68, 76], [76, 76], [82, 80], [76, 83], [68, 83]]
    points[42:48] = [[118, 80], [124, 76], [132, 76], [138, 80], [132, 83], [124, 83]]
    points[30] = [100, 110]
    points[48], points[54] = [80, 130], [120, 130]
    image = (RNG.random((200, 200, 3)) * 255).astype(np.uint8)
    return image, points


def test_plain_crop_matches_alignment() -> None:
    from facehub.geometry.align import crop_faces, transform_points
    from facehub.geometry.five_points import five_points_from_68

    image, points = _face_image()
    spec = CropSpec(64, 0.68, -0.1)
    crop, crop_points, matrix = make_crop(image, points, spec, LandmarkAugment.none(), RNG)
    reference, matrices = crop_faces(image, five_points_from_68(points)[None], spec)
    assert np.allclose(matrix, matrices[0])
    assert np.allclose(crop_points, transform_points(points, matrix))
    difference = np.abs(crop.astype(float) - reference[0].permute(1, 2, 0).numpy() * 255)
    assert np.median(difference) < 2.0  # cv2 and grid_sample agree on the pixel-centre convention


def test_flipped_crop_swaps_indices() -> None:
    image, points = _face_image()
    spec = CropSpec(64, 0.68, -0.1)
    cfg = LandmarkAugment.none()
    plain, plain_pts, _ = make_crop(image, points, spec, cfg, np.random.default_rng(1))
    cfg.flip_prob = 1.0
    flipped, flipped_pts, _ = make_crop(image, points, spec, cfg, np.random.default_rng(1))
    assert np.array_equal(flipped, plain[:, ::-1])
    assert np.allclose(flipped_pts[36], [63 - plain_pts[45, 0], plain_pts[45, 1]])
    assert flipped_pts[36, 0] < flipped_pts[45, 0]  # point 36 stays on the image's left


def test_augmented_crop_shapes() -> None:
    image, points = _face_image()
    crop, crop_points, _ = make_crop(image, points, CropSpec(64, 0.68, -0.1), LandmarkAugment(), RNG)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8 and crop_points.shape == (68, 2)


def test_metrics() -> None:
    target = np.zeros((1, 68, 2))
    target[0, 45] = [10.0, 0.0]
    pred = target + np.array([0.0, 1.0])
    assert np.isclose(nme(pred, target)[0], 0.1)
    errors = np.array([0.02, 0.05, 0.2, np.inf])
    assert failure_rate(errors) == 0.5
    assert 0.0 < auc(errors) < 0.5
    assert auc(np.zeros(3)) == pytest.approx(1.0, abs=1e-3)
    summary = landmark_summary(errors)
    assert summary["missed"] == 1 and np.isclose(summary["nme"], 0.09)


def test_teacher_landmark_samples_map_468_points_to_68(tmp_path, monkeypatch) -> None:
    from facehub.reconstruction.uv import map_68
    from facehub.train.data.teacher import teacher_landmark_samples

    monkeypatch.setenv("FACEHUB_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache" / "teacher").mkdir(parents=True)
    rng = np.random.default_rng(0)
    points = rng.uniform(50, 200, size=(2, 468, 3)).astype(np.float32)
    points[1] = np.nan  # the teacher found no face in the second image
    np.savez(tmp_path / "cache" / "teacher" / "figaro1k_hair_train.npz", names=np.array(["a.jpg", "b.jpg"]),
             points=points, sizes=np.array([[256, 256], [256, 256]]))
    samples = teacher_landmark_samples(["figaro1k_hair_train"], root=tmp_path / "data")
    assert len(samples) == 1
    sample = samples[0]
    assert sample.path == tmp_path / "data" / "figaro1k_hair" / "train" / "images" / "a.jpg"
    assert sample.person == "figaro1k_hair_train:a" and sample.points.shape == (68, 2)
    indices, weights = map_68()
    expected = (points[0, indices, :2] * weights[..., None]).sum(1)
    np.testing.assert_allclose(sample.points, expected, rtol=1e-5)


def test_profiled_views_become_a_labelled_folder(tmp_path) -> None:
    """Views with human points are written (pixels and points together, the person kept); the rest are not."""
    from PIL import Image

    from facehub.train.landmarks.profiled_folder import write_labelled_folder
    from facehub.train.reconstruction.dataset import LooseCrops

    rng = np.random.default_rng(0)
    images = np.zeros((3, 64, 64, 3), np.uint8)
    labels = rng.uniform(8, 56, (3, 68, 2)).astype(np.float32)
    labels[1] = np.nan  # a CelebA-HQ view: no human points
    for image, points in zip(images, labels):
        if np.isfinite(points).all():
            x, y = np.round(points[30]).astype(int)
            image[y - 2 : y + 3, x - 2 : x + 3] = 255  # a marker under the nose tip
    names = np.array(["training_Ann_Lee_3.jpg", "27636.jpg", "training_Bo_Yu_12.jpg"])
    crops = LooseCrops(images, np.zeros((3, 468, 3), np.float32), names, np.array(["profiled_ytf68"] * 3), labels)

    assert write_labelled_folder(crops, tmp_path) == 2
    samples = read_labelled_folder(tmp_path)
    assert [s.person for s in samples] == ["Ann_Lee", "Bo_Yu"]
    for sample, points in zip(samples, labels[[0, 2]]):
        np.testing.assert_allclose(sample.points, points, atol=0.01)
        pixels = np.asarray(Image.open(sample.path).convert("L"))
        x, y = np.round(sample.points[30]).astype(int)
        assert pixels[y, x] > 200 and pixels[0, 0] < 30
    assert write_labelled_folder(crops, tmp_path / "one", limit=1) == 1
