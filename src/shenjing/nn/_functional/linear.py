"""The affine map of a fully connected layer, ``F.linear(x, W, b) = x W^T + b``, as one fused op; and
Maxout, the maximum of several such maps."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from shenjing._dtype import from_numpy_dtype
from shenjing._ops.chain import differentiated
from shenjing._ops._util import check_tensor
from shenjing._tensor import Tensor
from shenjing._ops.elementwise import PositivePart, positive_part, rectify
from shenjing._workspace import take
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op, backward_op

__all__ = ["linear", "maxout"]


class Linear(Op):
    """y = x W^T + b for x (*, in), W (out, in), b (out,): one GEMM and an in-place bias add forward.

    gx = gy W, gW = gy^T x (summed over every leading dim), gb = gy summed over every leading dim:
    three ops of their own (below), each the others' backward, so the gradients are differentiable.
    A first-order backward (nothing recorded) runs the same kernels on the arrays directly.
    """

    def forward(self, x, weight, bias=None):
        self.save_for_backward(x, weight)
        out = np.matmul(x, weight.T)
        if bias is not None:
            out += bias
        return out

    def backward(self, gy):
        if not _GradState.enabled:
            x, weight = self.saved_arrays
            return self._array_gradients(gy._data, x, weight)
        x, weight = self.saved_tensors
        return self._gradients(gy, x, weight)

    def _gradients(self, gy, x, weight):
        needs = self.needs_input_grad
        gx = backward_op(LinearInputGrad(), gy, weight) if needs[0] else None
        gw = backward_op(LinearWeightGrad(), gy, x) if needs[1] else None
        gb = backward_op(SumLeading(), gy) if len(needs) > 2 and needs[2] else None
        return (gx, gw) if len(needs) == 2 else (gx, gw, gb)

    def _array_gradients(self, gy: np.ndarray, x: np.ndarray, weight: np.ndarray) -> tuple:
        """``_gradients`` without the graph: at batch 1 the three backward ops' bookkeeping costs
        several times their arithmetic."""
        needs = self.needs_input_grad
        grads = _layer_gradients(gy, x, weight, needs[0], needs[1], len(needs) > 2 and needs[2])
        wrapped = tuple(None if g is None else Tensor._make(g) for g in grads)
        return wrapped[:2] if len(needs) == 2 else wrapped


class LinearRelu(Linear):
    """y = relu(x W^T + b), Linear and ReLU as one op: the rectification in place on the product, and in
    backward the mask gy * (y > 0) before Linear's three gradients (one node instead of two: at batch 1 a
    node costs about as much as its arithmetic). Used by ``shenjing.models`` when no hook watches the layers."""

    def name(self) -> str:
        return "ReluBackward0"

    def forward(self, x, weight, bias=None):
        product = super().forward(x, weight, bias)
        out = rectify(product, out=product)
        self.save_for_backward(x, weight, out)
        return out

    def backward(self, gy):
        if not _GradState.enabled:
            x, weight, out = self.saved_arrays
            return self._array_gradients(positive_part(gy._data, out), x, weight)
        x, weight, out = self.saved_tensors
        return super()._gradients(backward_op(PositivePart(out._data), gy), x, weight)


class LinearStack(Op):
    """Linear layers in a row with ReLU between them, as one op (one node of the graph):

        h_0 = x (flattened from dim 1 with ``flatten``),  h_i = relu(h_{i-1} W_i^T + b_i) for i < L,
        y = h_{L-1} W_L^T + b_L.

    Backward runs the layers' gradients in reverse on the arrays: from g = gy, for i = L .. 1,
    gW_i = g^T h_{i-1}, gb_i = sum g, then g <- (g W_i) * (h_{i-1} > 0) (gx = g W_1, unflattened).
    Each layer does ``Linear``'s and ``LinearRelu``'s arithmetic, so the values and gradients are theirs
    bit for bit; what goes is the per-layer bookkeeping (at batch 1 to 64 a node costs as much as a
    small layer's arithmetic). Under ``create_graph`` the layers run again as those ops from the saved
    inputs and are differentiated, so higher derivatives exist. Inputs: x, W_1, b_1, ..., W_L, b_L (a
    bias may be None). Used by ``shenjing.models`` when no hook watches the layers.
    """

    def __init__(self, flatten: bool) -> None:
        self.flatten = flatten
        self.hidden: list | None = None

    def name(self) -> str:
        return "LinearStackBackward0"

    def forward(self, x, *params):
        h = _flattened(x) if self.flatten else x
        last = len(params) // 2 - 1
        hidden = []  # h_1 .. h_{L-1}, for the masks and the weight gradients
        for i in range(last + 1):
            weight, bias = params[2 * i], params[2 * i + 1]
            h = np.matmul(h, weight.T)
            if bias is not None:
                h += bias
            if i < last:
                h = rectify(h, out=h)
                hidden.append(h)
        self.save_for_backward(x, *params)
        self.hidden = hidden  # made here and seen by no one else: kept without version checks
        return h

    def backward(self, gy):
        if _GradState.enabled:
            return self._recomputed_gradients(gy)
        x, *params = self.saved_arrays
        needs = self.needs_input_grad
        inputs = [_flattened(x) if self.flatten else x] + self.hidden
        grads: list = [None] * len(needs)
        g = gy._data
        for i in reversed(range(len(inputs))):
            if i < len(inputs) - 1:
                g = positive_part(g, inputs[i + 1])
            g, gw, gb = _layer_gradients(g, inputs[i], params[2 * i], i > 0 or needs[0], needs[2 * i + 1],
                                         needs[2 * i + 2])
            grads[2 * i + 1] = None if gw is None else Tensor._make(gw)
            grads[2 * i + 2] = None if gb is None else Tensor._make(gb)
        if needs[0]:
            grads[0] = Tensor._make(g.reshape(x.shape))
        return tuple(grads)

    def _recomputed_gradients(self, gy: Tensor) -> tuple:
        """create_graph: the layers again as differentiable ops (``stacked_layers``), differentiated."""
        inputs = self.saved_tensors
        return differentiated(stacked_layers(inputs[0], inputs[1:], self.flatten), inputs, self.needs_input_grad, gy)

    def _release(self) -> None:
        super()._release()
        self.hidden = None


def _flattened(x: np.ndarray) -> np.ndarray:
    """x (N, ...) as (N, features) (written out: -1 cannot be inferred for an empty batch)."""
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


def stacked_layers(x: Tensor, params: Sequence[Tensor | None], flatten: bool) -> Tensor:
    """``LinearStack``'s map as the layers' own ops, one node each (its reference, and its
    differentiable form)."""
    h = x.flatten(1) if flatten else x
    last = len(params) // 2 - 1
    for i in range(last + 1):
        op = LinearRelu() if i < last else Linear()
        weight, bias = params[2 * i], params[2 * i + 1]
        h = op(h, weight) if bias is None else op(h, weight, bias)
    return h


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
    return np.dot(gy2.T, x2, out=take("linear.weight_grad", (gy2.shape[1], x2.shape[1]), x.dtype))


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
    return Linear()(input, weight) if bias is None else Linear()(input, weight, bias)


def linear_relu(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """relu(linear(input, weight, bias)) as one op (``LinearRelu``): the same values and gradients.
    (Internal: ``shenjing.models`` uses it where nothing watches the two layers.)"""
    _check_linear(input, weight, bias)
    return LinearRelu()(input, weight) if bias is None else LinearRelu()(input, weight, bias)


def linear_stack(input: Tensor, params: Sequence[Tensor | None], flatten: bool = False) -> Tensor:
    """Linear layers with ReLU between them (none after the last) as one op (``LinearStack``): the same
    values and gradients as ``linear_relu``, ..., ``linear`` in a row. ``params`` is W_1, b_1, ..., W_L,
    b_L (a bias may be None); ``flatten`` flattens the input from dim 1 first.
    (Internal: ``shenjing.models`` uses it where nothing watches the layers.)"""
    check_tensor(input)
    shape, dtype = input._data.shape, input._data.dtype
    if flatten:
        if len(shape) < 2:
            raise RuntimeError(f"linear_stack: flatten needs a batched input (N, ...), got shape {list(shape)}")
        shape = (shape[0], math.prod(shape[1:]))
    for weight, bias in zip(params[::2], params[1::2]):
        _check_layer(shape, dtype, weight, bias)
        shape = shape[:-1] + (weight._data.shape[0],)
    return LinearStack(flatten)(input, *params)


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
