"""Self-training labels: the teacher's map corrected where the real-label parser is sure, and read back for training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from facehub.parsing.labels import CELEBAMASK, FACEHUB, IGNORE
from facehub.train.parsing.dataset import TRAIN_SETS, is_held_out, load_items
from facehub.train.parsing.self_labels import corrected_label


def _probs(shape: tuple[int, int], name: str, p: float) -> np.ndarray:
    """(19, H, W) probabilities: ``p`` on ``name`` everywhere, the rest spread over background."""
    probs = np.zeros((len(CELEBAMASK), *shape), np.float32)
    probs[CELEBAMASK.index(name)] = p
    probs[0] += 1 - p
    return probs


def test_sure_pixels_take_the_parser_class_the_rest_keep_the_teacher() -> None:
    teacher = np.full((4, 6), FACEHUB.index("skin"), np.uint8)
    teacher[:, 4:] = IGNORE  # the teacher does not know the shirt
    probs = _probs((4, 6), "skin", 0.5)
    probs[:, :, 4:] = _probs((4, 2), "cloth", 0.95)
    probs[:, 0, 0] = _probs((1, 1), "eye_g", 0.7)[:, 0, 0]  # glasses: a rare class, trusted from 0.6
    label = corrected_label(teacher, probs, has_hair_mask=False, confident=0.9, confident_rare=0.6)
    assert (label[:, 4:] == CELEBAMASK.index("cloth")).all()
    assert label[0, 0] == CELEBAMASK.index("eye_g")
    assert (label[1:, :4] == CELEBAMASK.index("skin")).all()  # unsure: the teacher's skin, in the 19 classes


def test_a_real_hair_mask_wins_over_the_parser() -> None:
    teacher = np.full((2, 4), FACEHUB.index("skin"), np.uint8)
    teacher[:, :2] = FACEHUB.index("hair")  # a person's hair mask
    probs = _probs((2, 4), "hair", 0.99)
    probs[:, :, :2] = _probs((2, 2), "skin", 0.99)
    label = corrected_label(teacher, probs, has_hair_mask=True, confident=0.9, confident_rare=0.6)
    assert (label[:, :2] == CELEBAMASK.index("hair")).all()
    assert (label[:, 2:] == IGNORE).all()  # the parser's hair outside the mask: unknown, not hair
    without = corrected_label(teacher, probs, has_hair_mask=False, confident=0.9, confident_rare=0.6)
    assert (without[:, 2:] == CELEBAMASK.index("hair")).all() and (without[:, :2] == CELEBAMASK.index("skin")).all()


def test_load_items_reads_self_labels_for_training_only(tmp_path: Path) -> None:
    names = {"celebamask_hair_train": ["a.jpg"], "figaro1k_hair_train": ["b.jpg"], "ytf68": ["Ann_Lee_1.jpg", "Bob_Roe_2.jpg"]}
    assert set(names) == set(TRAIN_SETS)
    for dataset, files in names.items():
        (tmp_path / dataset).mkdir()
        for name in files:
            Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / dataset / f"{Path(name).stem}.png")
        np.savez(tmp_path / f"{dataset}.npz", names=np.array(files), points5=np.zeros((len(files), 5, 2), np.float32),
                 labels=np.array(CELEBAMASK.names))
    items = load_items("train", self_labels=tmp_path)
    expected = [n for d, files in names.items() for n in files if not is_held_out(d, n)]
    assert [item.image.name for item in items] == expected
    assert all(item.label.parent.parent == tmp_path and item.labels == CELEBAMASK.names and not item.human for item in items)


def test_the_parser_may_not_claim_skin_where_the_teacher_knows_nothing() -> None:
    teacher = np.full((2, 2), IGNORE, np.uint8)  # e.g. grey hair on a video frame
    label = corrected_label(teacher, _probs((2, 2), "skin", 0.99), has_hair_mask=False, confident=0.8, confident_rare=0.6)
    assert (label == IGNORE).all()
    label = corrected_label(teacher, _probs((2, 2), "hair", 0.99), has_hair_mask=False, confident=0.8, confident_rare=0.6)
    assert (label == CELEBAMASK.index("hair")).all()
