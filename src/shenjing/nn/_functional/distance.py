"""Distances and similarities between vectors: ``pairwise_distance``, ``cosine_similarity``, ``pdist``.
Composed of differentiable ops (``norm`` of ``shenjing._ops.reduce``)."""

from __future__ import annotations

import numpy as np

from shenjing._ops._util import check_tensor, float_input, normalize_dim
from shenjing._ops.elementwise import clamp
from shenjing._ops.reduce import norm
from shenjing._ops.shape import broadcast_tensors
from shenjing._tensor import Tensor
from shenjing.autograd.node import shown_as

__all__ = ["pairwise_distance", "cosine_similarity", "pdist"]


def clamped_below(x: Tensor, low: float) -> Tensor:
    """max(x, low) in value, but with the gradient of x itself everywhere (PyTorch clamps some
    denominators in place under no_grad, which hides the clamp from autograd)."""
    detached = x.detach()
    return x + (clamp(detached, min=low) - detached)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim (of the broadcast shapes).

    Shapes: (N, D) and (N, D) (or broadcastable, or (D,)) -> (N,) (``keepdim``: (N, 1)).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.pairwise_distance(shenjing.tensor([[0., 0.]]), shenjing.tensor([[3., 4.]]), eps=0.0)
    tensor([5.])
    """
    check_tensor(x1, "pairwise_distance(): x1")
    check_tensor(x2, "pairwise_distance(): x2")
    dim = max(x1.ndim, x2.ndim) - 1
    return shown_as(norm(float_input(x1) - x2 + eps, p, max(dim, 0), keepdim), "NormBackward1")  # (PyTorch's)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) along ``dim`` (after broadcasting).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.cosine_similarity(shenjing.tensor([[1., 0.]]), shenjing.tensor([[1., 1.]]))
    tensor([0.7071])
    """
    check_tensor(x1, "cosine_similarity(): x1")
    check_tensor(x2, "cosine_similarity(): x2")
    x1, x2 = broadcast_tensors(float_input(x1), float_input(x2))
    dim = normalize_dim(dim, x1.ndim)
    n1 = clamped_below(norm(x1, 2, dim, keepdim=True), eps)
    n2 = clamped_below(norm(x2, 2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """The p-norm distances ||x_i - x_j||_p between the rows of input (N, M), for i < j in row-major
    order: a vector of N(N - 1)/2 values (the upper triangle of the distance matrix).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.pdist(shenjing.tensor([[0., 0.], [3., 4.], [0., 1.]]))
    tensor([5.0000, 1.0000, 4.2426])
    """
    check_tensor(input, "pdist(): input")
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    first, second = np.triu_indices(input.shape[0], 1)
    x = float_input(input)
    rows = Tensor._make(first.astype(np.int64)), Tensor._make(second.astype(np.int64))
    return norm(x.index_select(0, rows[0]) - x.index_select(0, rows[1]), p, 1)
