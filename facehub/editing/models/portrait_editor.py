"""Mask-guided portrait editor (after Gu et al., "Mask-Guided Portrait Editing with Conditional GANs", CVPR 2019).

Three sub-networks, every size scaled from the paper's 256-px setting to ``resolution``:

* **Local Embedding**: one encoder (and, for the local reconstruction loss, one
  decoder) per component -- left eye, right eye, mouth, face skin, hair -- on
  fixed-size crops (eyes 48x32, mouth 144x80, face and hair the whole frame at
  256 px). Each encoder downsamples by ``4`` to ``embed_channels`` features.
* **Mask-Guided Generative**: E_m encodes the target mask (one-hot, /4); the
  five embeddings are placed into a zero tensor at the target mask's component
  positions (eyes and mouth: the crop's feature tile centred on the target
  component's centre; face and hair: the whole frame, gated by the target's
  component mask); concatenation; G_m (residual blocks) makes foreground features.
* **Background Fusing**: E_b encodes the target with face and hair removed;
  G_b decodes [G_m features, E_b features] to the image (tanh, [-1, 1]).

Images are (B, 3, R, R) in [-1, 1]; masks (B, C, R, R) one-hot float over
EDIT_LABELS; centres (B, 5, 2) pixel (x, y). The training-only discriminators
live in ``facehub/train/editing/discriminators.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

COMPONENTS: tuple[str, ...] = ("left_eye", "right_eye", "mouth", "face", "hair")
FRAME_COMPONENTS = ("face", "hair")  # encoded from the whole (masked) frame
# the paper's crop sizes at 256 px, (height, width)
PAPER_SIZES = {"left_eye": (32, 48), "right_eye": (32, 48), "mouth": (80, 144)}
DOWN = 4


def crop_sizes(resolution: int) -> dict[str, tuple[int, int]]:
    """(height, width) of each component crop at ``resolution``, multiples of 4."""
    def scaled(v: int) -> int:
        return max(DOWN, int(round(v * resolution / 256 / DOWN)) * DOWN)

    sizes = {name: (scaled(h), scaled(w)) for name, (h, w) in PAPER_SIZES.items()}
    sizes.update({name: (resolution, resolution) for name in FRAME_COMPONENTS})
    return sizes


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    kernel = 4 if stride == 2 else 3
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, 1), _norm(cout), nn.ReLU(inplace=True))


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), _conv(cin, cout))


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a skip; (B, C, H, W) -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1), _norm(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1), _norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def encoder(cin: int, width: int, cout: int) -> nn.Sequential:
    """(B, cin, H, W) -> (B, cout, H/4, W/4)."""
    return nn.Sequential(_conv(cin, width), _conv(width, width * 2, 2), _conv(width * 2, cout, 2))


def decoder(cin: int, width: int, cout: int = 3, n_res: int = 0) -> nn.Sequential:
    """(B, cin, h, w) -> (B, cout, 4h, 4w) in [-1, 1]."""
    return nn.Sequential(
        _conv(cin, width * 2), *[ResBlock(width * 2) for _ in range(n_res)],
        _up(width * 2, width), _up(width, width), nn.Conv2d(width, cout, 3, 1, 1), nn.Tanh(),
    )


def place_embeddings(
    embeddings: dict[str, torch.Tensor], centres: torch.Tensor, gates: torch.Tensor, size: int
) -> torch.Tensor:
    """Sum the component embeddings into a zero tensor (B, E, size, size) at the target's positions.

    ``embeddings[name]``: (B, E, h, w) at /4 of its crop; ``centres``: (B, 5, 2)
    (x, y) in /4 feature pixels, in COMPONENTS order; ``gates``: (B, 5, size,
    size) in [0, 1], the target's component masks at /4 (used for face and hair,
    whose embeddings cover the whole frame). Tiles are clipped at the border.
    """
    first = next(iter(embeddings.values()))
    canvas = first.new_zeros(first.shape[0], first.shape[1], size, size)
    for k, name in enumerate(COMPONENTS):
        emb = embeddings[name]
        if name in FRAME_COMPONENTS:
            canvas = canvas + emb * gates[:, k : k + 1]
            continue
        h, w = emb.shape[-2:]
        tiles = []
        for b in range(emb.shape[0]):
            x0 = int(torch.round(centres[b, k, 0] - w / 2).item())
            y0 = int(torch.round(centres[b, k, 1] - h / 2).item())
            left, top = max(0, -x0), max(0, -y0)
            right, bottom = max(0, x0 + w - size), max(0, y0 + h - size)
            tile = emb[b, :, top : h - bottom, left : w - right]
            pad = (max(0, x0), max(0, size - x0 - w), max(0, y0), max(0, size - y0 - h))
            if tile.numel() == 0:
                tiles.append(emb.new_zeros(emb.shape[1], size, size))
                continue
            tiles.append(F.pad(tile, pad))
        canvas = canvas + torch.stack(tiles)
    return canvas


def crop_components(image: torch.Tensor, masks: torch.Tensor, centres: torch.Tensor, resolution: int) -> dict[str, torch.Tensor]:
    """Cut each component's fixed-size crop from ``image`` (B, 3, R, R).

    ``masks``: (B, 5, R, R) component masks in COMPONENTS order (face and hair
    crops are the frame times their mask); ``centres``: (B, 5, 2) pixel (x, y).
    Returns {name: (B, 3, h, w)}; outside the image is zero.
    """
    sizes = crop_sizes(resolution)
    crops: dict[str, torch.Tensor] = {}
    for k, name in enumerate(COMPONENTS):
        if name in FRAME_COMPONENTS:
            crops[name] = image * masks[:, k : k + 1]
            continue
        h, w = sizes[name]
        padded = F.pad(image, (w, w, h, h))
        out = []
        for b in range(image.shape[0]):
            x0 = int(torch.round(centres[b, k, 0] - w / 2).item()) + w
            y0 = int(torch.round(centres[b, k, 1] - h / 2).item()) + h
            x0 = min(max(x0, 0), padded.shape[-1] - w)
            y0 = min(max(y0, 0), padded.shape[-2] - h)
            out.append(padded[b, :, y0 : y0 + h, x0 : x0 + w])
        crops[name] = torch.stack(out)
    return crops


@dataclass
class EditorOutput:
    """image: (B, 3, R, R) in [-1, 1]; decoded: {component: (B, 3, h, w)} local reconstructions."""

    image: torch.Tensor
    decoded: dict[str, torch.Tensor]


class PortraitEditor(nn.Module):
    """Local embedding + mask-guided generator + background fusing (see module docstring)."""

    def __init__(
        self,
        resolution: int = 128,
        num_classes: int = 11,
        width: int = 16,
        embed_channels: int = 32,
        mask_channels: int = 32,
        n_res: int = 3,
        with_decoders: bool = True,
    ):
        super().__init__()
        if resolution % 16:
            raise ValueError(f"resolution must be a multiple of 16; got {resolution}.")
        self.resolution, self.num_classes = resolution, num_classes
        self.sizes = crop_sizes(resolution)
        self.encoders = nn.ModuleDict({name: encoder(3, width, embed_channels) for name in COMPONENTS})
        self.decoders = nn.ModuleDict(
            {name: decoder(embed_channels, width) for name in COMPONENTS} if with_decoders else {}
        )
        self.mask_encoder = encoder(num_classes, width, mask_channels)
        feat = width * 4
        self.generator = nn.Sequential(_conv(embed_channels + mask_channels, feat), *[ResBlock(feat) for _ in range(n_res)])
        self.background_encoder = encoder(3 + 1, width, mask_channels)
        self.background_decoder = decoder(feat + mask_channels, width * 2, 3, n_res=1)

    def embed(self, crops: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """{name: (B, 3, h, w)} -> {name: (B, E, h/4, w/4)}."""
        return {name: self.encoders[name](crops[name]) for name in COMPONENTS}

    @staticmethod
    def fill_beyond_source(embedding: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        """(B, E, h, w) frame embedding, (B, 1, h, w) source mask at /4 in [0, 1] -> the embedding inside the
        mask and its masked mean outside (zero where the source has none of the component)."""
        mean = (embedding * gate).sum((-2, -1), keepdim=True) / gate.sum((-2, -1), keepdim=True).clamp(min=1e-6)
        return embedding * gate + mean * (1 - gate)

    def forward(
        self,
        crops: dict[str, torch.Tensor],
        target_mask: torch.Tensor,
        centres: torch.Tensor,
        background: torch.Tensor,
        keep: torch.Tensor,
        frame_masks: torch.Tensor | None = None,
    ) -> EditorOutput:
        """Render the target mask with the source crops over the target's background.

        crops: {component: (B, 3, h, w)} in [-1, 1]; target_mask: (B, C, R, R)
        one-hot; centres: (B, 5, 2) target component centres in pixels;
        background: (B, 3, R, R) target with the edited area zeroed; keep: (B, 1,
        R, R) 1 where the background is valid; frame_masks: (B, 2, R, R) the masks
        the face and hair crops were cut with (None: no fill beyond them).
        """
        embeddings = self.embed(crops)
        size = self.resolution // DOWN
        gates = F.avg_pool2d(component_masks(target_mask), DOWN)
        placed_from = dict(embeddings)
        if frame_masks is not None:
            frame_gates = F.avg_pool2d(frame_masks, DOWN)
            for k, name in enumerate(FRAME_COMPONENTS):
                placed_from[name] = self.fill_beyond_source(embeddings[name], frame_gates[:, k : k + 1])
        placed = place_embeddings(placed_from, centres / DOWN, gates, size)
        features = self.generator(torch.cat([placed, self.mask_encoder(target_mask)], 1))
        back = self.background_encoder(torch.cat([background, keep], 1))
        image = self.background_decoder(torch.cat([features, back], 1))
        decoded = {name: self.decoders[name](emb) for name, emb in embeddings.items()} if len(self.decoders) else {}
        return EditorOutput(image=image, decoded=decoded)


# EDIT_LABELS indices of each component (see facehub/editing/masks.py)
COMPONENT_CLASSES: dict[str, tuple[int, ...]] = {
    "left_eye": (4,), "right_eye": (5,), "mouth": (7, 8, 9), "face": (1, 2, 3, 6), "hair": (10,),
}


def component_masks(one_hot: torch.Tensor) -> torch.Tensor:
    """(B, C, R, R) one-hot EDIT_LABELS -> (B, 5, R, R) component masks in COMPONENTS order.

    Eyes are split by image side (image-left eye = ``left_eye`` slot) so that any
    left/right naming convention of the parser gives the same slots.
    """
    eyes = one_hot[:, 4] + one_hot[:, 5]
    half = one_hot.shape[-1] // 2
    left = torch.zeros_like(eyes)
    left[..., :half] = eyes[..., :half]
    masks = [left, eyes - left]
    for name in COMPONENTS[2:]:
        masks.append(one_hot[:, list(COMPONENT_CLASSES[name])].sum(1))
    return torch.stack(masks, 1)


def component_centres(masks: torch.Tensor) -> torch.Tensor:
    """(B, 5, R, R) component masks -> (B, 5, 2) centroid (x, y) in pixels; the frame centre when empty."""
    b, k, h, w = masks.shape
    ys = torch.arange(h, dtype=masks.dtype, device=masks.device).view(1, 1, h, 1)
    xs = torch.arange(w, dtype=masks.dtype, device=masks.device).view(1, 1, 1, w)
    area = masks.sum((-2, -1))
    safe = area.clamp(min=1e-6)
    cx = (masks * xs).sum((-2, -1)) / safe
    cy = (masks * ys).sum((-2, -1)) / safe
    empty = area < 1
    cx = torch.where(empty, torch.full_like(cx, (w - 1) / 2), cx)
    cy = torch.where(empty, torch.full_like(cy, (h - 1) / 2), cy)
    return torch.stack([cx, cy], -1)


@dataclass
class EditorInputs:
    """What ``PortraitEditor.forward`` takes (see there); ``edit``: (B, 1, R, R) 1 where the output may change."""

    crops: dict[str, torch.Tensor]
    target_mask: torch.Tensor
    centres: torch.Tensor
    background: torch.Tensor
    keep: torch.Tensor
    edit: torch.Tensor
    frame_masks: torch.Tensor  # (B, 2, R, R): the masks the face and hair crops were cut with

    def as_kwargs(self) -> dict:
        return {"crops": self.crops, "target_mask": self.target_mask, "centres": self.centres,
                "background": self.background, "keep": self.keep, "frame_masks": self.frame_masks}


def make_inputs(
    source: torch.Tensor,
    source_mask: torch.Tensor,
    target: torch.Tensor,
    target_mask: torch.Tensor,
    swap: torch.Tensor,
    original_mask: torch.Tensor | None = None,
) -> EditorInputs:
    """Build the generator's inputs.

    source/target: (B, 3, R, R) in [-1, 1]; source_mask/target_mask: (B, C, R, R)
    one-hot (target_mask is the layout to render, e.g. a painted one);
    swap: (B, 5) bool, components taken from the source (the rest from the
    target); original_mask: the target's own parsing when it differs from
    ``target_mask``. The face and hair of both target masks (dilated by one
    pixel) are removed from the background.
    """
    resolution = source.shape[-1]
    src_masks, tgt_masks = component_masks(source_mask), component_masks(target_mask)
    src_crops = crop_components(source, src_masks, component_centres(src_masks), resolution)
    own_masks = tgt_masks if original_mask is None else component_masks(original_mask)
    tgt_crops = crop_components(target, own_masks, component_centres(own_masks), resolution)
    crops = {
        name: torch.where(swap[:, k].view(-1, 1, 1, 1), src_crops[name], tgt_crops[name])
        for k, name in enumerate(COMPONENTS)
    }
    frame = [COMPONENTS.index(name) for name in FRAME_COMPONENTS]
    frame_masks = torch.where(swap[:, frame].view(-1, len(frame), 1, 1), src_masks[:, frame], own_masks[:, frame])
    edit = tgt_masks.sum(1, keepdim=True) + own_masks.sum(1, keepdim=True)
    edit = F.max_pool2d(edit.clamp(0, 1), 3, 1, 1)
    keep = 1 - edit
    return EditorInputs(crops, target_mask, component_centres(tgt_masks), target * keep, keep, edit, frame_masks)

