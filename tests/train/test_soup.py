"""Weight averages of one architecture's checkpoints (facehub/train/soup.py)."""

from __future__ import annotations

import pytest
import torch

from facehub.train.soup import average_state_dicts


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    net[1].num_batches_tracked.fill_(10 * seed + 1)
    return net


def test_floats_are_averaged_and_counters_taken_from_the_last() -> None:
    a, b = _net(0).state_dict(), _net(1).state_dict()
    out = average_state_dicts([a, b])
    assert list(out) == list(a)
    torch.testing.assert_close(out["0.weight"], (a["0.weight"] + b["0.weight"]) / 2)
    assert out["1.num_batches_tracked"].item() == b["1.num_batches_tracked"].item() == 11
    net = _net(2)
    net.load_state_dict(out, strict=True)  # the average loads into the same architecture
    torch.testing.assert_close(average_state_dicts([a])["0.weight"], a["0.weight"])


def test_fp16_states_average_in_fp32_and_keep_their_dtype() -> None:
    a = {"w": torch.tensor([1.0, 2049.0], dtype=torch.float16)}
    b = {"w": torch.tensor([2.0, 2051.0], dtype=torch.float16)}
    out = average_state_dicts([a, b])["w"]
    assert out.dtype == torch.float16
    torch.testing.assert_close(out, torch.tensor([1.5, 2050.0], dtype=torch.float16))


def test_other_architectures_are_refused() -> None:
    a = _net(0).state_dict()
    with pytest.raises(ValueError, match="other keys"):
        average_state_dicts([a, {**a, "extra": torch.zeros(1)}])
    with pytest.raises(ValueError, match="0.weight"):
        average_state_dicts([a, {**a, "0.weight": torch.zeros(1)}])
    with pytest.raises(ValueError, match="at least one"):
        average_state_dicts([])
