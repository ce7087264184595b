"""Likelihood loss layers: ``GaussianNLLLoss``, ``PoissonNLLLoss``, ``CTCLoss`` and the deprecated ``NLLLoss2d``."""

from __future__ import annotations

import warnings
from typing import Any

from shenjing._tensor import Tensor
from shenjing.nn._functional import likelihood_loss as F
from shenjing.nn.modules.loss import NLLLoss, _Loss

__all__ = ["GaussianNLLLoss", "PoissonNLLLoss", "CTCLoss", "NLLLoss2d"]


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood of target given a predicted mean (input) and variance (var):
    0.5 (log var + (input - target)^2 / var) (see ``F.gaussian_nll_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.GaussianNLLLoss()(shenjing.tensor([1.]), shenjing.tensor([1.]), shenjing.tensor([1.]))
    tensor(0.)
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor | float) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood: exp(input) - target * input for log rates (see ``F.poisson_nll_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.PoissonNLLLoss(log_input=False)(shenjing.tensor([1.]), shenjing.tensor([1.]))
    tensor(1.)
    """

    def __init__(self, log_input: bool = True, full: bool = False, size_average: bool | None = None,
                 eps: float = 1e-8, reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full, eps=self.eps,
                                  reduction=self.reduction)


class NLLLoss2d(NLLLoss):
    """Deprecated alias of ``NLLLoss`` (which takes (N, C, H, W) input itself); warns as PyTorch does."""

    def __init__(self, *args, **kwargs) -> None:
        warnings.warn("`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead as a drop-in replacement and see "
                      "https://pytorch.org/docs/main/nn.html#torch.nn.NLLLoss for more details.", FutureWarning,
                      stacklevel=2)
        super().__init__(*args, **kwargs)


class CTCLoss(_Loss):
    """Connectionist temporal classification loss (see ``F.ctc_loss``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.CTCLoss()
    CTCLoss()
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(None, None, reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any) -> Tensor:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)
