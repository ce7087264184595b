"""Convolution as im2col + one matrix product, and its two adjoints.

A 2-D convolution (PyTorch's cross-correlation) of x (N, C, H, W) with w (O, C/g, KH, KW) is

    y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * xpad[n, c', s_h*i + d_h*p, s_w*j + d_w*q]

where c' runs over the channels of o's group. ``im2col`` copies the input pixels that each kernel
offset (p, q) sees into one row block of a patch matrix, channel first::

    cols[c, p, q, n, i, j] = xpad[n, c, s_h*i + d_h*p, s_w*j + d_w*q]     shape (C*KH*KW, N*OH*OW)

so that the convolution is one matrix product per call, W (O, C*KH*KW) @ cols -> (O, N*OH*OW), with
``groups`` as a batch of g products. Its gradients are two more products:

    dW = dY @ cols^T                 (the weight gradient, shape (O, C/g*KH*KW))
    dcols = W^T @ dY, dx = col2im(dcols)   (the input gradient: the patches added back in place)

``col2im`` is the adjoint of ``im2col``: KH*KW strided slice additions, never a scatter. Every
buffer has the input's dtype, so float32 stays float32 end to end. ``Unfold`` / ``Fold`` expose
im2col / col2im in PyTorch's (N, C*KH*KW, L) layout.

The three ops ``Conv2d``, ``ConvInputGrad`` and ``ConvWeightGrad`` are each bilinear and each is the
others' backward, so convolution has gradients of every order. 1-D convolution is the 2-D one with
H = 1 (see ``shenjing.nn.functional.conv1d``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from shenjing.autograd.node import Op

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


def im2col(x: np.ndarray, kernel: tuple[int, int], geometry: ConvGeometry) -> np.ndarray:
    """Patch matrix of x (N, C, H, W), shape (C, KH, KW, N, OH, OW): ``reshape(C*KH*KW, -1)`` it."""
    n, c, h, w = x.shape
    (pt, pb), (pl, pr) = geometry.padding
    oh = conv_output_size(h, kernel[0], geometry.stride[0], (pt, pb), geometry.dilation[0])
    ow = conv_output_size(w, kernel[1], geometry.stride[1], (pl, pr), geometry.dilation[1])
    # channels first: then each (p, q) block of cols is one slice copy, and groups split the rows
    if pt or pb or pl or pr:
        padded = np.zeros((c, n, h + pt + pb, w + pl + pr), dtype=x.dtype)
        padded[:, :, pt:pt + h, pl:pl + w] = x.transpose(1, 0, 2, 3)
    else:
        padded = x.transpose(1, 0, 2, 3)
    cols = np.empty((c, kernel[0], kernel[1], n, oh, ow), dtype=x.dtype)
    for p, q, rows, columns in kernel_windows(kernel, (oh, ow), geometry.stride, geometry.dilation):
        cols[:, p, q] = padded[:, :, rows, columns]
    return cols


def col2im(cols: np.ndarray, input_shape: tuple[int, ...], geometry: ConvGeometry) -> np.ndarray:
    """The adjoint of ``im2col``: each patch entry is added back to the pixel it was copied from."""
    c, kh, kw, n, oh, ow = cols.shape
    h, w = input_shape[2:]
    (pt, pb), (pl, pr) = geometry.padding
    padded = np.zeros((c, n, h + pt + pb, w + pl + pr), dtype=cols.dtype)
    for p, q, rows, columns in kernel_windows((kh, kw), (oh, ow), geometry.stride, geometry.dilation):
        padded[:, :, rows, columns] += cols[:, p, q]
    return np.ascontiguousarray(padded[:, :, pt:pt + h, pl:pl + w].transpose(1, 0, 2, 3))


def _grouped(matrix: np.ndarray, groups: int) -> np.ndarray:
    """(rows, cols) -> (groups, rows/groups, cols): one block per group."""
    return matrix.reshape(groups, matrix.shape[0] // groups, matrix.shape[1])


def _output_rows(gy: np.ndarray, groups: int) -> np.ndarray:
    """dY (N, O, OH, OW) as the matrix (groups, O/g, N*OH*OW) that the products use."""
    return _grouped(gy.transpose(1, 0, 2, 3).reshape(gy.shape[1], -1), groups)


class Conv2d(Op):
    """y = conv2d(x, w) + b, as W @ im2col(x)."""

    def __init__(self, geometry: ConvGeometry) -> None:
        self.geometry = geometry

    def name(self) -> str:
        return "ConvolutionBackward0"

    def forward(self, x, w, b=None):
        g = self.geometry.groups
        cols = im2col(x, w.shape[2:], self.geometry)
        c, kh, kw, n, oh, ow = cols.shape
        o = w.shape[0]
        patches = _grouped(cols.reshape(c * kh * kw, n * oh * ow), g)
        y = np.matmul(_grouped(w.reshape(o, -1), g), patches)  # (g, O/g, N*OH*OW): the one product
        y = np.ascontiguousarray(y.reshape(o, n, oh, ow).transpose(1, 0, 2, 3))
        if b is not None:
            y += b.reshape(1, o, 1, 1)
        # the patches are kept for the weight gradient (so backward does not build them again)
        self.save_for_backward(x, w, cols if self.needs_input_grad[1] else None)
        return y

    def backward(self, gy):
        x, w, cols = self.saved_tensors
        needs_x, needs_w = self.needs_input_grad[:2]
        gx = ConvInputGrad(self.geometry, x.shape)(gy, w) if needs_x else None
        gw = ConvWeightGrad(self.geometry, w.shape, cols._data)(x, gy) if needs_w else None
        gb = gy.sum((0, 2, 3)) if len(self.needs_input_grad) > 2 and self.needs_input_grad[2] else None
        return gx, gw, gb


class ConvInputGrad(Op):
    """dx = col2im(W^T @ dY): the gradient of conv2d with respect to its input (a transposed conv)."""

    def __init__(self, geometry: ConvGeometry, input_shape: tuple[int, ...]) -> None:
        self.geometry, self.input_shape = geometry, tuple(input_shape)

    def name(self) -> str:
        return "ConvolutionBackwardBackward0"

    def forward(self, gy, w):
        self.save_for_backward(gy, w)
        g = self.geometry.groups
        n, o, oh, ow = gy.shape
        c, kh, kw = self.input_shape[1], w.shape[2], w.shape[3]
        w_t = _grouped(w.reshape(o, -1), g).transpose(0, 2, 1)  # (g, C/g*KH*KW, O/g)
        dcols = np.matmul(w_t, _output_rows(gy, g))
        return col2im(dcols.reshape(c, kh, kw, n, oh, ow), self.input_shape, self.geometry)

    def backward(self, ggx):
        # dx is bilinear in (dY, W): d/d(dY) is conv2d(ggx, W), d/dW is the weight gradient of (ggx, dY)
        gy, w = self.saved_tensors
        ggy = Conv2d(self.geometry)(ggx, w) if self.needs_input_grad[0] else None
        gw = ConvWeightGrad(self.geometry, w.shape)(ggx, gy) if self.needs_input_grad[1] else None
        return ggy, gw


class ConvWeightGrad(Op):
    """dW = dY @ im2col(x)^T: the gradient of conv2d with respect to its weight."""

    def __init__(self, geometry: ConvGeometry, weight_shape: tuple[int, ...],
                 cols: np.ndarray | None = None) -> None:
        self.geometry, self.weight_shape, self.cols = geometry, tuple(weight_shape), cols

    def name(self) -> str:
        return "ConvolutionBackwardBackward0"

    def forward(self, x, gy):
        self.save_for_backward(x, gy)
        g = self.geometry.groups
        cols = self.cols if self.cols is not None else im2col(x, self.weight_shape[2:], self.geometry)
        self.cols = None  # only needed once
        patches = _grouped(cols.reshape(-1, gy.shape[0] * gy.shape[2] * gy.shape[3]), g)
        gw = np.matmul(_output_rows(gy, g), patches.transpose(0, 2, 1))  # (g, O/g, C/g*KH*KW)
        return gw.reshape(self.weight_shape)

    def backward(self, ggw):
        x, gy = self.saved_tensors
        gx = ConvInputGrad(self.geometry, x.shape)(gy, ggw) if self.needs_input_grad[0] else None
        ggy = Conv2d(self.geometry)(x, ggw) if self.needs_input_grad[1] else None
        return gx, ggy


class Unfold(Op):
    """im2col in PyTorch's layout: x (N, C, H, W) -> (N, C*KH*KW, OH*OW)."""

    def __init__(self, kernel: tuple[int, int], geometry: ConvGeometry) -> None:
        self.kernel, self.geometry = kernel, geometry

    def name(self) -> str:
        return "Im2ColBackward0"

    def forward(self, x):
        self.input_shape = x.shape
        cols = im2col(x, self.kernel, self.geometry)
        c, kh, kw, n, oh, ow = cols.shape
        return np.ascontiguousarray(cols.reshape(c * kh * kw, n, oh * ow).transpose(1, 0, 2))

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
        oh = conv_output_size(h, kh, self.geometry.stride[0], self.geometry.padding[0], self.geometry.dilation[0])
        ow = conv_output_size(w, kw, self.geometry.stride[1], self.geometry.padding[1], self.geometry.dilation[1])
        blocks = cols.transpose(1, 0, 2).reshape(c, kh, kw, n, oh, ow)
        return col2im(blocks, self.output_shape, self.geometry)

    def backward(self, gy):
        return Unfold(self.kernel, self.geometry)(gy)
