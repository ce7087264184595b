"""Multi-layer perceptrons: Linear layers with an activation between them."""

from __future__ import annotations

from typing import Sequence

from shenjing._tensor import Tensor
from shenjing.nn.modules import activation as activations
from shenjing.nn.modules.container import Sequential
from shenjing.nn.modules.dropout import Dropout
from shenjing.nn.modules.flatten import Flatten
from shenjing.nn.modules.linear import Linear
from shenjing.nn.modules.module import Module

__all__ = ["MLP"]

ACTIVATIONS = {"relu": activations.ReLU, "sigmoid": activations.Sigmoid, "tanh": activations.Tanh,
               "leaky_relu": activations.LeakyReLU, "elu": activations.ELU, "gelu": activations.GELU,
               "silu": activations.SiLU, "softplus": activations.Softplus}


class MLP(Module):
    """``MLP([784, 256, 128, 10])``: Linear(784, 256) -> act -> Linear(256, 128) -> act -> Linear(128, 10).

    Inputs with more than two dims are flattened from dim 1 (so images go in directly). The last
    layer has no activation: it gives logits for CrossEntropyLoss (or values for regression).
    ``activation``: relu, sigmoid, tanh, leaky_relu, elu, gelu, silu or softplus.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2 or any(s <= 0 for s in sizes):
            raise ValueError(f"sizes must list at least an input and an output size, all positive; got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation '{activation}'; expected one of {', '.join(ACTIVATIONS)}")
        layers: list[Module] = [Flatten()]
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
                if dropout:
                    layers.append(Dropout(dropout))
        self.sizes, self.activation = sizes, activation
        self.layers = Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
