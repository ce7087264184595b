"""How shenjing's kernels get their large work arrays: from the C heap, kept by glibc between steps.

Why: glibc's ``malloc`` serves blocks above its mmap threshold (128 KiB at first) with a fresh ``mmap``
and gives them back to the operating system on ``free``, so every training step would map its patch
matrices, activations and gradients in again, one page fault per 4 KiB page (a large share of a
training step: docs/performance.md). ``keep_freed_memory`` raises the mmap threshold and the
heap's trim threshold once, with ``mallopt`` (glibc only): the blocks then come from the heap and a freed
block stays there for the next array of its size, as PyTorch's CPU allocator keeps its blocks.
It runs once, when this module is imported; elsewhere (musl, macOS, Windows) nothing changes.

``zeros`` hands out a shared read-only operand of zeros (ReLU's fast loop).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import sys
from typing import Any

import numpy as np

__all__ = ["zeros", "keep_freed_memory"]

# glibc's mallopt parameters (malloc.h) and the values set: blocks up to MMAP_THRESHOLD come from the heap
# (glibc's largest allowed threshold on 64-bit: 32 MiB); up to TRIM_THRESHOLD of free memory at the top of
# the heap stays mapped.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (see the module docstring); whether it was done."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


KEEPS_FREED_MEMORY = keep_freed_memory()


# NumPy's SIMD loops for binary ufuncs such as ``np.maximum`` take two contiguous arrays; with a scalar
# operand this build runs a slower loop (measured in docs/performance.md). ``zeros`` hands out such an
# operand without allocating: a read-only view of one zero-filled buffer
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
