"""Matrix products: matmul (1-D, 2-D, batched with broadcasting), mm, bmm, mv, dot, outer.

For C = A @ B: dA = dC @ B^T and dB = A^T @ dC, with 1-D operands treated as a row (A) or a column
(B) and broadcast batch dims summed back by the engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing import _dtype
from shenjing._ops._util import as_operand, cast_to, check_tensor
from shenjing._ops.shape import squeeze, transpose, unsqueeze
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op, shown_as


__all__ = ["matmul", "mm", "bmm", "mv", "dot", "outer", "ger"]

class MatMul(Op):
    def name(self) -> str:
        """PyTorch's name for the node its matmul ends with: mm, dot or mv for matrices and vectors; the
        squeeze of a row vector's product; the transposed copy for a matrix times a batch; else the view
        that unfolds a batched product."""
        kinds = {(2, 2): "MmBackward0", (1, 1): "DotBackward0", (2, 1): "MvBackward0",
                 (1, 2): "SqueezeBackward4"}
        if self.ndims in kinds:
            return kinds[self.ndims]
        return "CloneBackward0" if self.ndims[0] == 2 else "UnsafeViewBackward0"

    def forward(self, a, b):
        self.ndims = (a.ndim, b.ndim)
        self.save_for_backward(a, b)
        return np.matmul(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        # a 1-D operand is a row (a) or a column (b); put the dims it lost back into the gradient
        a2 = unsqueeze(a, 0) if a.ndim == 1 else a
        b2 = unsqueeze(b, -1) if b.ndim == 1 else b
        g2 = unsqueeze(gy, -1) if b.ndim == 1 else gy
        g2 = unsqueeze(g2, -2) if a.ndim == 1 else g2
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = matmul(g2, transpose(b2, -1, -2))
            ga = squeeze(ga, -2) if a.ndim == 1 else ga
        if self.needs_input_grad[1]:
            gb = matmul(transpose(a2, -1, -2), g2)
            gb = squeeze(gb, -1) if b.ndim == 1 else gb
        return ga, gb


def _shape_text(shape: tuple) -> str:
    return "x".join(str(s) for s in shape)


def matmul(input: Any, other: Any) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics: 1-D @ 1-D is a dot product, batch dims broadcast.

    Shapes: (n,) @ (n,) -> (); (m, n) @ (n, p) -> (m, p); (B, m, n) @ (n, p) -> (B, m, p).
    """
    a, b = as_operand(input), as_operand(other)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul: both arguments must be tensors (use * to multiply by a number)")
    if a._data.ndim == 0 or b._data.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a._data.ndim}D and {b._data.ndim}D")
    inner_a = a._data.shape[-1]
    inner_b = b._data.shape[-2] if b._data.ndim > 1 else b._data.shape[0]
    if inner_a != inner_b:
        shape_a = a._data.shape if a._data.ndim > 1 else (1,) + a._data.shape
        shape_b = b._data.shape if b._data.ndim > 1 else b._data.shape + (1,)
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_shape_text(shape_a[-2:])} and "
                           f"{_shape_text(shape_b[-2:])}); full shapes {list(a.shape)} and {list(b.shape)}")
    dtype = _dtype.result_type(a, b)
    if a._data.dtype != b._data.dtype and a._data.ndim and b._data.ndim:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {a.dtype} != {b.dtype}")
    return MatMul()(cast_to(a, dtype), cast_to(b, dtype))


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two matrices: (n, m) @ (m, p) -> (n, p)."""
    _check_ndim("mm", input, 2, "self")
    _check_ndim("mm", mat2, 2, "mat2")
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched product: (B, n, m) @ (B, m, p) -> (B, n, p), same B."""
    _check_ndim("bmm", input, 3, "batch1")
    _check_ndim("bmm", mat2, 3, "batch2")
    if input._data.shape[0] != mat2._data.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got "
                           f"{input._data.shape[0]} and {mat2._data.shape[0]}")
    return shown_as(matmul(input, mat2), "BmmBackward0")


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix-vector product: (n, m) @ (m,) -> (n,)."""
    _check_ndim("mv", input, 2, "self")
    _check_ndim("mv", vec, 1, "vec")
    return matmul(input, vec)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of the same length."""
    _check_ndim("dot", input, 1, "self")
    _check_ndim("dot", other, 1, "tensor")
    if input._data.shape != other._data.shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input._data.shape[0]}] and src "
                           f"[{other._data.shape[0]}] to have the same number of elements, but got "
                           f"{input._data.shape[0]} and {other._data.shape[0]} elements respectively")
    return matmul(input, other)




def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-D tensors: out[i, j] = input[i] * vec2[j]."""
    _check_ndim("outer", input, 1, "self")
    _check_ndim("outer", vec2, 1, "vec2")
    return unsqueeze(input, 1) * unsqueeze(vec2, 0)


ger = outer


def _check_ndim(name: str, x: Any, ndim: int, argument: str) -> None:
    check_tensor(x, f"{name}(): {argument}")
    if x._data.ndim != ndim:
        raise RuntimeError(f"{name}: {argument} must be a {ndim}D tensor, got a tensor of shape {list(x.shape)}")
