"""``PairwiseDistance`` and ``CosineSimilarity`` as layers (see ``shenjing.nn._functional.distance``)."""

from __future__ import annotations

from shenjing._tensor import Tensor
from shenjing.nn._functional.distance import cosine_similarity, pairwise_distance
from shenjing.nn.modules.module import Module

__all__ = ["PairwiseDistance", "CosineSimilarity"]


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p over the last dim: (N, D), (N, D) -> (N,) (``keepdim``: (N, 1)).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.PairwiseDistance(eps=0.0)(shenjing.tensor([[0., 0.]]), shenjing.tensor([[3., 4.]]))
    tensor([5.])
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """<x1, x2> / (max(||x1||, eps) max(||x2||, eps)) along ``dim``.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.CosineSimilarity()(shenjing.tensor([[1., 0.]]), shenjing.tensor([[-2., 0.]]))
    tensor([-1.])
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return cosine_similarity(x1, x2, self.dim, self.eps)
