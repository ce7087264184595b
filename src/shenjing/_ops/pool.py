"""Pooling, and the other ops that move pixels by index: padding and nearest-neighbour resampling.

Max and average pooling look at the same KH x KW windows as a convolution, one strided slice of the
(padded) input per kernel offset (``kernel_windows``), so a 2x2 / stride-2 max-pool is the maximum of
four strided slices and no op loops over output pixels:

    max:      y = max_k x[window_k],  the gradient goes to the first position that holds the max
    average:  y = sum_k x[window_k] / divisor,  dx[window_k] += dy / divisor

Adaptive pooling uses windows [floor(i*n/m), ceil((i+1)*n/m)) that tile n inputs with m outputs.

Padding (reflect, replicate, circular) and nearest resampling are gathers with one index map per
trailing dim; their gradients add the upstream values back with ``segment_sum`` (sort the index,
add runs of equal entries), never ``np.add.at``. Every op here is linear in its input given the
chosen positions, so each op's backward is its adjoint op and the gradients are differentiable again.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator, NamedTuple

import numpy as np

from shenjing._ops.conv import kernel_windows
from shenjing._workspace import take
from shenjing.autograd.node import Op, backward_op

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
def _layout(input_hw: tuple[int, ...], g: PoolGeometry) -> tuple[tuple[int, int], tuple[int, int]]:
    """Output size, and how much padding after the input the last windows reach (ceil_mode can
    reach past the nominal padding; windows that stop short need less).

    Cached, as are the other functions of the geometry alone: at batch 1 a pool's Python bookkeeping
    was a third of its time (LeNet-5's pool1: forward ~44 -> ~37 us, backward ~37 -> ~27 us with
    these caches and ``MaxPoolScatter``'s single comparison)."""
    out, after = [], []
    for n, k, s, p, d in zip(input_hw, g.kernel, g.stride, g.padding, g.dilation):
        size = pool_output_size(n, k, s, p, d, g.ceil_mode)
        out.append(size)
        after.append(max(0, (size - 1) * s + d * (k - 1) + 1 - n - p))
    return tuple(out), tuple(after)


def _padded(x: np.ndarray, g: PoolGeometry, fill: float) -> tuple[np.ndarray, tuple[int, int]]:
    """x (N, C, H, W) with ``fill`` around it as far as the windows reach; the output size."""
    out, (after_h, after_w) = _layout(x.shape[2:], g)
    (ph, pw), (h, w) = g.padding, x.shape[2:]
    if not (ph or pw or after_h or after_w):
        return x, out
    padded = np.full(x.shape[:2] + (ph + h + after_h, pw + w + after_w), fill, dtype=x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    return padded, out


@lru_cache(maxsize=256)
def _window_slices(g: PoolGeometry, out: tuple[int, int]) -> tuple[tuple[slice, slice], ...]:
    return tuple((rows, columns) for _, _, rows, columns in kernel_windows(g.kernel, out, g.stride, g.dilation))


def _windows(padded: np.ndarray, g: PoolGeometry, out: tuple[int, int]) -> list[np.ndarray]:
    """The strided view of ``padded`` seen by each kernel offset, each shaped (N, C, OH, OW)."""
    return [padded[:, :, rows, columns] for rows, columns in _window_slices(g, out)]


def _add_windows(values: np.ndarray, input_shape: tuple[int, ...], g: PoolGeometry, weights) -> np.ndarray:
    """The adjoint of reading windows: ``weights(k)`` (N, C, OH, OW) added into window k; the padding cropped."""
    out, (after_h, after_w) = _layout(input_shape[2:], g)
    (ph, pw), (h, w) = g.padding, input_shape[2:]
    padded = np.zeros(input_shape[:2] + (ph + h + after_h, pw + w + after_w), dtype=values.dtype)
    with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in PyTorch, without a warning
        for k, window in enumerate(_windows(padded, g, out)):
            window += weights(k)
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])


def _running_max(windows: Iterator[np.ndarray], keep_argmax: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Elementwise max over the windows and, if asked, which window held it (the first one on ties;
    a NaN wins, as in PyTorch).

    A knock-out tournament. Round one: windows 2j and 2j+1 play, m_j = max(w_2j, w_2j+1), and the
    right one wins only where it is strictly larger, which (without NaN) is where w_2j != m_j. Later
    rounds: neighbouring winners play the same way, the right one winning where m_right > m_left, and
    the index of the first maximum is i = i_left + (m_right > m_left) * (i_right - i_left), in int8
    (int32 past 127 windows). The left player always holds the earlier windows, so a tie goes to the first maximum.

    Why a tournament: only round one reads the strided windows (K/2 maxima of two windows and K/2
    comparisons of one window with a contiguous array); the later rounds run on contiguous arrays of
    the output's size, 4-7x cheaper per pass. The running max with the winner chain d_0 (1 + d_1 (1 + ...)),
    d_k = (w_k != max), read windows in 2K - 2 passes: for 2x2 windows at batch 64, measured ~390 us
    against ~340 us (LeNet-5's pool1) and ~230 us against ~200 us (pool2).

    NaN propagates through ``np.maximum``, so a NaN max shows in the result; equality cannot tell
    which NaN won (PyTorch: the last), and ``_running_max_reference`` decides there.
    """
    windows = list(windows)
    first = windows[0]
    index_dtype = np.int8 if len(windows) <= 127 else np.int32
    if len(windows) == 1:
        best = take("maxpool", first.shape, first.dtype)
        np.copyto(best, first)
        return best, (np.zeros(best.shape, dtype=index_dtype) if keep_argmax else None)
    if not keep_argmax:  # (no_grad) the max alone: a running max in one buffer, no temporaries
        best = np.maximum(first, windows[1], out=take("maxpool", first.shape, first.dtype))
        for window in windows[2:]:
            np.maximum(best, window, out=best)
        return best, None
    players = []  # (max of a run of windows, index of the run's first maximum or None)
    for k in range(0, len(windows) - 1, 2):
        left, right = windows[k], windows[k + 1]
        best = np.maximum(left, right, out=take("maxpool", first.shape, first.dtype) if k == 0 else None)
        index = None
        if keep_argmax:
            index = np.not_equal(left, best).view(np.int8).astype(index_dtype, copy=False)
            if k:
                index += index_dtype(k)
        players.append((best, index))
    if len(windows) % 2:  # the last window plays from round two on
        last = windows[-1]
        players.append((last, np.full(last.shape, len(windows) - 1, dtype=index_dtype) if keep_argmax else None))
    while len(players) > 1:
        following = []
        for (m_left, i_left), (m_right, i_right) in zip(players[::2], players[1::2]):
            if keep_argmax:
                i_right = np.subtract(i_right, i_left)
                i_right *= np.greater(m_right, m_left)
                i_left += i_right
            # a left player is always a round-one maximum (ours to overwrite), never an input window:
            # the odd window stays at the end of the list and so plays on the right
            following.append((np.maximum(m_left, m_right, out=m_left), i_left))
        players = following + players[len(following) * 2:]
    best, argmax = players[0]
    if keep_argmax and best.dtype.kind == "f" and np.isnan(best).any():
        return _running_max_reference(windows, keep_argmax)
    return best, argmax


def _running_max_reference(windows: Iterator[np.ndarray], keep_argmax: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``_running_max`` by its definition: keep the best so far, replace it where a window is larger
    (or NaN). The reference for the tests, and the rule where a NaN won."""
    best = argmax = None
    for k, window in enumerate(windows):
        if best is None:
            best = window.copy()
            continue
        better = window > best
        better |= np.isnan(window) if window.dtype.kind == "f" else False
        np.copyto(best, window, where=better)
        if keep_argmax:
            if argmax is None:
                argmax = np.zeros(best.shape, dtype=np.int32)
            np.copyto(argmax, k, where=better)
    if keep_argmax and argmax is None:  # a 1x1 window
        argmax = np.zeros(best.shape, dtype=np.int32)
    return best, argmax


@lru_cache(maxsize=256)
def _disjoint(g: PoolGeometry) -> bool:
    """Whether no input pixel lies in two windows (stride at least the dilated kernel, on both axes)."""
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(g.kernel, g.stride, g.dilation))


def _lowest(dtype: np.dtype) -> float:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


@lru_cache(maxsize=64)
def _offsets(count: int, dtype: np.dtype) -> np.ndarray:
    """0, 1, ..., count-1 along the first of five axes (to compare with an (N, C, OH, OW) argmax)."""
    offsets = np.arange(count, dtype=dtype).reshape(count, 1, 1, 1, 1)
    offsets.flags.writeable = False  # shared by every call
    return offsets


@lru_cache(maxsize=256)
def _tiled(input_hw: tuple[int, ...], g: PoolGeometry) -> bool:
    """Whether the windows tile the input: every pixel in exactly one window, none in the padding."""
    out, _ = _layout(input_hw, g)
    return (g.stride == g.kernel and g.dilation == (1, 1) and g.padding == (0, 0)
            and tuple(input_hw) == (out[0] * g.kernel[0], out[1] * g.kernel[1]))


# -- max pooling -----------------------------------------------------------------------------------

class MaxPool2d(Op):
    """y = max over each window; ``argmax`` (which kernel offset won) is kept for the gradient."""

    def __init__(self, geometry: PoolGeometry, return_indices: bool = False) -> None:
        self.geometry, self.return_indices = geometry, return_indices

    def name(self) -> str:
        return "MaxPool2DWithIndicesBackward0"

    def forward(self, x):
        self.input_shape = x.shape
        padded, out = _padded(x, self.geometry, _lowest(x.dtype))
        keep = self.return_indices or self.needs_input_grad[0]
        y, self.argmax = _running_max(_windows(padded, self.geometry, out), keep)
        return y

    def indices(self) -> np.ndarray:
        """Flat positions h*W + w in the input plane of the chosen elements (PyTorch's ``indices``)."""
        g, w = self.geometry, self.input_shape[3]
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = g.kernel, g.stride, g.padding, g.dilation
        oh, ow = self.argmax.shape[2:]
        argmax = self.argmax.astype(np.int64)
        rows = np.arange(oh)[:, None] * sh - ph + (argmax // kw) * dh
        columns = np.arange(ow)[None, :] * sw - pw + (argmax % kw) * dw
        return (rows * w + columns).astype(np.int64)

    def backward(self, gy):
        return backward_op(MaxPoolScatter(self.geometry, self.argmax, self.input_shape), gy)


class MaxPoolScatter(Op):
    """dx: each dy added to the position that won its window (the backward of a max-pool)."""

    def __init__(self, geometry: PoolGeometry, argmax: np.ndarray, input_shape: tuple[int, ...]) -> None:
        self.geometry, self.argmax, self.input_shape = geometry, argmax, input_shape

    def name(self) -> str:
        return "MaxPool2DWithIndicesBackwardBackward0"

    def forward(self, gy):
        g = self.geometry
        if not _disjoint(g):  # overlapping windows: a pixel may win several, its gradients add up
            return _add_windows(gy, self.input_shape, g, lambda k: np.where(self.argmax == k, gy, 0))
        # each pixel is in one window at most: window k of dx is gy where k won, else 0, written
        # as gy * (argmax == k) (a NaN or inf in gy would leak through the product: masked copies then)
        shape = self.input_shape
        out, (after_h, after_w) = _layout(shape[2:], g)
        (ph, pw), (h, w) = g.padding, shape[2:]
        finite = bool(np.isfinite(gy).all())
        padded = take("maxpool.grad", shape[:2] + (ph + h + after_h, pw + w + after_w), gy.dtype)
        if not (finite and _tiled(shape[2:], g)):
            padded.fill(0)
        windows = _windows(padded, g, out)
        won = self.argmax == _offsets(len(windows), self.argmax.dtype)  # (K, N, C, OH, OW), in one call
        for window, mask in zip(windows, won):
            if finite:
                np.multiply(gy, mask, out=window)
            else:
                np.copyto(window, gy, where=mask)
        if padded.shape == shape:  # no padding to crop
            return padded
        return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])

    def backward(self, ggx):
        return MaxPoolGather(self.geometry, self.argmax)(ggx)


class MaxPoolGather(Op):
    """The value at each window's winning position: the adjoint of ``MaxPoolScatter``."""

    def __init__(self, geometry: PoolGeometry, argmax: np.ndarray) -> None:
        self.geometry, self.argmax = geometry, argmax

    def forward(self, x):
        self.input_shape = x.shape
        padded, out = _padded(x, self.geometry, 0)
        result = np.zeros(self.argmax.shape, dtype=x.dtype)
        for k, window in enumerate(_windows(padded, self.geometry, out)):
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
        padded, out = _padded(x, self.geometry, 0)
        total = np.zeros(x.shape[:2] + out, dtype=x.dtype)
        for window in _windows(padded, self.geometry, out):
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


class AdaptiveMaxPool2d(Op):
    """y[i, j] = max of the adaptive window (i, j); the flat position of each max is kept."""

    def __init__(self, output_size: tuple[int, int]) -> None:
        self.output_size = output_size

    def name(self) -> str:
        return "AdaptiveMaxPool2DBackward0"

    def forward(self, x):
        self.input_shape = x.shape
        rows, columns = (adaptive_windows(n, m) for n, m in zip(x.shape[2:], self.output_size))
        windows = (x[:, :, r[:, None], c[None, :]] for r in rows for c in columns)
        y, argmax = _running_max(windows, keep_argmax=True)
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
