"""The two-layer network that solves XOR in seed 004, with the notes' weights:

h = max(0, [[1, 1], [1, 1]] x + [0, -1]),  y = [1, -2] h - 0.5,  class = 1 if y > 0 else 0.
"""

from __future__ import annotations

from shenjing import _creation
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.nn.modules.activation import ReLU
from shenjing.nn.modules.linear import Linear
from shenjing.nn.modules.module import Module

__all__ = ["XorNet"]


class XorNet(Module):
    """2 -> 2 (ReLU) -> 1. ``XorNet()`` holds the notes' weights; ``XorNet(pretrained=False)`` starts
    from PyTorch's default random initialisation, to be trained. ``forward`` gives the score y;
    ``predict`` gives 0/1.

    >>> from shenjing.data import logic_gate
    >>> x, _ = logic_gate("xor")
    >>> XorNet().predict(x).tolist()
    [0.0, 1.0, 1.0, 0.0]
    """

    def __init__(self, pretrained: bool = True, hidden: int = 2) -> None:
        super().__init__()
        self.hidden = Linear(2, hidden)
        self.relu = ReLU()
        self.output = Linear(hidden, 1)
        if pretrained:
            if hidden != 2:
                raise ValueError("the notes' weights are for 2 hidden units")
            with no_grad():
                self.hidden.weight.copy_(_creation.tensor([[1.0, 1.0], [1.0, 1.0]]))
                self.hidden.bias.copy_(_creation.tensor([0.0, -1.0]))
                self.output.weight.copy_(_creation.tensor([[1.0, -2.0]]))
                self.output.bias.copy_(_creation.tensor([-0.5]))

    def forward(self, x: Tensor) -> Tensor:
        return self.output(self.relu(self.hidden(x))).reshape(-1)

    @no_grad()
    def predict(self, x: Tensor) -> Tensor:
        return (self.forward(x) > 0).to(x.dtype)
