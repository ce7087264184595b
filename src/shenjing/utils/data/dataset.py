"""Datasets: indexable collections of samples (``Dataset``) and streams of samples (``IterableDataset``).

A map-style dataset defines ``__getitem__(index)`` and ``__len__``; an iterable dataset defines ``__iter__``.
``TensorDataset``, ``Subset`` and ``ConcatDataset`` build datasets from tensors and from other datasets, and
``random_split`` divides one dataset into non-overlapping random parts.
"""

from __future__ import annotations

import bisect
import math
import numbers
from typing import Any, Generic, Iterable, Iterator, Sequence, TypeVar

from shenjing._creation import randperm
from shenjing._random import Generator

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "ChainDataset", "Subset",
           "random_split", "StackDataset"]

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map-style dataset: subclasses define ``__getitem__(index)`` and (usually) ``__len__``.

    ``dataset_a + dataset_b`` is a ``ConcatDataset`` of the two.

    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, index):
    ...         return index * index
    >>> [Squares()[i] for i in range(4)]
    [0, 1, 4, 9]
    """

    def __getitem__(self, index: Any) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: "Dataset[T_co]") -> "ConcatDataset[T_co]":
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A dataset read as a stream: subclasses define ``__iter__`` (and may define ``__len__``).

    Use it for data that cannot be indexed (a generator, a file read line by line). A ``DataLoader`` batches
    what it yields in order; it cannot shuffle it.

    >>> class Count(IterableDataset):
    ...     def __iter__(self):
    ...         return iter(range(3))
    >>> list(Count())
    [0, 1, 2]
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other: "Dataset[T_co]") -> "ChainDataset":
        return ChainDataset([self, other])


class TensorDataset(Dataset[tuple]):
    """Samples are rows of the given tensors: ``dataset[i] == (tensors[0][i], tensors[1][i], ...)``.

    Every tensor must have the same size N in dim 0 (the number of samples).

    >>> import shenjing
    >>> x, y = shenjing.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), shenjing.tensor([0, 1, 1])
    >>> dataset = TensorDataset(x, y)
    >>> len(dataset), dataset[1]
    (3, (tensor([3., 4.]), tensor(1)))
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        sizes = [len(t) for t in tensors]
        if any(size != sizes[0] for size in sizes):
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors: every tensor needs the same size "
                             f"in dim 0 (the number of samples), got shapes {shapes}")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at the given ``indices``, in that order.

    >>> part = Subset([10, 11, 12, 13], [3, 0])
    >>> len(part), part[0], part[1]
    (2, 13, 10)
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: int) -> T_co:
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[T_co]):
    """Map-style datasets one after another: indices run through the first, then the second, ...

    ``cumulative_sizes[k]`` is the total length of the first k+1 datasets.

    >>> both = ConcatDataset([[1, 2, 3], [4, 5]])
    >>> len(both), both[3], both[-1], both.cumulative_sizes
    (5, 4, 5, [3, 5])
    """

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for dataset in self.datasets:
            if isinstance(dataset, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset (use ChainDataset)")
        self.cumulative_sizes = []
        total = 0
        for dataset in self.datasets:
            total += len(dataset)
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> T_co:
        if index < 0:
            if -index > len(self):
                raise IndexError(f"index {index} is out of range for a ConcatDataset of length {len(self)}")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        if which == len(self.datasets):
            raise IndexError(f"index {index} is out of range for a ConcatDataset of length {len(self)}")
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after another (the streaming form of ``ConcatDataset``).

    >>> list(ChainDataset([range(2), range(3)]))
    [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)

    def __iter__(self) -> Iterator:
        for dataset in self.datasets:
            yield from dataset

    def __len__(self) -> int:
        return sum(len(dataset) for dataset in self.datasets)


def _lengths_from_fractions(fractions: Sequence[float], total: int) -> list[int]:
    """floor(fraction * total) each, then the left-over samples one at a time to the first parts (as PyTorch)."""
    if any(f < 0 or f > 1 for f in fractions):
        raise ValueError(f"random_split: fractions must lie in [0, 1], got {list(fractions)}")
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
        raise ValueError(f"random_split: fractions must sum to 1, got {list(fractions)} (sum {sum(fractions)})")
    lengths = [int(math.floor(total * f)) for f in fractions]
    for i in range(total - sum(lengths)):
        lengths[i % len(lengths)] += 1
    return lengths


def random_split(dataset: Any, lengths: Sequence[int | float],
                 generator: Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset`` s of the given lengths.

    ``lengths`` are sample counts that add up to ``len(dataset)``, or fractions that add up to 1 (any float
    in the list makes them fractions; the left-over samples go one each to the first parts). The order comes
    from ``generator``, or from shenjing's default generator, so ``shenjing.manual_seed`` makes it repeatable.

    >>> import shenjing
    >>> train, valid = random_split(range(10), [0.8, 0.2], generator=shenjing.Generator().manual_seed(0))
    >>> len(train), len(valid), sorted(list(train) + list(valid)) == list(range(10))
    (8, 2, True)
    """
    total = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if any(isinstance(n, bool) or not isinstance(n, numbers.Real) for n in lengths):
        raise TypeError(f"random_split: lengths must be ints or fractions, got {lengths}")
    if any(not isinstance(n, numbers.Integral) for n in lengths):
        lengths = _lengths_from_fractions([float(n) for n in lengths], total)
    if any(n < 0 for n in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if sum(lengths) != total:
        raise ValueError(f"random_split: the lengths {lengths} sum to {sum(lengths)}, but the dataset has "
                         f"{total} samples")
    order = randperm(total, generator=generator).tolist()
    parts, start = [], 0
    for n in lengths:
        parts.append(Subset(dataset, order[start:start + n]))
        start += n
    return parts


class StackDataset(Dataset):
    """Datasets of equal length side by side: sample i is the tuple of their i-th samples (datasets given as
    arguments) or a dict (given as keywords).

    >>> StackDataset([1, 2], ["a", "b"])[1], StackDataset(x=[1, 2], y=["a", "b"])[0]
    ((2, 'b'), {'x': 1, 'y': 'a'})
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via ``kwargs``) like "
                             "input/output, but both types are given.")
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        datasets = list(args) if args else list(kwargs.values())
        self._length = len(datasets[0])
        if any(self._length != len(dataset) for dataset in datasets):
            raise ValueError("Size mismatch between datasets")
        self.datasets: tuple | dict = tuple(args) if args else dict(kwargs)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(self.datasets, dict):
            return {key: dataset[index] for key, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __getitems__(self, indices: list) -> list:
        """The samples at ``indices`` (each dataset's own ``__getitems__`` used where it has one)."""
        datasets = self.datasets.values() if isinstance(self.datasets, dict) else self.datasets
        columns = []
        for dataset in datasets:
            if callable(getattr(dataset, "__getitems__", None)):
                items = dataset.__getitems__(indices)
                if len(items) != len(indices):
                    raise ValueError(f"Nested dataset's output size mismatch. Expected {len(indices)}, got "
                                     f"{len(items)}")
                columns.append(list(items))
            else:
                columns.append([dataset[i] for i in indices])
        if isinstance(self.datasets, dict):
            keys = list(self.datasets)
            return [dict(zip(keys, row)) for row in zip(*columns)]
        return [tuple(row) for row in zip(*columns)]

    def __len__(self) -> int:
        return self._length
