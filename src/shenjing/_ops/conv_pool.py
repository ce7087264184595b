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

import numpy as np

from shenjing._ops.conv import (
    Conv2d, ConvBiasGrad, ConvGeometry, ConvInputGrad, ConvWeightGrad, _batch_first, _batch_last_copy,
    _sample_bytes, batch_slices, cols_shape, im2col, input_grad_on_rows, output_size, row_slices,
    row_window_product, use_row_windows)
from shenjing._ops.pool import MaxPoolScatter, PoolGeometry, _offsets, _running_max
from shenjing._workspace import take
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op, backward_op

__all__: list[str] = []  # internal

POOL = PoolGeometry((2, 2), (2, 2), (0, 0))


def fused_applies(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geometry: ConvGeometry,
                  training: bool) -> bool:
    """Whether ``ConvMaxPool2d`` runs this call: a batched input whose convolution output is at least
    2x2; in training (``training``: some input needs a gradient) only on row windows with the weight
    needing its gradient (the caller checks that)."""
    if len(x_shape) != 4 or x_shape[0] == 0:
        return False
    oh, ow = output_size(x_shape[2:], w_shape[2:], geometry)
    if oh < 2 or ow < 2:
        return False
    return not training or use_row_windows(x_shape, w_shape, geometry)


def _quarters(a: np.ndarray, ph: int, pw: int) -> list[np.ndarray]:
    """The four elements of every 2x2 window of a (.., H, .., W, ..) array whose H axis is 0 and W
    axis is 2 (batch-last layouts (OH, O, OW, N)), in row-major window order: views (PH, O, PW, N)."""
    return [a[r:2 * ph:2, :, c:2 * pw:2] for r in (0, 1) for c in (0, 1)]


class ConvMaxPool2d(Op):
    """y = max_pool2d(conv2d(x, w, b), 2) on the convolution's batch-last product."""

    def __init__(self, geometry: ConvGeometry) -> None:
        self.geometry = geometry

    def name(self) -> str:
        return "ConvMaxPool2DBackward0"

    def forward(self, x, w, b=None):
        o, c, kh, kw = w.shape
        n = x.shape[0]
        oh, ow = output_size(x.shape[2:], (kh, kw), self.geometry)
        ph, pw = oh // 2, ow // 2
        y = take("convpool.out", (n, o, ph, pw), x.dtype)
        if any(self.needs_input_grad):
            if not (self.needs_input_grad[1] and use_row_windows(x.shape, w.shape, self.geometry)):
                raise RuntimeError("ConvMaxPool2d: training needs the weight's gradient, one group and row "
                                   "dilation 1 (run conv2d and max_pool2d instead)")
            product, colsr = row_window_product(x, w, self.geometry)
            if b is not None:
                product += b[:, None]
            product = product.reshape(oh, o, ow, n)
            best, self.argmax = _running_max(_quarters(product, ph, pw), keep_argmax=True)  # (PH, O, PW, N)
            self.conv_shape = (n, o, oh, ow)
            self.save_for_backward(x, w, [colsr])
            return _batch_first(best.transpose(1, 0, 2, 3), y)
        conv = Conv2d(self.geometry)
        on_rows = use_row_windows(x.shape, w.shape, self.geometry)
        shape = cols_shape(x.shape, (kh, kw), self.geometry)
        bias = None if b is None else b[:, None]
        slices = (row_slices(x.shape, (kh, kw), self.geometry, x.dtype) if on_rows
                  else batch_slices(n, _sample_bytes(x.shape, (kh, kw), self.geometry, x.dtype)))
        for part in slices:
            xs = x[part]
            if on_rows:
                product, _ = row_window_product(xs, w, self.geometry)  # (OH, O, OW*n)
            else:
                cols = im2col(xs, (kh, kw), self.geometry, out=take("conv.cols", shape[:-1] + xs.shape[:1], x.dtype))
                product = conv._product(w, cols)  # (O, OH*OW*n)
                del cols
            if bias is not None:  # (O, 1): along the O axis of either layout
                product += bias
            if on_rows:  # (OH, O, OW, n), a view either way
                product = product.reshape(oh, o, ow, -1)
            else:
                product = product.reshape(o, oh, ow, -1).transpose(1, 0, 2, 3)
            quarters = _quarters(product, ph, pw)
            best = np.maximum(quarters[0], quarters[1], out=take("convpool.best", quarters[0].shape, x.dtype))
            np.maximum(best, quarters[2], out=best)
            np.maximum(best, quarters[3], out=best)
            _batch_first(best.transpose(1, 0, 2, 3), y[part])
        return y

    def _rows(self, gy: np.ndarray, pad: int) -> np.ndarray:
        """dY, the gradient of the convolution's output, laid out (OH + 2*pad, O, OW, N) (``row_outputs``):
        gy[n, o, i, j] at the position that won window (o, i, j), zeros elsewhere and in the ``pad`` rows."""
        n, o, oh, ow = self.conv_shape
        ph, pw = gy.shape[2:]
        rows = take("conv.rows0", (oh + 2 * pad, o, ow, n), gy.dtype)
        finite = bool(np.isfinite(gy).all())
        if finite and oh == 2 * ph and ow == 2 * pw:  # the windows cover every element
            if pad:
                rows[:pad], rows[pad + oh:] = 0, 0
        else:
            rows.fill(0)
        pooled = _batch_last_copy(take("convpool.gy", (ph, o, pw, n), gy.dtype).transpose(1, 0, 2, 3), gy)
        pooled = pooled.transpose(1, 0, 2, 3)  # (PH, O, PW, N)
        won = self.argmax == _offsets(4, self.argmax.dtype)  # (4, PH, O, PW, N)
        for window, mask in zip(_quarters(rows[pad:pad + oh], ph, pw), won):
            if finite:
                np.multiply(pooled, mask, out=window)
            else:
                np.copyto(window, pooled, where=mask)
        return rows

    def backward(self, gy):
        x, w, colsr = self.saved_tensors
        needs_x, needs_w = self.needs_input_grad[:2]
        needs_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        if _GradState.enabled:  # create_graph: differentiable ops all the way
            argmax = np.ascontiguousarray(self.argmax.transpose(3, 1, 0, 2))  # (N, O, PH, PW)
            dy = MaxPoolScatter(POOL, argmax, self.conv_shape)(gy)
            gx = ConvInputGrad(self.geometry, x.shape)(dy, w) if needs_x else None
            gw = ConvWeightGrad(self.geometry, w.shape)(x, dy) if needs_w else None
            gb = ConvBiasGrad()(dy) if needs_b else None
            return gx, gw, gb
        on_rows = input_grad_on_rows(self.geometry)
        rows = self._rows(gy._data, w.shape[2] - 1 if needs_x and on_rows else 0)
        dy = np.broadcast_to(np.zeros((), rows.dtype), self.conv_shape)  # only its shape is read
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
