"""Margin and embedding losses with PyTorch's signatures and reductions ('none' | 'mean' | 'sum'):
``margin_ranking_loss``, ``hinge_embedding_loss``, ``soft_margin_loss``, ``cosine_embedding_loss``,
``multilabel_margin_loss``, ``multilabel_soft_margin_loss``, ``triplet_margin_loss`` and
``triplet_margin_with_distance_loss``. Each is composed of differentiable ops."""

from __future__ import annotations

from typing import Callable

import numpy as np

from shenjing._ops._util import check_tensor, float_input
from shenjing._ops.elementwise import minimum, relu, sqrt, where
from shenjing._tensor import Tensor
from shenjing.autograd.node import shown_as
from shenjing.nn._functional.activation import logsigmoid
from shenjing.nn._functional.distance import pairwise_distance
from shenjing.nn._functional.loss import _check_reduction, _legacy_reduction, _reduce

__all__ = ["margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss", "cosine_embedding_loss",
           "multilabel_margin_loss", "multilabel_soft_margin_loss", "triplet_margin_loss",
           "triplet_margin_with_distance_loss"]

_COSINE_EPSILON = 1e-12  # added to the squared norms by cosine_embedding_loss, as in PyTorch


def _reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return reduction


def _clamp_min_0(x: Tensor) -> Tensor:
    """max(x, 0): relu, shown as PyTorch's clamp_min(0) that these losses end with."""
    return shown_as(relu(x), "ClampMinBackward0")


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -y * (x1 - x2) + margin): x1 should rank above x2 where y = 1, below where y = -1.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.margin_ranking_loss(shenjing.tensor([1., 2.]), shenjing.tensor([2., 1.]), shenjing.tensor([1., 1.]))
    tensor(0.5000)
    """
    reduction = _reduction(size_average, reduce, reduction)
    for name, tensor in (("input1", input1), ("input2", input2), ("target", target)):
        check_tensor(tensor, f"margin_ranking_loss(): {name}")
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {list(input1.shape)}, input2: {list(input2.shape)}, target: "
                           f"{list(target.shape)} ")
    return _reduce(_clamp_min_0(-target * (float_input(input1) - input2) + margin), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average: bool | None = None,
                         reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """x where y = 1, max(0, margin - x) where y = -1 (x is typically a distance between a pair).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.hinge_embedding_loss(shenjing.tensor([0.3, 0.2]), shenjing.tensor([1., -1.]), reduction='none')
    tensor([0.3000, 0.8000])
    """
    reduction = _reduction(size_average, reduce, reduction)
    check_tensor(input)
    check_tensor(target, "hinge_embedding_loss(): target")
    input = float_input(input)
    margin_part = where(target != 1, relu(margin - input), 0.0)
    self_part = where(target != -1, input, 0.0)
    return _reduce(margin_part + self_part, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y * x)) for labels y = +-1 (the logistic loss), computed as -log(sigmoid(y * x)).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.soft_margin_loss(shenjing.tensor([0.]), shenjing.tensor([1.]))
    tensor(0.6931)
    """
    reduction = _reduction(size_average, reduce, reduction)
    check_tensor(input)
    check_tensor(target, "soft_margin_loss(): target")
    return shown_as(_reduce(-logsigmoid(float_input(input) * target), reduction), "SoftMarginLossBackward0")


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1.

    cos = <x1, x2> / sqrt((||x1||^2 + 1e-12)(||x2||^2 + 1e-12)) over the last dim. Shapes: input1,
    input2 (N, D) with target (N,), or (D,) with a 0-d target.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> x = shenjing.tensor([[1., 0.], [1., 0.]])
    >>> F.cosine_embedding_loss(x, shenjing.tensor([[0., 1.], [1., 0.]]), shenjing.tensor([1., -1.]), reduction='none')
    tensor([1., 1.])
    """
    reduction = _reduction(size_average, reduce, reduction)
    for name, tensor in (("input1", input1), ("input2", input2), ("target", target)):
        check_tensor(tensor, f"cosine_embedding_loss(): {name}")
    if target.ndim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    expected = target.ndim + 1
    if input1.ndim != expected or input2.ndim != expected:
        raise RuntimeError(f"{target.ndim}D target tensor expects {expected}D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    input1, input2 = float_input(input1), float_input(input2)
    dim = target.ndim
    products = (input1 * input2).sum(dim)
    squares = ((input1 * input1).sum(dim) + _COSINE_EPSILON) * ((input2 * input2).sum(dim) + _COSINE_EPSILON)
    cos = products / sqrt(squares)
    loss = where(target == 1, 1 - cos, 0.0) + where(target == -1, relu(cos - margin), 0.0)
    return _reduce(loss, reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: sum over target classes j and non-target classes i of
    max(0, 1 - (x[j] - x[i])), divided by the number of classes C.

    ``target`` (N, C) or (C,) int64 lists each sample's target classes first, ended by -1 (or by the
    end of the row); the rest is ignored.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.multilabel_margin_loss(shenjing.tensor([[0.1, 0.2, 0.4, 0.8]]), shenjing.tensor([[3, 0, -1, 1]]))
    tensor(0.8500)
    """
    reduction = _reduction(size_average, reduce, reduction)
    check_tensor(input)
    check_tensor(target, "multilabel_margin_loss(): target")
    if input.ndim > 2 or tuple(target.shape) != tuple(input.shape) or (input.ndim == 2 and input.shape[1] == 0):
        raise RuntimeError(f"multilabel_margin_loss: expected input of shape (C,) or (N, C) with a non-empty C and "
                           f"a target of the same shape, but got input {list(input.shape)} and target "
                           f"{list(target.shape)}")
    if target.dtype.is_floating_point:
        raise RuntimeError(f"multilabel_margin_loss: expected target of class indices (int64), got {target.dtype}")
    x = float_input(input)
    batched = x.ndim == 2
    x = x if batched else x.reshape(1, -1)
    labels = np.asarray(target._data).reshape(x.shape)
    classes = x.shape[1]
    if labels.size and (labels.max() >= classes or labels.min() < -1):
        raise RuntimeError(f"multilabel_margin_loss: target values must be class indices in [0, {classes - 1}] "
                           f"or -1 (the end of a sample's list), got values in [{labels.min()}, {labels.max()}]")
    listed = np.cumprod(labels >= 0, axis=1).astype(bool)  # the entries before the first -1
    safe = np.where(listed, labels, 0)
    is_target = np.zeros(x.shape, dtype=bool)
    rows = np.broadcast_to(np.arange(x.shape[0])[:, None], labels.shape)
    is_target[rows[listed], safe[listed]] = True
    dtype = x._data.dtype
    picked = x.gather(1, Tensor._make(safe.astype(np.int64)))  # x[n, y_nk] (N, K)
    hinge = relu(1 - picked.unsqueeze(2) + x.unsqueeze(1))  # (N, K, C): 1 - (x[y_k] - x[i])
    pairs = Tensor._make((listed[:, :, None] & ~is_target[:, None, :]).astype(dtype))
    loss = (hinge * pairs).sum((1, 2)) / classes
    return shown_as(_reduce(loss if batched else loss.reshape(()), reduction), "MultilabelMarginLossBackward0")


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """Binary cross-entropy with logits per class, averaged over the C classes of each sample:
    -(1/C) sum_c w_c (y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c)). Shapes: (N, C) -> (N,).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.multilabel_soft_margin_loss(shenjing.tensor([[0., 0.]]), shenjing.tensor([[1., 0.]]))
    tensor(0.6931)
    """
    reduction = _reduction(size_average, reduce, reduction)
    check_tensor(input)
    check_tensor(target, "multilabel_soft_margin_loss(): target")
    input = float_input(input)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    return _reduce(loss.sum(class_dim) / input.shape[class_dim], reduction)


def _check_triplet_dims(anchor: Tensor, positive: Tensor, negative: Tensor) -> None:
    for name, tensor in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        check_tensor(tensor, f"triplet_margin_loss(): {name}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and negative "
                           f"{negative.ndim}D inputs")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) with d = ``pairwise_distance(., ., p, eps)``; ``swap`` uses
    min(d(a, n), d(p, n)) as the negative distance. Shapes: (N, D) or (D,) each.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> a, p, n = shenjing.tensor([[0., 0.]]), shenjing.tensor([[0., 1.]]), shenjing.tensor([[0., 1.5]])
    >>> round(F.triplet_margin_loss(a, p, n, eps=0.0).item(), 4)
    0.5
    """
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    positive_distance = pairwise_distance(anchor, positive, p, eps)
    negative_distance = pairwise_distance(anchor, negative, p, eps)
    if swap:
        negative_distance = minimum(negative_distance, pairwise_distance(positive, negative, p, eps))
    return _reduce(_clamp_min_0(margin + positive_distance - negative_distance), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
                                      margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> Tensor:
    """``triplet_margin_loss`` with any ``distance_function`` (default ``pairwise_distance``).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> a, p, n = shenjing.tensor([[0., 0.]]), shenjing.tensor([[0., 1.]]), shenjing.tensor([[0., 3.]])
    >>> F.triplet_margin_with_distance_loss(a, p, n, distance_function=lambda x, y: (x - y).abs().sum(-1))
    tensor(0.)
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    distance = pairwise_distance if distance_function is None else distance_function
    positive_distance, negative_distance = distance(anchor, positive), distance(anchor, negative)
    if swap:
        negative_distance = minimum(negative_distance, distance(positive, negative))
    return _reduce(_clamp_min_0(margin + positive_distance - negative_distance), reduction)
