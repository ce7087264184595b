"""PyTorch's ways of turning the generator's 32-bit words into numbers, vectorised with NumPy.

Each function takes a ``shenjing.Generator`` and returns a NumPy array, drawing the words PyTorch 2.13's CPU
kernels draw, in the same order, and transforming them with the same arithmetic:

- uniform floats: float32 ``(w & (2**24 - 1)) * 2**-24`` from one word, float64 ``(v & (2**53 - 1)) * 2**-53``
  from a 64-bit draw ``v`` (two words, the first the high half); then ``x * (high - low) + low``;
- normals: tensors of 16 or more elements are filled with uniforms and turned into normals 16 at a time by
  Box-Muller (``u1 = 1 - x[j]``, ``u2 = x[j + 8]``, ``x[j] = r cos(2 pi u2)``, ``x[j + 8] = r sin(2 pi u2)``,
  ``r = sqrt(-2 log u1)``); a tail that is not a multiple of 16 is redone as a last block of 16 fresh uniforms
  ending at the tensor's end. float32 uses the 8-wide float polynomial log/sincos of PyTorch's AVX2 kernel
  (``shenjing._random_avx``), float64 glibc's log/cos/sin. Smaller tensors draw one pair of double uniforms
  per two normals (``r = sqrt(-2 log1p(-u2))``, ``theta = 2 pi u1``), the second normal cached for the next
  draw;
- integers in [low, high): ``w % range + low`` from one word, or from a 64-bit draw when range >= 2**32;
- permutations: Fisher-Yates from the front, ``swap(r[i], r[i + w % (n - i)])``;
- Bernoulli: a uniform (double for a scalar ``p`` or a float64 ``p`` tensor, float for a float32 one) ``< p``;
- exponential: ``-log1p(-u) / lambda`` from a double uniform.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from shenjing import _random_avx

_F32 = np.float32
_LOW_24 = np.uint64((1 << 24) - 1)
_LOW_53 = np.uint64((1 << 53) - 1)
_TWO_PI = 2.0 * math.pi
_BLOCKS_PER_CHUNK = 2048  # 32768 numbers at a time through Box-Muller


def _count(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1


# -- glibc-exact double maths --------------------------------------------------------------------------

# How far (in units in the last place) the C library's result can lie from the exact value when it is not the
# correctly rounded one: glibc's log, cos and sin are within 0.52 ulp (measured here: never below 0.485 among
# a million draws), so only elements whose exact value is within 0.05 ulp of a rounding boundary can differ;
# log1p is less accurate (errors up to ~0.9 ulp), so every element is evaluated by the C library itself.
_CORRECTLY_ROUNDED_BELOW = {"log": 0.45, "cos": 0.45, "sin": 0.45, "log1p": 0.0}


def _libm(name: str, values: np.ndarray) -> np.ndarray:
    """``math.<name>`` (the C library's double function, which PyTorch's kernels call) of every element,
    computed fast: in extended precision, rounded to double, and redone with the C library where that
    rounding is too close to call."""
    values = np.asarray(values, dtype=np.float64)
    function = getattr(math, name)
    threshold = _CORRECTLY_ROUNDED_BELOW[name]
    if threshold == 0.0 or np.finfo(np.longdouble).nmant <= 52:  # no extended precision: all by the C library
        return np.array([function(value) for value in values.reshape(-1).tolist()],
                        dtype=np.float64).reshape(values.shape)
    precise = getattr(np, name)(values.astype(np.longdouble))
    result = precise.astype(np.float64)
    error = np.abs((precise - result).astype(np.float64) / np.spacing(np.abs(result)))
    close = ~(error < threshold)
    if close.any():
        result[close] = [function(value) for value in values[close].tolist()]
    return result


# -- uniform ---------------------------------------------------------------------------------------------

def unit_floats(generator: Any, count: int, dtype: Any) -> np.ndarray:
    """``count`` uniform numbers in [0, 1) of ``dtype``: float64 from 53 bits of a 64-bit draw, float32 from
    24 bits of a word, and float16 as PyTorch 2.13: the float32 number rounded to half."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return (generator.words64(count) & _LOW_53).astype(np.float64) * (2.0 ** -53)
    unit = (generator.words32(count) & _LOW_24).astype(_F32) * _F32(2.0 ** -24)
    return unit.astype(dtype, copy=False)


def uniform(generator: Any, shape: Sequence[int], dtype: Any, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """Uniform numbers in [low, high): ``x * (high - low) + low`` (one rounding) in the dtype; float16 is
    computed in float32 and rounded, a result rounded up to ``high`` becoming ``low`` (PyTorch 2.13's)."""
    if not low <= high:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={low:g} > to={high:g}")
    dtype = np.dtype(dtype)
    compute = np.float64 if dtype == np.float64 else _F32
    unit = unit_floats(generator, _count(shape), compute)
    low_c, high_c = compute(dtype.type(low)), compute(dtype.type(high))
    if low_c != 0 or high_c != 1:
        unit = _fused_multiply_add(unit, high_c - low_c, low_c)
    values = unit.astype(dtype, copy=False)
    if dtype not in (np.float32, np.float64):
        values[values == dtype.type(high)] = dtype.type(low)
    return values.reshape(shape)


def _fused_multiply_add(x: np.ndarray, scale: Any, shift: Any) -> np.ndarray:
    """``x * scale + shift`` rounded once, as the FMA instruction PyTorch's compiled kernels use."""
    if x.dtype == _F32:
        return (x.astype(np.float64) * float(scale) + float(shift)).astype(_F32)
    # float64: the product's exact low part (Dekker's split) and the sum's (Knuth's two-sum) added back
    x = x.astype(np.float64)
    scale, shift = float(scale), float(shift)
    product = x * scale
    x_high, x_low = _split(x)
    scale_high, scale_low = _split(np.float64(scale))
    product_error = ((x_high * scale_high - product) + x_high * scale_low + x_low * scale_high) + x_low * scale_low
    total = product + shift
    virtual = total - product
    sum_error = (product - (total - virtual)) + (shift - virtual)
    return total + (sum_error + product_error)


def _split(values: Any) -> tuple[Any, Any]:
    """Veltkamp's split of doubles into a 26-bit high part and the rest (exact: high + low == values)."""
    scaled = values * 134217729.0  # 2**27 + 1
    high = scaled - (scaled - values)
    return high, values - high


# -- normal ----------------------------------------------------------------------------------------------

def normal(generator: Any, shape: Sequence[int], dtype: Any, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """Normal numbers with PyTorch's algorithm for a contiguous tensor of this shape and dtype."""
    dtype = np.dtype(dtype)
    count = _count(shape)
    if count < 16:
        values = scalar_normals(generator, count, mean, std)
        return values.astype(dtype).reshape(shape)
    compute = _F32 if dtype == np.float16 else dtype.type
    data = unit_floats(generator, count, compute)
    whole = count - count % 16
    blocks = data[:whole].reshape(-1, 2, 8)
    out = np.empty(count, dtype=compute)
    flat_out = out[:whole].reshape(-1, 16)
    for start in range(0, len(blocks), _BLOCKS_PER_CHUNK):  # chunks that stay in cache
        stop = start + _BLOCKS_PER_CHUNK
        flat_out[start:stop] = _box_muller_16(blocks[start:stop], compute, mean, std).reshape(-1, 16)
    if count % 16:
        tail = unit_floats(generator, 16, compute).reshape(1, 2, 8)
        out[count - 16:] = _box_muller_16(tail, compute, mean, std).reshape(-1)
    return out.astype(dtype, copy=False).reshape(shape)


def _box_muller_16(blocks: np.ndarray, dtype: Any, mean: float, std: float) -> np.ndarray:
    """Blocks of 16 uniforms (shape (B, 2, 8)) to 16 normals each, in place of the uniforms."""
    first, second = blocks[:, 0], blocks[:, 1]
    if dtype == _F32:
        radius = np.sqrt(_F32(-2.0) * _random_avx.log(_F32(1.0) - first))
        sine, cosine = _random_avx.sincos(_F32(_TWO_PI) * second)
        pair = np.stack([radius * cosine, radius * sine], axis=1)
        return _fused_multiply_add(pair, _F32(std), _F32(mean)) if (std != 1 or mean != 0) else pair
    radius = np.sqrt(-2.0 * _libm("log", 1.0 - first))
    theta = _TWO_PI * second
    pair = np.stack([radius * _libm("cos", theta), radius * _libm("sin", theta)], axis=1)
    return _fused_multiply_add(pair, float(std), float(mean)) if (std != 1 or mean != 0) else pair


def scalar_normals(generator: Any, count: int, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """``count`` doubles from PyTorch's one-at-a-time normal (Box-Muller on two double uniforms, the sine
    kept for the next call, then ``z * std + mean`` with one rounding); used for tensors under 16 elements."""
    standard = []
    for _ in range(count):
        if generator._next_normal is not None:
            standard.append(generator._next_normal)
            generator._next_normal = None
            continue
        first, second = unit_floats(generator, 2, np.float64).tolist()
        radius = math.sqrt(-2.0 * math.log1p(-second))
        theta = _TWO_PI * first
        generator._next_normal = radius * math.sin(theta)
        standard.append(radius * math.cos(theta))
    values = np.array(standard, dtype=np.float64)
    return _fused_multiply_add(values, float(std), float(mean)) if (std != 1 or mean != 0) else values


# -- integers, permutations ------------------------------------------------------------------------------

def integers(generator: Any, shape: Sequence[int], low: int, high: int) -> np.ndarray:
    """Integers in [low, high) as int64: ``w % (high - low) + low``, w a 32-bit word (64-bit draw when
    the range is 2**32 or more)."""
    span = int(high) - int(low)
    count = _count(shape)
    words = generator.words64(count) if span >= (1 << 32) else generator.words32(count)
    offsets = words % np.uint64(span)
    return (offsets.astype(np.int64) + np.int64(low)).reshape(shape) if span < (1 << 63) else \
        np.array([(int(v) + int(low)) for v in offsets.tolist()], dtype=np.int64).reshape(shape)


def full_range_integers(generator: Any, shape: Sequence[int], dtype: Any) -> np.ndarray:
    """``random_()`` without bounds: [0, 2**mantissa] for floats, [0, max] for integers (PyTorch's)."""
    dtype = np.dtype(dtype)
    count = _count(shape)
    if dtype == np.bool_:
        return (generator.words32(count) & np.uint64(1)).astype(np.bool_).reshape(shape)
    if dtype in (np.int64, np.float64):
        words = generator.words64(count)
    else:
        words = generator.words32(count)
    if dtype.kind == "f":
        limit = (1 << (np.finfo(dtype).nmant + 1)) + 1
    else:
        limit = int(np.iinfo(dtype).max) + 1
    return (words % np.uint64(limit)).astype(dtype).reshape(shape)


def permutation(generator: Any, n: int) -> np.ndarray:
    """PyTorch's ``randperm(n)``: Fisher-Yates from the front with ``w % (n - i)``; for n of 2**32 / 20 or
    more, the draw-as-you-go variant with 64-bit draws."""
    n = int(n)
    if n < (1 << 32) // 20:
        if n <= 1:
            return np.arange(n, dtype=np.int64)
        offsets = generator.words32(n - 1) % np.arange(n, 1, -1, dtype=np.uint64)
        order = list(range(n))
        for index, offset in enumerate(offsets.tolist()):
            other = index + offset
            order[index], order[other] = order[other], order[index]
        return np.array(order, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    picks = generator.words64(n) % np.arange(1, n + 1, dtype=np.uint64)
    for index, pick in enumerate(picks.tolist()):
        order[index] = order[pick]
        order[pick] = index
    return order


# -- Bernoulli, exponential, multinomial -----------------------------------------------------------------

def bernoulli_scalar(generator: Any, shape: Sequence[int], p: float) -> np.ndarray:
    """A boolean mask, True with probability ``p``: double uniform < p per element."""
    return (unit_floats(generator, _count(shape), np.float64) < float(p)).reshape(shape)


def bernoulli_tensor(generator: Any, probabilities: np.ndarray) -> np.ndarray:
    """A boolean mask, True where a uniform (double for float64 ``probabilities``, else float) < p."""
    probabilities = np.asarray(probabilities)
    dtype = np.float64 if probabilities.dtype == np.float64 else _F32
    draws = unit_floats(generator, probabilities.size, dtype).reshape(probabilities.shape)
    return draws < probabilities.astype(dtype, copy=False)


def exponential(generator: Any, shape: Sequence[int], dtype: Any, rate: float = 1.0) -> np.ndarray:
    """Exponential numbers ``-1 / rate * log1p(-u)``, u a double uniform, cast to ``dtype``."""
    unit = unit_floats(generator, _count(shape), np.float64)
    return ((-1.0 / float(rate)) * _libm("log1p", -unit)).astype(dtype).reshape(shape)


def multinomial(generator: Any, weights: np.ndarray, samples: int, replacement: bool) -> np.ndarray:
    """Category indices for each row of the 2-D ``weights``, as PyTorch draws them.

    With replacement: per row, the cumulative sum (in the weights' dtype) divided by its total, then per
    sample a double uniform u and the first index whose cumulative value is >= u. Without replacement (or
    one sample): the exponential trick, the top ``samples`` of ``weights / q`` with q ~ Exp(1)."""
    dtype = weights.dtype if weights.dtype in (np.float32, np.float64) else np.dtype(np.float32)
    weights = weights.astype(dtype, copy=False)
    if not replacement or samples == 1:
        noise = exponential(generator, weights.shape, dtype)
        keys = weights / noise
        if samples == 1:
            return np.argmax(keys, axis=-1)[:, None].astype(np.int64)
        order = np.argsort(-keys, axis=-1, kind="stable")
        return order[:, :samples].astype(np.int64)
    rows = []
    for row in weights:
        cumulative = np.cumsum(row, dtype=dtype)
        cumulative = cumulative / cumulative[-1]
        cumulative[-1] = 1
        draws = unit_floats(generator, samples, np.float64)
        rows.append(np.searchsorted(cumulative.astype(np.float64), draws, side="left"))
    return np.array(rows, dtype=np.int64)


class StreamView:
    """The few NumPy-Generator methods the rest of shenjing uses (``random``, ``uniform``, ``normal``,
    ``standard_normal``, ``integers``, ``permutation``, ``choice``, ``standard_exponential``), each drawing
    from a shenjing Generator with the transforms above, so all randomness is one seeded stream."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator

    @staticmethod
    def _shape(size: Any) -> tuple[int, ...]:
        if size is None:
            return ()
        return (int(size),) if np.isscalar(size) else tuple(int(s) for s in size)

    def _finish(self, array: np.ndarray, size: Any) -> Any:
        return array if size is not None else array.reshape(()).item()

    def random(self, size: Any = None, dtype: Any = np.float64) -> Any:
        """Uniform [0, 1) numbers drawn as ``torch.rand(size)`` draws them (float32 bits), as ``dtype``."""
        shape = self._shape(size)
        return self._finish(uniform(self.generator, shape, np.float32).astype(dtype), size)

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None) -> Any:
        """Uniform [low, high) numbers; scalar bounds draw as ``torch.empty(size).uniform_(low, high)``."""
        if np.ndim(low) == 0 and np.ndim(high) == 0:
            shape = self._shape(size)
            return self._finish(uniform(self.generator, shape, np.float32, float(low), float(high)).astype(
                np.float64), size)
        if size is None:
            size = np.broadcast_shapes(np.shape(low), np.shape(high))
        unit = uniform(self.generator, self._shape(size), np.float32).astype(np.float64)
        return low + unit * (np.asarray(high) - low)

    def standard_normal(self, size: Any = None, dtype: Any = np.float64) -> Any:
        """Standard normals drawn as ``torch.randn(size)`` draws them (float32), as ``dtype``."""
        return self._finish(normal(self.generator, self._shape(size), np.float32).astype(dtype), size)

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
        if size is None and (np.ndim(loc) or np.ndim(scale)):
            size = np.broadcast_shapes(np.shape(loc), np.shape(scale))
        values = normal(self.generator, self._shape(size), np.float32).astype(np.float64)
        return self._finish(np.asarray(values * scale + loc), size)

    def standard_exponential(self, size: Any = None) -> Any:
        return self._finish(exponential(self.generator, self._shape(size), np.float64), size)

    def integers(self, low: int, high: int | None = None, size: Any = None, dtype: Any = np.int64,
                 endpoint: bool = False) -> Any:
        if high is None:
            low, high = 0, low
        high = int(high) + (1 if endpoint else 0)
        values = integers(self.generator, self._shape(size), int(low), high).astype(dtype)
        return self._finish(values, size)

    def dirichlet(self, alpha: Any, size: Any = None) -> Any:
        """Dirichlet draws (AugMix's mixing weights): NumPy's sampler seeded by one draw of this stream,
        so the same seed repeats them (PyTorch's own Dirichlet sampler is not reproduced)."""
        seed = int(integers(self.generator, (1,), 0, 2 ** 62)[0])
        return np.random.default_rng(seed).dirichlet(alpha, size)

    def permutation(self, items: Any) -> np.ndarray:
        if np.isscalar(items):
            return permutation(self.generator, int(items))
        items = np.asarray(items)
        return items[permutation(self.generator, len(items))]

    def shuffle(self, items: Any) -> None:
        items[...] = np.asarray(items)[permutation(self.generator, len(items))]

    def choice(self, options: Any, size: Any = None, replace: bool = True, p: Any = None) -> Any:
        count = int(options) if np.isscalar(options) else len(options)
        shape = self._shape(size)
        total = _count(shape)
        weights = np.ones(count) if p is None else np.asarray(p, dtype=np.float64)
        picks = multinomial(self.generator, weights[None, :], total, replace)[0].reshape(shape)
        chosen = picks if np.isscalar(options) else np.asarray(options)[picks]
        return self._finish(np.asarray(chosen), size)
