"""Embedding lookup: rows of a weight table picked by integer indices."""

from __future__ import annotations

import numpy as np

from shenjing._ops._util import check_tensor
from shenjing._ops.elementwise import where
from shenjing._ops.index import IndexAddInto
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.autograd.node import Op

__all__ = ["embedding"]


class Embedding(Op):
    """out[...] = weight[indices[...]] (``indices``: the last input, data, int64 in [0, num_embeddings)); the
    gradient of a row is the sum of the gradients of its lookups.

    Lookups of ``padding_idx`` contribute nothing to the gradient, so that row stays as it is.
    """

    data_inputs = 1

    def __init__(self, padding_idx: int | None) -> None:
        self.padding_idx = padding_idx

    def forward(self, weight, indices):
        _check_bounds(indices, weight.shape[0])  # (here, so that a replay of a compiled call checks them too)
        self.weight_shape, self.indices = weight.shape, indices
        return weight[indices]

    def backward(self, gy):
        if self.padding_idx is not None:
            is_padding = Tensor._make((self.indices == self.padding_idx)[..., None])
            gy = where(is_padding, 0.0, gy)
        # repeated indices accumulate: IndexAddInto adds with np.add.at
        return IndexAddInto(self.weight_shape, (self.indices,), True)(gy)


def _check_type(input: Tensor) -> None:
    if input._data.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.dtype} instead (while checking arguments for embedding)")


def _check_bounds(indices: np.ndarray, num_embeddings: int) -> None:
    if indices.size and (indices.min() < 0 or indices.max() >= num_embeddings):
        bad = indices.min() if indices.min() < 0 else indices.max()
        raise IndexError(f"index out of range in self: embedding index {int(bad)} is not in "
                         f"[0, {num_embeddings}) (num_embeddings={num_embeddings})")


def _renorm_rows(weight: Tensor, indices: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Scale the looked-up rows whose norm exceeds ``max_norm`` down to it, in place, without grad."""
    rows = np.unique(indices)
    values = weight._data[rows]
    norms = np.linalg.norm(values, ord=norm_type, axis=1)
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(values.dtype)
    with no_grad():
        weight._data[rows] = values * scale[:, None]
        weight._bump_version()


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight``: out[..., :] = weight[input[...], :].

    Shapes: input any shape of int64 indices in [0, num_embeddings); weight (num_embeddings,
    embedding_dim) -> input.shape + (embedding_dim,). The row ``padding_idx`` gets no gradient.
    With ``max_norm``, looked-up rows whose ``norm_type``-norm exceeds it are rescaled in place first.

    >>> import shenjing
    >>> table = shenjing.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
    >>> embedding(shenjing.tensor([[2, 1], [1, 0]]), table)
    tensor([[[3., 4.],
             [1., 2.]],
    <BLANKLINE>
            [[1., 2.],
             [0., 0.]]])
    """
    check_tensor(input)
    check_tensor(weight, "embedding(): weight")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                           f"{list(weight.shape)}")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse gradients are not supported")
    num_embeddings = weight.shape[0]
    _check_type(input)
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(f"padding_idx must be within num_embeddings ({num_embeddings}), got {padding_idx}")
        padding_idx %= num_embeddings
    if max_norm is not None:
        _check_bounds(input._data, num_embeddings)
        _renorm_rows(weight, input._data, max_norm, norm_type)
    return Embedding(padding_idx)(weight, input)
