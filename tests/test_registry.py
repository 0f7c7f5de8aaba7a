"""The checkpoint registry: names, tasks, defaults, repo ids, and the shipped ``weights/`` folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facehub.errors import CheckpointError
from facehub.hub import CONFIG_NAME, REPO_ROOT, WEIGHTS_NAME, load_model
from facehub.registry import (
    DEFAULTS,
    FAMILIES,
    HUB_ORGANISATION,
    REGISTRY,
    CheckpointSpec,
    family_class,
    get_spec,
    names_for_task,
)

TASKS = {"detection", "parsing", "landmarks", "reconstruction", "editing"}
SHIPPED = sorted(
    path.name
    for path in (REPO_ROOT / "weights").glob("*")
    if (path / CONFIG_NAME).is_file() and (path / WEIGHTS_NAME).is_file()
)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_spec_is_consistent(name: str) -> None:
    spec = get_spec(name)
    assert spec.name == name
    assert spec.task in TASKS
    assert spec.family in FAMILIES, f"{name}: family {spec.family!r} is not in facehub.registry.FAMILIES"
    assert spec.repo_id == f"{HUB_ORGANISATION}/{name}"
    assert spec.revision and spec.description


def test_defaults_point_at_registered_checkpoints_of_their_task() -> None:
    assert set(DEFAULTS) == TASKS
    for task, name in DEFAULTS.items():
        assert get_spec(name).task == task


@pytest.mark.parametrize("task", sorted(TASKS))
def test_names_for_task_puts_the_default_first(task: str) -> None:
    names = names_for_task(task)
    assert names[0] == DEFAULTS[task]
    assert sorted(names) == sorted(n for n, s in REGISTRY.items() if s.task == task)


def test_names_for_unknown_task_is_empty() -> None:
    assert names_for_task("teleportation") == []


@pytest.mark.parametrize("bad", ["", "BiSeNet", "bisenet ", "facehub/bisenet", "nope"])
def test_unknown_name_lists_the_valid_ones(bad: str) -> None:
    with pytest.raises(CheckpointError) as info:
        get_spec(bad)
    message = str(info.value)
    assert repr(bad) in message
    assert all(name in message for name in REGISTRY)


def test_unknown_family_lists_the_valid_ones() -> None:
    with pytest.raises(CheckpointError) as info:
        family_class("unet")
    assert "'unet'" in str(info.value) and all(family in str(info.value) for family in FAMILIES)


def test_spec_is_frozen() -> None:
    spec = CheckpointSpec("x", "bisenet", "parsing", "d")
    with pytest.raises(AttributeError):
        spec.name = "y"  # type: ignore[misc]


@pytest.mark.skipif(not SHIPPED, reason="no checkpoint is shipped in weights/ yet")
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_loads_strictly(name: str, hf_isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ``weights/<name>/`` is registered, agrees with its spec, has a card, and loads strictly offline."""
    monkeypatch.delenv("FACEHUB_WEIGHTS", raising=False)
    spec = get_spec(name)
    folder = REPO_ROOT / "weights" / name
    config = json.loads((folder / CONFIG_NAME).read_text())
    assert config["family"] == spec.family and config["task"] == spec.task
    json.dumps(config["model_args"])
    assert (folder / "README.md").is_file(), f"weights/{name}/ has no model card"
    loaded = load_model(name)
    assert loaded.folder == folder
    assert not loaded.model.training


def test_every_detector_loads_through_facehub_load_with_the_one_output_contract() -> None:
    """A family with its own predictor (BlazeFace) is served by it; every detector returns faces by descending score."""
    import facehub
    from facehub.detection.result import DetectionResult

    for spec in facehub.list_models("detection"):
        detector = facehub.load(spec.name, device="cpu")
        result = detector(str(Path(__file__).resolve().parent.parent / "examples" / "grace_hopper.jpg"))
        assert isinstance(result, DetectionResult) and len(result.faces) == 1, spec.name
        face = result.faces[0]
        assert face.box.shape == (4,) and face.points.shape == (5, 2) and 0 <= face.score <= 1


def test_predictors_take_a_detector_by_name() -> None:
    import facehub

    predictor = facehub.load("pipnet", device="cpu", detector="blazeface-short")
    assert type(predictor.detector).__name__ == "BlazeFaceDetector"
    assert predictor(str(Path(__file__).resolve().parent.parent / "examples" / "grace_hopper.jpg")).points.shape == (1, 68, 2)
