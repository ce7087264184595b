"""Weight initialisation, in place, with PyTorch's names: ``kaiming_uniform_``, ``xavier_normal_``, ...

Why it matters: with weights of the wrong scale, activations and gradients shrink or grow by a constant
factor per layer, and a deep network does not learn. The schemes below pick the scale from the layer's
*fan* (how many inputs feed one output, ``fan_in``, or how many outputs one input feeds, ``fan_out``)::

    xavier (Glorot):  std = gain * sqrt(2 / (fan_in + fan_out))    keeps variance forward and backward
    kaiming (He):     std = gain / sqrt(fan)                       for ReLU-like layers, gain = sqrt(2)

A uniform distribution U(-bound, bound) has std ``bound / sqrt(3)``, hence ``bound = sqrt(3) * std``.

Every function writes into ``tensor`` without recording a graph and returns it, so they apply to
parameters directly; each takes an optional ``generator=`` (a ``shenjing.Generator``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from shenjing import _random_draws
from shenjing._random import Generator, default_generator, generator_or_default
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
           "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "orthogonal_", "sparse_"]

_LINEAR_FUNCTIONS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                     "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: the factor that keeps the variance of activations
    roughly constant from layer to layer.

    ============================  =============================
    linear, conv*d, sigmoid       1
    tanh                          5/3
    relu                          sqrt(2)
    leaky_relu (slope ``param``)  sqrt(2 / (1 + slope^2))  (slope 0.01 if None)
    selu                          3/4
    ============================  =============================

    >>> round(calculate_gain("relu"), 4), round(calculate_gain("leaky_relu", 0.2), 4)
    (1.4142, 1.3868)
    """
    if nonlinearity in _LINEAR_FUNCTIONS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)``:
    ``fan_in = in * prod(kernel)``, ``fan_out = out * prod(kernel)``."""
    if tensor.dim() < 2:
        raise ValueError(f"Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
                         f"(got shape {list(tensor.shape)})")
    receptive_field = int(np.prod(tensor.shape[2:], dtype=np.int64))
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _write(tensor: Tensor, values: Any) -> Tensor:
    """Overwrite ``tensor`` with ``values`` (broadcast, cast to its dtype) outside the graph."""
    with no_grad():
        tensor.copy_(Tensor._make(np.asarray(values)))
    return tensor


def _uniform(tensor: Tensor, low: float, high: float, generator: Generator | None) -> Tensor:
    """``tensor.uniform_(low, high)``: PyTorch's numbers for the tensor's dtype."""
    values = _random_draws.uniform(generator_or_default(generator), tuple(tensor.shape), tensor._data.dtype,
                                   low, high)
    return _write(tensor, values)


def _normal(tensor: Tensor, mean: float, std: float, generator: Generator | None) -> Tensor:
    """``tensor.normal_(mean, std)``: PyTorch's numbers for the tensor's dtype."""
    values = _random_draws.normal(generator_or_default(generator), tuple(tensor.shape), tensor._data.dtype,
                                  mean, std)
    return _write(tensor, values)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with draws from U(a, b).

    >>> import shenjing
    >>> w = uniform_(shenjing.empty(1000), -0.5, 0.5)
    >>> bool(w.min() >= -0.5) and bool(w.max() < 0.5)
    True
    """
    return _uniform(tensor, a, b, generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with draws from N(mean, std^2).

    >>> import shenjing
    >>> normal_(shenjing.empty(2, 3)).shape
    shenjing.Size([2, 3])
    """
    return _normal(tensor, mean, std, generator)


def _phi(x: float) -> float:
    """The standard normal CDF."""
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: Generator | None = None) -> Tensor:
    """Fill with draws from N(mean, std^2) conditioned on lying in ``[a, b]`` (absolute bounds).

    Rejection sampling as PyTorch 2.13 does it, so the numbers are PyTorch's: when the window holds more than
    30% of the mass, normals are drawn for the whole tensor and redrawn (whole tensors again) where they fall
    outside; otherwise uniform proposals on [a, b] are accepted where ``log u <= -(z - mean)^2 / (2 std^2)``
    minus the same at the point of the window nearest the mean.

    >>> import shenjing
    >>> w = trunc_normal_(shenjing.empty(1000), std=0.02, a=-0.04, b=0.04)
    >>> bool(w.abs().max() <= 0.04)
    True
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values "
                      "may be incorrect.", stacklevel=2)
    source = generator_or_default(generator)
    shape, dtype = tuple(tensor.shape), tensor._data.dtype
    mass = _phi((b - mean) / std) - _phi((a - mean) / std)
    if mass > 0.3:
        low, high = float(dtype.type(a)), float(dtype.type(b))
        result = _random_draws.normal(source, shape, dtype, mean, std)
        outside = (result < low) | (result > high)
        while outside.any():
            result = np.where(outside, _random_draws.normal(source, shape, dtype, mean, std), result)
            outside = (result < low) | (result > high)
        return _write(tensor, result)
    mode = max(a, min(mean, b))
    log_peak = -0.5 * ((mode - mean) / std) ** 2

    def log_density(values: np.ndarray) -> np.ndarray:
        scaled = (values - dtype.type(mean)) / dtype.type(std)
        return (scaled * scaled) * dtype.type(-0.5) - dtype.type(log_peak)

    def rejected(values: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):  # log(0) = -inf accepts, as in PyTorch
            return np.log(_random_draws.uniform(source, shape, dtype)) > log_density(values)

    result = _random_draws.uniform(source, shape, dtype, a, b)
    pending = rejected(result)
    while pending.any():
        candidates = _random_draws.uniform(source, shape, dtype, a, b)
        result = np.where(pending, candidates, result)
        pending = np.where(pending, rejected(candidates), pending)
    return _write(tensor, result)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value ``val``.

    >>> import shenjing
    >>> constant_(shenjing.empty(3), 0.5)
    tensor([0.5000, 0.5000, 0.5000])
    """
    return _write(tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return _write(tensor, 1)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros (the usual start for biases)."""
    return _write(tensor, 0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (rectangular: ones on the main diagonal).

    >>> import shenjing
    >>> eye_(shenjing.empty(2, 3))
    tensor([[1., 0., 0.],
            [0., 1., 0.]])
    """
    if tensor.dim() != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported, got shape {list(tensor.shape)}")
    return _write(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a conv weight ``(out, in, *kernel)`` so that the convolution is the identity: a 1 at the
    kernel's centre connecting output channel ``k`` to input channel ``k`` (within each group).

    >>> import shenjing
    >>> w = dirac_(shenjing.empty(2, 2, 3, 3))
    >>> w[0, 0, 1, 1].item(), w[0, 1, 1, 1].item(), w.sum().item()
    (1.0, 0.0, 2.0)
    """
    if tensor.dim() not in (3, 4, 5):
        raise ValueError(f"Only tensors with 3, 4, or 5 dimensions are supported, got shape "
                         f"{list(tensor.shape)}")
    shape = tuple(tensor.shape)
    if shape[0] % groups != 0:
        raise ValueError(f"dim 0 must be divisible by groups (dim 0 is {shape[0]}, groups={groups})")
    out_per_group = shape[0] // groups
    values = np.zeros(shape)
    centre = tuple(size // 2 for size in shape[2:])
    for group in range(groups):
        for channel in range(min(out_per_group, shape[1])):
            values[(group * out_per_group + channel, channel) + centre] = 1
    return _write(tensor, values)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot uniform: U(-bound, bound), ``bound = gain * sqrt(6 / (fan_in + fan_out))``.

    >>> import shenjing
    >>> w = xavier_uniform_(shenjing.empty(30, 20))
    >>> bool(w.abs().max() <= (6 / 50) ** 0.5)
    True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return _uniform(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot normal: N(0, std^2), ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    >>> import shenjing
    >>> xavier_normal_(shenjing.empty(30, 20)).shape
    shenjing.Size([30, 20])
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _normal(tensor, 0.0, std, generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: Generator | None = None) -> Tensor:
    """He uniform: U(-bound, bound), ``bound = gain * sqrt(3 / fan)``, ``gain = calculate_gain(
    nonlinearity, a)``, ``fan`` = fan_in (default; preserves the forward variance) or fan_out (backward).

    ``nn.Linear`` and ``nn.Conv2d`` initialise their weight with ``a=sqrt(5)``, which gives
    ``bound = 1 / sqrt(fan_in)``.

    >>> import shenjing
    >>> w = kaiming_uniform_(shenjing.empty(300, 400), a=5 ** 0.5)
    >>> bool(w.abs().max() <= 1 / 400 ** 0.5)
    True
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return _uniform(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: Generator | None = None) -> Tensor:
    """He normal: N(0, std^2), ``std = gain / sqrt(fan)`` (see ``kaiming_uniform_``).

    >>> import shenjing
    >>> kaiming_normal_(shenjing.empty(16, 6, 5, 5), mode="fan_out", nonlinearity="relu").shape
    shenjing.Size([16, 6, 5, 5])
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return _normal(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix: rows ``(out,)`` by columns ``(prod of the rest,)``.

    Q comes from the QR decomposition of a Gaussian matrix, with Q's columns multiplied by the signs
    of R's diagonal so that Q is uniformly (Haar) distributed; then ``W = gain * Q`` (or its
    transpose when there are fewer rows than columns), so ``W W^T = gain^2 I`` or ``W^T W = gain^2 I``.

    >>> import shenjing
    >>> w = orthogonal_(shenjing.empty(4, 3))
    >>> bool((w.T @ w - shenjing.eye(3)).abs().max() < 1e-5)
    True
    """
    if tensor.dim() < 2:
        raise ValueError(f"Only tensors with 2 or more dimensions are supported, got shape {list(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    gaussian = _random_draws.normal(generator_or_default(generator), (rows, cols), tensor._data.dtype)
    if rows < cols:
        gaussian = gaussian.T
    q, r = np.linalg.qr(gaussian)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, gain * q.reshape(tuple(tensor.shape)))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Generator | None = None) -> Tensor:
    """Fill a 2-D tensor with N(0, std^2) values and then zero ``ceil(sparsity * rows)`` randomly chosen
    entries in every column (Martens, 2010).

    >>> import shenjing
    >>> w = sparse_(shenjing.empty(10, 4), sparsity=0.3)
    >>> [int((w[:, j] == 0).sum()) for j in range(4)]
    [3, 3, 3, 3]
    """
    if tensor.dim() != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported, got shape {list(tensor.shape)}")
    rows, cols = tensor.shape
    zeros_per_column = int(math.ceil(sparsity * rows))
    values = _random_draws.normal(generator_or_default(generator), (rows, cols), tensor._data.dtype, 0.0, std)
    for column in range(cols):  # as PyTorch: each column's rows from randperm on the default generator
        values[_random_draws.permutation(default_generator, rows)[:zeros_per_column], column] = 0
    return _write(tensor, values)


def _deprecated(new: Any) -> Any:
    """The old name of an initialiser (before PyTorch added the trailing underscore): warns as PyTorch does."""
    old = new.__name__[:-1]

    def initialise(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.", FutureWarning,
                      stacklevel=2)
        return new(*args, **kwargs)

    initialise.__name__ = initialise.__qualname__ = old
    initialise.__doc__ = f"Deprecated: ``{new.__name__}``."
    return initialise


uniform, normal, constant, eye, dirac = (_deprecated(f) for f in (uniform_, normal_, constant_, eye_, dirac_))
xavier_uniform, xavier_normal = _deprecated(xavier_uniform_), _deprecated(xavier_normal_)
kaiming_uniform, kaiming_normal = _deprecated(kaiming_uniform_), _deprecated(kaiming_normal_)
orthogonal, sparse = _deprecated(orthogonal_), _deprecated(sparse_)
