"""Parsing data: the CelebAMask-HQ merge on the real hair masks, layout readers, pseudo-labels, augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facehub.geometry.align import CropSpec
from facehub.parsing.labels import CELEBAMASK, FACEHUB, HELEN, IGNORE, LAPA
from facehub.train.data import cache_root, data_root
from facehub.train.data.parsing_layouts import (
    find_celebamask_parts,
    merge_celebamask_parts,
    open_parsing_folder,
)
from facehub.train.parsing.augment import ParsingAugment, augment, flip, recolour_lips

HAIR = data_root() / "celebamask_hair" / "val"
needs_hair = pytest.mark.skipif(not (HAIR / "masks").is_dir(), reason="shared celebamask_hair data not present")


@needs_hair
def test_merge_real_hair_masks() -> None:
    index = find_celebamask_parts(HAIR / "masks")
    assert len(index) > 100
    image_id = sorted(index)[0]
    assert set(index[image_id]) == {"hair"}
    merged = merge_celebamask_parts(index[image_id])
    raw = np.asarray(Image.open(index[image_id]["hair"]).convert("L")) > 127
    assert merged.shape == raw.shape == (512, 512)
    assert set(np.unique(merged)) <= {0, CELEBAMASK.index("hair")}
    assert np.array_equal(merged == CELEBAMASK.index("hair"), raw)


@needs_hair
def test_merge_order_later_parts_win(tmp_path: Path) -> None:
    hair = sorted(find_celebamask_parts(HAIR / "masks").items())[0][1]["hair"]
    skin = np.zeros((512, 512), np.uint8)
    skin[100:400, 100:400] = 255
    Image.fromarray(skin).save(tmp_path / "00001_skin.png")
    merged = merge_celebamask_parts({"skin": tmp_path / "00001_skin.png", "hair": hair})
    raw = np.asarray(Image.open(hair)) > 127
    assert (merged[raw] == CELEBAMASK.index("hair")).all()
    assert (merged[(skin > 0) & ~raw] == CELEBAMASK.index("skin")).all()
    with pytest.raises(ValueError, match="Unknown"):
        merge_celebamask_parts({"whiskers": hair})


@needs_hair
def test_celebamask_layout_reader(tmp_path: Path) -> None:
    root = tmp_path / "CelebAMask-HQ"
    (root / "CelebA-HQ-img").mkdir(parents=True)
    (root / "CelebAMask-HQ-mask-anno" / "14").mkdir(parents=True)
    for image in sorted((HAIR / "images").glob("*.jpg"))[:3]:
        (root / "CelebA-HQ-img" / image.name).symlink_to(image)
        (root / "CelebAMask-HQ-mask-anno" / "14" / f"{image.stem}_hair.png").symlink_to(HAIR / "masks" / f"{image.stem}_hair.png")
    folder = open_parsing_folder(root)
    assert folder.layout == "celebamask" and folder.labels is CELEBAMASK and len(folder.samples) == 3
    assert folder.samples[0].load_label().shape == (512, 512)


def test_lapa_and_helen_layouts(tmp_path: Path) -> None:
    image = np.zeros((20, 30, 3), np.uint8)
    for root in (tmp_path / "lapa" / "test", tmp_path / "helen"):
        (root / "images").mkdir(parents=True)
        Image.fromarray(image).save(root / "images" / "a.jpg")
        (root / "labels").mkdir()
    Image.fromarray(np.full((20, 30), 4, np.uint8)).save(tmp_path / "lapa" / "test" / "labels" / "a.png")
    (tmp_path / "helen" / "labels" / "a").mkdir()
    for k in range(11):
        Image.fromarray(np.full((20, 30), 200 if k == 6 else 10, np.uint8)).save(tmp_path / "helen" / "labels" / "a" / f"a_lbl{k:02d}.png")
    lapa = open_parsing_folder(tmp_path / "lapa")  # finds test/
    helen = open_parsing_folder(tmp_path / "helen")
    assert lapa.labels is LAPA and (lapa.samples[0].load_label() == 4).all()
    assert helen.labels is HELEN and (helen.samples[0].load_label() == 6).all()
    with pytest.raises(FileNotFoundError, match="LaPa"):
        open_parsing_folder(tmp_path)


def test_flip_swaps_classes() -> None:
    image = np.zeros((4, 6, 3), np.uint8)
    label = np.full((4, 6), IGNORE, np.uint8)
    label[:, :3] = FACEHUB.index("left_eye")
    _, flipped = flip(image, label, FACEHUB.flip_permutation())
    assert (flipped[:, 3:] == FACEHUB.index("right_eye")).all() and (flipped[:, :3] == IGNORE).all()


def test_augment_shapes_and_values() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 100, 3), dtype=np.uint8)
    label = rng.integers(0, 15, (120, 100)).astype(np.uint8)
    points = np.array([[35, 50], [65, 50], [50, 65], [38, 80], [62, 80]], np.float64)
    crop, crop_label = augment(image, label, points, CropSpec(64, 0.5), FACEHUB.flip_permutation(), rng, ParsingAugment())
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8 and crop_label.shape == (64, 64)
    assert set(np.unique(crop_label)) <= set(range(15)) | {IGNORE}


def test_recolour_lips_changes_the_lips_and_their_rim_only() -> None:
    """Lip pixels take one gain (darker here), pixels 3+ px away from them stay exactly as they were."""
    lips = (CELEBAMASK.index("u_lip"), CELEBAMASK.index("l_lip"))
    image = np.full((40, 40, 3), 180, np.uint8)
    label = np.full((40, 40), CELEBAMASK.index("skin"), np.uint8)
    label[15:20, 10:30], label[20:25, 10:30] = lips
    out = recolour_lips(image, label, lips, np.random.default_rng(1))
    assert not np.array_equal(out[17:23, 13:27], image[17:23, 13:27])
    assert np.ptp(out[17:23, 13:27].reshape(-1, 3), axis=0).max() <= 1  # one colour inside
    far = np.ones((40, 40), bool)
    far[12:28, 7:33] = False
    assert np.array_equal(out[far], image[far])
    assert np.array_equal(recolour_lips(image, np.zeros_like(label), lips, np.random.default_rng(1)), image)


def test_augment_recolours_lips_only_when_asked() -> None:
    """``lip_colour_p`` 0 (the default) never touches the lips: the same rng gives the same sample with or without lips."""
    image = np.random.default_rng(0).integers(0, 255, (120, 100, 3), dtype=np.uint8)
    label = np.full((120, 100), CELEBAMASK.index("u_lip"), np.uint8)
    points = np.array([[35, 50], [65, 50], [50, 65], [38, 80], [62, 80]], np.float64)
    perm = CELEBAMASK.flip_permutation()
    plain = augment(image, label, points, CropSpec(64, 0.5), perm, np.random.default_rng(3), ParsingAugment())[0]
    same = augment(image, label, points, CropSpec(64, 0.5), perm, np.random.default_rng(3), ParsingAugment(), (11, 12))[0]
    always = ParsingAugment(lip_colour_p=1.0, colour_p=0, gray_p=0, blur_p=0, lowres_p=0)
    recoloured = augment(image, label, points, CropSpec(64, 0.5), perm, np.random.default_rng(3), always, (11, 12))[0]
    assert np.array_equal(plain, same) and not np.array_equal(plain, recoloured)


TEACHER = cache_root() / "teacher" / "celebamask_hair_val.npz"


@pytest.mark.skipif(not TEACHER.is_file() or not (HAIR / "masks").is_dir(), reason="teacher cache not built")
def test_pseudo_label_on_a_real_image() -> None:
    from facehub.train.data.parsing_pseudo import (
        five_points_from_mesh,
        load_hair_mask,
        pseudo_label,
    )
    from facehub.train.data.teacher import load_teacher_cache

    cache = load_teacher_cache("celebamask_hair_val")
    index = int(np.where(cache.found())[0][0])
    name = str(cache.names[index])
    image = np.asarray(Image.open(cache.image_dir / name).convert("RGB"))
    hair = load_hair_mask(HAIR / "masks" / f"{Path(name).stem}_hair.png", image.shape[:2])
    label = pseudo_label(image, cache.points[index], cache.person_mask(name), hair)
    assert label.shape == image.shape[:2]
    present = set(np.unique(label))
    for part in ("skin", "nose", "left_eye", "right_eye", "upper_lip", "lower_lip", "hair"):
        assert FACEHUB.index(part) in present, part
    assert (label[hair] == FACEHUB.index("hair")).all()
    ys = {part: np.nonzero(label == FACEHUB.index(part))[0].mean() for part in ("left_eye", "nose", "upper_lip")}
    assert ys["left_eye"] < ys["nose"] < ys["upper_lip"]
    five = five_points_from_mesh(cache.points[index])
    assert five[0, 0] < five[1, 0] and five[2, 1] < five[3, 1]  # image-left eye first; nose above mouth


def test_merged_pngs_with_classes_json_are_read_in_their_own_label_set(tmp_path) -> None:
    """celebamask19's layout (images/ + labels/ + classes.json) is CelebAMask-HQ-19, not LaPa."""
    import json

    from PIL import Image

    from facehub.parsing.labels import CELEBAMASK
    from facehub.train.data.parsing_layouts import open_parsing_folder

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "a.jpg")
    label = np.full((8, 8), 18, np.uint8)  # cloth: outside LaPa's 0-10
    Image.fromarray(label).save(tmp_path / "labels" / "a.png")
    (tmp_path / "classes.json").write_text(json.dumps({"classes": list(CELEBAMASK.names)}))
    folder = open_parsing_folder(tmp_path)
    assert folder.labels is CELEBAMASK and folder.layout == "celebamask"
    assert (folder.samples[0].load_label() == 18).all()


def test_human_share_sets_the_sampling_mass_of_human_labels(tmp_path) -> None:
    from facehub.geometry.align import CropSpec
    from facehub.train.parsing.dataset import ParsingItem, ParsingTrainSet

    five = np.array([[40.0, 50.0], [88.0, 50.0], [64.0, 72.0], [46.0, 92.0], [82.0, 92.0]])
    items = [ParsingItem(tmp_path / f"{i}.jpg", tmp_path / f"{i}.png", five, "x", human=i < 2) for i in range(10)]
    weights = ParsingTrainSet(items, CropSpec(64), [0.5] * 3, [0.5] * 3, human_share=0.6).weights()
    human = np.array([item.human for item in items])
    assert np.isclose(weights[human].sum() / weights.sum(), 0.6)
    plain = ParsingTrainSet(items, CropSpec(64), [0.5] * 3, [0.5] * 3).weights()
    assert np.isclose(plain[human].sum() / plain.sum(), 0.2)  # no share: by count


def test_rare_boost_weights_the_human_faces_that_show_glasses(tmp_path) -> None:
    from facehub.geometry.align import CropSpec
    from facehub.train.parsing.dataset import ParsingItem, ParsingTrainSet

    five = np.array([[40.0, 50.0], [88.0, 50.0], [64.0, 72.0], [46.0, 92.0], [82.0, 92.0]])
    items = []
    for i in range(4):
        label = np.ones((8, 8), np.uint8)  # skin
        if i == 0:
            label[2, 2] = CELEBAMASK.index("eye_g")
        Image.fromarray(label).save(tmp_path / f"{i}.png")
        items.append(ParsingItem(tmp_path / f"{i}.jpg", tmp_path / f"{i}.png", five, "x", CELEBAMASK.names, human=i < 3))
    boosted = ParsingTrainSet(items, CropSpec(64), [0.5] * 3, [0.5] * 3, human_share=0.5, rare_boost=3.0).weights()
    assert np.isclose(boosted[0], 3 * boosted[1]) and np.isclose(boosted[1], boosted[2])
    assert np.isclose(boosted[:3].sum() / boosted.sum(), 0.5)  # the share holds
    plain = ParsingTrainSet(items, CropSpec(64), [0.5] * 3, [0.5] * 3, human_share=0.5).weights()
    assert np.isclose(plain[0], plain[1])
