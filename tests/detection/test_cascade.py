"""The composed face detector (``face-detector``): faces cut by the frame, small faces, the mirrored pass, settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facehub.detection.blazeface import letterbox
from facehub.detection.cascade import CascadeDetector, CascadeSettings
from facehub.detection.detector import pyramid_scales
from facehub.image import load_image
from facehub.train.data import data_root
from facehub.train.eval.metrics import box_iou

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def detector() -> CascadeDetector:
    return CascadeDetector.from_pretrained("face-detector", device="cpu")


@pytest.fixture(scope="module")
def grace() -> np.ndarray:
    return load_image(EXAMPLES / "grace_hopper.jpg")


@pytest.mark.parametrize(("side", "outside"), [("left", 0.4), ("top", 0.5), ("right", 0.5), ("bottom", 0.3)])
def test_a_face_cut_by_the_frame_is_found(detector: CascadeDetector, grace: np.ndarray, side: str, outside: float) -> None:
    """A real face with 30-50% of its box cropped away: found, its box reaching past the frame where the face was."""
    box = detector(grace).faces[0].box
    width, height = box[2] - box[0], box[3] - box[1]
    if side == "left":
        cut = int(box[0] + outside * width)
        crop, expected = grace[:, cut:], box - [cut, 0, cut, 0]
    elif side == "top":
        cut = int(box[1] + outside * height)
        crop, expected = grace[cut:], box - [0, cut, 0, cut]
    elif side == "right":
        crop, expected = grace[:, : int(box[2] - outside * width)], box
    else:
        crop, expected = grace[: int(box[3] - outside * height)], box
    faces = detector(np.ascontiguousarray(crop)).faces
    assert len(faces) == 1
    assert box_iou(faces[0].box, expected) > 0.5


def test_default_pipeline_finds_the_small_face_blazeface_short_misses(detector: CascadeDetector) -> None:
    """two_people.jpg: the astronaut's face is 9% of the photo's width, below BlazeFace short range's reach."""
    image = load_image(EXAMPLES / "two_people.jpg")
    assert len(detector.fast(image).faces) == 1
    faces = detector(image).faces
    assert len(faces) == 2
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)


def test_a_collage_of_small_faces_is_found_whole(detector: CascadeDetector) -> None:
    """24 example portraits in a 600 px collage (faces about 7% of its width): every one, as MTCNN finds them."""
    from PIL import Image

    cells = [Image.open(EXAMPLES / f"{n}.jpg").convert("RGB").resize((100, 110)) for n in ("grace_hopper", "astronaut")]
    canvas = Image.new("RGB", (600, 440), (90, 90, 90))
    for i in range(24):
        canvas.paste(cells[i % 2], ((i % 6) * 100, (i // 6) * 110))
    faces = detector(np.asarray(canvas)).faces
    assert len(faces) == 24
    centres = sorted((int((f.box[1] + f.box[3]) / 2 // 110), int((f.box[0] + f.box[2]) / 2 // 100)) for f in faces)
    assert centres == [(row, col) for row in range(4) for col in range(6)]  # one face per cell


CELEBA_VAL = data_root() / "celebamask19" / "val" / "images"


@pytest.mark.skipif(not CELEBA_VAL.is_dir(), reason="needs ../shared/data/celebamask19")
@pytest.mark.parametrize(("width", "height"), [(600, 450), (400, 300)])
def test_a_group_of_portrait_sized_faces_is_found_whole(detector: CascadeDetector, width: int, height: int) -> None:
    """12 CelebA-HQ portraits in a 4x3 collage (faces about 15% of its width, where BlazeFace short range finds
    only some): the fast path's faces do not end the search, so every face is found, one per cell."""
    from PIL import Image

    photos = sorted(CELEBA_VAL.glob("*.jpg"))[24:36]
    cell_w, cell_h = width // 4, height // 3
    canvas = Image.new("RGB", (width, height), (90, 90, 90))
    for i, path in enumerate(photos):
        canvas.paste(Image.open(path).convert("RGB").resize((cell_w, cell_h)), ((i % 4) * cell_w, (i // 4) * cell_h))
    image = np.asarray(canvas)
    assert len(detector.fast(image).faces) < 12  # the case this guards: the fast path alone misses some
    faces = detector(image).faces
    cells = sorted((int((f.box[1] + f.box[3]) / 2 // cell_h), int((f.box[0] + f.box[2]) / 2 // cell_w)) for f in faces)
    assert cells == [(row, col) for row in range(3) for col in range(4)]


def test_the_mirrored_pass_maps_faces_back(detector: CascadeDetector, grace: np.ndarray) -> None:
    """The mirrored photo's faces, mirrored back, lie where the photo's own are, eyes in image-left-first order."""
    direct = detector.fast(grace).faces[0]
    mirrored = letterbox(np.ascontiguousarray(grace[:, ::-1]), detector.fast.input_size)
    back = detector._run([letterbox(grace, detector.fast.input_size), mirrored], [0.5, 0.5], mirrored_width=grace.shape[1])
    assert len(back) == 1  # the two passes' faces merged into one
    only_mirrored = detector._run([mirrored, mirrored], [1.1, 0.5], mirrored_width=grace.shape[1])[0]
    assert np.abs(only_mirrored.box - direct.box).max() < 6
    assert np.abs(only_mirrored.points[:3] - direct.points[:3]).max() < 6
    assert only_mirrored.points[0, 0] < only_mirrored.points[1, 0]


def test_the_turned_pass_maps_faces_back(detector: CascadeDetector, grace: np.ndarray) -> None:
    """A face turned 60 degrees in the image plane is found by the turned pass where it lies, eyes included."""
    from PIL import Image

    upright = detector.fast(grace).faces[0]
    height, width = grace.shape[:2]
    turned = np.asarray(Image.fromarray(grace).rotate(60, resample=Image.Resampling.BILINEAR))  # counter-clockwise
    centre = np.array([width, height]) / 2 - 0.5
    angle = np.deg2rad(60)
    to_turned = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    expected_points = centre + (upright.points - centre) @ to_turned.T
    faces = detector._rotated(letterbox(turned, detector.fast.input_size, detector.settings.pad))
    assert len(faces) == 1
    assert np.abs(faces[0].points[:3] - expected_points[:3]).max() < 0.08 * (upright.box[2] - upright.box[0])
    middle = (faces[0].box[:2] + faces[0].box[2:]) / 2
    assert np.abs(middle - expected_points[:3].mean(0)).max() < 0.25 * (upright.box[2] - upright.box[0])


AFLW_VAL = data_root() / "aflw2000_val"


@pytest.mark.skipif(not AFLW_VAL.is_dir(), reason="needs ../shared/data/aflw2000_val")
def test_a_tilted_profile_beside_an_unsure_lone_face_is_found(detector: CascadeDetector) -> None:
    """AFLW2000-3D image00400: a whisper, the labelled face a profile half behind a hand, tilted; the fast path finds
    only the listener (scoring under ``rotate_below``), the turned pass the whisperer."""
    import scipy.io

    image = load_image(AFLW_VAL / "image00400.jpg")
    points = scipy.io.loadmat(str(AFLW_VAL / "image00400.mat"))["pt3d_68"][:2].T
    truth = np.r_[points.min(0), points.max(0)]
    assert not any(box_iou(f.box, truth) > 0.3 for f in detector.fast(image).faces)
    faces = detector(image).faces
    assert len(faces) == 2
    assert any(box_iou(f.box, truth) > 0.3 for f in faces)


def test_a_portrait_is_one_forward_pass(detector: CascadeDetector, grace: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    """The common case costs one BlazeFace pass and no MTCNN."""
    calls = []
    monkeypatch.setattr(detector.small, "detect", lambda *a, **k: calls.append("mtcnn"))
    run_batch = detector.fast.run_batch
    monkeypatch.setattr(detector.fast, "run_batch", lambda *a, **k: calls.append("blazeface") or run_batch(*a, **k))
    assert len(detector(grace).faces) == 1
    assert calls == ["blazeface"]


def test_nothing_found_falls_back_to_mtcnn_and_a_blank_photo_has_no_face(detector: CascadeDetector) -> None:
    assert detector(np.full((300, 400, 3), 127, np.uint8)).faces == []


def test_settings_come_from_the_config_and_may_be_overridden() -> None:
    settings = CascadeSettings.from_config({"pad": 0.1, "portrait": 0.3, "family": "face_detector"}, portrait=0.2)
    assert settings.pad == 0.1 and settings.portrait == 0.2 and settings.small_below == CascadeSettings().small_below


def test_letterbox_pad_widens_the_square() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    _, plain = letterbox(image, 128)
    _, padded = letterbox(image, 128, pad=0.25)
    assert plain.side == 200 and padded.side == 300
    assert (padded.x0, padded.y0) == (-50, -100)


def test_pyramid_stops_at_the_largest_face_asked_for() -> None:
    scales = pyramid_scales(1000, 1000, 20, 0.709, max_face_size=80)
    assert scales and all(12 / s <= 80 for s in scales)
    assert len(scales) < len(pyramid_scales(1000, 1000, 20, 0.709))


def _parse(labels: tuple[str, ...], faces: list, features_of: set[int]):
    """A stand-in for a face parser's result: skin in every face's box, and a nose in the middle of the boxes of
    the faces whose index is in ``features_of``."""
    from types import SimpleNamespace

    class_map = np.zeros((200, 300), np.uint8)
    face_index = np.full((200, 300), -1, np.int16)
    for index, face in enumerate(faces):
        x0, y0, x1, y1 = np.round(face.box).astype(int)
        class_map[y0:y1, x0:x1], face_index[y0:y1, x0:x1] = labels.index("skin"), index
        if index in features_of:
            cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
            class_map[cy - 3:cy + 3, cx - 3:cx + 3] = labels.index("nose")
    return SimpleNamespace(class_map=class_map, face_index=face_index, labels=labels, faces=faces)


def test_facial_feature_shares_count_only_each_faces_own_features() -> None:
    from facehub.detection.cascade import facial_feature_shares
    from facehub.detection.result import Face

    labels = ("background", "skin", "nose")
    faces = [Face(np.array([10.0, 10, 60, 60]), 0.9, np.zeros((5, 2))), Face(np.array([100.0, 10, 150, 60]), 0.6, np.zeros((5, 2)))]
    shares = facial_feature_shares(_parse(labels, faces, features_of={0}))
    assert shares[0] == pytest.approx(36 / 2500) and shares[1] == 0.0
    with pytest.raises(ValueError, match="verify_below to 0"):  # a parser without those classes cannot verify
        facial_feature_shares(_parse(("background", "skin", "hair"), faces, features_of=set()))


def test_low_score_faces_without_facial_features_are_dropped(detector: CascadeDetector, monkeypatch: pytest.MonkeyPatch) -> None:
    """A back of a head (no nose, eyes, brows or lips in its parse) under ``verify_below`` goes; a face that scores
    high is never parsed; a low-score face with features stays."""
    from facehub.detection.result import Face

    labels = ("background", "skin", "nose")
    sure, unsure_face, back_of_head = (Face(np.array(box, float), score, np.zeros((5, 2))) for box, score in
                                       [([10, 10, 60, 60], 0.95), ([100, 10, 150, 60], 0.6), ([200, 10, 250, 60], 0.55)])
    monkeypatch.setattr(detector, "_find", lambda image: [sure, unsure_face, back_of_head])
    parsed = []
    verifier = lambda image, faces: parsed.append(list(faces)) or _parse(labels, list(faces), features_of={0})  # noqa: E731
    monkeypatch.setattr(detector, "_verifier", verifier)
    assert detector.settings.verify_below > 0.6  # the shipped config verifies these two
    assert detector(np.zeros((200, 300, 3), np.uint8)).faces == [sure, unsure_face]
    assert parsed == [[unsure_face, back_of_head]]
    monkeypatch.setattr(detector, "settings", CascadeSettings(verify_below=0.0))
    parsed.clear()
    assert len(detector(np.zeros((200, 300, 3), np.uint8)).faces) == 3 and parsed == []
