"""Honest refusals: a chosen component missing in one photo gives the target untouched and says why.

The rule is checked on small synthetic maps; then, with the shipped parser and
editor, on a real pair: examples/astronaut.jpg with her hair painted over with
the surrounding background (where the shipped parser's own hair mask is) as the
source, the original as the target. The Python API, the CLI and the app's
editing tab must refuse it with the same words; the example pairs still edit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facehub.detection.result import Face
from facehub.editing.masks import BACKGROUND, HAIR, INDEX, SKIN, part_mask
from facehub.editing.refusal import MIN_AREA, MIN_RELATIVE, component_area, refusal
from facehub.errors import ComponentNotFoundError
from facehub.image import load_image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FACE = Face(np.array([20.0, 20.0, 80.0, 80.0]), 1.0, np.zeros((5, 2)))  # a 60 x 60 box: 3600 px


def _portrait(hair_rows: int = 20, eyes: bool = True) -> np.ndarray:
    """(100, 100) EDIT_LABELS: hair on the top ``hair_rows`` rows, a skin square, two eyes, a nose and lips."""
    labels = np.full((100, 100), BACKGROUND, np.uint8)
    labels[:hair_rows, 10:90] = HAIR
    labels[25:85, 25:75] = SKIN
    if eyes:
        labels[40:44, 32:42], labels[40:44, 58:68] = INDEX["left_eye"], INDEX["right_eye"]
    labels[38:39, 32:42], labels[38:39, 58:68] = INDEX["left_eyebrow"], INDEX["right_eyebrow"]
    labels[50:60, 46:54] = INDEX["nose"]
    labels[66:68, 40:60], labels[68:70, 40:60] = INDEX["upper_lip"], INDEX["lower_lip"]
    return labels


def test_component_area_is_over_the_face_box() -> None:
    assert component_area(_portrait(20), FACE, "hair") == pytest.approx(20 * 80 / 3600)
    assert component_area(_portrait(), FACE, "mouth") == pytest.approx(80 / 3600)


def test_source_without_hair_is_refused_and_other_parts_suggested() -> None:
    bald, target = _portrait(0), _portrait(20)
    message = refusal(("hair",), bald, FACE, target, FACE)
    assert message is not None and "hair was not found in the source photo" in message
    assert "choose a source photo where the hair is clearly visible" in message
    assert "or edit eyes, brows, nose, mouth, face only" in message
    assert refusal(("eyes", "mouth"), bald, FACE, target, FACE) is None  # the parts that are there still move
    assert refusal(("hair",), target, FACE, bald, FACE) is None  # hair may be added to a bald target


def test_hair_much_smaller_than_the_target_is_refused() -> None:
    rows = 40  # target hair 40 * 80 px; a source with just above MIN_AREA, below MIN_RELATIVE of it
    source = _portrait(1)
    ratio = component_area(source, FACE, "hair") / component_area(_portrait(rows), FACE, "hair")
    assert component_area(source, FACE, "hair") >= MIN_AREA["hair"] and ratio < MIN_RELATIVE
    assert "source photo" in refusal(("hair",), source, FACE, _portrait(rows), FACE)
    assert refusal(("hair",), _portrait(10), FACE, _portrait(rows), FACE) is None  # short onto long still edits


def test_target_without_the_component_is_refused() -> None:
    message = refusal(("eyes", "mouth"), _portrait(), FACE, _portrait(eyes=False), FACE)
    assert message is not None and "eyes were not found in the target photo" in message and "mouth" not in message.split(":")[1]
    assert "choose a target photo where the eyes are clearly visible" in message


# --- the shipped parser and editor on real photos ---------------------------------------------------------------


@pytest.fixture(scope="module")
def editor():
    import facehub
    from facehub.errors import CheckpointError
    from facehub.hub import weights_root

    if not (weights_root() / "bisenet" / "model.safetensors").is_file():
        pytest.skip("the parser's weights (weights/bisenet) are not here")
    try:
        return facehub.load("portrait-editor", device="cpu")
    except CheckpointError as error:
        pytest.skip(str(error))


def _fill(photo: np.ndarray, hole: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``photo`` with the (H, W) bool ``hole`` filled by diffusing the colours of the ``known`` pixels into it."""
    import torch
    import torch.nn.functional as F

    values = torch.from_numpy(photo).permute(2, 0, 1)[None].float()
    have = torch.from_numpy(known & ~hole)[None, None].float()
    values = values * have
    for _ in range(300):
        total, count = F.avg_pool2d(values * have, 3, 1, 1), F.avg_pool2d(have, 3, 1, 1)
        new = (count > 0) & (have == 0)
        values = torch.where(new, total / count.clamp_min(1e-6), values)
        have = have + new.float()
    out = photo.copy()
    out[hole] = values[0].permute(1, 2, 0).round().byte().numpy()[hole]
    return out


@pytest.fixture(scope="module")
def hairless(editor, tmp_path_factory) -> Path:
    """astronaut.jpg with her hair painted over with the wall behind it: twice, the shipped parser's hair mask
    (grown by 4 px) filled from the background above the eyes (the parser finds 1.1 face boxes of hair, then 0.05,
    then none)."""
    import torch
    from PIL import Image

    from facehub.editing.blend_ops import dilate

    photo = load_image(EXAMPLES / "astronaut.jpg")
    for _ in range(2):
        parsed = editor.parse(photo)
        hair = dilate(torch.from_numpy(part_mask(parsed.class_map, "hair")), 4).numpy()
        above_eyes = np.arange(photo.shape[0])[:, None] < parsed.face.points[:2, 1].mean()
        photo = _fill(photo, hair, (parsed.class_map == BACKGROUND) & above_eyes)
    path = tmp_path_factory.mktemp("refusal") / "astronaut_no_hair.png"
    Image.fromarray(photo).save(path)
    return path


def test_api_refuses_a_source_whose_hair_cannot_be_found(editor, hairless) -> None:
    source, target = load_image(hairless), load_image(EXAMPLES / "astronaut.jpg")
    for method in ("blend", "gan"):
        result = editor(source, target, parts="hair", method=method)
        assert result.refused is not None and "hair was not found in the source photo" in result.refused
        np.testing.assert_array_equal(result.image, target)
        assert not result.edited.any() and result.to_json()["refused"] == result.refused
        with pytest.raises(ComponentNotFoundError, match="hair was not found in the source photo"):
            result.raise_if_refused()
    kept = editor(source, target, parts=("eyes", "mouth"))  # the parts that are there still move
    assert kept.refused is None and kept.edited.any()


def test_cli_exits_non_zero_with_the_message_and_writes_nothing(editor, hairless, tmp_path, capsys) -> None:
    from facehub.cli import main

    out = tmp_path / "edited.png"
    code = main(["--device", "cpu", "edit", "--source", str(hairless), "--target", str(EXAMPLES / "astronaut.jpg"),
                 "--parts", "hair", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "hair was not found in the source photo" in err and "choose a source photo where the hair" in err


def test_app_shows_the_refusal_and_the_untouched_target(editor, hairless) -> None:
    pytest.importorskip("gradio")
    from PIL import Image

    from apps import common, editing

    common.predictor(common.model_choices(editing.TASK)[0])  # loads (or reuses) the app's editor
    with pytest.warns(UserWarning, match="hair was not found in the source photo"):
        preview, _, _, download, note, (before, after) = editing.edit(str(hairless), str(EXAMPLES / "astronaut.jpg"), ["hair"], "blend")
    target = load_image(EXAMPLES / "astronaut.jpg")
    shown = np.asarray(Image.open(preview).convert("RGB"), dtype=float)
    assert download is None and "hair was not found in the source photo" in note
    assert shown.shape == target.shape and np.abs(shown - target).mean() < 3  # the target, as a JPEG preview
    assert before == after == preview  # nothing to compare: the slider shows the untouched target on both sides


@pytest.mark.parametrize(("source", "target", "parts"), [
    ("astronaut.jpg", "grace_hopper.jpg", "hair"),
    ("grace_hopper.jpg", "astronaut.jpg", "eyes,mouth"),
])
def test_example_pairs_still_edit(editor, source: str, target: str, parts: str) -> None:
    result = editor(load_image(EXAMPLES / source), load_image(EXAMPLES / target), parts=parts)
    assert result.refused is None and result.edited.any()


def test_grace_hoppers_hair_under_her_cap_is_refused_as_a_source(editor) -> None:
    """Her hair under the cap parses to 0.015 of her face box (stage 12), 0.024 of the astronaut's: moving it would
    erase the astronaut's hair, not replace it."""
    result = editor(load_image(EXAMPLES / "grace_hopper.jpg"), load_image(EXAMPLES / "astronaut.jpg"), parts="hair")
    assert result.refused is not None and "or edit eyes, brows, nose, mouth, face only" in result.refused
