"""SparseAdam: Adam for sparse gradients. shenjing's gradients are always dense, so, as PyTorch does for a
dense gradient, its step refuses them."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from shenjing.autograd.grad_mode import enable_grad
from shenjing.optim._checks import check_betas
from shenjing.optim.optimizer import Optimizer, check_non_negative

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Adam that updates only the rows a sparse gradient names (PyTorch's ``nn.Embedding(sparse=True)``).
    Accepted with PyTorch's options and checks; ``step`` raises PyTorch's RuntimeError for dense
    gradients, the only kind shenjing has (use Adam)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        check_non_negative("learning rate", options["lr"])
        check_non_negative("epsilon value", options["eps"])
        check_betas(options["betas"])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            if any(p.grad is not None for p in group["params"]):
                raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")
        return loss
