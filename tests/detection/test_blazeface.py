"""BlazeFace: the converted checkpoints on real photos, anchors, decoding, suppression, letterbox, runtime imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facehub.detection.blazeface import (
    BlazeFaceDetector,
    FivePointMap,
    decode,
    letterbox,
    ssd_anchors,
    weighted_nms,
)
from facehub.detection.detector import FaceDetector
from facehub.detection.models.blazeface import (
    NUM_ANCHORS,
    BlazeFace,
    depth_to_space,
    pad_same,
)
from facehub.errors import CheckpointError
from facehub.hub import WEIGHTS_NAME, load_state_dict_strict, read_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CHECKPOINTS = {"blazeface": "full", "blazeface-short": "short"}


def _read(name: str) -> np.ndarray:
    return np.asarray(Image.open(EXAMPLES / name).convert("RGB"))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h)


@pytest.fixture(scope="module", params=sorted(CHECKPOINTS))
def detector(request: pytest.FixtureRequest) -> BlazeFaceDetector:
    return BlazeFaceDetector.from_folder(ROOT / "weights" / request.param, device="cpu")


@pytest.fixture(scope="module")
def mtcnn() -> FaceDetector:
    return FaceDetector.from_pretrained("mtcnn", device="cpu")


# --------------------------------------------------------------------------- the shipped checkpoints
@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_checkpoint_loads_strictly_and_is_small(name: str) -> None:
    folder = ROOT / "weights" / name
    config = read_config(folder, name)
    assert config["family"] == "blazeface" and config["task"] == "detection"
    assert config["model_args"] == {"variant": CHECKPOINTS[name]}
    model = BlazeFace(**config["model_args"])
    load_state_dict_strict(model, folder / WEIGHTS_NAME, name)
    assert (folder / WEIGHTS_NAME).stat().st_size < 3 * 2**20
    assert (folder / "README.md").is_file()
    with torch.inference_mode():
        logits, regression = model(torch.zeros(1, 3, model.input_size, model.input_size))
    assert logits.shape == (1, config["anchors"]["count"]) and regression.shape == (1, config["anchors"]["count"], 16)


def test_strict_loading_rejects_the_other_variant() -> None:
    with pytest.raises(CheckpointError, match="does not match"):
        load_state_dict_strict(BlazeFace("short"), ROOT / "weights" / "blazeface" / WEIGHTS_NAME, "blazeface")


@pytest.mark.parametrize("photo, count", [("two_people.jpg", 2), ("astronaut.jpg", 1), ("grace_hopper.jpg", 1)])
def test_finds_the_faces_mtcnn_finds(detector: BlazeFaceDetector, mtcnn: FaceDetector, photo: str, count: int) -> None:
    image = _read(photo)
    faces = detector(image).faces
    reference = mtcnn(image).faces
    assert len(reference) == count
    if detector.name == "blazeface-short" and photo == "two_people.jpg":
        # short range is for close faces: the astronaut spans 11% of the 949 px letterbox (14 px of 128) and is
        # missed, as by mediapipe's own short-range graph; Grace Hopper (18%) is found
        reference = [max(reference, key=lambda f: f.box[2] - f.box[0])]
    assert len(faces) == len(reference)
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
    for ref in reference:
        best = max(faces, key=lambda f: _iou(f.box, ref.box))
        assert _iou(best.box, ref.box) > 0.5
        assert 0.5 <= best.score <= 1.0 and best.points.shape == (5, 2)
        eye_distance = np.linalg.norm(ref.points[1] - ref.points[0])
        # eyes and nose are BlazeFace's own, the mouth corners the fitted estimate: all near MTCNN's
        # (0.01-0.26 inter-ocular distances on these faces; the small astronaut of two_people.jpg is the worst)
        assert np.linalg.norm(best.points - ref.points, axis=1).max() < 0.35 * eye_distance


def test_two_people_left_to_right() -> None:
    detector = BlazeFaceDetector.from_folder(ROOT / "weights" / "blazeface", device="cpu")
    faces = sorted(detector(_read("two_people.jpg")).faces, key=lambda f: f.box[0])
    assert faces[0].box[2] < 512 < faces[1].box[0]  # the portraits meet at x = 512
    for face in faces:
        left_eye, right_eye, nose, mouth_left, mouth_right = face.points
        assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])


def test_no_face_in_a_blank_photo(detector: BlazeFaceDetector) -> None:
    assert detector(np.full((300, 400, 3), 128, dtype=np.uint8)).faces == []


# --------------------------------------------------------------------------- anchors and decoding
@pytest.mark.parametrize("variant, size, strides, interpolated", [("short", 128, [8, 16, 16, 16], 1.0), ("full", 192, [4], 0.0)])
def test_anchor_counts_match_the_networks(variant: str, size: int, strides: list[int], interpolated: float) -> None:
    anchors = ssd_anchors(size, strides, interpolated)
    assert anchors.shape == (NUM_ANCHORS[variant], 2)
    assert anchors.min() > 0 and anchors.max() < 1


def test_short_range_anchor_layout() -> None:
    anchors = ssd_anchors(128, [8, 16, 16, 16], 1.0)
    torch.testing.assert_close(anchors[:3], torch.tensor([[0.5, 0.5], [0.5, 0.5], [1.5, 0.5]]) / 16)
    torch.testing.assert_close(anchors[512:518], torch.full((6, 2), 0.5 / 8))  # six anchors in the first 8x8 cell
    torch.testing.assert_close(anchors[-1], torch.tensor([7.5, 7.5]) / 8)


def test_decode_places_a_synthetic_box() -> None:
    anchors = ssd_anchors(192, [4], 0.0)
    index = 10 * 48 + 20  # row 10, column 20: centre (20.5, 10.5) / 48
    logits = torch.full((2304,), -50.0)
    logits[index] = 3.0
    regression = torch.zeros(2304, 16)
    regression[index, :4] = torch.tensor([6.0, -3.0, 48.0, 24.0])  # centre shift and size, input pixels
    regression[index, 4:6] = torch.tensor([-12.0, 0.0])  # first keypoint 12 px left of the anchor
    scores, boxes, keypoints = decode(logits, regression, anchors, 192)
    assert scores.argmax() == index and scores[index] == pytest.approx(torch.sigmoid(torch.tensor(3.0)).item())
    cx, cy = 20.5 / 48 * 192 + 6, 10.5 / 48 * 192 - 3
    expected = torch.tensor([cx - 24, cy - 12, cx + 24, cy + 12]) / 192
    torch.testing.assert_close(boxes[index], expected)
    torch.testing.assert_close(keypoints[index, 0], torch.tensor([20.5 / 48 - 12 / 192, 10.5 / 48]))
    torch.testing.assert_close(keypoints[index, 1], anchors[index])


def test_score_clipping() -> None:
    scores, _, _ = decode(torch.tensor([-1e4, 1e4]), torch.zeros(2, 16), torch.zeros(2, 2), 128, clip=10.0)
    torch.testing.assert_close(scores, torch.sigmoid(torch.tensor([-10.0, 10.0])))


def test_weighted_nms_blends_overlapping_boxes() -> None:
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [3.0, 3.0, 4.0, 4.0]])
    scores = torch.tensor([0.6, 0.9, 0.7])
    keypoints = boxes[:, None, :2].repeat(1, 6, 1)
    kept_scores, kept_boxes, kept_points = weighted_nms(scores, boxes, keypoints, threshold=0.3)
    torch.testing.assert_close(kept_scores, torch.tensor([0.9, 0.7]))
    blended = (0.6 * boxes[0] + 0.9 * boxes[1]) / 1.5
    torch.testing.assert_close(kept_boxes[0], blended)
    torch.testing.assert_close(kept_points[0, 0], blended[:2])
    torch.testing.assert_close(kept_boxes[1], boxes[2])


def test_weighted_nms_of_nothing() -> None:
    scores, boxes, points = weighted_nms(torch.zeros(0), torch.zeros(0, 4), torch.zeros(0, 6, 2))
    assert scores.shape == (0,) and boxes.shape == (0, 4) and points.shape == (0, 6, 2)


# --------------------------------------------------------------------------- letterbox and layers
def test_letterbox_centres_a_wide_photo_with_black_bars() -> None:
    image = np.full((50, 100, 3), 255, dtype=np.uint8)
    tensor, box = letterbox(image, 128)
    assert tensor.shape == (1, 3, 128, 128)
    assert (box.x0, box.y0, box.side) == (0.0, -25.0, 100.0)
    assert torch.all(tensor[0, :, :30] == -1) and torch.all(tensor[0, :, 97:] == -1)
    assert torch.all(tensor[0, :, 34:90, :125] == 1)
    np.testing.assert_allclose(box.to_image(np.array([0.5, 0.5])), [50.0, 25.0])


def test_letterbox_sampling_matches_the_mediapipe_mapping() -> None:
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[20, 40] = 255  # input pixel k samples photo index k * 64 / 128: (40, 20) lands on (80, 40)
    tensor, _ = letterbox(image, 128)
    assert tensor[0, 0, 40, 80] == 1 and tensor[0, 0].gt(-1).sum() == 9  # the 2x2 bilinear neighbourhood +-1


def test_pad_same_is_tensorflow_same() -> None:
    x = torch.zeros(1, 1, 64, 64)
    assert pad_same(x, 3, 2).shape[-2:] == (65, 65)  # total 1: none before, one after
    assert pad_same(torch.zeros(1, 1, 128, 128), 5, 2).shape[-2:] == (131, 131)  # total 3: one before, two after
    padded = pad_same(torch.ones(1, 1, 128, 128), 5, 2)
    assert padded[0, 0, 0].sum() == 0 and padded[0, 0, 1, 1:-2].eq(1).all() and padded[0, 0, -2].sum() == 0


def test_depth_to_space_is_tensorflow_order() -> None:
    x = torch.arange(8.0).view(1, 8, 1, 1)  # block 2, 2 output channels: channel (i*2 + j)*2 + c
    out = depth_to_space(x, 2)
    assert out.shape == (1, 2, 2, 2)
    torch.testing.assert_close(out[0, 0], torch.tensor([[0.0, 2.0], [4.0, 6.0]]))
    torch.testing.assert_close(out[0, 1], torch.tensor([[1.0, 3.0], [5.0, 7.0]]))


def test_five_point_map_follows_the_face_frame() -> None:
    keypoints = np.array([[[40, 50], [60, 50], [50, 60], [50, 70], [30, 55], [70, 55]]], dtype=np.float64)
    five = FivePointMap.from_config(None)(keypoints, np.array([[25.0, 30.0, 75.0, 80.0]]))
    np.testing.assert_allclose(five[0, :3], keypoints[0, :3])
    np.testing.assert_allclose(five[0, 3:], [[40, 70], [60, 70]])  # +-0.2 box widths along the eye line
    turned = keypoints[:, :, ::-1]  # transpose x and y: the face lies on its side
    five = FivePointMap.from_config(None)(turned, np.array([[30.0, 25.0, 80.0, 75.0]]))
    np.testing.assert_allclose(five[0, 3:], [[70, 40], [70, 60]])


# --------------------------------------------------------------------------- runtime imports
def test_runtime_imports_only_torch_numpy_pil() -> None:
    code = (
        "import sys; import facehub.detection.blazeface, facehub.detection.models.blazeface; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'mediapipe', 'tflite', 'cv2', 'flatbuffers', 'scipy', 'facehub.train'} "
        "or m.startswith('facehub.train')); print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
