"""DataLoader: iterate over a dataset in mini-batches, in order or shuffled, stacked by a collate function.

With ``num_workers=0`` samples are loaded in the calling thread; with ``num_workers > 0`` by that many
worker processes, with PyTorch's semantics (``worker_init_fn``, ``get_worker_info``, ``prefetch_factor``,
``persistent_workers``, ``timeout``; see ``_multiprocessing``). ``pin_memory`` is accepted and ignored.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from shenjing import _random_draws
from shenjing._random import Generator, generator_or_default
from shenjing._tensor import Tensor
from shenjing.utils.data.collate import default_collate, default_convert
from shenjing.utils.data.dataset import IterableDataset, TensorDataset
from shenjing.utils.data._worker import get_worker_info
from shenjing.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info"]


class DataLoader:
    """Mini-batches of ``dataset``: ``for inputs, targets in DataLoader(dataset, batch_size=64, shuffle=True)``.

    Args:
        dataset: a map-style ``Dataset`` (``dataset[i]``, ``len``) or an ``IterableDataset``.
        batch_size: samples per batch (a positive int), or ``None`` for no batching (samples one by one,
            with NumPy arrays converted to tensors).
        shuffle: a new random order every epoch (``iter()``), drawn from ``generator`` or, without one,
            from shenjing's default generator, so ``shenjing.manual_seed(s)`` repeats it exactly.
        sampler: the order of the indices (any iterable of indices); excludes ``shuffle``.
        batch_sampler: yields whole lists of indices; excludes ``batch_size``, ``shuffle``, ``sampler``
            and ``drop_last``.
        num_workers: 0 loads in the calling thread; ``n > 0`` starts ``n`` worker processes (``fork`` where
            available, else ``spawn``; or ``multiprocessing_context``), each with its own copy of the
            dataset, seeded ``base_seed + worker_id`` (``get_worker_info().seed``) where the base seed is
            drawn from ``generator`` (else the default generator) at each ``iter()``. The batches and their
            order are those of ``num_workers=0``. An error in a worker is re-raised here, naming the worker.
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding, before loading.
        prefetch_factor: batches loaded in advance per worker (default 2; only with ``num_workers > 0``).
        persistent_workers: keep the workers between epochs (only with ``num_workers > 0``).
        timeout: seconds to wait for a batch from the workers before ``RuntimeError`` (0: no limit).
        collate_fn: list of samples -> batch; default ``default_collate`` (stacks tensors, arrays, numbers).
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        generator: the ``shenjing.Generator`` for shuffling.

    ``len(loader)`` is the number of batches: ceil(N / batch_size), or floor with ``drop_last``.

    >>> import shenjing
    >>> from shenjing.utils.data import TensorDataset
    >>> dataset = TensorDataset(shenjing.arange(5))
    >>> loader = DataLoader(dataset, batch_size=2)
    >>> len(loader), [batch.tolist() for (batch,) in loader]
    (3, [[0, 1], [2, 3], [4]])
    >>> g = shenjing.Generator().manual_seed(0)
    >>> sorted(sum((b.tolist() for (b,) in DataLoader(dataset, batch_size=2, shuffle=True, generator=g)), []))
    [0, 1, 2, 3, 4]
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Sampler | Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None, multiprocessing_context: Any = None,
                 generator: Generator | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"num_workers option should be a non-negative integer, but got "
                             f"num_workers={num_workers!r}; use num_workers=0 to disable multiprocessing")
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, but got timeout={timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing. let num_workers "
                             "> 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and (isinstance(prefetch_factor, bool) or prefetch_factor < 0):
            raise ValueError(f"prefetch_factor option should be non-negative, but got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if isinstance(dataset, IterableDataset):
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value is not None and value is not False:
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, but "
                                     f"got {name}={value!r} (an IterableDataset sets its own order)")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle (the sampler sets the order)")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                                 "drop_last")
        elif isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last!r}")

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.generator = generator
        self._is_iterable = isinstance(dataset, IterableDataset)
        if sampler is None and not self._is_iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_sampler is None and batch_size is not None and not self._is_iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_convert if batch_size is None and batch_sampler is None else default_collate
        self.collate_fn = collate_fn
        self._iterator: Any = None  # the persistent workers' iterator

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __iter__(self) -> Iterator[Any]:
        # one draw per epoch, as PyTorch: the workers' base seed (drawn with num_workers=0 too, so that the
        # sampler's draws, and so the batches, are the same whatever num_workers)
        base_seed = int(_random_draws.full_range_integers(generator_or_default(self.generator), (), np.int64))
        if self.num_workers > 0:
            from shenjing.utils.data._multiprocessing import MultiProcessingIterator

            if not self.persistent_workers:
                return MultiProcessingIterator(self, base_seed)
            if self._iterator is None:
                self._iterator = MultiProcessingIterator(self, base_seed)
            else:
                self._iterator._reset(self)
            return self._iterator
        if self._is_iterable:
            return self._iter_stream()
        if self.batch_sampler is not None:
            if (type(self.dataset) is TensorDataset and self.collate_fn is default_collate
                    and all(isinstance(t, Tensor) for t in self.dataset.tensors)):
                # what default_collate makes of the rows [dataset[i] for i in indices] (a list with one stacked
                # tensor per position) is each tensor indexed by all of them at once: one gather, not B rows
                return ([t[np.asarray(indices, dtype=np.int64)] for t in self.dataset.tensors]
                        for indices in self.batch_sampler)
            return (self.collate_fn([self.dataset[i] for i in indices]) for indices in self.batch_sampler)
        return (self.collate_fn(self.dataset[i]) for i in self.sampler)

    def _iter_stream(self) -> Iterator[Any]:
        """Batches of an IterableDataset: consecutive samples in the order it yields them."""
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        if self._is_iterable:
            n = len(self.dataset)  # TypeError if the stream has no length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)
