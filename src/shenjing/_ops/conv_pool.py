"""A 2-D convolution fused with a 2x2 / stride-2 max-pool: y = max_pool2d(conv2d(x, w, b), 2).

The convolution's products are laid out batch last (``shenjing._ops.conv``): the training step's
row-window product is (OH, O, OW, N), inference's im2col product (O, OH, OW, n) per slice of the batch.
In that layout the four elements of pooling window (o, i, j) are rows 2i, 2i+1 by columns 2j, 2j+1,
each a contiguous run of N values, so the max (and the argmax, in int8) over the four strided views
``product[a::2, :, b::2]`` are contiguous SIMD passes. ``MaxPool2d`` on the (N, O, OH, OW) output
walks windows whose inner stride is 2 elements instead. Only the pooled result (4x smaller) is then
written out batch first (``_batch_first``), and the convolution's (N, O, OH, OW) output is never made.

Semantics are those of the two ops in a row: the bias is added before pooling (max then sees the same
rounded values), the gradient goes to the first maximum of each window in row-major order, a NaN wins
as in ``_running_max`` (the same tournament is used, and its NaN rule), PyTorch's floor mode drops the
last row / column of an odd-sized output, and float32 stays float32.

Backward scatters the pooled gradient straight into the row layout that the convolution's backward
uses (``row_outputs``: (OH + 2(KH-1), O, OW, N), zeros where a window's element lost) and runs the
convolution's gradient ops (``ConvInputGrad``, ``ConvWeightGrad``, ``ConvBiasGrad``) on it. Under
``create_graph`` it is instead composed from differentiable ops (``MaxPoolScatter`` into the (N, O, OH,
OW) gradient, then the convolution's gradient ops), so higher derivatives work.

Output columns in two phases. For a stride-1 convolution the four outputs of pooling window (i, j),
(2i + r, 2j + f) for r, f in {0, 1}, all read the (KH+1) x (KW+1) block of padded input at (2i, 2j). So
the convolution followed by the pool is a stride-2 convolution with a (KH+1) x (KW+1) kernel and 4*O
outputs, the phase weight W_P[(r, f, o), (a, c, b)] = w[o, c, a - r, b - f] (zero where the tap is out of
the kernel): one product per pooled row i, W_P (4O, (KH+1)*C*(KW+1)) @ (the window of padded rows 2i ..
2i+KH of the phase patches colsP (Hp, C, KW+1, PW, N), colsP[r, c, b, j, n] = xpad[n, c, r, 2j + b]),
whose row blocks (r, f) are the pooling window's four elements, contiguous. ``phases_apply`` says where:
stride and dilation 1, one group and 4*O <= PHASE_MAX_ROWS, i.e. the first layers, whose few output
channels otherwise starve the products (see ``shenjing._ops.conv.ROWS_TARGET``); and an input whose sum
is finite (the zeros of W_P times an inf would make NaN where no window sees it). Against R-row products
(R = 4, span 8) it does 36/25 = 1.44x the multiply-adds instead of 1.6x, copies a patch array 40%
smaller and pools contiguous blocks. Measured (the op's forward + weight and bias gradients, batch 64,
one thread, CPU time, ms): CourseCNN's conv1 3.19 -> 2.74, LeNet-5's conv1 1.64 -> 1.34.

A few samples (a patch matrix of at most ``conv_gather.GATHER_MAX_ELEMENTS`` values, e.g. LeNet-5 at batch
1): the product runs on one gathered patch matrix whose columns are grouped by window element
(``shenjing._ops.conv_gather``), a handful of NumPy calls where the layouts above take 20-30.

Where it applies: the training step on row windows (a weight that needs its gradient, one group,
dilation 1 along the rows) and inference (no input needs a gradient); ``fused_applies`` says which.
Elsewhere the caller runs the two ops. ``shenjing.models`` uses it for LeNet5 and CourseCNN when no
hook watches their layers.

Measured (whole steps, interleaved medians of 12 runs, ms; two ops -> fused): one thread (CPU time)
CourseCNN training batch 64 9.01 -> 8.31, LeNet-5 training batch 64 7.09 -> 6.07, batch 1 1.216 ->
1.198, LeNet-5 inference batch 256 9.77 -> 8.50; default threads (wall time) 8.24 -> 7.32, 6.66 ->
5.56, 1.230 -> 1.209, 8.68 -> 7.33. The 2x2 max and argmax over CourseCNN's conv1 output (batch 64)
take 204 us batch last against 347 us on (N, C, H, W) windows; the bias is added to the product
before pooling (one contiguous pass, ~67 us there) so that ties break as in the two ops.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from shenjing._ops.conv import (
    Conv2d, ConvBiasGrad, ConvGeometry, ConvInputGrad, ConvWeightGrad, _batch_first, _batch_last_copy,
    _group_windows, _sample_bytes, batch_slices, cols_shape, im2col, input_grad_from_rows,
    input_grad_on_rows, output_size, row_patches, row_slices, row_window_product,
    use_row_windows)
from shenjing._ops import conv_gather
from shenjing._ops.conv_gather import gathered_grads, gathered_max
from shenjing._ops.elementwise import PositivePart, rectify
from shenjing._ops.pool import MaxPoolScatter, PoolGeometry, _offsets, _running_max
from shenjing._tensor import Tensor
from shenjing._workspace import take
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op, backward_op

__all__: list[str] = []  # internal

POOL = PoolGeometry((2, 2), (2, 2), (0, 0))
PHASE_MAX_ROWS = 24


def phases_apply(w_shape: tuple[int, ...], geometry: ConvGeometry) -> bool:
    """Whether the product runs by output-column phase (see the module's docstring; the caller also checks
    that the input is finite): stride and dilation 1, one group, 4*O <= PHASE_MAX_ROWS."""
    return (geometry.stride == (1, 1) and geometry.dilation == (1, 1) and geometry.groups == 1
            and 4 * w_shape[0] <= PHASE_MAX_ROWS)


def phase_patches(x: np.ndarray, kernel: tuple[int, int], geometry: ConvGeometry) -> np.ndarray:
    """colsP (Hp, C, KW+1, PW, N), colsP[r, c, b, j, n] = xpad[n, c, r, 2j + b] (a work array): the row
    patches (``row_patches``) of a kernel KW+1 wide at column stride 2."""
    return row_patches(x, (kernel[0], kernel[1] + 1), geometry._replace(stride=(1, 2)))


def _phase_windows(colsp: np.ndarray, ph: int, kh: int, geometry: ConvGeometry) -> np.ndarray:
    """The read-only view (PH, (KH+1)*C*(KW+1), PW*N) of colsP whose block i holds padded rows 2i .. 2i+KH:
    two output rows per block (``_group_windows``, stride 1 along the rows)."""
    return _group_windows(colsp, 0, 2, ph, kh, geometry)


def phase_weight(w: np.ndarray) -> np.ndarray:
    """W_P (4*O, (KH+1)*C*(KW+1)): W_P[(r, f, o), (a, c, b)] = w[o, c, a - r, b - f], zero off the kernel."""
    o, c, kh, kw = w.shape
    phased = np.zeros((2, 2, o, kh + 1, c, kw + 1), w.dtype)
    taps = w.transpose(0, 2, 1, 3)  # (O, KH, C, KW)
    for r in (0, 1):
        for f in (0, 1):
            phased[r, f, :, r:r + kh, :, f:f + kw] = taps
    return phased.reshape(4 * o, -1)


def phase_product(x: np.ndarray, w: np.ndarray, geometry: ConvGeometry) -> tuple[np.ndarray, np.ndarray]:
    """The convolution's output by pooling window, (PH, 4, O, PW*N): [i, 2r + f, o, j*N + n] = conv(x, w)[n, o,
    2i + r, 2j + f] (no bias), as PH products W_P @ window_i; and the phase patches colsP (work arrays)."""
    o, _, kh, kw = w.shape
    oh, ow = output_size(x.shape[2:], (kh, kw), geometry)
    colsp = phase_patches(x, (kh, kw), geometry)
    windows = _phase_windows(colsp, oh // 2, kh, geometry)
    product = take("convpool.phases", (oh // 2, 4 * o, windows.shape[2]), x.dtype)
    np.matmul(phase_weight(w), windows, out=product)
    return product.reshape(oh // 2, 4, o, -1), colsp


def phase_weight_grad(colsp: np.ndarray, dp: np.ndarray, weight_shape: tuple[int, ...],
                      geometry: ConvGeometry) -> np.ndarray:
    """dW from colsP and dP (PH, 4, O, PW*N), the gradient of ``phase_product``'s output: the products
    window_i @ dP_i^T summed over i give dW_P^T ((KH+1)*C*(KW+1), 4O), and dw[o, c, p, q] is the sum over
    the phases (r, f) of its entry ((p + r, c, q + f), (r, f, o))."""
    o, c, kh, kw = weight_shape
    ph = dp.shape[0]
    windows = _phase_windows(colsp, ph, kh, geometry)
    products = np.matmul(windows, dp.reshape(ph, 4 * o, -1).transpose(0, 2, 1))
    g = np.add.reduce(products, axis=0).reshape(kh + 1, c, kw + 1, 2, 2, o)
    grad = g[:kh, :, :kw, 0, 0] + g[:kh, :, 1:, 0, 1]
    grad += g[1:, :, :kw, 1, 0]
    grad += g[1:, :, 1:, 1, 1]  # (KH, C, KW, O)
    return np.ascontiguousarray(grad.transpose(3, 1, 0, 2))


def _shape_only(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A read-only array of ``shape`` that holds one zero (all strides 0): a stand-in whose shape is read
    (``np.ndarray`` directly: ``np.broadcast_to`` costs ~4 us a call)."""
    zero = np.zeros(1, dtype)
    zero.flags.writeable = False
    return np.ndarray(shape, dtype, zero, 0, (0,) * len(shape))


def _finite_sum(x: np.ndarray) -> bool:
    """Whether x holds no inf or NaN, as its sum (an overflow to inf only takes the other path)."""
    return math.isfinite(np.add.reduce(x, axis=None))


class Plan(NamedTuple):
    """What ``ConvMaxPool2d`` does for one configuration (``plan``)."""

    output: tuple[int, int]  # (OH, OW) of the convolution
    trains: bool  # a training step can run fused: on row windows (``use_row_windows``)
    gather_size: float  # of the gathered patch matrix (``conv_gather.gather_size``)


@lru_cache(maxsize=256)
def plan(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geometry: ConvGeometry) -> Plan:
    """The geometry of a fused call, worked out once per configuration (a model asks the same every step)."""
    return Plan(output_size(x_shape[2:], w_shape[2:], geometry), use_row_windows(x_shape, w_shape, geometry),
                conv_gather.gather_size(x_shape, w_shape, geometry))


def fused_applies(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geometry: ConvGeometry,
                  training: bool) -> bool:
    """Whether ``ConvMaxPool2d`` runs this call: a batched input whose convolution output is at least
    2x2; in training (``training``: some input needs a gradient) only on row windows with the weight
    needing its gradient (the caller checks that)."""
    if len(x_shape) != 4 or x_shape[0] == 0:
        return False
    steps = plan(x_shape, w_shape, geometry)
    if steps.output[0] < 2 or steps.output[1] < 2:
        return False
    return not training or steps.trains


def _quarters(a: np.ndarray, ph: int, pw: int) -> list[np.ndarray]:
    """The four elements of every 2x2 window of a (.., H, .., W, ..) array whose H axis is 0 and W
    axis is 2 (batch-last layouts (OH, O, OW, N)), in row-major window order: views (PH, O, PW, N)."""
    return [a[r:2 * ph:2, :, c:2 * pw:2] for r in (0, 1) for c in (0, 1)]


class ConvMaxPool2d(Op):
    """y = max_pool2d(conv2d(x, w, b), 2) on the convolution's batch-last product; with ``relu``,
    y = relu(max_pool2d(conv2d(x, w, b), 2)) (which equals max_pool2d(relu(conv2d(x, w, b)), 2)), the
    rectification in place on the pooled output and the mask gy * (y > 0) first in backward."""

    def __init__(self, geometry: ConvGeometry, relu: bool = False) -> None:
        self.geometry, self.relu = geometry, relu

    def name(self) -> str:
        return "ConvMaxPoolRelu2DBackward0" if self.relu else "ConvMaxPool2DBackward0"

    def forward(self, x, w, b=None):
        y = self._pooled_forward(x, w, b)
        if self.relu:
            rectify(y, out=y)
            if any(self.needs_input_grad):  # (training: the mask for backward)
                self.save_for_backward(*self._saved, y)
        return y

    def _pooled_forward(self, x, w, b):
        o, c, kh, kw = w.shape
        n = x.shape[0]
        steps = plan(x.shape, w.shape, self.geometry)
        oh, ow = steps.output
        ph, pw = oh // 2, ow // 2
        training = any(self.needs_input_grad)
        if training and not (self.needs_input_grad[1] and steps.trains):
            raise RuntimeError("ConvMaxPool2d: training needs the weight's gradient, one group and row "
                               "dilation 1 (run conv2d and max_pool2d instead)")
        self.gathered = steps.gather_size <= conv_gather.GATHER_MAX_ELEMENTS  # (``gather_applies``)
        if self.gathered:  # a few samples: one patch matrix (``shenjing._ops.conv_gather``)
            best, self.won, cols = gathered_max(x, w, b, self.geometry, training)
            if training:
                self.conv_shape = (n, o, oh, ow)
                self.save_for_backward(x, w, [cols])
            return np.ascontiguousarray(best.reshape(o, n, ph, pw).transpose(1, 0, 2, 3))
        y = take("convpool.out", (n, o, ph, pw), x.dtype)
        self.phases = phases_apply(w.shape, self.geometry) and _finite_sum(x)
        if training:
            if self.phases:
                product, cols = phase_product(x, w, self.geometry)  # (PH, 4, O, PW*N)
            else:
                product, cols = row_window_product(x, w, self.geometry)  # (OH, O, OW*N)
            if b is not None:  # (O, 1): along the O axis of either layout
                product += b[:, None]
            if self.phases:
                quarters = [product[:, k] for k in range(4)]
            else:
                quarters = _quarters(product.reshape(oh, o, ow, n), ph, pw)
            best, argmax = _running_max(quarters, keep_argmax=True)
            self.argmax = argmax.reshape(ph, o, pw, n)
            self.conv_shape = (n, o, oh, ow)
            self.save_for_backward(x, w, [cols])
            return _batch_first(best.reshape(ph, o, pw, n).transpose(1, 0, 2, 3), y)
        on_rows = steps.trains
        shape = cols_shape(x.shape, (kh, kw), self.geometry)
        bias = None if b is None else b[:, None]
        slices = (row_slices(x.shape, (kh, kw), self.geometry, x.dtype) if on_rows
                  else batch_slices(n, _sample_bytes(x.shape, (kh, kw), self.geometry, x.dtype)))
        for part in slices:
            xs = x[part]
            if self.phases:
                product, _ = phase_product(xs, w, self.geometry)  # (PH, 4, O, PW*n)
            elif on_rows:
                product, _ = row_window_product(xs, w, self.geometry)  # (OH, O, OW*n)
            else:
                cols = im2col(xs, (kh, kw), self.geometry, out=take("conv.cols", shape[:-1] + xs.shape[:1], x.dtype))
                product = Conv2d(self.geometry)._product(w, cols)  # (O, OH*OW*n)
                del cols
            if bias is not None:  # (O, 1): along the O axis of each layout
                product += bias
            if self.phases:
                quarters = [product[:, k] for k in range(4)]
            elif on_rows:  # (OH, O, OW, n), a view either way
                quarters = _quarters(product.reshape(oh, o, ow, -1), ph, pw)
            else:
                quarters = _quarters(product.reshape(o, oh, ow, -1).transpose(1, 0, 2, 3), ph, pw)
            best = np.maximum(quarters[0], quarters[1], out=take("convpool.best", quarters[0].shape, x.dtype))
            np.maximum(best, quarters[2], out=best)
            np.maximum(best, quarters[3], out=best)
            _batch_first(best.reshape(ph, o, pw, -1).transpose(1, 0, 2, 3), y[part])
        return y

    def _pooled(self, gy: np.ndarray) -> tuple[np.ndarray, bool]:
        """The pooled gradient laid out (PH, O, PW, N) (a work array), and whether it is finite."""
        n, o = gy.shape[:2]
        ph, pw = gy.shape[2:]
        pooled = _batch_last_copy(take("convpool.gy", (ph, o, pw, n), gy.dtype).transpose(1, 0, 2, 3), gy)
        return pooled.transpose(1, 0, 2, 3), bool(np.isfinite(gy).all())

    def _rows(self, gy: np.ndarray, pad: int) -> np.ndarray:
        """dY, the gradient of the convolution's output, laid out (OH + 2*pad, O, OW, N) (``row_outputs``):
        gy[n, o, i, j] at the position that won window (o, i, j), zeros elsewhere and in the ``pad`` rows."""
        n, o, oh, ow = self.conv_shape
        ph, pw = gy.shape[2:]
        rows = take("conv.rows0", (oh + 2 * pad, o, ow, n), gy.dtype)
        pooled, finite = self._pooled(gy)
        if finite and oh == 2 * ph and ow == 2 * pw:  # the windows cover every element
            if pad:
                rows[:pad], rows[pad + oh:] = 0, 0
        else:
            rows.fill(0)
        won = self.argmax == _offsets(4, self.argmax.dtype)  # (4, PH, O, PW, N)
        for window, mask in zip(_quarters(rows[pad:pad + oh], ph, pw), won):
            if finite:
                np.multiply(pooled, mask, out=window)
            else:
                np.copyto(window, pooled, where=mask)
        return rows

    def _phase_backward(self, gy: np.ndarray, x: np.ndarray, w: np.ndarray, colsp: np.ndarray,
                        needs: tuple) -> tuple:
        """The gradients when the forward ran by phase: dP (PH, 4, O, PW*N), the pooled gradient at the
        window element that won, feeds the weight gradient (``phase_weight_grad``); the bias gradient is
        the pooled gradient's sum; the input gradient runs on dY's rows (``input_grad_from_rows``)."""
        n, o, oh, ow = self.conv_shape
        ph, pw = gy.shape[2:]
        pooled, finite = self._pooled(gy)
        pooled = pooled.reshape(ph, 1, o, pw * n)
        dp = take("convpool.dp", (ph, 4, o, pw * n), gy.dtype)
        won = self.argmax.reshape(ph, 1, o, -1) == _offsets(4, self.argmax.dtype).reshape(1, 4, 1, 1)
        if finite:
            np.multiply(pooled, won, out=dp)
        else:  # (inf * 0 would be NaN)
            dp.fill(0)
            np.copyto(dp, pooled, where=won)
        gx = gw = gb = None
        if needs[0]:
            pad = w.shape[2] - 1
            rows = take("conv.rows0", (oh + 2 * pad, o, ow, n), gy.dtype)
            rows[:pad], rows[pad + 2 * ph:] = 0, 0
            if ow > 2 * pw:
                rows[:, :, 2 * pw:] = 0
            s_h, s_o, s_w, s_n = rows.strides  # rows pad + 2i + r, columns 2j + f as (PH, r, f, O, PW, N)
            windows = np.ndarray((ph, 2, 2, o, pw, n), rows.dtype, rows, pad * s_h,
                                 (2 * s_h, s_h, s_w, s_o, 2 * s_w, s_n))
            np.copyto(windows, dp.reshape(ph, 2, 2, o, pw, n))
            dx = take("conv.dx", x.shape, gy.dtype)
            gx = Tensor._make(input_grad_from_rows(rows, w, x.shape, self.geometry, dx))
        if needs[1]:
            gw = Tensor._make(phase_weight_grad(colsp, dp, w.shape, self.geometry))
        if needs[2]:
            gb = Tensor._make(np.add.reduce(pooled, axis=(0, 1, 3)))
        return gx, gw, gb

    def _gathered_backward(self, gy: np.ndarray, x: np.ndarray, w: np.ndarray, cols: np.ndarray,
                           out: list, needs: tuple) -> tuple:
        """The gradients when the forward ran on a gathered patch matrix (``gathered_grads``)."""
        if self.relu:
            gy = np.where(out[0] > 0, gy, 0)
        n, o = gy.shape[:2]
        gy = gy.reshape(n, o, -1).transpose(1, 0, 2).reshape(o, -1)  # (O, M), columns (n, i, j)
        dx, dw, db = gathered_grads(gy, self.won, cols, w, x.shape, self.geometry, needs)
        return (None if dx is None else Tensor._make(dx), None if dw is None else Tensor._make(dw),
                None if db is None else Tensor._make(db))

    def _argmax_nchw(self) -> np.ndarray:
        """The argmax laid out (N, O, PH, PW), as ``MaxPoolScatter`` reads it."""
        if self.gathered:  # from the mask (O, 4, M), columns (n, i, j)
            n, o, oh, ow = self.conv_shape
            argmax = np.argmax(self.won, axis=1).reshape(o, n, oh // 2, ow // 2)
            return np.ascontiguousarray(argmax.transpose(1, 0, 2, 3))
        return np.ascontiguousarray(self.argmax.transpose(3, 1, 0, 2))  # from (PH, O, PW, N)

    def backward(self, gy):
        needs_x, needs_w = self.needs_input_grad[:2]
        needs_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        if self.gathered and not _GradState.enabled:
            x, w, cols, *out = self.saved_arrays
            return self._gathered_backward(gy._data, x, w, cols[0], out, (needs_x, needs_w, needs_b))
        x, w, colsr, *out = self.saved_tensors
        if self.relu:
            gy = backward_op(PositivePart(out[0]._data), gy)
        if _GradState.enabled:  # create_graph: differentiable ops all the way
            argmax = self._argmax_nchw()
            dy = MaxPoolScatter(POOL, argmax, self.conv_shape)(gy)
            gx = ConvInputGrad(self.geometry, x.shape)(dy, w) if needs_x else None
            gw = ConvWeightGrad(self.geometry, w.shape)(x, dy) if needs_w else None
            gb = ConvBiasGrad()(dy) if needs_b else None
            return gx, gw, gb
        if self.phases:
            return self._phase_backward(gy._data, x._data, w._data, colsr[0], (needs_x, needs_w, needs_b))
        on_rows = input_grad_on_rows(self.geometry)
        rows = self._rows(gy._data, w.shape[2] - 1 if needs_x and on_rows else 0)
        dy = _shape_only(self.conv_shape, rows.dtype)  # the gradient ops read only its shape
        gx = gw = gb = None
        if needs_x:
            if on_rows:
                gx = backward_op(ConvInputGrad(self.geometry, x.shape, [rows], on_rows=True), dy, w)
            else:  # the input gradient wants dY batch first
                n, o, oh, ow = self.conv_shape
                dense = _batch_first(rows.transpose(1, 0, 2, 3), take("convpool.dy", self.conv_shape, rows.dtype))
                gx = backward_op(ConvInputGrad(self.geometry, x.shape), dense, w)
        if needs_w:
            gw = backward_op(ConvWeightGrad(self.geometry, w.shape, colsr, [rows], on_rows=True), x, dy)
        if needs_b:
            gb = backward_op(ConvBiasGrad([rows], axes=(0, 2, 3)), dy)
        return gx, gw, gb
