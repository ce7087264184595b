"""Faster algorithms for convolution, each computing exactly what ``shenjing._ops.conv`` specifies.

``ALGORITHMS`` names every algorithm; ``choose`` picks one from the shapes, the dtype and the geometry
alone (a pure function: the same call is made on the first and the tenth step). Each algorithm has the
interface of ``shenjing._ops.conv.Im2col`` (the reference, registered here as "im2col"):
``forward(x, w, b, geometry, keep_patches) -> (y, patches)``, ``input_grad``, ``weight_grad`` and
``gradients`` (all three, first order), every result a new array. ``tests/test_conv_kernels.py`` runs
each registered algorithm against the reference and PyTorch.

"rows": row windows (one group, dilation 1 along the rows). With the patches of the kernel's columns
laid out row first, colsR (Hp, C, KW, OW*N), im2col's patch matrix of output row i is one contiguous
block of colsR, B_i = colsR[s_h*i : s_h*i + KH] as (KH*C*KW, OW*N). So the convolution is OH products
W (O, KH*C*KW) @ B_i, one batched ``matmul`` over overlapping windows of colsR, which is KH/s_h times
smaller than im2col's patches (less to copy, read while still in cache). The weight gradient is
sum_i dY_i @ B_i^T over the same windows, and (stride 1 along the rows) the input gradient of colsR
is again one batched product over windows of dY padded with KH-1 zero rows, followed by KW slice
additions. Where the layer has few output channels, R output rows share one product with a banded
weight (``rows_per_product``).

"samples": im2col with the batch first (``SampleIm2col``): x, y, dY and dx keep the (N, C, H, W) layout, so
none of the batch-last copies; the products are per sample. It wins where the patches are short (the first
layer of a network: few input channels) and for a batch of one, and handles every geometry.

``choose`` uses "rows" for batches of more than one sample whose patches have more than ``SAMPLES_MAX_PATCH``
rows (C/g*KH*KW) where it applies, else "samples"; the reference is not chosen (it is the specification).
The measurements behind these rules are in docs/performance.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shenjing._ops.conv import IM2COL, ConvGeometry, kernel_windows, output_size

__all__ = ["ALGORITHMS", "choose"]


# -- copies between the (N, ...) and (..., N) layouts ---------------------------------------------
# One layout is walked with a stride of one sample; where that stride is a multiple of 2 KiB, consecutive
# accesses fall into the same cache sets and evict each other, so such batches are copied in blocks of
# 8 samples (see docs/performance.md).
ALIASING_STRIDE = 2048
ALIASING_BLOCK = 8


def _aliasing_blocks(n: int, sample_stride: int) -> list[slice]:
    """The batch in one slice, or in slices of ``ALIASING_BLOCK`` samples when one sample is a multiple
    of ``ALIASING_STRIDE`` bytes from the next."""
    if n <= ALIASING_BLOCK or sample_stride % ALIASING_STRIDE:
        return [slice(0, n)]
    return [slice(s, s + ALIASING_BLOCK) for s in range(0, n, ALIASING_BLOCK)]


def _batch_last_copy(out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """out[..., n] = x[n, ...]: x (N, A, B, C) copied into out (A, B, C, N) (any strides)."""
    for part in _aliasing_blocks(x.shape[0], x.strides[0]):
        np.copyto(out[..., part], x[part].transpose(1, 2, 3, 0))
    return out


def _batch_first(y: np.ndarray, out: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """out[n, c, i, j] = y[c, i, j, n] (+ bias[c]) for batch-last y (C, H, W, N), written into out (N, C, H, W)."""
    c = out.shape[1]
    y = y.reshape(c, *out.shape[2:], out.shape[0])
    bias = 0 if bias is None else bias.reshape(c, 1, 1, 1)
    for part in _aliasing_blocks(out.shape[0], out.strides[0]):
        np.add(y[..., part], bias, out=out[part].transpose(1, 2, 3, 0))
    return out


def _padded_batch_last(x: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """x (N, C, H, W) copied into a zero-bordered array laid out (C, Hp, Wp, N)."""
    n, c, h, w = x.shape
    (pt, pb), (pl, pr) = geometry.padding
    padded = np.empty((c, h + pt + pb, w + pl + pr, n), x.dtype)
    if pt or pb or pl or pr:
        padded[:, :pt], padded[:, pt + h:], padded[:, :, :pl], padded[:, :, pl + w:] = 0, 0, 0, 0
    _batch_last_copy(padded[:, pt:pt + h, pl:pl + w], x)
    return padded


# -- "rows": row windows ---------------------------------------------------------------------------

def row_patches(x: np.ndarray, kernel: tuple[int, int], geometry: ConvGeometry) -> np.ndarray:
    """The patches of the kernel's columns over every padded row, row first: colsR (Hp, C, KW, OW, N),
    colsR[r, c, q, j, n] = xpad[n, c, r, s_w*j + d_w*q]."""
    padded = _padded_batch_last(x, geometry)
    c, hp, _, n = padded.shape
    ow = output_size(x.shape[2:], kernel, geometry)[1]
    (sw, dw), (s_c, s_h, s_w, s_n) = (geometry.stride[1], geometry.dilation[1]), padded.strides
    view = np.ndarray((hp, c, kernel[1], ow, n), padded.dtype, padded, 0, (s_h, s_c, dw * s_w, sw * s_w, s_n))
    return np.ascontiguousarray(view)


# A product W (O, KH*C*KW) @ B_i with few rows (O = 6) runs far below the BLAS's speed. R consecutive
# output rows are instead one product with R*O rows: the banded weight W_R (R*O, span*C*KW),
# span = s_h*(R-1) + KH, holds W at row block r shifted by s_h*r kernel rows and zeros elsewhere, and the
# window of ``span`` padded rows is again one strided block of colsR. The zeros cost span/KH times the
# multiply-adds: R is the largest with R*O <= ROWS_TARGET and span <= SPAN_LIMIT * KH, and 1 for products
# narrower than ROWS_MIN_WIDTH (OW*N) columns.
ROWS_TARGET = 24
SPAN_LIMIT = 1.6
ROWS_MIN_WIDTH = 96


def rows_per_product(out_channels: int, kh: int, stride_h: int, oh: int, width: int) -> int:
    """R, the output rows that one product computes, for products ``width`` (OW*N) columns wide."""
    if width < ROWS_MIN_WIDTH:
        return 1
    rows = max(1, min(oh, ROWS_TARGET // out_channels))
    while rows > 1 and stride_h * (rows - 1) + kh > SPAN_LIMIT * kh:
        rows -= 1
    return rows


def _row_groups(oh: int, rows: int) -> list[tuple[int, int, int]]:
    """The products over OH output rows R at a time: (first output row, rows per product, products),
    the rows left over as one more product."""
    count, left = divmod(oh, rows)
    return ([(0, rows, count)] if count else []) + ([(count * rows, left, 1)] if left else [])


def _group_windows(colsr: np.ndarray, first: int, rows: int, count: int, kh: int, stride_h: int) -> np.ndarray:
    """The read-only view (count, span*C*KW, OW*N) of colsR whose block g holds the padded rows that
    output rows first + g*R .. first + g*R + R-1 read: from s_h*(first + g*R), span = s_h*(R-1) + KH."""
    hp, c, kw, ow, n = colsr.shape
    size = colsr.itemsize
    row = c * kw * ow * n * size  # the stride of one padded row
    span = stride_h * (rows - 1) + kh
    return np.ndarray((count, span * c * kw, ow * n), colsr.dtype, colsr, stride_h * first * row,
                      (stride_h * rows * row, ow * n * size, size))


def _banded_weight(w_rows: np.ndarray, rows: int, stride_h: int) -> np.ndarray:
    """W_R (R*O, span*C*KW) from w_rows (O, KH, C*KW): W_R[(r, o), (s_h*r + p, c, q)] = w[o, c, p, q], 0 elsewhere."""
    o, kh, ck = w_rows.shape
    if rows == 1:
        return w_rows.reshape(o, kh * ck)
    band = np.zeros((rows, o, stride_h * (rows - 1) + kh, ck), w_rows.dtype)
    s_r, s_o, s_p, s_c = band.strides
    np.ndarray((rows, o, kh, ck), band.dtype, band, 0, (s_r + stride_h * s_p, s_o, s_p, s_c))[...] = w_rows
    return band.reshape(rows * o, -1)


def row_product(w: np.ndarray, colsr: np.ndarray, oh: int, stride_h: int) -> np.ndarray:
    """The convolution's product (OH, O, OW*N), out[i] = W (O, KH*C*KW) @ B_i, R output rows per product.
    R is 1 where colsR holds an inf or NaN: the band's zeros times inf would put NaN where no window sees it."""
    o, c, kh, kw = w.shape
    rows = rows_per_product(o, kh, stride_h, oh, colsr.shape[3] * colsr.shape[4])
    if rows > 1 and not math.isfinite(np.add.reduce(colsr, axis=None)):
        rows = 1
    out = np.empty((oh, o, colsr.shape[3] * colsr.shape[4]), colsr.dtype)
    w_rows = w.transpose(0, 2, 1, 3).reshape(o, kh, c * kw)  # W[o, p, (c, q)]
    for first, r, count in _row_groups(oh, rows):
        np.matmul(_banded_weight(w_rows, r, stride_h), _group_windows(colsr, first, r, count, kh, stride_h),
                  out=out[first:first + r * count].reshape(count, r * o, -1))
    return out


def row_outputs(gy: np.ndarray, pad: int) -> np.ndarray:
    """dY (N, O, OH, OW) laid out (OH + 2*pad, O, OW, N), with ``pad`` zero rows above and below."""
    n, o, oh, ow = gy.shape
    out = np.empty((oh + 2 * pad, o, ow, n), gy.dtype)
    if pad:
        out[:pad], out[pad + oh:] = 0, 0
    _batch_last_copy(out[pad:pad + oh].transpose(1, 0, 2, 3), gy)
    return out


def weight_grad_from_rows(colsr: np.ndarray, dy: np.ndarray, weight_shape: tuple[int, ...],
                          stride_h: int) -> np.ndarray:
    """dW from colsR and dY laid out (OH, O, OW, N): dW[o, c, p, q] = sum_i (B_i @ dY_i^T)[(p, c, q), o],
    R output rows per product as in ``row_product``: the window of span padded rows times dY of those R
    rows, (span*C*KW, R*O), summed over the products; block (s_h*r + p, r) of it is row r's share of
    dW[:, :, p] (the other blocks pair rows with taps that don't meet: unused)."""
    o, c, kh, kw = weight_shape
    oh = dy.shape[0]
    dy = dy.reshape(oh, o, -1)
    grad = None  # dW[p, (c, q), o]
    for first, r, count in _row_groups(oh, rows_per_product(o, kh, stride_h, oh, dy.shape[2])):
        windows = _group_windows(colsr, first, r, count, kh, stride_h)
        products = np.matmul(windows, dy[first:first + r * count].reshape(count, r * o, -1).transpose(0, 2, 1))
        summed = np.add.reduce(products, axis=0).reshape(-1, c * kw, r, o)  # (span, C*KW, R, O)
        if r > 1:  # the blocks [s_h*r + p, :, r, :] as (R, KH, C*KW, O), summed over r
            s_p, s_c, s_r, s_o = summed.strides
            summed = np.ndarray((r, kh, c * kw, o), summed.dtype, summed, 0,
                                (stride_h * s_p + s_r, s_p, s_c, s_o)).sum(0)
        grad = summed.reshape(kh, c * kw, o) if grad is None else np.add(grad, summed.reshape(grad.shape), out=grad)
    if grad is None:  # no output rows
        grad = np.zeros((kh, c * kw, o), colsr.dtype)
    return np.ascontiguousarray(grad.reshape(kh, c, kw, o).transpose(3, 1, 0, 2))


# Products at least this wide (OW*N columns) skip the zero rows of dY that the first and last KH-1
# windows reach into (29% of the multiply-adds for a 5x5 kernel on 14x14), at the price of 2(KH-1)
# more calls; narrower ones take all Hp windows in one batched product.
BORDER_MIN_WIDTH = 128


def input_grad_from_rows(dy: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...],
                         geometry: ConvGeometry) -> np.ndarray:
    """dx from dY laid out (OH + 2(KH-1), O, OW, N) with KH-1 zero rows above and below (``row_outputs``),
    for stride 1 along the rows. The gradient of the row patches,

        dcolsR[r, (c, q)] = sum_{p, o} w[o, c, p, q] dY[o, r - p] = Wf (C*KW, KH*O) @ D_r (KH*O, OW*N)

    with Wf[(c, q), (p', o)] = w[o, c, KH-1-p', q] and D_r the rows r .. r+KH-1 of the padded dY (one
    block), one batched product over the Hp padded rows; then the kernel's columns are added back in
    place (KW slice additions): xpad[c, r, s_w*j + d_w*q, n] += dcolsR[r, c, q, j, n]."""
    o, c, kh, kw = w.shape
    n, _, h, wd = input_shape
    (pt, pb), (pl, pr) = geometry.padding
    hp, wp, ow = h + pt + pb, wd + pl + pr, dy.shape[2]
    oh = dy.shape[0] - 2 * (kh - 1)
    size = dy.itemsize
    windows = np.ndarray((hp, kh * o, ow * n), dy.dtype, dy, 0, (o * ow * n * size, ow * n * size, size))
    w_flip = w[:, :, ::-1].transpose(1, 3, 2, 0).reshape(c * kw, kh * o)
    dcolsr = np.empty((hp, c * kw, ow * n), dy.dtype)
    if ow * n < BORDER_MIN_WIDTH:
        np.matmul(w_flip, windows, out=dcolsr)
    else:  # the first and last KH-1 windows reach into dY's zero rows: their products skip those blocks
        full = range(kh - 1, oh)  # the windows D_r (r = KH-1 .. OH-1) within dY's rows
        np.matmul(w_flip, windows[full.start:full.stop], out=dcolsr[full.start:full.stop])
        for r in [r for r in range(hp) if r not in full]:
            first, stop = o * max(0, kh - 1 - r), o * min(kh, kh - 1 + oh - r)  # the blocks of dY rows
            np.matmul(w_flip[:, first:stop], windows[r, first:stop], out=dcolsr[r])
    dcolsr = dcolsr.reshape(hp, c, kw, ow, n)
    padded = np.zeros((c, hp, wp, n), dy.dtype)
    sw, dw = geometry.stride[1], geometry.dilation[1]
    for q in range(kw):
        padded[:, :, dw * q:dw * q + sw * (ow - 1) + 1:sw] += dcolsr[:, :, q].transpose(1, 0, 2, 3)
    return _batch_first(padded[:, pt:pt + h, pl:pl + wd], np.empty(input_shape, dy.dtype))


class RowWindows:
    """The "rows" algorithm (the module docstring): one group, dilation 1 along the rows, a non-empty batch."""

    name = "rows"

    @staticmethod
    def applies(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geometry: ConvGeometry) -> bool:
        return geometry.groups == 1 and geometry.dilation[0] == 1 and x_shape[0] > 0

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geometry: ConvGeometry,
                keep_patches: bool) -> tuple[np.ndarray, Any]:
        o, _, kh, kw = w.shape
        oh, ow = output_size(x.shape[2:], (kh, kw), geometry)
        colsr = row_patches(x, (kh, kw), geometry)
        product = row_product(w, colsr, oh, geometry.stride[0])  # (OH, O, OW*N)
        y = np.empty((x.shape[0], o, oh, ow), x.dtype)
        _batch_first(product.reshape(oh, o, ow, x.shape[0]).transpose(1, 0, 2, 3), y, b)
        return y, (colsr if keep_patches else None)

    def input_grad(self, gy: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...], geometry: ConvGeometry,
                   dy: np.ndarray | None = None) -> np.ndarray:
        """On dY's rows where the stride along the rows is 1 (``dy``: ``row_outputs(gy, KH-1)``), else the reference's."""
        if geometry.stride[0] != 1:
            return IM2COL.input_grad(gy, w, input_shape, geometry)
        dy = row_outputs(gy, w.shape[2] - 1) if dy is None else dy
        return input_grad_from_rows(dy, w, input_shape, geometry)

    def weight_grad(self, x: np.ndarray, gy: np.ndarray, weight_shape: tuple[int, ...], geometry: ConvGeometry,
                    patches: Any = None, dy: np.ndarray | None = None) -> np.ndarray:
        """From the kept row patches (or ``row_patches(x)``) and dY (OH, O, OW, N) (``row_outputs(gy, 0)``)."""
        colsr = row_patches(x, weight_shape[2:], geometry) if patches is None else patches
        dy = row_outputs(gy, 0) if dy is None else dy
        return weight_grad_from_rows(colsr, dy, weight_shape, geometry.stride[0])

    def gradients(self, gy: np.ndarray, x: np.ndarray, w: np.ndarray, geometry: ConvGeometry, patches: Any,
                  needs: tuple) -> tuple:
        """(dx, dW, db), sharing one layout of dY: (OH + 2(KH-1), O, OW, N) when the input gradient is on rows."""
        pad = w.shape[2] - 1 if needs[0] and geometry.stride[0] == 1 else 0
        dy = row_outputs(gy, pad)
        oh = gy.shape[2]
        gx = self.input_grad(gy, w, x.shape, geometry, dy) if needs[0] else None
        gw = self.weight_grad(x, gy, w.shape, geometry, patches, dy[pad:pad + oh]) if needs[1] else None
        gb = dy.sum((0, 2, 3)) if needs[2] else None
        return gx, gw, gb


ROWS = RowWindows()


# -- "samples": im2col batch first -----------------------------------------------------------------

def sample_patches(x: np.ndarray, kernel: tuple[int, ...], geometry: ConvGeometry) -> np.ndarray:
    """The patches batch first, cols (N, C, KH, KW, OH, OW), cols[n, c, p, q, i, j] = xpad[n, c, s_h*i + d_h*p,
    s_w*j + d_w*q]: one copy of a strided view of the (padded) input."""
    n, c, h, w = x.shape
    (pt, pb), (pl, pr) = geometry.padding
    if pt or pb or pl or pr:
        xpad = np.zeros((n, c, h + pt + pb, w + pl + pr), x.dtype)
        xpad[:, :, pt:pt + h, pl:pl + w] = x
    else:
        xpad = x
    (oh, ow), (sh, sw), (dh, dw) = output_size((h, w), kernel, geometry), geometry.stride, geometry.dilation
    s_n, s_c, s_h, s_w = xpad.strides
    view = np.lib.stride_tricks.as_strided(xpad, (n, c) + tuple(kernel) + (oh, ow),
                                           (s_n, s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w), writeable=False)
    return np.ascontiguousarray(view)


class SampleIm2col:
    """The "samples" algorithm: im2col with the batch first, so that x, y, dY and dx keep PyTorch's (N, C, H, W)
    layout (no batch-last copies). Per sample n (a batch of products, one matmul):

        Y_n = W (O, C*KH*KW) @ cols_n (C*KH*KW, OH*OW)       dW = sum_n dY_n @ cols_n^T

    (a batch of g products per sample with groups). The input gradient is the row windows' where they apply
    with stride 1 along the rows, else col2im of W^T @ dY_n, batch first."""

    name = "samples"

    @staticmethod
    def applies(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geometry: ConvGeometry) -> bool:
        return True

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geometry: ConvGeometry,
                keep_patches: bool) -> tuple[np.ndarray, Any]:
        cols = sample_patches(x, w.shape[2:], geometry)
        n, _, _, _, oh, ow = cols.shape
        o, g, patch = w.shape[0], geometry.groups, w.shape[1] * w.shape[2] * w.shape[3]
        y = np.matmul(w.reshape(g, o // g, patch), cols.reshape(n, g, patch, oh * ow))  # (N, g, O/g, OH*OW)
        y = y.reshape(n, o, oh, ow)
        if b is not None:
            y += b.reshape(o, 1, 1)
        return y, (cols if keep_patches else None)

    def input_grad(self, gy: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...], geometry: ConvGeometry,
                   dy: np.ndarray | None = None) -> np.ndarray:
        if geometry.stride[0] == 1 and RowWindows.applies(input_shape, w.shape, geometry):
            return ROWS.input_grad(gy, w, input_shape, geometry)
        n, c, h, wd = input_shape
        o, _, kh, kw = w.shape
        g, (oh, ow) = geometry.groups, gy.shape[2:]
        w_t = w.reshape(g, o // g, -1).transpose(0, 2, 1)  # (g, C/g*KH*KW, O/g)
        dcols = np.matmul(w_t, gy.reshape(n, g, o // g, oh * ow)).reshape(n, c, kh, kw, oh, ow)
        (pt, pb), (pl, pr) = geometry.padding
        xpad = np.zeros((n, c, h + pt + pb, wd + pl + pr), gy.dtype)
        for p, q, rows, columns in kernel_windows((kh, kw), (oh, ow), geometry.stride, geometry.dilation):
            xpad[:, :, rows, columns] += dcols[:, :, p, q]
        return np.ascontiguousarray(xpad[:, :, pt:pt + h, pl:pl + wd])

    def weight_grad(self, x: np.ndarray, gy: np.ndarray, weight_shape: tuple[int, ...], geometry: ConvGeometry,
                    patches: Any = None, dy: np.ndarray | None = None) -> np.ndarray:
        cols = sample_patches(x, weight_shape[2:], geometry) if patches is None else patches
        n, o, oh, ow = gy.shape
        g, patch = geometry.groups, weight_shape[1] * weight_shape[2] * weight_shape[3]
        per_sample = np.matmul(gy.reshape(n, g, o // g, oh * ow),
                               cols.reshape(n, g, patch, oh * ow).transpose(0, 1, 3, 2))  # (N, g, O/g, C/g*KH*KW)
        return np.add.reduce(per_sample, axis=0).reshape(weight_shape) if n else \
            np.zeros(weight_shape, gy.dtype)

    def gradients(self, gy: np.ndarray, x: np.ndarray, w: np.ndarray, geometry: ConvGeometry, patches: Any,
                  needs: tuple) -> tuple:
        gx = self.input_grad(gy, w, x.shape, geometry) if needs[0] else None
        gw = self.weight_grad(x, gy, w.shape, geometry, patches) if needs[1] else None
        gb = gy.sum((0, 2, 3)) if needs[2] else None
        return gx, gw, gb


SAMPLES = SampleIm2col()

ALGORITHMS: dict[str, Any] = {"im2col": IM2COL, "rows": ROWS, "samples": SAMPLES}

# Patch rows (C/g*KH*KW) up to which "samples" beats "rows" at any batch: the first layers, whose few input
# channels make the row windows' products short while their batch-last copies of x, y and dY stay as large.
SAMPLES_MAX_PATCH = 32


def choose(x_shape: tuple[int, ...], w_shape: tuple[int, ...], dtype: np.dtype, geometry: ConvGeometry) -> Any:
    """The algorithm for a convolution of these shapes, dtype and geometry: "rows" where it applies to a
    batch of more than one sample with more than ``SAMPLES_MAX_PATCH`` patch rows, else "samples"."""
    patch = w_shape[1] * w_shape[2] * w_shape[3]
    if x_shape[0] > 1 and patch > SAMPLES_MAX_PATCH and RowWindows.applies(x_shape, w_shape, geometry):
        return ROWS
    return SAMPLES
