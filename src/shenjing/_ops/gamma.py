"""The gamma function's family: lgamma, digamma, polygamma, mvlgamma and the regularised incomplete gamma
functions igamma / igammac, computed in float64 from their textbook series (NumPy has none of them) and
cast back to the input's dtype. Integer inputs become the default float dtype.
"""

from __future__ import annotations

import math

import numpy as np

from shenjing._ops._util import check_tensor, float_input
from shenjing._ops.elementwise import _float_binary, exp, log
from shenjing._ops.special import _float64
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op

__all__ = ["lgamma", "digamma", "polygamma", "mvlgamma", "igamma", "igammac"]


def _safe_lgamma(value: float) -> float:
    try:
        return math.lgamma(value)
    except (ValueError, OverflowError):  # the poles 0, -1, -2, ...
        return math.inf


_lgamma = np.frompyfunc(_safe_lgamma, 1, 1)


# the Bernoulli numbers B_2k, k = 1..8: the coefficients of the Euler-Maclaurin tails below
_BERNOULLI = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510]
_SHIFT = 12  # the sums below move x to x + N >= 12 before the asymptotic tail


def _shift_count(x: np.ndarray) -> int:
    finite = x[np.isfinite(x)]
    lowest = float(finite.min()) if finite.size else 0.0
    return _SHIFT + int(min(max(0.0, math.ceil(-lowest)), 1e6))


def _digamma(x: np.ndarray) -> np.ndarray:
    """psi(x) = psi(x + N) - sum_{k<N} 1/(x + k), with the asymptotic series
    psi(z) ~ ln z - 1/(2z) - sum_k B_2k / (2k z^2k) at z = x + N."""
    n = _shift_count(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        total = np.zeros_like(x)
        for k in range(n):
            total += 1.0 / (x + k)
        z = x + n
        tail = np.log(z) - 0.5 / z
        for k, b in enumerate(_BERNOULLI, start=1):
            tail -= b / (2 * k) * z ** (-2 * k)
        out = tail - total
    out = np.where(x == 0, np.where(np.signbit(x), np.inf, -np.inf), out)
    out = np.where((x < 0) & (x == np.floor(x)), np.nan, out)  # the poles -1, -2, ...
    out = np.where(x == np.inf, np.inf, out)
    return np.where(x == -np.inf, np.nan, out)


def _polygamma(order: int, x: np.ndarray) -> np.ndarray:
    """psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x), the Hurwitz zeta function summed as
    sum_{k<N} (x + k)^-s + z^(1-s)/(s - 1) + z^-s/2 + sum_j B_2j/(2j)! s(s+1)...(s+2j-2) z^(-s-2j+1)."""
    if order == 0:
        return _digamma(x)
    s = order + 1
    n = _shift_count(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        zeta = np.zeros_like(x)
        for k in range(n):
            zeta += (x + k) ** -s
        z = x + n
        zeta += z ** (1 - s) / (s - 1) + 0.5 * z ** -s
        rising = float(s)  # s (s+1) ... (s+2j-2)
        for j, b in enumerate(_BERNOULLI, start=1):
            zeta += b / math.factorial(2 * j) * rising * z ** (-s - 2 * j + 1)
            rising *= (s + 2 * j - 1) * (s + 2 * j)
        out = (-1) ** (order + 1) * math.factorial(order) * zeta
    out = np.where(x == np.inf, 0.0, out)  # (the limit; PyTorch 2.13 gives nan there for n >= 2)
    return np.where((x <= 0) & (x == np.floor(x)), np.inf if order % 2 else -np.inf, out)  # the poles


# -- lgamma, digamma, polygamma -------------------------------------------------------------------

class Lgamma(Op):
    """log |Gamma(x)|; d/dx = digamma(x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return _float64(_lgamma, x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * digamma(x)


class Polygamma(Op):
    """The n-th derivative of digamma; d/dx = polygamma(n + 1, x)."""

    def __init__(self, order: int) -> None:
        self.order = order

    def name(self) -> str:
        return "DigammaBackward0" if self.order == 0 else "PolygammaBackward0"

    def forward(self, x):
        self.save_for_backward(x)
        return _float64(lambda a: _polygamma(self.order, a), x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * Polygamma(self.order + 1)(x)


def lgamma(input: Tensor) -> Tensor:
    """log |Gamma(x)|; inf at 0, -1, -2, ..."""
    return Lgamma()(float_input(check_tensor(input)))


def digamma(input: Tensor) -> Tensor:
    """psi(x) = d/dx log Gamma(x); -inf at 0, nan at the negative integers."""
    return Polygamma(0)(float_input(check_tensor(input)))


def polygamma(n: int, input: Tensor) -> Tensor:
    """psi^(n)(x), the n-th derivative of digamma (n >= 0)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma(int(n))(float_input(check_tensor(input)))


def mvlgamma(input: Tensor, p: int) -> Tensor:
    """Multivariate log-gamma: p(p-1)/4 log(pi) + sum_{i<p} lgamma(x - i/2) (defined for x > (p-1)/2;
    PyTorch 2.13 no longer checks that, and neither does this)."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    x = float_input(check_tensor(input))
    total = lgamma(x)
    for i in range(1, p):
        total = total + lgamma(x - i / 2)
    return total + p * (p - 1) / 4 * math.log(math.pi)


# -- the regularised incomplete gamma functions ----------------------------------------------------------

def _regularised_gammas(a: np.ndarray, x: np.ndarray) -> tuple:
    """(P, Q): P(a, x) = gamma(a, x) / Gamma(a) from the series e^-x x^a / Gamma(a+1) sum_n x^n / ((a+1)...(a+n))
    where x < a + 1, Q(a, x) = 1 - P from the continued fraction (modified Lentz) elsewhere; each one's
    complement as 1 minus it."""
    a, x = np.broadcast_arrays(a.astype(np.float64), x.astype(np.float64))
    log_gamma = np.asarray(_lgamma(np.where(a > 0, a, 1.0)), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        safe_x = np.where(x > 0, x, 1.0)
        prefactor = np.exp(a * np.log(safe_x) - safe_x - log_gamma)
        # series (x < a + 1)
        term = 1.0 / np.where(a > 0, a, 1.0)
        total = term.copy()
        for n in range(1, 500):
            term = term * safe_x / (a + n)
            total = total + term
        series = prefactor * total
        # continued fraction for Q (x >= a + 1)
        tiny = 1e-300
        b = safe_x + 1.0 - a
        c = np.full_like(b, 1.0 / tiny)
        d = 1.0 / np.where(b == 0, tiny, b)
        h = d.copy()
        for i in range(1, 500):
            an = -i * (i - a)
            b = b + 2.0
            d = an * d + b
            d = np.where(np.abs(d) < tiny, tiny, d)
            c = b + an / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            d = 1.0 / d
            h = h * d * c
        upper = prefactor * h
    use_series = x < a + 1
    lower = np.where(use_series, series, 1.0 - upper)
    lower = np.where((x == 0) & (a > 0), 0.0, lower)
    lower = np.where((x == np.inf) | ((a == 0) & (x > 0)), 1.0, lower)
    undefined = (a < 0) | (x < 0) | np.isnan(a) | np.isnan(x) | ((a == 0) & (x == 0))
    lower = np.where(undefined, np.nan, lower)
    higher = np.where(use_series | (lower == 0) | (lower == 1), 1.0 - lower, upper)
    return lower, np.where(undefined, np.nan, higher)


class IGamma(Op):
    """P(a, x) (or Q = 1 - P with ``upper``); d/dx P = e^-x x^(a-1) / Gamma(a). PyTorch has no gradient for a."""

    def __init__(self, upper: bool) -> None:
        self.upper = upper

    def name(self) -> str:
        return "IgammacBackward0" if self.upper else "IgammaBackward0"

    def forward(self, a, x):
        self.save_for_backward(a, x)
        lower, upper = _regularised_gammas(a, x)
        return (upper if self.upper else lower).astype(np.result_type(a, x), copy=False)

    def backward(self, g):
        a, x = self.saved_tensors
        if self.needs_input_grad[0]:
            raise RuntimeError(f"the derivative for '{'igammac' if self.upper else 'igamma'}: input' is not "
                               f"implemented.")
        density = exp((a - 1.0) * log(x) - x - lgamma(a))
        return None, -g * density if self.upper else g * density


def igamma(input: Tensor, other: Tensor) -> Tensor:
    """The regularised lower incomplete gamma function P(input, other) = 1/Gamma(a) int_0^x t^(a-1) e^-t dt."""
    return _float_binary(lambda: IGamma(False), input, other)


def igammac(input: Tensor, other: Tensor) -> Tensor:
    """The regularised upper incomplete gamma function Q(input, other) = 1 - P(input, other)."""
    return _float_binary(lambda: IGamma(True), input, other)
