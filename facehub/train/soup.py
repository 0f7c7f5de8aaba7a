"""Uniform weight averages ("model soups", Wortsman et al. 2022) of checkpoints that share one architecture and one
lineage (a model and its own fine-tuned continuation): the averaged network runs at the same cost as either."""

from __future__ import annotations

import torch


def average_state_dicts(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The mean of each floating-point tensor over ``states`` (computed in fp32, returned in the first state's
    dtype); integer tensors (BatchNorm's step counters) are taken from the last state. Every state must hold the
    same keys and shapes (``ValueError`` names the first that differs)."""
    if not states:
        raise ValueError("Nothing to average: give at least one state dict.")
    keys = list(states[0])
    for index, state in enumerate(states[1:], start=1):
        if list(state) != keys:
            odd = sorted(set(keys) ^ set(state))
            raise ValueError(f"State {index} holds other keys than state 0 (e.g. {odd[:3]}): not one architecture.")
        for key in keys:
            if state[key].shape != states[0][key].shape:
                raise ValueError(
                    f"State {index}'s {key!r} is {tuple(state[key].shape)}, state 0's {tuple(states[0][key].shape)}."
                )
    averaged = {}
    for key in keys:
        first = states[0][key]
        if first.is_floating_point():
            averaged[key] = (sum(s[key].float() for s in states) / len(states)).to(first.dtype)
        else:
            averaged[key] = states[-1][key].clone()
    return averaged
