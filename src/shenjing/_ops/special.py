"""Unary elementwise maths beyond ``elementwise.py``: inverse and hyperbolic trigonometry, the error function
and its inverse, exponentials and logarithms in bases 2 and 10, Bessel's I0, sinc, logit, parts of numbers,
angle units, and tests of values. (The gamma function's family is in ``gamma.py``.)

Integer and bool inputs of the float-valued functions become the default float dtype (``torch.erf`` of an
int64 tensor is float32). The functions that NumPy lacks (erf, erfinv, the Bessel I1 used by i0's gradient)
are computed here in float64 from their textbook series and cast back.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import numpy as np

from shenjing._ops._util import check_tensor, float_input
from shenjing._ops.elementwise import ZeroGradient, cos, exp, mul, sin, sqrt, where
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op

__all__ = ["acos", "arccos", "asin", "arcsin", "atan", "arctan", "cosh", "sinh", "tan", "asinh", "arcsinh",
           "acosh", "arccosh", "atanh", "arctanh", "erf", "erfc", "erfinv", "exp2", "log2", "log10", "i0", "sinc",
           "logit", "trunc", "fix", "frac", "deg2rad", "rad2deg", "nan_to_num", "signbit", "positive", "isposinf",
           "isneginf", "isreal", "frexp"]

frexp_result = collections.namedtuple("frexp", ["mantissa", "exponent"])


# -- scalar special functions on float64 arrays ---------------------------------------------------------

_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _float64(function: Any, x: np.ndarray) -> np.ndarray:
    """``function`` evaluated in float64 and returned in ``x``'s dtype."""
    return np.asarray(function(x.astype(np.float64)), dtype=np.float64).astype(x.dtype, copy=False)


def _erfinv(y: np.ndarray) -> np.ndarray:
    """Inverse error function: Giles' single-precision approximation, then Newton steps on erf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -np.log((1.0 - y) * (1.0 + y))
        central = w < 5.0
        wc = np.where(central, w - 2.5, np.sqrt(np.where(central, 5.0, w)) - 3.0)
        p_central = [2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                     -0.00125372503, -0.00417768164, 0.246640727, 1.50140941]
        p_tail = [-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                  -0.0076224613, 0.00943887047, 1.00167406, 2.83297682]
        pc, pt = p_central[0], p_tail[0]
        for a, b in zip(p_central[1:], p_tail[1:]):
            pc = pc * wc + a
            pt = pt * wc + b
        x = np.where(central, pc, pt) * y
        for _ in range(3):
            fx = np.asarray(_erf(x), dtype=np.float64) - y
            x = np.where(np.isfinite(x), x - fx / (2.0 / math.sqrt(math.pi) * np.exp(-x * x)), x)
    x = np.where(np.abs(y) == 1, np.copysign(np.inf, y), x)
    return np.where(np.abs(y) > 1, np.nan, x)


def _bessel_i1(x: np.ndarray) -> np.ndarray:
    """I1(x): the power series sum_k (x/2)^(2k+1) / (k! (k+1)!) for |x| <= 20, else the asymptotic series
    e^|x| / sqrt(2 pi |x|) sum_k (-1)^k prod_j (4 - (2j-1)^2) / (k! (8|x|)^k), with I1's odd sign."""
    small = np.abs(x) <= 20
    xs = np.where(small, x, 0.0)
    term = xs / 2
    total = term.copy()
    for k in range(1, 60):
        term = term * (xs / 2) ** 2 / (k * (k + 1))
        total += term
    big = np.abs(np.where(small, 21.0, x))
    with np.errstate(over="ignore", invalid="ignore"):
        asymptotic = np.sign(x) * np.exp(big) / np.sqrt(2 * math.pi * big) * _alternate(big)
    return np.where(small, total, asymptotic)


def _alternate(z: np.ndarray) -> np.ndarray:
    """sum_k (-1)^k a_k(1) / (8 z)^k with a_k(mu) = prod_{j<=k} (mu - (2j-1)^2) / k!, mu = 4 (order 1)."""
    series, term = np.ones_like(z), np.ones_like(z)
    for k in range(1, 16):
        term = term * (4.0 - (2 * k - 1) ** 2) / (k * 8.0 * z)
        series += (-1) ** k * term
    return series


# -- inverse and hyperbolic trigonometry ------------------------------------------------------------

class Acos(Op):
    """d/dx acos x = -1 / sqrt(1 - x^2)."""

    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(invalid="ignore"):
            return np.arccos(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return -gy / sqrt(1.0 - x * x)


class Asin(Op):
    """d/dx asin x = 1 / sqrt(1 - x^2)."""

    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(invalid="ignore"):
            return np.arcsin(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / sqrt(1.0 - x * x)


class Atan(Op):
    """d/dx atan x = 1 / (1 + x^2)."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.arctan(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / (x * x + 1.0)


class Cosh(Op):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(over="ignore"):
            return np.cosh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * sinh(x)


class Sinh(Op):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(over="ignore"):
            return np.sinh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * cosh(x)


class Tan(Op):
    """d/dx tan x = 1 + tan^2 x."""

    def forward(self, x):
        with np.errstate(invalid="ignore"):
            out = np.tan(x)
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        (out,) = self.saved_tensors
        return gy * (out * out + 1.0)


class Asinh(Op):
    def forward(self, x):
        self.save_for_backward(x)
        return np.arcsinh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / sqrt(x * x + 1.0)


class Acosh(Op):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(invalid="ignore"):
            return np.arccosh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / sqrt(x * x - 1.0)


class Atanh(Op):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.arctanh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / (1.0 - x * x)


def acos(input: Tensor) -> Tensor:
    """Inverse cosine, in [0, pi]; nan outside [-1, 1]."""
    return Acos()(float_input(check_tensor(input)))


def asin(input: Tensor) -> Tensor:
    """Inverse sine, in [-pi/2, pi/2]; nan outside [-1, 1]."""
    return Asin()(float_input(check_tensor(input)))


def atan(input: Tensor) -> Tensor:
    """Inverse tangent, in (-pi/2, pi/2)."""
    return Atan()(float_input(check_tensor(input)))


def cosh(input: Tensor) -> Tensor:
    """(e^x + e^-x) / 2; d/dx = sinh x."""
    return Cosh()(float_input(check_tensor(input)))


def sinh(input: Tensor) -> Tensor:
    """(e^x - e^-x) / 2; d/dx = cosh x."""
    return Sinh()(float_input(check_tensor(input)))


def tan(input: Tensor) -> Tensor:
    return Tan()(float_input(check_tensor(input)))


def asinh(input: Tensor) -> Tensor:
    """log(x + sqrt(x^2 + 1)); d/dx = 1 / sqrt(x^2 + 1)."""
    return Asinh()(float_input(check_tensor(input)))


def acosh(input: Tensor) -> Tensor:
    """log(x + sqrt(x^2 - 1)) for x >= 1; d/dx = 1 / sqrt(x^2 - 1)."""
    return Acosh()(float_input(check_tensor(input)))


def atanh(input: Tensor) -> Tensor:
    """log((1 + x) / (1 - x)) / 2 for |x| < 1; d/dx = 1 / (1 - x^2)."""
    return Atanh()(float_input(check_tensor(input)))


arccos, arcsin, arctan, arcsinh, arccosh, arctanh = acos, asin, atan, asinh, acosh, atanh


# -- error and gamma functions ----------------------------------------------------------------------

class Erf(Op):
    """erf x = 2/sqrt(pi) int_0^x e^(-t^2) dt; d/dx = 2/sqrt(pi) e^(-x^2)."""

    def forward(self, x):
        self.save_for_backward(x)
        return _float64(_erf, x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * exp(-x * x) * (2.0 / math.sqrt(math.pi))


class Erfc(Op):
    """erfc x = 1 - erf x (accurate where erf x is near 1)."""

    def forward(self, x):
        self.save_for_backward(x)
        return _float64(_erfc, x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * exp(-x * x) * (-2.0 / math.sqrt(math.pi))


class Erfinv(Op):
    """y with erf y = x; d/dx = sqrt(pi)/2 e^(y^2)."""

    def forward(self, x):
        out = _float64(_erfinv, x)
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        (out,) = self.saved_tensors
        return gy * exp(out * out) * (math.sqrt(math.pi) / 2)


def erf(input: Tensor) -> Tensor:
    """The error function 2/sqrt(pi) int_0^x e^(-t^2) dt."""
    return Erf()(float_input(check_tensor(input)))


def erfc(input: Tensor) -> Tensor:
    """The complementary error function 1 - erf(x)."""
    return Erfc()(float_input(check_tensor(input)))


def erfinv(input: Tensor) -> Tensor:
    """The inverse of erf on (-1, 1); +-inf at +-1, nan outside."""
    return Erfinv()(float_input(check_tensor(input)))


# -- exponentials and logarithms in other bases, Bessel, sinc, logit -------------------------------------

class Exp2(Op):
    """2^x; d/dx = 2^x ln 2."""

    def forward(self, x):
        with np.errstate(over="ignore"):
            out = np.exp2(x)
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        (out,) = self.saved_tensors
        return gy * out * math.log(2)


class Log2(Op):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log2(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / (x * math.log(2))


class Log10(Op):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / (x * math.log(10))


class I0(Op):
    """The modified Bessel function of the first kind, order 0; d/dx = I1(x)."""

    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(invalid="ignore", over="ignore"):
            return np.i0(x).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * BesselI1()(x)


class BesselI1(Op):
    """I1, the gradient of i0 (its own gradient I0(x) - I1(x)/x is not provided)."""

    def name(self) -> str:
        return "SpecialI1Backward0"

    def forward(self, x):
        return _float64(_bessel_i1, x)


class Sinc(Op):
    """sin(pi x) / (pi x), 1 at 0; d/dx = (cos(pi x) - sinc x) / x, 0 at 0."""

    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sinc(x).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.saved_tensors
        safe = where(x == 0, 1.0, x)
        slope = (cos(safe * math.pi) - sin(safe * math.pi) / (safe * math.pi)) / safe
        return gy * where(x == 0, 0.0, slope)


class Logit(Op):
    """log(x / (1 - x)), x first clamped to [eps, 1 - eps] when eps is given;
    d/dx = 1 / (x (1 - x)), 0 outside [eps, 1 - eps]."""

    def __init__(self, eps: float | None) -> None:
        self.eps = eps

    def forward(self, x):
        self.save_for_backward(x)
        z = x if self.eps is None else np.clip(x, self.eps, 1 - self.eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(z / (1 - z)).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.saved_tensors
        slope = gy / (x * (1.0 - x))
        if self.eps is None:
            return slope
        return where((x < self.eps) | (x > 1 - self.eps), 0.0, slope)


def exp2(input: Tensor) -> Tensor:
    return Exp2()(float_input(check_tensor(input)))


def log2(input: Tensor) -> Tensor:
    return Log2()(float_input(check_tensor(input)))


def log10(input: Tensor) -> Tensor:
    return Log10()(float_input(check_tensor(input)))


def i0(input: Tensor) -> Tensor:
    """I0(x) = sum_k (x^2/4)^k / (k!)^2."""
    return I0()(float_input(check_tensor(input)))


def sinc(input: Tensor) -> Tensor:
    """The normalised sinc: sin(pi x) / (pi x), and 1 at x = 0."""
    return Sinc()(float_input(check_tensor(input)))


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """The inverse of the sigmoid, log(p / (1 - p)); ``eps`` clamps p to [eps, 1 - eps] first."""
    return Logit(eps)(float_input(check_tensor(input)))


# -- parts of numbers, angle units, replacements ----------------------------------------------------

class Frac(Op):
    """x - trunc(x); the gradient passes unchanged."""

    def forward(self, x):
        with np.errstate(invalid="ignore"):
            return x - np.trunc(x)

    def backward(self, gy):
        return gy


class NanToNum(Op):
    """nan, +inf and -inf replaced by numbers; the gradient passes where x was finite."""

    def __init__(self, nan: float, posinf: float, neginf: float) -> None:
        self.nan, self.posinf, self.neginf = nan, posinf, neginf

    def forward(self, x):
        self.save_for_backward(x)
        return np.nan_to_num(x, nan=self.nan, posinf=self.posinf, neginf=self.neginf)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return where(Tensor._make(np.isfinite(x._data)), gy, 0.0)


def _refuse_bool(input: Tensor, name: str) -> None:
    if input._data.dtype == np.bool_:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'Bool\'')


def trunc(input: Tensor) -> Tensor:
    """Round towards zero (integers stay as they are); zero gradient."""
    _refuse_bool(check_tensor(input), "trunc")
    if input._data.dtype.kind in "iu":
        return input.clone()
    return ZeroGradient(np.trunc)(input)


fix = trunc


def frac(input: Tensor) -> Tensor:
    """The fractional part x - trunc(x), with x's sign; floating-point input only."""
    if check_tensor(input)._data.dtype.kind != "f":
        raise NotImplementedError(f"\"frac_cpu\" not implemented for '{_dtype_name(input)}'")
    return Frac()(input)


def _dtype_name(input: Tensor) -> str:
    return {"bool": "Bool", "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
            "uint8": "Byte"}.get(input.dtype.name, input.dtype.name)


def deg2rad(input: Tensor) -> Tensor:
    """Degrees to radians: x pi / 180."""
    return mul(float_input(check_tensor(input)), math.pi / 180)


def rad2deg(input: Tensor) -> Tensor:
    """Radians to degrees: x 180 / pi."""
    return mul(float_input(check_tensor(input)), 180 / math.pi)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """nan -> ``nan``, +inf -> ``posinf``, -inf -> ``neginf`` (by default the dtype's largest and smallest
    finite values); integer and bool tensors come back unchanged."""
    check_tensor(input)
    if input._data.dtype.kind != "f":
        return input.clone()
    info = np.finfo(input._data.dtype)
    return NanToNum(nan, info.max if posinf is None else posinf, info.min if neginf is None else neginf)(input)


def signbit(input: Tensor) -> Tensor:
    """True where the sign bit is set (also for -0.0 and negative nan)."""
    return Tensor._make(np.signbit(check_tensor(input)._data))


def positive(input: Tensor) -> Tensor:
    """``input`` itself (``+x``); refuses bool tensors as PyTorch does."""
    if check_tensor(input)._data.dtype == np.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def isposinf(input: Tensor) -> Tensor:
    return Tensor._make(np.isposinf(check_tensor(input)._data))


def isneginf(input: Tensor) -> Tensor:
    return Tensor._make(np.isneginf(check_tensor(input)._data))


def isreal(input: Tensor) -> Tensor:
    """True everywhere: shenjing has no complex tensors."""
    return Tensor._make(np.ones(check_tensor(input)._data.shape, dtype=bool))


def frexp(input: Tensor) -> Any:
    """(mantissa, exponent) with input = mantissa * 2^exponent, |mantissa| in [0.5, 1); exponent is int32."""
    if check_tensor(input)._data.dtype.kind != "f":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    mantissa, exponent = np.frexp(input._data)
    return frexp_result(Tensor._make(mantissa), Tensor._make(exponent.astype(np.int32)))
