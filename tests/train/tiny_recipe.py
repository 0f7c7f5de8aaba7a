"""A tiny regression recipe for the engine's tests: 48 random samples, a 4-8-1 MLP, MSE."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from facehub.train.engine import Recipe, Shard, StepContext, shard_loader


class TinyRecipe(Recipe):
    """Batches of ``batch_size`` per rank from one seeded ``DistributedSampler`` stream; validation: MSE on all samples."""

    def __init__(self, batch_size: int = 4, samples: int = 48) -> None:
        generator = torch.Generator().manual_seed(123)
        self.data = TensorDataset(torch.randn(samples, 4, generator=generator), torch.randn(samples, 1, generator=generator))
        self.batch_size = batch_size
        self.validated: list[int] = []

    def models(self) -> dict[str, torch.nn.Module]:
        return {"model": torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))}

    def batches(self, shard: Shard, start_step: int):
        return shard_loader(self.data, self.batch_size, shard, start_step, seed=7)

    def loss(self, model: torch.nn.Module, batch, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        inputs, target = batch
        loss = F.mse_loss(model(inputs), target)
        return loss, {"mse": float(loss.detach())}

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, final: bool) -> dict[str, float]:
        inputs, target = self.data.tensors
        self.validated.append(int(final))
        return {"mse": float(F.mse_loss(model(inputs), target))}

    def export_config(self) -> dict:
        return {"family": "tiny", "task": "test", "model_args": {}}
