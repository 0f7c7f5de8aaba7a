"""The parsing task: result dataclass, multi-face paste-back, and the shipped weights on a real photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facehub.detection.result import DetectionResult, Face
from facehub.geometry.five_points import five_points_from_box
from facehub.hub import LoadedModel, weights_root
from facehub.parsing.labels import FACEHUB
from facehub.parsing.predictor import FaceParser
from facehub.parsing.result import ParsingResult

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONFIG = {"family": "bisenet", "task": "parsing", "model_args": {}, "labels": list(FACEHUB.names), "input_size": 64,
          "crop": {"zoom": 0.5, "shift_y": 0.0}, "mean": [0.5] * 3, "std": [0.5] * 3}


class ConstantModel(torch.nn.Module):
    """Logits that say ``label`` everywhere in the crop."""

    def __init__(self, label: int) -> None:
        super().__init__()
        self.label = label

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], len(FACEHUB), *x.shape[-2:])
        logits[:, self.label] = 10.0
        return logits


def _face(cx: float, cy: float, eye: float = 10.0) -> Face:
    points = np.array([[cx - eye / 2, cy], [cx + eye / 2, cy], [cx, cy + 0.6 * eye], [cx - 0.4 * eye, cy + eye], [cx + 0.4 * eye, cy + eye]])
    return Face(np.array([cx - eye, cy - eye, cx + eye, cy + 1.6 * eye]), 0.99, points)


def _parser(label: int = 1) -> FaceParser:
    loaded = LoadedModel("test", ConstantModel(label), dict(CONFIG), Path("."))
    return FaceParser(loaded, device="cpu")


def test_two_faces_pasted_back_at_full_size() -> None:
    image = np.full((120, 300, 3), 128, np.uint8)
    result = _parser()(image, faces=[_face(60, 55), _face(230, 55)])
    assert isinstance(result, ParsingResult)
    assert result.class_map.shape == (120, 300) and result.class_map.dtype == np.uint8
    assert result.class_map[55, 60] == 1 and result.class_map[55, 230] == 1
    assert result.face_index[55, 60] == 0 and result.face_index[55, 230] == 1
    assert (result.class_map[:, 145:150] == 0).all()  # between the crops: background
    assert len(result.crop_maps) == 2 and result.crop_images[0].shape == (64, 64, 3)


def test_faces_in_every_form_give_the_same_parse_without_a_detector() -> None:
    image = np.full((120, 300, 3), 128, np.uint8)
    faces = [_face(60, 55), _face(230, 55)]
    parser = _parser()
    reference = parser(image, faces=faces).class_map
    points = np.stack([f.points for f in faces])
    for given in (DetectionResult(image, faces), points, points.tolist(), faces[0], points[0]):
        result = parser(image, faces=given)
        expected = reference if len(result.faces) == 2 else parser(image, faces=faces[:1]).class_map
        assert np.array_equal(result.class_map, expected)
    boxes = np.stack([f.box for f in faces])  # boxes alone: five points estimated from each box
    from_boxes = parser(image, faces=boxes)
    assert [f.score for f in from_boxes.faces] == [1.0, 1.0]
    assert np.array_equal(from_boxes.class_map, parser(image, faces=five_points_from_box(boxes)).class_map)
    assert parser._detector is None  # faces given: the detector was never loaded


def test_no_face_gives_empty_result() -> None:
    result = _parser()(np.zeros((50, 40, 3), np.uint8), faces=[])
    assert result.faces == [] and result.class_map.shape == (50, 40) and not result.class_map.any()
    assert result.to_json()["faces"] == []


def test_result_drawings_and_json() -> None:
    result = _parser(label=FACEHUB.index("hair"))(np.full((100, 100, 3), 100, np.uint8), faces=[_face(50, 50)])
    assert result.overlay(0.5).size == (100, 100)
    hidden = np.asarray(result.overlay(1.0, classes=["skin"]))
    assert (hidden == 100).all()  # hair hidden: the photo shows through
    shown = np.asarray(result.overlay(1.0, classes=["hair"]))
    assert tuple(shown[50, 50]) == FACEHUB.colours[FACEHUB.index("hair")]
    assert result.colour_mask().size == (100, 100) and result.legend().height > 0
    assert len(result.face_crops()) == 1
    data = result.to_json()
    assert data["labels"] == list(FACEHUB.names) and data["faces"][0]["pixels"]["hair"] > 0
    assert np.array_equal(result.label_map, result.class_map)


class TiedModel(torch.nn.Module):
    """Logits 1.0 for skin and 0.8 for hair everywhere: skin wins unless hair's logit is raised."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], len(FACEHUB), *x.shape[-2:])
        logits[:, FACEHUB.index("skin")], logits[:, FACEHUB.index("hair")] = 1.0, 0.8
        return logits


def test_class_bias_raises_a_class_logit() -> None:
    image, faces = np.full((100, 100, 3), 100, np.uint8), [_face(50, 50)]
    plain = FaceParser(LoadedModel("test", TiedModel(), dict(CONFIG), Path(".")), device="cpu")
    assert plain(image, faces=faces).class_map[50, 50] == FACEHUB.index("skin")
    biased = FaceParser(LoadedModel("test", TiedModel(), {**CONFIG, "class_bias": {"hair": 0.5}}, Path(".")), device="cpu")
    result = biased(image, faces=faces)
    assert result.class_map[50, 50] == FACEHUB.index("hair")
    probs = result.crop_probs[0][:, 10, 10]
    assert probs[FACEHUB.index("hair")] / probs[FACEHUB.index("skin")] == pytest.approx(np.exp(0.3), rel=1e-4)
    with pytest.raises(ValueError, match="not among the parser's labels"):
        FaceParser(LoadedModel("test", TiedModel(), {**CONFIG, "class_bias": {"clothes": 0.5}}, Path(".")), device="cpu")


SHIPPED = [name for name in ("bisenet", "face-transformer") if (weights_root() / name / "model.safetensors").is_file()]


@pytest.mark.skipif(not SHIPPED, reason="no shipped parsing weights")
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_parse_at_full_size(name: str) -> None:
    import facehub
    from facehub.image import load_image

    image = load_image(EXAMPLES / "two_people.jpg")
    result = facehub.load(name, device="cpu")(image).as_label_set("facehub")
    assert len(result.faces) == 2 and result.class_map.shape == image.shape[:2]
    assert (result.class_map == FACEHUB.index("skin")).sum() > 1000
    assert set(np.unique(result.face_index)) == {-1, 0, 1}


# The face transformer shipped undertrained (see its model card): only the default parser must find the parts.
@pytest.mark.skipif("bisenet" not in SHIPPED, reason="no shipped bisenet weights")
@pytest.mark.parametrize("name", ["bisenet"])
def test_shipped_weights_find_parts_in_order(name: str) -> None:
    import facehub
    from facehub.image import load_image

    torch.set_num_threads(2)
    result = facehub.load(name, device="cpu")(load_image(EXAMPLES / "grace_hopper.jpg")).as_label_set("facehub")
    assert len(result.faces) >= 1
    x0, y0, x1, y1 = result.faces[0].box
    centres = {}
    for part, names in {"eyes": ("left_eye", "right_eye"), "nose": ("nose",), "mouth": ("upper_lip", "inner_mouth", "lower_lip")}.items():
        ys, xs = np.nonzero(np.isin(result.class_map, [FACEHUB.index(n) for n in names]) & (result.face_index == 0))
        assert len(ys) > 20, f"{name}: no {part} found"
        centres[part] = (xs.mean(), ys.mean())
        assert x0 <= xs.mean() <= x1 and y0 <= ys.mean() <= y1, f"{name}: {part} outside the face box"
    assert centres["eyes"][1] < centres["nose"][1] < centres["mouth"][1]
    assert (result.class_map == FACEHUB.index("skin")).sum() > (result.class_map == FACEHUB.index("nose")).sum()


def test_as_label_set_maps_classes_by_name() -> None:
    from facehub.parsing.labels import CELEBAMASK, LAPA

    result = ParsingResult(image=np.zeros((4, 5, 3), np.uint8), faces=[], labels=CELEBAMASK.names,
                           class_map=np.array([[CELEBAMASK.index(n) for n in ("l_brow", "mouth", "neck", "cloth", "eye_g")]] * 4,
                                              np.uint8))
    lapa = result.as_label_set("lapa")
    assert lapa.labels == LAPA.names and result.labels == CELEBAMASK.names  # a new result; the original is kept
    assert [LAPA.names[i] for i in lapa.class_map[0]] == ["left_eyebrow", "inner_mouth", "skin", "background", "skin"]
    assert result.as_label_set("celebamask") is result
    with pytest.raises(KeyError, match="Valid"):
        result.as_label_set("pascal")


def test_as_label_set_adds_the_probabilities_of_classes_that_meet() -> None:
    """In the crop, neck (0.4) and skin (0.35) both become LaPa's skin (0.75) and beat hair (0.25)."""
    from facehub.parsing.labels import CELEBAMASK, LAPA

    probs = np.zeros((len(CELEBAMASK.names), 2, 2), np.float32)
    probs[CELEBAMASK.index("neck")], probs[CELEBAMASK.index("skin")], probs[CELEBAMASK.index("hair")] = 0.4, 0.35, 0.25
    result = ParsingResult(image=np.zeros((8, 8, 3), np.uint8), faces=[], labels=CELEBAMASK.names,
                           class_map=np.zeros((8, 8), np.uint8), crop_probs=[probs], crop_images=[np.zeros((8, 8, 3), np.uint8)])
    assert (result.crop_maps[0] == CELEBAMASK.index("neck")).all() and result.crop_maps[0].shape == (8, 8)
    lapa = result.as_label_set("lapa")
    assert (lapa.crop_maps[0] == LAPA.index("skin")).all()
    assert np.allclose(lapa.crop_probs[0].sum(0), 1.0)


def test_context_crop_carries_hair_past_the_own_crop_without_a_gap() -> None:
    """Hair that reaches the crop's border (a constant "hair" model) stops at the crop's window without a context
    crop; with one (``config["context"]``) the same face's hair runs on, unbroken, well past that window, and no
    pixel between the two crops is lost to the background."""
    image, faces = np.full((200, 200, 3), 100, np.uint8), [_face(100, 100)]
    hair = FACEHUB.index("hair")
    plain = _parser(hair)(image, faces=faces)
    config = {**CONFIG, "context": {"classes": ["hair"], "share": 0.1, "zoom": 0.5}}
    parser = FaceParser(LoadedModel("test", ConstantModel(hair), config, Path(".")), device="cpu")
    result = parser(image, faces=faces)
    own = plain.class_map == hair
    assert own.any() and not own.all()
    assert (result.class_map[own] == hair).all()  # the own crop's pixels keep their class
    grown = (result.class_map == hair) & ~own
    assert grown.sum() > own.sum()  # the wide crop (twice the side) adds more than the own crop holds
    ys, xs = np.nonzero(result.class_map == hair)
    box = result.class_map[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    assert (box == hair).mean() > 0.95  # one solid region: no background line where the crops hand over
    assert set(np.unique(result.face_index)) <= {-1, 0}


def test_context_crop_adds_only_its_context_classes() -> None:
    """A wide view's small parts are not pasted: a model saying "nose" everywhere gets no context crop (its
    border is not hair), and a context crop's other classes fold into the background."""
    image, faces = np.full((200, 200, 3), 100, np.uint8), [_face(100, 100)]
    config = {**CONFIG, "context": {"classes": ["hair"], "share": 0.1, "zoom": 0.5}}
    parser = FaceParser(LoadedModel("test", ConstantModel(FACEHUB.index("nose")), config, Path(".")), device="cpu")
    with torch.inference_mode():
        probs = parser.crop_probabilities(parser.prepare(image, faces).crops, coarse=True)
    assert parser.context_faces(probs) == []
    wide, _ = parser._context_pass(image, faces, probs.shape[-1])
    hair = FACEHUB.index("hair")
    others = [i for i in range(1, len(FACEHUB)) if i != hair]
    assert wide[:, others].abs().max() == 0 and wide[:, 0].min() > 0.99
    assert torch.allclose(wide.sum(1), torch.ones(1))
