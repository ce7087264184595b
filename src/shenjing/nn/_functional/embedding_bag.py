"""``embedding_bag``: the sum, mean or max of the embeddings of each bag of indices, without forming the
(bag, index, feature) tensor of ``embedding`` per bag.

Bags are the rows of a 2-D input, or the runs of a 1-D input that ``offsets`` start. The looked-up rows
E (M, D) are reduced by one product with a constant (B, M) matrix (1, a per-sample weight or 1/count
where index m belongs to bag b), so the gradient is that of ``embedding`` and of a matrix product; 'max'
takes the maximum over each bag. Entries equal to ``padding_idx`` are left out of their bags.
"""

from __future__ import annotations

import numpy as np

from shenjing._ops._util import check_tensor
from shenjing._ops.shape import stack
from shenjing._tensor import Tensor
from shenjing.autograd.node import shown_as
from shenjing.nn._functional.sparse import embedding

__all__ = ["embedding_bag"]


def _bags(input: Tensor, offsets: Tensor | None, include_last_offset: bool) -> tuple[np.ndarray, np.ndarray]:
    """The flat indices (M,) and the start of each bag (B + 1,), checked as PyTorch checks them."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets).__name__}")
        rows, length = input.shape
        return np.asarray(input._data).reshape(-1), np.arange(rows + 1) * length
    if input.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    check_tensor(offsets, "embedding_bag(): offsets")
    if offsets.ndim != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    starts = np.asarray(offsets._data).astype(np.int64)
    flat = np.asarray(input._data).reshape(-1)
    if starts.size and starts[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                           f"position 0. However, got {starts[0]}")
    if starts.size and starts[-1] > flat.size:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length ({flat.size}), but got offsets[-1] "
                           f"of {starts[-1]}")
    bounds = starts if include_last_offset else np.concatenate([starts, [flat.size]])
    return flat, bounds


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Reduce the embeddings of each bag: out[b] = reduce_{m in bag b} weight[input[m]] with ``mode`` 'sum'
    (optionally weighted by ``per_sample_weights``), 'mean' or 'max'. An empty bag gives zeros.

    Shapes: input (B, L) (B bags of L indices) with offsets None, or input (M,) with offsets (B,) (bag b is
    input[offsets[b]:offsets[b+1]]; (B + 1,) with ``include_last_offset``); weight (num_embeddings, D)
    -> (B, D).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> table = shenjing.tensor([[1., 0.], [0., 1.], [2., 2.]])
    >>> F.embedding_bag(shenjing.tensor([0, 1, 2, 2]), table, shenjing.tensor([0, 2]), mode='sum')
    tensor([[1., 1.],
            [4., 4.]])
    """
    check_tensor(input)
    check_tensor(weight, "embedding_bag(): weight")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode!r}")
    if per_sample_weights is not None:
        check_tensor(per_sample_weights, "embedding_bag(): per_sample_weights")
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                                      f"on GitHub.")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: If per_sample_weights ({list(per_sample_weights.shape)}) is not None, "
                             f"then it must have the same shape as the input ({list(input.shape)})")
    flat, bounds = _bags(input, offsets, include_last_offset)
    num_embeddings = weight.shape[0]
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(f"padding_idx must be within num_embeddings ({num_embeddings}), got {padding_idx}")
        padding_idx %= num_embeddings
    rows = embedding(Tensor._make(flat.astype(np.int64)), weight, padding_idx, max_norm, norm_type)  # (M, D)
    bag_count, total = len(bounds) - 1, flat.size
    member = np.zeros((bag_count, total), dtype=weight._data.dtype)
    for b in range(bag_count):
        member[b, bounds[b]:bounds[b + 1]] = 1.0
    if padding_idx is not None:
        member[:, flat == padding_idx] = 0.0
    if mode == "max":
        width = weight.shape[1]
        pooled = [rows.index_select(0, Tensor._make(np.nonzero(member[b])[0])).amax(0) if member[b].any() else
                  Tensor._make(np.zeros(width, dtype=weight._data.dtype)) for b in range(bag_count)]
        if not pooled:
            return Tensor._make(np.zeros((0, width), dtype=weight._data.dtype))
        return shown_as(stack(pooled), "EmbeddingBagBackward0")
    if mode == "mean":
        counts = member.sum(axis=1, keepdims=True)
        member = member / np.maximum(counts, 1)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1, 1)
    return shown_as(Tensor._make(member).matmul(rows), "EmbeddingBagBackward0")
