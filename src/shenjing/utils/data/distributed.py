"""``DistributedSampler``: each of ``num_replicas`` processes reads its own share of a dataset (PyTorch's
``torch.utils.data.distributed.DistributedSampler``).

The indices (a permutation seeded by ``seed + epoch`` when ``shuffle``, else 0 .. n-1) are padded by repeating
the first ones to a multiple of ``num_replicas`` (or cut to one with ``drop_last``), and replica ``rank`` takes
every ``num_replicas``-th index starting at ``rank``. In a single process, pass ``num_replicas`` and ``rank``;
left out, they come from an initialised ``shenjing.distributed`` process group.

>>> sampler = DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=False)
>>> list(sampler), len(sampler)
([1, 4, 7, 0], 4)
"""

from __future__ import annotations

import importlib
import math
from typing import Any, Iterator

from shenjing._creation import randperm
from shenjing._random import Generator
from shenjing.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


def _process_group(what: str) -> int:
    """The world size or rank of the initialised process group; a clear error when there is none."""
    try:
        distributed = importlib.import_module("shenjing.distributed")
    except ImportError:
        distributed = None
    if distributed is None or not getattr(distributed, "is_initialized", lambda: False)():
        raise RuntimeError("Default process group has not been initialized, please make sure to call "
                           "init_process_group (or pass num_replicas and rank to DistributedSampler).")
    return distributed.get_world_size() if what == "world_size" else distributed.get_rank()


class DistributedSampler(Sampler[int]):
    """The indices of replica ``rank`` among ``num_replicas`` (see the module docstring). Call
    ``set_epoch(epoch)`` before each epoch so that shuffling differs from epoch to epoch."""

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None:
            num_replicas = _process_group("world_size")
        if rank is None:
            rank = _process_group("rank")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if self.drop_last and len(self.dataset) % self.num_replicas != 0:
            self.num_samples = math.ceil((len(self.dataset) - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(len(self.dataset) / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = Generator()
            generator.manual_seed(self.seed + self.epoch)
            indices = randperm(len(self.dataset), generator=generator).tolist()
        else:
            indices = list(range(len(self.dataset)))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` in the shuffling seed (``seed + epoch``), so that every replica reshuffles alike."""
        self.epoch = epoch
