"""Elementwise ops: arithmetic, powers, exponentials, trigonometry, activations, comparisons.

Binary ops promote their operands with PyTorch's rules (``shenjing._dtype.result_type``) before the
NumPy call, so a float32 tensor times a float64 scalar stays float32. Gradients of broadcast inputs
are summed back to the input's shape by the engine (one helper: ``shape.sum_to``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing import _dtype, _workspace
from shenjing._ops._util import as_operand, cast_to, float_input
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op, shown_as


__all__ = ["divide", "add", "sub", "mul", "div", "true_divide", "multiply", "subtract", "neg", "negative",
           "floor_divide", "remainder", "fmod", "pow", "square", "exp", "expm1", "log", "log1p", "sqrt",
           "rsqrt", "reciprocal", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "absolute", "sign",
           "floor", "ceil", "round", "clamp", "clip", "maximum", "minimum", "where", "cast", "clone"]

def _binary(op: type, a: Any, b: Any) -> Tensor:
    # fast paths: two tensors of one dtype, or a float tensor and a Python number (NumPy keeps the dtype)
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype == b._data.dtype:
                return op()(a, b)
        elif isinstance(b, (int, float)) and a._data.dtype.kind == "f":
            return op()(a, b)
    elif isinstance(b, Tensor) and isinstance(a, (int, float)) and b._data.dtype.kind == "f":
        return op()(a, b)
    a, b = as_operand(a), as_operand(b)
    dtype = _dtype.result_type(a, b)
    return op()(cast_to(a, dtype), cast_to(b, dtype))


def _float_binary(op: type, a: Any, b: Any) -> Tensor:
    """Like ``_binary`` but the result is floating point (true division of integers gives float32)."""
    a, b = as_operand(a), as_operand(b)
    dtype = _dtype.result_type(a, b)
    if not dtype.is_floating_point:
        dtype = _dtype.get_default_dtype()
    return op()(_scalar_or(a, dtype), _scalar_or(b, dtype))


def _scalar_or(value: Any, dtype: _dtype.dtype) -> Any:
    if isinstance(value, Tensor):
        return cast_to(value, dtype)
    return float(value) if dtype.is_floating_point and not isinstance(value, float) else value


# -- arithmetic ------------------------------------------------------------------------------------

class Add(Op):
    def forward(self, x, y):
        return x + y

    def backward(self, gy):
        return gy, gy


class Sub(Op):
    def forward(self, x, y):
        return x - y

    def backward(self, gy):
        return gy, -gy if self.needs_input_grad[1] else None


class Mul(Op):
    def forward(self, x, y):
        needs_x, needs_y = self.needs_input_grad
        self.save_for_backward(x if needs_y else None, y if needs_x else None)
        return x * y

    def backward(self, gy):
        x, y = self.saved_tensors
        gx = gy * y if self.needs_input_grad[0] else None
        gy_ = gy * x if self.needs_input_grad[1] else None
        return gx, gy_


class Div(Op):
    def forward(self, x, y):
        self.save_for_backward(x, y)
        with np.errstate(divide="ignore", invalid="ignore"):  # x/0 is inf or nan, silently, as in PyTorch
            return x / y

    def backward(self, gy):
        x, y = self.saved_tensors
        gx = gy / y
        return gx, -gx * x / y if self.needs_input_grad[1] else None


class Neg(Op):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input + alpha * other``, broadcasting."""
    return _binary(Add, input, other if alpha == 1 else mul(other, alpha))


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input - alpha * other``, broadcasting."""
    return _binary(Sub, input, other if alpha == 1 else mul(other, alpha))


def mul(input: Any, other: Any) -> Tensor:
    """``input * other``, broadcasting. d/dx = other, d/dother = x."""
    return _binary(Mul, input, other)


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``input / other`` (true division; integers give float32). ``rounding_mode``: 'trunc' or 'floor'."""
    if rounding_mode is None:
        return _float_binary(Div, input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    a, b = as_operand(input), as_operand(other)
    dtype = _dtype.result_type(a, b)
    x, y = _array(a), _array(b)
    if not dtype.is_floating_point:
        x, y = np.asarray(x).astype(dtype.numpy, copy=False), np.asarray(y).astype(dtype.numpy, copy=False)
        _check_integer_divisor(y, "div" if rounding_mode == "trunc" else "floor_divide")
        quotient = np.floor_divide(x, y)
        if rounding_mode == "trunc" and dtype.numpy.kind == "i":  # exact, where a float quotient would round
            quotient += (np.remainder(x, y) != 0) & ((x < 0) != (y < 0))
        return Tensor._make(np.asarray(quotient))
    return RoundedDiv(rounding_mode)(cast_to(a, dtype), cast_to(b, dtype) if isinstance(b, Tensor) else b)


class RoundedDiv(Op):
    """floor(x / y) or trunc(x / y) of floats: piecewise constant, so both gradients are zero (PyTorch's)."""

    def __init__(self, rounding_mode: str) -> None:
        self.rounding_mode = rounding_mode

    def name(self) -> str:
        return "DivBackward2"

    def forward(self, x, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.rounding_mode == "floor":
                return np.floor_divide(x, y)
            return np.trunc(np.true_divide(x, y))

    def backward(self, gy):
        return gy * 0.0, gy * 0.0


class FloorDivide(RoundedDiv):
    """``x // y`` and ``floor_divide`` of floats: PyTorch records the op but has no derivative for it."""

    def __init__(self) -> None:
        super().__init__("floor")

    def name(self) -> str:
        return "NotImplemented"

    def backward(self, gy):
        raise RuntimeError("derivative for floor_divide is not implemented (as in PyTorch); "
                           "div(a, b, rounding_mode='floor') has the same values and a zero gradient")


def _check_integer_divisor(divisor: Any, name: str) -> None:
    """Integer division or remainder by zero raises, as in PyTorch (NumPy gives 0 and a warning)."""
    if np.any(np.asarray(divisor) == 0):
        raise RuntimeError(f"ZeroDivisionError: integer division or modulo by zero in {name} (a divisor of "
                           f"an integer tensor is 0)")


true_divide = divide = div
multiply = mul
subtract = sub


def neg(input: Tensor) -> Tensor:
    return Neg()(input)


negative = neg


def _array(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def floor_divide(input: Any, other: Any) -> Tensor:
    """``input // other`` rounded towards minus infinity (no derivative: backward through it raises, as in
    PyTorch; ``div(..., rounding_mode='floor')`` has a zero gradient)."""
    a, b = as_operand(input), as_operand(other)
    dtype = _dtype.result_type(a, b)
    if not dtype.is_floating_point:
        return div(a, b, rounding_mode="floor")
    return FloorDivide()(cast_to(a, dtype), cast_to(b, dtype) if isinstance(b, Tensor) else b)


class Remainder(Op):
    """x - floor(x / y) y (the sign of y); d/dx = 1, d/dy = -floor(x / y)."""

    function = staticmethod(np.remainder)
    rounding_mode = "floor"

    def forward(self, x, y):
        self.save_for_backward(x, y)
        if np.result_type(x, y).kind in "iub":
            _check_integer_divisor(y, type(self).__name__.lower())
        with np.errstate(divide="ignore", invalid="ignore"):  # float % 0 is nan, silently, as in PyTorch
            return self.function(x, y)

    def backward(self, gy):
        x, y = self.saved_tensors
        gy_ = -gy * div(x, y, rounding_mode=self.rounding_mode) if self.needs_input_grad[1] else None
        return gy, gy_


class Fmod(Remainder):
    """x - trunc(x / y) y (the sign of x, as C's fmod); d/dy = -trunc(x / y)."""

    function = staticmethod(np.fmod)
    rounding_mode = "trunc"


def remainder(input: Any, other: Any) -> Tensor:
    """``input % other`` with the sign of ``other`` (Python's convention, like PyTorch)."""
    return _binary(Remainder, input, other)


def fmod(input: Any, other: Any) -> Tensor:
    """The remainder of ``input / other`` with the sign of ``input`` (C's fmod, like PyTorch)."""
    return _binary(Fmod, input, other)


# -- powers and exponentials -----------------------------------------------------------------------

class Pow(Op):
    """``x ** p`` for a constant number ``p``."""

    def __init__(self, exponent: float) -> None:
        self.exponent = exponent

    def forward(self, x):
        self.save_for_backward(x)
        if self.exponent == 2:
            return x * x
        if self.exponent == 0.5 and x.dtype.kind == "f":  # as sqrt(x), like PyTorch (NumPy 2.0's power gives
            with np.errstate(invalid="ignore"):           # (-inf) ** 0.5 = inf; sqrt gives nan, as PyTorch)
                return np.sqrt(x)
        if self.exponent == -0.5 and x.dtype.kind == "f":  # as 1 / sqrt(x), like PyTorch: -inf at -0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.reciprocal(np.sqrt(x))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.power(x, self.exponent)

    def backward(self, gy):
        (x,) = self.saved_tensors
        p = self.exponent
        if p == 0:
            return gy * 0.0
        if p == 2:
            return gy * 2.0 * x
        return gy * p * x ** (p - 1)


class PowTensor(Op):
    """``x ** y`` where the exponent is a tensor (or the base a number)."""

    def name(self) -> str:
        return "PowBackward1"

    def forward(self, x, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.power(x, y)
        self.save_for_backward(x, y, out)
        return out

    def backward(self, gy):
        x, y, out = self.saved_tensors
        gx = gy_ = None
        if self.needs_input_grad[0]:
            # d/dx x**y = y x**(y-1); PyTorch takes 0 where y == 0 (also at x = 0 and x = NaN)
            gx = where(y._data == 0, 0.0, gy * y * x ** (y - 1))
        if self.needs_input_grad[1]:
            # d/dy x**y = x**y log x; PyTorch takes 0 where x == 0 and y >= 0 (the limit for y > 0)
            base = x._data if isinstance(x, Tensor) else x
            with np.errstate(divide="ignore", invalid="ignore"):
                log_x = log(x) if isinstance(x, Tensor) else np.log(base)
            gy_ = where((base == 0) & (y._data >= 0), 0.0, gy * out * log_x)
        return gx, gy_


def pow(input: Any, exponent: Any) -> Tensor:
    """``input ** exponent``. d/dinput = exponent * input**(exponent-1); d/dexponent = out * log(input)."""
    input, exponent = as_operand(input), as_operand(exponent)
    if isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        dtype = _dtype.result_type(input, exponent)
        if not dtype.is_floating_point and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return Pow(exponent)(cast_to(input, dtype))
    result = _binary(PowTensor, input, exponent)
    return result if isinstance(input, Tensor) else shown_as(result, "PowBackward2")  # (a number's power)


def square(input: Tensor) -> Tensor:
    return pow(input, 2)


class Exp(Op):
    def forward(self, x):
        with np.errstate(over="ignore"):  # e^1000 is inf, silently, as in PyTorch
            out = np.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        (out,) = self.saved_tensors
        return gy * out


class Expm1(Op):
    def forward(self, x):
        out = np.expm1(x)
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        (out,) = self.saved_tensors
        return gy * (out + 1.0)


class Log(Op):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / x


class Log1p(Op):
    def name(self) -> str:
        return "Log1PBackward0"

    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / (x + 1.0)


class Sqrt(Op):
    def forward(self, x):
        with np.errstate(invalid="ignore"):
            out = np.sqrt(x)
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        (out,) = self.saved_tensors
        return gy / (out * 2.0)


class Rsqrt(Op):
    def forward(self, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 1.0 / np.sqrt(x)
        self.save_for_backward(out)
        return out.astype(x.dtype, copy=False)

    def backward(self, gy):
        (out,) = self.saved_tensors
        return gy * out ** 3 * -0.5


def exp(input: Tensor) -> Tensor:
    """e**x; its derivative is itself."""
    return Exp()(float_input(input))


def expm1(input: Tensor) -> Tensor:
    return Expm1()(float_input(input))


def log(input: Tensor) -> Tensor:
    """Natural logarithm; d/dx = 1/x."""
    return Log()(float_input(input))


def log1p(input: Tensor) -> Tensor:
    """log(1 + x), accurate for small x; d/dx = 1/(1 + x)."""
    return Log1p()(float_input(input))


def sqrt(input: Tensor) -> Tensor:
    """Square root; d/dx = 1/(2 sqrt(x))."""
    return Sqrt()(float_input(input))


def rsqrt(input: Tensor) -> Tensor:
    """1/sqrt(x); d/dx = -1/(2 x^(3/2))."""
    return Rsqrt()(float_input(input))


def reciprocal(input: Tensor) -> Tensor:
    return shown_as(div(1.0, float_input(input)), "ReciprocalBackward0")


# -- trigonometry and activations ------------------------------------------------------------------

class Sin(Op):
    def forward(self, x):
        self.save_for_backward(x)
        return np.sin(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * cos(x)


class Cos(Op):
    def forward(self, x):
        self.save_for_backward(x)
        return np.cos(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return -gy * sin(x)


class Tanh(Op):
    def forward(self, x):
        out = np.tanh(x)
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        (out,) = self.saved_tensors
        return gy * (1.0 - out * out)


class Sigmoid(Op):
    def forward(self, x):
        # 1 / (1 + e^-x), written so that e^-x never overflows for very negative x
        z = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        (out,) = self.saved_tensors
        return gy * out * (1.0 - out)


RELU_ZEROS_FROM = 2048  # from this size up, max(x, 0) is computed against an array of zeros


def rectify(x: np.ndarray) -> np.ndarray:
    """max(x, 0) as a new array. NumPy's fast loop for ``np.maximum`` takes two contiguous arrays (with a
    scalar operand it runs a slower one), so from RELU_ZEROS_FROM values up x meets the shared read-only
    zeros of ``_workspace.zeros``."""
    zero = _workspace.zeros(x.shape, x.dtype) if x.size >= RELU_ZEROS_FROM and x.flags.c_contiguous else None
    return np.maximum(x, x.dtype.type(0) if zero is None else zero)


class Relu(Op):
    """y = max(x, 0); dx = dy where x > 0 or x is NaN, 0 where x <= 0 (zero at x = 0, as in PyTorch)."""

    owns_gradients = True  # the first-order gradient is a new array

    def forward(self, x):
        out = rectify(x)
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        (out,) = self.saved_arrays
        if not _GradState.enabled:  # (nothing recorded: the kernel on the arrays)
            return Tensor._make(positive_part(gy._data, out))
        return PositivePart(out)(gy)  # gy * (out > 0), as one op

    def backward_arrays(self, gy):
        return positive_part(gy, self.saved_arrays[0])


def positive_part(gy: np.ndarray, out: np.ndarray) -> np.ndarray:
    """gy * (out != 0), a new array: ReLU's gradient given its output (out = max(x, 0) is 0 exactly where
    x <= 0; where x is NaN, out is NaN and the gradient passes, as in PyTorch)."""
    return np.multiply(gy, out != 0)


class PositivePart(Op):
    """gx = gy * (out != 0): the gradient of ReLU given its output; linear in gy, so its own backward."""

    def __init__(self, out: np.ndarray) -> None:
        self.out = out

    def name(self) -> str:
        return "ThresholdBackwardBackward0"

    def forward(self, gy):
        return positive_part(gy, self.out)

    def backward(self, ggx):
        return PositivePart(self.out)(ggx)


def sin(input: Tensor) -> Tensor:
    return Sin()(float_input(input))


def cos(input: Tensor) -> Tensor:
    return Cos()(float_input(input))


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent; d/dx = 1 - tanh(x)^2."""
    return Tanh()(float_input(input))


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + e^-x); d/dx = s(x) (1 - s(x))."""
    return Sigmoid()(float_input(input))


def relu(input: Tensor) -> Tensor:
    """max(x, 0); the gradient is 1 where x > 0 and 0 elsewhere (including at 0)."""
    return Relu()(input)


# -- piecewise ops ---------------------------------------------------------------------------------

class Abs(Op):
    def forward(self, x):
        self.save_for_backward(x)
        return np.abs(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * sign(x)


class ZeroGradient(Op):
    """Piecewise-constant functions (sign, floor, ceil, round): the gradient is zero everywhere."""

    def __init__(self, function: Any) -> None:
        self.function = function

    def name(self) -> str:
        return f"{self.function.__name__.capitalize()}Backward0"

    def forward(self, x):
        return self.function(x)

    def backward(self, gy):
        return gy * 0.0


class Clamp(Op):
    def __init__(self, low: Any, high: Any) -> None:
        self.low, self.high = low, high

    def name(self) -> str:
        return "ClampBackward1"  # PyTorch's clamp with number bounds (ClampBackward0: tensor bounds)

    def forward(self, x):
        self.save_for_backward(x)
        return np.clip(x, self.low, self.high)

    def backward(self, gy):
        (x,) = self.saved_tensors
        inside = None
        if self.low is not None:
            inside = x >= self.low
        if self.high is not None:
            inside = (x <= self.high) if inside is None else inside & (x <= self.high)
        return gy * inside


class ClampTensor(Op):
    """min(max(x, low), high) with tensor bounds (either may be None or a number), PyTorch's gradients:
    x gets it where low <= x <= high (not at NaN), low where x < low (and low < high), high where x > high
    (or high < low)."""

    def name(self) -> str:
        return "ClampBackward0"

    def forward(self, x, low, high):
        self.save_for_backward(x, low, high)
        out = x if low is None else np.maximum(x, low)
        return out if high is None else np.minimum(out, high)

    def backward(self, gy):
        x, low, high = self.saved_arrays
        dtype = gy._data.dtype
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside = inside & (x >= low)
        if high is not None:
            inside = inside & (x <= high)
        g_low = g_high = None
        if low is not None and self.needs_input_grad[1]:
            below = (x < low) & (low < high) if high is not None else x < low
            g_low = gy * Tensor._make(below.astype(dtype))
        if high is not None and self.needs_input_grad[2]:
            above = (x > high) | (high < low) if low is not None else x > high
            g_high = gy * Tensor._make(above.astype(dtype))
        return gy * Tensor._make(inside.astype(dtype)), g_low, g_high


class Maximum(Op):
    """Elementwise max; where the two are equal each gets half the gradient, and where either is NaN
    (the result is NaN) both get all of it (as in PyTorch)."""

    function = staticmethod(np.maximum)

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return self.function(x, y)

    def backward(self, gy):
        x, y = self.saved_arrays
        larger, smaller = (x > y, x < y) if self.function is np.maximum else (x < y, x > y)
        half = (x == y) * 0.5
        dtype = gy._data.dtype
        share_x = Tensor._make((1.0 - smaller - half).astype(dtype, copy=False))  # 0 where the other wins
        share_y = Tensor._make((1.0 - larger - half).astype(dtype, copy=False))
        return gy * share_x, gy * share_y


class Minimum(Maximum):
    function = staticmethod(np.minimum)


class Where(Op):
    """out = x where condition else y, all three broadcast; the (bool) condition is data: the last input."""

    data_inputs = 1

    def forward(self, x, y, condition):
        self.condition = condition  # (for backward)
        return np.where(condition, x, y)

    def backward(self, gy):
        condition = Tensor._make(self.condition)
        gx = where(condition, gy, 0.0) if self.needs_input_grad[0] else None
        gy_ = where(condition, 0.0, gy) if self.needs_input_grad[1] else None
        return gx, gy_


def abs(input: Tensor) -> Tensor:
    """|x|; d/dx = sign(x) (0 at 0)."""
    return Abs()(input)


absolute = abs


def _sign(x: np.ndarray) -> np.ndarray:
    """-1, 0 or 1, and 0 at NaN (PyTorch's sign; NumPy's gives NaN)."""
    result = np.sign(x)
    if result.dtype.kind == "f":
        np.copyto(result, 0, where=np.isnan(result))
    return result


def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 (0 at 0 and at NaN, as in PyTorch); zero gradient."""
    return ZeroGradient(_sign)(input)


def floor(input: Tensor) -> Tensor:
    return ZeroGradient(np.floor)(input)


def ceil(input: Tensor) -> Tensor:
    return ZeroGradient(np.ceil)(input)


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Round half to even, like PyTorch."""
    if decimals:
        return ZeroGradient(lambda a: np.round(a, decimals))(input)
    return ZeroGradient(np.round)(input)


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit values to [min, max]; the gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        dtype = _dtype.result_type(*(v for v in (input, min, max) if v is not None))
        low, high = (cast_to(v, dtype) if isinstance(v, Tensor) else v for v in (min, max))
        return ClampTensor()(cast_to(input, dtype), low, high)
    dtype = _dtype.result_type(*(v for v in (input, min, max) if v is not None))
    return Clamp(min, max)(cast_to(input, dtype))


clip = clamp


def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise maximum of two tensors (broadcasting)."""
    return _binary(Maximum, input, other)


def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise minimum of two tensors (broadcasting)."""
    return _binary(Minimum, input, other)


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (broadcasting all three)."""
    condition = as_operand(condition)
    if not isinstance(condition, Tensor):
        condition = Tensor._make(np.asarray(condition))
    if condition._data.dtype != np.bool_:
        condition = cast(condition, _dtype.bool_)
    input, other = as_operand(input), as_operand(other)
    dtype = _dtype.result_type(input, other)
    return Where()(_scalar_or(input, dtype), _scalar_or(other, dtype), condition)


# -- dtype conversion ------------------------------------------------------------------------------

class ToCopy(Op):
    def __init__(self, dtype: _dtype.dtype) -> None:
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype.numpy)

    def backward(self, gy):
        return gy  # the engine casts it back to the input's dtype


def cast(input: Tensor, dtype: _dtype.dtype) -> Tensor:
    """A copy of ``input`` with another dtype; differentiable between floating-point dtypes."""
    if input._data.dtype == dtype.numpy:
        return input
    result = ToCopy(dtype)(input)
    if not dtype.is_floating_point and result.grad_fn is not None:
        result = result.detach()
    return result


def clone(input: Tensor) -> Tensor:
    """A copy that stays in the graph (the gradient passes through unchanged)."""
    return Clone()(input)


class Clone(Op):
    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy
