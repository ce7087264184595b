"""More activation functions with PyTorch's names and signatures: the shrinkage functions
(``hardshrink``, ``softshrink``, ``tanhshrink``), the self-normalising ``selu`` / ``celu``, the cheap
``hardsigmoid`` / ``hardswish``, ``mish``, the gated ``glu``, the randomised ``rrelu`` and ``softmin``.

Each is composed of differentiable ops (so it needs no backward of its own); the ``inplace`` forms
overwrite the input as ``shenjing.nn.functional.relu_`` does.
"""

from __future__ import annotations

import warnings
from typing import Any

from shenjing._ops._util import check_tensor, float_input, normalize_dim
from shenjing._ops.activation import softmax
from shenjing._ops.elementwise import abs, exp, sigmoid, tanh, where
from shenjing._tensor import Tensor
from shenjing.autograd.node import shown_as
from shenjing.nn._functional.activation import _apply, hardtanh, leaky_relu, softplus

__all__ = ["hardshrink", "softshrink", "tanhshrink", "selu", "selu_", "celu", "celu_", "hardsigmoid",
           "hardswish", "mish", "glu", "rrelu", "rrelu_", "softmin"]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, 0 elsewhere.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.hardshrink(shenjing.tensor([-1.0, 0.2, 0.7]))
    tensor([-1.0000,  0.0000,  0.7000])
    """
    check_tensor(input)
    x = float_input(input)
    return shown_as(where(abs(x) > lambd, x, 0.0), "HardshrinkBackward0")


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd for x > lambd, x + lambd for x < -lambd, 0 in between (lambd >= 0).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.softshrink(shenjing.tensor([-1.0, 0.2, 0.7]))
    tensor([-0.5000,  0.0000,  0.2000])
    """
    check_tensor(input)
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    x = float_input(input)
    return shown_as(where(x > lambd, x - lambd, where(x < -lambd, x + lambd, 0.0)), "SoftshrinkBackward0")


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.tanhshrink(shenjing.tensor([0.0, 1.0]))
    tensor([0.0000, 0.2384])
    """
    check_tensor(input)
    x = float_input(input)
    return x - tanh(x)


def _celu(x: Tensor, alpha: float) -> Tensor:
    x = float_input(x)
    negative = where(x > 0, 0.0, x)  # (exp only of the non-positive part: no overflow)
    return shown_as(where(x > 0, x, (exp(negative * (1.0 / alpha)) - 1) * alpha), "CeluBackward0")


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)): an ELU that is C1 for every alpha.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.celu(shenjing.tensor([-1.0, 2.0]), alpha=2.0)
    tensor([-0.7869,  2.0000])
    """
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu: alpha must not be 0")
    return _apply(_celu, input, inplace, alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place ``celu``."""
    return celu(input, alpha, inplace=True)


def _selu(x: Tensor) -> Tensor:
    x = float_input(x)
    negative = where(x > 0, 0.0, x)
    return shown_as(where(x > 0, x, (exp(negative) - 1) * SELU_ALPHA) * SELU_SCALE, "EluBackward0")  # (PyTorch's)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * (max(0, x) + min(0, alpha * (exp(x) - 1))) with PyTorch's alpha = 1.6732632...,
    scale = 1.0507009... (self-normalising networks).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.selu(shenjing.tensor([-1.0, 1.0]))
    tensor([-1.1113,  1.0507])
    """
    return _apply(_selu, input, inplace)


def selu_(input: Tensor) -> Tensor:
    """In-place ``selu``."""
    return selu(input, inplace=True)


def _hardsigmoid(x: Tensor) -> Tensor:
    return shown_as(hardtanh(float_input(x) + 3.0, 0.0, 6.0) * (1.0 / 6.0), "HardsigmoidBackward0")


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear in between.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.hardsigmoid(shenjing.tensor([-4.0, 0.0, 1.5]))
    tensor([0.0000, 0.5000, 0.7500])
    """
    return _apply(_hardsigmoid, input, inplace)


def _hardswish(x: Tensor) -> Tensor:
    x = float_input(x)
    return shown_as(x * _hardsigmoid(x), "HardswishBackward0")


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6 (MobileNetV3).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.hardswish(shenjing.tensor([-4.0, 1.5, 4.0]))
    tensor([-0.0000,  1.1250,  4.0000])
    """
    return _apply(_hardswish, input, inplace)


def _mish(x: Tensor) -> Tensor:
    x = float_input(x)
    return shown_as(x * tanh(softplus(x)), "MishBackward0")


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.mish(shenjing.tensor([-1.0, 1.0]))
    tensor([-0.3034,  0.8651])
    """
    return _apply(_mish, input, inplace)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: a * sigmoid(b), where a and b are the two halves of input along ``dim``.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.glu(shenjing.tensor([2.0, 4.0, 0.0, 100.0]))
    tensor([1., 4.])
    """
    check_tensor(input)
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    dim = normalize_dim(dim, input.ndim)
    size = input.shape[dim]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim} is size {size}")
    a, b = float_input(input).chunk(2, dim)
    return shown_as(a * sigmoid(b), "GluBackward0")


def _rrelu(x: Tensor, lower: float, upper: float, training: bool) -> Tensor:
    x = float_input(x)
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    slopes = x.detach().new_empty(tuple(x.shape)).uniform_(lower, upper)  # a ~ U(lower, upper) per element
    return where(x >= 0, x, x * slopes)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomised leaky ReLU: x for x >= 0, a * x otherwise, with a ~ U(lower, upper) drawn per element
    in training, and a = (lower + upper) / 2 in evaluation.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.rrelu(shenjing.tensor([-1.0, 2.0]), 0.1, 0.3)
    tensor([-0.2000,  2.0000])
    """
    check_tensor(input)
    if lower > upper:
        raise RuntimeError(f"Lower bound should be less than or equal to the upper bound (got lower={lower}, "
                           f"upper={upper})")
    return _apply(_rrelu, input, inplace, lower, upper, training)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    """In-place ``rrelu``."""
    return rrelu(input, lower, upper, training, inplace=True)


def implicit_softmax_dim(name: str, ndim: int, stacklevel: int = 3) -> int:
    """PyTorch's legacy choice of dim when none is given (with its deprecation warning): 0 for 0-, 1- and
    3-d inputs, 1 otherwise."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an "
                  f"argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """softmax(-x) along ``dim``: large weights for the smallest values.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.softmin(shenjing.tensor([0.0, 1.0]), dim=0)
    tensor([0.7311, 0.2689])
    """
    check_tensor(input)
    if dim is None:
        dim = implicit_softmax_dim("softmin", input.ndim, _stacklevel)
    x = input if dtype is None else input.to(dtype)
    return softmax(-float_input(x), dim)

