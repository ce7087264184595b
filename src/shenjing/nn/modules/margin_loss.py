"""Margin and embedding loss layers: each stores its options and calls the functional loss of
``shenjing.nn._functional.margin_loss``."""

from __future__ import annotations

from typing import Callable

from shenjing._tensor import Tensor
from shenjing.nn._functional import margin_loss as F
from shenjing.nn.modules.distance import PairwiseDistance
from shenjing.nn.modules.loss import _Loss, _WeightedLoss

__all__ = ["MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss", "CosineEmbeddingLoss", "MultiLabelMarginLoss",
           "MultiLabelSoftMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss"]


class MarginRankingLoss(_Loss):
    """max(0, -y (x1 - x2) + margin) (see ``F.margin_ranking_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.MarginRankingLoss(margin=1.0)(shenjing.tensor([2.]), shenjing.tensor([0.]), shenjing.tensor([1.]))
    tensor(0.)
    """

    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """x where y = 1, max(0, margin - x) where y = -1 (see ``F.hinge_embedding_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.HingeEmbeddingLoss()(shenjing.tensor([0.5]), shenjing.tensor([-1.]))
    tensor(0.5000)
    """

    def __init__(self, margin: float = 1.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """log(1 + exp(-y x)) for labels y = +-1 (see ``F.soft_margin_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.SoftMarginLoss()(shenjing.tensor([0.]), shenjing.tensor([-1.]))
    tensor(0.6931)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1 (``F.cosine_embedding_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.CosineEmbeddingLoss()(shenjing.tensor([[1., 0.]]), shenjing.tensor([[1., 0.]]), shenjing.tensor([1.]))
    tensor(0.)
    """

    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss over target / non-target class pairs (see ``F.multilabel_margin_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.MultiLabelMarginLoss()(shenjing.tensor([[0.1, 0.2, 0.4, 0.8]]), shenjing.tensor([[3, 0, -1, 1]]))
    tensor(0.8500)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Per-class logistic loss averaged over the classes (see ``F.multilabel_soft_margin_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.MultiLabelSoftMarginLoss()(shenjing.tensor([[0., 0.]]), shenjing.tensor([[1., 1.]]))
    tensor(0.6931)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, margin + d(a, p) - d(a, n)) with the p-norm distance (see ``F.triplet_margin_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.TripletMarginLoss(margin=0.5)
    TripletMarginLoss()
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """``TripletMarginLoss`` with any ``distance_function`` (default ``nn.PairwiseDistance()``, kept as a
    submodule, as in PyTorch).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.TripletMarginWithDistanceLoss()
    TripletMarginWithDistanceLoss(
      (distance_function): PairwiseDistance()
    )
    """

    def __init__(self, *, distance_function: Callable[[Tensor, Tensor], Tensor] | None = None, margin: float = 1.0,
                 swap: bool = False, reduction: str = "mean") -> None:
        super().__init__(size_average=None, reduce=None, reduction=reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} "
                             f"instead")
        self.distance_function = distance_function if distance_function is not None else PairwiseDistance()
        self.margin, self.swap = margin, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=self.distance_function,
                                                   margin=self.margin, swap=self.swap, reduction=self.reduction)
