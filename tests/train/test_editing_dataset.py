"""The portrait editor's training data: editing caches from human-labelled folders (mapped to EDIT_LABELS,
evaluation photos left out), several caches as one set, and mirroring that swaps left and right classes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facehub.editing.masks import INDEX
from facehub.train.editing.dataset import EditingPairs, build_human_editing_cache
from tests.train.test_editor_recipe import tiny_cache

CELEBAMASK19 = ["background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear", "mouth",
                "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth"]
POINTS5 = np.array([[40, 50], [88, 50], [64, 72], [46, 96], [82, 96]], np.float32)  # a face filling a 128 px photo


def _photo(seed: int) -> np.ndarray:
    """A smooth random 128 px photo: blurred noise, so that thumbnails of different seeds differ clearly."""
    small = np.random.default_rng(seed).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((128, 128), Image.BILINEAR))


def _human_folder(data: Path, cache: Path, count: int) -> np.ndarray:
    """``data/mini19/train`` with ``count`` photos and CelebAMask-19 labels, and its five-point index in ``cache``."""
    folder = data / "mini19" / "train"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    (folder / "classes.json").write_text(json.dumps({"classes": CELEBAMASK19}))
    label = np.zeros((128, 128), np.uint8)
    label[20:110, 30:98] = CELEBAMASK19.index("skin")
    label[45:55, 34:46] = CELEBAMASK19.index("l_eye")
    label[45:55, 82:94] = CELEBAMASK19.index("r_eye")
    label[30:110, 98:110] = CELEBAMASK19.index("l_ear")
    label[110:, :] = CELEBAMASK19.index("cloth")
    for i in range(count):
        Image.fromarray(_photo(i)).save(folder / "images" / f"{i}.jpg", quality=95)
        Image.fromarray(label).save(folder / "labels" / f"{i}.png")
    (cache / "parsing").mkdir(parents=True)
    np.savez(cache / "parsing" / "mini19_train.npz", names=np.array([f"{i}.jpg" for i in range(count)]),
             points5=np.stack([POINTS5] * count), labels=np.array(CELEBAMASK19))
    return label


def test_a_human_labelled_folder_becomes_an_editing_cache_without_the_evaluation_photos(tmp_path: Path,
                                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    _human_folder(data, cache, count=4)
    evaluation = tmp_path / "evaluation"
    evaluation.mkdir()
    Image.fromarray(_photo(2)).save(evaluation / "copy_of_2.jpg", quality=80)  # the same photo, re-encoded
    Image.fromarray(_photo(99)).save(evaluation / "other.jpg")
    monkeypatch.setenv("FACEHUB_DATA", str(data))
    monkeypatch.setenv("FACEHUB_CACHE", str(cache))

    path = build_human_editing_cache("mini19", "train", 64, exclude=evaluation)

    archive = np.load(path)
    assert path == cache / "editing" / "mini19_train_64.npz"
    assert list(archive["names"]) == ["0.jpg", "1.jpg", "3.jpg"]
    assert archive["images"].shape == (3, 64, 64, 3) and archive["labels"].shape == (3, 64, 64)
    present = set(np.unique(archive["labels"]).tolist())
    # eyes keep their classes, the ear joins the skin, clothes become background (EDIT_LABELS has none)
    assert {INDEX["left_eye"], INDEX["right_eye"], INDEX["skin"], INDEX["background"]} <= present
    assert present <= {INDEX["left_eye"], INDEX["right_eye"], INDEX["skin"], INDEX["background"]}


def test_several_caches_are_one_set_and_mirroring_swaps_left_and_right(tmp_path: Path) -> None:
    first, second = tiny_cache(tmp_path / "a.npz", count=3), tiny_cache(tmp_path / "b.npz", count=2)
    pairs = EditingPairs([first, second])
    assert len(pairs) == 5

    labels = pairs.labels[0]
    left = INDEX["left_eye"]
    ys, xs = torch.nonzero(labels == left, as_tuple=True)
    assert len(xs) and bool((xs < labels.shape[-1] // 2).all())  # the fixture's left_eye lies on the image's left
    _, mirrored = pairs._get(0, flip=True)
    # the mirrored pixel of each left-eye pixel is a right eye now, and no left eye stays on the image's right
    assert bool((mirrored[ys, labels.shape[-1] - 1 - xs] == INDEX["right_eye"]).all())
    assert not bool((mirrored[:, labels.shape[-1] // 2:] == left).any())
    _, unflipped = pairs._get(0, flip=False)
    assert torch.equal(unflipped, labels)
    assert sorted(set(mirrored.unique().tolist())) == sorted(set(labels.unique().tolist()))
