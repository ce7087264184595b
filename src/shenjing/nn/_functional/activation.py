"""Activation functions with PyTorch's names and signatures (``F.relu``, ``F.gelu``, ...).

Where an activation is a composition of existing ops (silu, softsign, prelu, the tanh form of gelu)
it is written as one and needs no backward of its own. The others are small ``Op`` classes with
forward (NumPy) and backward (tensor ops, so differentiable again) side by side.

Functions that PyTorch lets work in place take ``inplace=True`` or have a trailing-underscore twin
(``relu_``, ``leaky_relu_``, ``elu_``, ``hardtanh_``, ``threshold_``): they overwrite the input and
take over its place in the graph, like ``x.relu_()``.

``erf`` (the Gauss error function, needed by the exact GELU) is computed here because NumPy has
none; see ``_erf_array`` for the method and its accuracy.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from shenjing._ops._util import check_tensor, float_input
from shenjing._ops import activation as _activation
from shenjing._ops.elementwise import abs, exp, relu as _relu, sigmoid, tanh, where
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op, shown_as

__all__ = ["relu", "relu_", "leaky_relu", "leaky_relu_", "elu", "elu_", "gelu", "silu", "sigmoid", "tanh",
           "softplus", "hardtanh", "hardtanh_", "relu6", "prelu", "softmax", "log_softmax", "logsigmoid",
           "softsign", "threshold", "threshold_", "step", "erf"]


def _apply(function: Any, input: Tensor, inplace: bool, *args: Any) -> Tensor:
    """``function(input, *args)``, written into ``input``'s memory when ``inplace`` (like ``x.relu_()``)."""
    check_tensor(input)
    return input._inplace(function, *args) if inplace else function(input, *args)


# -- softmax with PyTorch's implicit dim ------------------------------------------------------------

def _implicit_dim(name: str, ndim: int, stacklevel: int) -> int:
    """PyTorch's legacy choice of dim when none is given (0 for 0-, 1- and 3-d inputs, else 1), with its
    deprecation warning."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  f"dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """exp(z_i) / sum_j exp(z_j) along ``dim``; without ``dim``, PyTorch's legacy choice (with a warning).

    >>> import shenjing
    >>> softmax(shenjing.tensor([0.0, 0.0]), dim=0)
    tensor([0.5000, 0.5000])
    """
    if dim is None:
        dim = _implicit_dim("softmax", check_tensor(input)._data.ndim, _stacklevel)
    return _activation.softmax(input, dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """z_i - log(sum_j exp(z_j)) along ``dim``; without ``dim``, PyTorch's legacy choice (with a warning)."""
    if dim is None:
        dim = _implicit_dim("log_softmax", check_tensor(input)._data.ndim, _stacklevel)
    return _activation.log_softmax(input, dim, dtype)


# -- the error function ----------------------------------------------------------------------------

_SPLIT = 2.0          # the series below, the continued fraction above
_SERIES_TERMS = 32    # for |x| < 2: 30 terms already reach 1e-15 relative (measured against math.erf)
_FRACTION_DEPTH = 80  # for |x| >= 2: depth 60 already reaches 1e-15; convergence is faster for larger |x|
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf_array(x: np.ndarray) -> np.ndarray:
    """erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt, elementwise, computed in float64.

    Two classical expansions, each used where it converges fast and without cancellation:

    * |x| < 2, the series with positive terms (Abramowitz & Stegun 7.1.6)
      erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n (2x^2)^n x / (1*3*5*...*(2n+1));
    * |x| >= 2, Laplace's continued fraction for the complement
      erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))),
      evaluated bottom-up at a fixed depth, and erf = 1 - erfc.

    The relative error against ``math.erf`` is below 2e-15 on [-8, 8] and for tiny |x| (tested).
    erf is odd, so both work on |x| and the sign is put back at the end.
    """
    x = np.asarray(x, dtype=np.float64)
    magnitude = np.abs(x)
    result = np.empty_like(magnitude)
    near = magnitude < _SPLIT
    a = magnitude[near]
    term = a.copy()
    total = a.copy()
    two_a_squared = 2.0 * a * a
    for n in range(1, _SERIES_TERMS):
        term *= two_a_squared
        term *= 1.0 / (2 * n + 1)
        total += term
    result[near] = _TWO_OVER_SQRT_PI * np.exp(-a * a) * total
    b = magnitude[~near]
    fraction = b.copy()
    for k in range(_FRACTION_DEPTH, 0, -1):
        fraction = b + (k / 2.0) / fraction
    with np.errstate(invalid="ignore"):  # inf / inf for x = inf: erfc is 0 there
        complement = np.exp(-b * b) / (math.sqrt(math.pi) * fraction)
    result[~near] = 1.0 - np.nan_to_num(complement, nan=0.0)
    return np.sign(x) * result


class Erf(Op):
    def forward(self, x):
        self.save_for_backward(x)
        return _erf_array(x).astype(x.dtype, copy=False)

    def backward(self, gy):
        # d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
        (x,) = self.saved_tensors
        return gy * (exp(-(x * x)) * _TWO_OVER_SQRT_PI)


def erf(input: Tensor) -> Tensor:
    """The Gauss error function erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt, elementwise.

    Accurate to about 2e-15 relative in float64 (NumPy has no erf; see ``_erf_array``).

    >>> import shenjing
    >>> erf(shenjing.tensor([0.0, 0.5, 2.0], dtype=shenjing.float64))
    tensor([0.0000, 0.5205, 0.9953], dtype=shenjing.float64)
    """
    return Erf()(float_input(check_tensor(input)))


# -- rectifiers ------------------------------------------------------------------------------------

def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(0, x) elementwise; gradient 1 where x > 0, else 0. Shape: any -> same.

    >>> import shenjing
    >>> relu(shenjing.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 2.])
    """
    return _apply(_relu, input, inplace)


def relu_(input: Tensor) -> Tensor:
    """In-place ``relu``."""
    return relu(input, inplace=True)


class LeakyRelu(Op):
    def __init__(self, negative_slope: float) -> None:
        self.negative_slope = negative_slope

    def forward(self, x):
        self.save_for_backward(x)
        return np.where(x > 0, x, x * x.dtype.type(self.negative_slope))

    def backward(self, gy):
        (x,) = self.saved_tensors
        return where(x > 0, gy, gy * self.negative_slope)


def _leaky_relu(x: Tensor, negative_slope: float) -> Tensor:
    return LeakyRelu(negative_slope)(float_input(x))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope * x (the course's max(0.1x, x) with slope 0.1).

    >>> import shenjing
    >>> leaky_relu(shenjing.tensor([-2.0, 3.0]), 0.1)
    tensor([-0.2000,  3.0000])
    """
    return _apply(_leaky_relu, input, inplace, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place ``leaky_relu``."""
    return leaky_relu(input, negative_slope, inplace=True)


class Elu(Op):
    def __init__(self, alpha: float) -> None:
        self.alpha = alpha

    def forward(self, x):
        self.save_for_backward(x)
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)) * x.dtype.type(self.alpha))

    def backward(self, gy):
        # d/dx = alpha * e^x for x <= 0, 1 otherwise (also at NaN, as in PyTorch)
        (x,) = self.saved_tensors
        negative = x <= 0
        return where(negative, gy * exp(where(negative, x, 0.0)) * self.alpha, gy)


def _elu(x: Tensor, alpha: float) -> Tensor:
    return Elu(alpha)(float_input(x))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (e^x - 1) otherwise: smooth, with negative outputs that push means to 0.

    >>> import shenjing
    >>> elu(shenjing.tensor([-1.0, 2.0]))
    tensor([-0.6321,  2.0000])
    """
    return _apply(_elu, input, inplace, alpha)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place ``elu``."""
    return elu(input, alpha, inplace=True)


class Hardtanh(Op):
    def __init__(self, min_val: float, max_val: float) -> None:
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x):
        self.save_for_backward(x)
        return np.clip(x, self.min_val, self.max_val)

    def backward(self, gy):
        # the gradient passes strictly inside (min_val, max_val) and at NaN, as in PyTorch
        (x,) = self.saved_tensors
        return where((x <= self.min_val) | (x >= self.max_val), 0.0, gy)


def _hardtanh(x: Tensor, min_val: float, max_val: float) -> Tensor:
    return Hardtanh(min_val, max_val)(float_input(x))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clipped to [min_val, max_val]; gradient 1 strictly inside, 0 outside and on the edges.

    >>> import shenjing
    >>> hardtanh(shenjing.tensor([-3.0, 0.5, 3.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return _apply(_hardtanh, input, inplace, min_val, max_val)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place ``hardtanh``."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(0, x), 6) = hardtanh(x, 0, 6).

    >>> import shenjing
    >>> relu6(shenjing.tensor([-1.0, 3.0, 9.0]))
    tensor([0., 3., 6.])
    """
    return hardtanh(input, 0.0, 6.0, inplace)


class Threshold(Op):
    def __init__(self, threshold: float, value: float) -> None:
        self.threshold, self.value = threshold, value

    def forward(self, x):
        self.save_for_backward(x)
        return np.where(x <= self.threshold, x.dtype.type(self.value), x)  # (NaN stays NaN, as in PyTorch)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return where(x <= self.threshold, 0.0, gy)  # (NaN passes the gradient, as in PyTorch)


def _threshold(x: Tensor, threshold: float, value: float) -> Tensor:
    return Threshold(threshold, value)(x)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else ``value``.

    >>> import shenjing
    >>> threshold(shenjing.tensor([0.5, 2.0]), 1.0, -1.0)
    tensor([-1.,  2.])
    """
    return _apply(_threshold, input, inplace, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place ``threshold``."""
    return _apply(_threshold, input, True, threshold, value)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else a * x with a learnt slope ``a`` per channel (dim 1), or one shared slope.

    Shapes: input (N, C, *) with weight (C,) or (1,); inputs with fewer than 2 dims take a weight of
    one element.

    >>> import shenjing
    >>> prelu(shenjing.tensor([[-2.0, 3.0]]), shenjing.tensor([0.25]))
    tensor([[-0.5000,  3.0000]])
    """
    check_tensor(input)
    check_tensor(weight, "prelu(): weight")
    count = weight.numel()
    if count == 1:
        slope = weight.reshape(())
    else:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if weight.ndim != 1 or count != channels:
            raise RuntimeError(f"prelu: mismatch of parameter numbers and input channel size: weight has "
                               f"{count} elements (shape {list(weight.shape)}), input {list(input.shape)} has "
                               f"{channels} channels")
        slope = weight.reshape((count,) + (1,) * (input.ndim - 2))
    return shown_as(where(input > 0, input, slope * input), "PreluKernelBackward0")  # (PyTorch's kernel node)


# -- smooth activations ----------------------------------------------------------------------------

def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit: x * Phi(x), Phi the standard normal CDF.

    approximate='none': 0.5 x (1 + erf(x / sqrt(2)));
    approximate='tanh': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    >>> import shenjing
    >>> gelu(shenjing.tensor([-1.0, 0.0, 1.0]))
    tensor([-0.1587,  0.0000,  0.8413])
    """
    input = float_input(check_tensor(input))
    if approximate == "none":
        return shown_as(input * 0.5 * (1.0 + erf(input * (1.0 / math.sqrt(2.0)))), "GeluBackward0")
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return shown_as(input * 0.5 * (1.0 + tanh(inner)), "GeluBackward0")
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish).

    >>> import shenjing
    >>> silu(shenjing.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7311])
    """
    return _apply(_silu, input, inplace)


def _silu(x: Tensor) -> Tensor:
    x = float_input(x)
    return shown_as(x * sigmoid(x), "SiluBackward0")


class Softplus(Op):
    def __init__(self, beta: float, threshold: float) -> None:
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        self.save_for_backward(x)
        scaled = x * x.dtype.type(self.beta)
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large z
        smooth = (np.maximum(scaled, 0) + np.log1p(np.exp(-np.abs(scaled)))) / x.dtype.type(self.beta)
        return np.where(scaled > self.threshold, x, smooth)

    def backward(self, gy):
        # d/dx = sigmoid(beta x), and 1 above the threshold where the output is x itself
        (x,) = self.saved_tensors
        scaled = x * self.beta
        return where(scaled > self.threshold, gy, gy * sigmoid(scaled))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """(1/beta) log(1 + e^(beta x)), a smooth ReLU; reverts to x where beta x > threshold.

    >>> import shenjing
    >>> softplus(shenjing.tensor([0.0, 30.0]))
    tensor([ 0.6931, 30.0000])
    """
    return Softplus(beta, threshold)(float_input(check_tensor(input)))


class LogSigmoid(Op):
    def forward(self, x):
        self.save_for_backward(x)
        # log(1 / (1 + e^-x)) = min(x, 0) - log1p(e^-|x|): finite for x = -1000
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))

    def backward(self, gy):
        # d/dx log sigmoid(x) = 1 - sigmoid(x) = sigmoid(-x)
        (x,) = self.saved_tensors
        return gy * sigmoid(-x)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), computed without overflow.

    >>> import shenjing
    >>> logsigmoid(shenjing.tensor([0.0, -1000.0])).tolist()
    [-0.6931471824645996, -1000.0]
    """
    return LogSigmoid()(float_input(check_tensor(input)))


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|).

    >>> import shenjing
    >>> softsign(shenjing.tensor([-3.0, 1.0]))
    tensor([-0.7500,  0.5000])
    """
    input = float_input(check_tensor(input))
    return input / (1.0 + abs(input))


# -- the M-P neuron's threshold unit (not in PyTorch) ----------------------------------------------

class Step(Op):
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def forward(self, x):
        return (x >= self.threshold).astype(x.dtype)

    def backward(self, gy):
        return gy * 0.0  # piecewise constant: zero gradient everywhere (undefined at the jump)


def step(input: Tensor, threshold: float = 0.0) -> Tensor:
    """The unit step of the McCulloch-Pitts neuron: 1.0 where x >= threshold, else 0.0.

    Not differentiable at the threshold and flat elsewhere, so its gradient is taken as zero: a
    network of step units cannot learn by backpropagation (the reason sigmoid replaced it).
    A shenjing extension; PyTorch has no such activation.

    >>> import shenjing
    >>> step(shenjing.tensor([-0.5, 0.0, 2.0]))
    tensor([0., 1., 1.])
    """
    return Step(threshold)(float_input(check_tensor(input)))
