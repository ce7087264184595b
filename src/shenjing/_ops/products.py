"""Products and tables built from vectors: ``cross``, ``vdot``, ``chain_matmul``, ``vander``,
``combinations``. Each is a composition of differentiable ops (no backward of its own).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from shenjing._ops._util import check_tensor, normalize_dim
from shenjing._ops.index import getitem
from shenjing._ops.linalg import dot, matmul
from shenjing._ops.shape import broadcast_tensors, stack
from shenjing._tensor import Tensor

__all__ = ["cross", "vdot", "chain_matmul", "vander", "combinations"]


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (inputs broadcast); without ``dim``, along the first
    dim of size 3 (PyTorch's deprecated default; ``linalg.cross`` uses the last dim).

    >>> import shenjing
    >>> shenjing.cross(shenjing.tensor([1., 0., 0.]), shenjing.tensor([0., 1., 0.]), dim=0)
    tensor([0., 0., 1.])
    """
    check_tensor(input)
    check_tensor(other, "cross(): other")
    if input.ndim != other.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions (got {input.ndim} and "
                           f"{other.ndim})")
    input, other = broadcast_tensors(input, other)
    if dim is None:
        sizes = list(input.shape)
        if 3 not in sizes:
            raise RuntimeError(f"no dimension of size 3 in input (shape {sizes})")
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                      "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
                      "with that of linalg.cross in a future release.", UserWarning, stacklevel=2)
        dim = sizes.index(3)
    dim = normalize_dim(dim, input.ndim)
    if input.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[dim]} and "
                           f"{other.shape[dim]}")
    a, b = input.unbind(dim), other.unbind(dim)
    return stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], dim)


def vdot(input: Tensor, other: Tensor) -> Tensor:
    """The dot product of two 1-D tensors (``conj(input) . other``; real tensors have no conjugate)."""
    check_tensor(input)
    check_tensor(other, "vdot(): other")
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.dtype != other.dtype:
        raise RuntimeError(f"vdot : expected both vectors to have same dtype, but found {input.dtype} and "
                           f"{other.dtype}")
    return dot(input, other)


def chain_matmul(*matrices: Tensor) -> Tensor:
    """The product of the given 2-D matrices, left to right (deprecated in PyTorch for
    ``linalg.multi_dot``, which takes a list)."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                  "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than multiple "
                  "parameters.", UserWarning, stacklevel=2)
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for i, m in enumerate(matrices):
        check_tensor(m, f"chain_matmul(): matrix {i}")
        if m.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m.ndim}, expected 2 instead (matrix {i})")
    if len(matrices) == 1:
        return matrices[0].clone()
    result = matrices[0]
    for m in matrices[1:]:
        result = matmul(result, m)
    return result


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of a 1-D ``x``: columns x^(N-1), ..., x, 1 (or 1, x, ..., x^(N-1) with
    ``increasing``); N defaults to len(x).

    >>> import shenjing
    >>> shenjing.vander(shenjing.tensor([1, 2, 3]), N=3)
    tensor([[1, 1, 1],
            [4, 2, 1],
            [9, 3, 1]])
    """
    check_tensor(x, "vander(): x")
    if x.ndim != 1:
        raise RuntimeError(f"x must be a one-dimensional tensor, got {x.ndim}-D")
    n = x.shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if x._data.dtype.kind in "biu":
        x = x.long()
    if n == 0:
        return Tensor._make(np.zeros((x.shape[0], 0), dtype=x._data.dtype))
    columns = [x * 0 + 1]
    for _ in range(1, n):
        columns.append(columns[-1] * x)
    if not increasing:
        columns.reverse()
    return stack(columns, 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-``r`` combinations of the elements of a 1-D ``input``, one per row (as
    ``itertools.combinations``, or ``combinations_with_replacement``).

    >>> import shenjing
    >>> shenjing.combinations(shenjing.tensor([1, 2, 3]))
    tensor([[1, 2],
            [1, 3],
            [2, 3]])
    """
    check_tensor(input)
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return Tensor._make(np.zeros(0, dtype=input._data.dtype))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(pick(range(input.shape[0]), r))
    if not rows:
        return Tensor._make(np.zeros((0, r), dtype=input._data.dtype))
    return getitem(input, np.asarray(rows, dtype=np.int64))
