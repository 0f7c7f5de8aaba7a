"""FaceDetector (MTCNN) on the shipped weights and real faces; NMS on hand-made boxes."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facehub.detection.detector import FaceDetector, box_overlap, nms, square
from facehub.detection.result import DetectionResult, Face
from facehub.geometry.five_points import five_points_from_68
from facehub.train.data import data_root

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
YTF = data_root() / "ytf68"
CELEBA = data_root() / "celebamask_hair" / "val" / "images"


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector.from_pretrained("mtcnn", device="cpu")


def _require(folder: Path) -> None:
    if not folder.is_dir():
        pytest.skip(f"training data not found at {folder}")


def _ytf_rows(count: int) -> list[tuple[str, np.ndarray]]:
    """``count`` (file name, (68, 2) points) pairs spread evenly over ytf68."""
    _require(YTF)
    with open(YTF / "landmarks68.csv", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    step = max(1, len(rows) // count)
    return [(row[0], np.asarray(row[1:], dtype=np.float64).reshape(68, 2)) for row in rows[::step][:count]]


def _read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _celeba(index: int = 0) -> np.ndarray:
    _require(CELEBA)
    return _read(sorted(CELEBA.glob("*.jpg"))[index])


def _inside(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(N,) bool: which of ``points`` (N, 2) lie in ``box`` (4,)."""
    return (points[:, 0] >= box[0]) & (points[:, 0] <= box[2]) & (points[:, 1] >= box[1]) & (points[:, 1] <= box[3])


# --------------------------------------------------------------------------- NMS and box helpers
def test_nms_keeps_best_of_each_cluster() -> None:
    boxes = torch.tensor(
        [[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9.5], [52, 50, 62, 60], [100, 0, 110, 10]],
        dtype=torch.float32,
    )
    scores = torch.tensor([0.9, 0.95, 0.5, 0.3, 0.8, 0.1])
    keep = nms(boxes, scores, 0.5)
    assert keep.tolist() == [1, 4, 5]  # descending score; 0 and 3 lose to 1, 2 loses to 4


def test_nms_is_greedy_not_transitive() -> None:
    # 0 suppresses 1; 1 would suppress 2, but 1 is gone, so 2 stays.
    boxes = torch.tensor([[0, 0, 10, 10], [3, 0, 13, 10], [6, 0, 16, 10]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]


def test_nms_min_mode_drops_nested_boxes() -> None:
    boxes = torch.tensor([[0, 0, 20, 20], [5, 5, 10, 10]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8])
    assert nms(boxes, scores, 0.5, mode="union").tolist() == [0, 1]
    assert nms(boxes, scores, 0.5, mode="min").tolist() == [0]
    assert box_overlap(boxes, "min")[0, 1] == pytest.approx(1.0)


def test_nms_empty_and_square() -> None:
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).shape == (0,)
    squared = square(torch.tensor([[0.0, 0.0, 10.0, 4.0]]))
    assert squared.tolist() == [[0.0, -3.0, 10.0, 7.0]]


# --------------------------------------------------------------------------- real faces
def test_finds_annotated_faces_and_points(detector: FaceDetector) -> None:
    rows = _ytf_rows(20)
    found, errors = 0, []
    for name, points68 in rows:
        faces = detector(_read(YTF / "images" / name)).faces
        matches = [f for f in faces if _inside(points68, f.box).mean() >= 0.6]
        if not matches:
            continue
        found += 1
        target = five_points_from_68(points68)
        interocular = np.linalg.norm(target[1] - target[0])
        errors.append(np.linalg.norm(matches[0].points - target, axis=1).mean() / interocular)
    assert found / len(rows) >= 0.95
    assert np.median(errors) < 0.15  # about 0.08 measured; MTCNN's points are defined a little differently
    assert max(errors) < 0.35


def test_points_are_in_align_order(detector: FaceDetector) -> None:
    face = detector(_celeba(0)).faces[0]
    left_eye, right_eye, nose, mouth_left, mouth_right = face.points
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])


def test_one_face_in_a_portrait(detector: FaceDetector) -> None:
    result = detector(_celeba(0))
    assert isinstance(result, DetectionResult) and result.image.shape == (512, 512, 3)
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.score > 0.9 and face.box.shape == (4,) and face.points.shape == (5, 2)
    assert 0 <= face.box[0] < face.box[2] <= 512 and 0 <= face.box[1] < face.box[3] <= 512


def test_two_faces_side_by_side(detector: FaceDetector) -> None:
    left, right = _celeba(0), _celeba(2)  # two different one-person portraits, 512 x 512 each
    canvas = np.concatenate([left, right], axis=1)
    faces = detector(canvas).faces
    assert len(faces) == 2
    centres = sorted((f.box[0] + f.box[2]) / 2 for f in faces)
    assert centres[0] < left.shape[1] < centres[1]
    assert faces[0].score >= faces[1].score


def test_grayscale_photo(detector: FaceDetector) -> None:
    gray = Image.fromarray(_celeba(1)).convert("L")
    result = detector(gray)
    assert result.image.shape == (512, 512, 3)
    assert len(result.faces) == 1


def test_large_image_returns_full_size_coordinates(detector: FaceDetector) -> None:
    image = _celeba(0)
    small = detector(image).faces
    big_image = np.asarray(Image.fromarray(image).resize((3072, 3072), Image.Resampling.BILINEAR))
    big = detector(big_image).faces
    assert len(big) == len(small) == 1
    expected_box = (small[0].box + 0.5) * 6 - 0.5
    expected_points = (small[0].points + 0.5) * 6 - 0.5
    size = expected_box[2] - expected_box[0]
    assert np.abs(big[0].box - expected_box).max() < 0.05 * size
    assert np.abs(big[0].points - expected_points).max() < 0.05 * size


# --------------------------------------------------------------------------- no faces, odd inputs
@pytest.mark.parametrize("kind", ["black", "white", "noise", "gradient"])
def test_no_face_in_plain_images(detector: FaceDetector, kind: str) -> None:
    rng = np.random.default_rng(0)
    image = {
        "black": np.zeros((300, 400, 3), np.uint8),
        "white": np.full((300, 400, 3), 255, np.uint8),
        "noise": rng.integers(0, 256, (300, 400, 3), dtype=np.uint8),
        "gradient": np.repeat(np.linspace(0, 255, 400, dtype=np.uint8)[None, :, None], 300, 0).repeat(3, 2),
    }[kind]
    result = detector(image)
    assert result.faces == [] and result.to_json() == []


@pytest.mark.parametrize("shape", [(1, 1, 3), (11, 40, 3), (16, 16, 3), (30, 2000, 3)])
def test_tiny_and_thin_images_do_not_crash(detector: FaceDetector, shape: tuple[int, int, int]) -> None:
    image = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    assert detector(image).faces == []


def test_settings_override_config() -> None:
    strict = FaceDetector.from_pretrained(device="cpu", thresholds=(0.6, 0.7, 0.99999), min_face_size=40, max_side=256)
    assert strict.thresholds == (0.6, 0.7, 0.99999) and strict.min_face_size == 40 and strict.max_side == 256
    loose = FaceDetector.from_pretrained(device="cpu")
    assert loose.thresholds == tuple(loose.config["thresholds"]) and loose.thresholds != strict.thresholds
    assert loose.min_face_size == 20 and loose.max_side == 1024


def test_facehub_load_builds_the_detector() -> None:
    import facehub

    detector = facehub.load("mtcnn", device="cpu")
    assert isinstance(detector, FaceDetector) and detector.name == "mtcnn"
    faces = detector(_celeba(0)).to_json()
    assert len(faces) == 1 and set(faces[0]) == {"box", "score", "points"} and len(faces[0]["points"]) == 5


def _big_and_small() -> np.ndarray:
    """A 512 px portrait beside another portrait shrunk to 112 px, on a grey canvas (512 x 704)."""
    big, small = _celeba(0), np.asarray(Image.fromarray(_celeba(2)).resize((112, 112), Image.Resampling.BILINEAR))
    canvas = np.full((512, 704, 3), 127, np.uint8)
    canvas[:, :512] = big
    canvas[200:312, 552:664] = small
    return canvas


def test_min_face_size_per_call_skips_the_small_face(detector: FaceDetector) -> None:
    canvas = _big_and_small()
    every = detector(canvas).faces
    assert len(every) == 2
    big = max(every, key=lambda f: f.box[2] - f.box[0])
    large_only = detector(canvas, min_face_size=200).faces  # a start, not a filter: well above the small face
    assert len(large_only) == 1 and large_only[0].box[2] <= 512
    pair = torch.tensor(np.stack([large_only[0].box, big.box]))
    assert box_overlap(pair)[0, 1].item() > 0.8
    assert len(detector(canvas).faces) == 2  # the override lasts one call


def test_clean_frontal_portrait_scoring_just_under_090_is_found(detector: FaceDetector) -> None:
    """CelebAMask-HQ val 28602.jpg: an unoccluded frontal face whose O-Net score is 0.899."""
    path = CELEBA / "28602.jpg"
    _require(CELEBA)
    faces = detector(_read(path)).faces
    assert len(faces) == 1 and faces[0].score > 0.85


def test_largest_face_keeps_the_largest_and_falls_back_for_small_faces(detector: FaceDetector) -> None:
    pair = _read(EXAMPLES / "two_people.jpg")
    every = detector(pair).faces
    assert len(every) >= 2
    largest = max(every, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    found = detector.largest_face(pair)
    assert np.abs(found.box - largest.box).max() < 0.1 * (largest.box[2] - largest.box[0])
    # one small face on a large canvas: smaller than the first search's limit, found by the fallback
    small = np.asarray(Image.fromarray(_read(EXAMPLES / "grace_hopper.jpg")).resize((120, 140)))
    canvas = np.full((1000, 1000, 3), 127, np.uint8)
    canvas[400:540, 400:520] = small
    assert detector(canvas, min_face_size=100).faces == []
    found = detector.largest_face(canvas, min_fraction=0.1)
    assert 400 <= found.box[0] < found.box[2] <= 520
    assert detector.largest_face(np.full((200, 200, 3), 127, np.uint8)) is None


def test_face_by_size_numbers_faces_from_the_largest() -> None:
    from facehub.detection.detector import face_by_size, size_order
    from facehub.errors import FaceNumberError

    def face(side: float, x: float) -> Face:
        return Face(np.array([x, 0.0, x + side, side]), 0.9, np.zeros((5, 2)))

    small, large, middle = face(10, 0), face(30, 50), face(20, 100)  # detector order is by score, not size
    faces = [small, large, middle]
    assert all(face_by_size(faces, n) is f for n, f in zip((1, 2, 3), (large, middle, small)))
    assert size_order(faces) == [1, 2, 0] and size_order([small, face(10, 40)]) == [0, 1]  # ties keep their order
    with pytest.raises(FaceNumberError, match="The photo has 3 faces, so there is no face 4. Choose a face number from 1"):
        face_by_size(faces, 4)
    with pytest.raises(FaceNumberError, match="target photo has 1 face, so there is no face 0"):
        face_by_size([small], 0, "target photo")
