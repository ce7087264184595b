"""``DistributedSampler``: each rank's share of a dataset's indices, the same partition as PyTorch's."""

from __future__ import annotations

import math
import numbers
from typing import Iterator, Sized

from shenjing._creation import randperm
from shenjing._random import Generator
from shenjing.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler[int]):
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` visits in this epoch.

    All ranks draw the same permutation (``shenjing.randperm`` with a generator seeded ``seed + epoch``,
    as PyTorch's does; ``shuffle=False``: 0, 1, ..., n - 1). Unless ``drop_last``, the order is padded
    with its own first indices to a multiple of ``num_replicas``; with ``drop_last`` the tail is dropped
    instead. Rank r takes every ``num_replicas``-th index starting at r, so each rank gets
    ``num_samples`` = ceil(n / num_replicas) indices (``drop_last``: ceil((n - num_replicas) / num_replicas))
    and the shares do not overlap beyond the padding. Call ``set_epoch(epoch)`` before each epoch for a
    new order. ``num_replicas``/``rank`` default to ``shenjing.distributed``'s world size and rank.

    >>> list(DistributedSampler(range(5), num_replicas=2, rank=0, shuffle=False))
    [0, 2, 4]
    >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))  # padded with index 0
    [1, 3, 0]
    >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False, drop_last=True))
    [1, 3]
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from shenjing import distributed

            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        for name, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an integer, but got {value!r}")
        if num_replicas < 1:
            raise ValueError(f"num_replicas must be at least 1, but got {num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0
        size = len(dataset)
        if drop_last and size % self.num_replicas != 0:
            self.num_samples = math.ceil((size - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(size / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self) -> Iterator[int]:
        size = len(self.dataset)
        if self.shuffle:
            generator = Generator()
            generator.manual_seed(self.seed + self.epoch)
            order = randperm(size, generator=generator).tolist()
        else:
            order = list(range(size))
        if self.drop_last:
            order = order[:self.total_size]
        elif order:
            missing = self.total_size - len(order)
            repeats = math.ceil(missing / len(order))
            order = order + (order * repeats)[:missing]
        return iter(order[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of epoch ``epoch`` (seeded ``seed + epoch``) from the next ``iter()`` on."""
        self.epoch = epoch
