"""The classical blend baseline and its image operations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facehub.editing.blend import blend_parts, head_ellipse
from facehub.editing.blend_ops import (
    dilate,
    erode,
    fill_region,
    lab_to_rgb,
    match_colour,
    poisson_clone,
    push_pull_fill,
    rgb_to_lab,
    solve_laplace,
)
from facehub.editing.inpaint import fill_measure
from facehub.editing.masks import (
    HAIR,
    INDEX,
    SKIN,
    intended_layout,
    parse_parts,
    to_edit_labels,
)


def test_push_pull_keeps_known_pixels_and_fills_the_rest_in_range() -> None:
    torch.manual_seed(0)
    values = torch.rand(3, 40, 50)
    known = torch.rand(40, 50) > 0.7
    filled = push_pull_fill(values, known)
    assert torch.equal(filled[:, known], values[:, known])
    assert filled.min() >= values.min() - 1e-6 and filled.max() <= values.max() + 1e-6
    constant = push_pull_fill(torch.full((1, 30, 30), 0.25), torch.rand(30, 30) > 0.9)
    assert torch.allclose(constant, torch.full_like(constant, 0.25))


def test_laplace_solver_reproduces_a_linear_ramp() -> None:
    ys, xs = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    ramp = (0.02 * xs + 0.01 * ys)[None]
    unknown = torch.zeros(24, 24, dtype=torch.bool)
    unknown[3:21, 4:20] = True
    solved = solve_laplace(ramp * ~unknown, unknown, torch.zeros_like(ramp), iterations=200)
    assert torch.allclose(solved, ramp, atol=1e-4)


def test_poisson_clone_of_an_offset_copy_returns_the_target() -> None:
    torch.manual_seed(0)
    target = torch.rand(3, 60, 60) * 0.5 + 0.25
    region = torch.zeros(60, 60, dtype=torch.bool)
    region[10:50, 12:48] = True
    out = poisson_clone(target - 0.2, target, region)  # same gradients, other colour: seamless = target
    assert torch.allclose(out, target, atol=2e-3)
    outside = ~region
    assert torch.equal(out[:, outside], target[:, outside])


def test_poisson_clone_large_region_takes_the_coarse_path() -> None:
    target = torch.full((3, 300, 300), 0.6)
    source = torch.full((3, 300, 300), 0.1)
    region = torch.zeros(300, 300, dtype=torch.bool)
    region[20:280, 20:280] = True
    out = poisson_clone(source, target, region)
    assert torch.allclose(out, target, atol=2e-2)


def test_lab_round_trip_and_colour_match() -> None:
    torch.manual_seed(0)
    rgb = torch.rand(3, 16, 16)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=2e-3)
    white = rgb_to_lab(torch.ones(3, 1, 1))[:, 0, 0]
    assert torch.allclose(white, torch.tensor([100.0, 0.0, 0.0]), atol=0.1)
    image = torch.rand(3, 32, 32) * 0.3
    reference = torch.rand(3, 32, 32) * 0.3 + 0.6
    mask = torch.ones(32, 32, dtype=torch.bool)
    matched = match_colour(image, mask, reference, mask)
    assert torch.allclose(rgb_to_lab(matched).mean((1, 2)), rgb_to_lab(reference).mean((1, 2)), atol=1.5)


def test_dilate_erode_and_fill_region() -> None:
    mask = torch.zeros(20, 20, dtype=torch.bool)
    mask[8:12, 8:12] = True
    assert int(dilate(mask, 2).sum()) == 64 and int(erode(mask, 1).sum()) == 4
    image = torch.zeros(3, 20, 20)
    image[:, :, 10:] = 1.0
    filled = fill_region(image, mask, ~mask)
    assert torch.equal(filled[:, ~mask], image[:, ~mask])
    assert 0.0 < float(filled[:, mask].mean()) < 1.0


def test_parts_and_layouts() -> None:
    assert parse_parts("eye, hair ,lips") == ("eyes", "mouth", "hair")
    with pytest.raises(ValueError, match="Valid parts"):
        parse_parts("ears")
    celeb = ["background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
             "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth"]
    mapped = to_edit_labels(np.arange(19)[None], celeb)[0]
    assert mapped[13] == HAIR and mapped[8] == SKIN and mapped[10] == INDEX["inner_mouth"] and mapped[18] == 0
    target = np.zeros((10, 10), np.uint8)
    target[:3] = HAIR
    target[3:] = SKIN
    source = np.zeros((10, 10), np.uint8)
    source[:5, :5] = HAIR
    layout = intended_layout(target, source, ["hair"])
    assert (layout[:5, :5] == HAIR).all() and (layout[:3, 5:] == 0).all() and (layout[5:] == SKIN).all()


def _portrait(hair_rgb: tuple[int, int, int], hair_rows: slice, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 96x96 synthetic portrait: textured grey background, skin oval, eyes, mouth, a hair cap."""
    rng = np.random.default_rng(seed)
    image = (rng.random((96, 96, 3)) * 40 + 100).astype(np.uint8)
    labels = np.zeros((96, 96), np.uint8)
    yy, xx = np.mgrid[:96, :96]
    face = ((xx - 48) / 22.0) ** 2 + ((yy - 52) / 28.0) ** 2 <= 1
    labels[face] = SKIN
    image[face] = (220, 180, 150)
    hair = (((xx - 48) / 30.0) ** 2 + ((yy - 40) / 32.0) ** 2 <= 1) & ~face
    hair[hair_rows] &= True
    hair &= (yy < 60)
    hair[:hair_rows.start] = False
    labels[hair] = HAIR
    image[hair] = hair_rgb
    for x0, name in ((36, "left_eye"), (54, "right_eye")):
        labels[44:48, x0 : x0 + 8] = INDEX[name]
        image[44:48, x0 : x0 + 8] = (40, 30, 30)
    labels[64:68, 40:56] = INDEX["upper_lip"]
    image[64:68, 40:56] = (180, 60, 60)
    points = np.array([[39.5, 45.5], [57.5, 45.5], [48, 55], [41, 66], [55, 66]], dtype=np.float64)
    return image, labels, points


def test_hair_blend_keeps_the_target_outside_and_takes_the_source_colour() -> None:
    source = _portrait((30, 60, 200), slice(0, 96), seed=1)
    target = _portrait((200, 40, 20), slice(12, 96), seed=2)
    out = blend_parts(*source, *target, parts=("hair",))
    assert out.image.shape == target[0].shape and out.image.dtype == np.uint8
    outside = ~out.edited
    assert outside.mean() > 0.4
    assert np.array_equal(out.image[outside], target[0][outside])
    hair = out.layout == HAIR
    mean = out.image[hair].astype(float).mean(0)
    assert np.linalg.norm(mean - (30, 60, 200)) < np.linalg.norm(mean - (200, 40, 20))
    assert hair.sum() >= (source[1] == HAIR).sum() * 0.8


def test_inner_parts_move_into_the_target_component() -> None:
    source = _portrait((30, 60, 200), slice(0, 96), seed=1)
    target = _portrait((200, 40, 20), slice(12, 96), seed=2)
    src_img = source[0].copy()
    src_img[44:48, 36:44] = (0, 200, 0)  # a green left eye
    src_img[44:48, 54:62] = (0, 200, 0)
    out = blend_parts(src_img, source[1], source[2], *target, parts=("eyes",))
    eye = out.layout == INDEX["left_eye"]
    assert eye.sum() > 10
    green = out.image[eye].astype(float).mean(0)
    assert green[1] > green[0] + 40  # the eye became green
    assert np.array_equal(out.image[~out.edited], target[0][~out.edited])


def test_moved_lips_keep_their_colour_against_the_skin_not_their_own() -> None:
    source = _portrait((30, 60, 200), slice(0, 96), seed=1)
    target = _portrait((200, 40, 20), slice(12, 96), seed=2)
    src_img, src_labels = source[0].copy(), source[1]
    src_img[src_labels == SKIN] = (90, 60, 45)  # dark skin, lips a little darker and redder
    src_img[src_labels == INDEX["upper_lip"]] = (80, 40, 35)
    out = blend_parts(src_img, src_labels, source[2], *target, parts=("mouth",))
    lips = torch.from_numpy(out.layout == INDEX["upper_lip"])
    assert int(lips.sum()) > 20

    def lab_mean(image: np.ndarray, mask: np.ndarray | torch.Tensor) -> torch.Tensor:
        return rgb_to_lab(torch.from_numpy(image).permute(2, 0, 1).float() / 255)[:, torch.as_tensor(mask)].mean(1)

    inner = erode(lips, 1)
    wanted = lab_mean(src_img, src_labels == INDEX["upper_lip"]) - lab_mean(src_img, src_labels == SKIN)
    got = lab_mean(out.image, inner) - lab_mean(target[0], target[1] == SKIN)
    assert torch.allclose(got, wanted, atol=3.0)  # the lips stand against the light skin as against the dark
    assert lab_mean(out.image, inner)[0] > lab_mean(src_img, src_labels == INDEX["upper_lip"])[0] + 20  # not pasted dark


def test_head_ellipse_covers_the_face_centre() -> None:
    points = np.array([[40.0, 45.0], [56.0, 45.0], [48.0, 55.0], [42.0, 65.0], [54.0, 65.0]])
    head = head_ellipse(points, (96, 96))
    assert bool(head[50, 48]) and not bool(head[5, 5]) and not bool(head[50, 90])


def test_connected_hair_drops_blobs_away_from_the_head() -> None:
    from facehub.editing.blend import connected_hair

    points = np.array([[40.0, 45.0], [56.0, 45.0], [48.0, 55.0], [42.0, 65.0], [54.0, 65.0]])
    hair = torch.zeros(96, 96, dtype=torch.bool)
    hair[20:38, 30:66] = True  # a cap above the eyes
    hair[38:80, 26:32] = True  # long hair hanging from it
    hair[85:96, 60:96] = True  # a dark jacket the parser called hair
    kept = connected_hair(hair, points)
    assert bool(kept[25, 48]) and bool(kept[70, 28])
    assert not bool(kept[90, 80])
    assert not bool((kept & ~hair).any())


def test_fit_components_places_the_source_part_on_the_target_part() -> None:
    from facehub.editing.masks import component_fit, fit_components

    source = np.full((64, 64), SKIN, np.uint8)
    source[:8] = HAIR
    source[20:24, 10:18] = INDEX["left_eye"]  # 32 px, centre (13.5, 21.5)
    target = np.full((64, 64), SKIN, np.uint8)
    target[30:35, 30:40] = INDEX["left_eye"]  # 50 px, centre (34.5, 32)
    scale, c_src, c_dst = component_fit(source == INDEX["left_eye"], target == INDEX["left_eye"])
    assert scale == pytest.approx(np.sqrt(50 / 32)) and np.allclose(c_src, (13.5, 21.5)) and np.allclose(c_dst, (34.5, 32))
    placed = fit_components(source, target, ["eyes"])
    ys, xs = np.nonzero(placed == INDEX["left_eye"])
    assert abs(xs.mean() - 34.5) < 1 and abs(ys.mean() - 32) < 1 and 40 <= len(xs) <= 60
    assert not (placed[18:26, 8:20] == INDEX["left_eye"]).any()  # gone from where the source had it
    assert np.array_equal(placed == HAIR, source == HAIR)  # hair is not an inner part: left as aligned
    layout = intended_layout(target, placed, ["eyes"])
    assert np.array_equal(layout == INDEX["left_eye"], placed == INDEX["left_eye"])


def test_row_span_and_inner_face() -> None:
    from facehub.editing.blend import inner_face, row_span

    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[2, 1] = mask[2, 5] = True
    mask[4, 3] = True
    span = row_span(mask)
    assert span[2, 1:6].all() and not span[2, 0] and not span[2, 6:].any() and span[4].sum() == 1 and not span[0].any()
    points = np.array([[40.0, 45.0], [56.0, 45.0], [48.0, 55.0], [42.0, 65.0], [54.0, 65.0]])
    inner = inner_face(points, (96, 96))
    assert inner[45, 40] and inner[55, 48] and inner[66, 48]  # eyes, nose, mouth
    assert not inner[30, 48] and not inner[55, 20] and not inner[55, 76]  # forehead, far cheeks


def test_new_hair_may_frame_the_cheeks_but_never_covers_eyes_or_mouth() -> None:
    source = _portrait((30, 60, 200), slice(0, 96), seed=1)
    target = _portrait((200, 40, 20), slice(12, 96), seed=2)
    src_labels = source[1].copy()
    src_labels[40:75, 27:33] = HAIR  # long strands down the source's left cheek
    src_labels[44:48, 36:44] = HAIR  # and a strand over its left eye
    out = blend_parts(source[0], src_labels, source[2], *target, parts=("hair",))
    assert (out.layout[50:58, 28:32] == HAIR).all()  # the cheek, outside the eyes-nose-mouth ellipse
    assert (out.layout[44:48, 36:44] == INDEX["left_eye"]).all()
    assert np.array_equal(out.image[44:48, 36:44], target[0][44:48, 36:44])


def test_uncovered_hair_is_inpainted_from_the_background_not_smeared() -> None:
    source = _portrait((30, 60, 200), slice(20, 96), seed=1)  # short hair: a cap starting lower
    target = _portrait((200, 40, 20), slice(0, 96), seed=2)
    src_labels = source[1].copy()
    src_labels[(src_labels == HAIR) & (np.arange(96)[:, None] > 30)] = 0  # no hair below row 30 in the source
    new = blend_parts(source[0], src_labels, source[2], *target, parts=("hair",))
    old = blend_parts(source[0], src_labels, source[2], *target, parts=("hair",), hole_fill="smooth")
    filled = (target[1] == HAIR) & (new.layout == 0)
    assert filled.sum() > 50
    red = new.image[filled].astype(float).mean(0)
    assert red[0] < 160  # the removed red hair does not come back
    back = torch.from_numpy(target[1] == 0)
    m_new = fill_measure(torch.from_numpy(new.image).permute(2, 0, 1).float() / 255, torch.from_numpy(filled), back, band=12)
    old_filled = torch.from_numpy((target[1] == HAIR) & (old.layout == 0))
    m_old = fill_measure(torch.from_numpy(old.image).permute(2, 0, 1).float() / 255, old_filled, back, band=12)
    assert m_new is not None and m_old is not None  # both fills are large enough to measure
    assert m_new.gradient_ratio > m_old.gradient_ratio
    assert np.array_equal(new.image[~new.edited], target[0][~new.edited])


def test_uncovered_hair_becomes_skin_across_a_bald_source_scalp_not_in_a_column_under_its_tuft() -> None:
    """A bald source with one tuft on top: the target's hair over the forehead turns skin across the source's scalp
    (the former rule made skin only in the tuft's columns, a straight-edged block) and background beside it."""
    source = _portrait((30, 60, 200), slice(0, 96), seed=1)
    target = _portrait((200, 40, 20), slice(0, 96), seed=2)
    labels = source[1].copy()
    yy, xx = np.mgrid[:96, :96]
    scalp = (((xx - 48) / 24.0) ** 2 + ((yy - 40) / 30.0) ** 2 <= 1) & (labels != SKIN) & (yy >= 12)
    labels[labels == HAIR] = 0
    labels[scalp] = SKIN
    labels[8:14, 44:53] = HAIR  # the tuft
    out = blend_parts(source[0], labels, source[2], *target, parts=("hair",))
    was_hair = target[1] == HAIR
    assert (out.layout[8:14, 44:53] == HAIR).all()
    for x in (34, 40, 56, 62):  # beside the tuft's columns, on the scalp, above the target's face
        assert was_hair[25, x] and out.layout[25, x] == SKIN, x
    assert was_hair[30, 24] and out.layout[30, 24] == 0  # outside the source's head: background


def test_fill_uncovered_hair_takes_background_beside_the_head_and_skin_above_the_brows() -> None:
    """The GAN's fill: the target's red hair, all of it uncovered, is gone; beside the head it becomes the grey
    background (label and colour), above the brows inside the head ellipse skin; nothing else moves."""
    from facehub.editing.blend import fill_uncovered_hair

    image, labels, points = _portrait((200, 40, 20), slice(0, 96), seed=2)
    before = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    out, new_labels = before.clone(), torch.from_numpy(labels.astype(np.int64))
    uncovered = new_labels == HAIR
    fill_uncovered_hair(out, new_labels, uncovered, points)
    assert not (new_labels == HAIR).any()
    assert torch.equal(out[:, ~uncovered], before[:, ~uncovered])
    side = uncovered & (new_labels == 0)
    top = uncovered & (new_labels == SKIN)
    assert side.sum() > 50 and top.sum() > 20
    assert (side.numpy()[40:60, :20].any())  # beside the face: background
    grey = out[:, side].mean(1) * 255
    assert (grey - 120).abs().max() < 25  # the textured grey background (100-140), not the red hair
    skin = out[:, top].mean(1) * 255
    assert (skin - torch.tensor([220.0, 180.0, 150.0])).abs().max() < 25
