"""Samplers: the order in which a DataLoader visits a dataset's indices, and how it groups them into batches.

Random samplers draw from the ``generator`` they are given, else from shenjing's default generator (so
``shenjing.manual_seed`` makes them repeatable). Each ``iter()`` draws a fresh order: one per epoch.
"""

from __future__ import annotations

import numbers
from typing import Any, Generic, Iterator, Sequence, Sized, TypeVar

import numpy as np

from shenjing import _random_draws
from shenjing._random import Generator, default_generator, generator_or_default

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]

T_co = TypeVar("T_co", covariant=True)
_DRAW_CHUNK = 32  # RandomSampler with replacement draws this many indices at a time, as PyTorch does


def _check_positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value!r}")


def _check_bool(value: Any, name: str) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} should be a boolean value, but got {name}={value!r}")


class Sampler(Generic[T_co]):
    """Base class: subclasses define ``__iter__`` (the indices) and, when they know it, ``__len__``."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler[int]):
    """The indices 0, 1, ..., len(data_source) - 1 in order.

    >>> list(SequentialSampler("abc"))
    [0, 1, 2]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """A random order of the indices: a permutation, or ``num_samples`` draws with ``replacement=True``.

    Without replacement and with ``num_samples`` > len(data_source), it chains fresh permutations.

    >>> import shenjing
    >>> sampler = RandomSampler(range(5), generator=shenjing.Generator().manual_seed(0))
    >>> sorted(sampler)
    [0, 1, 2, 3, 4]
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        _check_bool(replacement, "replacement")
        if num_samples is not None:
            _check_positive_int(num_samples, "num_samples")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        # As PyTorch: drawn as the indices are consumed (32 at a time with replacement, one permutation at a
        # time without), so memory stays bounded for any num_samples; without a generator of its own, a seed
        # is drawn from the default generator (``random_()`` of an int64) and a fresh generator seeded with
        # it makes the order, so the order does not depend on what else draws from the default one meanwhile.
        n, count = len(self.data_source), self.num_samples
        if self.generator is None:
            seed = int(_random_draws.full_range_integers(default_generator, (), np.int64))
            generator = Generator().manual_seed(seed)
        else:
            generator = generator_or_default(self.generator)
        if self.replacement:
            for _ in range(count // _DRAW_CHUNK):
                yield from _random_draws.integers(generator, (_DRAW_CHUNK,), 0, n).tolist()
            yield from _random_draws.integers(generator, (count % _DRAW_CHUNK,), 0, n).tolist()
            return
        if n == 0:
            return
        for _ in range(count // n):
            yield from _random_draws.permutation(generator, n).tolist()
        yield from _random_draws.permutation(generator, n)[:count % n].tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given ``indices`` in a random order (a fresh permutation each epoch).

    >>> import shenjing
    >>> sorted(SubsetRandomSampler([7, 3, 5], generator=shenjing.Generator().manual_seed(0)))
    [3, 5, 7]
    """

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        order = _random_draws.permutation(generator_or_default(self.generator), len(self.indices))
        return iter([self.indices[i] for i in order.tolist()])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices drawn with probability proportional to ``weights`` (one weight per sample).

    >>> import shenjing
    >>> set(WeightedRandomSampler([0.0, 1.0, 0.0], 4, generator=shenjing.Generator().manual_seed(0)))
    {1}
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Generator | None = None) -> None:
        _check_positive_int(num_samples, "num_samples")
        _check_bool(replacement, "replacement")
        weights = np.asarray(weights.numpy() if hasattr(weights, "numpy") else weights, dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(f"weights should be a 1-D sequence, but got shape {weights.shape}")
        if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError("weights should be finite and non-negative, with a positive sum")
        if not replacement and num_samples > np.count_nonzero(weights):
            raise ValueError(f"num_samples={num_samples} is more than the {np.count_nonzero(weights)} samples "
                             f"with non-zero weight; pass replacement=True to draw with replacement")
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        draws = _random_draws.multinomial(generator_or_default(self.generator), self.weights[None, :],
                                          self.num_samples, self.replacement)[0]  # torch.multinomial's
        return iter(draws.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Groups the indices of ``sampler`` into lists of ``batch_size``; ``drop_last`` drops a short last one.

    >>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6]]
    >>> list(BatchSampler(range(7), batch_size=3, drop_last=True))
    [[0, 1, 2], [3, 4, 5]]
    """

    def __init__(self, sampler: Sampler[int] | Sequence[int], batch_size: int, drop_last: bool) -> None:
        _check_positive_int(batch_size, "batch_size")
        _check_bool(drop_last, "drop_last")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
