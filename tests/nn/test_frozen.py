"""A frozen trace gives each family's outputs for any batch size, and is only made where it may be."""

import pytest
import torch

from facehub.detection.models.blazeface import BlazeFace
from facehub.nn.frozen import FrozenModule
from facehub.registry import build_model
from tests.nn.test_fuse import FAMILIES, _flatten

CASES = {family: (lambda family=family, args=args: build_model(family, args), size, "forward") for family, (args, size) in FAMILIES.items()}
CASES["bisenet_coarse"] = (lambda: build_model("bisenet", FAMILIES["bisenet"][0]), 64, "coarse_logits")
CASES["blazeface_short"] = (lambda: BlazeFace("short"), 128, "forward")
CASES["blazeface_full"] = (lambda: BlazeFace("full"), 192, "forward")


@pytest.mark.parametrize("case", sorted(CASES))
def test_trace_matches_the_module_for_every_batch_size(case):
    make, size, method = CASES[case]
    torch.manual_seed(0)
    model = make().eval().to(memory_format=torch.channels_last)
    frozen = FrozenModule(model, method)
    with torch.inference_mode():
        first = torch.randn(2, 3, size, size).contiguous(memory_format=torch.channels_last)
        frozen(first)
        assert not frozen._traces  # the first call of a layout runs the module itself
        frozen(first)  # the second traces, at batch size 2
        assert len(frozen._traces) == 1
        for batch in (1, 3):
            x = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
            for got, want in zip(_flatten(frozen(x)), _flatten(getattr(model, method)(x))):
                assert got.shape == want.shape
                assert torch.allclose(got, want, rtol=1e-4, atol=1e-5)
        assert len(frozen._traces) == 1  # one trace for every batch size


def test_no_trace_with_gradients_in_training_or_off_the_cpu_layout():
    model = build_model("pipnet", FAMILIES["pipnet"][0]).eval()
    frozen = FrozenModule(model, trace_after=0)
    x = torch.randn(1, 3, 64, 64)
    frozen(x)  # gradients enabled
    with torch.no_grad():
        model.train()
        frozen(x)
        model.eval()
        assert not frozen._traces
        frozen(x)
        frozen(x.contiguous(memory_format=torch.channels_last))
    assert len(frozen._traces) == 2  # NCHW and channels-last traced apart
