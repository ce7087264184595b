"""Order statistics and summaries: median, nanmedian, mode, kthvalue, quantile, nanmean, nansum, aminmax,
histc, bincount, unique, unique_consecutive, cov, corrcoef.

Selections along a dim return PyTorch's namedtuples (``values``, ``indices``); the values are gathered from
the input, so the gradient flows to the selected element. The global ``median()`` shares its gradient among
the elements equal to the median, as PyTorch does.
"""

from __future__ import annotations

import builtins
import collections
from typing import Any

import numpy as np

from shenjing import _dtype
from shenjing._ops._util import check_tensor, float_input, normalize_dim
from shenjing._ops.elementwise import clamp, sqrt, where
from shenjing._ops.index import gather
from shenjing._ops.linalg import matmul
from shenjing._ops.reduce import amax, amin, sum
from shenjing._ops.shape import movedim, reshape, squeeze, transpose, unsqueeze
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op, shown_as

__all__ = ["median", "nanmedian", "mode", "kthvalue", "quantile", "nanquantile", "nanmean", "nansum", "aminmax",
           "histc", "histogram", "histogramdd", "bincount", "unique", "unique_consecutive", "cov", "corrcoef", "msort", "renorm"]

median_result = collections.namedtuple("median", ["values", "indices"])
nanmedian_result = collections.namedtuple("nanmedian", ["values", "indices"])
mode_result = collections.namedtuple("mode", ["values", "indices"])
kthvalue_result = collections.namedtuple("kthvalue", ["values", "indices"])
aminmax_result = collections.namedtuple("aminmax", ["min", "max"])
histogram_result = collections.namedtuple("histogram", ["hist", "bin_edges"])
histogramdd_result = collections.namedtuple("histogramdd", ["hist", "bin_edges"])


_NODE_NAMES = {"median": "MedianBackward1", "nanmedian": "NanmedianBackward1", "kthvalue": "KthvalueBackward0",
               "mode": "ModeBackward0"}  # PyTorch's, for the values along a dim


def _select_along(input: Tensor, dim: int, index: np.ndarray, keepdim: bool, result: Any, name: str) -> Any:
    """(values, indices) of the elements at ``index`` (one per row along ``dim``, kept as size 1)."""
    indices = Tensor._make(index.astype(np.int64))
    values = gather(input, dim, indices)
    if not keepdim:
        values, indices = squeeze(values, dim), Tensor._make(np.squeeze(indices._data, dim))
    return result(shown_as(values, _NODE_NAMES[name]), indices)


def _rows_sorted(array: np.ndarray, dim: int) -> np.ndarray:
    """The stable ascending order along ``dim`` (nan last)."""
    return np.argsort(array, axis=dim, kind="stable")


def _order_statistic(input: Tensor, dim: Any, keepdim: bool, name: str, position: Any, result: Any) -> Any:
    """The element of sorted rank ``position(valid_count, n)`` along ``dim``."""
    check_tensor(input)
    if input._data.ndim == 0:
        return result(input, Tensor._make(np.zeros((), np.int64)))
    dim = normalize_dim(dim, input._data.ndim)
    n = input._data.shape[dim]
    if n == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    order = _rows_sorted(input._data, dim)
    valid = np.sum(~np.isnan(input._data), axis=dim, keepdims=True) if input._data.dtype.kind == "f" else \
        np.full(input._data.shape[:dim] + (1,) + input._data.shape[dim + 1:], n)
    rank = position(valid, n)
    index = np.take_along_axis(order, rank, axis=dim)
    return _select_along(input, dim, index, keepdim, result, name)


class GlobalMedian(Op):
    """The lower median of all elements (nan if any is nan); the gradient is shared among the elements
    equal to it."""

    def __init__(self, ignore_nan: bool) -> None:
        self.ignore_nan = ignore_nan

    def name(self) -> str:
        return "NanmedianBackward0" if self.ignore_nan else "MedianBackward0"

    def forward(self, x):
        flat = np.sort(x.reshape(-1), kind="stable")
        count = int(np.sum(~np.isnan(flat))) if x.dtype.kind == "f" else flat.size
        if not self.ignore_nan and count < flat.size:
            out = np.asarray(np.nan, x.dtype)
        else:
            out = np.asarray(flat[max(count - 1, 0) // 2])
        self.save_for_backward(x, out)
        return out

    def backward(self, gy):
        x, out = self.saved_tensors
        chosen = Tensor._make((x._data == out._data) | (np.isnan(x._data) & np.isnan(out._data)))
        return where(chosen, gy / chosen.sum(), 0.0)


def median(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """The lower median (of the two middle values, the smaller): of all elements, or (values, indices)
    along ``dim``. A row with nan gives nan."""
    check_tensor(input)
    if dim is None:
        if input._data.size == 0:
            return Tensor._make(np.asarray(np.nan, input._data.dtype))
        return GlobalMedian(False)(input)

    def position(valid, n):  # a row with nan: the first nan (sorted last)
        return np.where(valid < n, valid, (n - 1) // 2)
    return _order_statistic(input, dim, keepdim, "median", position, median_result)


def nanmedian(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """``median`` of the values that are not nan (nan only where a row is all nan)."""
    check_tensor(input)
    if dim is None:
        if input._data.size == 0:
            return Tensor._make(np.asarray(np.nan, input._data.dtype))
        return GlobalMedian(True)(input)
    return _order_statistic(input, dim, keepdim, "nanmedian", lambda valid, n: np.maximum(valid - 1, 0) // 2,
                            nanmedian_result)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """(values, indices) of the k-th smallest element (k from 1) along ``dim``."""
    check_tensor(input)
    size = input._data.shape[normalize_dim(dim, input._data.ndim)] if input._data.ndim else 1
    if not 1 <= k <= size:
        raise IndexError(f"kthvalue(): selected number k out of range for dimension {dim}")
    return _order_statistic(input, dim, keepdim, "kthvalue",
                            lambda valid, n: np.full_like(valid, k - 1), kthvalue_result)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> Any:
    """(values, indices): the most frequent value along ``dim`` (the smallest among equally frequent ones)
    and the last index where it occurs (PyTorch's choice for short rows; its index is unspecified)."""
    check_tensor(input)
    if input._data.ndim == 0:
        return mode_result(input, Tensor._make(np.zeros((), np.int64)))
    dim = normalize_dim(dim, input._data.ndim)
    if input._data.shape[dim] == 0:
        raise IndexError(f"mode(): Expected reduction dim {dim} to have non-zero size.")
    rows = np.moveaxis(input._data, dim, -1)
    flat = rows.reshape(-1, rows.shape[-1])
    n = flat.shape[1]
    ordered = np.sort(flat, axis=1)
    # runs of equal values in each sorted row: the length of the run each position belongs to
    starts = np.concatenate([np.ones((flat.shape[0], 1), bool), ordered[:, 1:] != ordered[:, :-1]], axis=1)
    positions = np.broadcast_to(np.arange(n), flat.shape)
    run_start = np.maximum.accumulate(np.where(starts, positions, 0), axis=1)
    ends = np.concatenate([starts[:, 1:], np.ones((flat.shape[0], 1), bool)], axis=1)
    run_end = np.flip(np.minimum.accumulate(np.flip(np.where(ends, positions, n), 1), axis=1), 1)
    best = np.argmax(run_end - run_start, axis=1)  # the first longest run: the smallest most frequent value
    value = ordered[np.arange(flat.shape[0]), best][:, None]
    same = (flat == value) | (np.isnan(flat) & np.isnan(value)) if flat.dtype.kind == "f" else flat == value
    chosen = np.max(np.where(same, positions, -1), axis=1)  # its last index
    index = np.expand_dims(chosen.reshape(rows.shape[:-1]), dim)
    return _select_along(input, dim, index, keepdim, mode_result, "mode")


# -- nan-ignoring sums and means, aminmax -----------------------------------------------------------

def nansum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Sum treating nan as 0."""
    check_tensor(input)
    if input._data.dtype.kind == "f":
        input = where(Tensor._make(np.isnan(input._data)), 0.0, input)
    return sum(input, dim, keepdim, dtype=dtype)


def nanmean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Mean of the values that are not nan (nan where none is)."""
    check_tensor(input)
    if dtype is not None:
        input = input.to(_dtype.as_dtype(dtype))
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{input.dtype}")
    present = Tensor._make((~np.isnan(input._data)).astype(input._data.dtype))
    count = sum(present, dim, keepdim)
    return nansum(input, dim, keepdim) / count


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> Any:
    """(min, max) over all elements or along ``dim``."""
    check_tensor(input)
    if input._data.size == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has "
                           "no identity.")
    dims = () if dim is None else (normalize_dim(dim, input._data.ndim),)
    return aminmax_result(amin(input, dims, keepdim), amax(input, dims, keepdim))


# -- quantiles --------------------------------------------------------------------------------------

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input: Tensor, q: Any, dim: Any, keepdim: bool, interpolation: str, ignore_nan: bool,
              name: str) -> Tensor:
    check_tensor(input)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                           f"Got {interpolation}")
    q_array = np.asarray(q._data if isinstance(q, Tensor) else q, dtype=np.float64)
    if isinstance(q, Tensor) and q._data.dtype != input._data.dtype:
        raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
    if q_array.ndim > 1:
        raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    if np.any((q_array < 0) | (q_array > 1)):
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    if input._data.size == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    # rows to work on: the reduced dim moved last (all elements flattened when dim is None)
    if dim is None or input._data.ndim == 0:
        rows = reshape(input, -1)
    else:
        rows = movedim(input, normalize_dim(dim, input._data.ndim), -1)
    order = np.argsort(rows._data, axis=-1, kind="stable")
    ordered = gather(rows, -1, Tensor._make(order.astype(np.int64)))  # nan last
    n = ordered._data.shape[-1]
    valid = np.sum(~np.isnan(ordered._data), axis=-1, keepdims=True)
    count = valid if ignore_nan else np.full_like(valid, n)
    qs = q_array.reshape(-1)
    rank = qs.reshape((1,) * (ordered._data.ndim - 1) + (-1,)) * (np.maximum(count, 1) - 1)  # (..., len(q))
    below = np.floor(rank)
    above = np.ceil(rank)
    if interpolation == "lower":
        above = below
    elif interpolation == "higher":
        below = above
    elif interpolation == "nearest":
        below = above = np.round(rank)  # halves to even, as PyTorch
    low = gather(ordered, -1, Tensor._make(below.astype(np.int64)))
    high = gather(ordered, -1, Tensor._make(above.astype(np.int64)))
    if interpolation == "midpoint":
        weight = np.where(above > below, 0.5, 0.0)
    elif interpolation == "linear":
        weight = rank - below
    else:
        weight = np.zeros_like(rank)
    weight = Tensor._make(weight.astype(input._data.dtype))
    result = low + (high - low) * weight
    no_value = (valid == 0) if ignore_nan else (valid < n)
    result = where(Tensor._make(np.broadcast_to(no_value, result._data.shape)), float("nan"), result)
    # result: (*other dims, len(q)) -> (len(q), *other dims), the reduced dim kept as size 1 with keepdim
    result = movedim(result, -1, 0)
    if keepdim:
        if dim is None:
            result = reshape(result, (len(qs),) + (1,) * input._data.ndim)
        elif input._data.ndim:
            result = unsqueeze(result, normalize_dim(dim, input._data.ndim) + 1)
    shape = tuple(result._data.shape[1:])
    return result if q_array.ndim == 1 else reshape(result, shape)


def quantile(input: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The q-th quantiles (q a number or a 1-D tensor in [0, 1]) of all elements or along ``dim``, between
    the sorted values at ranks floor(q (n-1)) and ceil(q (n-1)) by ``interpolation``; nan if a row has nan.
    With a 1-D q the quantiles are the first dim of the result."""
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(input: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """``quantile`` of the values that are not nan."""
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


# -- counting ---------------------------------------------------------------------------------------

def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Counts of values in ``bins`` equal bins over [min, max] (the data's range when min == max);
    values outside are ignored. The counts have the input's dtype."""
    check_tensor(input)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{input.dtype}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for dimension 0")
    data = input._data.reshape(-1)
    low, high = float(min), float(max)
    if low == high and data.size:
        low, high = float(data.min()), float(data.max())
    if low == high:
        low, high = low - 1, high + 1
    if low > high:
        raise RuntimeError(f"torch.histc: max must be larger than min, but got min {min} max {max}")
    if not (np.isfinite(low) and np.isfinite(high)):
        raise RuntimeError(f"torch.histc: range of [{low}, {high}] is not finite")
    counts, _ = np.histogram(data[(data >= low) & (data <= high)], bins=bins, range=(low, high))
    return Tensor._make(counts.astype(input._data.dtype))


def histogram(input: Tensor, bins: Any = 100, *, range: Any = None, weight: Tensor | None = None,
              density: bool = False) -> Any:
    """(hist, bin_edges): counts (or summed ``weight``) in ``bins`` equal bins over ``range`` (the data's
    range by default), or in the bins between the given increasing edges; the last bin includes its right
    edge. ``density`` divides by the total times the bin widths."""
    check_tensor(input)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the same dtype, "
                           f"but got input {input.dtype}")
    edges = bins._data if isinstance(bins, Tensor) else int(bins)
    if isinstance(edges, int) and edges <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {edges} for dimension 0")
    data = input._data.reshape(-1)
    weights = None if weight is None else weight._data.reshape(-1)
    hist, bin_edges = np.histogram(data, bins=edges, range=range, weights=weights, density=density)
    dtype = input._data.dtype
    return histogram_result(Tensor._make(hist.astype(dtype)), Tensor._make(bin_edges.astype(dtype)))


def histogramdd(input: Tensor, bins: Any = 10, *, range: Any = None, weight: Tensor | None = None,
                density: bool = False) -> Any:
    """(hist, bin_edges) of the points in the rows of ``input`` (shape (..., D)) on a D-dimensional grid:
    ``bins`` an int (per dim the same), a list of ints or a list of edge tensors; ``range`` the flat list
    [min_0, max_0, min_1, max_1, ...]. ``bin_edges`` is a tuple of D tensors."""
    check_tensor(input)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"torch.histogramdd: input tensor should be floating point, but got {input.dtype}")
    dims = input._data.shape[-1]
    points = input._data.reshape(-1, dims)
    if isinstance(bins, (list, tuple)):
        edges = [b._data if isinstance(b, Tensor) else int(b) for b in bins]
    else:
        edges = int(bins)
    ranges = None if range is None else [(range[2 * d], range[2 * d + 1]) for d in builtins.range(dims)]
    weights = None if weight is None else weight._data.reshape(-1)
    hist, bin_edges = np.histogramdd(points, bins=edges, range=ranges, weights=weights, density=density)
    dtype = input._data.dtype
    return histogramdd_result(Tensor._make(hist.astype(dtype)), tuple(Tensor._make(e.astype(dtype)) for e in bin_edges))


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Counts of each value 0, 1, ..., max(input) of a 1-D non-negative integer tensor, at least ``minlength``
    of them (int64); with ``weights``, the sums of the weights instead (in the weights' float dtype, float64
    for integer weights)."""
    check_tensor(input)
    if input._data.ndim != 1 or input._data.dtype.kind not in "iub":
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got a {input.dtype} "
                           f"tensor of shape {list(input.shape)}")
    if input._data.size and input._data.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        return Tensor._make(np.bincount(input._data.astype(np.int64), minlength=minlength).astype(np.int64))
    if weights._data.shape != input._data.shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    dtype = weights._data.dtype if weights._data.dtype.kind == "f" else np.float64
    counts = np.bincount(input._data.astype(np.int64), weights=weights._data.astype(np.float64),
                         minlength=minlength)
    return Tensor._make(counts.astype(dtype))


def _unique_outputs(values: np.ndarray, inverse: np.ndarray, counts: np.ndarray, return_inverse: bool,
                    return_counts: bool, inverse_shape: tuple) -> Any:
    outputs = [Tensor._make(values)]
    if return_inverse:
        outputs.append(Tensor._make(inverse.reshape(inverse_shape).astype(np.int64)))
    if return_counts:
        outputs.append(Tensor._make(counts.astype(np.int64)))
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim: int | None = None) -> Any:
    """The distinct values (sorted), of all elements or the distinct slices along ``dim``; optionally the
    index of each element's value (``return_inverse``) and how often each occurs (``return_counts``).
    Not differentiable."""
    check_tensor(input)
    data = input._data
    if dim is None:
        values, inverse, counts = np.unique(data.reshape(-1), return_inverse=True, return_counts=True)
        return _unique_outputs(values, inverse, counts, return_inverse, return_counts, data.shape)
    dim = normalize_dim(dim, data.ndim)
    values, inverse, counts = np.unique(data, return_inverse=True, return_counts=True, axis=dim)
    return _unique_outputs(values, inverse, counts, return_inverse, return_counts, (data.shape[dim],))


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None) -> Any:
    """Each run of equal consecutive values (or slices along ``dim``) kept once, like ``uniq``."""
    check_tensor(input)
    data = input._data
    moved = data.reshape(-1) if dim is None else np.moveaxis(data, normalize_dim(dim, data.ndim), 0)
    if moved.shape[0] == 0:
        starts = np.zeros(0, bool)
    else:
        rows = moved.reshape(moved.shape[0], -1)
        starts = np.concatenate([[True], np.any(rows[1:] != rows[:-1], axis=1)])
    run = np.cumsum(starts) - 1
    values = moved[starts]
    counts = np.diff(np.append(np.nonzero(starts)[0], moved.shape[0]))
    if dim is not None:
        values = np.moveaxis(values, 0, normalize_dim(dim, data.ndim))
    return _unique_outputs(np.ascontiguousarray(values), run, counts, return_inverse, return_counts,
                           data.shape if dim is None else (moved.shape[0],))


# -- covariance -------------------------------------------------------------------------------------

def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """Covariance of the variables in the rows of ``input`` (observations in columns):
    sum_k w_k (x_ik - mean_i)(x_jk - mean_j) / (sum w - correction * <correction factor>), with the
    frequency and importance weights of ``numpy.cov``. A 1-D input is one variable (a 0-d result)."""
    check_tensor(input)
    if input._data.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input._data.ndim} dimensions")
    x = float_input(input)
    x = reshape(x, 1, -1) if x._data.ndim < 2 else x
    observations = x._data.shape[1]
    weight = None
    for name, w in (("fweights", fweights), ("aweights", aweights)):
        if w is None:
            continue
        if w._data.ndim > 1 or w._data.shape[0] != observations:
            raise RuntimeError(f"cov(): expected {name} to have one dimension with {observations} elements "
                               f"but got {list(w.shape)}")
        if name == "fweights" and w._data.dtype.kind not in "iu":
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got {w.dtype}")
        if name == "aweights" and w._data.dtype.kind != "f":
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got {w.dtype}")
        if bool(np.any(w._data < 0)):
            raise RuntimeError(f"cov(): {name} cannot be negative")
        w = w.to(x.dtype)
        weight = w if weight is None else weight * w
    if weight is None:
        total = float(observations)
        mean = x.mean(1, keepdim=True)
        centred = x - mean
        scaled = centred
        norm = total - correction
    else:
        total = sum(weight)
        mean = sum(x * weight, 1, keepdim=True) / total
        centred = x - mean
        scaled = centred * weight
        if aweights is None:
            norm = total - correction
        else:
            norm = total - correction * sum(weight * aweights.to(x.dtype)) / total
    if not isinstance(norm, Tensor):
        norm = max(norm, 0.0)
    else:
        norm = clamp(norm, min=0.0)
    out = matmul(centred, transpose(scaled, 0, 1)) / norm
    return reshape(out, ()) if input._data.ndim < 2 else out


def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the rows of ``input``: cov_ij / sqrt(cov_ii cov_jj), clipped to
    [-1, 1]."""
    c = cov(input)
    if c._data.ndim == 0:
        return c / c
    d = sqrt(c.diagonal())
    c = c / unsqueeze(d, 1) / unsqueeze(d, 0)
    return clamp(c, -1.0, 1.0)


def msort(input: Tensor) -> Tensor:
    """``input`` sorted along its first dim (the values of ``sort(input, 0)``)."""
    from shenjing._ops.sort import sort

    return sort(input, 0).values


def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """Each sub-tensor along ``dim`` (input.select(dim, i)) whose p-norm exceeds ``maxnorm`` scaled down to
    norm ``maxnorm`` (by maxnorm / (norm + 1e-7), as PyTorch); the others unchanged."""
    from shenjing._ops.reduce import norm

    check_tensor(input)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"renorm: expected a floating-point tensor, got {input.dtype}")
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported, got p={p}")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    dim = normalize_dim(dim, input._data.ndim)
    others = tuple(d for d in range(input._data.ndim) if d != dim)
    norms = norm(input, p, others, keepdim=True)
    scale = where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return input * scale
