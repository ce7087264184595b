"""The M-P neuron and Rosenblatt's perceptron learning rule (seed 004).

y = step(w . x + b), step(z) = 1 if z >= 0 else 0. Training visits the samples one by one and,
after each, applies w <- w + eta (y - y_hat) x, b <- b + eta (y - y_hat): the weights change only
on mistakes. It converges for linearly separable data (AND, OR, NOT) and never for XOR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shenjing import _creation
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.nn.modules.module import Module
from shenjing.nn.parameter import Parameter

__all__ = ["Perceptron", "PerceptronHistory"]


@dataclass
class PerceptronHistory:
    """What ``Perceptron.fit`` did: mistakes per epoch, and whether an epoch had none."""

    mistakes: list[int] = field(default_factory=list)
    converged: bool = False

    @property
    def epochs(self) -> int:
        return len(self.mistakes)


class Perceptron(Module):
    """A single M-P neuron with a step activation: ``forward(x)`` gives 0/1 of shape (N,).

    >>> import shenjing
    >>> from shenjing.data import logic_gate
    >>> x, y = logic_gate("and")
    >>> p = Perceptron(2)
    >>> p.fit(x, y).converged, p(x).tolist()
    (True, [0.0, 0.0, 0.0, 1.0])
    """

    def __init__(self, in_features: int) -> None:
        super().__init__()
        if in_features <= 0:
            raise ValueError(f"in_features must be positive, got {in_features}")
        self.in_features = in_features
        self.weight = Parameter(_creation.zeros(in_features), requires_grad=False)
        self.bias = Parameter(_creation.zeros(()), requires_grad=False)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}"

    def net_input(self, x: Tensor) -> Tensor:
        """w . x + b for each sample: (N, in_features) -> (N,)."""
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"{self!r} expects input [N, {self.in_features}], got {list(x.shape)}")
        return x @ self.weight + self.bias

    def forward(self, x: Tensor) -> Tensor:
        return (self.net_input(x) >= 0).to(x.dtype)

    @no_grad()
    def fit(self, x: Tensor, y: Tensor, lr: float = 1.0, epochs: int = 100) -> PerceptronHistory:
        """The perceptron rule, sample by sample, until an epoch without mistakes (or ``epochs``)."""
        history = PerceptronHistory()
        targets = y.reshape(-1).tolist()
        for _ in range(epochs):
            mistakes = 0
            for sample, target in zip(x, targets):
                predicted = float(self.net_input(sample.reshape(1, -1)).item() >= 0)
                error = target - predicted
                if error:
                    mistakes += 1
                    self.weight += lr * error * sample
                    self.bias += lr * error
            history.mistakes.append(mistakes)
            if mistakes == 0:
                history.converged = True
                break
        return history
