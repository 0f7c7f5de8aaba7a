"""Inference through a frozen TorchScript trace on the CPU.

A frozen trace runs the same operations without Python's per-layer calls, outputs identical. Measured on this
2-core CPU (in one process, 8 alternating blocks of 20 calls, one face, median): BlazeFace 7.6 -> 5.3 ms per photo,
the ``landmarks:pipnet`` stage 8.3 -> 7.4 ms, ``reconstruct:prnet`` 43.2 -> 41.6 ms, ``parse:bisenet`` 48.4 -> 46.9
ms. Tracing costs about a second per model, so a one-photo CLI run would lose by it: ``FrozenModule`` runs the
module itself for the first call of each input layout and traces at the second. One trace serves every batch size
(the traced graphs read the batch size from the input; ``tests/nn/test_frozen.py`` checks each family).
"""

from __future__ import annotations

import warnings
from collections import Counter

import torch
from torch import nn


class _Method(nn.Module):
    """``module.<method>`` as a module's ``forward`` (what ``torch.jit.trace`` takes)."""

    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        self.module = module
        self.method = method

    def forward(self, x: torch.Tensor):
        return getattr(self.module, self.method)(x)


class FrozenModule:
    """``frozen(x)`` = ``getattr(module, method)(x)`` for inference (the module in eval mode, no gradients).

    On the CPU, from the ``trace_after + 1``-th call with the same input layout (shape without the batch size,
    dtype, channels-last or not) on, through a frozen TorchScript trace of the method made at that call. On other
    devices, with gradients enabled or with the module in training mode, always the module itself. Traces hold
    the weights as they were when traced: build a new ``FrozenModule`` after changing them.
    """

    def __init__(self, module: nn.Module, method: str = "forward", trace_after: int = 1) -> None:
        self.module = module
        self.method = method
        self.trace_after = trace_after
        self._calls: Counter = Counter()
        self._traces: dict[tuple, torch.jit.ScriptModule] = {}

    def __call__(self, x: torch.Tensor):
        if x.device.type != "cpu" or torch.is_grad_enabled() or self.module.training:
            return getattr(self.module, self.method)(x)
        key = (tuple(x.shape[1:]), x.dtype, x.is_contiguous(memory_format=torch.channels_last))
        trace = self._traces.get(key)
        if trace is None:
            self._calls[key] += 1
            if self._calls[key] <= self.trace_after:
                return getattr(self.module, self.method)(x)
            trace = self._traces[key] = self._trace(x)
        return trace(x)

    def _trace(self, x: torch.Tensor) -> torch.jit.ScriptModule:
        example = torch.zeros(x.shape, dtype=x.dtype)
        if x.is_contiguous(memory_format=torch.channels_last):
            example = example.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape-derived constants: one trace per layout
            return torch.jit.freeze(torch.jit.trace(_Method(self.module, self.method).eval(), example))
