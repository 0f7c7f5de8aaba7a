"""Label sets: sizes and spellings, palettes, left/right swaps, coarse classes, conversion, legends."""

from __future__ import annotations

import numpy as np
import pytest

from facehub.parsing.labels import (
    CELEBAMASK,
    COARSE_NAMES,
    FACEHUB,
    HELEN,
    IGNORE,
    LABEL_SETS,
    LAPA,
    coarse_lookup,
    convert,
    draw_legend,
    get_label_set,
    label_set_for,
)


def test_sizes_and_spellings() -> None:
    assert len(LAPA) == 11 and len(HELEN) == 11 and len(CELEBAMASK) == 19 and len(FACEHUB) == 15
    assert LAPA.names[:2] == ("background", "skin") and LAPA.names[-1] == "hair"
    assert CELEBAMASK.names[13] == "hair" and CELEBAMASK.names[-1] == "cloth"
    assert FACEHUB.names[11:] == ("l_ear", "r_ear", "neck", "cloth")


@pytest.mark.parametrize("name", sorted(LABEL_SETS))
def test_palette_distinct_and_ignore_white(name: str) -> None:
    labels = get_label_set(name)
    colours = {tuple(c) for c in labels.colours}
    assert len(colours) == len(labels)
    assert labels.palette.shape == (256, 3) and tuple(labels.palette[IGNORE]) == (255, 255, 255)


@pytest.mark.parametrize("name", sorted(LABEL_SETS))
def test_flip_permutation_is_an_involution(name: str) -> None:
    perm = get_label_set(name).flip_permutation()
    assert np.array_equal(perm[perm], np.arange(len(perm)))


def test_flip_swaps_sides() -> None:
    perm = FACEHUB.flip_permutation()
    assert FACEHUB.names[perm[FACEHUB.index("left_eye")]] == "right_eye"
    assert FACEHUB.names[perm[FACEHUB.index("l_ear")]] == "r_ear"
    assert perm[FACEHUB.index("nose")] == FACEHUB.index("nose")


def test_coarse_lookup_groups_parts() -> None:
    table = coarse_lookup(FACEHUB)
    coarse = {name: COARSE_NAMES[table[i]] for i, name in enumerate(FACEHUB.names)}
    assert coarse["neck"] == coarse["l_ear"] == "skin"
    assert coarse["left_eyebrow"] == "hair" and coarse["inner_mouth"] == "mouth" and coarse["cloth"] == "background"
    assert table[IGNORE] == IGNORE


def test_convert_between_sets() -> None:
    fine = np.array([[FACEHUB.index("left_eye"), FACEHUB.index("neck"), FACEHUB.index("inner_mouth"), IGNORE]], np.uint8)
    lapa = convert(fine, FACEHUB, LAPA)
    assert list(lapa[0]) == [LAPA.index("left_eye"), LAPA.index("skin"), LAPA.index("inner_mouth"), IGNORE]
    celeba = convert(fine, FACEHUB, CELEBAMASK)
    assert list(celeba[0]) == [CELEBAMASK.index("l_eye"), CELEBAMASK.index("neck"), CELEBAMASK.index("mouth"), IGNORE]


def test_label_set_for_and_legend() -> None:
    assert label_set_for(list(FACEHUB.names)) is FACEHUB
    assert label_set_for(["background", "thing"]).name == "custom"
    legend = draw_legend(FACEHUB)
    assert legend.height >= 15 * 16 and legend.mode == "RGB"
    with pytest.raises(KeyError, match="Valid"):
        get_label_set("nope")
