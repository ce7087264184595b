"""Collation: turn a list of samples into one batch, following PyTorch's ``default_collate`` rules.

=====================================  ==============================================================
one sample is                          the batch of B samples is
=====================================  ==============================================================
Tensor of shape S                      Tensor of shape (B, *S) (``stack``)
ndarray of shape S                     Tensor of shape (B, *S), same dtype
NumPy scalar (np.float32(1), ...)      Tensor of shape (B,), same dtype
Python float / int / bool              Tensor of shape (B,): float64 / int64 / bool
str or bytes                           a list of the B values, unchanged
dict                                   a dict of batches, key by key
namedtuple                             the same namedtuple of batches, field by field
tuple or list                          a list of batches, position by position
=====================================  ==============================================================
"""

from __future__ import annotations

import collections.abc
from typing import Any, Sequence

import numpy as np

from shenjing import _dtype
from shenjing._creation import as_tensor, tensor
from shenjing._ops.shape import stack
from shenjing._tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_BAD_TYPE = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_numeric_array(value: Any) -> bool:
    return isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in "biuf"


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch (see the table in this module's docstring).

    >>> import numpy as np
    >>> default_collate([(np.zeros(2), 1), (np.ones(2), 0)])
    [tensor([[0., 0.],
            [1., 1.]], dtype=shenjing.float64), tensor([1, 0])]
    >>> default_collate([{"x": 0.5}, {"x": 1.5}])
    {'x': tensor([0.5000, 1.5000], dtype=shenjing.float64)}
    """
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, (np.ndarray, np.generic)) and not isinstance(elem, (np.str_, np.bytes_)):
        if not _is_numeric_array(elem):
            raise TypeError(_BAD_TYPE.format(elem.dtype))
        if elem.ndim == 0:
            return as_tensor(np.array(batch))
        return stack([as_tensor(np.asarray(sample)) for sample in batch], 0)
    if isinstance(elem, float):
        return tensor(batch, dtype=_dtype.float64)
    if isinstance(elem, int):  # bool is an int: a batch of bools becomes a bool tensor
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size (got lengths "
                               f"{[len(sample) for sample in batch]})")
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError(_BAD_TYPE.format(type(elem)))


def default_convert(data: Any) -> Any:
    """Turn NumPy arrays (also inside dicts, tuples and lists) into tensors; leave everything else alone.

    The DataLoader uses it instead of ``default_collate`` when ``batch_size=None`` (no batching).

    >>> import numpy as np
    >>> default_convert((np.array([1, 2]), "label"))
    (tensor([1, 2]), 'label')
    """
    if isinstance(data, (np.ndarray, np.generic)) and _is_numeric_array(data):
        return as_tensor(np.asarray(data))  # asarray: a NumPy scalar keeps its dtype
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if _is_namedtuple(data):
        return type(data)(*(default_convert(value) for value in data))
    if isinstance(data, tuple):
        return tuple(default_convert(value) for value in data)
    if isinstance(data, list):
        return [default_convert(value) for value in data]
    return data
