"""Large arrays that the hot kernels ask for again and again with the same shape, recycled.

Why: glibc's ``malloc`` gives blocks above its mmap threshold (128 KiB at first) back to the
operating system as soon as they are freed, so every training step maps its patch matrices,
activations and gradients in again, one page fault per 4 KiB page: measured on LeNet-5 at batch 64,
~3,000 faults and a third of the step. ``take(name, shape, dtype)`` instead hands out an array that
it handed out before for the same name, shape and dtype, once nothing else refers to it any more:
its reference count shows that only this cache holds it (so whatever is still in use, an
activation saved for backward, a ``.grad``, an array the user kept, is never handed out twice).
Otherwise it makes a new array and remembers that one too.

The arrays are exactly what ``np.empty`` would return (uninitialised, C-contiguous, owning their
memory), so they can become tensors' data. Only arrays of ``MIN_BYTES`` to ``MAX_BYTES`` are cached,
at most ``PER_KEY`` per name and shape and ``LIMIT_BYTES`` in all: the least recently used names and
shapes are forgotten first. (So after a model has run, up to its working set of such arrays stays
allocated, as with PyTorch's caching allocators; ``clear()`` lets them go.)
"""

from __future__ import annotations

import math
import sys
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

__all__ = ["take", "holds", "clear", "zeros"]

MIN_BYTES = 32 << 10  # smaller blocks churn the heap's top too: LeNet-5 at batch 1 had glibc trim and regrow
# its heap three times a step (sys time a fifth of the step) with 128 KiB here
MAX_BYTES = 32 << 20  # larger arrays cost far more to fill than to fault in: not worth keeping
LIMIT_BYTES = 256 << 20
PER_KEY = 8  # arrays of one name and shape alive at once (layers of the same size) that are cached

_cache: "OrderedDict[tuple, list[np.ndarray]]" = OrderedDict()
_cached_ids: set[int] = set()  # id() of every cached array (alive while cached: the cache refers to it)
_cached_bytes = 0
_lock = threading.Lock()


def _references(arrays: list) -> int:
    for array in arrays:  # (the loop of ``take``, so that the count is taken the same way)
        return sys.getrefcount(array)
    return 0


# the count ``take`` sees for an array that only the cache refers to, measured the same way
_FREE = _references([np.empty(0)])
# reference counts tell who holds an array only with the global interpreter lock
_ENABLED = getattr(sys, "_is_gil_enabled", lambda: True)()


def take(name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised C-contiguous array of ``shape`` and ``dtype``: a free one from an earlier
    call with the same ``name`` when there is one, else a new one."""
    global _cached_bytes
    if not isinstance(dtype, np.dtype):
        dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES or nbytes > MAX_BYTES or not _ENABLED:
        return np.empty(shape, dtype)
    shape = tuple(shape)
    key = (name, shape, dtype)
    with _lock:
        arrays = _cache.get(key)
        if arrays is None:
            arrays = _cache[key] = []
        _cache.move_to_end(key)
        for array in arrays:
            if sys.getrefcount(array) == _FREE:
                return array
        array = np.empty(shape, dtype)
        if len(arrays) >= PER_KEY:
            return array
        arrays.append(array)
        _cached_ids.add(id(array))
        _cached_bytes += nbytes
        while _cached_bytes > LIMIT_BYTES and len(_cache) > 1:
            _, dropped = _cache.popitem(last=False)
            _cached_bytes -= sum(a.nbytes for a in dropped)
            _cached_ids.difference_update(id(a) for a in dropped)
        return array


def holds(array: np.ndarray) -> bool:
    """Whether ``array`` is one of the cached arrays (the cache then holds one reference to it)."""
    return id(array) in _cached_ids


def clear() -> None:
    """Forget every cached array (those still in use stay alive with their users)."""
    global _cached_bytes
    with _lock:
        _cache.clear()
        _cached_ids.clear()
        _cached_bytes = 0


# NumPy's SIMD loops for binary ufuncs such as ``np.maximum`` take two contiguous arrays; with a scalar
# operand this build runs a slower loop (float32 relu, us, np.maximum(x, 0) -> np.maximum(x, zeros):
# 75k values 38 -> 12, 16k 16.7 -> 5.5, 4k 5.6 -> 3.6, 1k 3.3 -> 3.6, so worth it from ~2k values).
# ``zeros`` hands out such an operand without allocating: a read-only view of one zero-filled buffer
# per dtype, grown to the largest size asked for (up to ZEROS_MAX_BYTES).
ZEROS_MAX_BYTES = 16 << 20
_zeros: dict = {}


def zeros(shape: tuple[int, ...], dtype: Any) -> np.ndarray | None:
    """A read-only C-contiguous array of zeros of ``shape`` and ``dtype`` (a view of a shared buffer),
    or None above ``ZEROS_MAX_BYTES``."""
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    if size * dtype.itemsize > ZEROS_MAX_BYTES:
        return None
    buffer = _zeros.get(dtype)
    if buffer is None or buffer.size < size:
        buffer = np.zeros(max(size, 1024), dtype)
        buffer.flags.writeable = False
        _zeros[dtype] = buffer
    return buffer[:size].reshape(shape)
