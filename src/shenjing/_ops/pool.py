"""Pooling, and the other ops that move pixels by index: padding and nearest-neighbour resampling.

Max and average pooling look at KH x KW windows, one strided slice of the (padded) input per kernel
offset (``windows``), so a 2x2 / stride-2 max-pool is the maximum of four strided slices and no op
loops over output pixels:

    max:      y = max_k x[window_k],  the gradient goes to the first position that holds the max
    average:  y = sum_k x[window_k] / divisor,  dx[window_k] += dy / divisor

Adaptive pooling uses windows [floor(i*n/m), ceil((i+1)*n/m)) that tile n inputs with m outputs.

The max-pool's two steps have a readable reference here (``running_max``, ``scatter_to_winners``) and
faster algorithms in ``shenjing._ops.kernels.pool``, chosen by ``max_kernel`` and ``scatter_kernel``
from the geometry alone; every kernel computes the same arrays as its reference.

Padding (reflect, replicate, circular) and nearest resampling are gathers with one index map per
trailing dim; their gradients add the upstream values back with ``segment_sum`` (sort the index,
add runs of equal entries), never ``np.add.at``. Every op here is linear in its input given the
chosen positions, so each op's backward is its adjoint op and the gradients are differentiable again.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Iterable, NamedTuple, Sequence

import numpy as np

from shenjing._ops.kernels.pool import scatter_disjoint, tournament_max
from shenjing.autograd.node import Op, backward_op, forward_arrays

__all__: list[str] = []  # internal: the public functions are in shenjing.nn.functional


class PoolGeometry(NamedTuple):
    """The windows of a 2-D pooling, per axis (H, W): size, stride, padding (both sides), dilation."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)
    ceil_mode: bool = False


def pool_output_size(n: int, k: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    """floor((n + 2p - d*(k-1) - 1) / s) + 1, or ceil(...) + 1 with ``ceil_mode`` as long as the last
    window starts inside the input or its left padding (PyTorch's rule)."""
    span = n + 2 * padding - dilation * (k - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= n + padding:
        out -= 1
    return out


@lru_cache(maxsize=256)
def layout(input_hw: tuple[int, int], g: PoolGeometry) -> tuple[tuple[int, int], tuple[int, int]]:
    """(OH, OW), and how far past the input (into and beyond the padding) the last windows reach on
    each axis: ceil_mode can reach past the nominal padding, windows that stop short need less.
    (A pure function of integers, cached: it runs on every call.)"""
    out, after = [], []
    for n, k, s, p, d in zip(input_hw, g.kernel, g.stride, g.padding, g.dilation):
        size = pool_output_size(n, k, s, p, d, g.ceil_mode)
        out.append(size)
        after.append(max(0, (size - 1) * s + d * (k - 1) + 1 - n - p))
    return tuple(out), tuple(after)


def _padded_shape(shape: tuple[int, ...], g: PoolGeometry) -> tuple[int, ...]:
    (ph, pw), (h, w) = g.padding, shape[2:]
    _, (after_h, after_w) = layout((h, w), g)
    return shape[:2] + (ph + h + after_h, pw + w + after_w)


def _padded(x: np.ndarray, g: PoolGeometry, fill: float) -> np.ndarray:
    """x (N, C, H, W) with ``fill`` around it as far as the windows reach."""
    shape = _padded_shape(x.shape, g)
    if shape == x.shape:
        return x
    (ph, pw), (h, w) = g.padding, x.shape[2:]
    padded = np.full(shape, fill, dtype=x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    return padded


def _cropped(padded: np.ndarray, shape: tuple[int, ...], g: PoolGeometry) -> np.ndarray:
    """The input's part of a padded array, as a new contiguous array (``padded`` itself if no padding)."""
    if padded.shape == shape:
        return padded
    (ph, pw), (h, w) = g.padding, shape[2:]
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])


@lru_cache(maxsize=256)
def _window_slices(g: PoolGeometry, out: tuple[int, int]) -> tuple[tuple[slice, slice], ...]:
    """For each kernel offset (p, q), row-major: the slices of the padded input that it reads, rows
    p*dh, p*dh + sh, ..., p*dh + sh*(OH-1) and the same for columns."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = g.kernel, g.stride, g.dilation, out
    return tuple((slice(p * dh, p * dh + sh * (oh - 1) + 1, sh), slice(q * dw, q * dw + sw * (ow - 1) + 1, sw))
                 for p in range(kh) for q in range(kw))


def windows(padded: np.ndarray, g: PoolGeometry, out: tuple[int, int]) -> list[np.ndarray]:
    """The strided view of ``padded`` seen by each kernel offset, each shaped (N, C, OH, OW)."""
    return [padded[:, :, rows, columns] for rows, columns in _window_slices(g, out)]


def _add_windows(values: np.ndarray, input_shape: tuple[int, ...], g: PoolGeometry,
                 weights: Callable[[int], np.ndarray]) -> np.ndarray:
    """The adjoint of reading windows: ``weights(k)`` (N, C, OH, OW) added into window k; the padding cropped."""
    padded = np.zeros(_padded_shape(input_shape, g), dtype=values.dtype)
    with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in PyTorch, without a warning
        for k, window in enumerate(windows(padded, g, values.shape[2:])):
            window += weights(k)
    return _cropped(padded, input_shape, g)


@lru_cache(maxsize=256)
def disjoint(g: PoolGeometry) -> bool:
    """Whether no input pixel lies in two windows (stride at least the dilated kernel, on both axes)."""
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(g.kernel, g.stride, g.dilation))


def _lowest(dtype: np.dtype) -> float:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


# -- max pooling: the references, the kernels, the choice -----------------------------------------

def running_max(windows: Iterable[np.ndarray], keep_argmax: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The elementwise max over the windows and, if asked, which window held it: keep the best so far,
    replace it where a later window is larger or NaN (so the first maximum wins a tie, a NaN wins, and
    of several NaNs the last, as in PyTorch)."""
    windows = list(windows)
    best = windows[0].copy()
    argmax = np.zeros(best.shape, dtype=np.int8 if len(windows) <= 127 else np.int32) if keep_argmax else None
    for k, window in enumerate(windows[1:], start=1):
        better = window > best
        if window.dtype.kind == "f":
            better |= np.isnan(window)
        np.copyto(best, window, where=better)
        if keep_argmax:
            np.copyto(argmax, k, where=better)
    return best, argmax


def scatter_to_winners(gy: np.ndarray, argmax: np.ndarray, windows: Sequence[np.ndarray]) -> None:
    """dx[window_k] += gy where window k won, for every k, into the zeroed windows of dx (a pixel that
    wins several overlapping windows gets the sum)."""
    with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in PyTorch, without a warning
        for k, window in enumerate(windows):
            window += np.where(argmax == k, gy, 0)


MAX_KERNELS = {"reference": running_max, "tournament": tournament_max}
SCATTER_KERNELS = {"reference": scatter_to_winners, "disjoint": scatter_disjoint}


def max_kernel(window_count: int) -> str:
    """The max-over-windows algorithm: the tournament for two windows or more."""
    return "tournament" if window_count > 1 else "reference"


def scatter_kernel(g: PoolGeometry) -> str:
    """The max-pool's gradient algorithm: writes instead of additions where windows never overlap."""
    return "disjoint" if disjoint(g) else "reference"


class MaxPool2d(Op):
    """y = max over each window; ``argmax`` (which kernel offset won) is kept for the gradient."""

    owns_gradients = True  # dx is a new array

    def __init__(self, geometry: PoolGeometry, return_indices: bool = False) -> None:
        self.geometry, self.return_indices = geometry, return_indices

    def name(self) -> str:
        return "MaxPool2DWithIndicesBackward0"

    def forward(self, x):
        g = self.geometry
        self.input_shape = x.shape
        out, _ = layout(x.shape[2:], g)
        views = windows(_padded(x, g, _lowest(x.dtype)), g, out)
        keep = self.return_indices or self.needs_input_grad[0]
        y, self.argmax = MAX_KERNELS[max_kernel(len(views))](views, keep)
        return y

    def indices(self) -> np.ndarray:
        """Flat positions h*W + w in the input plane of the chosen elements (PyTorch's ``indices``)."""
        g, w = self.geometry, self.input_shape[3]
        kw, (sh, sw), (ph, pw), (dh, dw) = g.kernel[1], g.stride, g.padding, g.dilation
        oh, ow = self.argmax.shape[2:]
        argmax = self.argmax.astype(np.int64)
        rows = np.arange(oh)[:, None] * sh - ph + (argmax // kw) * dh
        columns = np.arange(ow)[None, :] * sw - pw + (argmax % kw) * dw
        return (rows * w + columns).astype(np.int64)

    def backward(self, gy):
        return backward_op(MaxPoolScatter(self.geometry, self.argmax, self.input_shape), gy)

    def backward_arrays(self, gy):
        return forward_arrays(MaxPoolScatter(self.geometry, self.argmax, self.input_shape), gy)


class MaxPoolScatter(Op):
    """dx: each dy added to the position that won its window (the backward of a max-pool)."""

    def __init__(self, geometry: PoolGeometry, argmax: np.ndarray, input_shape: tuple[int, ...]) -> None:
        self.geometry, self.argmax, self.input_shape = geometry, argmax, input_shape

    def name(self) -> str:
        return "MaxPool2DWithIndicesBackwardBackward0"

    def forward(self, gy):
        g = self.geometry
        padded = np.zeros(_padded_shape(self.input_shape, g), dtype=gy.dtype)
        SCATTER_KERNELS[scatter_kernel(g)](gy, self.argmax, windows(padded, g, gy.shape[2:]))
        return _cropped(padded, self.input_shape, g)

    def backward(self, ggx):
        return MaxPoolGather(self.geometry, self.argmax)(ggx)


class MaxPoolGather(Op):
    """The value at each window's winning position: the adjoint of ``MaxPoolScatter``."""

    def __init__(self, geometry: PoolGeometry, argmax: np.ndarray) -> None:
        self.geometry, self.argmax = geometry, argmax

    def forward(self, x):
        self.input_shape = x.shape
        result = np.zeros(self.argmax.shape, dtype=x.dtype)
        views = windows(_padded(x, self.geometry, 0), self.geometry, self.argmax.shape[2:])
        for k, window in enumerate(views):
            np.copyto(result, window, where=self.argmax == k)
        return result

    def backward(self, gy):
        return MaxPoolScatter(self.geometry, self.argmax, self.input_shape)(gy)



# -- average pooling -------------------------------------------------------------------------------

def _window_sizes(n: int, k: int, stride: int, padding: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output position: its window's length counting the padding (but not past it), and inside the input."""
    start = np.arange(out) * stride - padding
    end = np.minimum(start + k, n + padding)
    inside = np.minimum(end, n) - np.maximum(start, 0)
    return end - start, np.maximum(inside, 1)


class AvgPool2d(Op):
    """y = (sum of the window) / divisor; the divisor counts the padding if ``count_include_pad``."""

    def __init__(self, geometry: PoolGeometry, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        self.geometry, self.count_include_pad, self.divisor_override = geometry, count_include_pad, divisor_override

    def name(self) -> str:
        return "AvgPool2DBackward0"

    def divisor(self, input_hw: tuple[int, ...], out: tuple[int, int], dtype: np.dtype) -> np.ndarray:
        """Divisor per output position, (OH, OW)."""
        if self.divisor_override:
            return np.full(out, self.divisor_override, dtype=dtype)
        g = self.geometry
        sizes = [_window_sizes(n, k, s, p, o) for n, k, s, p, o in zip(input_hw, g.kernel, g.stride, g.padding, out)]
        which = 0 if self.count_include_pad else 1
        return np.multiply.outer(sizes[0][which], sizes[1][which]).astype(dtype)

    def forward(self, x):
        self.input_shape = x.shape
        out, _ = layout(x.shape[2:], self.geometry)
        total = np.zeros(x.shape[:2] + out, dtype=x.dtype)
        for window in windows(_padded(x, self.geometry, 0), self.geometry, out):
            total += window
        total /= self.divisor(x.shape[2:], out, x.dtype)
        return total

    def backward(self, gy):
        return backward_op(AvgPoolScatter(self, self.input_shape), gy)


class AvgPoolScatter(Op):
    """dx[window] += dy / divisor for every window: the backward (adjoint) of an average pool."""

    def __init__(self, pool: AvgPool2d, input_shape: tuple[int, ...]) -> None:
        self.pool, self.input_shape = pool, input_shape

    def name(self) -> str:
        return "AvgPool2DBackwardBackward0"

    def forward(self, gy):
        share = gy / self.pool.divisor(self.input_shape[2:], gy.shape[2:], gy.dtype)
        return _add_windows(gy, self.input_shape, self.pool.geometry, lambda k: share)

    def backward(self, ggx):
        return AvgPool2d(self.pool.geometry, self.pool.count_include_pad, self.pool.divisor_override)(ggx)


# -- adaptive pooling ------------------------------------------------------------------------------

def adaptive_windows(n: int, out: int) -> np.ndarray:
    """Window i of n inputs pooled to ``out`` is [floor(i*n/out), ceil((i+1)*n/out)).

    Returned as a table (K, out): row k holds the k-th position of every window (K = the longest
    window; shorter windows repeat their last position, which changes neither max nor argmax).
    """
    index = np.arange(out)
    start = index * n // out
    end = -((-(index + 1) * n) // out)
    longest = int((end - start).max()) if out else 0
    return np.minimum(start[None, :] + np.arange(longest)[:, None], end[None, :] - 1)


def average_matrix(n: int, out: int, dtype: np.dtype) -> np.ndarray:
    """A (out, n) with A[i, j] = 1/|window i| for j in window i: adaptive average pooling is A @ x."""
    table = adaptive_windows(n, out)
    matrix = np.zeros((out, n), dtype=dtype)
    for positions in table:  # a window's repeated last position is set twice to the same value
        matrix[np.arange(out), positions] = 1
    return matrix / matrix.sum(axis=1, keepdims=True)


class GlobalAvgPool2d(Op):
    """y[n, c] = mean of the plane x[n, c] (adaptive average pooling to 1 x 1), kept (N, C, 1, 1);
    dx[n, c, h, w] = dy[n, c] / (H W)."""

    owns_gradients = True  # dx is a new array

    def name(self) -> str:
        return "MeanBackward1"  # PyTorch computes it as x.mean((-2, -1), keepdim=True)

    def forward(self, x):
        self.input_shape = x.shape
        return x.mean(axis=(2, 3), keepdims=True)

    def backward(self, gy):
        return backward_op(SpreadOverPlane(self.input_shape), gy)


class SpreadOverPlane(Op):
    """dx[n, c, h, w] = dy[n, c, 0, 0] / (H W): the backward (adjoint) of ``GlobalAvgPool2d``."""

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        self.input_shape = input_shape

    def name(self) -> str:
        return "MeanBackwardBackward0"

    def forward(self, gy):
        h, w = self.input_shape[2:]
        dx = np.empty(self.input_shape, dtype=gy.dtype)
        np.multiply(gy, gy.dtype.type(1 / max(h * w, 1)), out=dx)  # (broadcast over the plane)
        return dx

    def backward(self, ggx):
        return GlobalAvgPool2d()(ggx)


class AdaptiveMaxPool2d(Op):
    """y[i, j] = max of the adaptive window (i, j); the flat position of each max is kept."""

    def __init__(self, output_size: tuple[int, int]) -> None:
        self.output_size = output_size

    def name(self) -> str:
        return "AdaptiveMaxPool2DBackward0"

    def forward(self, x):
        self.input_shape = x.shape
        rows, columns = (adaptive_windows(n, m) for n, m in zip(x.shape[2:], self.output_size))
        views = [x[:, :, r[:, None], c[None, :]] for r in rows for c in columns]
        y, argmax = MAX_KERNELS[max_kernel(len(views))](views, True)
        oh, ow = self.output_size
        chosen_rows = rows[argmax // len(columns), np.arange(oh)[:, None]]
        chosen_columns = columns[argmax % len(columns), np.arange(ow)[None, :]]
        self.flat_indices = (chosen_rows * x.shape[3] + chosen_columns).astype(np.int64)
        return y

    def backward(self, gy):
        return ScatterToPlane(self.flat_indices, self.input_shape)(gy)


def _plane_positions(flat_indices: np.ndarray, plane: int) -> np.ndarray:
    """Positions within each (H, W) plane -> positions in the whole flattened (N, C, H, W) array."""
    planes = np.arange(flat_indices.shape[0] * flat_indices.shape[1]).reshape(flat_indices.shape[:2] + (1, 1))
    return (flat_indices + planes * plane).reshape(-1)


class ScatterToPlane(Op):
    """dx: dy[n, c, i, j] added at the plane position flat_indices[n, c, i, j] (repeats add up)."""

    def __init__(self, flat_indices: np.ndarray, input_shape: tuple[int, ...]) -> None:
        self.flat_indices, self.input_shape = flat_indices, input_shape

    def forward(self, gy):
        plane = self.input_shape[2] * self.input_shape[3]
        total = int(np.prod(self.input_shape))
        return segment_sum(gy.reshape(-1), 0, _plane_positions(self.flat_indices, plane), total).reshape(
            self.input_shape)

    def backward(self, ggx):
        return TakeFromPlane(self.flat_indices)(ggx)


class TakeFromPlane(Op):
    """y[n, c, i, j] = x[n, c].flat[flat_indices[n, c, i, j]]: the adjoint of ``ScatterToPlane``."""

    def __init__(self, flat_indices: np.ndarray) -> None:
        self.flat_indices = flat_indices

    def forward(self, x):
        self.input_shape = x.shape
        positions = _plane_positions(self.flat_indices, x.shape[2] * x.shape[3])
        return x.reshape(-1)[positions].reshape(self.flat_indices.shape)

    def backward(self, gy):
        return ScatterToPlane(self.flat_indices, self.input_shape)(gy)


# -- padding and resampling by index maps ----------------------------------------------------------

def segment_sum(values: np.ndarray, axis: int, index: np.ndarray, size: int) -> np.ndarray:
    """result[..., j, ...] = sum of values[..., i, ...] over the i with index[i] == j, along ``axis``.

    A scatter-add without ``np.add.at``: sort the positions, then add up each run of equal ones
    (``np.add.reduceat``); the dtype of ``values`` is kept.
    """
    axis = axis % values.ndim
    shape = list(values.shape)
    shape[axis] = size
    result = np.zeros(shape, dtype=values.dtype)
    if index.size == 0:
        return result
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    starts = np.flatnonzero(np.diff(ordered, prepend=-1))
    sums = np.add.reduceat(np.take(values, order, axis=axis), starts, axis=axis)
    target = [slice(None)] * values.ndim
    target[axis] = ordered[starts]
    result[tuple(target)] = sums
    return result


class ConstantPad(Op):
    """Pad the trailing dims with ``value``; (before, after) per dim, negative amounts crop."""

    def __init__(self, pads: tuple[tuple[int, int], ...], value: float = 0.0) -> None:
        self.pads, self.value = pads, value

    def name(self) -> str:
        return "ConstantPadNdBackward0"

    def forward(self, x):
        trailing = x.shape[x.ndim - len(self.pads):]
        out_shape = x.shape[:x.ndim - len(self.pads)] + tuple(n + a + b for n, (a, b) in zip(trailing, self.pads))
        result = np.full(out_shape, self.value, dtype=x.dtype)
        source, target = [Ellipsis], [Ellipsis]
        for n, (before, after) in zip(trailing, self.pads):
            start, stop = max(-before, 0), n - max(-after, 0)
            source.append(slice(start, stop))
            target.append(slice(max(before, 0), max(before, 0) + max(stop - start, 0)))
        result[tuple(target)] = x[tuple(source)]
        return result

    def backward(self, gy):
        # the gradient of padding is cropping, which is padding by the negated amounts
        return ConstantPad(tuple((-a, -b) for a, b in self.pads), 0)(gy)


class IndexMapGather(Op):
    """out[..., i, j] = x[..., rows[i], columns[j]]: one index map per trailing dim.

    Reflect / replicate / circular padding and nearest-neighbour resampling are all of this form.
    """

    def __init__(self, maps: tuple[np.ndarray, ...], kind: str = "IndexMap") -> None:
        self.maps, self.kind = maps, kind

    def name(self) -> str:
        return f"{self.kind}Backward0"

    def forward(self, x):
        self.sizes = x.shape[x.ndim - len(self.maps):]
        return x[(Ellipsis,) + np.ix_(*self.maps)]

    def backward(self, gy):
        return IndexMapScatter(self.maps, self.sizes, self.kind)(gy)


class IndexMapScatter(Op):
    """The adjoint of ``IndexMapGather``: each value added back at the position it was read from."""

    def __init__(self, maps: tuple[np.ndarray, ...], sizes: tuple[int, ...], kind: str = "IndexMap") -> None:
        self.maps, self.sizes, self.kind = maps, sizes, kind

    def name(self) -> str:
        return f"{self.kind}BackwardBackward0"

    def forward(self, gy):
        for axis, (index, size) in enumerate(zip(self.maps, self.sizes), start=gy.ndim - len(self.maps)):
            gy = segment_sum(gy, axis, index, size)
        return gy

    def backward(self, ggx):
        return IndexMapGather(self.maps, self.kind)(ggx)
