"""Convolution as im2col + one matrix product, and its two adjoints: the reference.

A 2-D convolution (PyTorch's cross-correlation) of x (N, C, H, W) with w (O, C/g, KH, KW) is

    y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] * xpad[n, c', s_h*i + d_h*p, s_w*j + d_w*q]

where c' runs over the channels of o's group. ``im2col`` copies the input pixels that each kernel
offset (p, q) sees into one row of a patch matrix, channel first and batch last::

    cols[(c, p, q), (i, j, n)] = xpad[n, c, s_h*i + d_h*p, s_w*j + d_w*q]     shape (C*KH*KW, OH*OW*N)

so that the convolution is one matrix product, Y = W (O, C*KH*KW) @ cols -> (O, OH*OW*N) (with
``groups``, a batch of g products, one per group). Its gradients are two more products:

    dW = dY @ cols^T                        (O, C/g*KH*KW) per group
    dcols = W^T @ dY, dx = col2im(dcols)    (col2im adds each patch entry back to its pixel)

where dY is the upstream gradient laid out like Y. Batch last makes the rows of cols runs of OW*N
contiguous values (for stride 1) instead of OW, for the copy and for the product.

This module is the specification. Faster algorithms for the same op live in ``shenjing._ops.kernels.conv``;
``Conv2d`` runs whichever one ``shenjing._ops.kernels.conv.choose`` picks from the shapes and the geometry
(this one, ``IM2COL``, where none applies). The three ops ``Conv2d``, ``ConvInputGrad`` and ``ConvWeightGrad``
are bilinear and each is the others' backward, so convolution has gradients of every order. 1-D convolution
is the 2-D one with H = 1 (see ``shenjing.nn.functional.conv1d``). ``Unfold`` / ``Fold`` expose im2col /
col2im in PyTorch's (N, C*KH*KW, L) layout.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
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


def output_size(input_hw: tuple[int, ...], kernel: tuple[int, ...], geometry: ConvGeometry) -> tuple[int, int]:
    """(OH, OW) of a convolution of an (H, W) image."""
    (sh, sw), (ph, pw), (dh, dw) = geometry.stride, geometry.padding, geometry.dilation
    return (conv_output_size(input_hw[0], kernel[0], sh, ph, dh), conv_output_size(input_hw[1], kernel[1], sw, pw, dw))


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


def padded_batch_last(x: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """x (N, C, H, W) copied into a new zero-bordered array laid out (C, Hp, Wp, N)."""
    n, c, h, w = x.shape
    (pt, pb), (pl, pr) = geometry.padding
    padded = np.zeros((c, h + pt + pb, w + pl + pr, n), x.dtype)
    padded[:, pt:pt + h, pl:pl + w] = x.transpose(1, 2, 3, 0)
    return padded


def cols_shape(x_shape: tuple[int, ...], kernel: tuple[int, ...], geometry: ConvGeometry) -> tuple[int, ...]:
    """The shape (C, KH, KW, OH, OW, N) of ``im2col``'s patches for an input of ``x_shape``."""
    return (x_shape[1],) + tuple(kernel) + output_size(x_shape[2:], kernel, geometry) + (x_shape[0],)


def im2col(x: np.ndarray, kernel: tuple[int, int], geometry: ConvGeometry) -> np.ndarray:
    """The patches of x (N, C, H, W), shape (C, KH, KW, OH, OW, N) (``reshape(C*KH*KW, -1)`` for the matrix):
    cols[c, p, q, i, j, n] = xpad[n, c, s_h*i + d_h*p, s_w*j + d_w*q], one slice of the padded input
    per kernel offset."""
    padded = padded_batch_last(x, geometry)
    shape = cols_shape(x.shape, kernel, geometry)
    cols = np.empty(shape, x.dtype)
    for p, q, rows, columns in kernel_windows(kernel, shape[3:5], geometry.stride, geometry.dilation):
        cols[:, p, q] = padded[:, rows, columns]
    return cols


def col2im(dcols: np.ndarray, input_shape: tuple[int, ...], geometry: ConvGeometry) -> np.ndarray:
    """The adjoint of ``im2col``: dcols (C, KH, KW, OH, OW, N) added back to the pixels they were copied
    from, xpad[n, c, s_h*i + d_h*p, s_w*j + d_w*q] += dcols[c, p, q, i, j, n]; returns dx (N, C, H, W)."""
    c, kh, kw, oh, ow, n = dcols.shape
    h, w = input_shape[2:]
    (pt, pb), (pl, pr) = geometry.padding
    padded = np.zeros((c, h + pt + pb, w + pl + pr, n), dcols.dtype)
    for p, q, rows, columns in kernel_windows((kh, kw), (oh, ow), geometry.stride, geometry.dilation):
        padded[:, rows, columns] += dcols[:, p, q]
    return np.ascontiguousarray(padded[:, pt:pt + h, pl:pl + w].transpose(3, 0, 1, 2))


def grouped(matrix: np.ndarray, groups: int) -> np.ndarray:
    """(rows, cols) -> (groups, rows/groups, cols): one block per group."""
    return matrix.reshape(groups, matrix.shape[0] // groups, matrix.shape[1])


def batch_last_rows(gy: np.ndarray) -> np.ndarray:
    """dY (N, O, OH, OW) laid out like the forward product: the matrix (O, OH*OW*N)."""
    return np.ascontiguousarray(gy.transpose(1, 2, 3, 0)).reshape(gy.shape[1], -1)


def batch_first(y: np.ndarray, out_shape: tuple[int, ...], bias: np.ndarray | None = None) -> np.ndarray:
    """y (O, OH*OW*N) as a new array (N, O, OH, OW), plus bias[o] when given."""
    n, o, oh, ow = out_shape
    out = np.empty(out_shape, y.dtype)
    y = y.reshape(o, oh, ow, n)
    target = out.transpose(1, 2, 3, 0)  # (written as a ufunc into out's transpose: NumPy reads y in order)
    if bias is None:
        np.positive(y, out=target)
    else:
        np.add(y, bias.reshape(o, 1, 1, 1), out=target)
    return out


class Im2col:
    """The reference algorithm (the module docstring): every geometry."""

    name = "im2col"

    @staticmethod
    def applies(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geometry: ConvGeometry) -> bool:
        return True

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geometry: ConvGeometry,
                keep_patches: bool) -> tuple[np.ndarray, Any]:
        """y (N, O, OH, OW) = W @ cols (+ b), and the patches when ``keep_patches`` (for ``weight_grad``)."""
        o, g = w.shape[0], geometry.groups
        cols = im2col(x, w.shape[2:], geometry)
        C, KH, KW, OH, OW, N = cols.shape
        y = np.matmul(grouped(w.reshape(o, -1), g), grouped(cols.reshape(C * KH * KW, -1), g))  # (g, O/g, L)
        return batch_first(y, (N, o, OH, OW), b), (cols if keep_patches else None)

    def input_grad(self, gy: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...], geometry: ConvGeometry,
                   dy: np.ndarray | None = None) -> np.ndarray:
        """dx = col2im(W^T @ dY); ``dy`` is ``batch_last_rows(gy)`` when the caller has it."""
        g, (o, _, kh, kw), (n, c) = geometry.groups, w.shape, input_shape[:2]
        dy = batch_last_rows(gy) if dy is None else dy
        w_t = grouped(w.reshape(o, -1), g).transpose(0, 2, 1)  # (g, C/g*KH*KW, O/g)
        dcols = np.matmul(w_t, grouped(dy, g))  # (g, C/g*KH*KW, OH*OW*N)
        return col2im(dcols.reshape((c, kh, kw) + gy.shape[2:] + (n,)), input_shape, geometry)

    def weight_grad(self, x: np.ndarray, gy: np.ndarray, weight_shape: tuple[int, ...], geometry: ConvGeometry,
                    patches: Any = None, dy: np.ndarray | None = None) -> np.ndarray:
        """dW = dY @ cols^T per group, from the kept patches or im2col(x)."""
        g = geometry.groups
        cols = im2col(x, weight_shape[2:], geometry) if patches is None else patches
        dy = batch_last_rows(gy) if dy is None else dy
        cols = grouped(cols.reshape(cols.shape[0] * cols.shape[1] * cols.shape[2], -1), g)
        gw = np.matmul(grouped(dy, g), cols.transpose(0, 2, 1))  # (g, O/g, C/g*KH*KW)
        return gw.reshape(weight_shape)

    def gradients(self, gy: np.ndarray, x: np.ndarray, w: np.ndarray, geometry: ConvGeometry, patches: Any,
                  needs: tuple) -> tuple:
        """(dx, dW, db) as new arrays (None where not needed), sharing dY's layout."""
        dy = batch_last_rows(gy)
        gx = self.input_grad(gy, w, x.shape, geometry, dy) if needs[0] else None
        gw = self.weight_grad(x, gy, w.shape, geometry, patches, dy) if needs[1] else None
        gb = dy.sum(1) if needs[2] else None
        return gx, gw, gb


IM2COL = Im2col()


class Conv2d(Op):
    """y = conv2d(x, w) + b with ``algorithm`` (``IM2COL`` unless given: see ``shenjing._ops.kernels.conv``)."""

    owns_gradients = True  # every algorithm's gradients are new arrays

    def __init__(self, geometry: ConvGeometry, algorithm: Any = IM2COL) -> None:
        self.geometry, self.algorithm = geometry, algorithm

    def name(self) -> str:
        return "ConvolutionBackward0"

    def forward(self, x, w, b=None):
        y, patches = self.algorithm.forward(x, w, b, self.geometry, self.needs_input_grad[1])
        self.save_for_backward(x, w, [patches])  # (in a list: saved as it is, not as a tensor)
        return y

    def backward_arrays(self, gy):  # first order: the algorithm's gradients straight from the arrays
        needs = tuple(self.needs_input_grad) + (False,) * (3 - len(self.needs_input_grad))
        x, w, (patches,) = self.saved_arrays
        return tuple(self.algorithm.gradients(gy, x, w, self.geometry, patches, needs))

    def backward(self, gy):
        needs = tuple(self.needs_input_grad) + (False,) * (3 - len(self.needs_input_grad))
        if not _GradState.enabled:
            return tuple(None if g is None else Tensor._make(g) for g in self.backward_arrays(gy._data))
        x, w, _ = self.saved_tensors
        gx = backward_op(ConvInputGrad(self.geometry, x.shape, self.algorithm), gy, w) if needs[0] else None
        gw = backward_op(ConvWeightGrad(self.geometry, w.shape, self.algorithm), x, gy) if needs[1] else None
        gb = backward_op(ConvBiasGrad(), gy) if needs[2] else None
        return gx, gw, gb


class ConvInputGrad(Op):
    """dx = col2im(W^T @ dY): the gradient of conv2d with respect to its input (a transposed conv)."""

    def __init__(self, geometry: ConvGeometry, input_shape: tuple[int, ...], algorithm: Any = IM2COL) -> None:
        self.geometry, self.input_shape, self.algorithm = geometry, tuple(input_shape), algorithm

    def name(self) -> str:
        return "ConvolutionBackwardBackward0"

    def forward(self, gy, w):
        self.save_for_backward(gy, w)
        return self.algorithm.input_grad(gy, w, self.input_shape, self.geometry)

    def backward(self, ggx):
        # dx is bilinear in (dY, W): d/d(dY) is conv2d(ggx, W), d/dW is the weight gradient of (ggx, dY)
        gy, w = self.saved_tensors
        ggy = Conv2d(self.geometry, self.algorithm)(ggx, w) if self.needs_input_grad[0] else None
        gw = ConvWeightGrad(self.geometry, w.shape, self.algorithm)(ggx, gy) if self.needs_input_grad[1] else None
        return ggy, gw


class ConvWeightGrad(Op):
    """dW = dY @ im2col(x)^T: the gradient of conv2d with respect to its weight."""

    def __init__(self, geometry: ConvGeometry, weight_shape: tuple[int, ...], algorithm: Any = IM2COL) -> None:
        self.geometry, self.weight_shape, self.algorithm = geometry, tuple(weight_shape), algorithm

    def name(self) -> str:
        return "ConvolutionBackwardBackward0"

    def forward(self, x, gy):
        self.save_for_backward(x, gy)
        return self.algorithm.weight_grad(x, gy, self.weight_shape, self.geometry)

    def backward(self, ggw):
        x, gy = self.saved_tensors
        gx = ConvInputGrad(self.geometry, x.shape, self.algorithm)(gy, ggw) if self.needs_input_grad[0] else None
        ggy = Conv2d(self.geometry, self.algorithm)(x, ggw) if self.needs_input_grad[1] else None
        return gx, ggy


class ConvBiasGrad(Op):
    """db[o] = sum of dY[:, o] over the batch and the image."""

    def name(self) -> str:
        return "ConvolutionBackwardBackward0"

    def forward(self, gy):
        self.shape = gy.shape
        return gy.sum((0, 2, 3))

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
        return col2im(cols.transpose(1, 2, 0).reshape(c, kh, kw, oh, ow, n), self.output_shape, self.geometry)

    def backward(self, gy):
        return Unfold(self.kernel, self.geometry)(gy)
