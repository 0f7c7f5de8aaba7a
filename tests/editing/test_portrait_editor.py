"""The mask-guided portrait editor: sub-network shapes, embedding placement (training losses: tests/train)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from facehub.editing.models.portrait_editor import (
    COMPONENTS,
    PortraitEditor,
    component_centres,
    component_masks,
    crop_components,
    crop_sizes,
    make_inputs,
    place_embeddings,
)

R, B, C = 32, 2, 11


def face_labels(batch: int = B, size: int = R) -> torch.Tensor:
    """A face-like synthetic layout: hair on top, skin, two eyes, a mouth."""
    lab = torch.zeros(batch, size, size, dtype=torch.long)
    s = size // 16
    lab[:, 1 * s : 6 * s, 3 * s : 13 * s] = 10  # hair
    lab[:, 5 * s : 14 * s, 4 * s : 12 * s] = 1  # skin
    lab[:, 7 * s : 8 * s, 5 * s : 7 * s] = 4  # one eye (image left)
    lab[:, 7 * s : 8 * s, 9 * s : 11 * s] = 5  # the other eye
    lab[:, 11 * s : 12 * s, 6 * s : 10 * s] = 7  # lip
    return lab


def one_hot(lab: torch.Tensor) -> torch.Tensor:
    return F.one_hot(lab, C).permute(0, 3, 1, 2).float()


@pytest.fixture(scope="module")
def model() -> PortraitEditor:
    torch.manual_seed(0)
    return PortraitEditor(resolution=R, width=4, embed_channels=8, mask_channels=8, n_res=1)


def test_crop_sizes_scale_with_resolution() -> None:
    paper = crop_sizes(256)
    assert paper["left_eye"] == (32, 48) and paper["mouth"] == (80, 144) and paper["hair"] == (256, 256)
    half = crop_sizes(128)
    assert half["left_eye"] == (16, 24) and half["mouth"] == (40, 72) and half["face"] == (128, 128)
    for size in crop_sizes(64).values():
        assert size[0] % 4 == 0 and size[1] % 4 == 0


def test_every_subnetwork_shape(model: PortraitEditor) -> None:
    sizes = crop_sizes(R)
    for name in COMPONENTS:
        h, w = sizes[name]
        emb = model.encoders[name](torch.rand(B, 3, h, w))
        assert emb.shape == (B, 8, h // 4, w // 4)
        assert model.decoders[name](emb).shape == (B, 3, h, w)
    assert model.mask_encoder(torch.rand(B, C, R, R)).shape == (B, 8, R // 4, R // 4)
    features = model.generator(torch.rand(B, 16, R // 4, R // 4))
    assert features.shape == (B, 16, R // 4, R // 4)
    back = model.background_encoder(torch.rand(B, 4, R, R))
    assert back.shape == (B, 8, R // 4, R // 4)
    out = model.background_decoder(torch.cat([features, back], 1))
    assert out.shape == (B, 3, R, R) and out.abs().max() <= 1


def test_forward_end_to_end(model: PortraitEditor) -> None:
    lab = face_labels()
    image = torch.rand(B, 3, R, R) * 2 - 1
    inputs = make_inputs(image, one_hot(lab), image, one_hot(lab), torch.ones(B, 5, dtype=torch.bool))
    out = model(**inputs.as_kwargs())
    assert out.image.shape == (B, 3, R, R)
    assert set(out.decoded) == set(COMPONENTS)
    # the background keeps the non-face, non-hair pixels only
    assert torch.all(inputs.background[inputs.keep.expand_as(image) == 0] == 0)


def test_component_masks_and_centres() -> None:
    masks = component_masks(one_hot(face_labels(1, 64)))
    assert masks.shape == (1, 5, 64, 64)
    centres = component_centres(masks)[0]
    assert torch.allclose(centres[0], torch.tensor([23.5, 29.5]))  # image-left eye: x 20..27, y 28..31
    assert torch.allclose(centres[1], torch.tensor([39.5, 29.5]))
    empty = component_centres(torch.zeros(1, 5, 64, 64))
    assert torch.allclose(empty, torch.full((1, 5, 2), 31.5))


def test_embeddings_are_placed_at_the_target_mask_positions() -> None:
    size = 16
    target = torch.zeros(1, 5, size * 4, size * 4)
    target[0, 0, 20:28, 8:16] = 1  # left eye centred at (11.5, 23.5) px
    target[0, 2, 44:52, 24:40] = 1  # mouth centred at (31.5, 47.5) px
    target[0, 4, 0:16, :] = 1  # hair band on top
    centres = component_centres(target) / 4
    gates = F.avg_pool2d(target, 4)
    embeddings = {
        "left_eye": torch.ones(1, 2, 2, 4),
        "right_eye": torch.zeros(1, 2, 2, 4),
        "mouth": torch.full((1, 2, 2, 4), 10.0),
        "face": torch.zeros(1, 2, size, size),
        "hair": torch.full((1, 2, size, size), 100.0),
    }
    canvas = place_embeddings(embeddings, centres, gates, size)[0, 0]
    eye_rows, eye_cols = torch.nonzero(canvas == 1, as_tuple=True)
    assert (eye_rows.min(), eye_rows.max(), eye_cols.min(), eye_cols.max()) == (5, 6, 1, 4)  # centre (2.9, 5.9)
    mouth_rows, mouth_cols = torch.nonzero(canvas == 10, as_tuple=True)
    assert (mouth_rows.min(), mouth_rows.max(), mouth_cols.min(), mouth_cols.max()) == (11, 12, 6, 9)
    assert torch.all(canvas[:4] == 100) and torch.all(canvas[4:] < 100)  # hair only under the hair gate
    assert int((canvas != 0).sum()) == 8 + 8 + 4 * size


def test_placement_clips_at_the_border() -> None:
    emb = {name: torch.ones(1, 1, 2, 4) if name not in ("face", "hair") else torch.zeros(1, 1, 8, 8) for name in COMPONENTS}
    centres = torch.tensor([[[0.0, 0.0], [7.9, 7.9], [-5.0, -5.0], [4.0, 4.0], [4.0, 4.0]]])
    canvas = place_embeddings(emb, centres, torch.zeros(1, 5, 8, 8), 8)
    assert canvas.shape == (1, 1, 8, 8) and 0 < canvas.sum() < 16


def test_crop_components_shapes() -> None:
    lab = face_labels(B, 64)
    masks = component_masks(one_hot(lab))
    crops = crop_components(torch.rand(B, 3, 64, 64), masks, component_centres(masks), 64)
    sizes = crop_sizes(64)
    for name in COMPONENTS:
        assert crops[name].shape == (B, 3, *sizes[name])


def test_a_frame_embedding_is_its_own_inside_the_source_mask_and_its_mean_beyond() -> None:
    embedding = torch.arange(2 * 4 * 4, dtype=torch.float32).view(1, 2, 4, 4)
    gate = torch.zeros(1, 1, 4, 4)
    gate[..., :2, :] = 1  # the source's hair: the top two rows
    filled = PortraitEditor.fill_beyond_source(embedding, gate)
    torch.testing.assert_close(filled[..., :2, :], embedding[..., :2, :])
    mean = embedding[..., :2, :].mean((-2, -1), keepdim=True)
    torch.testing.assert_close(filled[..., 2:, :], mean.expand(1, 2, 2, 4))
    assert torch.equal(PortraitEditor.fill_beyond_source(embedding, torch.zeros_like(gate)), torch.zeros_like(embedding))


def test_short_source_hair_on_a_longer_target_layout_still_drives_the_longer_part(model: PortraitEditor) -> None:
    target_labels = face_labels(1)
    source_labels = target_labels.clone()
    source_labels[source_labels == 10] = 0
    source_labels[:, 2 : 4, 6 : 10] = 10  # a little tuft where the target has a wide band of hair
    bright = torch.ones(1, 3, R, R)
    swap = torch.zeros(1, 5, dtype=torch.bool)
    swap[:, COMPONENTS.index("hair")] = True
    inputs = make_inputs(bright, one_hot(source_labels), -bright, one_hot(target_labels), swap)
    assert torch.equal(inputs.frame_masks[:, 1], component_masks(one_hot(source_labels))[:, 4])
    with_fill = model(**inputs.as_kwargs()).image
    without = model(**{**inputs.as_kwargs(), "frame_masks": None}).image
    hair_beyond = (target_labels[0] == 10) & (source_labels[0] != 10)
    assert float((with_fill - without)[0, :, hair_beyond].abs().mean()) > 1e-4  # the tuft's features reach there
