"""Training losses of the portrait editor (the seed paper's objective).

Images are (B, 3, H, W) in [-1, 1]; discriminator outputs are the lists
``TwoScaleDiscriminator`` returns: one ``(logits, features)`` per scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DiscOut = list[tuple[torch.Tensor, list[torch.Tensor]]]


def local_reconstruction(decoded: dict[str, torch.Tensor], crops: dict[str, torch.Tensor], weight: float = 10.0) -> torch.Tensor:
    """λ · mean over components of the L2 between each local decoder's output and its input crop."""
    losses = [F.mse_loss(decoded[name], crops[name]) for name in decoded]
    return weight * torch.stack(losses).mean()


def global_reconstruction(output: torch.Tensor, target: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """L1 between the generated and the real image, on paired samples (source = target)."""
    return weight * F.l1_loss(output, target)


def d_hinge(real: DiscOut, fake: DiscOut) -> torch.Tensor:
    """Discriminator hinge loss summed over scales; ``fake`` must come from detached images."""
    return sum(F.relu(1 - r).mean() + F.relu(1 + f).mean() for (r, _), (f, _) in zip(real, fake))


def g_hinge(fake: DiscOut) -> torch.Tensor:
    """Generator hinge loss summed over scales."""
    return sum(-f.mean() for f, _ in fake)


def feature_matching(real: DiscOut, fake: DiscOut, weight: float = 10.0, samples: torch.Tensor | None = None) -> torch.Tensor:
    """λ · L1 between discriminator features of real and generated images (real detached), averaged.

    ``samples`` (B,) float weights the batch items (e.g. 1 for paired samples only); None = all.
    """
    terms = []
    for (_, real_features), (_, fake_features) in zip(real, fake):
        for r, f in zip(real_features, fake_features):
            per_sample = (f - r.detach()).abs().flatten(1).mean(1)
            if samples is None:
                terms.append(per_sample.mean())
            else:
                terms.append((per_sample * samples).sum() / samples.sum().clamp(min=1.0))
    return weight * torch.stack(terms).mean()


def grouped_log_probs(logits: torch.Tensor, groups: Sequence[Sequence[int]]) -> torch.Tensor:
    """(B, K, H, W) parser logits -> (B, G, H, W) log-probabilities of class groups (logsumexp within each)."""
    log_p = F.log_softmax(logits, 1)
    return torch.stack([torch.logsumexp(log_p[:, list(g)], 1) for g in groups], 1)


def parsing_loss(
    parser: Callable[[torch.Tensor], torch.Tensor],
    output: torch.Tensor,
    target_labels: torch.Tensor,
    groups: Sequence[Sequence[int]],
    weight: float = 1.0,
) -> torch.Tensor:
    """Cross-entropy between a frozen parser's reading of ``output`` and the target mask.

    ``parser`` maps (B, 3, H, W) images in [-1, 1] to (B, K, h, w) logits over
    its own label set; ``groups[c]`` lists the parser classes that make editor
    class ``c``; ``target_labels`` (B, H, W) long editor classes (255 ignored).
    """
    logits = parser(output)
    if logits.shape[-2:] != target_labels.shape[-2:]:
        logits = F.interpolate(logits, size=target_labels.shape[-2:], mode="bilinear", align_corners=False)
    return weight * F.nll_loss(grouped_log_probs(logits, groups), target_labels, ignore_index=255)


class ParserCritic(torch.nn.Module):
    """A frozen face parser seen through the editor's crop frame.

    The editor's and the parser's crops are both five-point template crops
    (``CropSpec``) of the same face, so one fixed similarity maps one onto the
    other: images are resampled into the parser's frame (size, zoom, shift) and
    normalised with its mean/std; labels are resampled the same way (nearest,
    255 outside). ``groups[c]`` lists the parser classes of editor class ``c``.
    """

    def __init__(self, parser: torch.nn.Module, config: dict, editor_crop: dict, groups: Sequence[Sequence[int]]):
        super().__init__()
        self.parser = parser.eval().requires_grad_(False)
        self.size = int(config["input_size"])
        crop = config.get("crop", {})
        scale = float(editor_crop["zoom"]) / float(crop.get("zoom", 1.0))
        shift = 2 * float(editor_crop["shift_y"]) - 2 * float(crop.get("shift_y", 0.0)) * scale
        self.register_buffer("theta", torch.tensor([[scale, 0.0, 0.0], [0.0, scale, shift]]), persistent=False)
        self.register_buffer("mean", torch.tensor(config.get("mean", [0.5] * 3)).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.get("std", [0.5] * 3)).view(1, 3, 1, 1), persistent=False)
        self.groups = [list(g) for g in groups]

    def _grid(self, batch: int) -> torch.Tensor:
        return F.affine_grid(self.theta.expand(batch, 2, 3), [batch, 1, self.size, self.size], align_corners=False)

    def forward(self, image: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the parser on ``image`` (B, 3, R, R) in [-1, 1] against ``labels`` (B, R, R) long."""
        grid = self._grid(image.shape[0])
        x = F.grid_sample((image + 1) / 2, grid, mode="bilinear", padding_mode="border", align_corners=False)
        logits = self.parser((x - self.mean) / self.std)
        if isinstance(logits, (list, tuple)):
            logits = logits[0]
        lab = F.grid_sample(labels[:, None].float() + 1, grid, mode="nearest", padding_mode="zeros", align_corners=False)
        lab = lab[:, 0].long() - 1
        lab[lab < 0] = 255
        return F.nll_loss(grouped_log_probs(logits, self.groups), lab, ignore_index=255)


def load_parser_critic(spec: str, editor_crop: dict) -> tuple[ParserCritic, Path] | None:
    """A frozen parser from a checkpoint folder or name and the folder it came from; None for ``none`` or on failure
    (training goes on without the parsing loss, and says so)."""
    if spec == "none":
        return None
    from facehub.editing.masks import EDIT_LABELS, to_edit_labels
    from facehub.hub import load_folder, resolve_checkpoint

    try:
        folder = Path(spec) if Path(spec).is_dir() else resolve_checkpoint(spec)
        loaded = load_folder(folder, spec)
        model, config = loaded.model, loaded.config
    except Exception as error:  # noqa: BLE001 - training goes on without the critic
        print(f"[train_editor] no parser critic ({type(error).__name__}: {error}); parsing loss off", flush=True)
        return None
    labels = config.get("labels", [])
    mapped = to_edit_labels(np.arange(len(labels)), labels)
    groups = [[i for i in range(len(labels)) if mapped[i] == c] for c in range(len(EDIT_LABELS))]
    print(f"[train_editor] parser critic from {folder}", flush=True)
    return ParserCritic(model.float(), config, editor_crop, groups), folder
