"""The one weights helper.

Resolution order for a named checkpoint (see ``registry.py``):

1. ``weights/<name>/`` in the repository (or ``$FACEHUB_WEIGHTS/<name>/``); a checkout or an editable
   install (``pip install -e .``) finds the repository's ``weights/``, a non-editable ``pip install .`` has no
   repository beside it: point ``$FACEHUB_WEIGHTS`` at a ``weights/`` folder or it goes on to the Hub;
2. the local Hugging Face cache (no network);
3. ``hf_hub_download(repo_id, revision=...)`` (honours ``HF_ENDPOINT`` and
   ``HF_HUB_OFFLINE``).

A checkpoint is a folder with ``config.json`` (family, task, labels,
input size, normalisation, ``model_args``), ``model.safetensors`` (the state
dict, loaded strictly) and ``README.md`` (the model card). No pickle is read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from facehub.errors import CheckpointError
from facehub.registry import FAMILIES, CheckpointSpec, build_model, get_spec

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
REPO_ROOT = Path(__file__).resolve().parent.parent


def weights_root() -> Path:
    """Folder of shipped checkpoints: ``$FACEHUB_WEIGHTS`` or ``<repo>/weights``."""
    return Path(os.environ.get("FACEHUB_WEIGHTS", REPO_ROOT / "weights"))


def _fix_hint(spec: CheckpointSpec) -> str:
    return (
        f"Fetch it with `hf download {spec.repo_id} --revision {spec.revision} "
        f"--local-dir weights/{spec.name}` (online), or train it with the script under scripts/ "
        f"(see weights/README.md); outside the repository set $FACEHUB_WEIGHTS to that weights/ folder."
    )


def _download(spec: CheckpointSpec, filename: str, local_only: bool) -> Path:
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(
        spec.repo_id, filename, revision=spec.revision, local_files_only=local_only
    )
    return Path(path)


def resolve_checkpoint(name: str) -> Path:
    """Return a local folder holding ``config.json`` and ``model.safetensors`` of ``name``.

    Raises ``CheckpointError`` naming the checkpoint, its repo id and the fix
    when it is neither shipped, cached nor downloadable.
    """
    spec = get_spec(name)
    local = weights_root() / name
    composed = not FAMILIES[spec.family].target  # built from other checkpoints: config.json only
    if (local / CONFIG_NAME).is_file() and (composed or (local / WEIGHTS_NAME).is_file()):
        return local
    errors: list[str] = []
    for local_only in (True, False):
        try:
            config = _download(spec, CONFIG_NAME, local_only)
            weights = config if composed else _download(spec, WEIGHTS_NAME, local_only)
        except Exception as error:  # huggingface_hub raises many types (offline, 404, timeout)
            errors.append(f"{type(error).__name__}: {error}".splitlines()[0])
            continue
        if config.parent != weights.parent:
            raise CheckpointError(f"Checkpoint {name!r}: config and weights resolved to different folders.")
        return config.parent
    raise CheckpointError(
        f"Checkpoint {name!r} is not in {local}/ and could not be fetched from the Hub repo "
        f"{spec.repo_id!r} (revision {spec.revision!r}): {errors[-1].rstrip('.')}. {_fix_hint(spec)}"
    )


def read_config(folder: Path, name: str = "") -> dict:
    """Read and validate ``folder/config.json``."""
    path = folder / CONFIG_NAME
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"Checkpoint {name!r}: cannot read {path}: {error}. Re-download or retrain it.") from None
    missing = [key for key in ("family", "task", "model_args") if key not in config]
    if missing:
        raise CheckpointError(f"Checkpoint {name!r}: {path} lacks {missing}. Re-download or retrain it.")
    return config


def load_state_dict_strict(model: torch.nn.Module, path: Path, name: str = "") -> None:
    """Load ``path`` into ``model``; any missing, extra or mis-shaped key is an error naming the file."""
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"Checkpoint {name!r}: {path} is corrupt or truncated ({error}). Delete it and re-download or retrain it."
        ) from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        detail = " ".join(str(error).split())[:600]
        raise CheckpointError(
            f"Checkpoint {name!r}: {path} does not match its config.json ({detail}). "
            "Re-download the checkpoint or retrain it with the matching script."
        ) from None


@dataclass
class LoadedModel:
    """A model in eval mode on its device, with the config it was built from."""

    name: str
    model: torch.nn.Module
    config: dict
    folder: Path


def load_model(name: str, device: torch.device | str = "cpu") -> LoadedModel:
    """Resolve, build and strictly load checkpoint ``name``; return it in eval mode on ``device``."""
    return load_folder(resolve_checkpoint(name), name, device)


def load_folder(folder: Path | str, name: str = "", device: torch.device | str = "cpu") -> LoadedModel:
    """Build and strictly load the checkpoint in ``folder`` (config.json + model.safetensors, e.g. a run's
    ``best/``); errors name it ``name`` (default: the folder). Returns it in eval mode on ``device``."""
    folder = Path(folder)
    name = name or str(folder)
    config = read_config(folder, name)
    try:
        model = build_model(config["family"], config["model_args"])
    except CheckpointError:
        raise
    except (TypeError, ValueError, ImportError) as error:  # bad model_args, or the family's module is missing
        raise CheckpointError(
            f"Checkpoint {name!r}: cannot build family {config['family']!r} with the model_args of "
            f"{folder / CONFIG_NAME} ({type(error).__name__}: {error}). "
            "Re-download the checkpoint or retrain it with the matching script."
        ) from error
    load_state_dict_strict(model, folder / WEIGHTS_NAME, name)
    model.eval().to(device)
    return LoadedModel(name=name, model=model, config=config, folder=folder)


@dataclass
class ModelCard:
    """What a model card says; rendered to ``README.md`` with Hub front matter."""

    title: str
    summary: str
    data: str
    training: str
    metrics: dict[str, float | str] = field(default_factory=dict)
    extra: str = ""
    license: str = "other"
    license_note: str = "Trained on research-only data: non-commercial research use only."
    tags: list[str] = field(default_factory=list)

    def render(self) -> str:
        tags = "\n".join(f"- {tag}" for tag in ["facehub", "pytorch", "safetensors", *self.tags])
        metric_rows = "\n".join(f"| {key} | {value} |" for key, value in self.metrics.items())
        metrics = f"| metric | value |\n|---|---|\n{metric_rows}\n" if metric_rows else "Not measured.\n"
        return (
            f"---\nlicense: {self.license}\nlibrary_name: facehub\ntags:\n{tags}\n---\n\n"
            f"# {self.title}\n\n{self.summary}\n\n## Licence\n\n{self.license_note}\n\n"
            f"## Data\n\n{self.data}\n\n## Training\n\n{self.training}\n\n## Metrics\n\n{metrics}\n{self.extra}\n"
        )


def save_pretrained(
    model: torch.nn.Module, config: dict, folder: Path | str, card: ModelCard | None = None, half: bool = True
) -> Path:
    """Write ``config.json``, ``model.safetensors`` (fp16 floats when ``half``) and the model card.

    ``config`` must hold ``family``, ``task`` and ``model_args`` (JSON-plain).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    json.loads(json.dumps(config))  # fails early on non-JSON values
    state = {}
    for key, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        if half and tensor.is_floating_point():
            tensor = tensor.half()
        state[key] = tensor.clone()
    save_file(state, str(folder / WEIGHTS_NAME), metadata={"format": "pt", "family": config["family"]})
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    if card is not None:
        (folder / CARD_NAME).write_text(card.render())
    return folder


def push_to_hub(folder: Path | str, repo_id: str, token: str | None = None, private: bool = False) -> str:
    """Create ``repo_id`` (if needed) and upload the checkpoint folder; return the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id, folder_path=str(folder), commit_message="Upload FaceHub checkpoint"
    )
    return str(info)
