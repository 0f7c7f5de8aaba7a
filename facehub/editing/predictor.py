"""Component editing: ``facehub.load("portrait-editor")(source, target, parts=("hair",))``.

```python
editor = facehub.load("portrait-editor")
result = editor(Image.open("a.jpg"), Image.open("b.jpg"), parts=("hair", "eyes"), method="blend")
result.image_pil().save("edited.png")        # the target photo at full resolution, edited
```
Both photos are parsed with the checkpoint's parser (``config.json["parser"]``,
default ``bisenet``); the largest face of each is used: the detector's
(``FaceDetector.largest_face``), or the largest of ``source_faces`` /
``target_faces`` when the caller gives them (any form ``facehub.predictor.as_faces``
takes); ``source_face=2`` / ``target_face=3`` pick another face by size (1 = the largest). ``method="blend"`` is the classical baseline (``facehub/editing/blend.py``); ``method="gan"`` runs the
mask-guided editor on aligned crops of ``input_size`` pixels and pastes its
output back inside the edited region; where the photo has more pixels than the
crop, the moved parts' detail finer than a crop pixel comes from the source
photo itself (``facehub/editing/detail.py``; ``config.json["source_detail"]``); the target's hair that the new
layout leaves uncovered is inpainted from the target as the blend does (``blend.fill_uncovered_hair``;
``config.json["fill_uncovered_hair"]``), not rendered. ``target_mask`` (a user-painted EDIT_LABELS
map, or colours of the label palette) replaces the target's layout.
A chosen component missing in either photo (``facehub/editing/refusal.py``) is
refused: the result is the target untouched with ``result.refused`` saying which
component, in which photo, and what to try (``result.raise_if_refused()`` raises
it as ``ComponentNotFoundError``, as the CLI does).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from facehub.detection import largest_face_of
from facehub.detection.detector import face_by_size
from facehub.editing.blend import blend_parts, fill_uncovered_hair
from facehub.editing.blend_ops import bbox, dilate, gaussian_blur
from facehub.editing.detail import source_detail
from facehub.editing.masks import (
    BACKGROUND,
    EDIT_LABELS,
    HAIR,
    colours_to_labels,
    fit_components,
    intended_layout,
    mask_colours,
    parse_parts,
    part_mask,
    to_edit_labels,
)
from facehub.editing.models.portrait_editor import COMPONENTS, make_inputs
from facehub.editing.refusal import refusal
from facehub.editing.result import EditResult, ParsedPhoto
from facehub.geometry.align import crop_faces, paste_back, similarity_transform, warp_affine
from facehub.hub import LoadedModel
from facehub.image import ImageInput, as_rgb_array
from facehub.predictor import FacesInput, Predictor, as_faces

if TYPE_CHECKING:
    from PIL import Image

METHODS = ("blend", "gan")
# which GAN components each part swaps
_PART_COMPONENTS = {
    "hair": ("hair",), "eyes": ("left_eye", "right_eye"), "mouth": ("mouth",),
    "brows": ("face",), "nose": ("face",), "face": ("left_eye", "right_eye", "mouth", "face"),
}


class PortraitEditor(Predictor):
    """Moves components from a source face onto a target face (blend baseline or mask-guided GAN)."""

    task = "editing"

    def __init__(
        self,
        loaded: LoadedModel,
        detector: Callable | None = None,
        device: torch.device | str | None = None,
        parser: Callable | None = None,
        parse_cache: int = 0,
    ):
        super().__init__(loaded, detector=detector, device=device)
        self._parser = parser
        self.parse_cache = parse_cache  # photos whose parsing is remembered (0: parse every call, as bench measures)
        self.default_method = str(self.config.get("default_method", "blend"))
        # the GAN's rendering gets the moved parts' own fine detail from the source photo (facehub/editing/detail.py)
        self.source_detail = bool(self.config.get("source_detail", True))
        self.fill_uncovered = bool(self.config.get("fill_uncovered_hair", False))  # the GAN: see _gan
        self._cache: OrderedDict[str, ParsedPhoto] = OrderedDict()

    @property
    def parser(self) -> Callable:
        """The face parser, ``parser(image, faces=[face]) -> ParsingResult`` (loaded on first use)."""
        if self._parser is None:
            from facehub import load

            self._parser = load(str(self.config.get("parser", "bisenet")), device=str(self.device))
        return self._parser

    def parse(self, image: ImageInput, faces: FacesInput | None = None, number: int = 1, photo: str = "photo") -> ParsedPhoto:
        """Parse the ``number``-th largest face of ``image`` (1 = the largest; of ``faces`` if given, else the
        detector's). A photo with faces but fewer than ``number`` raises ``FaceNumberError`` naming ``photo``.

        The last ``parse_cache`` photos are remembered (an app edits one source many times).
        """
        array = as_rgb_array(image)
        given = None if faces is None else as_faces(faces)
        digest = hashlib.blake2b(array.tobytes(), digest_size=16)
        for face in given or []:
            digest.update(np.asarray(face.points, dtype=np.float64).tobytes())
        key = f"{digest.hexdigest()}{array.shape}{None if given is None else len(given)}#{number}"
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if given is None and number == 1:
            face = largest_face_of(self.detector, array)  # the detector's fast path for the largest face
        else:
            found = self.detector(array).faces if given is None else given
            face = face_by_size(found, number, photo) if found else None
        if face is None:
            parsed = ParsedPhoto(array, None, None)
        else:
            result = self.parser(array, faces=[face])
            parsed = ParsedPhoto(array, face, to_edit_labels(result.class_map, result.labels))
        self._cache[key] = parsed
        while len(self._cache) > self.parse_cache:
            self._cache.popitem(last=False)
        return parsed

    def target_mask_image(self, image: ImageInput) -> Image.Image:
        """The target's EDIT_LABELS mask as a colour PIL image (CelebAMask-HQ palette, ``masks.mask_colours``), to paint on."""
        from PIL import Image

        parsed = self.parse(image)
        mask = parsed.class_map if parsed.class_map is not None else np.zeros(parsed.image.shape[:2], np.uint8)
        return Image.fromarray(mask_colours(mask))

    def render_painted_mask(self, source: ImageInput | None, target: ImageInput, painted: np.ndarray, method: str = "gan") -> EditResult:
        """Render ``target`` with a painted mask ((H, W, 3) palette colours or (H, W) indices), the source's textures."""
        layout = colours_to_labels(painted) if painted.ndim == 3 else np.asarray(painted, np.uint8)
        parts = ("hair", "face")
        return self(source if source is not None else target, target, parts=parts, method=method, target_mask=layout)

    @torch.inference_mode()
    def __call__(
        self,
        source: ImageInput,
        target: ImageInput,
        parts: tuple[str, ...] | str = ("hair",),
        method: str | None = None,
        target_mask: np.ndarray | None = None,
        source_faces: FacesInput | None = None,
        target_faces: FacesInput | None = None,
        source_face: int = 1,
        target_face: int = 1,
    ) -> EditResult:
        """Edit ``target`` with ``parts`` of ``source``; ``target_mask`` (H, W) EDIT_LABELS drives the layout.

        ``source_faces`` / ``target_faces`` (Face objects, boxes or five points) skip detection in that photo.
        ``source_face`` / ``target_face``: which face of each photo, numbered by size (1 = the largest, the
        default); a number past the photo's faces raises ``FaceNumberError``. A chosen part missing in either photo gives the target untouched with
        ``refused`` set (not checked when ``target_mask`` is given: the painted layout is the user's choice).
        """
        method = method or self.default_method
        if method not in METHODS:
            raise ValueError(f"Unknown method {method!r}; use one of {', '.join(METHODS)}.")
        parts = parse_parts(parts)
        src = self.parse(source, source_faces, source_face, "source photo")
        tgt = self.parse(target, target_faces, target_face, "target photo")
        if src.face is None or tgt.face is None:
            return EditResult(tgt.image.copy(), src.image, tgt.image, src.class_map, tgt.class_map, None, None, parts, method)
        if target_mask is None:
            refused = refusal(parts, src.class_map, src.face, tgt.class_map, tgt.face)
            if refused is not None:
                return EditResult(tgt.image.copy(), src.image, tgt.image, src.class_map, tgt.class_map, tgt.class_map,
                                  np.zeros(tgt.image.shape[:2], bool), parts, method, [tgt.face], refused=refused)
        else:
            target_mask = _resize_labels(np.asarray(target_mask, np.uint8), tgt.image.shape[:2])
        if method == "blend":
            out = blend_parts(src.image, src.class_map, src.face.points, tgt.image, tgt.class_map, tgt.face.points,
                              parts, target_layout=target_mask)
            image, layout, edited = out.image, out.layout, out.edited
        else:
            image, layout, edited = self._gan(src, tgt, parts, target_mask)
        return EditResult(image, src.image, tgt.image, src.class_map, tgt.class_map, layout, edited, parts, method, [tgt.face])

    def _gan(
        self, src: ParsedPhoto, tgt: ParsedPhoto, parts: tuple[str, ...], painted: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the GAN on aligned crops and paste its output back inside the edited region."""
        spec = self.crop_spec
        size = (spec.size, spec.size)
        src_crop, src_m = crop_faces(src.image, src.face.points[None], spec)
        tgt_crop, tgt_m = crop_faces(tgt.image, tgt.face.points[None], spec)
        src_map = _warp_labels(src.class_map, src_m[0], size)
        tgt_map = _warp_labels(tgt.class_map, tgt_m[0], size)
        if painted is not None:
            layout = _warp_labels(painted, tgt_m[0], size)
        else:
            layout = intended_layout(tgt_map, fit_components(src_map, tgt_map, parts), parts)
        swap = torch.tensor([[any(c in _PART_COMPONENTS[p] for p in parts) for c in COMPONENTS]])
        hot = _one_hot
        inputs = make_inputs(src_crop * 2 - 1, hot(src_map), tgt_crop * 2 - 1, hot(layout), swap, original_mask=hot(tgt_map))
        kwargs = {
            key: value.to(self.device) if torch.is_tensor(value) else {n: t.to(self.device) for n, t in value.items()}
            for key, value in inputs.as_kwargs().items()
        }
        crop_out = (self.model(**kwargs).image.float().cpu() + 1) / 2
        changed = torch.from_numpy(layout != tgt_map)
        for part in parts:
            changed |= torch.from_numpy(part_mask(layout, part) | part_mask(tgt_map, part))
        alpha_crop = gaussian_blur(dilate(changed, 1).float(), 0.8)[None, None]
        full = paste_back(torch.cat([crop_out, alpha_crop], 1), tgt_m, tgt.image.shape[:2])[0]
        alpha = full[3:].clamp(0, 1)
        alpha = alpha * (alpha > 0.02)  # exactly the target outside the edited region
        full_layout = paste_back(hot(layout), tgt_m, tgt.image.shape[:2]).max(1).indices[0].numpy().astype(np.uint8)
        edited = alpha[0].numpy() > 0.02
        out_layout = np.where(edited, full_layout, tgt.class_map).astype(np.uint8)
        rendered = full[:3]
        photo_px = 1.0 / np.sqrt(abs(np.linalg.det(tgt_m[0][:, :2])))  # photo pixels per crop pixel
        if self.source_detail and photo_px > 1.5 and edited.any():
            window = bbox(torch.from_numpy(edited), 2)
            detail, weight = source_detail(
                torch.from_numpy(src.image).permute(2, 0, 1).float() / 255, torch.from_numpy(src.class_map.astype(np.int64)),
                similarity_transform(src.face.points, tgt.face.points), torch.from_numpy(out_layout.astype(np.int64)),
                parts, sigma=0.75 * photo_px, window=window)
            rendered[:, window[0], window[1]] += weight * detail
        base = torch.from_numpy(tgt.image).permute(2, 0, 1).float() / 255
        if self.fill_uncovered and "hair" in parts and painted is None:
            # the target's hair the new layout leaves uncovered: exemplar patches of the target, as the blend does,
            # not the rendering (whose background-fusing branch smears it flat)
            uncovered = torch.from_numpy(edited & (out_layout == BACKGROUND) & (tgt.class_map == HAIR))
            if bool(uncovered.any()):
                labels = torch.from_numpy(tgt.class_map.astype(np.int64))
                fill_uncovered_hair(base, labels, uncovered, tgt.face.points)
                out_layout = np.where(uncovered.numpy(), labels.numpy(), out_layout).astype(np.uint8)
                window = bbox(uncovered, 4)
                keep = 1 - gaussian_blur(uncovered[window].float(), 1.0).clamp(0, 1)
                alpha[:, window[0], window[1]] *= torch.minimum(keep, (~uncovered[window]).float())
        image = (base * (1 - alpha) + rendered.clamp(0, 1) * alpha) * 255 + 0.5
        return image.byte().permute(1, 2, 0).numpy(), out_layout, edited


def _one_hot(labels: np.ndarray) -> torch.Tensor:
    """(H, W) EDIT_LABELS map -> (1, C, H, W) float one-hot."""
    tensor = torch.from_numpy(labels.astype(np.int64)).clamp(0, len(EDIT_LABELS) - 1)
    return torch.nn.functional.one_hot(tensor, len(EDIT_LABELS)).permute(2, 0, 1)[None].float()


def _warp_labels(labels: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) labels -> (h, w) uint8 in the crop of ``matrix`` (nearest; background outside)."""
    tensor = torch.from_numpy(labels.astype(np.float32))[None, None]
    return warp_affine(tensor, matrix, size, mode="nearest")[0, 0].numpy().astype(np.uint8)


def _resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if labels.shape == tuple(size):
        return labels
    from PIL import Image

    return np.asarray(Image.fromarray(labels).resize((size[1], size[0]), Image.NEAREST))
