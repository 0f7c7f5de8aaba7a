"""Classical component editing: move source parts onto the target and blend them.

For every chosen part the source is warped into the target photo by the
similarity that maps the source's five points onto the target's, refined per
component (eyes, brows, nose, mouth) so that each component's mask centroid
and area match the target's. Inner parts are Poisson-cloned (source gradients,
target colours on the border, which also matches colour; inside, a component keeps
the source's colours, its lips as they stand against the source's skin); hair is pasted with
a feathered alpha, keeping the source's colour, and the target's own hair that
the new hair does not cover is inpainted from the neighbouring skin or
background. The face is Poisson-cloned inside the target's head outline.

```python
out = blend_parts(src_img, src_map, src_points5, tgt_img, tgt_map, tgt_points5, parts=("hair",))
out.image  # (H, W, 3) uint8, the target's size
```
Class maps are EDIT_LABELS indices (see ``facehub/editing/masks.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from facehub.editing.blend_ops import (
    bbox,
    dilate,
    erode,
    fill_region,
    gaussian_blur,
    match_colour,
    poisson_clone,
    push_pull_fill,
    rgb_to_lab,
)
from facehub.editing.inpaint import inpaint, read_margin
from facehub.editing.masks import (
    BACKGROUND,
    COMPONENT_GROUPS,
    HAIR,
    INDEX,
    PART_CLASSES,
    SKIN,
    component_fit,
    parse_parts,
)
from facehub.geometry.align import invert_affine, similarity_transform


SKIN_TONED = ("upper_lip", "lower_lip")
"""Classes whose moved colours keep their difference from the skin around them (in Lab) rather than their own colour.
Lips take their tone from the skin: a dark-skinned source's lips kept as they are look painted on a lighter face (and
re-parse as an open mouth), while a lipstick keeps its contrast with the skin either way. Teeth, eyes and brows keep
the source's own colours. Measured in the portrait-editor card (``scripts/eval_editor.py``)."""


@dataclass
class BlendOutput:
    """image: (H, W, 3) uint8 at the target's size; layout: (H, W) uint8 EDIT_LABELS map the edit
    aims at; edited: (H, W) bool, the pixels the edit may change."""

    image: np.ndarray
    layout: np.ndarray
    edited: np.ndarray


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0


def warp_with_labels(image: torch.Tensor, labels: torch.Tensor, matrix: np.ndarray, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Warp source (3, h, w) image and (h, w) labels by ``matrix`` (source px -> target px).

    Returns image (3, H, W), labels (H, W) long (255 outside the source) and
    the inside mask (H, W) bool.
    """
    h, w = image.shape[-2:]
    height, width = size
    inverse = invert_affine(matrix)  # target px -> source px
    # normalised coordinates (align_corners=False): u = (2x + 1) / W - 1
    to_norm_t = np.array([[2 / width, 0, 1 / width - 1], [0, 2 / height, 1 / height - 1], [0, 0, 1]])
    to_norm_s = np.array([[2 / w, 0, 1 / w - 1], [0, 2 / h, 1 / h - 1], [0, 0, 1]])
    theta = to_norm_s @ np.vstack([inverse, [0, 0, 1]]) @ np.linalg.inv(to_norm_t)
    grid = F.affine_grid(torch.tensor(theta[:2], dtype=torch.float32)[None], [1, 1, height, width], align_corners=False)
    stacked = torch.cat([image, torch.ones_like(image[:1])])[None]
    warped = F.grid_sample(stacked, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
    warped_labels = F.grid_sample(labels[None, None].float() + 1, grid, mode="nearest", align_corners=False)[0, 0].long() - 1
    inside = warped[3] > 0.99
    warped_labels[~inside | (warped_labels < 0)] = 255
    return warped[:3], warped_labels, inside


def below_brows(points: np.ndarray, size: tuple[int, int], margin: float = 0.35) -> torch.Tensor:
    """(H, W) bool: pixels below a line ``margin`` interocular distances above the eyes (five points (5, 2))."""
    eyes = points[1] - points[0]
    d = float(np.linalg.norm(eyes)) or 1.0
    down = np.array([-eyes[1], eyes[0]]) / d
    centre = (points[0] + points[1]) / 2
    ys = torch.arange(size[0], dtype=torch.float32)[:, None] - float(centre[1])
    xs = torch.arange(size[1], dtype=torch.float32)[None, :] - float(centre[0])
    return xs * float(down[0]) + ys * float(down[1]) > -margin * d


def connected_hair(hair: torch.Tensor, points: np.ndarray, grid: int = 96, max_steps: int = 256) -> torch.Tensor:
    """Keep the parts of an (H, W) bool hair mask connected to the top of the head.

    Seeds are hair cells above the brows within two interocular distances of
    the eyes (five points (5, 2)); they grow through the hair mask on a grid
    whose longer side is about ``grid`` cells. Hair-coloured blobs a parser may
    call hair but that do not touch the head (dark clothes, a background) are dropped.
    """
    if not bool(hair.any()):
        return hair
    size = tuple(hair.shape)
    factor = max(1, int(np.ceil(max(size) / grid)))
    small = F.avg_pool2d(hair[None, None].float(), factor, ceil_mode=True)[0, 0] > 0.3
    cells = np.asarray(points, np.float64) / factor  # five points in cell units
    seed = small & ~below_brows(cells, tuple(small.shape), margin=0.3)
    d = float(np.linalg.norm(cells[1] - cells[0])) or 1.0
    centre = (cells[0] + cells[1]) / 2
    ys = torch.arange(small.shape[0], dtype=torch.float32)[:, None] - float(centre[1])
    xs = torch.arange(small.shape[1], dtype=torch.float32)[None, :] - float(centre[0])
    grown = seed & (xs * xs + ys * ys <= (2.0 * d) ** 2)
    kept = small.float()[None, None]
    for step in range(max_steps):
        previous = grown
        grown = (F.max_pool2d(grown[None, None].float(), 3, 1, 1) * kept)[0, 0] > 0
        if step % 8 == 7 and torch.equal(grown, previous):
            break
    grown = F.max_pool2d(grown[None, None].float(), 3, 1, 1)  # one cell of slack at the edges
    full = F.interpolate(grown, scale_factor=factor, mode="nearest")[0, 0, : size[0], : size[1]] > 0
    return hair & full


def _face_ellipse(points: np.ndarray, size: tuple[int, int], centre: np.ndarray, across: float, down: float) -> torch.Tensor:
    """(H, W) bool: an ellipse at ``centre`` (x, y) rotated with the eyes of five points (5, 2); semi-axes
    ``across`` (along the eyes) and ``down`` (along the face), in interocular distances."""
    eyes = points[1] - points[0]
    d = float(np.linalg.norm(eyes)) or 1.0
    axis_x = eyes / d
    axis_y = np.array([-axis_x[1], axis_x[0]])  # points down the face
    ys = torch.arange(size[0], dtype=torch.float32)[:, None] - float(centre[1])
    xs = torch.arange(size[1], dtype=torch.float32)[None, :] - float(centre[0])
    u = (xs * float(axis_x[0]) + ys * float(axis_x[1])) / (across * d)
    v = (xs * float(axis_y[0]) + ys * float(axis_y[1])) / (down * d)
    return u * u + v * v <= 1.0


def head_ellipse(points: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """(H, W) bool: an ellipse over the face and forehead from five points (5, 2), rotated with the eyes."""
    eye_centre, mouth_centre = (points[0] + points[1]) / 2, (points[3] + points[4]) / 2
    return _face_ellipse(points, size, eye_centre + 0.15 * (mouth_centre - eye_centre), 1.05, 1.75)


def inner_face(points: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """(H, W) bool: an ellipse over the eyes, nose and mouth, cut flat above the brows (five points (5, 2)).

    New hair is never pasted here; outside it (cheeks, jaw, forehead) the source's hair may cover the target's face.
    """
    eyes = points[1] - points[0]
    d = float(np.linalg.norm(eyes)) or 1.0
    down = np.array([-eyes[1], eyes[0]]) / d
    eye_centre, mouth_centre = (points[0] + points[1]) / 2, (points[3] + points[4]) / 2
    length = float(np.dot(mouth_centre - eye_centre, down)) / d  # eyes to mouth, in interocular distances
    ellipse = _face_ellipse(points, size, (eye_centre + mouth_centre) / 2, 0.95, 0.5 * length + 0.45)
    return ellipse & below_brows(points, size)


def row_span(mask: torch.Tensor) -> torch.Tensor:
    """(H, W) bool: pixels between the leftmost and rightmost pixel of ``mask`` in their row (holes and strands filled)."""
    seen = mask.to(torch.int32)
    return (seen.cummax(1).values > 0) & (seen.flip(1).cummax(1).values.flip(1) > 0)


def in_classes(labels: torch.Tensor, names: tuple[str, ...]) -> torch.Tensor:
    ids = torch.tensor([INDEX[name] for name in names])
    return torch.isin(labels, ids)


def into_window(matrix: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """``matrix`` (2, 3) (source px -> photo px) followed by moving the photo's origin to the window corner (x0, y0)."""
    out = np.asarray(matrix, np.float64).copy()
    out[:, 2] -= (x0, y0)
    return out


def fit_to_component(matrix: np.ndarray, moved: torch.Tensor, wanted: torch.Tensor) -> np.ndarray:
    """Compose ``matrix`` with the scale+shift of ``component_fit`` (``moved`` onto ``wanted``)."""
    scale, c_src, c_dst = component_fit(moved.numpy(), wanted.numpy())
    local = np.array([[scale, 0.0, c_dst[0] - scale * c_src[0]], [0.0, scale, c_dst[1] - scale * c_src[1]]])
    return local[:, :2] @ matrix[:, :] + np.array([[0, 0, local[0, 2]], [0, 0, local[1, 2]]])


def face_size_of(points: np.ndarray) -> float:
    """A face's size in photo px from its five points (5, 2): 2.2 x the distance from the right eye to the right
    mouth corner (the scale of blur widths and inpainting borders)."""
    return float(np.linalg.norm(points[0] - points[4]) * 2.2)


def layout_head(points: np.ndarray, size: tuple[int, int], face: torch.Tensor) -> torch.Tensor:
    """(H, W) bool: where uncovered hair becomes skin when no source head outline is known (a painted layout, the
    GAN's layout): the head ellipse above the brows (``below_brows`` margin 0.5) and the face's rows."""
    return (head_ellipse(points, size) & ~below_brows(points, size, margin=0.5)) | row_span(face)


def new_head(
    warped_labels: torch.Tensor, inside: torch.Tensor, new_hair: torch.Tensor, lower: torch.Tensor, face: torch.Tensor,
    points: np.ndarray,
) -> torch.Tensor:
    """(H, W) bool: where the target's uncovered hair becomes skin — the source's head above the brows (its skin and
    the new hair, warped onto the target; rows filled, so a fringe's gaps count), within an ellipse of 1.6 x 2.4
    interocular distances (across x down) about the eyes' centre, plus the target face's rows (strands across the face).

    A bald or short-haired source thus gives the target the source's scalp outline, not a column-wise block under
    the new hair (the former rule left straight vertical skin edges where the new hair's columns ended).
    """
    source_head = (inside & ((warped_labels == SKIN) | new_hair)) & ~lower
    source_head = connected_hair(source_head, points)
    reach = _face_ellipse(points, tuple(face.shape), (points[0] + points[1]) / 2, 1.6, 2.4)
    return (row_span(source_head) & reach & ~lower) | row_span(face)


def _hair(
    out: torch.Tensor, layout: torch.Tensor, old_hair: torch.Tensor, src_img: torch.Tensor, new_hair: torch.Tensor, head: torch.Tensor,
    beside_face: torch.Tensor, face_size: float, any_hair: torch.Tensor | None = None, hole_fill: str = "exemplar",
) -> torch.Tensor:
    """Inpaint the target's uncovered hair, then paste the new hair; returns the edited mask.

    ``head``: (H, W) bool where uncovered hair may become skin (``new_head``); ``beside_face``: (H, W) bool where
    uncovered hair outside ``head`` takes the new hair's colours (between the new hair and the face, which a wider
    source face left uncovered). ``any_hair``: (H, W) bool, all the target's hair (never a source of patches).
    ``hole_fill``: "exemplar" (``inpaint.inpaint``: patches of the nearby skin inside ``head``, of the background
    elsewhere) or "smooth" (the former push-pull fill).
    """
    leftover = old_hair & ~new_hair
    gap = leftover & ~head & beside_face
    if bool(gap.any()) and bool(new_hair.any()):
        src_img = torch.where(gap[None], push_pull_fill(src_img, new_hair), src_img)
        new_hair = new_hair | gap
        leftover = leftover & ~gap
    known = ~old_hair
    if bool(leftover.any()) and bool(known.any()):
        if hole_fill == "smooth":
            _smooth_fill(out, layout, leftover, known, head)
        else:
            _exemplar_fill(out, layout, leftover, old_hair if any_hair is None else any_hair | old_hair, head, face_size)
    sigma = max(0.6, face_size / 250)
    reach = int(np.ceil(2.5 * sigma)) + 1
    if not bool(new_hair.any()):
        return old_hair
    ys, xs = bbox(new_hair, reach)
    hair = new_hair[ys, xs]
    alpha = gaussian_blur(erode(hair, 1).float(), sigma).clamp(0, 1)
    alpha = torch.where(hair, alpha.clamp(min=0.5), alpha)[None]  # keep the hair itself opaque-ish
    out[:, ys, xs] = out[:, ys, xs] * (1 - alpha) + alpha * src_img[:, ys, xs]
    layout[new_hair] = HAIR
    edited = old_hair.clone()
    edited[ys, xs] |= alpha[0] > 0
    return edited


def _smooth_fill(out: torch.Tensor, layout: torch.Tensor, leftover: torch.Tensor, known: torch.Tensor, head: torch.Tensor) -> None:
    """The former fill: push-pull from the face (inside ``head``) or from the background (outside)."""
    face = (layout != BACKGROUND) & (layout != HAIR) & known
    to_skin = leftover & head  # the forehead, and strands across the face
    to_back = leftover & ~head
    for region, source_mask, label in ((to_skin, face, SKIN), (to_back, known & ~face & ~head, BACKGROUND)):
        if bool(region.any()):
            out.copy_(fill_region(out, region, source_mask if bool(source_mask.any()) else known))
            layout[region] = label


def _exemplar_fill(
    out: torch.Tensor, layout: torch.Tensor, leftover: torch.Tensor, any_hair: torch.Tensor, head: torch.Tensor, face_size: float,
) -> None:
    """Exemplar-inpaint ``leftover`` (H, W) bool in ``out`` (3, H, W) and relabel it in ``layout``, in place.

    Skin is plausible inside ``head`` (``new_head``: the source's scalp and hair outline, and the face's rows);
    there patches come from the target's skin. Everywhere else (beside and above the new head) patches come from
    the nearby background. Sources never include hair, the face's parts or a border of ``face_size / 150`` px
    around the hair.
    """
    edge = max(1, round(face_size / 150))
    # all of it happens in the window the inpainting reads (plus the erosion's reach), not on the whole photo
    ys, xs = bbox(leftover, read_margin(leftover) + 2 * edge + 2)
    image, labels, hole, head = out[:, ys, xs], layout[ys, xs], leftover[ys, xs], head[ys, xs]
    clean = ~dilate(any_hair[ys, xs], edge)
    skin_src = erode(labels == SKIN, edge) & clean
    back_src = erode(labels == BACKGROUND, edge) & clean & ~head
    if bool(skin_src.any()):  # neck and shoulders are "background" too: keep skin colours out of the background's sources
        lab = rgb_to_lab(image)
        skin_mean = lab[:, skin_src].mean(1)
        back_src &= ((lab - skin_mean[:, None, None]) ** 2).sum(0) > 15**2  # Lab distance > 15 (norm(dim=0) is ~20x slower)
    for region, sources, label in ((hole & ~head, back_src, BACKGROUND), (hole & head, skin_src, SKIN)):
        if bool(region.any()):
            image = inpaint(image, region, sources)
            labels[region] = label
    out[:, ys, xs] = image


def fill_uncovered_hair(image: torch.Tensor, labels: torch.Tensor, uncovered: torch.Tensor, points: np.ndarray) -> None:
    """Exemplar-inpaint the target's hair that an edit's new layout leaves uncovered, in place (the GAN's layout gives
    no source head to follow, so ``layout_head`` decides, as for a painted layout in ``blend_parts``): skin patches
    inside the head ellipse above the brows and in the face's rows, background patches elsewhere.

    ``image`` (3, H, W) float in [0, 1]; ``labels`` (H, W) int64 EDIT_LABELS of the target (relabelled: SKIN or
    BACKGROUND where filled); ``uncovered`` (H, W) bool; ``points`` (5, 2) the target face's five points.
    """
    if not bool(uncovered.any()):
        return
    size = tuple(labels.shape)
    points = np.asarray(points, dtype=np.float64)
    head = layout_head(points, size, in_classes(labels, PART_CLASSES["face"]))
    _exemplar_fill(image, labels, uncovered, labels == HAIR, head, face_size_of(points))


def blend_parts(
    source_image: np.ndarray,
    source_map: np.ndarray,
    source_points: np.ndarray,
    target_image: np.ndarray,
    target_map: np.ndarray,
    target_points: np.ndarray,
    parts: tuple[str, ...] | str = ("hair",),
    target_layout: np.ndarray | None = None,
    colour_match: float = 0.0,
    hole_fill: str = "exemplar",
) -> BlendOutput:
    """Edit ``target_image`` with ``parts`` of ``source_image``.

    Images (H, W, 3) uint8 RGB; maps (H, W) EDIT_LABELS indices; points (5, 2)
    five points of the face to edit in each photo. ``target_layout`` (H, W),
    e.g. a user-painted mask, replaces ``target_map`` as the geometry the
    source parts are fitted to. ``colour_match`` in [0, 1] additionally shifts
    the source's Lab statistics (skin to skin) before blending. ``hole_fill`` ("exemplar" or "smooth") is how
    the target's hair that the new hair leaves uncovered is filled (see ``_hair``).
    """
    parts = parse_parts(parts)
    size = target_image.shape[:2]
    matrix = similarity_transform(source_points, target_points)
    src = _to_tensor(source_image)
    tgt = _to_tensor(target_image)
    src_labels = torch.from_numpy(np.asarray(source_map, dtype=np.int64))
    tgt_labels = torch.from_numpy(np.asarray(target_map, dtype=np.int64))
    layout = torch.from_numpy(np.asarray(target_layout if target_layout is not None else target_map, dtype=np.int64)).clone()
    if colour_match > 0:
        src = match_colour(src, src_labels == SKIN, tgt, tgt_labels == SKIN, colour_match)
    face_size = face_size_of(np.asarray(target_points, dtype=np.float64))
    out = tgt.clone()
    edited = torch.zeros(size, dtype=torch.bool)
    warped_img, warped_labels, inside = warp_with_labels(src, src_labels, matrix, size)
    for part in parts:
        if part == "hair":
            points = np.asarray(target_points, dtype=np.float64)
            face = in_classes(layout, PART_CLASSES["face"])
            new_hair = (warped_labels == HAIR) if target_layout is None else (layout == HAIR)
            if target_layout is None:  # only hair attached to the head moves; the target keeps its face
                new_hair = connected_hair(new_hair, points)
                new_hair &= ~(face & inner_face(points, size))
            hair_pixels = warped_img
            if target_layout is not None:  # painted hair the source does not cover: the source hair's texture, smoothed
                hair_pixels = push_pull_fill(warped_img, (warped_labels == HAIR) & inside)
            lower = below_brows(points, size, margin=0.5)
            head = new_head(warped_labels, inside, new_hair, lower, face, points) if target_layout is None else (
                layout_head(points, size, face))  # a painted layout: no source head to follow
            own_hair = connected_hair(tgt_labels == HAIR, points)
            beside_face = lower & row_span(new_hair | face)
            edited |= _hair(out, layout, own_hair, hair_pixels, new_hair, head, beside_face, face_size,
                            any_hair=tgt_labels == HAIR, hole_fill=hole_fill)
        elif part == "face":
            head = in_classes(layout, PART_CLASSES["face"]) & (tgt_labels != HAIR)
            region = erode(head & in_classes(warped_labels, PART_CLASSES["face"]), 2)
            out = poisson_clone(warped_img, out, region)
            layout[region] = warped_labels[region]
            edited |= region
        else:
            for group in COMPONENT_GROUPS[part]:
                keep = part in ("eyes", "mouth", "brows")
                edited |= _move_group(out, layout, tgt_labels, src, src_labels, matrix, warped_labels, group, keep)
    image = (out.clamp(0, 1) * 255 + 0.5).byte().permute(1, 2, 0).numpy()
    return BlendOutput(image=image, layout=layout.numpy().astype(np.uint8), edited=edited.numpy())


def _move_group(
    out: torch.Tensor,
    layout: torch.Tensor,
    target_labels: torch.Tensor,
    src: torch.Tensor,
    src_labels: torch.Tensor,
    matrix: np.ndarray,
    warped_labels: torch.Tensor,
    group: tuple[str, ...],
    keep_colour: bool = True,
) -> torch.Tensor:
    """Fit one inner component of the source onto the target's and Poisson-clone it in place.

    ``keep_colour``: the component keeps the source's colours (its ``SKIN_TONED`` classes: their difference from the
    skin around them). Edits ``out`` (3, H, W) and ``layout`` (H, W) in place; returns the (H, W) bool region it
    changed.
    """
    wanted = in_classes(layout, group)
    moved = in_classes(warped_labels, group)
    edited = torch.zeros_like(wanted)
    if int(wanted.sum()) < 4 or int(moved.sum()) < 4:
        return edited
    local = fit_to_component(matrix, moved, wanted)
    radius = max(2, int(0.3 * np.sqrt(float(wanted.sum()))))
    # work in a window around the component: the source is only warped there
    ys, xs = bbox(wanted, 3 * radius + 4)
    local = into_window(local, xs.start, ys.start)
    img, labels, _ = warp_with_labels(src, src_labels, local, (ys.stop - ys.start, xs.stop - xs.start))
    moved, wanted_w, lay = in_classes(labels, group), wanted[ys, xs], layout[ys, xs]
    if int(moved.sum()) < 4:
        return edited
    face = in_classes(lay, PART_CLASSES["face"]) & (target_labels[ys, xs] != HAIR)
    region = dilate(moved | wanted_w, radius) & (face | moved)
    source_face = in_classes(labels, PART_CLASSES["face"])
    if not bool(source_face.all()):  # the source's hair, hands or background next to the part: no gradients from them
        # nor from the face's outermost pixels, where the parser's edge may still hold a glove's or a collar's rim
        source_face = erode(source_face, max(1, round(0.4 * radius)))
        img = torch.where(source_face[None], img, push_pull_fill(img, source_face, margin=None))
    cloned = poisson_clone(img, out[:, ys, xs], region)
    if keep_colour:  # the component itself keeps the source's colours (iris, lipstick); its border stays seamless
        toned = in_classes(labels, SKIN_TONED)  # ... the lips' relative to the skin around them (SKIN_TONED)
        if bool(toned.any()):
            relative = match_colour(img, labels == SKIN, out[:, ys, xs], target_labels[ys, xs] == SKIN, spread=False)
            img = torch.where(toned[None], relative, img)
        alpha = gaussian_blur(erode(moved, 1).float(), 1.0)[None] * face[None]
        cloned = alpha * img + (1 - alpha) * cloned
    out[:, ys, xs] = cloned
    lay[wanted_w & face] = SKIN
    lay[moved & face] = labels[moved & face]
    edited[ys, xs] = region
    return edited
