"""The "rows" convolution followed by a max-pool whose windows tile its output, as one kernel:
y = max_pool2d(conv2d(x, w, b), (KP, LP)) with the pool's stride equal to its kernel, no padding or
dilation, floor mode (what ``shenjing.compile`` fuses: ``shenjing.compiler.fusion.conv_pool``).

The "rows" algorithm (``kernels/conv.py``) computes the convolution batch last, P (OH, O, OW, N). Eager
mode writes P out batch first (N, O, OH, OW) with the bias; the pool then reads windows whose inner
stride is KP elements, and its gradient is scattered into an (N, O, OH, OW) array that the convolution's
backward copies batch last again. Here the pool runs on P: the window of offset (a, c) is the view
P[a::KP, :, c::LP, :] (PH, O, PW, N), whose inner runs of N samples are contiguous; the bias is added to P
in place first; only the pooled result (KP*LP times smaller) is written batch first; and backward
scatters the pooled gradient straight into the batch-last dY that the convolution's gradients read.

The numbers are the two ops', bit for bit: the same product and bias additions, the same tournament
(``kernels/pool.tournament_max``: the first maximum in row-major order wins a tie, a NaN wins), and the
same dY, dx, dW and db arrays (``tests/test_conv_pool.py`` compares them with ``np.array_equal``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing._ops.conv import ConvGeometry, output_size
from shenjing._ops.kernels.conv import (
    ROWS, _batch_first, _batch_last_copy, input_grad_from_rows, row_patches, row_product,
    weight_grad_from_rows)
from shenjing._ops.kernels.pool import scatter_disjoint, tournament_max

__all__ = ["applies", "forward", "gradients"]


def applies(algorithm: Any, geometry: ConvGeometry, input_shape: tuple[int, ...], weight_shape: tuple[int, ...],
            pool_kernel: tuple[int, int]) -> bool:
    """Whether the fused kernel computes this pair: the convolution runs on row windows with stride 1
    along the rows (its input gradient then comes from the batch-last dY), and the pool has at least one
    window in each direction."""
    if algorithm is not ROWS or geometry.stride[0] != 1:
        return False
    oh, ow = output_size(input_shape[2:], weight_shape[2:], geometry)
    return oh >= pool_kernel[0] and ow >= pool_kernel[1]


def _windows(rows: np.ndarray, pool_kernel: tuple[int, int], pooled: tuple[int, int]) -> list[np.ndarray]:
    """The views (PH, O, PW, N) of a batch-last (OH, O, OW, N) array seen by each pool offset, row-major."""
    (kp, lp), (ph, pw) = pool_kernel, pooled
    return [rows[a:a + kp * (ph - 1) + 1:kp, :, c:c + lp * (pw - 1) + 1:lp] for a in range(kp) for c in range(lp)]


def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geometry: ConvGeometry,
            pool_kernel: tuple[int, int], keep_patches: bool, keep_argmax: bool) -> tuple:
    """(y (N, O, PH, PW), the row patches if kept, the argmax (PH, O, PW, N) if kept)."""
    n, (o, _, kh, kw) = x.shape[0], w.shape
    oh, ow = output_size(x.shape[2:], (kh, kw), geometry)
    pooled = (oh // pool_kernel[0], ow // pool_kernel[1])
    colsr = row_patches(x, (kh, kw), geometry)
    product = row_product(w, colsr, oh, geometry.stride[0]).reshape(oh, o, ow, n)
    if b is not None:
        np.add(product, b.reshape(1, o, 1, 1), out=product)
    best, argmax = tournament_max(_windows(product, pool_kernel, pooled), keep_argmax)
    y = _batch_first(best.transpose(1, 0, 2, 3), np.empty((n, o) + pooled, x.dtype))
    return y, (colsr if keep_patches else None), argmax


def gradients(gy: np.ndarray, x: np.ndarray, w: np.ndarray, geometry: ConvGeometry, pool_kernel: tuple[int, int],
              patches: np.ndarray | None, argmax: np.ndarray, needs: tuple) -> tuple:
    """(dx, dW, db) from the pooled gradient gy (N, O, PH, PW), None where not needed."""
    n, o, ph, pw = gy.shape
    kh = w.shape[2]
    oh, ow = output_size(x.shape[2:], w.shape[2:], geometry)
    pad = kh - 1 if needs[0] else 0  # (the input gradient reads KH-1 zero rows above and below)
    dy = np.zeros((oh + 2 * pad, o, ow, n), gy.dtype)
    gy_rows = np.empty((ph, o, pw, n), gy.dtype)
    _batch_last_copy(gy_rows.transpose(1, 0, 2, 3), gy)
    scatter_disjoint(gy_rows, argmax, _windows(dy[pad:pad + oh], pool_kernel, (ph, pw)))
    gx = input_grad_from_rows(dy, w, x.shape, geometry) if needs[0] else None
    gw = None
    if needs[1]:
        colsr = row_patches(x, w.shape[2:], geometry) if patches is None else patches
        gw = weight_grad_from_rows(colsr, dy[pad:pad + oh], w.shape, geometry.stride[0])
    gb = dy.sum((0, 2, 3)) if needs[2] else None
    return gx, gw, gb
