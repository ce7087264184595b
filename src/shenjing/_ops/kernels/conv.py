"""Faster algorithms for convolution, each computing exactly what ``shenjing._ops.conv`` specifies.

``ALGORITHMS`` names every algorithm; ``choose`` picks one from the shapes, the dtype and the geometry
alone (a pure function: the same call is made on the first and the tenth step). Each algorithm has the
interface of ``shenjing._ops.conv.Im2col`` (the reference, registered here as "im2col"):
``forward(x, w, b, geometry, keep_patches) -> (y, patches)``, ``input_grad``, ``weight_grad`` and
``gradients`` (all three, first order), every result a new array. ``tests/test_conv_kernels.py`` runs
each registered algorithm against the reference and PyTorch.

"rows": row windows (one group, dilation 1 along the rows). With the patches of the kernel's columns
laid out row first, colsR (Hp, C, KW, OW*N) (layouts below), im2col's patch matrix of output row i is one
contiguous block of colsR, B_i = colsR[s_h*i : s_h*i + KH] as (KH*C*KW, OW*N). So the convolution is OH products
W (O, KH*C*KW) @ B_i, one batched ``matmul`` over overlapping windows of colsR, which is KH/s_h times
smaller than im2col's patches (less to copy, read while still in cache). The weight gradient is
sum_i dY_i @ B_i^T over the same windows, and (stride 1 along the rows) the input gradient of colsR
is again one batched product over windows of dY padded with KH-1 zero rows, followed by KW slice
additions. Where the layer has few output channels, R output rows share one product with a banded
weight (``rows_per_product``).

The row windows come in two layouts (``RowsLayout``): "rows" keeps the batch innermost, colsR (Hp, C, KW, OW, N),
and "wide-rows" each row's pixels, (Hp, C, KW, N, OW); the products are the same, only the order of their
columns differs, and the copies to and from (N, C, H, W) are cheaper in the second. "whole-rows"
(``WholeRowWindows``) is "wide-rows" with stride and dilation 1 along W and products over all Wp columns of
the padded rows: its patches and the input gradient's column additions are shifts of whole rows.

"samples": im2col with the batch first (``SampleIm2col``): x, y, dY and dx keep the (N, C, H, W) layout, so
none of the rows layouts' copies; the products are per sample. It wins where the patches are short (the first
layer of a network: few input channels) and for a batch of one, and handles every geometry.

``choose`` uses the row windows for batches of more than one sample whose patches have more than
``SAMPLES_MAX_PATCH`` rows (C/g*KH*KW) where they apply ("whole-rows" for outputs at least
``WHOLE_ROWS_MIN_WIDTH`` columns wide whose padded rows are at most ``WHOLE_ROWS_MAX_WIDENING`` times wider,
where it applies; else "wide-rows" from ``WIDE_ROWS_MIN_WIDTH`` columns), else "samples"; the reference is
not chosen (it is the specification).
The measurements behind these rules are in docs/performance.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shenjing._ops.conv import IM2COL, ConvGeometry, kernel_windows, output_size

__all__ = ["ALGORITHMS", "choose"]


# -- the rows layouts ------------------------------------------------------------------------------
# With the batch innermost, the batch-first side of a copy is walked with a stride of one sample; where
# that stride is a multiple of 2 KiB, consecutive accesses fall into the same cache sets and evict each
# other, so such batches are copied in blocks of 8 samples (3.6x faster for 64 x 16x32x32 images).
ALIASING_STRIDE = 2048
ALIASING_BLOCK = 8


def _aliasing_blocks(n: int, sample_stride: int) -> list[slice]:
    """The batch in one slice, or in slices of ``ALIASING_BLOCK`` samples when one sample is a multiple
    of ``ALIASING_STRIDE`` bytes from the next."""
    if n <= ALIASING_BLOCK or sample_stride % ALIASING_STRIDE:
        return [slice(0, n)]
    return [slice(s, s + ALIASING_BLOCK) for s in range(0, n, ALIASING_BLOCK)]


# The row-window products read and write image-shaped arrays rows first, (H, C, ., .), so that the rows a
# window of output rows reads are one block; their last two axes hold each row's pixels and the batch,
# in one of two orders (``RowsLayout``).

class RowsLayout:
    """The order of the last two axes of the "rows" algorithm's arrays: (H, C, W, N), the batch innermost
    (``batch_inner``), or (H, C, N, W), each row's pixels innermost as in PyTorch's (N, C, H, W).

    Batch innermost makes each pixel's N samples one contiguous run, so the copies inside the algorithm
    (the patches, the column additions of the input gradient) move runs of W*N values; but copying
    between it and (N, C, H, W) transposes single values. Width innermost moves runs of W values both
    ways: the layout copies get several times cheaper, the inner copies dearer for narrow images."""

    def __init__(self, batch_inner: bool) -> None:
        self.batch_inner = batch_inner

    def shape(self, h: int, c: int, n: int, w: int) -> tuple[int, int, int, int]:
        return (h, c, w, n) if self.batch_inner else (h, c, n, w)

    def columns(self, array: np.ndarray, columns: slice) -> np.ndarray:
        """The view of ``columns`` (pixels along W) of an array in this layout."""
        return array[..., columns, :] if self.batch_inner else array[..., columns]

    def of(self, image: np.ndarray) -> np.ndarray:
        """The view in this layout of a batch-first (N, C, H, W) array."""
        return image.transpose((2, 1, 3, 0) if self.batch_inner else (2, 1, 0, 3))

    def to_rows(self, image: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out = image (N, C, H, W) in this layout (``out`` any strides)."""
        if not self.batch_inner:
            np.copyto(out, self.of(image))
            return out
        for part in _aliasing_blocks(image.shape[0], image.strides[0]):
            np.copyto(out[..., part], self.of(image[part]))
        return out

    def from_rows(self, rows: np.ndarray, out: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        """out (N, C, H, W) = ``rows`` in this layout (+ bias[c] when given)."""
        bias = 0 if bias is None else bias.reshape(1, -1, 1, 1)
        if not self.batch_inner:
            np.add(rows, bias, out=self.of(out))
            return out
        for part in _aliasing_blocks(out.shape[0], out.strides[0]):
            np.add(rows[..., part], bias, out=self.of(out[part]))
        return out

    def padded(self, x: np.ndarray, geometry: ConvGeometry, spare: int = 0) -> np.ndarray:
        """x (N, C, H, W) copied into a new zero-bordered array in this layout, (Hp, C, ., .), followed in
        memory by ``spare`` zeros (its ``base``)."""
        n, c, h, w = x.shape
        (pt, pb), (pl, pr) = geometry.padding
        shape = self.shape(h + pt + pb, c, n, w + pl + pr)
        buffer = np.empty(math.prod(shape) + spare, x.dtype)
        buffer[buffer.size - spare:] = 0
        padded = buffer[:buffer.size - spare].reshape(shape)
        if pt or pb:
            padded[:pt], padded[pt + h:] = 0, 0
        if pl or pr:
            self.columns(padded, slice(0, pl))[...], self.columns(padded, slice(pl + w, None))[...] = 0, 0
        self.to_rows(x, self.columns(padded[pt:pt + h], slice(pl, pl + w)))
        return padded


BATCH_INNER, WIDTH_INNER = RowsLayout(batch_inner=True), RowsLayout(batch_inner=False)


# -- "rows": row windows ---------------------------------------------------------------------------

def row_patches(x: np.ndarray, kernel: tuple[int, int], geometry: ConvGeometry, layout: RowsLayout) -> np.ndarray:
    """The patches of the kernel's columns over every padded row, row first: colsR (Hp, C, KW, OW, N)
    with the batch inner, colsR[r, c, q, j, n] = xpad[n, c, r, s_w*j + d_w*q]; (Hp, C, KW, N, OW) else."""
    padded = layout.padded(x, geometry)
    hp, c = padded.shape[:2]
    n, ow = x.shape[0], output_size(x.shape[2:], kernel, geometry)[1]
    sw, dw = geometry.stride[1], geometry.dilation[1]
    s_h, s_c = padded.strides[:2]
    s_n, s_w = padded.strides[3:1:-1] if layout.batch_inner else padded.strides[2:]  # (samples, pixels)
    tail = ((ow, n), (sw * s_w, s_n)) if layout.batch_inner else ((n, ow), (s_n, sw * s_w))
    view = np.ndarray((hp, c, kernel[1]) + tail[0], padded.dtype, padded, 0, (s_h, s_c, dw * s_w) + tail[1])
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
    hp, c, kw = colsr.shape[:3]
    width, size = colsr.shape[3] * colsr.shape[4], colsr.itemsize  # width: the product's columns, OW*N
    row = c * kw * width * size  # the stride of one padded row
    span = stride_h * (rows - 1) + kh
    return np.ndarray((count, span * c * kw, width), colsr.dtype, colsr, stride_h * first * row,
                      (stride_h * rows * row, width * size, size))


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


def row_outputs(gy: np.ndarray, pad: int, layout: RowsLayout) -> np.ndarray:
    """dY (N, O, OH, OW) in ``layout``, (OH + 2*pad, O, ., .), with ``pad`` zero rows above and below."""
    n, o, oh, ow = gy.shape
    out = np.empty(layout.shape(oh + 2 * pad, o, n, ow), gy.dtype)
    if pad:
        out[:pad], out[pad + oh:] = 0, 0
    layout.to_rows(gy, out[pad:pad + oh])
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


def _row_gradient_product(dy: np.ndarray, w: np.ndarray, hp: int) -> np.ndarray:
    """dcolsR (Hp, C*KW, width) = Wf @ D_r for every padded row r (``input_grad_from_rows``), from dY
    (OH + 2(KH-1), O, ., .) in a rows layout whose last two axes are the products' ``width`` columns."""
    o, c, kh, kw = w.shape
    oh, width = dy.shape[0] - 2 * (kh - 1), dy.shape[2] * dy.shape[3]
    size = dy.itemsize
    windows = np.ndarray((hp, kh * o, width), dy.dtype, dy, 0, (o * width * size, width * size, size))
    w_flip = w[:, :, ::-1].transpose(1, 3, 2, 0).reshape(c * kw, kh * o)
    dcolsr = np.empty((hp, c * kw, width), dy.dtype)
    if width < BORDER_MIN_WIDTH:
        np.matmul(w_flip, windows, out=dcolsr)
    else:  # the first and last KH-1 windows reach into dY's zero rows: their products skip those blocks
        full = range(kh - 1, oh)  # the windows D_r (r = KH-1 .. OH-1) within dY's rows
        np.matmul(w_flip, windows[full.start:full.stop], out=dcolsr[full.start:full.stop])
        for r in [r for r in range(hp) if r not in full]:
            first, stop = o * max(0, kh - 1 - r), o * min(kh, kh - 1 + oh - r)  # the blocks of dY rows
            np.matmul(w_flip[:, first:stop], windows[r, first:stop], out=dcolsr[r])
    return dcolsr


def input_grad_from_rows(dy: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...],
                         geometry: ConvGeometry, layout: RowsLayout) -> np.ndarray:
    """dx from dY in ``layout`` (OH + 2(KH-1), O, ., .) with KH-1 zero rows above and below (``row_outputs``),
    for stride 1 along the rows. The gradient of the row patches,

        dcolsR[r, (c, q)] = sum_{p, o} w[o, c, p, q] dY[o, r - p] = Wf (C*KW, KH*O) @ D_r (KH*O, OW*N)

    with Wf[(c, q), (p', o)] = w[o, c, KH-1-p', q] and D_r the rows r .. r+KH-1 of the padded dY (one
    block), one batched product over the Hp padded rows; then the kernel's columns are added back in
    place (KW slice additions): xpad[r, c, s_w*j + d_w*q, n] += dcolsR[r, c, q, j, n] (batch inner)."""
    c, kw = w.shape[1], w.shape[3]
    n, _, h, wd = input_shape
    (pt, pb), (pl, pr) = geometry.padding
    hp, wp, ow = h + pt + pb, wd + pl + pr, dy.shape[2 if layout.batch_inner else 3]
    dcolsr = _row_gradient_product(dy, w, hp).reshape((hp, c, kw) + dy.shape[2:])
    padded = np.zeros(layout.shape(hp, c, n, wp), dy.dtype)
    sw, dw = geometry.stride[1], geometry.dilation[1]
    for q in range(kw):
        layout.columns(padded, slice(dw * q, dw * q + sw * (ow - 1) + 1, sw))[...] += dcolsr[:, :, q]
    return layout.from_rows(layout.columns(padded[pt:pt + h], slice(pl, pl + wd)), np.empty(input_shape, dy.dtype))


class RowWindows:
    """The "rows" algorithm (the module docstring) in a ``RowsLayout``: one group, dilation 1 along the rows,
    a non-empty batch. Its products cover the OW output columns of each row (``WholeRowWindows``: more)."""

    def __init__(self, name: str, layout: RowsLayout) -> None:
        self.name, self.layout = name, layout

    @staticmethod
    def applies(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geometry: ConvGeometry) -> bool:
        return geometry.groups == 1 and geometry.dilation[0] == 1 and x_shape[0] > 0

    # -- the pieces on rows (``kernels/conv_pool.py`` calls them too) ---------------------------------

    def width(self, x_shape: tuple[int, ...], kernel: tuple[int, ...], geometry: ConvGeometry) -> int:
        """The columns per row and sample of the products (and of the patches and dY): OW."""
        return output_size(x_shape[2:], kernel, geometry)[1]

    def patches(self, x: np.ndarray, kernel: tuple[int, ...], geometry: ConvGeometry) -> np.ndarray:
        return row_patches(x, kernel, geometry, self.layout)

    def output_rows(self, gy: np.ndarray, pad: int, width: int) -> np.ndarray:
        """dY (N, O, OH, OW) in the layout, ``width`` columns, with ``pad`` zero rows above and below."""
        return row_outputs(gy, pad, self.layout)

    def input_grad_on_rows(self, dy: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...],
                           geometry: ConvGeometry) -> np.ndarray:
        """dx from ``output_rows(gy, KH-1, .)``, for stride 1 along the rows; the reference's where the weight
        holds an inf or NaN (times dY's zero rows it would put NaN where no window sees it)."""
        if np.isfinite(w).all():
            return self._input_grad_on_rows(dy, w, input_shape, geometry)
        n, o, kh = input_shape[0], w.shape[0], w.shape[2]
        oh, ow = dy.shape[0] - 2 * (kh - 1), output_size(input_shape[2:], w.shape[2:], geometry)[1]
        rows = self.layout.columns(dy[kh - 1:kh - 1 + oh], slice(0, ow))
        gy = self.layout.from_rows(rows, np.empty((n, o, oh, ow), dy.dtype))
        return IM2COL.input_grad(gy, w, input_shape, geometry)

    def _input_grad_on_rows(self, dy: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...],
                            geometry: ConvGeometry) -> np.ndarray:
        return input_grad_from_rows(dy, w, input_shape, geometry, self.layout)

    def weight_grad_on_rows(self, colsr: np.ndarray, dy: np.ndarray, x: np.ndarray, weight_shape: tuple[int, ...],
                            geometry: ConvGeometry) -> np.ndarray:
        """dW from the patches and dY's OH rows (``output_rows(gy, 0, .)``, or the middle of a padded one)."""
        return weight_grad_from_rows(colsr, dy, weight_shape, geometry.stride[0])

    # -- the algorithm's interface ------------------------------------------------------------------

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geometry: ConvGeometry,
                keep_patches: bool) -> tuple[np.ndarray, Any]:
        o, _, kh, kw = w.shape
        n, (oh, ow) = x.shape[0], output_size(x.shape[2:], (kh, kw), geometry)
        colsr = self.patches(x, (kh, kw), geometry)
        width = self.width(x.shape, (kh, kw), geometry)
        product = row_product(w, colsr, oh, geometry.stride[0]).reshape(self.layout.shape(oh, o, n, width))
        y = self.layout.from_rows(self.layout.columns(product, slice(0, ow)), np.empty((n, o, oh, ow), x.dtype), b)
        return y, (colsr if keep_patches else None)

    def input_grad(self, gy: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...], geometry: ConvGeometry,
                   dy: np.ndarray | None = None) -> np.ndarray:
        """On dY's rows where the stride along the rows is 1 (``dy``: ``output_rows(gy, KH-1, .)``), else the
        reference's."""
        if geometry.stride[0] != 1:
            return IM2COL.input_grad(gy, w, input_shape, geometry)
        if dy is None:
            dy = self.output_rows(gy, w.shape[2] - 1, self.width(input_shape, w.shape[2:], geometry))
        return self.input_grad_on_rows(dy, w, input_shape, geometry)

    def weight_grad(self, x: np.ndarray, gy: np.ndarray, weight_shape: tuple[int, ...], geometry: ConvGeometry,
                    patches: Any = None, dy: np.ndarray | None = None) -> np.ndarray:
        """From the kept row patches (or ``patches(x)``) and dY (OH, O, ., .) (``output_rows(gy, 0, .)``)."""
        colsr = self.patches(x, weight_shape[2:], geometry) if patches is None else patches
        dy = self.output_rows(gy, 0, self.width(x.shape, weight_shape[2:], geometry)) if dy is None else dy
        return self.weight_grad_on_rows(colsr, dy, x, weight_shape, geometry)

    def gradients(self, gy: np.ndarray, x: np.ndarray, w: np.ndarray, geometry: ConvGeometry, patches: Any,
                  needs: tuple) -> tuple:
        """(dx, dW, db), sharing one layout of dY: (OH + 2(KH-1), O, ., .) when the input gradient is on rows."""
        pad = w.shape[2] - 1 if needs[0] and geometry.stride[0] == 1 else 0
        dy = self.output_rows(gy, pad, self.width(x.shape, w.shape[2:], geometry))
        oh = gy.shape[2]
        gx = self.input_grad(gy, w, x.shape, geometry, dy) if needs[0] else None
        gw = self.weight_grad(x, gy, w.shape, geometry, patches, dy[pad:pad + oh]) if needs[1] else None
        gb = dy.sum((0, 2, 3)) if needs[2] else None
        return gx, gw, gb


# -- "whole-rows": row windows over every column of the padded rows ---------------------------------

def whole_row_patches(x: np.ndarray, kernel: tuple[int, ...], geometry: ConvGeometry) -> np.ndarray:
    """colsW (Hp, C, KW, N, Wp), colsW[r, c, q, n, j] = xpad[n, c, r, j + q] for every column j < Wp of the
    padded rows (stride and dilation 1 along W): tap q's patches are the padded rows (H, C, N, W layout)
    shifted by q, one copy of whole rows. Columns j >= OW read past a sample's row, into the next one's
    (or the zeros after the array): no output uses them."""
    kw = kernel[1]
    padded = WIDTH_INNER.padded(x, geometry, spare=kw - 1)
    hp, c, n, wp = padded.shape
    row, size = n * wp, padded.itemsize
    view = np.lib.stride_tricks.as_strided(padded, (hp, c, kw, row), (c * row * size, row * size, size, size),
                                           writeable=False)
    return np.ascontiguousarray(view).reshape(hp, c, kw, n, wp)


def whole_row_outputs(gy: np.ndarray, pad: int, width: int) -> np.ndarray:
    """dY (N, O, OH, OW) as (OH + 2*pad, O, N, ``width``): ``pad`` zero rows above and below, zero columns
    from OW on."""
    n, o, oh, ow = gy.shape
    out = np.empty((oh + 2 * pad, o, n, width), gy.dtype)
    if pad:
        out[:pad], out[pad + oh:] = 0, 0
    out[pad:pad + oh, :, :, ow:] = 0
    WIDTH_INNER.to_rows(gy, out[pad:pad + oh, :, :, :ow])
    return out


def input_grad_from_whole_rows(dy: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...],
                               geometry: ConvGeometry) -> np.ndarray:
    """dx from dY (OH + 2(KH-1), O, N, Wp) (``whole_row_outputs``; stride 1): the product of
    ``input_grad_from_rows`` over whole rows, dcolsW (Hp, C, KW, N*Wp), then its kernel columns added
    back as shifts of whole rows, xpad[r, c, m] = sum_q dcolsW[r, c, q, m - q] (m = n*Wp + column). A shift
    carries the last q columns of a sample into the next one's first: those are columns j >= OW of
    dcolsW, products of dY's zero columns, so they add 0 (W finite: ``WholeRowWindows`` checks)."""
    c, kw = w.shape[1], w.shape[3]
    n, _, h, wd = input_shape
    (pt, pb), (pl, pr) = geometry.padding
    hp, wp = h + pt + pb, wd + pl + pr
    dcols = _row_gradient_product(dy, w, hp).reshape(hp, c, kw, n * wp)
    summed = np.array(dcols[:, :, 0])
    for q in range(1, kw):
        summed[:, :, q:] += dcols[:, :, q, :n * wp - q]
    rows = summed.reshape(hp, c, n, wp)[pt:pt + h, :, :, pl:pl + wd]
    return WIDTH_INNER.from_rows(rows, np.empty(input_shape, dy.dtype))


class WholeRowWindows(RowWindows):
    """The "whole-rows" algorithm: the row windows, width innermost, with stride and dilation 1 along W,
    their products over all Wp columns of each padded row instead of the OW output columns. The patches and
    the input gradient's column additions then move whole rows (``whole_row_patches``,
    ``input_grad_from_whole_rows``) for products (Wp - OW)/OW wider; the columns past OW are never read
    into an output. Where the weight gradient comes out inf or NaN, it is recomputed as "wide-rows" does (an inf
    read past OW times dY's zero columns there would have added NaN); the input gradient's columns past OW
    are products of dY's zero columns and a finite weight (see ``input_grad_on_rows``), zeros."""

    def __init__(self) -> None:
        super().__init__("whole-rows", WIDTH_INNER)

    @staticmethod
    def applies(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geometry: ConvGeometry) -> bool:
        return (RowWindows.applies(x_shape, w_shape, geometry) and geometry.stride[1] == 1
                and geometry.dilation[1] == 1)

    def width(self, x_shape: tuple[int, ...], kernel: tuple[int, ...], geometry: ConvGeometry) -> int:
        """Wp, the padded width."""
        return x_shape[3] + sum(geometry.padding[1])

    def patches(self, x: np.ndarray, kernel: tuple[int, ...], geometry: ConvGeometry) -> np.ndarray:
        return whole_row_patches(x, kernel, geometry)

    def output_rows(self, gy: np.ndarray, pad: int, width: int) -> np.ndarray:
        return whole_row_outputs(gy, pad, width)

    def _input_grad_on_rows(self, dy: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...],
                            geometry: ConvGeometry) -> np.ndarray:
        return input_grad_from_whole_rows(dy, w, input_shape, geometry)

    def weight_grad_on_rows(self, colsr: np.ndarray, dy: np.ndarray, x: np.ndarray, weight_shape: tuple[int, ...],
                            geometry: ConvGeometry) -> np.ndarray:
        grad = weight_grad_from_rows(colsr, dy, weight_shape, geometry.stride[0])
        if np.isfinite(grad).all():  # (a non-finite value in a column past OW would have made NaN)
            return grad
        ow = dy.shape[3] - weight_shape[3] + 1  # dY's output columns, as "wide-rows" lays them out
        return weight_grad_from_rows(row_patches(x, weight_shape[2:], geometry, WIDTH_INNER),
                                     np.ascontiguousarray(dy[..., :ow]), weight_shape, geometry.stride[0])


ROWS, WIDE_ROWS = RowWindows("rows", BATCH_INNER), RowWindows("wide-rows", WIDTH_INNER)
WHOLE_ROWS = WholeRowWindows()


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

ALGORITHMS: dict[str, Any] = {"im2col": IM2COL, "rows": ROWS, "wide-rows": WIDE_ROWS, "whole-rows": WHOLE_ROWS,
                              "samples": SAMPLES}

# Patch rows (C/g*KH*KW) up to which "samples" beats the row windows at any batch: the first layers, whose few
# input channels make the row windows' products short while their copies of x, y and dY stay as large.
SAMPLES_MAX_PATCH = 32
# Output columns (OW) from which the row windows keep each row's pixels innermost ("wide-rows"): from there
# on its cheaper layout copies outweigh its shorter inner copies.
WIDE_ROWS_MIN_WIDTH = 20
# Output columns from which the row windows over whole rows ("whole-rows", stride and dilation 1 along W) win,
# where their products are at most this much wider (Wp/OW) than the output rows.
WHOLE_ROWS_MIN_WIDTH = 16
WHOLE_ROWS_MAX_WIDENING = 1.15


def choose(x_shape: tuple[int, ...], w_shape: tuple[int, ...], dtype: np.dtype, geometry: ConvGeometry) -> Any:
    """The algorithm for a convolution of these shapes, dtype and geometry: row windows where they apply to
    a batch of more than one sample with more than ``SAMPLES_MAX_PATCH`` patch rows ("whole-rows" for
    outputs at least ``WHOLE_ROWS_MIN_WIDTH`` columns wide and padded rows at most ``WHOLE_ROWS_MAX_WIDENING``
    times as wide, where it applies; else "wide-rows" from ``WIDE_ROWS_MIN_WIDTH`` columns, else "rows"),
    otherwise "samples"."""
    patch = w_shape[1] * w_shape[2] * w_shape[3]
    if x_shape[0] > 1 and patch > SAMPLES_MAX_PATCH and RowWindows.applies(x_shape, w_shape, geometry):
        width = output_size(x_shape[2:], w_shape[2:], geometry)[1]
        whole = WHOLE_ROWS.width(x_shape, w_shape[2:], geometry)
        if width >= WHOLE_ROWS_MIN_WIDTH and whole <= WHOLE_ROWS_MAX_WIDENING * width and \
                WHOLE_ROWS.applies(x_shape, w_shape, geometry):
            return WHOLE_ROWS
        return WIDE_ROWS if width >= WIDE_ROWS_MIN_WIDTH else ROWS
    return SAMPLES
