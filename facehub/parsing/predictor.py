"""Face parsing: every face in a photo segmented into parts and pasted back at the photo's size.

```python
parser = facehub.load("bisenet")            # or "face-transformer"
result = parser(image)                      # ParsingResult; parser(image, faces=boxes_or_points) skips detection
result.class_map                            # (H, W) uint8 indices into result.labels
result.overlay(alpha=0.5, classes=["skin", "hair"]).save("overlay.png")
```

Pipeline: the detector (5 points; or the caller's ``faces``) -> aligned crop (the checkpoint's ``CropSpec``) ->
model -> softmax on half the crop's grid (BiSeNet's stride-4 ``coarse_logits`` upsampled 2x) -> probabilities pasted
back as ``facehub.geometry.align.paste_back`` would (``paste_claim``)
inside each crop's window -> per pixel, the most confident non-background class
over all faces competes with the least confident background among the faces
whose crop covers the pixel; uncovered pixels are background (``composite``).
With a fade band (the checkpoint's ``config["fade_band"]``, or ``parser.fade_band = FADE_BAND``) each face's
claim fades to background toward its crop's border: where two faces' crops overlap the surer claim wins, and a class
the crop is unsure of near its edge fades out before it. A class the crop is sure of right up to its edge (cloth or a
neck running on below the crop, big hair) still ends in a line parallel to the edge, where its faded claim falls
under the background's (half-way into the band: about 5 of 176 grid px in for ``FADE_BAND``): the fade moves that
straight edge inward, it cannot remove it, since nothing is known beyond the crop. Hair gets a wide context crop
(``config["context"]``) that carries it on; neck and cloth would need one too (about 40 ms more per face).
``config["class_bias"]`` (class name -> a number added to that class's logit before the softmax; a prior correction
for a class the model under-predicts, fitted on training images: see the checkpoint's card) shifts the balance.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
import torch

from facehub.geometry.align import crop_faces, invert_affine, paste_grid, rescale_matrices
from facehub.image import ImageInput
from facehub.nn.frozen import FrozenModule
from facehub.parsing.labels import label_set_for
from facehub.parsing.result import ParsingResult
from facehub.predictor import FacesInput, Predictor, face_points


FADE_BAND = 0.05  # a face's claim fades to 0 over the outer 5% of its crop's side (``FaceParser.fade_band``; 0.12 cut turned faces' ears)


class FaceParser(Predictor):
    """Detect -> align -> parse -> paste back. ``parser(image, faces=None) -> ParsingResult``."""

    task = "parsing"
    fade_band: float | None = None  # None: the checkpoint's config["fade_band"] (0 = off when it has none)

    def __init__(self, loaded, detector=None, device: torch.device | str | None = None):
        super().__init__(loaded, detector=detector, device=device)
        self.model.to(memory_format=torch.channels_last)  # see _softmax
        self._coarse_logits = FrozenModule(self.model, "coarse_logits") if hasattr(self.model, "coarse_logits") else None
        self.class_bias = class_logit_offsets(self.labels, self.config.get("class_bias"))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.config["labels"])

    @torch.inference_mode()
    def crop_probabilities(self, crops: torch.Tensor, batch: int = 8, coarse: bool = False) -> torch.Tensor:
        """Normalised crops (F, 3, s, s) -> class probabilities (F, C, s, s) in [0, 1]; with ``coarse`` on a coarser
        grid (F, C, r, r), r = s / 2 for BiSeNet (its stride-4 logits upsampled 2x before the softmax; a model without
        ``coarse_logits`` gives r = s); ``rescale_matrices`` maps a crop's matrix to it. What ``__call__`` pastes."""
        outputs = [self._probabilities(crops[i:i + batch].to(self.device), coarse).cpu() for i in range(0, len(crops), batch)]
        if outputs:
            return torch.cat(outputs)
        return torch.zeros(0, len(self.labels), *crops.shape[-2:])

    def _probabilities(self, crops: torch.Tensor, coarse: bool) -> torch.Tensor:
        """Softmax of the model; with ``config["tta_flip"]`` averaged with the mirrored crop's (classes swapped back)."""
        probs = self._softmax(crops, coarse)
        if self.config.get("tta_flip"):
            permutation = torch.as_tensor(label_set_for(self.labels).flip_permutation(), device=probs.device)
            mirrored = self._softmax(crops.flip(-1), coarse).flip(-1)[:, permutation]
            probs = 0.5 * (probs + mirrored)
        return probs

    def _softmax(self, crops: torch.Tensor, coarse: bool) -> torch.Tensor:
        """(B, 3, s, s) -> (B, C, s, s) class probabilities ((B, C, s/2, s/2) with ``coarse`` where the model has
        ``coarse_logits``: thin parts need the logits interpolated to half the crop, not the stride-4 grid). The
        model runs on channels-last tensors (the same numbers, about 20% faster convolutions on the CPU); the softmax
        runs after the copy back to contiguous NCHW (about 3x faster on the CPU than over the channels-last output's
        strided class axis)."""
        model = self._coarse_logits if coarse and self._coarse_logits is not None else self.forward
        logits = model(crops.contiguous(memory_format=torch.channels_last)).float()
        if coarse and logits.shape[-1] < crops.shape[-1] // 2:
            half = crops.shape[-1] // 2
            logits = torch.nn.functional.interpolate(logits, size=(half, half), mode="bilinear", align_corners=False)
        if self.class_bias is not None:
            logits = logits + self.class_bias.to(logits.device)
        return logits.contiguous().softmax(1)

    def context_faces(self, probs: torch.Tensor) -> list[int]:
        """Indices of the faces whose crop probabilities (F, C, r, r) reach the crop's border with one of
        ``config["context"]["classes"]`` (hair: big or long hair the crop cuts) on at least ``share`` of its outer
        ring (3% of its side): those get a wider crop around their own (``zoom`` times the crop's zoom); none when
        the config has no ``context``."""
        context = self.config.get("context")
        if not context or len(probs) == 0:
            return []
        shares = _ring_share(probs, self._context_classes(), max(1, round(0.03 * probs.shape[-1])))
        return [int(i) for i in torch.nonzero(shares >= float(context["share"])).flatten()]

    def _context_classes(self) -> list[int]:
        """Indices of ``config["context"]["classes"]``."""
        return [self.labels.index(name) for name in self.config["context"]["classes"]]

    def _context_pass(self, image: np.ndarray, faces: list, grid: int) -> tuple[torch.Tensor, np.ndarray]:
        """Probabilities (F, C, grid, grid) and matrices (photo -> that grid) of wider crops around ``faces``; every
        class but the background and the context classes folded into the background."""
        spec = replace(self.crop_spec, zoom=self.crop_spec.zoom * float(self.config["context"]["zoom"]))
        pixels, matrices = crop_faces(image, face_points(faces), spec)
        probs = self.crop_probabilities((pixels - self.mean) / self.std, coarse=True)
        others = torch.ones(probs.shape[1], dtype=torch.bool)
        others[[0, *self._context_classes()]] = False
        # the wide view adds only its context classes: small parts are the own crop's to give (a wide view's "ear"
        # on the background is not)
        probs = torch.cat([probs[:, :1] + probs[:, others].sum(1, keepdim=True), probs[:, 1:] * ~others[1:, None, None]], 1)
        return probs, rescale_matrices(matrices, spec.size, grid)

    def __call__(self, source: ImageInput, faces: FacesInput | None = None) -> ParsingResult:
        """Parse every face of ``source`` (or the given ``faces``: see ``facehub.predictor``)."""
        prepared = self.prepare(source, faces)
        image = prepared.image
        height, width = image.shape[:2]
        result = ParsingResult(image=image, faces=prepared.faces, class_map=np.zeros((height, width), np.uint8),
                               labels=self.labels, face_index=np.full((height, width), -1, np.int16),
                               matrices=prepared.matrices, model=self.name)
        if not prepared.faces:
            return result
        probs = self.crop_probabilities(prepared.crops, coarse=True)
        fade = float(self.config.get("fade_band", 0.0)) if self.fade_band is None else self.fade_band
        matrices = rescale_matrices(prepared.matrices, prepared.crops.shape[-1], probs.shape[-1])
        pasted, pasted_matrices, owners, holes = probs, matrices, list(range(len(probs))), [None] * len(probs)
        wide = self.context_faces(probs)
        if wide:  # the wide crops fill in around their faces' own crops
            wide_probs, wide_matrices = self._context_pass(image, [prepared.faces[i] for i in wide], probs.shape[-1])
            pasted, pasted_matrices = torch.cat([probs, wide_probs]), np.concatenate([matrices, wide_matrices])
            owners, holes = owners + wide, holes + [matrices[i] for i in wide]
        result.class_map, result.face_index = composite(pasted, pasted_matrices, (height, width), fade, owners, holes)
        for index in range(len(prepared.faces)):
            crop = prepared.pixels[index].permute(1, 2, 0).numpy()
            result.crop_images.append((crop * 255 + 0.5).astype(np.uint8))
            result.crop_probs.append(probs[index].numpy())
        return result


def _ring_share(probs: torch.Tensor, classes: list[int], width: int) -> torch.Tensor:
    """(F, C, r, r) probabilities -> (F,) share of the outer ``width``-pixel ring whose most likely class is one of
    ``classes``."""
    strips = [probs[..., :width, :], probs[..., -width:, :], probs[..., width:-width, :width], probs[..., width:-width, -width:]]
    label = torch.cat([strip.flatten(2) for strip in strips], 2).argmax(1)  # the ring alone: the map's argmax is ~6 ms
    return torch.isin(label, torch.tensor(classes)).float().mean(1)


def class_logit_offsets(labels: tuple[str, ...], biases: dict[str, float] | None) -> torch.Tensor | None:
    """``biases`` (class name -> logit offset) as a (1, C, 1, 1) tensor over ``labels``; None when empty. A name not
    in ``labels`` is a ``ValueError`` (a misspelt config key would otherwise change nothing, silently)."""
    if not biases:
        return None
    unknown = sorted(set(biases) - set(labels))
    if unknown:
        raise ValueError(f"class_bias names {unknown}, which are not among the parser's labels {list(labels)}.")
    values = torch.zeros(1, len(labels), 1, 1)
    for name, value in biases.items():
        values[0, labels.index(name)] = float(value)
    return values


def composite(probs: torch.Tensor, matrices: np.ndarray, image_size: tuple[int, int],
              fade_band: float = FADE_BAND, owners: list[int] | None = None,
              holes: list[np.ndarray | None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-face crop probabilities (F, C, s, s) in [0, 1] (class 0 = background) and matrices (F, 2, 3)
    image -> crop, pasted back into one (H, W) uint8 class map and its (H, W) int16 ``face_index`` (-1 = none).

    Each face's claim is its probabilities faded toward background near its crop's border:
    ``w * p + (1 - w) * [background]`` with ``w`` = ``crop_weight`` (1 inside, 0 at the edge). Per pixel, the
    face with the largest faded non-background probability gives the class; the pixel is background where
    that claim is below the least faded background among the faces whose crop covers the pixel (and
    wherever no crop does), so no class stops along a crop's edge at full strength. ``fade_band`` 0: each
    face claims its whole crop at full strength (a class may end along a crop's edge; checkpoints without a
    ``fade_band`` in their config run so, the shipped bisenet fades over 0.05).

    ``owners`` (one per crop; default ``range(F)``) is the face each crop parses, written to ``face_index``;
    ``holes`` (one per crop, or None) is the matrix of the owner's own crop (same grid size), which takes precedence:
    a face's wide context crop (``FaceParser.context_faces``) claims only outside the line half-way through its own
    crop's fade band, and that crop only inside it, both at full strength, so the wide view carries hair the own
    crop cut on past its border.
    """
    height, width = image_size
    class_map = np.zeros((height, width), np.uint8)
    face_index = np.full((height, width), -1, np.int16)
    if len(probs) == 0:
        return class_map, face_index
    size = probs.shape[-1]
    weight = crop_weight(size, fade_band)[None, None]
    fg_score = np.zeros((height, width), np.float32)
    bg_score = np.full((height, width), np.inf, np.float32)
    # a crop whose face has a context crop hands over to it half-way through its fade band, both at full strength
    # (two faded claims of one face would each lose to the background where they meet)
    owners = list(range(len(probs))) if owners is None else owners
    holes = [None] * len(probs) if holes is None else holes
    handed_over = {owners[i] for i, hole in enumerate(holes) if hole is not None}
    for index, matrix in enumerate(matrices):
        window = _crop_window(matrix, size, (height, width))
        if window is None:
            continue
        x0, y0, x1, y1 = window
        best, best_prob, background_prob, pasted_weight = paste_claim(probs[index], weight[0, 0], _in_window(matrix, x0, y0),
                                                                      (y1 - y0, x1 - x0))
        if index in handed_over:
            claim = (pasted_weight >= 0.5).astype(np.float32)  # the exact complement of its context crop's claim below
        else:
            claim = pasted_weight if fade_band > 0 else (pasted_weight > 0.5).astype(np.float32)
        if holes[index] is not None:  # full strength outside the face's own crop's hand-over line
            grid = paste_grid(_in_window(holes[index], x0, y0), (y1 - y0, x1 - x0), size)
            inner = torch.nn.functional.grid_sample(weight, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            claim = claim * (inner[0, 0].numpy() < 0.5)
        covered = claim > 0
        best_score = best_prob * claim
        background = background_prob * claim + (1 - claim)
        region = (slice(y0, y1), slice(x0, x1))
        wins = covered & (best_score > fg_score[region])
        fg_score[region] = np.where(wins, best_score, fg_score[region])
        class_map[region] = np.where(wins, best + 1, class_map[region])
        face_index[region] = np.where(wins, owners[index], face_index[region])
        bg_score[region] = np.where(covered, np.minimum(bg_score[region], background), bg_score[region])
    foreground = fg_score > bg_score
    return np.where(foreground, class_map, 0).astype(np.uint8), np.where(foreground, face_index, -1).astype(np.int16)


def _in_window(matrix: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """A photo -> crop matrix (2, 3) re-based to read window pixel coordinates (the window's top-left at ``x0, y0``)."""
    shifted = matrix.copy()
    shifted[:, 2] += matrix[:, :2] @ np.array([x0, y0], dtype=np.float64)
    return shifted


def paste_claim(probs: torch.Tensor, weight: torch.Tensor, matrix: np.ndarray, out_size: tuple[int, int]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One face's crop probabilities (C, s, s) in [0, 1] (class 0 = background) and crop weight (s, s), pasted
    into an (h, w) window by ``matrix`` (window -> crop) as ``paste_back`` would paste them (bilinear, zero
    outside the crop), reduced to what ``composite`` reads: the best foreground class (h, w) int (0 = class 1),
    its probability, the background's probability and the weight, each (h, w) float32.

    The same numbers as pasting all C channels and taking the argmax after, at a fraction of the cost: a
    bilinear sample whose four crop neighbours share their best foreground class has that class as its best
    too (a convex combination keeps the order), and its probability is the sample of the neighbours' best
    probability. So only three channels (best probability, background, weight) are pasted everywhere; the
    class comes from the neighbours, and all C channels are sampled only where the neighbours disagree. That
    work is done at the crop's size, so a window with fewer pixels than the crop pastes all C channels instead.
    """
    size = probs.shape[-1]
    grid = paste_grid(matrix, out_size, size)  # (1, h, w, 2) normalised crop coordinates
    if out_size[0] * out_size[1] <= size * size:
        # probabilities and weight pasted apart: a torch.cat of the two would copy the (C, s, s) crop each time
        pasted = torch.nn.functional.grid_sample(probs[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
        pasted_weight = torch.nn.functional.grid_sample(weight[None, None], grid, mode="bilinear", padding_mode="zeros",
                                                        align_corners=False)[0, 0]
        best_prob, best = pasted[1:].max(0)
        return best.numpy(), best_prob.numpy(), pasted[0].numpy(), pasted_weight.numpy()
    best_prob, best = probs[1:].max(0)  # (s, s): each crop pixel's best foreground class
    channels = torch.stack([best_prob, probs[0], weight])[None]
    sampled = torch.nn.functional.grid_sample(channels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
    # each sample's top-left bilinear neighbour, clamped into the crop (a block reaching outside the crop
    # has zeros there, which change no order)
    pixel = (grid[0] + 1.0) * (size / 2.0) - 0.5
    column = pixel[..., 0].floor().clamp(0, size - 1).long()
    row = pixel[..., 1].floor().clamp(0, size - 1).long()
    mixed = _mixed_blocks(best)  # (s, s) True where a 2x2 block (or one next to it) holds two classes
    label = best[row, column]
    ambiguous = mixed[row, column]
    if ambiguous.any():
        points = grid[0][ambiguous][None, None]  # (1, 1, K, 2)
        values = torch.nn.functional.grid_sample(probs[None, 1:], points, mode="bilinear", padding_mode="zeros",
                                                 align_corners=False)[0, :, 0]  # (C - 1, K)
        sampled[0][ambiguous], label[ambiguous] = values.max(0)
    return label.numpy(), sampled[0].numpy(), sampled[1].numpy(), sampled[2].numpy()


def _mixed_blocks(labels: torch.Tensor) -> torch.Tensor:
    """(s, s) bool: True at (i, j) where the 2x2 block at (i, j) (rows i..i+1, columns j..j+1) holds more than one
    label, widened by one pixel each way so a sample near the crop's edge or between blocks is covered too."""
    padded = torch.nn.functional.pad(labels[None, None].float(), (0, 1, 0, 1), mode="replicate")[0, 0]
    block = ((padded[:-1, :-1] != padded[1:, :-1]) | (padded[:-1, :-1] != padded[:-1, 1:])
             | (padded[:-1, :-1] != padded[1:, 1:]))
    return torch.nn.functional.max_pool2d(block[None, None].float(), 3, stride=1, padding=1)[0, 0] > 0


@lru_cache(maxsize=8)
def crop_weight(size: int, fade_band: float = FADE_BAND) -> torch.Tensor:
    """(s, s) float32 weight of a crop's pixels in [0, 1]: 1 inside, a cosine ramp down to 0 at the crop's
    edge over the outer ``fade_band`` of its side (0 = no fade: 1 everywhere in the crop)."""
    edge = torch.arange(size, dtype=torch.float32) + 0.5
    distance = torch.minimum(edge, size - edge)  # pixel centre to the nearer edge, in [0.5, s / 2]
    band = fade_band * size
    ramp = torch.ones(size) if band <= 0 else 0.5 - 0.5 * torch.cos(torch.pi * (distance / band).clamp(max=1.0))
    return torch.minimum(ramp[:, None], ramp[None, :]).contiguous()


def _crop_window(matrix: np.ndarray, size: int, image_size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Integer box (x0, y0, x1, y1) of the photo covered by a crop (matrix image -> crop), clipped; None if empty."""
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    inverse = invert_affine(matrix)
    points = corners @ inverse[:, :2].T + inverse[:, 2]
    x0, y0 = np.floor(points.min(0)).astype(int)
    x1, y1 = np.ceil(points.max(0)).astype(int) + 1
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, image_size[1]), min(y1, image_size[0])
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1), int(y1)
