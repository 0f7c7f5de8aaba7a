"""The reconstruction task: wiring with a tiny model, result exports, and the shipped weights on real photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facehub.detection.result import Face
from facehub.hub import LoadedModel, weights_root
from facehub.reconstruction.models.prnet import PRNet
from facehub.reconstruction.predictor import FaceReconstructor, to_image_space
from facehub.reconstruction.result import ReconstructionResult
from facehub.train.data import data_root
from tests.reconstruction.test_mesh import read_glb

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _faces() -> list[Face]:
    five = np.array([[40.0, 50], [70, 50], [55, 65], [43, 80], [67, 80]])
    return [Face(np.array([25.0, 25, 85, 100]) + [120 * i, 0, 120 * i, 0], 0.99 - 0.1 * i, five + [120 * i, 0]) for i in range(2)]


def _tiny(refine: int = 0, flip: bool = False) -> FaceReconstructor:
    torch.manual_seed(0)
    args = {"input_size": 64, "uv_size": 32, "width": 2, "depth": 3}
    config = {"family": "prnet", "task": "reconstruction", "model_args": args, "input_size": 64,
              "crop": {"zoom": 0.65, "shift_y": -0.06}, "mean": [0.5] * 3, "std": [0.5] * 3, "uv_size": 32}
    loaded = LoadedModel("prnet", PRNet(**args).eval(), config, Path("."))
    return FaceReconstructor(loaded, device="cpu", refine_passes=refine, flip_test=flip)


@pytest.mark.parametrize(("refine", "flip"), [(0, False), (1, False), (0, True)])
def test_predictor_wiring_and_exports(tmp_path: Path, refine: int, flip: bool) -> None:
    image = np.random.default_rng(0).integers(0, 255, (120, 260, 3), dtype=np.uint8)
    predictor = _tiny(refine, flip)
    result = predictor(image, faces=_faces())
    assert isinstance(result, ReconstructionResult) and len(result.faces) == 2
    same = predictor(image, faces=np.stack([f.points for f in _faces()]))  # five points alone: the same faces
    np.testing.assert_array_equal(same.faces[1].vertices468, result.faces[1].vertices468)
    assert predictor._detector is None
    face = result.faces[0]
    assert face.vertices468.shape == (468, 3) and face.landmarks3d.shape == (68, 3)
    assert face.mesh.vertices.shape[1] == 3 and len(face.mesh.colours) == len(face.mesh.vertices)
    assert face.mesh.colours.dtype == np.uint8 and face.mesh.triangles.max() < len(face.mesh.vertices)
    data = json.loads(json.dumps(result.to_json()))
    assert set(data) == {"faces", "convention"} and len(data["faces"]) == 2
    assert {"box", "landmarks3d", "pose"} <= set(data["faces"][0])
    assert np.array(data["faces"][0]["landmarks3d"]).shape == (68, 3)
    assert set(data["faces"][0]["pose"]) == {"yaw", "pitch", "roll"}
    obj, mtl, png = result.save_obj(tmp_path / "photo")
    assert obj.name == "photo.obj" and f"mtllib {mtl.name}" in obj.read_text() and png.is_file()
    gltf, _ = read_glb(result.save_glb(tmp_path / "photo.glb"))
    count = gltf["accessors"][gltf["meshes"][0]["primitives"][0]["attributes"]["COLOR_0"]]["count"]
    assert count == sum(len(f.mesh.vertices) for f in result.faces)
    assert result.overlay().size == (260, 120)
    assert result.depth_image().size == (260, 120)
    assert np.isfinite(result.depth_map()).any()


def test_no_face_gives_an_empty_result(tmp_path: Path) -> None:
    result = _tiny()(np.zeros((50, 60, 3), np.uint8), faces=[])
    assert result.faces == [] and result.to_json()["faces"] == []
    assert result.landmarks3d.shape == (0, 68, 3)
    assert result.overlay().size == (60, 50) and result.depth_image().size == (60, 50)
    result.save_glb(tmp_path / "none.glb")
    assert all(p.is_file() for p in result.save_obj(tmp_path / "none"))


def test_flip_test_of_a_symmetric_input_matches_the_plain_map() -> None:
    """On a mirror-symmetric crop the mirrored pass, un-mirrored, agrees with the plain pass up to the model's asymmetry."""
    predictor = _tiny()
    crop = torch.randn(1, 3, 64, 32)
    crop = torch.cat([crop, crop.flip(-1)], -1)
    plain = predictor.predict_maps(crop)
    predictor.flip_test = True
    averaged = predictor.predict_maps(crop)
    assert averaged.shape == plain.shape
    flipped = predictor.model(crop.flip(-1)).detach().numpy()
    np.testing.assert_allclose(flipped, plain, atol=1e-4)  # the same input, so the same map
    unflipped = flipped[..., ::-1].copy()
    unflipped[:, 0] = 63 - unflipped[:, 0]
    np.testing.assert_allclose(averaged, (plain + unflipped) / 2, atol=1e-4)


def test_config_map_68_drives_the_output_landmarks() -> None:
    predictor = _tiny()
    predictor.config["map_68"] = {"indices": [[i] for i in range(68)], "weights": [[1.0]] * 68}
    own = FaceReconstructor(predictor.loaded, device="cpu")
    face = own(np.zeros((120, 260, 3), np.uint8), faces=_faces()[:1]).faces[0]
    np.testing.assert_allclose(face.landmarks3d, face.vertices468[:68])


def test_config_profile_jaw_puts_a_turned_faces_far_jaw_on_the_3d_jaw() -> None:
    from facehub.geometry.profile_jaw import ProfileJaw, hide_far_jaw
    from facehub.reconstruction.uv import points_468_to_68
    from tests._faces3d import posed_face

    predictor = _tiny()
    settings = ProfileJaw(25.0, 40.0, 1.5)
    predictor.config["profile_jaw"] = settings.to_config()
    jaw = FaceReconstructor(predictor.loaded, device="cpu")
    for yaw, moved in [(60.0, True), (0.0, False)]:
        crop_map = predictor.layout.rasterise(posed_face(yaw, scale=3.0, centre=(32.0, 32.0)))
        args = (np.zeros((64, 64, 3), np.uint8), _faces()[0], crop_map, np.array([[1.0, 0, 0], [0, 1, 0]]))
        plain, turned = predictor.reconstruct_face(*args), jaw.reconstruct_face(*args)
        np.testing.assert_allclose(plain.landmarks3d, points_468_to_68(plain.vertices468))
        np.testing.assert_allclose(turned.landmarks3d, hide_far_jaw(plain.landmarks3d, settings))
        changed = np.flatnonzero(np.abs(turned.landmarks3d - plain.landmarks3d).max(1) > 0.05)
        assert len(changed) == (8 if moved else 0) and set(changed) <= set(range(17))
        np.testing.assert_allclose(turned.vertices468, plain.vertices468)  # the mesh and the pose are the model's
        assert turned.pose == plain.pose


def test_config_pose_calibration_turns_the_pose_and_nothing_else() -> None:
    from facehub.reconstruction.mesh import YawCalibration, pose_of
    from tests._faces3d import posed_face

    predictor = _tiny()
    predictor.config["pose_calibration"] = {"gain": 0.2, "from_yaw": 30.0}
    calibrated = FaceReconstructor(predictor.loaded, device="cpu")
    crop_map = predictor.layout.rasterise(posed_face(60.0, scale=3.0, centre=(32.0, 32.0)))
    args = (np.zeros((64, 64, 3), np.uint8), _faces()[0], crop_map, np.array([[1.0, 0, 0], [0, 1, 0]]))
    plain, turned = predictor.reconstruct_face(*args), calibrated.reconstruct_face(*args)
    assert abs(plain.pose.yaw) > 45 and abs(turned.pose.yaw) > abs(plain.pose.yaw) + 2
    expected = pose_of(YawCalibration(0.2, 30.0).apply(plain.pose.rotation()))
    np.testing.assert_allclose([turned.pose.yaw, turned.pose.pitch, turned.pose.roll],
                               [expected.yaw, expected.pitch, expected.roll], atol=1e-6)
    np.testing.assert_allclose(turned.landmarks3d, plain.landmarks3d)
    np.testing.assert_allclose(turned.vertices468, plain.vertices468)


def test_config_landmarks_average_a_landmark_models_points_into_the_68() -> None:
    from facehub.landmarks.predictor import LandmarkPredictor
    from tests.landmarks.test_landmarks_task import _ConstantModel

    image = np.random.default_rng(1).integers(0, 255, (120, 260, 3), dtype=np.uint8)
    plain = _tiny()
    crop_points = np.random.default_rng(2).random((68, 2)) * 40 + 12
    config = {"family": "pipnet", "task": "landmarks", "model_args": {}, "input_size": 64, "num_points": 68,
              "crop": {"zoom": 0.68, "shift_y": -0.1}}
    landmarker = LandmarkPredictor(LoadedModel("c", _ConstantModel(crop_points), config, Path(".")), device="cpu")
    plain.config["landmarks"] = {"model": "c", "weight": 0.25}
    fused = FaceReconstructor(plain.loaded, device="cpu", landmarks=landmarker)
    off = FaceReconstructor(plain.loaded, device="cpu", landmarks=False)
    assert off.landmarker is None and fused.landmarker is landmarker and fused.landmark_weight == 0.25
    faces = _faces()
    theirs, *_ = landmarker.locate(image, np.stack([f.points for f in faces]))
    for index, (own, mixed) in enumerate(zip(off(image, faces=faces).faces, fused(image, faces=faces).faces)):
        np.testing.assert_array_equal(own.face.points, faces[index].points)  # the faces keep the order given
        np.testing.assert_allclose(mixed.landmarks3d[:, :2], 0.75 * own.landmarks3d[:, :2] + 0.25 * theirs[index], atol=1e-4)
        np.testing.assert_allclose(mixed.landmarks3d[:, 2], own.landmarks3d[:, 2])  # depth stays the mesh's
        np.testing.assert_allclose(mixed.vertices468, own.vertices468)
    plain.config["landmarks"] = {"model": "c", "weight": 0.25, "jaw_weight": 0.75}
    jaw = FaceReconstructor(plain.loaded, device="cpu", landmarks=landmarker)
    own, mixed = off(image, faces=faces[:1]).faces[0], jaw(image, faces=faces[:1]).faces[0]
    np.testing.assert_allclose(mixed.landmarks3d[:17, :2], 0.25 * own.landmarks3d[:17, :2] + 0.75 * theirs[0, :17], atol=1e-4)
    np.testing.assert_allclose(mixed.landmarks3d[17:, :2], 0.75 * own.landmarks3d[17:, :2] + 0.25 * theirs[0, 17:], atol=1e-4)


def test_a_missing_landmark_model_is_named_with_the_way_out(
    hf_isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from facehub.errors import CheckpointError

    monkeypatch.setenv("FACEHUB_WEIGHTS", str(tmp_path / "weights"))  # no weights/pipnet, an empty Hub cache, offline
    plain = _tiny()
    plain.config["landmarks"] = {"model": "pipnet", "weight": 0.5}
    with pytest.raises(CheckpointError, match="'pipnet' landmark model.*Checkpoint 'pipnet'.*landmarks=False"):
        FaceReconstructor(plain.loaded, device="cpu")
    assert FaceReconstructor(plain.loaded, device="cpu", landmarks=False).landmarker is None


def test_to_image_space_inverts_the_alignment() -> None:
    matrix = np.array([[0.5, -0.1, 10.0], [0.1, 0.5, -4.0]])
    scale = np.sqrt(0.5**2 + 0.1**2)
    image_pts = np.array([[100.0, 50.0, 8.0], [30.0, 90.0, -4.0]])
    crop = np.concatenate([image_pts[:, :2] @ matrix[:, :2].T + matrix[:, 2], image_pts[:, 2:] * scale], 1)
    back = to_image_space(crop.T.reshape(3, 2, 1), matrix).reshape(3, 2).T
    np.testing.assert_allclose(back, image_pts, atol=1e-4)


def _shipped() -> bool:
    return all((weights_root() / n / "model.safetensors").is_file() for n in ("prnet", "mtcnn"))


def _check_face(face, box: np.ndarray) -> None:
    points = face.landmarks3d[:, :2]
    width, height = box[2] - box[0], box[3] - box[1]
    margin = np.array([0.2 * width, 0.2 * height])
    assert (points >= box[:2] - margin).all() and (points <= box[2:] + margin).all()
    assert points[36:48, 1].mean() < points[30, 1] < points[48:68, 1].mean() < points[8, 1]
    assert points[36, 0] < points[45, 0]
    assert face.landmarks3d[30, 2] < face.landmarks3d[0, 2]  # nose tip nearer than the jaw side


def test_shipped_weights_on_example_photo(tmp_path: Path) -> None:
    if not _shipped():
        pytest.skip("weights/prnet not shipped")
    import facehub

    result = facehub.load("prnet", device="cpu")(Image.open(EXAMPLES / "grace_hopper.jpg"))
    assert len(result.faces) == 1
    face = result.faces[0]
    _check_face(face, face.box)
    assert abs(face.pose.yaw) < 30 and abs(face.pose.roll) < 20
    gltf, _ = read_glb(result.save_glb(tmp_path / "hopper.glb"))
    assert "COLOR_0" in gltf["meshes"][0]["primitives"][0]["attributes"]


def test_shipped_weights_on_held_out_person() -> None:
    csv = data_root() / "ytf68" / "landmarks68.csv"
    if not _shipped() or not csv.is_file():
        pytest.skip("weights or ytf68 not available")
    import facehub
    from facehub.image import load_image
    from facehub.train.data.ytf68 import read_ytf68, split_by_person

    _, val = split_by_person(read_ytf68())
    predictor = facehub.load("prnet", device="cpu")
    errors = []
    for sample in val[::60][:6]:
        result = predictor(load_image(sample.path))
        assert len(result.faces) >= 1
        pred = result.faces[0].landmarks3d[:, :2]
        wh = np.ptp(sample.points, axis=0)
        errors.append(np.linalg.norm(pred - sample.points, axis=1).mean() / np.sqrt(wh[0] * wh[1]))
    assert np.median(errors) < 0.07


def test_selective_refine_reruns_only_the_faces_whose_crop_moves() -> None:
    """Grace Hopper's face given its detector's five points and given five points pushed aside: with a
    threshold between how far each crop moves on refining, only the misplaced face gets the refine pass."""
    if not _shipped():
        pytest.skip("weights/prnet not shipped")
    import facehub
    from facehub.geometry.align import crop_shift
    from facehub.geometry.five_points import five_points_from_468

    image = np.asarray(Image.open(EXAMPLES / "grace_hopper.jpg").convert("RGB"))
    plain = facehub.load("prnet", device="cpu", refine_passes=0)
    detected = plain.detector(image).faces[0].points
    points5 = np.stack([detected, detected + [0.8 * np.ptp(detected[:, 0]), 0.0]])
    maps, matrices = plain.locate(image, points5)
    refined = [five_points_from_468(plain.layout.sample(to_image_space(m, a))) for m, a in zip(maps, matrices)]
    shifts = crop_shift(matrices, np.stack(refined), plain.crop_spec)
    assert shifts[1] > 2 * shifts[0]

    full = facehub.load("prnet", device="cpu", refine_passes=1, refine_min_shift=0.0)
    picked = facehub.load("prnet", device="cpu", refine_passes=1, refine_min_shift=float(shifts.mean()))
    full_maps, _ = full.refine(image, maps, matrices)
    picked_maps, picked_matrices = picked.refine(image, maps, matrices)
    assert np.array_equal(picked_maps[0], maps[0]) and np.array_equal(picked_matrices[0], matrices[0])
    assert np.allclose(picked_maps[1], full_maps[1], atol=1e-3) and not np.allclose(picked_maps[1], maps[1], atol=1e-3)
