"""The float32 log and sine/cosine that PyTorch's AVX2 normal kernel uses, bit for bit, in NumPy.

PyTorch's CPU ``normal_`` for float32 tensors of 16 or more elements evaluates Box-Muller with the Cephes
polynomial approximations of the 8-wide AVX maths routines (range reduction, then a degree-8 polynomial for
log and degree-2/3 ones for sin/cos), compiled with fused multiply-adds. The functions below evaluate the same
polynomials with the same coefficients (Cephes' single-precision ``logf``/``sinf``/``cosf``) in the same
order of float32 operations, each multiply-add rounded once, so the normals are PyTorch's to the last bit.
"""

from __future__ import annotations

import numpy as np

_F32 = np.float32
_F64 = np.float64

# Cephes logf: log(x) = log(m) + e log 2 with m in [sqrt(1/2), sqrt(2)), log(1 + t) ~ t - t^2/2 + t^3 P(t)
_LOG_POLY = tuple(_F32(c) for c in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                                    1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                                    3.3333331174e-1))
_LOG2_LOW = _F64(_F32(-2.12194440e-4))   # log 2 = 0.693359375 - 2.12194440e-4 (split for accuracy)
_LOG2_HIGH = _F64(_F32(0.693359375))
_SQRT_HALF = _F32(0.707106781186547524)
_SMALLEST_NORMAL = np.array(0x00800000, dtype=np.int32).view(_F32)
_EXPONENT_BITS = np.int32(0x7F800000)
_HALF_BITS = np.array(0.5, dtype=_F32).view(np.int32)

# Cephes sinf/cosf: x reduced by multiples of pi/4 in three parts, then polynomials on [-pi/4, pi/4]
_FOUR_OVER_PI = _F32(1.27323954473516)
_PI_QUARTER_PARTS = tuple(_F64(_F32(c)) for c in (-0.78515625, -2.4187564849853515625e-4,
                                                  -3.77489497744594108e-8))
_SIN_POLY = tuple(_F32(c) for c in (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1))
_COS_POLY = tuple(_F32(c) for c in (2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2))


def _fma(a: np.ndarray, b: np.ndarray | np.floating, c: np.ndarray | np.floating) -> np.ndarray:
    """a * b + c for float32 operands, rounded once to float32 (the product is exact in float64)."""
    return (np.asarray(a, dtype=_F64) * _F64(b) + np.asarray(c, dtype=_F64)).astype(_F32) if np.ndim(b) == 0 \
        else (np.asarray(a, dtype=_F64) * np.asarray(b, dtype=_F64) + np.asarray(c, dtype=_F64)).astype(_F32)


def _horner(coefficients: tuple, x: np.ndarray) -> np.ndarray:
    """c0 x^(k) + ... by Horner's rule with one rounding per step (fused multiply-add)."""
    x64 = x.astype(_F64)
    result = np.full(x.shape, coefficients[0], dtype=_F32)
    for coefficient in coefficients[1:]:
        result = (result.astype(_F64) * x64 + _F64(coefficient)).astype(_F32)
    return result


def log(x: np.ndarray) -> np.ndarray:
    """Natural log of positive float32 ``x`` as PyTorch's AVX2 kernel computes it."""
    x = np.maximum(np.asarray(x, dtype=_F32), _SMALLEST_NORMAL)
    bits = x.view(np.int32)
    exponent = ((bits >> 23) - 126).astype(_F32)
    mantissa = ((bits & ~_EXPONENT_BITS) | _HALF_BITS).view(_F32)  # in [0.5, 1)
    below = mantissa < _SQRT_HALF
    exponent = exponent - below.astype(_F32)
    t = (mantissa - _F32(1)) + np.where(below, mantissa, _F32(0))
    t_squared = t * t
    y = _horner(_LOG_POLY, t) * t
    y = _fma(y, t_squared, exponent * _F32(_LOG2_LOW))   # y * t^2 + e * log2_low
    y = y - t_squared * _F32(0.5)
    return _fma(exponent, _F32(_LOG2_HIGH), t + y)


def sincos(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sin x, cos x) of float32 ``x`` as PyTorch's AVX2 kernel computes them."""
    x = np.asarray(x, dtype=_F32)
    sine_negative = np.signbit(x)
    x = np.abs(x)
    octant = (x * _FOUR_OVER_PI).astype(np.int32)
    octant = (octant + 1) & ~1
    y = octant.astype(_F32)
    for part in _PI_QUARTER_PARTS:
        x = _fma(y, _F32(part), x)
    sine_negative ^= (octant & 4) != 0
    cosine_negative = (~(octant - 2) & 4) != 0
    use_sine_poly = (octant & 2) == 0
    z = x * x
    cosine_poly = _horner(_COS_POLY, z) * z
    cosine_poly = _fma(cosine_poly, z, -(z * _F32(0.5))) + _F32(1)
    sine_poly = _horner(_SIN_POLY, z) * z
    sine_poly = _fma(sine_poly, x, x)
    sine = np.where(use_sine_poly, sine_poly, cosine_poly)
    cosine = np.where(use_sine_poly, cosine_poly, sine_poly)
    return np.where(sine_negative, -sine, sine), np.where(cosine_negative, -cosine, cosine)
