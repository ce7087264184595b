"""Binary and ternary elementwise maths beyond ``elementwise.py``: atan2, hypot, logaddexp, copysign,
xlogy, fmax/fmin, float_power, gcd/lcm, ldexp, nextafter, heaviside, lerp, the fused ``add*`` products,
bitwise logic, and the lookups isin / bucketize / searchsorted.

Operands broadcast and promote as in ``elementwise.py``; float-valued functions turn integers into the
default float dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shenjing import _dtype
from shenjing._ops._util import array_of, as_operand, cast_to, check_tensor, float_input
from shenjing._ops.elementwise import _binary, _float_binary, add, clamp, exp, mul, where
from shenjing._ops.linalg import matmul, outer
from shenjing._ops.shape import reshape, transpose
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op, shown_as

__all__ = ["atan2", "arctan2", "hypot", "logaddexp", "logaddexp2", "copysign", "heaviside", "xlogy",
           "fmax", "fmin", "float_power", "gcd", "lcm", "ldexp", "nextafter", "lerp", "addcmul", "addcdiv",
           "addmm", "addmv", "addbmm", "baddbmm", "addr", "clamp_min", "clamp_max", "isin", "bucketize",
           "searchsorted", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
           "bitwise_right_shift", "inner", "rsub"]


# -- float-valued binary functions ------------------------------------------------------------------

class Atan2(Op):
    """The angle of the point (x, y) = (other, input); d/dy = x / r^2, d/dx = -y / r^2."""

    def forward(self, y, x):
        self.save_for_backward(y, x)
        return np.arctan2(y, x)

    def backward(self, g):
        y, x = self.saved_tensors
        r2 = x * x + y * y
        return g * x / r2, -g * y / r2


class Hypot(Op):
    """sqrt(x^2 + y^2) without overflow; d/dx = x / out, d/dy = y / out."""

    def forward(self, x, y):
        out = np.hypot(x, y)
        self.save_for_backward(x, y, out)
        return out

    def backward(self, g):
        x, y, out = self.saved_tensors
        return g * x / out, g * y / out


class LogAddExp(Op):
    """log(e^a + e^b) = m + log(e^(a-m) + e^(b-m)), m = max(a, b); d/da = e^(a - out)."""

    def __init__(self, base2: bool = False) -> None:
        self.base2 = base2

    def name(self) -> str:
        return "Logaddexp2Backward0" if self.base2 else "LogaddexpBackward0"

    def forward(self, a, b):
        with np.errstate(invalid="ignore"):
            out = np.logaddexp2(a, b) if self.base2 else np.logaddexp(a, b)
        self.save_for_backward(a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved_tensors
        if self.base2:  # 2^(a - out)
            return g * exp((a - out) * math.log(2)), g * exp((b - out) * math.log(2))
        return g * exp(a - out), g * exp(b - out)


class CopySign(Op):
    """|a| with the sign of b; d/da = out / a (0 where a is 0); no gradient for b."""

    def name(self) -> str:
        return "CopysignBackward0"

    def forward(self, a, b):
        out = np.copysign(a, b)
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, out = self.saved_tensors
        return where(a == 0, 0.0, g * out / where(a == 0, 1.0, a)), g * 0.0


class FMax(Op):
    """max(a, b) ignoring nan (nan only where both are); ties send the gradient to a."""

    def __init__(self, largest: bool) -> None:
        self.largest = largest

    def name(self) -> str:
        return "FmaxBackward0" if self.largest else "FminBackward0"

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.fmax(a, b) if self.largest else np.fmin(a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        wins = (a >= b) if self.largest else (a <= b)
        to_a = Tensor._make(wins._data | np.isnan(b._data))
        return where(to_a, g, 0.0), where(to_a, 0.0, g)


def atan2(input: Any, other: Any) -> Tensor:
    """The angle of (other, input) in (-pi, pi]: atan(input / other) in the right quadrant."""
    return _float_binary(Atan2, input, other)


arctan2 = atan2


def hypot(input: Tensor, other: Tensor) -> Tensor:
    """sqrt(input^2 + other^2); floating-point tensors only."""
    _float_only("hypot", input, other)
    return _float_binary(Hypot, input, other)


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """log(e^input + e^other), without overflow."""
    _float_only("logaddexp", input, other)
    return _float_binary(LogAddExp, input, other)


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """log2(2^input + 2^other), without overflow."""
    _float_only("logaddexp2", input, other)
    return _float_binary(lambda: LogAddExp(base2=True), input, other)


def copysign(input: Any, other: Any) -> Tensor:
    """|input| with the sign of other (including -0.0); the result is floating point."""
    return _float_binary(CopySign, input, other)


def fmax(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum that ignores nan (nan only where both are nan)."""
    return _binary(lambda: FMax(True), input, other)


def fmin(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum that ignores nan."""
    return _binary(lambda: FMax(False), input, other)


class XLogY(Op):
    """x log y, 0 where x == 0 (unless y is nan); d/dx = log y (0 where x == 0 and y <= 0), d/dy = x / y."""

    def name(self) -> str:
        return "XlogyBackward0"

    def forward(self, x, y):
        self.save_for_backward(x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            product = x * np.log(y)
        return np.where((x == 0) & ~np.isnan(y), 0, product).astype(product.dtype, copy=False)

    def backward(self, g):
        x, y = self.saved_tensors
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = where((x == 0) & (y <= 0), 0.0, xlogy(g, y))
        if self.needs_input_grad[1]:
            gy = g * x / y
        return gx, gy


def xlogy(input: Any, other: Any) -> Tensor:
    """input * log(other), and 0 where input is 0 (unless other is nan)."""
    return _float_binary(XLogY, input, other)


def float_power(input: Any, exponent: Any) -> Tensor:
    """input ** exponent computed in float64 (the result is float64)."""
    a, b = as_operand(input), as_operand(exponent)
    a = cast_to(a, _dtype.float64) if isinstance(a, Tensor) else float(a)
    b = cast_to(b, _dtype.float64) if isinstance(b, Tensor) else float(b)
    if not isinstance(a, Tensor):
        a = Tensor._make(np.asarray(a))
    return a ** b


def ldexp(input: Tensor, other: Any) -> Tensor:
    """input * 2^other (the result is floating point)."""
    from shenjing._ops.special import exp2

    x = float_input(check_tensor(input))
    other = as_operand(other)
    if isinstance(other, Tensor):
        scale = exp2(cast_to(other, x.dtype) if other._data.dtype.kind != "f" else other)
    else:
        scale = 2.0 ** other
    return mul(x, scale)


def _float_only(name: str, *operands: Any) -> None:
    for x in operands:
        if isinstance(x, Tensor) and x._data.dtype.kind != "f":
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_kind_name(x)}'")


def _integer_only(name: str, *operands: Any) -> None:
    for x in operands:
        if isinstance(x, Tensor) and x._data.dtype.kind not in "biu":
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_kind_name(x)}'")
        if isinstance(x, float):
            raise TypeError(f"{name}(): expected an integer operand, got the float {x!r}")


def _kind_name(x: Tensor) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bool": "Bool", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte"}[x.dtype.name]


def _integer_binary(function: Any, name: str, a: Any, b: Any, bool_ok: bool = True) -> Tensor:
    a, b = as_operand(a), as_operand(b)
    _integer_only(name, a, b)
    if not bool_ok:
        for x in (a, b):
            if isinstance(x, Tensor) and x._data.dtype == np.bool_:
                raise NotImplementedError(f"\"{name}_cpu\" not implemented for 'Bool'")
    dtype = _dtype.result_type(a, b)
    x = cast_to(a, dtype)
    y = cast_to(b, dtype)
    result = function(array_of(x), array_of(y))
    return Tensor._make(np.asarray(result).astype(dtype.numpy, copy=False))


def gcd(input: Tensor, other: Tensor) -> Tensor:
    """Greatest common divisor (non-negative) of integer tensors; gcd(0, 0) = 0."""
    return _integer_binary(np.gcd, "gcd", input, other, bool_ok=False)


def lcm(input: Tensor, other: Tensor) -> Tensor:
    """Least common multiple (non-negative) of integer tensors."""
    return _integer_binary(np.lcm, "lcm", input, other, bool_ok=False)


def bitwise_and(input: Any, other: Any) -> Tensor:
    """Bitwise AND of integer or bool tensors (logical AND for bool)."""
    return _integer_binary(np.bitwise_and, "bitwise_and", input, other)


def bitwise_or(input: Any, other: Any) -> Tensor:
    return _integer_binary(np.bitwise_or, "bitwise_or", input, other)


def bitwise_xor(input: Any, other: Any) -> Tensor:
    return _integer_binary(np.bitwise_xor, "bitwise_xor", input, other)


def bitwise_left_shift(input: Any, other: Any) -> Tensor:
    """input << other for integer tensors."""
    return _integer_binary(np.left_shift, "lshift", input, other, bool_ok=False)


def bitwise_right_shift(input: Any, other: Any) -> Tensor:
    """input >> other (arithmetic shift) for integer tensors."""
    return _integer_binary(np.right_shift, "rshift", input, other, bool_ok=False)


def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """The next floating-point value after input towards other (not differentiable)."""
    _float_only("nextafter", input, other)
    a, b = as_operand(input), as_operand(other)
    dtype = _dtype.result_type(a, b)
    return Tensor._make(np.nextafter(array_of(cast_to(a, dtype)), array_of(cast_to(b, dtype))))


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """0 where input < 0, 1 where input > 0, ``values`` where input == 0 (not differentiable)."""
    check_tensor(input)
    values = as_operand(values)
    if isinstance(values, Tensor) and values._data.dtype != input._data.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    return Tensor._make(np.heaviside(input._data, array_of(values)).astype(input._data.dtype))


# -- interpolation and fused products ---------------------------------------------------------------

def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:
    """input + weight (end - input); ``weight`` a number or a tensor (broadcasting).
    d/dinput = 1 - weight, d/dend = weight, d/dweight = end - input."""
    check_tensor(input)
    for name, other in (("end", end), ("weight", weight)):
        if isinstance(other, Tensor) and other._data.dtype != input._data.dtype:
            raise RuntimeError(f"expected dtype {input.dtype} for `{name}` but got dtype {other.dtype}")
    overload = 1 if isinstance(weight, Tensor) else 0  # PyTorch's lerp by a tensor, by a number
    return shown_as(input + weight * (end - input), f"LerpBackward{overload}")


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """input + value * tensor1 * tensor2."""
    return shown_as(add(input, mul(tensor1, tensor2) * value if value != 1 else mul(tensor1, tensor2)),
                    "AddcmulBackward0")


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """input + value * tensor1 / tensor2 (true division; integer tensor1 and tensor2 are refused)."""
    for x in (tensor1, tensor2):
        if isinstance(x, Tensor) and x._data.dtype.kind != "f":
            raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future release "
                               "addcdiv will perform a true division of tensor1 and tensor2. The historic "
                               "addcdiv behavior can be implemented as (input + value * torch.trunc(tensor1 / "
                               "tensor2)).to(input.dtype) for integer inputs and as (input + value * tensor1 / "
                               "tensor2) for float inputs. The future addcdiv behavior is just the latter "
                               "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
    quotient = tensor1 / tensor2
    return shown_as(add(input, quotient * value if value != 1 else quotient), "AddcdivBackward0")


def _scaled_sum(name: str, input: Tensor, product: Tensor, beta: Any, alpha: Any) -> Tensor:
    """beta * input + alpha * product; with beta = 0 the input is ignored (nan and inf in it too).
    ``input`` broadcasts to the product's shape (the result never grows)."""
    shape = product._data.shape
    try:
        fits = np.broadcast_shapes(tuple(check_tensor(input).shape), shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(f"{name}: the input of shape {list(input.shape)} cannot be broadcast to the "
                           f"product's shape {list(shape)}")
    product = product if alpha == 1 else product * alpha
    if beta == 0:
        return product
    return add(product, input if beta == 1 else input * beta)


def _need_ndim(name: str, x: Any, ndim: int, what: str) -> None:
    check_tensor(x, f"{name}(): {what}")
    if x._data.ndim != ndim:
        raise RuntimeError(f"{name}: {what} must be a {ndim}-D tensor, got a tensor of shape {list(x.shape)}")


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2); input broadcasts to (n, p)."""
    _need_ndim("addmm", mat1, 2, "mat1")
    _need_ndim("addmm", mat2, 2, "mat2")
    return shown_as(_scaled_sum("addmm", input, matmul(mat1, mat2), beta, alpha), "AddmmBackward0")


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    _need_ndim("addmv", mat, 2, "mat")
    _need_ndim("addmv", vec, 1, "vec")
    return shown_as(_scaled_sum("addmv", input, matmul(mat, vec), beta, alpha), "AddmvBackward0")


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * sum_b batch1[b] @ batch2[b]."""
    _need_ndim("addbmm", batch1, 3, "batch1")
    _need_ndim("addbmm", batch2, 3, "batch2")
    from shenjing._ops.linalg import bmm
    from shenjing._ops.reduce import sum

    return shown_as(_scaled_sum("addbmm", input, sum(bmm(batch1, batch2), 0), beta, alpha), "AddbmmBackward0")


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * (batch1 @ batch2), batch by batch."""
    _need_ndim("baddbmm", batch1, 3, "batch1")
    _need_ndim("baddbmm", batch2, 3, "batch2")
    from shenjing._ops.linalg import bmm

    return shown_as(_scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha), "BaddbmmBackward0")


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2)."""
    return shown_as(_scaled_sum("addr", input, outer(vec1, vec2), beta, alpha), "AddrBackward0")


def rsub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """other - alpha * input (``sub`` with the operands swapped)."""
    from shenjing._ops.elementwise import sub

    overload = 0 if isinstance(other, Tensor) else 1  # PyTorch's rsub of a tensor, of a number
    return shown_as(sub(other, input, alpha=alpha), f"RsubBackward{overload}")


def clamp_min(input: Tensor, min: Any) -> Tensor:
    """max(input, min)."""
    return shown_as(clamp(input, min=min), "ClampMinBackward0")


def clamp_max(input: Tensor, max: Any) -> Tensor:
    """min(input, max)."""
    return shown_as(clamp(input, max=max), "ClampMaxBackward0")


# -- inner product of n-d tensors -------------------------------------------------------------------

def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum over the last dims: out[i..., j...] = sum_k input[i..., k] other[j..., k]; shapes
    (*a, n), (*b, n) -> (*a, *b). A 0-d operand multiplies."""
    a, b = check_tensor(input), check_tensor(other, "other")
    if a._data.ndim == 0 or b._data.ndim == 0:
        return mul(a, b)
    if a._data.shape[-1] != b._data.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(a.shape)} and {list(b.shape)}")
    n = a._data.shape[-1]
    rows = reshape(a, -1, n)
    cols = transpose(reshape(b, -1, n), 0, 1)
    return reshape(matmul(rows, cols), a._data.shape[:-1] + b._data.shape[:-1])


# -- lookups ----------------------------------------------------------------------------------------

def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """True where an element of ``elements`` occurs in ``test_elements`` (either may be a number)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): at least one of 'elements' and 'test_elements' must be a Tensor")
    values = np.asarray(array_of(elements))
    tests = np.asarray(array_of(test_elements)).reshape(-1)
    return Tensor._make(np.isin(values, tests, invert=invert))


def _index_dtype(out_int32: bool) -> Any:
    return np.int32 if out_int32 else np.int64


def bucketize(input: Any, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """For each value, the index i of its bucket in the sorted 1-D ``boundaries``:
    boundaries[i-1] < x <= boundaries[i] (``right=True``: boundaries[i-1] <= x < boundaries[i])."""
    check_tensor(boundaries, "boundaries")
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})")
    values = np.asarray(array_of(input))
    found = np.searchsorted(boundaries._data, values, side="right" if right else "left")
    return Tensor._make(np.asarray(found).astype(_index_dtype(out_int32)))


def searchsorted(sorted_sequence: Tensor, input: Any, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, sorter: Tensor | None = None) -> Tensor:
    """Indices where ``input`` would be inserted in ``sorted_sequence`` (along its last dim) to keep it
    sorted; an n-d sequence pairs its leading dims with those of ``input``. ``side='right'`` = ``right``."""
    check_tensor(sorted_sequence, "sorted_sequence")
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of "
                               "left while right was True")
        right = side == "right"
    sequence = sorted_sequence._data
    if sorter is not None:
        sequence = np.take_along_axis(sequence, sorter._data.astype(np.int64), axis=-1)
    values = np.asarray(array_of(input))
    how = "right" if right else "left"
    if sequence.ndim <= 1:
        found = np.searchsorted(sequence, values, side=how)
        return Tensor._make(np.asarray(found).astype(_index_dtype(out_int32)))
    if values.ndim == 0 or values.shape[:-1] != sequence.shape[:-1]:
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           f"dimensions of boundaries tensor and input value tensor must match, but we got "
                           f"boundaries tensor {list(sequence.shape)} and input value tensor {list(values.shape)}")
    rows = sequence.reshape(-1, sequence.shape[-1])
    queries = values.reshape(-1, values.shape[-1])
    found = np.stack([np.searchsorted(r, q, side=how) for r, q in zip(rows, queries)]).reshape(values.shape)
    return Tensor._make(found.astype(_index_dtype(out_int32)))
