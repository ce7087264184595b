"""softmax, log_softmax and one_hot.

softmax(z)_i = exp(z_i) / sum_j exp(z_j), computed with z - max(z) so that logits like 1000 and
-1000 neither overflow nor produce NaN. log_softmax(z) = z - logsumexp(z), computed the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing import _dtype
from shenjing._ops._util import cast_to, check_tensor, float_input, normalize_dim
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op


__all__ = ["softmax", "log_softmax", "one_hot"]


class Softmax(Op):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x):
        shifted = np.exp(x - x.max(axis=self.dim, keepdims=True))
        out = shifted / shifted.sum(axis=self.dim, keepdims=True)
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        # dz = y * (dy - sum(dy * y))
        if _GradState.enabled:  # create_graph: differentiable ops
            (out,) = self.saved_tensors
            return out * (gy - (gy * out).sum(self.dim, keepdim=True))
        (out,) = self.saved_arrays
        gx = np.multiply(gy._data, out)
        gx -= out * np.add.reduce(gx, axis=self.dim, keepdims=True)
        return Tensor._make(gx)


class LogSoftmax(Op):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x):
        shifted = x - x.max(axis=self.dim, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=self.dim, keepdims=True))
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        # dz = dy - softmax(z) * sum(dy)
        if _GradState.enabled:  # create_graph: differentiable ops
            (out,) = self.saved_tensors
            return gy - out.exp() * gy.sum(self.dim, keepdim=True)
        (out,) = self.saved_arrays
        gx = np.exp(out)
        gx *= np.add.reduce(gy._data, axis=self.dim, keepdims=True)
        return Tensor._make(np.subtract(gy._data, gx, out=gx))


def _prepare(input: Tensor, dim: int, dtype: Any) -> tuple[Tensor, int]:
    check_tensor(input)
    input = cast_to(input, _dtype.as_dtype(dtype)) if dtype is not None else float_input(input)
    return input, normalize_dim(dim, input._data.ndim)


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """exp(z_i) / sum_j exp(z_j) along ``dim``; numerically stable for any finite logits.

    >>> import shenjing
    >>> softmax(shenjing.tensor([1.0, 3.0, 0.0, 0.0]), dim=0)  # the notes' table: 0.110 0.810 0.040 0.040
    tensor([0.1096, 0.8098, 0.0403, 0.0403])
    """
    input, dim = _prepare(input, dim, dtype)
    if input._data.ndim == 0:
        return Softmax(0)(input.reshape(1)).reshape(())
    return Softmax(dim)(input)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """z_i - log(sum_j exp(z_j)) along ``dim``; finite for logits like 1000 and -1000."""
    input, dim = _prepare(input, dim, dtype)
    if input._data.ndim == 0:
        return LogSoftmax(0)(input.reshape(1)).reshape(())
    return LogSoftmax(dim)(input)


class OneHot(Op):
    """out[..., k] = 1 where k is the index, else 0, for int64 indices in [0, num_classes); int64, never
    differentiable (the range is checked here, so that a replay of a compiled call checks it too)."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes

    def forward(self, indices):
        _check_classes(indices, self.num_classes)
        result = np.zeros(indices.shape + (self.num_classes,), dtype=np.int64)
        np.put_along_axis(result, indices[..., None].astype(np.int64), 1, axis=-1)
        return result


def _check_classes(indices: np.ndarray, num_classes: int) -> None:
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise RuntimeError(f"Class values must be non-negative and smaller than num_classes={num_classes}, "
                           f"got values in [{int(indices.min())}, {int(indices.max())}]")


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices (int64, any shape) -> one-hot int64 tensor with a trailing dim of ``num_classes``
    (-1: one more than the largest index, read from the values).

    >>> import shenjing
    >>> one_hot(shenjing.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    check_tensor(tensor, "one_hot(): tensor")
    if tensor._data.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot is only applicable to index tensor of type int64, got {tensor.dtype}")
    if num_classes != -1:
        return OneHot(num_classes)(tensor)
    indices = tensor._data  # (the size comes from the values: not an op, so a compiled call runs it eagerly)
    if indices.size == 0:
        raise RuntimeError("Can not infer total number of classes from empty tensor.")
    return Tensor._make(OneHot(int(indices.max()) + 1).forward(indices))