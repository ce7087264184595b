"""Reductions: sum, mean, prod, max/min (with indices), amax/amin, var/std, logsumexp, norm, all/any.

``dim`` is an int, a tuple of ints or None (every dim); ``keepdim`` keeps reduced dims as size 1.
Backward formulas first restore the reduced dims (``_unreduce``) and then broadcast.
"""

from __future__ import annotations

import builtins
import collections
import math
from typing import Any

import numpy as np

from shenjing import _dtype
from shenjing._ops._util import cast_to, check_tensor, float_input, kept_shape, normalize_dim, normalize_dims
from shenjing._ops.elementwise import abs, exp, pow, sqrt, where
from shenjing._ops.shape import Expand, Reshape, reshape
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op, shown_as

__all__ = ["sum", "mean", "prod", "cumsum", "amax", "amin", "max", "min", "argmax", "argmin", "var", "std",
           "var_mean", "std_mean", "logsumexp", "norm", "dist", "all", "any", "count_nonzero"]

values_indices = collections.namedtuple("return_types", ["values", "indices"])


def _unreduce(gy: Tensor, input_shape: tuple, dims: tuple, keepdim: bool) -> Tensor:
    """Give the upstream gradient of a reduction its size-1 dims back, so it broadcasts over the input."""
    if keepdim or gy._data.ndim == 0:  # a 0-d gradient broadcasts as it is
        return gy
    return Reshape(kept_shape(input_shape, dims))(gy)


class Sum(Op):
    def __init__(self, dims: tuple, keepdim: bool, overload: int = 0) -> None:
        self.dims, self.keepdim, self.overload = dims, keepdim, overload

    def name(self) -> str:
        return f"{type(self).__name__}Backward{self.overload}"  # PyTorch: 0 for all dims, 1 with dim=

    def forward(self, x):
        self.input_shape = x.shape
        return x.sum(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy):
        return Expand(self.input_shape)(_unreduce(gy, self.input_shape, self.dims, self.keepdim))


class Mean(Sum):
    def forward(self, x):
        self.input_shape = x.shape
        self.count = math.prod(x.shape[d] for d in self.dims)
        return x.mean(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy):
        return super().backward(gy) / self.count


def _with_dtype(input: Tensor, dtype: Any) -> Tensor:
    return cast_to(input, _dtype.as_dtype(dtype)) if dtype is not None else input


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Sum over ``dim`` (all dims by default). Integers and bools sum to int64."""
    input = _with_dtype(input, dtype)
    if input._data.dtype.kind in "biu" and input._data.dtype != np.int64:
        input = cast_to(input, _dtype.int64)
    return Sum(normalize_dims(dim, input._data.ndim), keepdim, int(dim is not None))(input)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Arithmetic mean over ``dim``; needs a floating-point input (as in PyTorch)."""
    input = _with_dtype(input, dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {input.dtype} (convert with .float() first)")
    return Mean(normalize_dims(dim, input._data.ndim), keepdim, int(dim is not None))(input)


class Prod(Op):
    def __init__(self, dim: int | None, keepdim: bool) -> None:
        self.dim, self.keepdim = dim, keepdim

    def name(self) -> str:
        return "ProdBackward0" if self.dim is None else "ProdBackward1"  # PyTorch: 1 with dim=

    def forward(self, x):
        self.save_for_backward(x)
        return x.prod(axis=self.dim, keepdims=self.keepdim)

    def backward(self, gy):
        (x,) = self.saved_tensors
        dims = tuple(range(x.ndim)) if self.dim is None else (self.dim,)
        gy = _unreduce(gy, x.shape, dims, self.keepdim)
        return gy * Tensor._make(_product_of_others(x._data, self.dim))


def _product_of_others(x: np.ndarray, dim: int | None) -> np.ndarray:
    """For each element, the product of all the others along ``dim`` (exact even with zeros)."""
    flat = x.reshape(-1) if dim is None else np.moveaxis(x, dim, -1)
    ones = np.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
    others = before * after
    return others.reshape(x.shape) if dim is None else np.moveaxis(others, -1, dim)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Product over one ``dim`` (or all elements). The gradient is exact with zeros in the input;
    it is not itself differentiable a second time."""
    input = _with_dtype(input, dtype)
    if input._data.dtype.kind in "biu" and input._data.dtype != np.int64:
        input = cast_to(input, _dtype.int64)
    return Prod(None if dim is None else normalize_dim(dim, input._data.ndim), keepdim)(input)


class Cumsum(Op):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x):
        return np.cumsum(x, axis=self.dim)

    def backward(self, gy):
        from shenjing._ops.shape import flip

        return flip(Cumsum(self.dim)(flip(gy, self.dim)), self.dim)


def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sum along ``dim``; its gradient is the running sum from the other end."""
    input = _with_dtype(input, dtype)
    if input._data.dtype.kind in "biu" and input._data.dtype != np.int64:
        input = cast_to(input, _dtype.int64)
    return Cumsum(normalize_dim(dim, input._data.ndim))(input)


# -- extremes --------------------------------------------------------------------------------------

class Amax(Op):
    """max over ``dims``; tied maxima share the gradient equally (as in PyTorch)."""

    function = staticmethod(np.amax)

    def __init__(self, dims: tuple, keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        if x.size == 0 and self.dims:
            raise RuntimeError(f"{type(self).__name__.lower()}(): Expected reduction dim to be specified for "
                               f"input.numel() == 0. Specify the reduction dim with the 'dim' argument.")
        out = self.function(x, axis=self.dims, keepdims=self.keepdim)
        self.save_for_backward(x, out)
        return out

    def backward(self, gy):
        x, out = self.saved_tensors
        shape = x.shape
        chosen = (x == _unreduce(out, shape, self.dims, self.keepdim))
        count = chosen.sum(self.dims, keepdim=True)
        return _unreduce(gy, shape, self.dims, self.keepdim) * chosen / count


class Amin(Amax):
    function = staticmethod(np.amin)


class MaxAll(Amax):
    """``max(x)`` without a dim: as ``amax`` over every dim, except that a NaN maximum sends the gradient
    to the NaN entries (shared equally), as PyTorch's ``max()`` does (its ``amax`` gives NaN to all)."""

    def name(self) -> str:
        return f"{type(self).__name__[:3]}Backward1"

    def backward(self, gy):
        x, out = self.saved_tensors
        chosen = Tensor._make(np.isnan(x._data) if np.isnan(out._data) else x._data == out._data)
        count = chosen.sum()
        return gy * chosen / count


class MinAll(MaxAll):
    function = staticmethod(np.amin)


def amax(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Largest value over ``dim`` (all dims by default)."""
    return Amax(normalize_dims(dim, input._data.ndim), keepdim)(input)


def amin(input: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Smallest value over ``dim`` (all dims by default)."""
    return Amin(normalize_dims(dim, input._data.ndim), keepdim)(input)


def _extreme_along(input: Tensor, dim: int, keepdim: bool, arg_function: Any, name: str) -> Any:
    """(values, indices) of max or min along ``dim``; values show PyTorch's MaxBackward0 / MinBackward0."""
    from shenjing._ops.index import gather

    dim = normalize_dim(dim, input._data.ndim)
    if input._data.ndim and input._data.shape[dim] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    if input._data.ndim == 0:
        return values_indices(input, Tensor._make(np.zeros((), np.int64)))
    indices = ArgExtreme(arg_function, dim, True)(input)
    values = gather(input, dim, indices)
    if not keepdim:
        shape = values._data.shape[:dim] + values._data.shape[dim + 1:]
        values, indices = reshape(values, shape), reshape(indices, shape)
    return values_indices(shown_as(values, f"{name.capitalize()}Backward0"), indices)


def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """``max(x)``: the largest element; ``max(x, dim)``: (values, indices) along ``dim``;
    ``max(x, other_tensor)``: elementwise maximum."""
    if isinstance(dim, Tensor):
        from shenjing._ops.elementwise import maximum

        return maximum(input, dim)
    if dim is None:
        return MaxAll(normalize_dims((), input._data.ndim), False)(input)
    return _extreme_along(input, dim, keepdim, np.argmax, "max")


def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """Like ``max``, for the smallest."""
    if isinstance(dim, Tensor):
        from shenjing._ops.elementwise import minimum

        return minimum(input, dim)
    if dim is None:
        return MinAll(normalize_dims((), input._data.ndim), False)(input)
    return _extreme_along(input, dim, keepdim, np.argmin, "min")


class ArgExtreme(Op):
    """The index (int64) of the first largest (``np.argmax``) or smallest (``np.argmin``) value over the
    flattened input (``dim`` None) or along ``dim``; never differentiable."""

    def __init__(self, function: Any, dim: int | None, keepdim: bool) -> None:
        self.function, self.dim, self.keepdim = function, dim, keepdim

    def forward(self, x):
        if self.dim is None:
            result = np.asarray(self.function(x.reshape(-1)), dtype=np.int64)
            return result.reshape((1,) * x.ndim) if self.keepdim else result
        if x.ndim == 0:
            return np.zeros((), np.int64)
        return self.function(x, axis=self.dim, keepdims=self.keepdim).astype(np.int64)


def _arg_extreme(input: Tensor, dim: int | None, keepdim: bool, function: Any) -> Tensor:
    if dim is None and not input._data.size:
        raise RuntimeError(f"{function.__name__}(): Expected reduction dim to be specified for input.numel() == 0.")
    return ArgExtreme(function, None if dim is None else normalize_dim(dim, input._data.ndim), keepdim)(input)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest value (first one on ties), over the flattened tensor or along ``dim``."""
    return _arg_extreme(input, dim, keepdim, np.argmax)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest value (first one on ties)."""
    return _arg_extreme(input, dim, keepdim, np.argmin)


# -- statistics ------------------------------------------------------------------------------------

class Var(Op):
    """Variance: sum((x - mean)^2) / (N - correction); d/dx = 2 (x - mean) / (N - correction)."""

    def __init__(self, dims: tuple, correction: float, keepdim: bool) -> None:
        self.dims, self.correction, self.keepdim = dims, correction, keepdim

    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.var(x, axis=self.dims, ddof=self.correction, keepdims=self.keepdim)

    def backward(self, gy):
        (x,) = self.saved_tensors
        count = math.prod(x.shape[d] for d in self.dims)
        centred = x - x.mean(self.dims, keepdim=True)
        divisor = builtins.max(count - self.correction, 0)  # 0 (one element): inf * 0 = NaN, as in PyTorch
        factor = 2.0 / divisor if divisor else math.inf
        with np.errstate(invalid="ignore"):
            return _unreduce(gy, x.shape, self.dims, self.keepdim) * centred * factor


class StdFromVar(Op):
    """sqrt(var); d/dvar = 1 / (2 std), taken as 0 where std = 0 (as PyTorch's std backward does), so
    that a constant input has a zero gradient rather than 0 * inf = NaN."""

    def name(self) -> str:
        return "StdBackward0"

    def forward(self, v):
        out = np.sqrt(v)
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        (out,) = self.saved_tensors
        zero = out._data == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return where(zero, 0.0, gy / (out * 2.0))


def _correction(unbiased: Any, correction: Any) -> float:
    if correction is not None:
        return float(correction)
    return 0.0 if unbiased is False else 1.0


def var(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:
    """Variance over ``dim`` with Bessel's ``correction`` (1 by default; ``unbiased=False`` means 0)."""
    if isinstance(unbiased, bool) or unbiased is None:
        pass
    else:  # var(x, dim, keepdim) positional forms are not PyTorch's; unbiased must be a bool
        raise TypeError(f"var(): unbiased must be a bool, got {unbiased!r}")
    input = float_input(input)
    return Var(normalize_dims(dim, input._data.ndim), _correction(unbiased, correction), keepdim)(input)


def std(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:
    """Standard deviation: sqrt(var) (NaN for one element with the default correction, as in PyTorch)."""
    return StdFromVar()(var(input, dim, unbiased, keepdim, correction=correction))


def var_mean(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None) -> tuple:
    variance, average = var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)
    return shown_as(variance, "VarMeanBackward0"), shown_as(average, "VarMeanBackward0")  # (PyTorch: one node)


def std_mean(input: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None) -> tuple:
    deviation, average = std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)
    return shown_as(deviation, "StdMeanBackward0"), shown_as(average, "StdMeanBackward0")  # (PyTorch: one node)


class LogSumExp(Op):
    """log(sum(exp(x))) computed as m + log(sum(exp(x - m))), m = max(x): no overflow for x = 1000."""

    def __init__(self, dims: tuple, keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def name(self) -> str:
        return "LogsumexpBackward0"

    def forward(self, x):
        peak = np.amax(x, axis=self.dims, keepdims=True) if x.size else np.zeros((1,) * x.ndim, x.dtype)
        peak = np.where(np.isfinite(peak), peak, 0)
        with np.errstate(divide="ignore"):
            out = np.log(np.exp(x - peak).sum(axis=self.dims, keepdims=True)) + peak
        out = out if self.keepdim else np.squeeze(out, axis=self.dims)
        self.save_for_backward(x, out)
        return out

    def backward(self, gy):
        x, out = self.saved_tensors
        return _unreduce(gy, x.shape, self.dims, self.keepdim) * exp(x - _unreduce(out, x.shape, self.dims,
                                                                                       self.keepdim))


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input))) over ``dim``, numerically stable; its gradient is softmax(input)."""
    input = float_input(input)
    return LogSumExp(normalize_dims(dim, input._data.ndim), keepdim)(input)


class EuclideanNorm(Op):
    """sqrt(sum(x^2)); d/dx = x / norm, taken as 0 where the norm is 0."""

    def __init__(self, dims: tuple, keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def name(self) -> str:
        return "LinalgVectorNormBackward0"

    def forward(self, x):
        out = np.sqrt(np.sum(x * x, axis=self.dims, keepdims=self.keepdim))
        self.save_for_backward(x, out)
        return out

    def backward(self, gy):
        x, out = self.saved_tensors
        norm = _unreduce(out, x.shape, self.dims, self.keepdim)
        safe = where(norm == 0, 1.0, norm)
        return _unreduce(gy, x.shape, self.dims, self.keepdim) * where(norm == 0, 0.0, x / safe)


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
    """Vector p-norm over ``dim``: p = 2 or 'fro' (default), 1, inf, -inf, 0 or any positive number."""
    input = float_input(input)
    dims = normalize_dims(dim, input._data.ndim)
    if p in ("fro", 2, 2.0, None):
        return EuclideanNorm(dims, keepdim)(input)
    if p == "nuc":
        raise RuntimeError("nuclear norm is not supported; use p=2, 1, inf or a number")
    return shown_as(_other_norm(input, p, dims, keepdim), "LinalgVectorNormBackward0")


def _other_norm(input: Tensor, p: Any, dims: tuple, keepdim: bool) -> Tensor:
    """The p-norms other than the Euclidean one, composed."""
    if p == math.inf:
        return amax(abs(input), dims, keepdim)
    if p == -math.inf:
        return amin(abs(input), dims, keepdim)
    if p == 0:
        return sum((input != 0).to(input.dtype), dims, keepdim)
    if p == 1:
        return sum(abs(input), dims, keepdim)
    return pow(sum(pow(abs(input), p), dims, keepdim), 1.0 / p)


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    return shown_as(norm(input - other, p), "DistBackward0")


class Truth(Op):
    """Whether every (``np.all``) or some (``np.any``) element over ``axes`` is non-zero: bool, never
    differentiable."""

    def __init__(self, function: Any, axes: Any, keepdim: bool) -> None:
        self.function, self.axes, self.keepdim = function, axes, keepdim

    def forward(self, x):
        return np.asarray(self.function(x, axis=self.axes, keepdims=self.keepdim))


def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """True where every element over ``dim`` is non-zero."""
    return Truth(np.all, normalize_dims(dim, input._data.ndim), keepdim)(input)


def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """True where some element over ``dim`` is non-zero."""
    return Truth(np.any, normalize_dims(dim, input._data.ndim), keepdim)(input)


class CountNonzero(Op):
    """The number of non-zero elements over ``axes``, int64; never differentiable."""

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, x):
        return np.asarray(np.count_nonzero(x, axis=self.axes), dtype=np.int64)


def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """The number of non-zero elements over ``dim`` (every dim: None), int64.

    >>> import shenjing
    >>> shenjing.count_nonzero(shenjing.tensor([[0, 1, 2], [0, 0, 3]]), dim=1)
    tensor([2, 1])
    """
    input = check_tensor(input, "count_nonzero(): input")
    return CountNonzero(normalize_dims(dim, input._data.ndim))(input)


