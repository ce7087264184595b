"""The affine map of a fully connected layer, ``F.linear(x, W, b) = x W^T + b``, as one fused op; and
Maxout, the maximum of several such maps."""

from __future__ import annotations

import math
import numpy as np

from shenjing._dtype import from_numpy_dtype
from shenjing._ops._util import check_tensor
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op

__all__ = ["linear", "bilinear", "maxout"]


class Linear(Op):
    """y = x W^T + b for x (*, in), W (out, in), b (out,): one GEMM and an in-place bias add forward.

    The inputs are (b, x, W), or (x, W) without a bias: PyTorch's order for addmm and mm, so that
    ``grad_fn.next_functions`` lists them as PyTorch does. gx = gy W, gW = gy^T x (summed over every
    leading dim), gb = gy summed over every leading dim: three ops of their own (below), each the
    others' backward, so the gradients are differentiable. A first-order backward (nothing recorded)
    runs the same kernels on the arrays directly; its gradients are new arrays (``owns_gradients``).
    """

    owns_gradients = True

    def name(self) -> str:
        """PyTorch's names: addmm (or mm without bias) for a batch of vectors, then a view for other shapes."""
        if self.input_ndim != 2:
            return "ViewBackward0"
        return "AddmmBackward0" if self.has_bias else "MmBackward0"

    def forward(self, *inputs):
        self.has_bias = len(inputs) == 3
        bias, x, weight = inputs if self.has_bias else (None, *inputs)
        self.input_ndim = x.ndim
        self.save_for_backward(x, weight)
        out = np.matmul(x, weight.T)
        if bias is not None:
            out += bias
        return out

    def backward(self, gy):
        x, weight = self.saved_tensors
        needs_b, needs_x, needs_w = self._needs()
        gx = LinearInputGrad()(gy, weight) if needs_x else None
        gw = LinearWeightGrad()(gy, x) if needs_w else None
        gb = SumLeading()(gy) if needs_b else None
        return (gb, gx, gw) if self.has_bias else (gx, gw)

    def backward_arrays(self, gy):
        x, weight = self.saved_arrays
        needs_b, needs_x, needs_w = self._needs()
        gx, gw, gb = _layer_gradients(gy, x, weight, needs_x, needs_w, needs_b)
        return (gb, gx, gw) if self.has_bias else (gx, gw)

    def _needs(self) -> tuple[bool, bool, bool]:
        """Which of (b, x, W) need a gradient."""
        needs = self.needs_input_grad
        return tuple(needs) if self.has_bias else (False, *needs)


class LinearInputGrad(Op):
    """gx = gy W for gy (*, out), W (out, in)."""

    def name(self) -> str:
        return "MmBackward0"

    def forward(self, gy, weight):
        self.save_for_backward(gy, weight)
        return np.matmul(gy, weight)

    def backward(self, ggx):
        gy, weight = self.saved_tensors
        ggy = Linear()(ggx, weight) if self.needs_input_grad[0] else None
        gw = LinearWeightGrad()(gy, ggx) if self.needs_input_grad[1] else None
        return ggy, gw


class LinearWeightGrad(Op):
    """gW = gy^T x for gy (*, out), x (*, in), summed over the leading dims: (out, in)."""

    def name(self) -> str:
        return "MmBackward0"

    def forward(self, gy, x):
        self.save_for_backward(gy, x)
        return _weight_grad(gy, x)

    def backward(self, ggw):
        gy, x = self.saved_tensors
        ggy = Linear()(x, ggw) if self.needs_input_grad[0] else None
        gx = LinearInputGrad()(gy, ggw) if self.needs_input_grad[1] else None
        return ggy, gx


class SumLeading(Op):
    """The sum over every dim but the last: (*, n) -> (n,) (the bias gradient)."""

    def name(self) -> str:
        return "SumBackward1"

    def forward(self, gy):
        self.shape = gy.shape
        return _sum_leading(gy)

    def backward(self, ggb):
        return ggb.expand(self.shape)


def _layer_gradients(gy: np.ndarray, x: np.ndarray, weight: np.ndarray, needs_x: bool, needs_w: bool,
                     needs_b: bool) -> tuple:
    """One Linear layer's (gx, gW, gb) on arrays, None where not needed: gy W, gy^T x, gy summed over the
    leading dims (the kernels of the three backward ops)."""
    gx = np.matmul(gy, weight) if needs_x else None
    gw = _weight_grad(gy, x) if needs_w else None
    gb = _sum_leading(gy) if needs_b else None
    return gx, gw, gb


def _weight_grad(gy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """gW = gy^T x over every leading dim: (out, in)."""
    gy2, x2 = gy.reshape(-1, gy.shape[-1]), x.reshape(-1, x.shape[-1])
    # np.dot: np.matmul takes a slow path for the outer product of a single sample (7x at batch 1)
    return np.dot(gy2.T, x2)


def _sum_leading(gy: np.ndarray) -> np.ndarray:
    """gy summed over every dim but the last."""
    return np.add.reduce(gy.reshape(-1, gy.shape[-1]), axis=0)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """The affine map y = x W^T + b of a fully connected layer.

    Shapes: input (*, in_features), weight (out_features, in_features), bias (out_features,)
    -> (*, out_features). A 1-D input (in_features,) gives (out_features,).

    >>> import shenjing
    >>> x = shenjing.tensor([[1.0, 2.0]])
    >>> linear(x, shenjing.tensor([[1.0, 1.0], [0.0, -1.0]]), shenjing.tensor([0.5, 0.0]))
    tensor([[ 3.5000, -2.0000]])
    """
    _check_linear(input, weight, bias)
    return Linear()(input, weight) if bias is None else Linear()(bias, input, weight)


def _check_linear(input: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """The checks of ``linear``'s operands: shapes and dtypes, with PyTorch's messages."""
    check_tensor(input)
    _check_layer(input._data.shape, input._data.dtype, weight, bias)


def _check_layer(shape: tuple[int, ...], dtype: np.dtype, weight: Tensor, bias: Tensor | None) -> None:
    """``_check_linear`` for an input of ``shape`` and ``dtype``."""
    check_tensor(weight, "linear(): weight")
    w = weight._data
    if w.ndim != 2:
        raise RuntimeError(f"linear: weight must be 2-D (out_features, in_features), got shape {list(w.shape)}")
    if not shape or shape[-1] != w.shape[1]:
        rows = math.prod(shape) // shape[-1] if shape and shape[-1] else 1
        columns = shape[-1] if shape else 1
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{columns} and "
                           f"{w.shape[1]}x{w.shape[0]}): input {list(shape)}, weight {list(w.shape)}")
    if dtype != w.dtype:
        raise RuntimeError(f"linear: expected input and weight to have the same dtype, but got "
                           f"{from_numpy_dtype(dtype)} and {weight.dtype}")
    if bias is None:
        return
    check_tensor(bias, "linear(): bias")
    b = bias._data
    if b.shape != (w.shape[0],) and b.shape not in ((), (1,)):
        raise RuntimeError(f"linear: bias must have shape [{w.shape[0]}] (out_features), got {list(b.shape)}")
    if b.dtype != w.dtype:
        raise RuntimeError(f"linear: expected bias and weight to have the same dtype, but got {bias.dtype} "
                           f"and {weight.dtype}")


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_k = x1^T W_k x2 + b_k: a bilinear form per output feature.

    Shapes: input1 (*, in1), input2 (*, in2) with the same leading dims, weight (out, in1, in2),
    bias (out,) -> (*, out). Computed as two products: t = x1 @ W (viewed (in1, out*in2)), then
    y = sum over in2 of t * x2.

    >>> import shenjing
    >>> w = shenjing.tensor([[[1.0, 0.0], [0.0, 2.0]]])  # x1^T diag(1, 2) x2
    >>> bilinear(shenjing.tensor([[1.0, 1.0]]), shenjing.tensor([[3.0, 4.0]]), w)
    tensor([[11.]])
    """
    for name, tensor in (("input1", input1), ("input2", input2), ("weight", weight)):
        check_tensor(tensor, f"bilinear(): {name}")
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-dimensional (out_features, in1_features, in2_features), "
                           f"got weight of size {list(weight.shape)}")
    out_features, in1, in2 = weight.shape
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and {input2.ndim}")
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
                           f"{list(input2.shape[:-1])}")
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but "
                           f"expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but "
                           f"expected {in2}")
    if bias is not None and tuple(bias.shape) != (out_features,):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {list(bias.shape)} but expected "
                           f"[{out_features}]")
    mixed = input1.matmul(weight.permute(1, 0, 2).reshape(in1, out_features * in2))  # (*, out * in2)
    y = (mixed.reshape(*input1.shape[:-1], out_features, in2) * input2.unsqueeze(-2)).sum(-1)
    return y if bias is None else y + bias


def maxout(input: Tensor, weight: Tensor, bias: Tensor | None, pieces: int) -> Tensor:
    """Maxout (Goodfellow et al. 2013): the largest of ``pieces`` affine maps, per output unit.

    y_j = max_{k < pieces} (W_{j,k} . x + b_{j,k}); the course's max(w1^T x + b1, w2^T x + b2) is
    pieces = 2. ``weight`` (out_features * pieces, in_features) holds piece k of unit j in row
    j * pieces + k. The gradient flows only to the winning piece. A shenjing extension (PyTorch has
    no maxout). Shapes: input (*, in_features) -> (*, out_features).

    >>> import shenjing
    >>> w = shenjing.tensor([[1.0], [-1.0]])        # one unit, pieces x and -x: y = |x|
    >>> maxout(shenjing.tensor([[-3.0], [2.0]]), w, None, pieces=2)
    tensor([[3.],
            [2.]])
    """
    if weight.ndim != 2 or weight.shape[0] % pieces:
        raise RuntimeError(f"maxout: weight must be (out_features * pieces, in_features) with pieces={pieces}, "
                           f"got {list(weight.shape)}")
    out = linear(input, weight, bias)
    return out.unflatten(-1, (weight.shape[0] // pieces, pieces)).amax(-1)
