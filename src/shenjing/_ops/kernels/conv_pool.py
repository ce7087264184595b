"""The "rows" convolution followed by a max-pool whose windows tile its output, as one kernel:
y = max_pool2d(conv2d(x, w, b), (KP, LP)) with the pool's stride equal to its kernel, no padding or
dilation, floor mode (what ``shenjing.compile`` fuses: ``shenjing.compiler.fusion.conv_pool``).

The row-window algorithms (``kernels/conv.py``) compute the convolution in a rows layout, P (OH, O, OW, N)
or (OH, O, N, OW). Eager mode writes P out batch first (N, O, OH, OW) with the bias; the pool then reads
it, and its gradient is scattered into an (N, O, OH, OW) array that the convolution's backward copies
into the rows layout again. Here the pool runs on P: the window of offset (a, c) is the view of rows
a::KP and columns c::LP of P; the bias is added to P in place first; only the pooled result (KP*LP times
smaller) is written batch first; and backward scatters the pooled gradient straight into the rows-layout
dY that the convolution's gradients read.

The numbers are the two ops', bit for bit: the same product and bias additions, the same tournament
(``kernels/pool.tournament_max``: the first maximum in row-major order wins a tie, a NaN wins), and the
same dY, dx, dW and db arrays (``tests/test_conv_pool.py`` compares them with ``np.array_equal``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing._ops.conv import ConvGeometry, output_size
from shenjing._ops.kernels.conv import RowsLayout, RowWindows, row_product
from shenjing._ops.kernels.pool import scatter_disjoint, tournament_max

__all__ = ["applies", "forward", "gradients"]


def applies(algorithm: Any, geometry: ConvGeometry, input_shape: tuple[int, ...], weight_shape: tuple[int, ...],
            pool_kernel: tuple[int, int]) -> bool:
    """Whether the fused kernel computes this pair: the convolution runs on row windows with stride 1
    along the rows (its input gradient then comes from the rows-layout dY), and the pool has at least one
    window in each direction."""
    if not isinstance(algorithm, RowWindows) or geometry.stride[0] != 1:
        return False
    oh, ow = output_size(input_shape[2:], weight_shape[2:], geometry)
    return oh >= pool_kernel[0] and ow >= pool_kernel[1]


def _windows(rows: np.ndarray, layout: RowsLayout, pool_kernel: tuple[int, int],
             pooled: tuple[int, int]) -> list[np.ndarray]:
    """The views (PH, O, ., .) of an (OH, O, ., .) array in ``layout`` seen by each pool offset, row-major."""
    (kp, lp), (ph, pw) = pool_kernel, pooled
    return [layout.columns(rows[a:a + kp * (ph - 1) + 1:kp], slice(c, c + lp * (pw - 1) + 1, lp))
            for a in range(kp) for c in range(lp)]


def forward(algorithm: RowWindows, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geometry: ConvGeometry,
            pool_kernel: tuple[int, int], keep_patches: bool, keep_argmax: bool) -> tuple:
    """(y (N, O, PH, PW), the row patches if kept, the argmax (PH, O, ., .) in the rows layout if kept)."""
    layout = algorithm.layout
    n, (o, _, kh, kw) = x.shape[0], w.shape
    oh, ow = output_size(x.shape[2:], (kh, kw), geometry)
    pooled = (oh // pool_kernel[0], ow // pool_kernel[1])
    colsr = algorithm.patches(x, (kh, kw), geometry)
    width = algorithm.width(x.shape, (kh, kw), geometry)  # (the columns past OW are in no pool window)
    product = row_product(w, colsr, oh, geometry.stride[0]).reshape(layout.shape(oh, o, n, width))
    if b is not None:
        np.add(product, b.reshape(1, o, 1, 1), out=product)
    best, argmax = tournament_max(_windows(product, layout, pool_kernel, pooled), keep_argmax)
    y = layout.from_rows(best, np.empty((n, o) + pooled, x.dtype))
    return y, (colsr if keep_patches else None), argmax


def gradients(algorithm: RowWindows, gy: np.ndarray, x: np.ndarray, w: np.ndarray, geometry: ConvGeometry,
              pool_kernel: tuple[int, int], patches: np.ndarray | None, argmax: np.ndarray, needs: tuple) -> tuple:
    """(dx, dW, db) from the pooled gradient gy (N, O, PH, PW), None where not needed."""
    layout = algorithm.layout
    n, o, ph, pw = gy.shape
    kh = w.shape[2]
    oh = output_size(x.shape[2:], w.shape[2:], geometry)[0]
    pad = kh - 1 if needs[0] else 0  # (the input gradient reads KH-1 zero rows above and below)
    dy = np.zeros(layout.shape(oh + 2 * pad, o, n, algorithm.width(x.shape, w.shape[2:], geometry)), gy.dtype)
    gy_rows = layout.to_rows(gy, np.empty(layout.shape(ph, o, n, pw), gy.dtype))
    scatter_disjoint(gy_rows, argmax, _windows(dy[pad:pad + oh], layout, pool_kernel, (ph, pw)))
    gx = algorithm.input_grad_on_rows(dy, w, x.shape, geometry) if needs[0] else None
    gw = None
    if needs[1]:
        colsr = algorithm.patches(x, w.shape[2:], geometry) if patches is None else patches
        gw = algorithm.weight_grad_on_rows(colsr, dy[pad:pad + oh], x, w.shape, geometry)
    gb = dy.sum((0, 2, 3)) if needs[2] else None
    return gx, gw, gb
