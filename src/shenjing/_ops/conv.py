"""Convolution as im2col + one matrix product, and its two adjoints.

A 2-D convolution (PyTorch's cross-correlation) of x (N, C, H, W) with w (O, C/g, KH, KW) is

    y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * xpad[n, c', s_h*i + d_h*p, s_w*j + d_w*q]

where c' runs over the channels of o's group. ``im2col`` copies the input pixels that each kernel
offset (p, q) sees into one row block of a patch matrix, channel first and batch last::

    cols[c, p, q, i, j, n] = xpad[n, c, s_h*i + d_h*p, s_w*j + d_w*q]     shape (C*KH*KW, OH*OW*N)

so that the convolution is one matrix product per call, W (O, C*KH*KW) @ cols -> (O, OH*OW*N), with
``groups`` as a batch of g products. Its gradients are two more products:

    dW^T = cols @ dY^T                      (the weight gradient, shape (C/g*KH*KW, O) per group)
    dcols = W^T @ dY, dx = col2im(dcols)    (the input gradient: the patches added back in place)

where dY is the upstream gradient laid out like the product, (O, OH*OW*N).

Why batch last: the input is copied once into a zero-bordered (C, Hp, Wp, N) buffer, and the patch
matrix is then one copy of a strided view of it whose contiguous runs are OW*N long (for stride 1),
instead of OW long; ``col2im`` (the adjoint: KH*KW slice additions, never a scatter) adds runs just
as long. The layout changes (N, C, H, W) <-> (C, H, W, N) are one transposed copy of the input at
the start and of the output at the end. Measured on LeNet-5's two convolutions (batch 64) this is
1.4-2x faster than patches laid out (C*KH*KW, N*OH*OW), whose runs are only OW long.
``im2col_reference`` / ``col2im_reference`` state the same maps as one gather and one ``np.add.at``:
the tests check the fast ones against them.

The large arrays (patches, products, outputs, gradients) come from ``shenjing._workspace``, which
hands the same memory out again once nothing refers to it, so a training step does not page-fault
its ~10 MB of work arrays in again each time.

A training step (patches kept for the weight gradient; one group, dilation 1 along the rows) does not
copy the full patch matrix: it keeps only the patches of the kernel's columns over every padded row,
row first (``row_patches``, KH/s_h times smaller), in which im2col's patch matrix of one output row is
a contiguous block (``row_windows``); the convolution and both gradients are then one batched product
over those overlapping blocks each (``use_row_windows`` gives the formulas and measurements). Where the
layer has few output channels, the forward product and the weight gradient take R output rows per
product with a banded weight (``rows_per_product``, ``row_product``), and the input gradient leaves
out the zero rows of dY that its border windows reach into (``BORDER_MIN_WIDTH``).
``col2im`` adds the kernel's columns and then its rows (KW + KH slice additions, fewer calls at small
batches). Copies between the (N, ...) and (..., N) layouts go in blocks of samples where a sample is a
multiple of 2 KiB long (cache-set aliasing, see ``ALIASING_STRIDE``).

Every buffer has the input's dtype, so float32 stays float32 end to end. ``Unfold`` / ``Fold``
expose im2col / col2im in PyTorch's (N, C*KH*KW, L) layout.

The three ops ``Conv2d``, ``ConvInputGrad`` and ``ConvWeightGrad`` are each bilinear and each is the
others' backward, so convolution has gradients of every order. 1-D convolution is the 2-D one with
H = 1 (see ``shenjing.nn.functional.conv1d``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from shenjing._workspace import take
from shenjing.autograd.node import Op, backward_op

__all__: list[str] = []  # internal: the public functions are in shenjing.nn.functional


class ConvGeometry(NamedTuple):
    """Everything about a 2-D convolution except its operands: per axis (H, W) stride, padding
    (before, after), dilation; and the number of groups."""

    stride: tuple[int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]
    dilation: tuple[int, int]
    groups: int = 1


def conv_output_size(n: int, k: int, stride: int, padding: tuple[int, int], dilation: int) -> int:
    """Output length along one axis: floor((n + p_before + p_after - d*(k-1) - 1) / s) + 1."""
    return (n + padding[0] + padding[1] - dilation * (k - 1) - 1) // stride + 1


def kernel_windows(kernel: tuple[int, int], out: tuple[int, int], stride: tuple[int, int],
                   dilation: tuple[int, int]):
    """For each kernel offset (p, q): the strided slices (rows, columns) of the padded input that it
    touches, one pixel per output position: rows p*d_h, p*d_h + s_h, ..., p*d_h + s_h*(OH-1)."""
    (sh, sw), (dh, dw) = stride, dilation
    (kh, kw), (oh, ow) = kernel, out
    for p in range(kh):
        rows = slice(p * dh, p * dh + sh * (oh - 1) + 1, sh)
        for q in range(kw):
            yield p, q, rows, slice(q * dw, q * dw + sw * (ow - 1) + 1, sw)


def output_size(input_hw: tuple[int, ...], kernel: tuple[int, ...], geometry: ConvGeometry) -> tuple[int, int]:
    """(OH, OW) of a convolution of an (H, W) image."""
    (sh, sw), (ph, pw), (dh, dw) = geometry.stride, geometry.padding, geometry.dilation
    return (conv_output_size(input_hw[0], kernel[0], sh, ph, dh), conv_output_size(input_hw[1], kernel[1], sw, pw, dw))


def _padded_batch_last(x: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """x (N, C, H, W) copied into a zero-bordered work buffer laid out (C, Hp, Wp, N)."""
    n, c, h, w = x.shape
    (pt, pb), (pl, pr) = geometry.padding
    padded = take("conv.padded", (c, h + pt + pb, w + pl + pr, n), x.dtype)
    if pt or pb or pl or pr:
        padded[:, :pt], padded[:, pt + h:], padded[:, :, :pl], padded[:, :, pl + w:] = 0, 0, 0, 0
    _batch_last_copy(padded[:, pt:pt + h, pl:pl + w], x)
    return padded


# Copies between the (N, ...) and (..., N) layouts walk one layout with a stride of one sample. When that
# stride is a multiple of 2 KiB, consecutive accesses fall into the same few cache sets and evict each
# other: copying CourseCNN's input (64, 3, 32, 32) (12 KiB a sample) to batch last took 0.63 ms, against
# 0.18 ms in blocks of 8 samples (blocks of 4: 0.28, of 16: 0.26); (64, 16, 16, 16): 0.84 -> 0.23 ms,
# (64, 3, 16, 32) (6 KiB): 0.22 -> 0.12, (64, 1, 16, 32) (2 KiB): 0.074 -> 0.051; _batch_first the other
# way, (64, 3, 32, 32): 0.93 -> 0.36 ms. For other strides the one copy is as fast or faster (LeNet's
# (64, 1, 28, 28): 0.019 ms, in blocks 0.044; 1 KiB (64, 1, 8, 32): 0.016, in blocks 0.019), so blocks
# are used only for multiples of 2 KiB.
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


def cols_shape(x_shape: tuple[int, ...], kernel: tuple[int, ...], geometry: ConvGeometry) -> tuple[int, ...]:
    """The shape (C, KH, KW, OH, OW, N) of ``im2col``'s patch matrix for an input of ``x_shape``."""
    return (x_shape[1],) + tuple(kernel) + output_size(x_shape[2:], kernel, geometry) + (x_shape[0],)


def im2col(x: np.ndarray, kernel: tuple[int, int], geometry: ConvGeometry, out: np.ndarray | None = None,
           ) -> np.ndarray:
    """Patch matrix of x (N, C, H, W), shape (C, KH, KW, OH, OW, N): ``reshape(C*KH*KW, -1)`` it.

    Written into ``out`` when given (an array of ``cols_shape``). The patches are one strided view
    of the padded input, cols[c, p, q, i, j, n] = padded[c, s_h*i + d_h*p, s_w*j + d_w*q, n], copied
    in one call (the same copies as one slice per kernel offset, with less overhead)."""
    shape = cols_shape(x.shape, kernel, geometry)
    cols = np.empty(shape, dtype=x.dtype) if out is None else out
    np.copyto(cols, _patches(_padded_batch_last(x, geometry), shape, geometry))
    return cols


def _patches(padded: np.ndarray, shape: tuple[int, ...], geometry: ConvGeometry) -> np.ndarray:
    """The read-only strided view (C, KH, KW, OH, OW, N) of the padded input that ``im2col`` copies."""
    (sh, sw), (dh, dw) = geometry.stride, geometry.dilation
    s_c, s_h, s_w, s_n = padded.strides
    return np.ndarray(shape, padded.dtype, padded, 0, (s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w, s_n))


def _kernel_rows(kh: int, oh: int, geometry: ConvGeometry) -> list[slice]:
    """For each kernel row p, the padded rows s_h*i + d_h*p (i < OH) that it meets."""
    sh, dh = geometry.stride[0], geometry.dilation[0]
    return [slice(dh * p, dh * p + sh * (oh - 1) + 1, sh) for p in range(kh)]


def col2im(cols: np.ndarray, input_shape: tuple[int, ...], geometry: ConvGeometry, out: np.ndarray | None = None,
           ) -> np.ndarray:
    """The adjoint of ``im2col``: each patch entry is added back to the pixel it was copied from.
    Written into ``out`` (N, C, H, W) when given.

    In two passes, the kernel's columns and then its rows (KW + KH slice additions instead of KH*KW)::

        rows[c, p, i, s_w*j + d_w*q, n] += cols[c, p, q, i, j, n]    for each q   (rows: (C, KH, OH, Wp, N))
        xpad[c, s_h*i + d_h*p, :, n] += rows[c, p, i, :, n]          for each p

    The additions are short at a small batch (runs of OW*N), where each costs its call: LeNet's conv2
    (dcols (6, 5, 5, 10, 10, N)) 120 -> 79 us at N = 1, 149 -> 114 at N = 4, 229 -> 205 at N = 16, and
    547 us either way at N = 64. One kernel row adds its columns straight into the image."""
    c, kh, kw, oh, ow, n = cols.shape
    h, w = input_shape[2:]
    (pt, pb), (pl, pr) = geometry.padding
    padded = take("conv.col2im", (c, h + pt + pb, w + pl + pr, n), cols.dtype)
    padded.fill(0)
    kernel_rows = _kernel_rows(kh, oh, geometry)
    if kh == 1:
        rows = padded[:, None, kernel_rows[0]]  # (C, 1, OH, Wp, N)
    else:
        rows = take("conv.col2im_rows", (c, kh, oh) + padded.shape[2:], cols.dtype)
        rows.fill(0)
    sw, dw = geometry.stride[1], geometry.dilation[1]
    for q in range(kw):
        rows[:, :, :, dw * q:dw * q + sw * (ow - 1) + 1:sw] += cols[:, :, q]
    if kh > 1:
        for p, kernel_row in enumerate(kernel_rows):
            padded[:, kernel_row] += rows[:, p]
    del rows
    return _batch_first(padded[:, pt:pt + h, pl:pl + w], np.empty((n, c, h, w), cols.dtype) if out is None else out)


def _reference_indices(kernel: tuple[int, int], out: tuple[int, int], geometry: ConvGeometry) -> tuple:
    """Index arrays (KH, 1, OH, 1) and (1, KW, 1, OW): padded row s_h*i + d_h*p and column s_w*j + d_w*q."""
    (sh, sw), (dh, dw) = geometry.stride, geometry.dilation
    rows = dh * np.arange(kernel[0])[:, None] + sh * np.arange(out[0])[None, :]
    columns = dw * np.arange(kernel[1])[:, None] + sw * np.arange(out[1])[None, :]
    return rows[:, None, :, None], columns[None, :, None, :]


def im2col_reference(x: np.ndarray, kernel: tuple[int, int], geometry: ConvGeometry) -> np.ndarray:
    """``im2col`` as one gather, straight from the definition (the tests' reference; slow)."""
    (pt, pb), (pl, pr) = geometry.padding
    xpad = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    rows, columns = _reference_indices(kernel, output_size(x.shape[2:], kernel, geometry), geometry)
    return xpad[:, :, rows, columns].transpose(1, 2, 3, 4, 5, 0)  # (N, C, KH, KW, OH, OW) -> batch last


def col2im_reference(cols: np.ndarray, input_shape: tuple[int, ...], geometry: ConvGeometry) -> np.ndarray:
    """``col2im`` as one ``np.add.at`` through the same indices (the tests' reference; slow)."""
    n, c, h, w = input_shape
    (pt, pb), (pl, pr) = geometry.padding
    padded = np.zeros((n, c, h + pt + pb, w + pl + pr), dtype=cols.dtype)
    rows, columns = _reference_indices(cols.shape[1:3], cols.shape[3:5], geometry)
    np.add.at(padded, (slice(None), slice(None), rows, columns), cols.transpose(5, 0, 1, 2, 3, 4))
    return padded[:, :, pt:pt + h, pl:pl + w]


def use_row_windows(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geometry: ConvGeometry) -> bool:
    """Whether a training step runs on the row patches (``row_patches``, ``Conv2d._forward_row_windows``,
    ``weight_grad_from_rows``, ``input_grad_from_rows``) instead of im2col's patch matrix.

    Output row i of the convolution needs the padded rows s_h*i .. s_h*i + KH-1 (dilation 1). With the
    patches of the kernel's columns laid out row first, colsR (Hp, C, KW, OW*N), those rows are one
    contiguous block, B_i (KH*C*KW, OW*N): im2col's patch matrix for output row i, as a view. So the
    convolution is OH products W (O, KH*C*KW) @ B_i, one batched ``matmul`` over a view whose blocks
    overlap, and colsR is KH/s_h times smaller than the full patches: it is copied once and each block
    is read while still in cache from the previous output row. Only for one group and dilation 1 along
    the rows (else the block is not one stride), and a non-empty batch.

    Measured (batch 64, one thread, us: forward; weight gradient; input gradient): CourseCNN's conv1
    (3 -> 6 5x5 on 32x32; before on kernel-column patches Z = W' @ colsW summed as shifted rows, a path
    this one replaced) 2590 -> 1817; 2439 -> 1755; -. LeNet's and CourseCNN's conv2 (6 -> 16 5x5 on
    14x14, before im2col) 753 -> 606; 578 -> 471; 1152 -> 892. LeNet's conv1 (1 -> 6 5x5, padding 2)
    916 -> 711; 725 -> 637; -. Training steps (one thread): CourseCNN batch 64 10.6 -> 8.3 ms, LeNet-5
    batch 64 8.0 -> 6.6 ms; at batch 1 (products only OW*N = 10..28 wide) LeNet-5 1.20 -> 1.19 ms and
    CourseCNN 1.04 -> 0.99 ms, so no lower bound on the width."""
    return geometry.groups == 1 and geometry.dilation[0] == 1 and x_shape[0] > 0


def row_patches(x: np.ndarray, kernel: tuple[int, int], geometry: ConvGeometry) -> np.ndarray:
    """The patches of the kernel's columns, over every padded row, row first: shape (Hp, C, KW, OW, N),

        colsR[r, c, q, j, n] = xpad[n, c, r, s_w*j + d_w*q]

    (a work array). Output row i's patches are a block of it: cols[c, p, q, i, j, n] = colsR[s_h*i + p, c, q, j, n]."""
    padded = _padded_batch_last(x, geometry)
    c, hp, _, n = padded.shape
    ow = output_size(x.shape[2:], kernel, geometry)[1]
    (sw, dw), (s_c, s_h, s_w, s_n) = (geometry.stride[1], geometry.dilation[1]), padded.strides
    view = np.ndarray((hp, c, kernel[1], ow, n), padded.dtype, padded, 0, (s_h, s_c, dw * s_w, sw * s_w, s_n))
    out = take("conv.colsR", view.shape, x.dtype)
    np.copyto(out, view)
    return out


def row_windows(colsr: np.ndarray, kh: int, oh: int, geometry: ConvGeometry) -> np.ndarray:
    """The read-only view (OH, KH*C*KW, OW*N) of colsR whose block i is im2col's patch matrix of
    output row i: B_i[(p, c, q), (j, n)] = colsR[s_h*i + p, c, q, j, n] (dilation 1 along the rows)."""
    return _group_windows(colsr, 0, 1, oh, kh, geometry)


# A product W (O, KH*C*KW) @ B_i with few rows (O = 6 in LeNet-5's and CourseCNN's conv1) runs far
# below OpenBLAS's speed, and its second thread adds little. R consecutive output rows are instead one
# product with R*O rows: the banded weight W_R (R*O, span*C*KW), span = s_h*(R-1) + KH, holds W at
# row block r, shifted by s_h*r kernel rows, and zeros elsewhere, and the window of ``span`` padded rows
# is again one strided block of colsR. The zeros cost span/KH times the multiply-adds; R is the largest
# with R*O <= ROWS_TARGET and span <= SPAN_LIMIT * KH. Measured (batch 64, us, forward + weight
# gradient, one thread / two threads): CourseCNN's conv1 R=1 2994 / 2589, R=2 1857 / 1502, R=4 1939
# / 1150; LeNet-5's conv1 1024 / 1035, 712 / 628, 718 / 500; conv2 (O=16) R=1 896 / 536, R=2 932 / 553.
# Products narrower than ROWS_MIN_WIDTH (OW*N columns) gain nothing (LeNet-5's conv1, forward + weight
# gradient, one thread, us, R=1 / R=4: batch 1 (width 28) 66 / 69, 2 (56) 86 / 89, 4 (112) 138 / 122,
# 8 (224) 234 / 190) and keep R = 1.
ROWS_TARGET = 24
SPAN_LIMIT = 1.6
ROWS_MIN_WIDTH = 96


def rows_per_product(out_channels: int, kh: int, stride_h: int, oh: int, width: int) -> int:
    """R, the output rows that one product of the row-window convolution computes (see ROWS_TARGET), for
    products ``width`` (OW*N) columns wide."""
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


def _group_windows(colsr: np.ndarray, first: int, rows: int, count: int, kh: int,
                   geometry: ConvGeometry) -> np.ndarray:
    """The read-only view (count, span*C*KW, OW*N) of colsR whose block g holds the padded rows that
    output rows first + g*R .. first + g*R + R-1 read: from s_h*(first + g*R), span = s_h*(R-1) + KH."""
    hp, c, kw, ow, n = colsr.shape
    sh, size = geometry.stride[0], colsr.itemsize
    row = c * kw * ow * n * size  # the stride of one padded row
    span = sh * (rows - 1) + kh
    return np.ndarray((count, span * c * kw, ow * n), colsr.dtype, colsr, sh * first * row,
                      (sh * rows * row, ow * n * size, size))


def _banded_weight(w_rows: np.ndarray, rows: int, stride_h: int) -> np.ndarray:
    """W_R (R*O, span*C*KW) from w_rows (O, KH, C*KW): W_R[(r, o), (s_h*r + p, c, q)] = w[o, c, p, q], 0 elsewhere."""
    o, kh, ck = w_rows.shape
    if rows == 1:
        return w_rows.reshape(o, kh * ck)
    band = np.zeros((rows, o, stride_h * (rows - 1) + kh, ck), w_rows.dtype)
    s_r, s_o, s_p, s_c = band.strides
    np.ndarray((rows, o, kh, ck), band.dtype, band, 0, (s_r + stride_h * s_p, s_o, s_p, s_c))[...] = w_rows
    return band.reshape(rows * o, -1)


def product_rows(x: np.ndarray, w_shape: tuple[int, ...], out_hw: tuple[int, int], geometry: ConvGeometry) -> int:
    """R for the forward product of ``row_product``: ``rows_per_product``, or 1 where x holds an inf or
    NaN (its sum is not finite), since the band's zeros times inf would make NaN where no window sees it."""
    rows = rows_per_product(w_shape[0], w_shape[2], geometry.stride[0], out_hw[0], out_hw[1] * x.shape[0])
    return rows if rows == 1 or math.isfinite(np.add.reduce(x, axis=None)) else 1


def row_product(w: np.ndarray, colsr: np.ndarray, oh: int, rows: int, geometry: ConvGeometry,
                out: np.ndarray) -> np.ndarray:
    """The row-window convolution's product, out (OH, O, OW*N) with out[i] = W (O, KH*C*KW) @ B_i
    (``row_windows``), computed ``rows`` (R, ``product_rows``) output rows per product: out[g*R .. g*R+R-1]
    = W_R @ (the window of span padded rows) (``_banded_weight``, ``_group_windows``)."""
    o, c, kh, kw = w.shape
    w_rows = w.transpose(0, 2, 1, 3).reshape(o, kh, c * kw)  # W[o, p, (c, q)]
    for first, r, count in _row_groups(oh, rows):
        np.matmul(_banded_weight(w_rows, r, geometry.stride[0]), _group_windows(colsr, first, r, count, kh, geometry),
                  out=out[first:first + r * count].reshape(count, r * o, -1))
    return out


def input_grad_on_rows(geometry: ConvGeometry) -> bool:
    """Whether ``input_grad_from_rows`` applies: stride and dilation 1 along the rows, one group."""
    return geometry.stride[0] == 1 and geometry.dilation[0] == 1 and geometry.groups == 1


def row_outputs(gy: np.ndarray, pad: int, name: str = "conv.rows0") -> np.ndarray:
    """dY (N, O, OH, OW) laid out (OH + 2*pad, O, OW, N) with ``pad`` zero rows above and below (a work
    array): the layout of the row-window products."""
    n, o, oh, ow = gy.shape
    out = take(name, (oh + 2 * pad, o, ow, n), gy.dtype)
    if pad:
        out[:pad], out[pad + oh:] = 0, 0
    _batch_last_copy(out[pad:pad + oh].transpose(1, 0, 2, 3), gy)
    return out


def weight_grad_from_rows(colsr: np.ndarray, dy: np.ndarray, weight_shape: tuple[int, ...],
                          geometry: ConvGeometry) -> np.ndarray:
    """dW from the row patches colsR and dY laid out (OH, O, OW, N): one product per output row,

        dW[o, c, p, q] = sum_i (B_i @ dY_i^T)[(p, c, q), o]      B_i (KH*C*KW, OW*N), dY_i (O, OW*N)

    (``row_windows``), R output rows per product as in ``row_product``: the window of span padded rows
    times dY of those R rows, (span*C*KW, R*O), summed over the products; block (s_h*r + p, r) of it
    is row r's share of dW[:, :, p] (the other blocks pair rows with taps that don't meet: unused)."""
    o, c, kh, kw = weight_shape
    oh, sh = dy.shape[0], geometry.stride[0]
    dy = dy.reshape(oh, o, -1)
    grad = None  # dW[p, (c, q), o]
    for first, r, count in _row_groups(oh, rows_per_product(o, kh, sh, oh, dy.shape[2])):
        windows = _group_windows(colsr, first, r, count, kh, geometry)
        products = np.matmul(windows, dy[first:first + r * count].reshape(count, r * o, -1).transpose(0, 2, 1))
        summed = np.add.reduce(products, axis=0).reshape(-1, c * kw, r, o)  # (span, C*KW, R, O)
        if r > 1:  # the blocks [s_h*r + p, :, r, :] as (R, KH, C*KW, O), summed over r
            s_p, s_c, s_r, s_o = summed.strides
            summed = np.ndarray((r, kh, c * kw, o), summed.dtype, summed, 0, (sh * s_p + s_r, s_p, s_c, s_o)).sum(0)
        grad = summed.reshape(kh, c * kw, o) if grad is None else np.add(grad, summed.reshape(grad.shape), out=grad)
    if grad is None:  # no output rows
        grad = np.zeros((kh, c * kw, o), colsr.dtype)
    return np.ascontiguousarray(grad.reshape(kh, c, kw, o).transpose(3, 1, 0, 2))


# Products narrower than this (OW*N columns: small batches) take all Hp windows in one batched product,
# zero blocks included; wider ones skip the zero rows of dY that the first and last KH-1 windows
# reach into (29% of the multiply-adds for a 5x5 kernel on 14x14), at the price of 2(KH-1) more calls.
# Measured on LeNet-5's and CourseCNN's conv2, whole input gradient (two threads, us, all windows in one
# product -> border rows apart): batch 64 (width 640) 691 -> 608 (one thread 863 -> 727), batch 32
# 382 -> 359, 16 (width 160) 247 -> 232, 8 (width 80) 147 -> 152, 1 59 -> 78.
BORDER_MIN_WIDTH = 128


def input_grad_from_rows(dy: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...], geometry: ConvGeometry,
                         out: np.ndarray) -> np.ndarray:
    """dx from dY laid out (OH + 2(KH-1), O, OW, N) with KH-1 zero rows above and below (``row_outputs``),
    for stride and dilation 1 along the rows (``input_grad_on_rows``). The gradient of the row patches,

        dcolsR[r, (c, q)] = sum_{p, o} w[o, c, p, q] dY[o, r - p] = Wf (C*KW, KH*O) @ D_r (KH*O, OW*N)

    with Wf[(c, q), (p', o)] = w[o, c, KH-1-p', q] and D_r the rows r .. r+KH-1 of the padded dY (one
    block, as in ``row_windows``), one batched product over the Hp padded rows; then the kernel's columns
    are added back in place (KW slice additions): xpad[c, r, s_w*j + d_w*q, n] += dcolsR[r, c, q, j, n]."""
    o, c, kh, kw = w.shape
    n, _, h, wd = input_shape
    (pt, pb), (pl, pr) = geometry.padding
    hp, wp, ow = h + pt + pb, wd + pl + pr, dy.shape[2]
    oh = dy.shape[0] - 2 * (kh - 1)
    size = dy.itemsize
    windows = np.ndarray((hp, kh * o, ow * n), dy.dtype, dy, 0, (o * ow * n * size, ow * n * size, size))
    w_flip = w[:, :, ::-1].transpose(1, 3, 2, 0).reshape(c * kw, kh * o)
    dcolsr = take("conv.dcols", (hp, c * kw, ow * n), dy.dtype)
    if ow * n < BORDER_MIN_WIDTH:
        np.matmul(w_flip, windows, out=dcolsr)
    else:  # the first and last KH-1 windows reach into dY's zero rows: their products skip those blocks
        full = range(kh - 1, oh)  # the windows D_r (r = KH-1 .. OH-1) within dY's rows
        np.matmul(w_flip, windows[full.start:full.stop], out=dcolsr[full.start:full.stop])
        for r in [r for r in range(hp) if r not in full]:  # (Hp = OH + KH-1: each sees 1+ rows of dY)
            first, stop = o * max(0, kh - 1 - r), o * min(kh, kh - 1 + oh - r)  # the blocks of dY rows
            np.matmul(w_flip[:, first:stop], windows[r, first:stop], out=dcolsr[r])
    dcolsr = dcolsr.reshape(hp, c, kw, ow, n)
    padded = take("conv.col2im", (c, hp, wp, n), dy.dtype)
    padded.fill(0)
    sw, dw = geometry.stride[1], geometry.dilation[1]
    for q in range(kw):
        padded[:, :, dw * q:dw * q + sw * (ow - 1) + 1:sw] += dcolsr[:, :, q].transpose(1, 0, 2, 3)
    del dcolsr
    return _batch_first(padded[:, pt:pt + h, pl:pl + wd], out)


def _grouped(matrix: np.ndarray, groups: int) -> np.ndarray:
    """(rows, cols) -> (groups, rows/groups, cols): one block per group."""
    return matrix.reshape(groups, matrix.shape[0] // groups, matrix.shape[1])


def output_rows(gy: np.ndarray, name: str = "conv.rows") -> np.ndarray:
    """dY (N, O, OH, OW) laid out like the forward product: the matrix (O, OH*OW*N) (a work array)."""
    n, o, oh, ow = gy.shape
    return _batch_last_copy(take(name, (o, oh, ow, n), gy.dtype), gy).reshape(o, -1)


def _batch_first(y: np.ndarray, out: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """out[n, c, i, j] = y[c, i, j, n] (+ bias[c]): batch-last (C, H, W, N) data, or the product
    (C, H*W*N), written into ``out`` (N, C, H, W) in one pass.

    Written as a ufunc into the transposed ``out``, NumPy walks the source in memory order and
    scatters the writes: 2-3x faster than ``np.copyto(out, y.transpose(3, 0, 1, 2))`` at LeNet's sizes.
    """
    c = out.shape[1]
    y = y.reshape(c, *out.shape[2:], out.shape[0])
    bias = 0 if bias is None else bias.reshape(c, 1, 1, 1)
    for part in _aliasing_blocks(out.shape[0], out.strides[0]):  # (see _batch_last_copy)
        np.add(y[..., part], bias, out=out[part].transpose(1, 2, 3, 0))
    return out


# Where the patches are not kept for the weight gradient (no_grad, or a frozen weight), the batch runs
# in slices whose patch matrices take about this much memory: copied and multiplied while still in
# cache, and backward (of the input) works on the same slices. LeNet-5 inference at batch 256:
# 10.3 ms a batch in one piece, 8.1 ms in slices of 2 MiB (1 MiB: 8.4, 4 MiB: 9.2). Training keeps
# the patches of the whole batch in one piece: slices measured 5-10% slower there (smaller products).
CHUNK_BYTES = 2 << 20
# The same for the row patches (KH/s_h times smaller than im2col's), whose products gain from wider
# slices: LeNet-5 inference at batch 256 (two threads, us a batch) with slices of 0.5 MiB 6237, 1 MiB
# 5489, 2 MiB 5322, 4 MiB 5238, the whole batch (4.6 MiB) 4934.
ROW_CHUNK_BYTES = 16 << 20


def batch_slices(n: int, sample_bytes: int, chunk_bytes: int | None = None) -> list[slice]:
    """The batch 0..n in nearly equal slices whose patches take at most about ``chunk_bytes``
    (``CHUNK_BYTES`` by default)."""
    chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    count = min(n, max(1, -(-n * sample_bytes // chunk_bytes)))
    if count == 0:  # an empty batch
        return []
    bounds = [n * k // count for k in range(count + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def _sample_bytes(input_shape: tuple[int, ...], kernel: tuple[int, ...], geometry: ConvGeometry,
                  dtype: np.dtype) -> int:
    """Bytes of one sample's patches."""
    return math.prod(cols_shape((1,) + tuple(input_shape[1:]), kernel, geometry)) * np.dtype(dtype).itemsize


def row_window_product(x: np.ndarray, w: np.ndarray, geometry: ConvGeometry) -> tuple[np.ndarray, np.ndarray]:
    """The convolution's product (OH, O, OW*N) on x's row patches (``row_patches``, ``row_product``),
    and the patches (work arrays)."""
    o, c, kh, kw = w.shape
    oh, ow = output_size(x.shape[2:], (kh, kw), geometry)
    colsr = row_patches(x, (kh, kw), geometry)
    product = take("conv.product", (oh, o, ow * x.shape[0]), x.dtype)
    row_product(w, colsr, oh, product_rows(x, w.shape, (oh, ow), geometry), geometry, product)
    return product, colsr


def row_slices(input_shape: tuple[int, ...], kernel: tuple[int, ...], geometry: ConvGeometry,
               dtype: np.dtype) -> list[slice]:
    """The batch in slices whose row patches (``row_patches``) take at most about ``ROW_CHUNK_BYTES``."""
    (pt, pb), _ = geometry.padding
    ow = output_size(input_shape[2:], kernel, geometry)[1]
    sample_bytes = (input_shape[2] + pt + pb) * input_shape[1] * kernel[1] * ow * np.dtype(dtype).itemsize
    return batch_slices(input_shape[0], sample_bytes, ROW_CHUNK_BYTES)


class Conv2d(Op):
    """y = conv2d(x, w) + b, as W @ im2col(x), a slice of the batch at a time."""

    def __init__(self, geometry: ConvGeometry) -> None:
        self.geometry = geometry

    def name(self) -> str:
        return "ConvolutionBackward0"

    def forward(self, x, w, b=None):
        keep_cols = self.needs_input_grad[1]  # the patches are kept for the weight gradient
        kernel, n = w.shape[2:], x.shape[0]
        shape = cols_shape(x.shape, kernel, self.geometry)
        y = take("conv.out", (n, w.shape[0]) + shape[3:5], x.dtype)
        rows_apply = use_row_windows(x.shape, w.shape, self.geometry)
        self.on_rows = keep_cols and rows_apply
        if self.on_rows:
            return self._forward_row_windows(x, w, b, y)
        if rows_apply:  # no patches kept (no_grad, or a frozen weight): row windows, a slice of the batch at a time
            # (for an input gradient, the slices of its backward: that runs on im2col-sized patches)
            self.slices = batch_slices(n, _sample_bytes(x.shape, kernel, self.geometry, x.dtype)) \
                if self.needs_input_grad[0] else row_slices(x.shape, kernel, self.geometry, x.dtype)
            for part in self.slices:
                xs = x[part]
                product, _ = row_window_product(xs, w, self.geometry)
                _batch_first(product.reshape(product.shape[:2] + (y.shape[3], xs.shape[0])).transpose(1, 0, 2, 3),
                             y[part], b)
                del product
            self.save_for_backward(x, w, None)
            return y
        self.slices = [slice(0, n)] if keep_cols else batch_slices(n, _sample_bytes(x.shape, kernel, self.geometry,
                                                                                   x.dtype))
        kept = []
        for k, part in enumerate(self.slices):
            xs = x[part]
            name = f"conv.cols{k}" if keep_cols else "conv.cols"  # kept patches: one array per slice
            cols = im2col(xs, kernel, self.geometry, out=take(name, shape[:-1] + xs.shape[:1], x.dtype))
            _batch_first(self._product(w, cols), y[part], b)
            if keep_cols:
                kept.append(cols)
            del cols  # (under no_grad the next slice reuses the array)
        self.save_for_backward(x, w, kept if keep_cols else None)
        return y

    def _forward_row_windows(self, x, w, b, y):
        """y[:, i] = W (O, KH*C*KW) @ B_i (KH*C*KW, OW*N) for each output row i, where B_i is a window
        of the row patches (``row_patches``, ``row_windows``): batched products, R rows at a time
        (``row_product``), no im2col copy. The product is laid out (OH, O, OW*N) and written to y by
        ``_batch_first``. colsR is kept for the weight gradient (``weight_grad_from_rows``)."""
        product, colsr = row_window_product(x, w, self.geometry)
        self.slices = [slice(0, x.shape[0])]
        self.save_for_backward(x, w, [colsr])  # (in a list: saved as it is, not as a tensor)
        return _batch_first(product.reshape(product.shape[:2] + (y.shape[3], x.shape[0])).transpose(1, 0, 2, 3), y, b)

    def _product(self, w: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """W (O, C/g*KH*KW) @ cols (C*KH*KW, OH*OW*N), a batch of g products: (O, OH*OW*N)."""
        g, o = self.geometry.groups, w.shape[0]
        patches = _grouped(cols.reshape(cols.shape[0] * cols.shape[1] * cols.shape[2], -1), g)
        product = take("conv.product", (g, o // g, patches.shape[2]), cols.dtype)
        return np.matmul(_grouped(w.reshape(o, -1), g), patches, out=product).reshape(o, -1)

    def backward(self, gy):
        x, w, cols = self.saved_tensors
        needs_x, needs_w = self.needs_input_grad[:2]
        needs_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        if self.on_rows:  # dY laid out (OH (+ 2(KH-1) zero rows), O, OW, N), shared by the three gradients
            on_rows = input_grad_on_rows(self.geometry)  # else ConvInputGrad makes its own dY rows
            rows = [row_outputs(gy._data, w.shape[2] - 1 if needs_x and on_rows else 0)]
            gx = backward_op(ConvInputGrad(self.geometry, x.shape, rows if on_rows else None, on_rows=on_rows),
                             gy, w) if needs_x else None
            gw = backward_op(ConvWeightGrad(self.geometry, w.shape, cols, rows, on_rows=True), x, gy) \
                if needs_w else None
            gb = backward_op(ConvBiasGrad(rows, axes=(0, 2, 3)), gy) if needs_b else None
            return gx, gw, gb
        # dY of each slice as a matrix, shared by the three gradients
        rows = [output_rows(gy._data[part], f"conv.rows{k}") for k, part in enumerate(self.slices)]
        gx = backward_op(ConvInputGrad(self.geometry, x.shape, rows, self.slices), gy, w) if needs_x else None
        gw = backward_op(ConvWeightGrad(self.geometry, w.shape, cols, rows, self.slices), x, gy) \
            if needs_w else None
        gb = backward_op(ConvBiasGrad(rows), gy) if needs_b else None
        return gx, gw, gb


class ConvInputGrad(Op):
    """dx = col2im(W^T @ dY): the gradient of conv2d with respect to its input (a transposed conv).

    ``rows`` (dY of each slice of the batch as a matrix) and ``slices`` come from ``Conv2d.backward``;
    otherwise they are made here."""

    def __init__(self, geometry: ConvGeometry, input_shape: tuple[int, ...], rows: list | None = None,
                 slices: list[slice] | None = None, on_rows: bool = False) -> None:
        self.geometry, self.input_shape, self.rows, self.slices = geometry, tuple(input_shape), rows, slices
        self.on_rows = on_rows

    def name(self) -> str:
        return "ConvolutionBackwardBackward0"

    def forward(self, gy, w):
        self.save_for_backward(gy, w)
        if self.on_rows:  # dY (OH + 2(KH-1), O, OW, N) from Conv2d._forward_row_windows' backward
            rows, self.rows = self.rows[0], None
            return input_grad_from_rows(rows, w, self.input_shape, self.geometry,
                                        take("conv.dx", self.input_shape, gy.dtype))
        slices = self.slices or [slice(0, gy.shape[0])]
        rows = self.rows or [output_rows(gy[part]) for part in slices]
        self.rows = None  # only needed once
        g = self.geometry.groups
        o, oh, ow = gy.shape[1:]
        c, kh, kw = self.input_shape[1], w.shape[2], w.shape[3]
        w_t = _grouped(w.reshape(o, -1), g).transpose(0, 2, 1)  # (g, C/g*KH*KW, O/g)
        dx = take("conv.dx", self.input_shape, gy.dtype)
        for part, r in zip(slices, rows):
            dcols = np.matmul(w_t, _grouped(r, g), out=take("conv.dcols", (g, w_t.shape[1], r.shape[1]), gy.dtype))
            n = part.stop - part.start
            col2im(dcols.reshape(c, kh, kw, oh, ow, n), (n,) + self.input_shape[1:], self.geometry, out=dx[part])
            del dcols
        return dx

    def backward(self, ggx):
        # dx is bilinear in (dY, W): d/d(dY) is conv2d(ggx, W), d/dW is the weight gradient of (ggx, dY)
        gy, w = self.saved_tensors
        ggy = Conv2d(self.geometry)(ggx, w) if self.needs_input_grad[0] else None
        gw = ConvWeightGrad(self.geometry, w.shape)(ggx, gy) if self.needs_input_grad[1] else None
        return ggy, gw


class ConvWeightGrad(Op):
    """dW = (cols @ dY^T)^T: the gradient of conv2d with respect to its weight, summed over the slices.

    The product is taken as cols @ dY^T (C/g*KH*KW, O/g) and transposed, which OpenBLAS computes
    faster than dY @ cols^T: the long dimension OH*OW*N is the contracted one either way. ``cols``
    and ``rows`` (one per slice of the batch) come from ``Conv2d``; otherwise they are made here.
    With ``on_rows``, ``cols`` is [colsR], the row patches, and ``rows`` [dY (OH (+ 2 pad), O, OW, N)]
    (``weight_grad_from_rows``).
    """

    def __init__(self, geometry: ConvGeometry, weight_shape: tuple[int, ...], cols=None,
                 rows: list | None = None, slices: list[slice] | None = None, on_rows: bool = False) -> None:
        self.geometry, self.weight_shape = geometry, tuple(weight_shape)
        self.cols, self.rows, self.slices, self.on_rows = cols, rows, slices, on_rows

    def name(self) -> str:
        return "ConvolutionBackwardBackward0"

    def forward(self, x, gy):
        self.save_for_backward(x, gy)
        if self.on_rows:  # [colsR] and dY (OH (+ 2 pad), O, OW, N) of the whole batch (Conv2d._forward_row_windows)
            (colsr,), rows = self.cols, self.rows[0]
            self.cols = self.rows = None  # only needed once
            pad = (rows.shape[0] - gy.shape[2]) // 2
            return weight_grad_from_rows(colsr, rows[pad:pad + gy.shape[2]], self.weight_shape, self.geometry)
        g, kernel = self.geometry.groups, self.weight_shape[2:]
        slices = self.slices or [slice(0, x.shape[0])]
        gw_t = None
        for k, part in enumerate(slices):
            cols = self.cols[k] if self.cols else im2col(x[part], kernel, self.geometry)
            rows = self.rows[k] if self.rows else output_rows(gy[part])
            patches = _grouped(cols.reshape(math.prod(cols.shape[:3]), rows.shape[1]), g)  # (g, C/g*KH*KW, OH*OW*n)
            product = np.matmul(patches, _grouped(rows, g).transpose(0, 2, 1))  # (g, C/g*KH*KW, O/g)
            gw_t = product if gw_t is None else np.add(gw_t, product, out=gw_t)
        self.cols = self.rows = None  # only needed once
        if gw_t is None:  # an empty batch
            gw_t = np.zeros((g, math.prod(self.weight_shape[1:]), self.weight_shape[0] // g), dtype=x.dtype)
        return np.ascontiguousarray(gw_t.transpose(0, 2, 1)).reshape(self.weight_shape)

    def backward(self, ggw):
        x, gy = self.saved_tensors
        gx = ConvInputGrad(self.geometry, x.shape)(gy, ggw) if self.needs_input_grad[0] else None
        ggy = Conv2d(self.geometry)(x, ggw) if self.needs_input_grad[1] else None
        return gx, ggy


class ConvBiasGrad(Op):
    """db[o] = sum of dY[:, o] over the batch and the image: summed from dY's rows (per slice) when given."""

    def __init__(self, rows: list | None = None, axes: int | tuple[int, ...] = 1) -> None:
        self.rows, self.axes = rows, axes  # the axes of ``rows`` summed over: 1 of (O, OH*OW*n) matrices

    def name(self) -> str:
        return "ConvolutionBackwardBackward0"

    def forward(self, gy):
        self.shape = gy.shape
        rows, self.rows = self.rows, None
        return sum(r.sum(self.axes) for r in rows) if rows else gy.sum((0, 2, 3))

    def backward(self, ggb):
        return ggb.reshape(1, -1, 1, 1).expand(self.shape)


class Unfold(Op):
    """im2col in PyTorch's layout: x (N, C, H, W) -> (N, C*KH*KW, OH*OW)."""

    def __init__(self, kernel: tuple[int, int], geometry: ConvGeometry) -> None:
        self.kernel, self.geometry = kernel, geometry

    def name(self) -> str:
        return "Im2ColBackward0"

    def forward(self, x):
        self.input_shape = x.shape
        cols = im2col(x, self.kernel, self.geometry)
        c, kh, kw, oh, ow, n = cols.shape
        return np.ascontiguousarray(cols.reshape(c * kh * kw, oh * ow, n).transpose(2, 0, 1))

    def backward(self, gy):
        return Fold(self.input_shape, self.kernel, self.geometry)(gy)


class Fold(Op):
    """col2im in PyTorch's layout: (N, C*KH*KW, L) -> (N, C, H, W), overlapping entries summed."""

    def __init__(self, output_shape: tuple[int, ...], kernel: tuple[int, int], geometry: ConvGeometry) -> None:
        self.output_shape, self.kernel, self.geometry = tuple(output_shape), kernel, geometry

    def name(self) -> str:
        return "Col2ImBackward0"

    def forward(self, cols):
        n, c, h, w = self.output_shape
        kh, kw = self.kernel
        oh, ow = output_size((h, w), self.kernel, self.geometry)
        blocks = cols.transpose(1, 2, 0).reshape(c, kh, kw, oh, ow, n)
        return col2im(blocks, self.output_shape, self.geometry)

    def backward(self, gy):
        return Unfold(self.kernel, self.geometry)(gy)
