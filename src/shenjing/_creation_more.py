"""More ways to make a tensor: ``range`` (PyTorch's deprecated inclusive arange), ``scalar_tensor``,
``fill``, ``asarray``, ``frombuffer``, ``from_file`` and the DLPack exchange (``from_dlpack``,
``to_dlpack``); and the samplers ``poisson`` and ``binomial``.

The samplers turn uniform numbers of shenjing's generator (``shenjing.rand``) into their distribution
with the classic algorithms: for small means, counting (Knuth's product of uniforms for Poisson,
inversion for the binomial); for means of 10 and more, Hörmann's transformed rejection (PTRS for
Poisson, BTRS for the binomial), which accepts most proposals at the first try.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from shenjing import _dtype
from shenjing._creation import _finish, rand, tensor
from shenjing._device import check_device
from shenjing._ops._util import check_tensor
from shenjing._random import Generator
from shenjing._tensor import Tensor

__all__ = ["range", "scalar_tensor", "fill", "asarray", "frombuffer", "from_file", "from_dlpack", "to_dlpack",
           "poisson", "binomial"]

def range(start: Any = 0, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:  # noqa: A001  (PyTorch's name)
    """``start, start + step, ..., end`` with ``end`` included (deprecated in PyTorch for ``arange``).
    The default dtype is the default floating dtype.

    >>> import shenjing, warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     shenjing.range(1, 4)
    tensor([1., 2., 3., 4.])
    """
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    if end is None:
        raise TypeError("range() missing required argument 'end'")
    start, end, step = (float(v.item()) if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and start > end) or (step < 0 and start < end):
        raise RuntimeError(f"upper bound and larger bound inconsistent with step sign (start {start}, end {end}, "
                           f"step {step})")
    count = int(math.floor((end - start) / step)) + 1
    np_dtype = (_dtype.as_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()).numpy
    values = (start + np.arange(count, dtype=np.float64) * step).astype(np_dtype)
    return _finish(values, None, requires_grad, device)


def scalar_tensor(s: Any, *, dtype: Any = None, layout: Any = None, device: Any = None,
                  pin_memory: bool | None = None, requires_grad: bool = False) -> Tensor:
    """A 0-d tensor holding ``s``, of the default floating dtype unless ``dtype`` is given (also for ints)."""
    np_dtype = (_dtype.as_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()).numpy
    return _finish(np.array(s.item() if isinstance(s, Tensor) else s, dtype=np_dtype), None, requires_grad, device)


def fill(input: Tensor, value: Any) -> Tensor:
    """A new tensor of ``input``'s shape and dtype, every element ``value`` (a number or 0-d tensor, whose
    gradient is the sum of the result's)."""
    check_tensor(input)
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"fill only supports 0-dimension value tensor but got tensor with {value.ndim} "
                           f"dimensions.")
    return input.clone().fill_(value)


def asarray(obj: Any, *, dtype: Any = None, device: Any = None, copy: bool | None = None,
            requires_grad: bool = False) -> Tensor:
    """``obj`` as a tensor, sharing memory where it can: a tensor or a NumPy array (or anything with the
    buffer protocol) of the requested dtype is not copied unless ``copy=True``; ``copy=False`` refuses a
    conversion that would copy.

    >>> import numpy as np, shenjing
    >>> a = np.zeros(2, dtype=np.float32)
    >>> t = shenjing.asarray(a); a[0] = 5
    >>> t
    tensor([5., 0.])
    """
    check_device(device)
    wanted = _dtype.as_dtype(dtype) if dtype is not None else None
    if isinstance(obj, Tensor):
        result = obj if wanted is None or wanted == obj.dtype else obj.to(wanted)
        if result is not obj and copy is False:
            raise ValueError(f"asarray: converting {obj.dtype} to {wanted} needs a copy, but copy=False")
        result = result.clone() if copy and result is obj else result
    else:
        if isinstance(obj, np.ndarray) or hasattr(obj, "__array_interface__") or isinstance(obj, memoryview):
            array = np.asarray(obj)
        else:
            if copy is False:
                raise ValueError(f"asarray: can't share memory with an object of type {type(obj).__name__}; "
                                 f"pass copy=None or copy=True")
            array = tensor(obj, dtype=wanted)._data
        if wanted is not None and array.dtype != wanted.numpy:
            if copy is False:
                raise ValueError(f"asarray: converting {array.dtype} to {wanted} needs a copy, but copy=False")
            array = array.astype(wanted.numpy)
        elif copy:
            array = array.copy()
        result = _finish(array, None, False, None)
    if requires_grad:
        if result is obj:
            result = obj.detach()
        result.requires_grad = True
    return result


def frombuffer(buffer: Any, *, dtype: Any, count: int = -1, offset: int = 0, requires_grad: bool = False) -> Tensor:
    """A 1-D tensor over the memory of an object with the buffer protocol (``bytes``, ``bytearray``,
    ``array.array``, ...), sharing it: ``count`` elements (all with -1) of ``dtype`` from byte ``offset``.

    >>> import array, shenjing
    >>> shenjing.frombuffer(array.array('i', [1, 2, 3]), dtype=shenjing.int32)
    tensor([1, 2, 3], dtype=shenjing.int32)
    """
    np_dtype = _dtype.as_dtype(dtype).numpy
    size = memoryview(buffer).nbytes
    if offset < 0 or offset >= size and size:
        raise ValueError(f"both buffer length ({size}) and offset ({offset}) must be greater than 0 (offset must "
                         f"be smaller than the buffer length)")
    if count == 0 or count < -1:
        raise ValueError(f"count must be positive or -1, got {count}")
    if count == -1 and (size - offset) % np_dtype.itemsize:
        raise ValueError(f"buffer length ({size - offset} bytes after skipping {offset}) must be a multiple of "
                         f"element size ({np_dtype.itemsize})")
    if count > 0 and offset + count * np_dtype.itemsize > size:
        raise ValueError(f"requested buffer length ({count} * {np_dtype.itemsize} bytes) after offset ({offset}) "
                         f"must not be greater than actual buffer length ({size})")
    array = np.frombuffer(buffer, dtype=np_dtype, count=count, offset=offset)
    if not array.flags.writeable:
        warnings.warn("The given buffer is not writable, and PyTorch does not support non-writable tensors. "
                      "This means you can write to the underlying (supposedly non-writable) buffer using the tensor. "
                      "You may want to copy the buffer to protect its data or make it writable before converting "
                      "it to a tensor.", UserWarning, stacklevel=2)
    return _finish(array, None, requires_grad, None)


def from_file(filename: str, shared: bool | None = None, size: int = 0, *, dtype: Any = None, layout: Any = None,
              device: Any = None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """``size`` elements of ``dtype`` read from the binary file ``filename``; with ``shared=True`` the tensor
    is a memory map of the file (writes reach the file)."""
    np_dtype = (_dtype.as_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()).numpy
    import os

    available = os.path.getsize(filename) // np_dtype.itemsize
    if size > available:
        raise RuntimeError(f"from_file: the file {filename!r} holds {available} elements of {np_dtype}, fewer "
                           f"than size={size}")
    if shared:
        array = np.memmap(filename, dtype=np_dtype, mode="r+", shape=(size,)) if size else np.zeros(0, np_dtype)
    else:
        array = np.fromfile(filename, dtype=np_dtype, count=size)
    return _finish(array, None, requires_grad, device)


class _Capsule:
    """Gives a bare DLPack capsule the ``__dlpack__`` protocol that NumPy reads."""

    def __init__(self, capsule: Any) -> None:
        self.capsule = capsule

    def __dlpack__(self, **kwargs: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # kDLCPU


def from_dlpack(ext_tensor: Any, *, device: Any = None, copy: bool | None = None) -> Tensor:
    """A tensor sharing the memory of a CPU array from another library (an object with ``__dlpack__``,
    or a DLPack capsule)."""
    check_device(device)
    source = ext_tensor if hasattr(ext_tensor, "__dlpack__") else _Capsule(ext_tensor)
    array = np.from_dlpack(source)
    return _finish(array.copy() if copy else array, None, False, None)


def to_dlpack(tensor: Tensor) -> Any:
    """A DLPack capsule of the tensor's memory (for ``from_dlpack`` of another library)."""
    check_tensor(tensor, "to_dlpack(): tensor")
    return tensor._data.__dlpack__()


# -- samplers ------------------------------------------------------------------------------------------

def _uniform(count: int, generator: Generator | None) -> np.ndarray:
    return rand(count, generator=generator, dtype=_dtype.float64)._data


_lgamma = np.frompyfunc(math.lgamma, 1, 1)


def _log_factorial(k: np.ndarray) -> np.ndarray:
    return _lgamma(k + 1.0).astype(np.float64)


def _poisson_small(rate: np.ndarray, generator: Generator | None) -> np.ndarray:
    """Knuth: the number of uniforms whose running product stays above exp(-rate)."""
    limit = np.exp(-rate)
    product = np.ones_like(rate)
    count = np.zeros_like(rate)
    active = np.arange(rate.size)
    while active.size:
        product[active] *= _uniform(active.size, generator)
        going = product[active] > limit[active]
        count[active[going]] += 1
        active = active[going]
    return count


def _poisson_large(rate: np.ndarray, generator: Generator | None) -> np.ndarray:
    """Hörmann's PTRS (transformed rejection with squeeze), for rate >= 10."""
    result = np.zeros_like(rate)
    slam, loglam = np.sqrt(rate), np.log(rate)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    active = np.arange(rate.size)
    while active.size:
        u = _uniform(active.size, generator) - 0.5
        v = _uniform(active.size, generator)
        us = 0.5 - np.abs(u)
        aa, bb, lam = a[active], b[active], rate[active]
        k = np.floor((2 * aa / us + bb) * u + lam + 0.43)
        quick = (us >= 0.07) & (v <= vr[active])
        possible = ~quick & (k >= 0) & ~((us < 0.013) & (v > us))
        safe_k = np.where(possible, k, 0)
        bound = -lam + safe_k * loglam[active] - _log_factorial(safe_k)
        slow = possible & (np.log(v) + np.log(inv_alpha[active]) - np.log(aa / (us * us) + bb) <= bound)
        accepted = quick | slow
        result[active[accepted]] = k[accepted]
        active = active[~accepted]
    return result


def poisson(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Poisson counts with the rates ``input`` (>= 0), in ``input``'s floating dtype.

    >>> import shenjing
    >>> _ = shenjing.manual_seed(0)
    >>> draws = shenjing.poisson(shenjing.full((20000,), 4.0))
    >>> abs(draws.mean().item() - 4.0) < 0.1
    True
    """
    check_tensor(input)
    if not input.is_floating_point():
        raise RuntimeError(f"poisson: expected a floating point tensor of rates, got {input.dtype}")
    rate = input._data.astype(np.float64).reshape(-1)
    if rate.size and (not np.all(np.isfinite(rate)) or rate.min() < 0):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative and finite")
    result = np.zeros_like(rate)
    small = rate < 10
    result[small] = _poisson_small(rate[small], generator)
    result[~small] = _poisson_large(rate[~small], generator)
    return Tensor._make(result.reshape(input._data.shape).astype(input._data.dtype))


def _binomial_inversion(n: np.ndarray, p: np.ndarray, generator: Generator | None) -> np.ndarray:
    """Inversion: walk the pmf from 0 until the uniform is used up (for n p < 10, p <= 1/2)."""
    q = 1 - p
    s = p / q
    a = (n + 1) * s
    r = q ** n
    u = _uniform(n.size, generator)
    x = np.zeros_like(n)
    active = np.nonzero(u > r)[0]
    while active.size:
        u[active] -= r[active]
        x[active] += 1
        r[active] *= a[active] / x[active] - s[active]
        still = (u[active] > r[active]) & (x[active] < n[active])
        active = active[still]
    return x


def _binomial_btrs(n: np.ndarray, p: np.ndarray, generator: Generator | None) -> np.ndarray:
    """Hörmann's BTRS (transformed rejection with squeeze), for n p >= 10, p <= 1/2; the exact test
    compares with the pmf ratio f(k) / f(m) at the mode m."""
    q = 1 - p
    spq = np.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    alpha = (2.83 + 5.1 / b) * spq
    vr = 0.92 - 4.2 / b
    m = np.floor((n + 1) * p)
    log_ratio = np.log(p / q)
    result = np.zeros_like(n)
    active = np.arange(n.size)
    while active.size:
        u = _uniform(active.size, generator) - 0.5
        v = _uniform(active.size, generator)
        us = 0.5 - np.abs(u)
        aa, bb, nn = a[active], b[active], n[active]
        k = np.floor((2 * aa / us + bb) * u + c[active])
        inside = (k >= 0) & (k <= nn)
        quick = inside & (us >= 0.07) & (v <= vr[active])
        safe_k = np.where(inside, k, 0)
        mm = m[active]
        log_pmf_ratio = (_log_factorial(mm) + _log_factorial(nn - mm) - _log_factorial(safe_k)
                         - _log_factorial(nn - safe_k) + (safe_k - mm) * log_ratio[active])
        slow = inside & ~quick & (np.log(v * alpha[active] / (aa / (us * us) + bb)) <= log_pmf_ratio)
        accepted = quick | slow
        result[active[accepted]] = k[accepted]
        active = active[~accepted]
    return result


def binomial(count: Tensor, prob: Tensor, generator: Generator | None = None) -> Tensor:
    """Binomial draws: the number of successes in ``count`` trials of probability ``prob`` (tensors that
    broadcast; floating point, as PyTorch requires).

    >>> import shenjing
    >>> _ = shenjing.manual_seed(0)
    >>> draws = shenjing.binomial(shenjing.full((20000,), 10.0), shenjing.full((20000,), 0.3))
    >>> abs(draws.mean().item() - 3.0) < 0.05
    True
    """
    check_tensor(count, "binomial(): count")
    check_tensor(prob, "binomial(): prob")
    if not count.is_floating_point() or not prob.is_floating_point():
        raise RuntimeError(f"binomial: expected floating point count and prob, got {count.dtype} and {prob.dtype}")
    n_array, p_array = np.broadcast_arrays(count._data.astype(np.float64), prob._data.astype(np.float64))
    n, p = n_array.reshape(-1).copy(), p_array.reshape(-1).copy()
    if n.size and (np.any(n < 0) or np.any(np.floor(n) != n)):
        raise RuntimeError("binomial: count must be non-negative integers (stored as floating point)")
    if p.size and (np.any(p < 0) or np.any(p > 1) or np.any(np.isnan(p))):
        raise RuntimeError("binomial: prob must be in [0, 1]")
    flipped = p > 0.5
    p = np.where(flipped, 1 - p, p)
    result = np.zeros_like(n)
    usable = (p > 0) & (n > 0)
    small = usable & (n * p < 10)
    large = usable & ~small
    result[small] = _binomial_inversion(n[small], p[small], generator)
    result[large] = _binomial_btrs(n[large], p[large], generator)
    result = np.where(flipped, n - result, result)
    dtype = np.result_type(count._data.dtype, prob._data.dtype)
    return Tensor._make(result.reshape(n_array.shape).astype(dtype))

