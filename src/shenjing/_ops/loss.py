"""Losses as one op each: the negative log-likelihood of log-probabilities (``nll_loss``'s, and
cross-entropy's beyond its fused common case), and binary cross-entropy of logits (its common case)."""

from __future__ import annotations

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op
from shenjing._ops.elementwise import sigmoid

__all__ = ["NllLoss", "BinaryCrossEntropyWithLogits"]


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
        """PyTorch's names: nll_loss of (C,) or (N, C); the 2-D form for (N, C, d1, ...), whose unreduced
        losses other than (N, d1, d2) are a view of it."""
        spatial = len(self.input_shape) - 2
        if spatial <= 0:
            return "NllLossBackward0"
        return "ViewBackward0" if self.reduction == "none" and spatial != 2 else "NllLoss2DBackward0"

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


class BinaryCrossEntropyWithLogits(Op):
    """l_i = (1 - t_i) x_i - log sigmoid(x_i) for logits x and targets t (same shape), reduced: one node,
    PyTorch's BinaryCrossEntropyWithLogitsBackward0 (its inputs: x, t).

    log sigmoid(x) = min(x, 0) - log1p(e^-|x|) stays finite at x = +-1000. The gradients are
    dl/dx = g (sigmoid(x) - t) and dl/dt = -g x, divided by the count for 'mean' (g per element for
    'none'); they are written with differentiable ops, so higher derivatives exist.
    """

    def __init__(self, reduction: str) -> None:
        self.reduction = reduction

    def name(self) -> str:
        return "BinaryCrossEntropyWithLogitsBackward0"

    def forward(self, x, t):
        self.save_for_backward(x, t)
        log_sigmoid = np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))
        losses = (1 - t) * x - log_sigmoid
        if self.reduction == "none":
            return losses
        if self.reduction == "sum":
            return np.asarray(losses.sum(), dtype=losses.dtype)
        if losses.size == 0:  # the mean of nothing is nan, as in PyTorch
            return np.asarray(np.nan, dtype=losses.dtype)
        return np.asarray(losses.mean(), dtype=losses.dtype)

    def backward(self, gy):
        x, t = self.saved_tensors
        if self.reduction == "mean":
            gy = gy / max(1, x._data.size)
        gx = (sigmoid(x) - t) * gy if self.needs_input_grad[0] else None
        gt = -x * gy if self.needs_input_grad[1] else None
        return gx, gt

