"""Transposed convolution: the adjoint (input gradient) of a convolution, as an op of its own.

A 2-D convolution with geometry G maps an image z (N, Cout, OH, OW) to conv2d(z, w) (N, Cin, H, W)
for a weight w (Cin, Cout/g, KH, KW). Its transpose maps x (N, Cin, H, W) back to (N, Cout, OH, OW):

    y = conv_transpose2d(x, w) + b,   <conv2d(z, w), x> = <z, conv_transpose2d(x, w)> for every z,

which is exactly the input gradient of that convolution, ``col2im(W^T @ X)`` (``shenjing._ops.conv``).
Each input pixel x[n, c, i, j] spreads w[c, :, p, q] * x onto y[n, :, s_h*i + d_h*p - pad_h, s_w*j + d_w*q - pad_w].
The output size is (H - 1)*s - 2*pad + d*(K - 1) + output_padding + 1 (``output_padding`` < s or d picks
among the sizes that the convolution maps to H).

Its gradients are the convolution's other two maps: dx = conv2d(dy, w), dw = the convolution's weight
gradient for input dy and output gradient x, db = sum of dy over (N, OH, OW). Those are recorded ops,
so higher derivatives exist. It uses the reference algorithm ``IM2COL``.
"""

from __future__ import annotations

import numpy as np

from shenjing._ops.conv import IM2COL, Conv2d, ConvBiasGrad, ConvGeometry, ConvWeightGrad
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op, backward_op

__all__: list[str] = []  # internal: the public functions are in shenjing.nn.functional


class ConvTranspose2d(Op):
    """y (N, Cout, OH, OW) = conv_transpose2d(x (N, Cin, H, W), w (Cin, Cout/g, KH, KW)) + b (Cout,)."""

    owns_gradients = True

    def __init__(self, geometry: ConvGeometry, output_hw: tuple[int, int]) -> None:
        self.geometry, self.output_hw = geometry, tuple(output_hw)

    def name(self) -> str:
        return "ConvolutionBackward0"

    def forward(self, x, w, b=None):
        out_channels = w.shape[1] * self.geometry.groups
        output_shape = (x.shape[0], out_channels) + self.output_hw
        y = IM2COL.input_grad(x, w, output_shape, self.geometry)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        self.save_for_backward(x, w)
        return y

    def backward(self, gy):
        needs = tuple(self.needs_input_grad) + (False,) * (3 - len(self.needs_input_grad))
        if not _GradState.enabled:  # first order: straight on the arrays
            x, w = self.saved_arrays
            g = gy._data
            gx = IM2COL.forward(g, w, None, self.geometry, False)[0] if needs[0] else None
            gw = IM2COL.weight_grad(g, x, w.shape, self.geometry) if needs[1] else None
            gb = g.sum((0, 2, 3)) if needs[2] else None
            return tuple(None if a is None else Tensor._make(np.ascontiguousarray(a)) for a in (gx, gw, gb))
        x, w = self.saved_tensors
        gx = backward_op(Conv2d(self.geometry), gy, w, None) if needs[0] else None  # (Conv2d takes three inputs)
        gw = backward_op(ConvWeightGrad(self.geometry, w.shape), gy, x) if needs[1] else None
        gb = backward_op(ConvBiasGrad(), gy) if needs[2] else None
        return gx, gw, gb
