"""No seams: a face's claim fades toward its crop's border (``facehub.parsing.predictor.composite``).

Checked against the paste-back the parser used before (kept here as ``hard_composite``): on a real two-face
photo and on a face cut by the image's edge, the old map has a class edge running along each crop's bottom
border and the faded one (``FaceParser.fade_band = FADE_BAND``) has none there, while the faces' pixels well
inside their crops stay the same.

What these tests do not claim: where the crop is sure of a class right up to its border (the shirts of
two_people.jpg, Grace Hopper's uniform), the faded map ends that class in a line parallel to the border about
5 px (of the 176 px grid) inside it instead, along as much of the border as the old map did (measured with
``seam_fraction``'s offset: 0.49 / 0.36 / 0.78 of the border at 4-6 px in, against 0.48 / 0.26 / 0.75 at the
border without the fade). Nothing is known beyond the crop; see ``facehub.parsing.predictor``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facehub.geometry.align import invert_affine, paste_back, rescale_matrices
from facehub.hub import weights_root
from facehub.image import load_image
from facehub.parsing.predictor import FADE_BAND, _crop_window, composite, crop_weight

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HAS_BISENET = (weights_root() / "bisenet" / "model.safetensors").is_file()


def hard_composite(probs: torch.Tensor, matrices: np.ndarray, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The paste-back before the fade: every face claims its whole crop at full strength."""
    height, width = image_size
    fg_score = np.zeros((height, width), np.float32)
    fg_class = np.zeros((height, width), np.uint8)
    face_index = np.full((height, width), -1, np.int16)
    bg_score = np.full((height, width), np.inf, np.float32)
    for index, matrix in enumerate(matrices):
        window = _crop_window(matrix, probs.shape[-1], (height, width))
        if window is None:
            continue
        x0, y0, x1, y1 = window
        shifted = matrix.copy()
        shifted[:, 2] += matrix[:, :2] @ np.array([x0, y0], dtype=np.float64)
        maps = torch.cat([probs[index:index + 1], torch.ones(1, 1, *probs.shape[-2:])], 1)
        pasted = paste_back(maps, shifted[None], (y1 - y0, x1 - x0))[0].numpy()
        covered = pasted[-1] > 0.5
        best = pasted[1:-1].argmax(0)
        best_score = np.take_along_axis(pasted[1:-1], best[None], 0)[0]
        region = (slice(y0, y1), slice(x0, x1))
        wins = covered & (best_score > fg_score[region])
        fg_score[region] = np.where(wins, best_score, fg_score[region])
        fg_class[region] = np.where(wins, best + 1, fg_class[region])
        face_index[region] = np.where(wins, index, face_index[region])
        bg_score[region] = np.where(covered, np.minimum(bg_score[region], pasted[0]), bg_score[region])
    foreground = fg_score > bg_score
    return np.where(foreground, fg_class, 0).astype(np.uint8), np.where(foreground, face_index, -1).astype(np.int16)


def seam_fraction(class_map: np.ndarray, matrix: np.ndarray, size: int, step: float = 2.0) -> float:
    """Share of the crop's bottom border (its part inside the photo) where the class ``step`` crop px inside
    the border is a face class and differs from the class ``step`` px outside: 1 = a straight edge all along."""
    xs = np.arange(size, dtype=np.float64)
    inverse = invert_affine(matrix)
    labels = []
    for y in (size - 0.5 - step, size - 0.5 + step):
        crop_points = np.stack([xs, np.full_like(xs, y)], 1)
        points = np.rint(crop_points @ inverse[:, :2].T + inverse[:, 2]).astype(int)
        labels.append(points)
    (inside, outside), (height, width) = labels, class_map.shape
    valid = ((inside >= 0) & (inside < [width, height]) & (outside >= 0) & (outside < [width, height])).all(1)
    assert valid.sum() > size // 4, "the crop's bottom border is not in the photo"
    a = class_map[inside[valid, 1], inside[valid, 0]]
    b = class_map[outside[valid, 1], outside[valid, 0]]
    return float(((a > 0) & (a != b)).mean())


def interior(matrix: np.ndarray, size: int, image_size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: photo pixels where the crop's weight is 1 (inside its fade band)."""
    weight = crop_weight(size, FADE_BAND)[None, None]
    return paste_back(weight, matrix[None], image_size)[0, 0].numpy() > 0.999


def test_crop_weight_is_one_inside_and_fades_to_zero_at_the_edge() -> None:
    weight = crop_weight(100, 0.1)
    assert weight.shape == (100, 100) and weight.dtype == torch.float32
    assert (weight[10:90, 10:90] == 1).all()
    assert weight[0].max() < 0.01 and weight[:, -1].max() < 0.01 and weight[50, 0] < weight[50, 3] < weight[50, 8] < 1
    assert (crop_weight(100, 0.0) == 1).all()


def test_overlapping_faces_the_more_confident_claim_wins() -> None:
    size = 40
    probs = torch.zeros(2, 3, size, size)
    probs[0, 1], probs[0, 0] = 0.9, 0.1  # face 0 says class 1 everywhere in its crop
    probs[1, 2], probs[1, 0] = 0.6, 0.4  # face 1 says class 2, less sure
    matrices = np.array([[[1.0, 0, 0], [0, 1.0, 0]], [[1.0, 0, -20], [0, 1.0, 0]]])  # crops at x 0-40 and 20-60
    class_map, face_index = composite(probs, matrices, (40, 60), fade_band=0.1)
    assert class_map[20, 25] == 1 and face_index[20, 25] == 0  # both at full strength: the surer face
    assert class_map[20, 38] == 2 and face_index[20, 38] == 1  # face 0's claim has faded at its border
    assert class_map[20, 50] == 2 and face_index[20, 50] == 1  # only face 1's crop saw it
    assert class_map[20, 59] == 0 and face_index[20, 59] == -1  # face 1's own border: faded to background
    assert ((class_map > 0) == (face_index >= 0)).all()


def _seams_and_interior(image: np.ndarray) -> tuple[list[float], list[float], float]:
    import facehub

    torch.set_num_threads(2)
    parser = facehub.load("bisenet", device="cpu")
    prepared = parser.prepare(image)
    assert prepared.faces
    probs = parser.crop_probabilities(prepared.crops, coarse=True)  # what the parser pastes, on the model's grid
    size, image_size = probs.shape[-1], image.shape[:2]
    matrices = rescale_matrices(prepared.matrices, prepared.crops.shape[-1], size)
    old_map, old_index = hard_composite(probs, matrices, image_size)
    shipped = parser(image, faces=prepared.faces)  # the checkpoint's own fade band (config.json)
    parser.fade_band = 0.0
    assert np.array_equal(parser(image, faces=prepared.faces).class_map, old_map)  # fade off: as before the fade
    parser.fade_band = FADE_BAND
    result = parser(image, faces=prepared.faces)
    assert np.array_equal(shipped.class_map, result.class_map)  # the shipped parser fades by default
    assert ((result.class_map > 0) == (result.face_index >= 0)).all()
    old = [seam_fraction(old_map, m, size) for m in matrices]
    new = [seam_fraction(result.class_map, m, size) for m in matrices]
    same = []
    for index, matrix in enumerate(matrices):
        own = interior(matrix, size, image_size) & (old_index == index)
        same.append(float((result.class_map[own] == old_map[own]).mean()))
    return old, new, min(same)


@pytest.mark.skipif(not HAS_BISENET, reason="no shipped bisenet weights")
def test_two_face_photo_has_no_seam_along_the_crops_bottom_border() -> None:
    old, new, same = _seams_and_interior(load_image(EXAMPLES / "two_people.jpg"))
    assert len(old) == 2
    # the control: without the fade a class edge runs along a fifth or more of each crop's bottom border (how much
    # depends on the weights: 0.45 / 0.25 with stage 10's, above 0.3 for both faces with stage 8's)
    assert min(old) > 0.2, f"the old paste-back should show the seam: {old}"
    assert max(new) < 0.05, f"seam along a crop border: {new}"
    assert same > 0.99


@pytest.mark.skipif(not HAS_BISENET, reason="no shipped bisenet weights")
def test_face_at_the_image_edge_has_no_seam() -> None:
    image = load_image(EXAMPLES / "grace_hopper.jpg")[:, 120:]  # face's crop runs past the photo's left edge
    old, new, same = _seams_and_interior(np.ascontiguousarray(image))
    assert min(old) > 0.3, f"the old paste-back should show the seam: {old}"
    assert max(new) < 0.05, f"seam along a crop border: {new}"
    assert same > 0.99
