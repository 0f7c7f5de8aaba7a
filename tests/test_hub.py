"""The weights helper against a real loopback Hub: upload, download, cache, offline, precedence, failures.

A test-only family (``tests.tiny_model:TinyNet``) and checkpoint name (``tiny``) are registered per
test, so these tests never depend on trained weights. ``huggingface_hub`` runs unpatched: every
upload and download goes over HTTP to ``tests.hub_server.LoopbackHub`` on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from facehub import hub as hub_module
from facehub.errors import CheckpointError
from facehub.hub import (
    ModelCard,
    load_model,
    load_state_dict_strict,
    push_to_hub,
    save_pretrained,
)
from facehub.registry import (
    FAMILIES,
    REGISTRY,
    CheckpointSpec,
    Family,
    build_model,
    family_class,
)
from tests.conftest import FAKE_TOKEN, set_hf_offline
from tests.hub_server import LoopbackHub
from tests.tiny_model import TinyNet

NAME = "tiny"
FAMILY = "tiny_test"
REPO_ID = "facehub/tiny"


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def weights_dir(hf_isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``$FACEHUB_WEIGHTS`` so that the repository's ``weights/`` is never used."""
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv("FACEHUB_WEIGHTS", str(folder))
    return folder


@pytest.fixture
def tiny_registered(monkeypatch: pytest.MonkeyPatch, weights_dir: Path) -> CheckpointSpec:
    """Register the ``tiny_test`` family and the ``tiny`` checkpoint (repo ``facehub/tiny``)."""
    monkeypatch.setitem(FAMILIES, FAMILY, Family("tests.tiny_model:TinyNet", "parsing"))
    spec = CheckpointSpec(NAME, FAMILY, "parsing", "test-only tiny network")
    monkeypatch.setitem(REGISTRY, NAME, spec)
    assert spec.repo_id == REPO_ID
    return spec


def make_tiny(seed: int = 0, channels: int = 4) -> TinyNet:
    """A TinyNet with random weights and non-trivial BatchNorm statistics."""
    torch.manual_seed(seed)
    model = TinyNet(channels=channels)
    with torch.no_grad():
        model.norm.running_mean.uniform_(-1, 1)
        model.norm.running_var.uniform_(0.5, 2)
        model.norm.num_batches_tracked.fill_(7 + seed)
    return model


def tiny_config(channels: int = 4) -> dict:
    """A complete ``config.json`` for TinyNet."""
    return {
        "family": FAMILY,
        "task": "parsing",
        "model_args": {"channels": channels, "classes": 3},
        "labels": ["background", "skin", "hair"],
        "input_size": 32,
        "crop": {"zoom": 1.0, "shift_y": 0.0},
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
    }


CARD = ModelCard(
    title="Tiny test net",
    summary="A test-only checkpoint.",
    data="Random.",
    training="None.",
    metrics={"f1": 0.5},
    tags=["test"],
)


def save_tiny(folder: Path, seed: int = 0, channels: int = 4) -> TinyNet:
    """Save a TinyNet checkpoint (fp16, with a model card) to ``folder`` and return the model."""
    model = make_tiny(seed, channels)
    save_pretrained(model, tiny_config(channels), folder, card=CARD)
    return model


def assert_fp16_equal(loaded: torch.nn.Module, original: torch.nn.Module) -> None:
    """Every float tensor equals the original rounded to fp16; other tensors are exactly equal."""
    expected = original.state_dict()
    actual = loaded.state_dict()
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        want = value.half().to(value.dtype) if value.is_floating_point() else value
        assert actual[key].dtype == value.dtype, key
        assert torch.equal(actual[key].cpu(), want), key


# --- upload and download ------------------------------------------------------------------------


def test_push_uploads_over_lfs_and_load_downloads(
    hub: LoopbackHub, hf_isolated: Path, tiny_registered: CheckpointSpec, tmp_path: Path
) -> None:
    """push_to_hub: create, preupload, LFS batch, PUT, verify, commit; load_model: HEAD/GET into the cache."""
    original = save_tiny(tmp_path / "ckpt")
    url = push_to_hub(tmp_path / "ckpt", REPO_ID)
    assert REPO_ID in url and "/commit/" in url

    calls = hub.calls()
    for expected in (
        "/api/repos/create",
        f"/api/models/{REPO_ID}/preupload/main",
        f"/{REPO_ID}.git/info/lfs/objects/batch",
        f"/{REPO_ID}.git/info/lfs/objects/verify",
        f"/api/models/{REPO_ID}/commit/main",
    ):
        assert expected in calls
    assert len(hub.calls("PUT")) == 1  # the safetensors file, and only it, went through LFS
    repo = hub.state.repos[REPO_ID]
    assert set(repo.files) == {"config.json", "model.safetensors", "README.md"}
    assert repo.files["model.safetensors"].lfs_sha256 is not None
    assert repo.files["config.json"].lfs_sha256 is None
    assert "library_name: facehub" in repo.files["README.md"].data.decode()
    api_auth = [auth for (verb, _), auth in zip(hub.state.requests, hub.state.authorizations) if verb == "POST"]
    assert api_auth and all(auth == f"Bearer {FAKE_TOKEN}" for auth in api_auth)

    loaded = load_model(NAME)
    assert loaded.folder.is_relative_to(hf_isolated)
    assert loaded.config == tiny_config()
    assert not loaded.model.training
    assert_fp16_equal(loaded.model, original)
    assert f"/{REPO_ID}/resolve/main/model.safetensors" in hub.calls("HEAD")
    assert f"/{REPO_ID}/resolve/main/config.json" in hub.calls("GET")
    # the weights came from the "CDN" the 302 pointed at, without the token
    oid = repo.files["model.safetensors"].lfs_sha256
    state = hub.state
    cdn = [i for i, (verb, path) in enumerate(state.requests) if verb == "GET" and path == f"/__lfs__/{oid}"]
    assert len(cdn) == 1
    assert state.hosts[cdn[0]] == "localhost" and state.authorizations[cdn[0]] is None


def test_download_when_lfs_files_are_served_directly(
    hub: LoopbackHub, tiny_registered: CheckpointSpec, tmp_path: Path
) -> None:
    """Some mirrors answer 200 on resolve for LFS files (X-Linked-Etag on the same response): also fine."""
    hub.cdn_redirects = False
    original = save_tiny(tmp_path / "ckpt")
    push_to_hub(tmp_path / "ckpt", REPO_ID)
    assert_fp16_equal(load_model(NAME).model, original)
    assert not any(path.startswith("/__lfs__/") for path in hub.calls("GET"))


def test_second_load_works_offline_and_with_the_server_stopped(
    hub: LoopbackHub, tiny_registered: CheckpointSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After one download the cache serves HF_HUB_OFFLINE=1 and a dead endpoint, without any request."""
    original = save_tiny(tmp_path / "ckpt")
    push_to_hub(tmp_path / "ckpt", REPO_ID)
    first = load_model(NAME)

    before = len(hub.calls())
    set_hf_offline(monkeypatch, True)
    offline = load_model(NAME)
    assert len(hub.calls()) == before
    assert offline.folder == first.folder
    assert_fp16_equal(offline.model, original)

    set_hf_offline(monkeypatch, False)
    hub.stop()
    stopped = load_model(NAME)
    assert stopped.folder == first.folder
    assert_fp16_equal(stopped.model, original)


def test_cache_is_used_before_the_hub_and_unchanged_push_is_a_no_op(
    hub: LoopbackHub, tiny_registered: CheckpointSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolution order is cache before download: a cached ``main`` is used as is, without asking the
    Hub, even after a newer push; a fresh cache gets the new commit. Re-pushing identical files commits nothing."""
    first = save_tiny(tmp_path / "v1", seed=0)
    push_to_hub(tmp_path / "v1", REPO_ID)
    load_model(NAME)
    commits = len(hub.state.repos[REPO_ID].commits)
    push_to_hub(tmp_path / "v1", REPO_ID)
    assert len(hub.state.repos[REPO_ID].commits) == commits

    retrained = save_tiny(tmp_path / "v2", seed=1)
    push_to_hub(tmp_path / "v2", REPO_ID)
    assert len(hub.state.repos[REPO_ID].commits) == commits + 1
    before = len(hub.calls())
    assert_fp16_equal(load_model(NAME).model, first)  # cached copy, no request
    assert len(hub.calls()) == before

    from huggingface_hub import constants

    fresh_cache = tmp_path / "fresh_cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(fresh_cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(fresh_cache))
    loaded = load_model(NAME)
    assert loaded.folder.is_relative_to(fresh_cache)
    assert loaded.folder.name == hub.state.repos[REPO_ID].head
    assert_fp16_equal(loaded.model, retrained)


def test_offline_and_not_cached_names_checkpoint_repo_and_fix(
    hf_isolated: Path, tiny_registered: CheckpointSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_hf_offline(monkeypatch, True)
    with pytest.raises(CheckpointError) as info:
        load_model(NAME)
    message = str(info.value)
    assert "'tiny'" in message
    assert REPO_ID in message
    assert f"hf download {REPO_ID}" in message and "weights/tiny" in message
    assert "\n" not in message.strip()


def test_repo_missing_on_the_hub(hub: LoopbackHub, tiny_registered: CheckpointSpec) -> None:
    with pytest.raises(CheckpointError) as info:
        load_model(NAME)
    assert REPO_ID in str(info.value) and "hf download" in str(info.value)
    assert hub.calls("HEAD")  # it did ask the server


def test_file_missing_in_repo(hub: LoopbackHub, tiny_registered: CheckpointSpec, tmp_path: Path) -> None:
    """A repo with config.json but no model.safetensors is an error, not a half-loaded model."""
    folder = tmp_path / "ckpt"
    save_tiny(folder)
    (folder / "model.safetensors").unlink()
    push_to_hub(folder, REPO_ID)
    with pytest.raises(CheckpointError, match=r"'tiny'.*facehub/tiny"):
        load_model(NAME)


def test_weights_folder_takes_precedence_over_the_hub(
    hub: LoopbackHub, tiny_registered: CheckpointSpec, weights_dir: Path, tmp_path: Path
) -> None:
    save_tiny(tmp_path / "hub_ckpt", seed=0)
    push_to_hub(tmp_path / "hub_ckpt", REPO_ID)
    local = save_tiny(weights_dir / NAME, seed=3)
    before = len(hub.calls())
    loaded = load_model(NAME)
    assert loaded.folder == weights_dir / NAME
    assert_fp16_equal(loaded.model, local)
    assert len(hub.calls()) == before  # the Hub was not asked at all


def test_incomplete_weights_folder_falls_back_to_the_hub(
    hub: LoopbackHub, tiny_registered: CheckpointSpec, weights_dir: Path, tmp_path: Path
) -> None:
    """weights/<name>/ with only a README (e.g. a model card awaiting training) is not a checkpoint."""
    original = save_tiny(tmp_path / "hub_ckpt")
    push_to_hub(tmp_path / "hub_ckpt", REPO_ID)
    (weights_dir / NAME).mkdir()
    (weights_dir / NAME / "README.md").write_text("# soon\n")
    assert_fp16_equal(load_model(NAME).model, original)


# --- broken checkpoints -------------------------------------------------------------------------


def _local_tiny(weights_dir: Path) -> Path:
    folder = weights_dir / NAME
    save_tiny(folder)
    return folder


def test_truncated_safetensors(tiny_registered: CheckpointSpec, weights_dir: Path) -> None:
    folder = _local_tiny(weights_dir)
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError) as info:
        load_model(NAME)
    message = str(info.value)
    assert "'tiny'" in message and str(path) in message
    assert "corrupt or truncated" in message and "re-download" in message


@pytest.mark.parametrize("content", [b"", b"not a safetensors file at all", b"\xff" * 64])
def test_garbage_safetensors(tiny_registered: CheckpointSpec, weights_dir: Path, content: bytes) -> None:
    folder = _local_tiny(weights_dir)
    (folder / "model.safetensors").write_bytes(content)
    with pytest.raises(CheckpointError, match=r"'tiny'.*model\.safetensors.*corrupt or truncated"):
        load_model(NAME)


def _rewrite_state(folder: Path, edit: "callable") -> None:
    path = folder / "model.safetensors"
    state = load_file(str(path))
    edit(state)
    save_file(state, str(path))


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda s: s.pop("head.bias"), "head.bias"),
        (lambda s: s.__setitem__("head.extra", torch.zeros(2)), "head.extra"),
        (lambda s: s.__setitem__("head.weight", torch.zeros(3, 5)), "head.weight"),
    ],
    ids=["missing-key", "extra-key", "shape-mismatch"],
)
def test_state_dict_mismatch(tiny_registered: CheckpointSpec, weights_dir: Path, edit: "callable", needle: str) -> None:
    folder = _local_tiny(weights_dir)
    _rewrite_state(folder, edit)
    with pytest.raises(CheckpointError) as info:
        load_model(NAME)
    message = str(info.value)
    assert "'tiny'" in message and "model.safetensors" in message
    assert needle in message and "does not match its config.json" in message


def test_config_for_a_different_size(tiny_registered: CheckpointSpec, weights_dir: Path) -> None:
    """config.json says 8 channels, the weights have 4: a shape error naming the file."""
    folder = _local_tiny(weights_dir)
    config = json.loads((folder / "config.json").read_text())
    config["model_args"]["channels"] = 8
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"does not match its config\.json.*size mismatch"):
        load_model(NAME)


@pytest.mark.parametrize("field", ["family", "task", "model_args"])
def test_config_missing_field(tiny_registered: CheckpointSpec, weights_dir: Path, field: str) -> None:
    folder = _local_tiny(weights_dir)
    config = json.loads((folder / "config.json").read_text())
    del config[field]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as info:
        load_model(NAME)
    message = str(info.value)
    assert "'tiny'" in message and "config.json" in message and repr(field) in message
    assert "retrain" in message


def test_config_not_json(tiny_registered: CheckpointSpec, weights_dir: Path) -> None:
    folder = _local_tiny(weights_dir)
    (folder / "config.json").write_text("{family: tiny")
    with pytest.raises(CheckpointError, match=r"'tiny'.*cannot read .*config\.json"):
        load_model(NAME)


def test_unknown_checkpoint_name_lists_valid_names() -> None:
    with pytest.raises(CheckpointError) as info:
        load_model("bisnet")
    message = str(info.value)
    assert "'bisnet'" in message and "bisenet" in message and "pipnet" in message


def test_unknown_family_lists_valid_families(tiny_registered: CheckpointSpec, weights_dir: Path) -> None:
    folder = _local_tiny(weights_dir)
    config = json.loads((folder / "config.json").read_text())
    config["family"] = "resnet9000"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as info:
        load_model(NAME)
    message = str(info.value)
    assert "'resnet9000'" in message and "bisenet" in message and FAMILY in message


def test_save_pretrained_rejects_non_json_args(tmp_path: Path) -> None:
    config = tiny_config()
    config["model_args"] = {"channels": torch.tensor(4)}
    with pytest.raises(TypeError):
        save_pretrained(make_tiny(), config, tmp_path / "bad")
    assert not (tmp_path / "bad" / "model.safetensors").exists()


def test_save_pretrained_writes_fp16_and_card(tmp_path: Path) -> None:
    save_pretrained(make_tiny(), tiny_config(), tmp_path / "ckpt", card=CARD)
    state = load_file(str(tmp_path / "ckpt" / "model.safetensors"))
    assert state["conv.weight"].dtype == torch.float16
    assert state["index"].dtype == torch.int64 and state["norm.num_batches_tracked"].dtype == torch.int64
    card = (tmp_path / "ckpt" / "README.md").read_text()
    assert card.startswith("---\n") and "| f1 | 0.5 |" in card and "## Licence" in card
    save_pretrained(make_tiny(), tiny_config(), tmp_path / "fp32", half=False)
    assert load_file(str(tmp_path / "fp32" / "model.safetensors"))["conv.weight"].dtype == torch.float32


# --- every family round-trips -------------------------------------------------------------------


def _family_or_skip(family: str) -> type[torch.nn.Module]:
    return family_class(family)


@pytest.mark.parametrize("family", sorted(name for name, family in FAMILIES.items() if family.target))  # not composed ones
def test_every_family_round_trips(family: str, tmp_path: Path) -> None:
    """Default constructor, save_pretrained (fp16), strict load: equal to the fp16-rounded original."""
    cls = _family_or_skip(family)
    torch.manual_seed(0)
    model = cls()
    config = {"family": family, "task": "test", "model_args": {}}
    folder = save_pretrained(model, config, tmp_path / family)
    fresh = build_model(family, {})
    load_state_dict_strict(fresh, folder / hub_module.WEIGHTS_NAME, family)
    assert_fp16_equal(fresh, model)
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(fresh.state_dict()[key], value, rtol=1e-3, atol=1e-4, msg=key)


@pytest.mark.parametrize(
    "model_args",
    [{"channels": 4, "classes": 3, "dropout": 0.1}, ["channels", 4], {"channels": "four"}],
    ids=["unexpected-argument", "not-a-dict", "wrong-type"],
)
def test_model_args_that_do_not_fit_the_constructor(
    tiny_registered: CheckpointSpec, weights_dir: Path, model_args: object
) -> None:
    folder = _local_tiny(weights_dir)
    config = json.loads((folder / "config.json").read_text())
    config["model_args"] = model_args
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"'tiny'.*cannot build family 'tiny_test'.*config\.json.*retrain"):
        load_model(NAME)


def test_family_whose_module_is_missing(
    tiny_registered: CheckpointSpec, weights_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _local_tiny(weights_dir)
    monkeypatch.setitem(FAMILIES, FAMILY, Family("tests.no_such_module:TinyNet", "parsing"))
    with pytest.raises(CheckpointError, match=r"'tiny'.*ModuleNotFoundError.*no_such_module"):
        load_model(NAME)
