"""Loss layers: each stores its options (``reduction``, class ``weight`` ...) and calls the functional loss."""

from __future__ import annotations

from shenjing._tensor import Tensor
from shenjing.nn._functional import loss as F
from shenjing.nn.modules.module import Module

__all__ = ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
           "BCEWithLogitsLoss", "MultiMarginLoss", "KLDivLoss"]


class _Loss(Module):
    _reductions: tuple[str, ...] = ("none", "mean", "sum")

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__()
        reduction = F._legacy_reduction(size_average, reduce, reduction)
        if reduction not in self._reductions:
            raise ValueError(f"{type(self).__name__}: {reduction!r} is not a valid value for reduction (expected "
                             f"one of {', '.join(repr(r) for r in self._reductions)})")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with a class ``weight`` tensor, kept as a buffer (so it follows ``.to()`` and ``state_dict``)."""

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error: mean((x - y)^2) (see ``F.mse_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.MSELoss()(shenjing.tensor([1.0, 2.0]), shenjing.tensor([0.0, 0.0]))
    tensor(2.5000)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error: mean(|x - y|) (see ``F.l1_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.L1Loss()(shenjing.tensor([1.0, -3.0]), shenjing.tensor([0.0, 0.0]))
    tensor(2.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic for |x - y| < beta, linear beyond (see ``F.smooth_l1_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.SmoothL1Loss(reduction='none')(shenjing.tensor([0.5, 3.0]), shenjing.zeros(2))
    tensor([0.1250, 2.5000])
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Quadratic for |x - y| < delta, delta-scaled linear beyond (see ``F.huber_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.HuberLoss(reduction='none', delta=2.0)(shenjing.tensor([0.5, 3.0]), shenjing.zeros(2))
    tensor([0.1250, 4.0000])
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits with class-index or class-probability targets (``F.cross_entropy``).

    Input (N, C) or (N, C, d1, ...) raw scores; target (N) / (N, d1, ...) int64 indices, or
    probabilities of the input's shape. With uniform scores the loss is log C.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.CrossEntropyLoss()(shenjing.zeros(4, 10), shenjing.tensor([0, 1, 2, 3]))
    tensor(2.3026)
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (e.g. after ``LogSoftmax``) (``F.nll_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.NLLLoss()(shenjing.tensor([[-0.1, -2.0], [-3.0, -0.5]]), shenjing.tensor([0, 1]))
    tensor(0.3000)
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1] (``F.binary_cross_entropy``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.BCELoss()(shenjing.tensor([0.5]), shenjing.tensor([1.0]))
    tensor(0.6931)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable step (``F.binary_cross_entropy_with_logits``).

    ``weight`` weighs elements (broadcast), ``pos_weight`` the positive examples of each class;
    both are buffers.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.BCEWithLogitsLoss()(shenjing.tensor([0.0, 1000.0]), shenjing.tensor([1.0, 1.0]))
    tensor(0.3466)
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class MultiMarginLoss(_WeightedLoss):
    """Multiclass SVM hinge loss, sum_{j != y} max(0, margin - x_y + x_j)^p / C (``F.multi_margin_loss``).

    PyTorch's (and shenjing's) loss divides by the number of classes C; the course notes' L_i does
    not, so L_i = C * this loss (per sample).

    >>> import shenjing
    >>> from shenjing import nn
    >>> loss = nn.MultiMarginLoss()(shenjing.zeros(1, 10), shenjing.tensor([4]))  # equal scores
    >>> round(loss.item() * 10, 4)      # the notes' sanity check: C - 1
    9.0
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                 size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> None:
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 supported, got {p!r}")
        super().__init__(weight, size_average, reduce, reduction)
        self.p, self.margin = p, margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                   reduction=self.reduction)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence; input holds log-probabilities (``F.kl_div``).

    Use reduction='batchmean' for the mathematical KL divergence per sample.

    >>> import shenjing
    >>> from shenjing import nn
    >>> q, p = shenjing.tensor([[0.5, 0.5]]), shenjing.tensor([[0.9, 0.1]])
    >>> nn.KLDivLoss(reduction='batchmean')(q.log(), p)
    tensor(0.3681)
    """

    _reductions = ("none", "mean", "sum", "batchmean")

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
