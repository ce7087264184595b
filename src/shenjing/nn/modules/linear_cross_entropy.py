"""``LinearCrossEntropyLoss``: a Linear layer (no bias by default) and cross-entropy as one loss module,
and its ``LinearCrossEntropyOptions`` (see ``shenjing.nn._functional.linear_cross_entropy``)."""

from __future__ import annotations

import math
from typing import Any

from shenjing._tensor import Tensor
from shenjing.nn._functional.linear_cross_entropy import LinearCrossEntropyOptions, linear_cross_entropy
from shenjing.nn.modules.linear import Linear
from shenjing.nn.modules.loss import _WeightedLoss

__all__ = ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]


class LinearCrossEntropyLoss(_WeightedLoss):
    """cross_entropy(linear(input), target) with a learnt ``linear`` (in_features -> num_classes * prod(out_features)).

    >>> from shenjing import nn
    >>> nn.LinearCrossEntropyLoss(4, 3)
    LinearCrossEntropyLoss(
      in_features=4, num_classes=3, out_features=(), bias=False, reduction=mean, ignore_index=None, label_smoothing=0.0, options=None
      (linear): Linear(in_features=4, out_features=3, bias=False)
    )
    """

    def __init__(self, in_features: int, num_classes: int, *, out_features: tuple[int, ...] = (), bias: bool = False,
                 device: Any = None, dtype: Any = None, reduction: str = "mean", weight: Tensor | None = None,
                 ignore_index: int | None = None, label_smoothing: float = 0.0,
                 options: LinearCrossEntropyOptions | None = None) -> None:
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got {tuple(weight.shape)}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError(f"expected label_smoothing to be in range [0, 1], got {label_smoothing}")
        super().__init__(weight=weight, reduction=reduction)
        self.num_classes, self.out_features = num_classes, out_features
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing
        self.linear = Linear(in_features, math.prod(out_features) * num_classes, bias=bias, dtype=dtype)
        self.options = options

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        linear_weight = self.linear.weight.reshape(self.num_classes, *self.out_features, self.linear.in_features)
        linear_bias = None if self.linear.bias is None else self.linear.bias.reshape(self.num_classes,
                                                                                    *self.out_features)
        return linear_cross_entropy(input, linear_weight, target, linear_bias=linear_bias, weight=self.weight,
                                    reduction=self.reduction, ignore_index=self.ignore_index,
                                    label_smoothing=self.label_smoothing, options=self.options)

    def extra_repr(self) -> str:
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias is not None}, reduction={self.reduction}, "
                f"ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}, options={self.options}")
