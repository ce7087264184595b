"""A convolution + 2x2 max-pool for a few samples, on one gathered patch matrix.

At batch 1 the fused op's arithmetic is small (LeNet-5's conv1: 6 x 25 @ 25 x 784) and its cost is the
number of NumPy calls: the row-window and phase layouts (``shenjing._ops.conv_pool``) copy patches
row by row, pool on strided views and fold the weight gradient in several passes, some 20-30 calls
of a few microseconds each. Here the whole patch matrix is one copy from a strided view of the (padded)
input, laid out so that the pooling is a reduction over one axis:

    cols[(c, a, b), (r, f, n, i, j)] = xpad[n, c, (2i + r) s_h + a d_h, (2j + f) s_w + b d_w]

(K = C*KH*KW rows; the columns are the four elements (r, f) of every pooling window (n, i, j), so the
convolution's output is P = W (O, K) @ cols, (O, 4, M) with M = N*PH*PW). Then y = max over axis 1 of
P + b, the winners a mask over the same axis (the first maximum in row-major window order, as the two
ops), and backward is two products and a scatter-add:

    dP = gy at the winning element (zeros elsewhere)   dW = dP @ cols^T   db = sum gy   dX = scatter(W^T dP)

The scatter-add is ``np.bincount`` over the index of every entry of cols into x (``gather_index``,
cached per shape; it sums in float64, then rounds once); taps in the zero padding index one extra
element after x's values, whose gradient is dropped. Conv outputs that no pooling window covers (odd
sizes, PyTorch's floor mode) are never computed: their gradient is zero either way.

Measured (the layer's forward + backward, one thread, CPU time, against row windows): LeNet-5's conv1
274 -> 198 us and conv2 395 -> 238 us at batch 1. The patch matrix grows with the batch, and from about
80,000 values (LeNet-5's conv1 at batch 4, conv2 at batch 6, CourseCNN's conv1 at batch 2) the row
windows are faster (``GATHER_MAX_ELEMENTS``).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from shenjing._ops.conv import ConvGeometry, output_size
from shenjing._ops.pool import _running_max_reference
from shenjing._workspace import take

__all__: list[str] = []  # internal

GATHER_MAX_ELEMENTS = 1 << 16  # of the patch matrix, K * 4M: beyond ~80,000 the row windows are faster
_QUARTERS = np.arange(4).reshape(4, 1)  # a window's elements (r, f), to compare with an argmax (O, M)


def gather_size(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geometry: ConvGeometry) -> float:
    """The size of the gathered patch matrix, K * 4M (inf for several groups, which it does not run)."""
    if geometry.groups != 1:
        return math.inf
    oh, ow = output_size(x_shape[2:], w_shape[2:], geometry)
    return w_shape[1] * w_shape[2] * w_shape[3] * 4 * x_shape[0] * (oh // 2) * (ow // 2)


def gather_applies(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geometry: ConvGeometry) -> bool:
    """Whether the fused convolution + pool runs on a gathered patch matrix: one group and a small one."""
    return gather_size(x_shape, w_shape, geometry) <= GATHER_MAX_ELEMENTS


@lru_cache(maxsize=64)
def gather_index(x_shape: tuple[int, ...], kernel: tuple[int, int], geometry: ConvGeometry) -> np.ndarray:
    """The index (K, 4*M) of ``cols`` into x's values (N*C*H*W of them, C order) followed by a zero
    (where a tap falls in the padding), read-only."""
    n, c, h, w = x_shape
    kh, kw = kernel
    oh, ow = output_size((h, w), kernel, geometry)
    (sh, sw), ((top, _), (left, _)), (dh, dw) = geometry.stride, geometry.padding, geometry.dilation
    channel, a, b, r, f, sample, i, j = np.ix_(*(np.arange(size) for size in (c, kh, kw, 2, 2, n, oh // 2, ow // 2)))
    rows = (2 * i + r) * sh + a * dh - top
    columns = (2 * j + f) * sw + b * dw - left
    inside = (rows >= 0) & (rows < h) & (columns >= 0) & (columns < w)
    flat = ((sample * c + channel) * h + rows) * w + columns
    index = np.where(inside, flat, n * c * h * w).astype(np.intp).reshape(c * kh * kw, -1)
    index.flags.writeable = False  # shared by every call
    return index


class PatchLayout(NamedTuple):
    """How ``gathered_patches`` reads an input of one shape (``patch_layout``)."""

    padded: tuple[int, ...] | None  # the zero-padded input's shape (None: no padding)
    inside: tuple[slice, ...]  # where the input sits in it
    windows: tuple[int, ...]  # the strided view (C, KH, KW, 2, 2, N, PH, PW) of the padded input
    strides: tuple[int, ...]  # its strides (the padded input C-contiguous)
    cols: tuple[int, int]  # (K, 4M)


@lru_cache(maxsize=64)
def patch_layout(x_shape: tuple[int, ...], itemsize: int, kernel: tuple[int, int],
                 geometry: ConvGeometry) -> PatchLayout:
    """The layout of ``gathered_patches`` for one input shape, worked out once."""
    n, c, h, w = x_shape
    kh, kw = kernel
    oh, ow = output_size((h, w), kernel, geometry)
    (sh, sw), ((top, bottom), (left, right)), (dh, dw) = geometry.stride, geometry.padding, geometry.dilation
    padded = (n, c, h + top + bottom, w + left + right)
    s_w = itemsize  # C-contiguous strides of the padded input
    s_h, s_c, s_n = padded[3] * s_w, padded[2] * padded[3] * s_w, c * padded[2] * padded[3] * s_w
    windows = (c, kh, kw, 2, 2, n, oh // 2, ow // 2)
    strides = (s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w, s_n, 2 * sh * s_h, 2 * sw * s_w)
    inside = (slice(None), slice(None), slice(top, top + h), slice(left, left + w))
    return PatchLayout(padded if padded != x_shape else None, inside, windows, strides,
                       (c * kh * kw, 4 * n * (oh // 2) * (ow // 2)))


def gathered_patches(x: np.ndarray, kernel: tuple[int, int], geometry: ConvGeometry) -> np.ndarray:
    """cols (K, 4*M) (see the module's docstring), a work array: one copy from a strided view of the
    (padded) input, cols[(c, a, b), (r, f, n, i, j)] at xpad[n, c, (2i + r) s_h + a d_h, (2j + f) s_w + b d_w].
    (``np.take`` with ``gather_index`` gives the same; the copy is 2x faster for LeNet-5's conv1,
    whose index is 25 x 784, and as fast for its conv2.)"""
    layout = patch_layout(x.shape, x.itemsize, kernel, geometry)
    if layout.padded is not None:
        padded = np.zeros(layout.padded, x.dtype)
        padded[layout.inside] = x
    else:
        padded = np.ascontiguousarray(x)
    windows = np.ndarray(layout.windows, x.dtype, padded, 0, layout.strides)
    cols = take("gather.cols", layout.cols, x.dtype)
    np.copyto(cols.reshape(layout.windows), windows)
    return cols


def gathered_max(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geometry: ConvGeometry,
                 training: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """y = max_pool2d(conv2d(x, w, b), 2) as (O, M) (columns (n, i, j)); in training, which of each
    window's four elements (r, f) won, a mask (O, 4, M) (the first maximum in row-major order; a NaN wins
    as in PyTorch); and cols.

    The mask is P == y: exactly one element per window where no window ties or holds a NaN (one count
    tells), else the winners by ``_running_max_reference``'s rule (``np.argmax`` is also 3-4x slower
    over the middle axis)."""
    o = w.shape[0]
    cols = gathered_patches(x, w.shape[2:], geometry)
    product = np.matmul(w.reshape(o, -1), cols)
    if b is not None:
        product += b[:, None]
    windows = product.reshape(o, 4, -1)
    best = np.maximum.reduce(windows, axis=1)
    won = None
    if training:
        won = windows == best[:, None]
        if np.count_nonzero(won) != best.size:
            best, argmax = _running_max_reference((windows[:, k] for k in range(4)), True)
            won = argmax[:, None] == _QUARTERS
    return best, won, cols


def gathered_grads(gy: np.ndarray, won: np.ndarray, cols: np.ndarray, w: np.ndarray,
                   x_shape: tuple[int, ...], geometry: ConvGeometry, needs: tuple[bool, bool, bool]) -> tuple:
    """(dx, dw, db) (None where not needed) from gy (O, M), the gradient of ``gathered_max``'s output."""
    o = w.shape[0]
    dp = np.where(won, gy[:, None], 0).reshape(o, -1)  # (O, 4M); (np.where: inf * 0 would be NaN)
    dx = dw = db = None
    if needs[0]:
        index = gather_index(x_shape, w.shape[2:], geometry)
        dcols = np.matmul(w.reshape(o, -1).T, dp, out=take("gather.dcols", index.shape, w.dtype))
        size = math.prod(x_shape)
        summed = np.bincount(index.reshape(-1), dcols.reshape(-1), minlength=size + 1)
        dx = summed[:size].astype(w.dtype, copy=False).reshape(x_shape)
    if needs[1]:
        dw = np.matmul(dp, cols.T).reshape(w.shape)
    if needs[2]:
        db = np.add.reduce(gy, axis=1)
    return dx, dw, db
