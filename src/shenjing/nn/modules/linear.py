"""Fully connected layers: ``Linear`` (y = x W^T + b), ``Bilinear`` (y = x1^T W x2 + b), ``Identity`` and
the course's ``Maxout``."""

from __future__ import annotations

import math
from typing import Any

from shenjing._creation import empty
from shenjing._tensor import Tensor
from shenjing.nn._functional.linear import bilinear, linear, maxout
from shenjing.nn.modules.module import Module
from shenjing.nn.parameter import Parameter

__all__ = ["Identity", "Linear", "Bilinear", "Maxout"]


def _check_size(layer: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return value


def _uniform(shape: tuple[int, ...], bound: float, dtype: Any) -> Parameter:
    """A parameter drawn from U(-bound, bound) with the default generator (PyTorch's ``uniform_`` numbers)."""
    return Parameter(empty(*shape, dtype=dtype).uniform_(-bound, bound))


def kaiming_bound(fan_in: int) -> float:
    """The bound of PyTorch's default weight init, ``kaiming_uniform_(w, a=sqrt(5))``: sqrt(3) * gain /
    sqrt(fan_in) with gain = sqrt(2 / (1 + a^2)), which is 1/sqrt(fan_in) up to rounding (computed as
    PyTorch does, so the float32 bounds and hence the weights are PyTorch's to the bit)."""
    gain = math.sqrt(2.0 / (1 + math.sqrt(5) ** 2))
    return math.sqrt(3.0) * (gain / math.sqrt(fan_in))


def _check_last_dim(layer: Module, input: Tensor, expected: int) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{layer!r} expects a Tensor input, got {type(input).__name__}")
    shape = input._data.shape
    if not shape or shape[-1] != expected:
        raise RuntimeError(f"{layer!r} expects input [..., {expected}], got {list(input.shape)}")


class Identity(Module):
    """Returns its input unchanged (a placeholder); accepts and ignores any arguments, like PyTorch's.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Identity()(shenjing.tensor([1.0, 2.0]))
    tensor([1., 2.])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """Fully connected layer: y = x W^T + b.

    Parameters: ``weight`` (out_features, in_features) and ``bias`` (out_features,), both drawn from
    U(-1/sqrt(in_features), 1/sqrt(in_features)) (PyTorch's default, kaiming-uniform with a = sqrt(5)).
    Shapes: input (*, in_features) -> (*, out_features).

    >>> import shenjing
    >>> from shenjing import nn
    >>> fc = nn.Linear(400, 10)
    >>> fc
    Linear(in_features=400, out_features=10, bias=True)
    >>> fc(shenjing.randn(2, 400)).shape
    shenjing.Size([2, 10])
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_features = _check_size("Linear", "in_features", in_features)
        self.out_features = _check_size("Linear", "out_features", out_features)
        self.weight = _uniform((out_features, in_features), kaiming_bound(in_features), dtype)
        if bias:
            self.bias = _uniform((out_features,), 1.0 / math.sqrt(in_features), dtype)
        else:
            self.register_parameter("bias", None)

    def forward(self, input: Tensor) -> Tensor:
        _check_last_dim(self, input, self.in_features)
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y_k = x1^T W_k x2 + b_k (see ``F.bilinear``).

    Parameters: ``weight`` (out_features, in1_features, in2_features) and ``bias`` (out_features,), both
    from U(-1/sqrt(in1_features), 1/sqrt(in1_features)) (PyTorch's default).
    Shapes: (*, in1_features), (*, in2_features) -> (*, out_features).

    >>> import shenjing
    >>> from shenjing import nn
    >>> layer = nn.Bilinear(3, 2, 4)
    >>> layer
    Bilinear(in1_features=3, in2_features=2, out_features=4, bias=True)
    >>> layer(shenjing.randn(5, 3), shenjing.randn(5, 2)).shape
    shenjing.Size([5, 4])
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in1_features = _check_size("Bilinear", "in1_features", in1_features)
        self.in2_features = _check_size("Bilinear", "in2_features", in2_features)
        self.out_features = _check_size("Bilinear", "out_features", out_features)
        bound = 1.0 / math.sqrt(in1_features)
        self.weight = _uniform((out_features, in1_features, in2_features), bound, dtype)
        if bias:
            self.bias = _uniform((out_features,), bound, dtype)
        else:
            self.register_parameter("bias", None)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Maxout(Module):
    """Maxout unit (from the course; not in PyTorch): y_j = max_{k < pieces} (W_{j,k} . x + b_{j,k}).

    Each of the ``out_features`` outputs is the largest of ``pieces`` affine functions of the input
    (the course's max(w1^T x + b1, w2^T x + b2) is pieces = 2). Maxout generalises ReLU
    (max(w^T x + b, 0)) and Leaky ReLU, never saturates, and learns a convex piecewise-linear
    activation, at ``pieces`` times the parameters of a Linear layer.

    Parameters: ``weight`` (out_features * pieces, in_features), ``bias`` (out_features * pieces,),
    row j * pieces + k being piece k of unit j; initialised like ``Linear``.
    Shapes: input (*, in_features) -> (*, out_features).

    >>> import shenjing
    >>> from shenjing import nn
    >>> layer = nn.Maxout(4, 3, pieces=2)
    >>> layer(shenjing.randn(5, 4)).shape
    shenjing.Size([5, 3])
    """

    def __init__(self, in_features: int, out_features: int, pieces: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_features = _check_size("Maxout", "in_features", in_features)
        self.out_features = _check_size("Maxout", "out_features", out_features)
        self.pieces = _check_size("Maxout", "pieces", pieces)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = _uniform((out_features * pieces, in_features), bound, dtype)
        if bias:
            self.bias = _uniform((out_features * pieces,), bound, dtype)
        else:
            self.register_parameter("bias", None)

    def forward(self, input: Tensor) -> Tensor:
        _check_last_dim(self, input, self.in_features)
        return maxout(input, self.weight, self.bias, self.pieces)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}, "
                f"bias={self.bias is not None}")
