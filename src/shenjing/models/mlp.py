"""Multi-layer perceptrons: Linear layers with an activation between them."""

from __future__ import annotations

from typing import Sequence

from shenjing._tensor import Tensor
from shenjing.models._fused import all_of, linear_relu, linear_stack, watched
from shenjing.nn.modules import activation as activations
from shenjing.nn.modules.container import Sequential
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
    layer has no activation: it gives logits for CrossEntropyLoss (or values for regression). With
    ReLU, the layers run as one op where no hook watches them (each Linear layer with its ReLU where
    there is dropout): the same values.
    ``activation``: relu, sigmoid, tanh, leaky_relu, elu, gelu, silu or softplus.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2 or any(s <= 0 for s in sizes):
            raise ValueError(f"sizes must list at least an input and an output size, all positive; got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation '{activation}'; expected one of {', '.join(ACTIVATIONS)}")
        from shenjing.nn.modules.dropout import Dropout

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
        layers = self.layers
        if self.activation != "relu" or watched(layers):
            return layers(x)
        modules = list(layers)
        linears, relus = modules[1::2], modules[2::2]
        if (len(modules) % 2 == 0 and all_of(Linear, linears)  # Flatten, (Linear, ReLU) * k, Linear
                and all_of(activations.ReLU, relus) and type(modules[0]) is Flatten and not watched(modules[0])):
            return linear_stack(linears, relus, x, flatten=True)
        i = 0
        while i < len(modules):  # each Linear followed by a ReLU as one op where nothing watches them
            layer = modules[i]
            if type(layer) is Linear and i + 1 < len(modules) and type(modules[i + 1]) is activations.ReLU:
                x = linear_relu(layer, modules[i + 1], x)
                i += 2
            else:
                x = layer(x)
                i += 1
        return x
