"""Starting a 19-class parser from a 15-class checkpoint: shared classes keep their logits, new ones start rare."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facehub.hub import save_pretrained
from facehub.parsing.labels import CELEBAMASK, FACEHUB
from facehub.registry import build_model
from facehub.train.parsing.relabel import NEW_CLASS_BIAS, class_rows, is_new_class, load_relabelled

FAMILIES = {  # BiSeNet's classes sit on a convolution's axis 0, the face transformer's on a transposed one's axis 1
    "bisenet": {"backbone_width": 8, "spatial_width": 8, "context_width": 16, "fuse_width": 16},
    "face_transformer": {"image_size": 64, "patch": 16, "dim": 32, "depth": 1, "heads": 2, "mlp": 32,
                         "decoder_width": 16, "skip": True, "skip_width": 8},
}


def test_class_rows_follow_names() -> None:
    rows = class_rows(FACEHUB, CELEBAMASK)
    for target, source in (("l_brow", "left_eyebrow"), ("r_eye", "right_eye"), ("mouth", "inner_mouth"),
                           ("u_lip", "upper_lip"), ("cloth", "cloth"), ("hat", "hair"), ("background", "background")):
        assert FACEHUB.names[rows[CELEBAMASK.index(target)]] == source
    new = {CELEBAMASK.names[i] for i in np.where(is_new_class(FACEHUB, CELEBAMASK))[0]}
    assert new == {"eye_g", "hat", "ear_r", "neck_l"}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_relabelled_model_reproduces_the_source_logits(tmp_path, family: str) -> None:
    torch.manual_seed(0)
    args = FAMILIES[family]
    source = build_model(family, dict(args, num_classes=len(FACEHUB))).eval()
    config = {"family": family, "task": "parsing", "model_args": dict(args, num_classes=len(FACEHUB)),
              "labels": list(FACEHUB.names), "input_size": 64}
    folder = save_pretrained(source, config, tmp_path / "src", half=False)
    target = build_model(family, dict(args, num_classes=len(CELEBAMASK))).eval()
    load_relabelled(target, folder, CELEBAMASK)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before, after = source(x), target(x)
    rows = class_rows(FACEHUB, CELEBAMASK)
    new = is_new_class(FACEHUB, CELEBAMASK)
    torch.testing.assert_close(after[:, ~new], before[:, rows[~new]])
    torch.testing.assert_close(after[:, new], before[:, rows[new]] - NEW_CLASS_BIAS)
