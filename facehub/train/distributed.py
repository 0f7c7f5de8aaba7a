"""DDP plumbing for the training engine: the process group, this rank's share of the data, syncs.

Under ``torchrun --nproc_per_node N`` every process gets ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK``; :func:`init_distributed` joins the process group (nccl on CUDA, gloo on the
CPU) and returns this process's :class:`Shard`. Without those variables everything here is a
no-op for one process, so a recipe runs unchanged on a laptop.

Data: a *global batch* is ``world * batch_size`` consecutive indices of one index stream that
every rank draws identically (same seed); rank ``r`` takes every ``world``-th index from
position ``r`` (``DistributedSampler``'s interleave). The union of the ranks' batches at step
``k`` is therefore exactly the batch a single process with ``world * batch_size`` would draw at
step ``k``; with gradients averaged by DDP (per-rank losses are batch means) the update is the
same too.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler


@dataclass(frozen=True)
class Shard:
    """Where this process sits: ``rank`` of ``world`` processes, ``local_rank`` on its node."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 does all file I/O (logs, checkpoints, export) and validation."""
        return self.rank == 0


def init_distributed(use_cuda: bool) -> tuple[Shard, bool]:
    """Join the process group when ``WORLD_SIZE`` > 1; returns (shard, whether we created the group).

    The backend is nccl when ``use_cuda`` (and this process is pinned to GPU ``LOCAL_RANK``), else gloo.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Shard(), False
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    created = not dist.is_initialized()
    if created:
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return Shard(dist.get_rank(), dist.get_world_size(), local_rank), created


def broadcast_float(value: float, shard: Shard, device: torch.device) -> float:
    """Rank 0's ``value`` on every rank (one float64 broadcast; identity for one process)."""
    if shard.world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(tensor, src=0)
    return float(tensor.item())


def wrap_ddp(module: torch.nn.Module, shard: Shard, device: torch.device, find_unused: bool) -> torch.nn.Module:
    """``DistributedDataParallel(module)`` when distributed and ``module`` has trainable weights, else ``module``."""
    if shard.world == 1 or not any(p.requires_grad for p in module.parameters()):
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=device_ids, find_unused_parameters=find_unused)


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP wrapper (for its own methods: ``loss``, ``decode_outputs``, ...)."""
    return module.module if isinstance(module, torch.nn.parallel.DistributedDataParallel) else module


class ShardStream(Sampler[int]):
    """This rank's indices of a sampler's stream: positions ``skip + rank``, ``skip + rank + world``, ...

    ``sampler`` must yield the same sequence on every rank (seed its generator).
    """

    def __init__(self, sampler: Iterable[int], shard: Shard, skip: int = 0) -> None:
        self.sampler, self.shard, self.skip = sampler, shard, skip

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(iter(self.sampler), self.skip + self.shard.rank, None, self.shard.world)

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip - self.shard.rank + self.shard.world - 1) // self.shard.world  # type: ignore[arg-type]


def shard_loader(
    dataset: Dataset, batch_size: int, shard: Shard, start_step: int = 0, seed: int = 0,
    sampler: Sampler[int] | None = None, collate_fn: Callable[[list], Any] | None = None, num_workers: int = 0,
) -> Iterator[Any]:
    """Endless batches of ``batch_size`` (per rank) of this rank's share, from global step ``start_step`` on.

    Without ``sampler``: epochs of ``DistributedSampler(shuffle=True, seed=seed, drop_last=True)`` with
    ``set_epoch``; with one (e.g. a seeded ``WeightedRandomSampler``): its stream, sharded by
    :class:`ShardStream`. Incomplete batches are dropped. Skipping ``start_step`` batches touches indices only.
    """
    def loader(indices: Iterable[int]) -> DataLoader:
        return DataLoader(dataset, batch_size=batch_size, sampler=indices, drop_last=True,  # type: ignore[arg-type]
                          collate_fn=collate_fn, num_workers=num_workers)

    if sampler is not None:
        yield from loader(ShardStream(sampler, shard, start_step * batch_size * shard.world))
        raise RuntimeError(f"The sampler's stream ended; give it enough samples (it has {len(sampler)}).")  # type: ignore[arg-type]
    per_epoch = len(dataset) // shard.world // batch_size  # type: ignore[arg-type]
    if per_epoch == 0:
        raise ValueError(f"{len(dataset)} samples cannot fill one global batch of {shard.world} x {batch_size}.")  # type: ignore[arg-type]
    epoch, skip = divmod(start_step, per_epoch)
    while True:
        epoch_sampler = DistributedSampler(dataset, shard.world, shard.rank, shuffle=True, seed=seed, drop_last=True)
        epoch_sampler.set_epoch(epoch)
        yield from loader(list(epoch_sampler)[skip * batch_size:])
        epoch, skip = epoch + 1, 0


def is_main_process() -> bool:
    """Whether this process is rank 0 (from torchrun's ``RANK``; True without torchrun), before any group exists."""
    return int(os.environ.get("RANK", "0")) == 0
