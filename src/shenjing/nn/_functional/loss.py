"""Loss functions with PyTorch's signatures; every one takes ``reduction='none' | 'mean' | 'sum'``.

Losses are compositions of differentiable ops, so their gradients need no code of their own; the
numerically delicate steps are ops that are stable by construction: ``log_softmax`` (cross-entropy),
``logsigmoid`` (BCE with logits) and the clamped logarithms of ``BinaryCrossEntropy``.

Cross-entropy = log_softmax + nll_loss. ``nll_loss`` is one op, ``NllLoss``: it picks
-w[target[n]] log p[n, target[n]] with one gather, and its backward writes the upstream gradient back
at the picked places, so the whole softmax-cross-entropy costs a log_softmax forward and backward plus
O(N) work (class weights that need a gradient take the composed form instead). The common case of a
training loop (logits (N, C), class indices, no class weights, no label smoothing) runs as one fused
op, ``SoftmaxCrossEntropy``, whose gradient is (softmax(x) - onehot(y)) times the reduction's
weights; the composition above is its reference and handles every other case.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

from shenjing._ops._util import check_tensor, float_input
from shenjing._ops.activation import log_softmax
from shenjing._ops.elementwise import abs, clamp, exp, log, relu, where
from shenjing._ops.index import Index
from shenjing._ops.loss import BinaryCrossEntropyWithLogits, NllLoss
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op, shown_as
from shenjing.nn._functional.activation import logsigmoid

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "multi_margin_loss", "kl_div"]

_REDUCTIONS = ("none", "mean", "sum")


# -- reductions ------------------------------------------------------------------------------------

def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated ``size_average`` / ``reduce`` flags, mapped to a ``reduction`` string."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use reduction= instead.",
                  UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(reduction: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction (expected one of "
                         f"{', '.join(repr(r) for r in allowed)})")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    _check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _weighted_reduce(loss: Tensor, weight: Tensor | None, reduction: str, mean_divides_by_weight: bool) -> Tensor:
    """Multiply by the elementwise ``weight`` (same shape as the loss), then reduce.

    The weighted 'mean' of PyTorch's mse_loss and l1_loss is sum(w * loss) / sum(w); that of
    huber_loss is the plain mean of w * loss.
    """
    _check_reduction(reduction)
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(loss.shape):
        raise ValueError(f"Weights and input must have the same size: weight {list(weight.shape)}, input "
                         f"{list(loss.shape)}")
    loss = loss * weight
    if reduction == "mean" and mean_divides_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def _difference(name: str, input: Tensor, target: Tensor) -> Tensor:
    check_tensor(input)
    check_tensor(target, f"{name}(): target")
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({list(target.shape)}) that is different to the input size "
                      f"({list(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
                      f"Please ensure they have the same size.", UserWarning, stacklevel=3)
    return float_input(input) - target


# -- regression losses -----------------------------------------------------------------------------

def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error: l_i = (x_i - y_i)^2, reduced.

    >>> import shenjing
    >>> mse_loss(shenjing.tensor([1.0, 2.0]), shenjing.tensor([0.0, 0.0]))
    tensor(2.5000)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is None and isinstance(target, Tensor) and target._data.dtype.kind == "f":
        _check_reduction(reduction)
        _difference("mse_loss", input, target)  # (the checks and the broadcast warning)
        x = float_input(input)
        return MseLoss(reduction)(x, target.to(x.dtype) if target.dtype != x.dtype else target)
    difference = _difference("mse_loss", input, target)
    return _weighted_reduce(difference * difference, weight, reduction, mean_divides_by_weight=True)


class MseLoss(Op):
    """l = reduce((x - y)^2) as one node, PyTorch's MseLossBackward0: dx = g 2 (x - y) (/ n for 'mean'),
    dy = -dx (summed back to each input's shape where they broadcast)."""

    def __init__(self, reduction: str) -> None:
        self.reduction = reduction

    def forward(self, x, y):
        difference = np.subtract(x, y)
        self.save_for_backward(x, y)
        squared = np.multiply(difference, difference, out=difference)
        if self.reduction == "none":
            return squared
        total = np.add.reduce(squared, axis=None)
        if self.reduction == "sum":
            return np.asarray(total, dtype=squared.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):  # (the mean of nothing is nan, as in PyTorch)
            return np.asarray(total / squared.size, dtype=squared.dtype)

    def backward(self, gy):
        x, y = self.saved_tensors
        n = np.broadcast_shapes(x._data.shape, y._data.shape)
        scale = 2.0 / max(1, int(np.prod(n))) if self.reduction == "mean" else 2.0
        gx = (x - y) * (gy * scale)
        needs = self.needs_input_grad
        return (gx if needs[0] else None), (-gx if needs[1] else None)


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error: l_i = |x_i - y_i|, reduced.

    >>> import shenjing
    >>> l1_loss(shenjing.tensor([1.0, -3.0]), shenjing.tensor([0.0, 0.0]))
    tensor(2.)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    difference = _difference("l1_loss", input, target)
    return _weighted_reduce(abs(difference), weight, reduction, mean_divides_by_weight=True)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """l_i = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta, d = x_i - y_i (beta = 0: L1).

    >>> import shenjing
    >>> smooth_l1_loss(shenjing.tensor([0.5, 3.0]), shenjing.zeros(2), reduction='none')
    tensor([0.1250, 2.5000])
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    difference = _difference("smooth_l1_loss", input, target)
    size = abs(difference)
    if beta == 0:
        return _reduce(size, reduction)  # (PyTorch's l1_loss, and its nodes)
    # the quadratic branch takes the difference clamped to [-beta, beta]: where it is not chosen its
    # gradient is then 0 (not 0 * inf = NaN at an infinite difference), as in PyTorch
    small = clamp(difference, -beta, beta)
    loss = where(size < beta, small * small * (0.5 / beta), size - 0.5 * beta)
    return shown_as(_reduce(loss, reduction), "SmoothL1LossBackward0")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """l_i = 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta), d = x_i - y_i; = delta * smooth_l1(beta=delta).

    >>> import shenjing
    >>> huber_loss(shenjing.tensor([0.5, 3.0]), shenjing.zeros(2), reduction='none', delta=2.0)
    tensor([0.1250, 4.0000])
    """
    if delta <= 0:
        raise ValueError(f"huber_loss does not support non-positive values for delta, got {delta}")
    difference = _difference("huber_loss", input, target)
    size = abs(difference)
    small = clamp(difference, -delta, delta)  # (as in smooth_l1_loss: no NaN gradient at an infinite difference)
    loss = where(size < delta, small * small * 0.5, (size - 0.5 * delta) * delta)
    return shown_as(_weighted_reduce(loss, weight, reduction, mean_divides_by_weight=False), "HuberLossBackward0")


# -- classification: negative log-likelihood and cross-entropy ------------------------------------

def _class_targets(name: str, input: Tensor, target: Tensor) -> None:
    """Check a class-index target against input (N, C, d1, ...) or (C,): shape (N, d1, ...) or ()."""
    if target._data.dtype not in (np.int64, np.uint8):
        raise RuntimeError(f"{name}: expected target dtype to be Long or Byte (int64 class indices), but got "
                           f"{target.dtype} (target shape {list(target.shape)}, input {input.dtype} "
                           f"{list(input.shape)}); class-probability targets must have the input's shape and "
                           f"a floating dtype")
    shape = input._data.shape
    if not shape:
        raise RuntimeError(f"{name}: input must have a class dim, got a 0-D input")
    expected = () if len(shape) == 1 else shape[:1] + shape[2:]
    if target._data.shape != expected:
        if input.ndim >= 2 and target.ndim >= 1 and target.shape[0] != input.shape[0]:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                             f"({target.shape[0]}): input {list(input.shape)}, target {list(target.shape)}")
        raise RuntimeError(f"{name}: expected target of shape {list(expected)} for input of shape "
                           f"{list(input.shape)} (N, C, d1, ...), got target of shape {list(target.shape)}")


def _checked_indices(input: Tensor, target: Tensor, ignore_index: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Safe class indices (ignored ones replaced by 0) and the 'kept' mask; out-of-range targets raise."""
    indices, kept = _indices(input, target, ignore_index)
    if kept is None:  # (a copy: the indices may be the target's own array, which its owner can change)
        return np.array(indices), np.ones(indices.shape, dtype=bool)
    return indices, kept


def _indices(input: Tensor, target: Tensor, ignore_index: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """``_checked_indices``, with None for the mask when every target is kept (the usual case); the
    indices are then the target's own int64 array, not a copy (read at once, never kept)."""
    return _indices_of(input._data.shape, target._data, ignore_index)


def _indices_of(shape: tuple[int, ...], target: np.ndarray,
                ignore_index: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """``_indices`` on arrays: what the loss ops call inside their forward, so that a compiled replay
    validates each new batch's targets too."""
    classes = shape[0] if len(shape) == 1 else shape[1]
    indices = np.asarray(target, dtype=np.int64)
    if indices.size and (ignore_index is None or ignore_index < 0 or ignore_index >= classes):
        # the usual case first: every index in range (then none equals an out-of-range ignore_index);
        # as unsigned numbers the negative ones are above 2^63, so one maximum checks both ends
        if np.maximum.reduce(indices.view(np.uint64), axis=None) < classes:
            return indices, None
    kept = indices != ignore_index if ignore_index is not None else np.ones(indices.shape, dtype=bool)
    bad = indices[kept & ((indices < 0) | (indices >= classes))]
    if bad.size:
        ignored = f" or equal ignore_index={ignore_index}" if ignore_index is not None else ""
        raise IndexError(f"Target {int(bad[0])} is out of bounds: class indices must be in [0, {classes}) "
                         f"(input {list(shape)}){ignored}")
    return np.where(kept, indices, 0), kept


def _target_weights(input: Tensor, target: Tensor, weight: Tensor | None,
                    ignore_index: int | None) -> tuple[np.ndarray, np.ndarray, Tensor]:
    """Safe class indices (ignored ones replaced by 0), the 'kept' mask, and w[target] (0 where ignored)."""
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    safe, kept = _checked_indices(input, target, ignore_index)
    if weight is None:
        per_target = Tensor._make(kept.astype(input._data.dtype))
    else:
        check_tensor(weight, "weight")
        if tuple(weight.shape) != (classes,):
            raise RuntimeError(f"weight tensor should be defined either for all {classes} classes or no classes "
                               f"but got weight tensor of shape: {list(weight.shape)}")
        per_target = where(Tensor._make(kept), weight[safe], 0.0)
    return safe, kept, per_target


def _class_index(shape: tuple[int, ...], safe: np.ndarray) -> tuple:
    """The index of input[n, safe[n, d...], d...] in an input of ``shape`` (a copy of ``safe``: the loss
    keeps it for backward, and the target's owner may change the target's array)."""
    if len(shape) == 1:
        return (int(safe),)
    grids = np.indices(safe.shape, sparse=True)
    return (grids[0], np.array(safe)) + tuple(grids[1:])


def _pick_classes(input: Tensor, safe: np.ndarray) -> Tensor:
    """input[n, safe[n, d...], d...]: each sample's entry for its target class (one gather)."""
    return Index(_class_index(input.shape, safe), False, "Gather")(input)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
             ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities: l_n = -w[y_n] * input[n, y_n].

    'mean' divides the sum by sum_n w[y_n] (the weights of the non-ignored targets); targets equal
    to ``ignore_index`` contribute 0. Shapes: input (N, C) or (N, C, d1, ...) or (C,); target (N)
    or (N, d1, ...) or () of int64 class indices.

    >>> import shenjing
    >>> logp = shenjing.tensor([[-0.1, -2.0], [-3.0, -0.5]])
    >>> nll_loss(logp, shenjing.tensor([0, 1]))
    tensor(0.3000)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    check_tensor(input)
    check_tensor(target, "nll_loss(): target")
    _class_targets("nll_loss", input, target)
    if weight is None:  # (the usual case: no mask either when every target counts)
        return NllLossOfTargets(ignore_index, reduction)(input, target)
    safe, _, per_target = _target_weights(input, target, weight, ignore_index)
    return _nll(input, safe, per_target, reduction)


def _nll(log_probs: Tensor, safe: np.ndarray, per_target: Tensor, reduction: str) -> Tensor:
    """-w[y] log p[y], reduced; 'mean' divides by the summed weights of the kept targets. One op unless the
    class weights need a gradient: then composed of ops (the reference), which differentiate them too."""
    if per_target.requires_grad and _GradState.enabled:
        losses = -_pick_classes(log_probs, safe) * per_target
        if reduction == "mean":
            return losses.sum() / per_target.sum()
        return _reduce(losses, reduction)
    return NllLoss(_class_index(log_probs.shape, safe), per_target._data, reduction)(log_probs)


def _class_dim_shape(input: Tensor, values: Tensor) -> Tensor:
    """A (C,) tensor shaped to broadcast along the class dim of ``input``."""
    if input.ndim == 1:
        return values
    return values.reshape((1, -1) + (1,) * (input.ndim - 2))


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
                  ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of raw scores (logits): l_n = -w[y_n] log softmax(x_n)[y_n].

    Computed as nll_loss(log_softmax(x, dim=1)), stable for any finite logits (x = 1000 is fine).
    Two kinds of target:

    * class indices, int64 of shape (N) or (N, d1, ...) for input (N, C) or (N, C, d1, ...), or ()
      for input (C,). ``weight`` (C,) weighs classes, ``ignore_index`` skips targets; 'mean'
      divides by the summed weights of the kept targets.
    * class probabilities, floating, the input's shape: l_n = -sum_c w_c p_nc log softmax(x_n)_c;
      'mean' divides by the number of samples N * d1 * ...

    ``label_smoothing`` = eps mixes the target with the uniform distribution: q = (1 - eps) p + eps / C.
    With uniform scores the loss is log C (the notes' sanity check for an untrained classifier).

    >>> import shenjing, math
    >>> loss = cross_entropy(shenjing.zeros(2, 10), shenjing.tensor([3, 7]))
    >>> round(loss.item(), 4), round(math.log(10), 4)
    (2.3026, 2.3026)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    check_tensor(input)
    check_tensor(target, "cross_entropy(): target")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if input.ndim == 0:
        raise RuntimeError("cross_entropy: input must have a class dim, got a 0-D input")
    input = float_input(input)
    if input.ndim == 2 and weight is None and label_smoothing == 0.0 and not target.is_floating_point():
        _class_targets("cross_entropy", input, target)
        return SoftmaxCrossEntropy(ignore_index, reduction)(input, target)
    class_dim = 0 if input.ndim == 1 else 1
    classes = input.shape[class_dim]
    log_probs = log_softmax(input, class_dim)
    if target.is_floating_point():
        return _cross_entropy_probabilities(log_probs, target, weight, reduction, label_smoothing, class_dim)
    _class_targets("cross_entropy", input, target)
    safe, kept, per_target = _target_weights(input, target, weight, ignore_index)
    loss = _nll(log_probs, safe, per_target, reduction)
    if label_smoothing == 0.0:
        return loss
    # the uniform part: -sum_c w_c log p_c per kept sample, reduced like the nll part, over C
    weighted = log_probs if weight is None else log_probs * _class_dim_shape(input, weight)
    smooth = where(Tensor._make(kept), -weighted.sum(class_dim), 0.0)
    if reduction == "mean":
        smooth = smooth.sum() / per_target.sum()
    else:
        smooth = _reduce(smooth, reduction)
    return loss * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)


@lru_cache(maxsize=64)
def _row_starts(rows: int, columns: int) -> np.ndarray:
    """The flat index of each row's first element in a (rows, columns) array, read-only (cached: a
    loss asks for the same every step)."""
    starts = np.arange(0, rows * columns, columns)
    starts.flags.writeable = False
    return starts


class SoftmaxCrossEntropy(Op):
    """Cross-entropy of logits x (N, C) with class indices, fused: l_n = logsumexp(x_n) - x_n[y_n].

    The gradient is (softmax(x) - onehot(y)) * c, with c_n = gy (gy_n for 'none'), times 0 where the
    target is ignored, divided by the number of kept targets for 'mean'. Under ``create_graph`` the
    same formula is built from differentiable ops, so higher derivatives exist. ``kept`` is None when
    every target counts (then the per-sample weights are one number); x[n, y_n] is read through flat
    indices n*C + y_n. The targets y (N,) are an input (data, not differentiable), checked in ``forward``.
    """

    data_inputs = 1

    def __init__(self, ignore_index: int | None, reduction: str) -> None:
        self.ignore_index, self.reduction = ignore_index, reduction

    def name(self) -> str:
        return "NllLossBackward0"

    def forward(self, x, target):
        safe, self.kept = _indices_of(x.shape, target, self.ignore_index)
        # ufunc.reduce: the same sums as x.max() / x.sum(), without NumPy's Python-level wrappers
        n, classes = x.shape
        shifted = x - np.maximum.reduce(x, axis=1, keepdims=True)
        exps = np.exp(shifted)
        totals = np.add.reduce(exps, axis=1)
        exps /= totals[:, None]
        self.probs = exps  # softmax, for the gradient
        self.picked = _row_starts(n, classes) + safe  # flat indices of x[n, y_n]
        losses = np.log(totals) - shifted.reshape(-1)[self.picked]
        self.save_for_backward(x)
        one = x.dtype.type(1)
        if self.kept is None:  # every target counts: weight 1 (1/N for 'mean') for each
            kept, count = one, x.dtype.type(n)
        else:
            kept = self.kept.astype(x.dtype)
            losses *= kept
            count = np.add.reduce(kept, axis=None)
        if self.reduction == "none":
            self.weights = kept
            return losses
        total = np.add.reduce(losses, axis=None)
        if self.reduction == "sum":
            self.weights = kept
            return total
        if count == 0:  # every target ignored: the loss is 0/0 = nan and the gradient 0, as in PyTorch
            self.weights = np.zeros_like(kept)
            with np.errstate(invalid="ignore"):
                return total / count
        self.weights = kept / count
        return total / count

    def backward(self, gy):
        if _GradState.enabled:  # create_graph: the composed, differentiable form
            from shenjing._ops.activation import softmax

            (x,) = self.saved_tensors
            onehot = np.zeros(x.shape, dtype=x._data.dtype)
            onehot.reshape(-1)[self.picked] = 1
            weights = np.broadcast_to(self.weights, x.shape[:1])  # (one number when every target counts)
            coefficient = gy * Tensor._make(np.ascontiguousarray(weights))
            return (softmax(x, 1) - Tensor._make(onehot)) * coefficient.reshape(-1, 1)
        return Tensor._make(self.backward_arrays(gy._data))

    def backward_arrays(self, gy):
        grad = self.probs
        self.probs = None
        grad.reshape(-1)[self.picked] -= 1
        coefficient = gy * self.weights
        grad *= coefficient[:, None] if coefficient.ndim else coefficient
        return grad


class NllLossOfTargets(NllLoss):
    """``NllLoss`` with the class-index targets as a second input (data, not differentiable), checked
    in ``forward``; ``ignore_index`` targets get weight 0."""

    data_inputs = 1

    def __init__(self, ignore_index: int | None, reduction: str) -> None:
        super().__init__((), None, reduction)
        self.ignore_index = ignore_index

    def forward(self, x, target):
        safe, kept = _indices_of(x.shape, target, self.ignore_index)
        self.index = _class_index(x.shape, safe)
        self.weights = None if kept is None else kept.astype(x.dtype)
        return super().forward(x)



def _cross_entropy_probabilities(log_probs: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                                 label_smoothing: float, class_dim: int) -> Tensor:
    if tuple(target.shape) != tuple(log_probs.shape):
        raise RuntimeError(f"cross_entropy: a floating-point target holds class probabilities and must have the "
                           f"input's shape {list(log_probs.shape)}, got target of shape {list(target.shape)} "
                           f"(dtype {target.dtype}); class-index targets must be int64")
    classes = log_probs.shape[class_dim]
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    terms = log_probs * target
    if weight is not None:
        terms = terms * _class_dim_shape(log_probs, weight)
    losses = -terms.sum(class_dim)
    if reduction == "mean":  # the number of samples, not the summed weights
        return shown_as(losses.sum() / float(losses.numel()), "DivBackward1")  # (PyTorch's names)
    return shown_as(_reduce(losses, reduction), "NegBackward0")


# -- binary classification -------------------------------------------------------------------------

_BCE_EPSILON = float(np.float32(1e-12))  # PyTorch's bound on x (1 - x) in the gradient, a float32 even for float64


class BinaryCrossEntropy(Op):
    """l = -(t log x + (1 - t) log(1 - x)), each log clamped at -100 so that x = 0 or 1 stays finite.

    dl/dx = (x - t) / max(x (1 - x), 1e-12); dl/dt = log(1 - x) - log(x) (logs not clamped: +-inf at
    x = 0 or 1), as in PyTorch.
    """

    def forward(self, x, t):
        self.save_for_backward(x, t)
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_not_x = np.maximum(np.log1p(-x), -100)
        return -(t * log_x + (1 - t) * log_not_x)

    def backward(self, gy):
        x, t = self.saved_tensors
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = gy * (x - t) / clamp(x * (1.0 - x), min=_BCE_EPSILON)
        if self.needs_input_grad[1]:
            gt = gy * (log(1.0 - x) - log(x))
        return gx, gt


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities: l_i = -w_i (y_i log x_i + (1 - y_i) log(1 - x_i)).

    Inputs must lie in [0, 1] (apply sigmoid first, or use binary_cross_entropy_with_logits);
    logs are clamped at -100 so that x = 0 or 1 gives a finite loss, like PyTorch.

    >>> import shenjing
    >>> binary_cross_entropy(shenjing.tensor([0.5, 0.9]), shenjing.tensor([1.0, 1.0]), reduction='none')
    tensor([0.6931, 0.1054])
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    check_tensor(input)
    check_tensor(target, "binary_cross_entropy(): target")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({list(target.shape)}) that is different to the input size "
                         f"({list(input.shape)}) is deprecated. Please ensure they have the same size.")
    if target._data.dtype != input._data.dtype:
        raise RuntimeError(f"binary_cross_entropy: Found dtype {target.dtype} but expected {input.dtype} "
                           f"(the target must have the input's dtype; convert it with target.to(input.dtype))")
    values = input._data
    if values.size and not ((values >= 0) & (values <= 1)).all():
        raise RuntimeError("all elements of input should be between 0 and 1 (binary_cross_entropy takes "
                           "probabilities; for raw scores use binary_cross_entropy_with_logits)")
    input = float_input(input)
    loss = BinaryCrossEntropy()(input, target.to(input.dtype))
    if weight is not None:
        loss = loss * weight
    return shown_as(_reduce(loss, reduction), "BinaryCrossEntropyBackward0")


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(x), computed from the logits x without overflow (x = +-1000 is fine).

    l_i = -w_i (pw y_i log sigmoid(x_i) + (1 - y_i) log(1 - sigmoid(x_i)))
        = w_i ((1 - y_i) x_i - (1 + (pw - 1) y_i) logsigmoid(x_i)),
    using log(1 - sigmoid(x)) = logsigmoid(x) - x. ``pos_weight`` (broadcast along the last dim,
    one per class) weighs the positive examples.

    >>> import shenjing
    >>> binary_cross_entropy_with_logits(shenjing.tensor([1000.0, -1000.0]), shenjing.tensor([0.0, 0.0]),
    ...                                  reduction='none')
    tensor([1000.,    0.])
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    check_tensor(input)
    check_tensor(target, "binary_cross_entropy_with_logits(): target")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({list(target.shape)}) must be the same as input size ({list(input.shape)})")
    input = float_input(input)
    target = target.to(input.dtype)
    if weight is None and pos_weight is None:
        return BinaryCrossEntropyWithLogits(reduction)(input, target)
    log_sigmoid = logsigmoid(input)
    if pos_weight is None:
        loss = (1.0 - target) * input - log_sigmoid
    else:
        loss = (1.0 - target) * input - (1.0 + (pos_weight - 1.0) * target) * log_sigmoid
    if weight is not None:
        loss = loss * weight
    return shown_as(_reduce(loss, reduction), "BinaryCrossEntropyWithLogitsBackward0")


# -- the multiclass SVM (hinge) loss --------------------------------------------------------------

def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                      size_average: bool | None = None, reduce: bool | None = None,
                      reduction: str = "mean") -> Tensor:
    """Multiclass SVM hinge loss: l_n = sum_{j != y} w[y] max(0, margin - x[y] + x[j])^p / C.

    Note the division by the number of classes C, which PyTorch (and so shenjing) makes and the
    course notes (seed 002, CS231n) do not: their L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + 1)
    equals C * l_n with margin 1, p = 1. Their sanity check "with all scores equal the loss is
    C - 1" therefore reads (C - 1) / C here. p = 2 gives the squared hinge loss.
    Shapes: input (N, C) or (C,), target (N,) or () of int64 class indices.

    >>> import shenjing
    >>> scores = shenjing.tensor([[3.2, 5.1, -1.7]])       # the true class is 0
    >>> loss = multi_margin_loss(scores, shenjing.tensor([0]))
    >>> round(loss.item() * 3, 4)                          # notes' L_i = 2.9
    2.9
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    check_tensor(input)
    check_tensor(target, "multi_margin_loss(): target")
    if p not in (1, 2):
        raise ValueError(f"only p == 1 and p == 2 supported, got p={p}")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"multi_margin_loss: expected input of shape (N, C) or (C,), got {list(input.shape)}")
    _class_targets("multi_margin_loss", input, target)
    input = float_input(input)
    safe, _, per_target = _target_weights(input, target, weight, ignore_index=None)
    classes = input.shape[-1]
    true_score = _pick_classes(input, safe).unsqueeze(-1)
    others = Tensor._make((np.arange(classes) != safe[..., None]).astype(input._data.dtype))
    hinge = relu(input - true_score + margin) * others     # j = y contributes nothing
    if p == 2:
        hinge = hinge * hinge
    losses = hinge.sum(-1) * (1.0 / classes)
    if weight is not None:
        losses = losses * per_target
    return shown_as(_reduce(losses, reduction), "MultiMarginLossBackward0")


# -- distributions ---------------------------------------------------------------------------------

def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence with ``input`` = log q: l_i = p_i (log p_i - input_i), 0 where p_i = 0.

    ``log_target=True`` takes the target as log p: l_i = exp(target_i) (target_i - input_i).
    'batchmean' divides the sum by the batch size (the true KL divergence per sample); 'mean'
    divides by the number of elements, as PyTorch does.

    >>> import shenjing
    >>> q, p = shenjing.tensor([[0.5, 0.5]]), shenjing.tensor([[0.9, 0.1]])
    >>> kl_div(q.log(), p, reduction='batchmean')
    tensor(0.3681)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, _REDUCTIONS + ("batchmean",))
    check_tensor(input)
    check_tensor(target, "kl_div(): target")
    input = float_input(input)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        positive = target > 0
        safe = where(positive, target, 1.0)
        loss = where(positive, target * log(safe), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)
