"""``linear_cross_entropy``: cross-entropy of a linear layer's logits, cross_entropy(linear(x, W, b), y),
with PyTorch's arguments. PyTorch can compute it in batch chunks (``options``) to save memory on large
vocabularies; shenjing computes the same value the direct way for every ``options``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from shenjing._ops._util import check_tensor
from shenjing._tensor import Tensor
from shenjing.nn._functional.linear import linear
from shenjing.nn._functional.loss import cross_entropy

__all__ = ["linear_cross_entropy"]


@dataclasses.dataclass(frozen=True)
class LinearCrossEntropyOptions:
    """PyTorch's settings of the chunked ``linear_cross_entropy`` (accepted and checked; the result does not
    depend on them)."""

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: Any = None

    def __post_init__(self) -> None:
        if self.acc_policy not in {"auto", "accurate", "balanced", "compact"}:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, _, factor = self.chunking_method.partition(":")
            if name != "aspect_ratio" or (factor and not (factor.isdigit() and int(factor) > 0)):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        if self.batch_chunk_size is not None and self.batch_chunk_size <= 0:
            raise ValueError(f"batch_chunk_size must be positive, got {self.batch_chunk_size}")


def linear_cross_entropy(input: Tensor, linear_weight: Tensor, target: Tensor, *, linear_bias: Tensor | None = None,
                         weight: Tensor | None = None, reduction: str = "mean", ignore_index: int | None = None,
                         label_smoothing: float = 0.0, options: LinearCrossEntropyOptions | None = None) -> Tensor:
    """cross_entropy(input @ W^T + b, target): input (N, in) or (in,), linear_weight (C, *out, in), linear_bias
    (C, *out); the logits are (N, C, *out) (a K-dimensional loss when ``out`` is not empty).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.linear_cross_entropy(shenjing.ones(1, 2), shenjing.zeros(3, 2), shenjing.tensor([0]))
    tensor(1.0986)
    """
    check_tensor(input)
    check_tensor(linear_weight, "linear_cross_entropy(): linear_weight")
    check_tensor(target, "linear_cross_entropy(): target")
    if input.ndim < 1 or input.ndim > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got {linear_weight.ndim}")
    batches, in_features = tuple(input.shape[:-1]), input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(f"expected equal input and linear_weight last dimensions (in_features), got "
                           f"{input.shape[-1]} and {linear_weight.shape[-1]}, respectively")
    classes, out_features = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (classes, *out_features):
        raise RuntimeError(f"expected linear_bias shape {(classes, *out_features)}, got {tuple(linear_bias.shape)}")
    if out_features and not batches:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} requires "
                           f"batched input, (N, {in_features}), got unbatched input with shape {tuple(input.shape)}")
    logits_shape = (*batches, classes, *out_features)
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    rows = math.prod(out_features) * classes
    flat_weight = linear_weight.reshape(rows, in_features)
    flat_bias = None if linear_bias is None else linear_bias.reshape(rows)
    logits = linear(input, flat_weight, flat_bias).reshape(logits_shape)
    return cross_entropy(logits, target, weight=weight, reduction=reduction,
                         ignore_index=-100 if ignore_index is None else ignore_index, label_smoothing=label_smoothing)
