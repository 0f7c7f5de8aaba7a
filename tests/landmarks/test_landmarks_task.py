"""The landmarks task: result dataclass, predictor wiring, and the shipped weights on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facehub.detection.result import DetectionResult, Face
from facehub.geometry.five_points import five_points_from_68
from facehub.hub import LoadedModel, weights_root
from facehub.landmarks.predictor import LandmarkPredictor
from facehub.landmarks.result import LandmarksResult
from facehub.train.data import data_root

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _result(num_faces: int = 2, n: int = 68) -> LandmarksResult:
    rng = np.random.default_rng(0)
    faces = [Face(np.array([10.0, 10, 90, 90]) + 100 * i, 0.99, rng.random((5, 2)) * 80 + 10 + 100 * i) for i in range(num_faces)]
    return LandmarksResult(
        image=np.zeros((200, 300, 3), np.uint8), faces=faces, points=rng.random((num_faces, n, 2)) * 180,
        crops=np.zeros((num_faces, 64, 64, 3), np.uint8), crop_points=rng.random((num_faces, n, 2)) * 60, model="test",
    )


def test_result_exports() -> None:
    result = _result()
    data = result.to_json()
    assert len(data) == 2 and set(data[0]) == {"box", "score", "points"} and len(data[0]["points"]) == 68
    lines = result.to_csv().strip().splitlines()
    assert len(lines) == 3 and lines[0].split(",")[:6] == ["face", "score", "box_x0", "box_y0", "box_x1", "box_y1"]
    assert len(lines[1].split(",")) == 6 + 136
    assert result.overlay(show_indices=True, contours=True).size == (300, 200)
    assert [c.size for c in result.face_crops(show_indices=True)] == [(256, 256)] * 2
    assert result.points68.shape == (2, 68, 2)
    assert _result(1, 98).points68.shape == (1, 68, 2)


def test_empty_result() -> None:
    result = LandmarksResult(image=np.zeros((50, 50, 3), np.uint8))
    assert result.to_json() == [] and result.to_csv().count("\n") == 1
    assert result.overlay().size == (50, 50) and result.face_crops() == []


def _tiny_predictor(refine: int = 0, min_shift: float = 0.0) -> LandmarkPredictor:
    from facehub.landmarks.models.pipnet import PIPNet

    model = PIPNet(num_points=68, num_nb=4, width=8, net_stride=16, input_size=64).eval()
    config = {"family": "pipnet", "task": "landmarks", "model_args": {}, "input_size": 64, "num_points": 68,
              "crop": {"zoom": 0.68, "shift_y": -0.1}, "mean": [0.5] * 3, "std": [0.5] * 3}
    loaded = LoadedModel("tiny", model, config, Path("."))
    return LandmarkPredictor(loaded, device="cpu", refine_passes=refine, refine_min_shift=min_shift)


def test_selective_refine_reruns_only_the_faces_whose_crop_moves() -> None:
    """The astronaut's face given its detector's five points moves its crop less on refining than the same face
    given five points pushed aside: with a threshold between the two, only the pushed one is re-run (its points
    as with a full refine pass, the other's as with none)."""
    if not _shipped("pipnet"):
        pytest.skip("weights/pipnet not shipped")
    import facehub

    image = np.asarray(Image.open(EXAMPLES / "astronaut.jpg").convert("RGB"))
    plain = facehub.load("pipnet", refine_passes=0)
    detected = plain.detector(image).faces[0].points
    width = np.ptp(detected[:, 0])
    faces = np.stack([detected, detected + [0.4 * width, 0.1 * width]])
    shifts = _first_pass_shift(plain, image, faces)
    assert shifts[1] > shifts[0] + 0.03  # a clear gap (3% of the crop's side) for the threshold to sit in
    once = plain.locate(image, faces)[0]
    twice = facehub.load("pipnet", refine_passes=1).locate(image, faces)[0]
    picked = facehub.load("pipnet", refine_passes=1, refine_min_shift=float(shifts.mean())).locate(image, faces)[0]
    assert np.allclose(picked[0], once[0]) and np.allclose(picked[1], twice[1])
    assert not np.allclose(once[1], twice[1])


def _first_pass_shift(predictor: LandmarkPredictor, image: np.ndarray, faces: np.ndarray) -> np.ndarray:
    from facehub.geometry.align import crop_shift

    points, _, _, matrices = predictor.locate(image, faces)
    return crop_shift(matrices, np.stack([five_points_from_68(p) for p in points]), predictor.crop_spec)


@pytest.mark.parametrize("refine", [0, 1])
def test_predictor_wiring(refine: int) -> None:
    image = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    face = Face(np.array([40.0, 20, 110, 100]), 0.9, np.array([[60, 50], [90, 50], [75, 65], [62, 82], [88, 82]], float))
    predictor = _tiny_predictor(refine)
    result = predictor(image, faces=[face, face])
    assert result.points.shape == (2, 68, 2) and result.crops.shape == (2, 64, 64, 3)
    assert np.allclose(result.points[0], result.points[1])
    assert np.isfinite(result.points).all()
    # the shared prepare(): the same crops and points as locate() on the same five points
    points, pixels, _, _ = predictor.locate(image, face.points[None])
    # a batch of two and a batch of one may round differently in the convolutions (seen under load)
    assert np.allclose(result.points[0], points[0], atol=1e-4)
    assert np.array_equal(result.crops[0], (pixels[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
    assert np.allclose(predictor(image, faces=face.points).points[0], points[0], atol=1e-4)
    assert predictor(image, faces=[]).points.shape == (0, 68, 2)
    assert predictor._detector is None


def _shipped(name: str) -> bool:
    return (weights_root() / name / "model.safetensors").is_file() and (weights_root() / "mtcnn" / "model.safetensors").is_file()


def _check_face(points: np.ndarray, box: np.ndarray) -> None:
    width, height = box[2] - box[0], box[3] - box[1]
    margin = np.array([0.15 * width, 0.15 * height])
    assert (points >= box[:2] - margin).all() and (points <= box[2:] + margin).all()
    _check_order(points)


def _check_order(points: np.ndarray) -> None:
    eyes_y = points[36:48, 1].mean()
    mouth_y = points[48:68, 1].mean()
    assert eyes_y < points[30, 1] < mouth_y < points[8, 1]  # eyes above nose above mouth above chin
    assert points[36, 0] < points[45, 0]  # image-left eye corner on the left


@pytest.mark.parametrize("name", ["pipnet", "hourglass"])
def test_shipped_weights_on_example_photo(name: str) -> None:
    if not _shipped(name):
        pytest.skip(f"weights/{name} not shipped")
    import facehub

    predictor = facehub.load(name, device="cpu")
    result = predictor(Image.open(EXAMPLES / "grace_hopper.jpg"))
    assert len(result.faces) >= 1 and result.points.shape[1:] == (68, 2)
    _check_face(result.points[0], result.faces[0].box)


@pytest.mark.parametrize("name", ["pipnet", "hourglass"])
def test_shipped_weights_on_held_out_person(name: str) -> None:
    csv = data_root() / "ytf68" / "landmarks68.csv"
    if not _shipped(name) or not csv.is_file():
        pytest.skip("weights or ytf68 not available")
    import facehub
    from facehub.image import load_image
    from facehub.train.data.ytf68 import read_ytf68, split_by_person
    from facehub.train.eval.metrics import nme

    _, val = split_by_person(read_ytf68())
    predictor = facehub.load(name, device="cpu")
    errors = []
    for sample in val[:6]:
        image = load_image(sample.path)
        points, *_ = predictor.locate(image, five_points_from_68(sample.points)[None])
        errors.append(nme(points[0], sample.points)[0])
        result = predictor(image)  # the detector's own face: a turned head's jaw may lie outside its box, so
        assert len(result.faces) >= 1  # it is checked against the labels instead
        assert nme(result.points[0], sample.points)[0] < 0.10
        _check_order(result.points[0])
    assert np.median(errors) < 0.08


class _ConstantModel(torch.nn.Module):
    """Predicts the same points for every crop."""

    num_points = 68

    def __init__(self, points: np.ndarray) -> None:
        super().__init__()
        self.points = torch.as_tensor(points, dtype=torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.points.expand(len(x), -1, -1).clone()

    def decode_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs


def test_flip_test_averages_the_mirror_correctly() -> None:
    from facehub.geometry.landmarks68 import flip_points

    rng = np.random.default_rng(3)
    raw = rng.random((68, 2)) * 63
    symmetric = (raw + flip_points(raw, 64)) / 2  # a mirror-symmetric point set in a 64 px crop
    config = {"family": "pipnet", "task": "landmarks", "model_args": {}, "input_size": 64, "num_points": 68}

    def predictor(points: np.ndarray) -> LandmarkPredictor:
        return LandmarkPredictor(LoadedModel("c", _ConstantModel(points), config, Path(".")), device="cpu", flip_test=True)

    assert np.allclose(predictor(symmetric).predict_crops(torch.zeros(2, 3, 64, 64)), symmetric[None], atol=1e-4)
    out = predictor(raw).predict_crops(torch.zeros(1, 3, 64, 64))
    assert np.allclose(out[0], (raw + flip_points(raw, 64)) / 2, atol=1e-4)


def test_flip_below_yaw_mirrors_only_the_faces_read_as_turned_less() -> None:
    """``flip_below_yaw``: the mirrored crop is averaged in on the last pass for a face whose points read under that
    yaw, not for one turned further (PRNet's points on AFLW2000-3D: a mirror helps frontal faces, not profiles)."""
    from facehub.geometry.landmarks68 import flip_points
    from facehub.geometry.profile_jaw import template_68, yaw_from_68

    def face_at(yaw: float) -> np.ndarray:  # the canonical 68 points turned by ``yaw`` degrees, in a 64 px crop
        angle = np.radians(yaw)
        turn = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
        points = (template_68() @ turn.T)[:, :2] * np.array([1.0, -1.0])
        points = points / np.ptp(points[:, 1]) * 30 + 32
        return points + np.random.default_rng(int(yaw)).normal(0, 0.5, points.shape)  # not mirror-symmetric

    config = {"family": "pipnet", "task": "landmarks", "model_args": {}, "input_size": 64, "num_points": 68,
              "refine_passes": 0, "flip_below_yaw": 45}
    image = np.zeros((64, 64, 3), np.uint8)
    five = np.array([[24.0, 26], [40, 26], [32, 34], [26, 42], [38, 42]])[None]
    for yaw, mirrored in ((10, True), (70, False)):
        points = face_at(yaw)
        assert (abs(yaw_from_68(points, iterations=0)) < 45) == mirrored
        predictor = LandmarkPredictor(LoadedModel("c", _ConstantModel(points), config, Path(".")), device="cpu",
                                      profile_jaw=False)
        crop_points = predictor.locate(image, five)[2][0]
        wanted = (points + flip_points(points, 64)) / 2 if mirrored else points
        assert np.allclose(crop_points, wanted, atol=1e-3)
        assert not np.allclose(crop_points, (points + flip_points(points, 64)) / 2 if not mirrored else points, atol=1e-2)


def test_systematic_error_is_measured_in_crop_pixels() -> None:
    """``scripts/diagnose_landmarks.py --weights``: residuals in crop pixels on the detector's faces."""
    from facehub.train.eval.landmarks import crop_residuals

    from facehub.train.data.ytf68 import LandmarkSample

    rng = np.random.default_rng(5)
    truth = rng.random((68, 2)) * 40 + 40  # a face in a 128 px photo
    shift = np.array([1.5, -0.5])
    points5 = five_points_from_68(truth)
    face = Face(np.r_[truth.min(0), truth.max(0)], 0.99, points5)
    config = {"family": "pipnet", "task": "landmarks", "model_args": {}, "input_size": 64, "num_points": 68,
              "crop": {"zoom": 0.68, "shift_y": -0.1}}
    from facehub.geometry.align import CropSpec, alignment_matrix, transform_points

    matrix = alignment_matrix(points5, CropSpec.from_config(config))
    predictor = LandmarkPredictor(  # a model right up to a constant shift
        LoadedModel("c", _ConstantModel(transform_points(truth, matrix) + shift), config, Path(".")),
        detector=lambda image: DetectionResult(image, [face]), device="cpu",
    )
    image_path = Path(__file__).resolve().parents[2] / "examples" / "grace_hopper.jpg"
    residuals = crop_residuals(predictor, [LandmarkSample(image_path, truth, "p")] * 2)
    assert residuals.shape == (2, 68, 2) and np.allclose(residuals, shift, atol=1e-3)


def test_profile_jaw_moves_only_a_turned_faces_far_jaw() -> None:
    """With ``profile_jaw`` in the config, a turned face's far jaw (its points drawn on the cheek's outline) is put
    on the 3D jaw, in the photo and in the crop alike; the rest of the face, a frontal face, and
    ``profile_jaw=False`` keep the model's points."""
    from facehub.geometry.align import alignment_matrix, invert_affine, transform_points
    from facehub.geometry.profile_jaw import ProfileJaw, hide_far_jaw, template_68
    from tests._faces3d import rotation

    def face_points(yaw: float) -> np.ndarray:  # (68, 2) crop pixels of the posed template, far jaw on the outline
        points = (template_68(1.5) @ rotation(yaw, 0, 0).T * 2.2)[:, :2] * np.array([1.0, -1.0]) + 32.0
        points[0:8, 0] += 6.0 * (yaw < 0) - 6.0 * (yaw > 0)  # tests/_faces3d: yaw > 0 turns the nose to the right
        points[9:17, 0] += 6.0 * (yaw > 0) - 6.0 * (yaw < 0)
        return points

    settings = ProfileJaw(30.0, 45.0, 1.5)
    config = {"family": "pipnet", "task": "landmarks", "model_args": {}, "input_size": 64, "num_points": 68,
              "crop": {"zoom": 0.68, "shift_y": -0.1}, "profile_jaw": settings.to_config()}
    image = np.zeros((120, 160, 3), np.uint8)
    points5 = np.array([[60, 50], [90, 50], [75, 65], [62, 82], [88, 82]], float)
    matrix = alignment_matrix(points5, LandmarkPredictor(LoadedModel("c", _ConstantModel(np.zeros((68, 2))), config,
                                                                     Path(".")), device="cpu").crop_spec)
    for yaw, moved in [(60.0, True), (-60.0, True), (0.0, False)]:
        crop_points = face_points(yaw)
        model = LoadedModel("c", _ConstantModel(crop_points), config, Path("."))
        plain = transform_points(crop_points, invert_affine(matrix))
        points, _, crop_out, _ = LandmarkPredictor(model, device="cpu").locate(image, points5[None])
        off, *_ = LandmarkPredictor(model, device="cpu", profile_jaw=False).locate(image, points5[None])
        np.testing.assert_allclose(off[0], plain, atol=1e-4)
        np.testing.assert_allclose(points[0], hide_far_jaw(plain, settings), atol=1e-4)
        np.testing.assert_allclose(crop_out[0], transform_points(points[0], matrix), atol=1e-4)
        changed = np.flatnonzero(np.abs(points[0] - plain).max(1) > 0.5)
        assert (len(changed) == 8) == moved and (len(changed) == 0) == (not moved)
        assert set(changed) <= set(range(17)) - {8}
