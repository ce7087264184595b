"""The negative log-likelihood of log-probabilities as one op (``nll_loss``'s, and cross-entropy's
beyond its fused common case)."""

from __future__ import annotations

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op

__all__ = ["NllLoss"]


class NllLoss(Op):
    """l_n = -w_n * x[n, y_n, d...] for log-probabilities x (N, C, d...) or (C,), reduced.

    ``index`` picks x[n, y_n, d...] (a tuple for NumPy's advanced indexing, target-shaped), ``weights``
    holds w_n = weight[y_n] (0 where the target is ignored), or is None when every w_n is 1.
    'mean' divides the sum by sum_n w_n. The gradient is zero except at the picked entries, where it is
    -w_n * gy (gy_n for 'none'), over sum_n w_n for 'mean': linear in gy, hence its own backward.
    """

    def __init__(self, index: tuple, weights: np.ndarray | None, reduction: str) -> None:
        self.index, self.weights, self.reduction = index, weights, reduction

    def name(self) -> str:
        return "NllLossBackward0"

    def forward(self, x):
        picked = x[self.index]
        one = x.dtype.type(1)
        weights = one if self.weights is None else self.weights.astype(x.dtype, copy=False)
        losses = -picked if self.weights is None else -(picked * weights)
        self.input_shape = x.shape
        if self.reduction == "none":
            self.coefficient = -weights
            return losses
        total = np.add.reduce(losses, axis=None)
        if self.reduction == "sum":
            self.coefficient = -weights
            return total
        count = x.dtype.type(picked.size) if self.weights is None else np.add.reduce(weights, axis=None)
        if count == 0:  # every target ignored: the loss is 0/0 = nan and the gradient 0, as in PyTorch
            self.coefficient = np.zeros_like(weights)
            with np.errstate(invalid="ignore"):
                return total / count
        self.coefficient = -weights / count
        return total / count

    def backward(self, gy):
        if _GradState.enabled:  # create_graph: coefficient * gy placed at the picked entries, as ops
            placed = np.zeros(self.input_shape, dtype=gy._data.dtype)
            placed[self.index] = self.coefficient
            if self.reduction == "none" and len(self.input_shape) > 1:
                gy = gy.unsqueeze(1)
            return Tensor._make(placed) * gy
        gx = np.zeros(self.input_shape, dtype=gy._data.dtype)
        gx[self.index] = self.coefficient * gy._data
        return Tensor._make(gx)
