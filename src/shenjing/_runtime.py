"""PyTorch's process-wide switches: threads, determinism, matmul precision, default device and tensor
type, anomaly mode, denormals, and the dtype questions ``promote_types`` / ``can_cast``.

shenjing computes with NumPy on the CPU, so several switches have nothing to change; each records
the value it is given (so that ``get_*`` returns what ``set_*`` set, as code that saves and restores
them expects) and says below what it does:

- threads: NumPy's BLAS owns its thread pool. With ``threadpoolctl`` installed, ``set_num_threads``
  limits the BLAS pools through it; without it the value is only recorded.
- determinism: every shenjing op is deterministic already (no atomics, no autotuning), so
  ``use_deterministic_algorithms(True)`` changes no result.
- ``set_float32_matmul_precision``: NumPy's float32 matmul is always full float32 ("highest").
- ``set_flush_denormal``: NumPy has no switch for the CPU's flush-to-zero mode; returns False
  ("not supported"), as PyTorch does on a CPU without the feature.
"""

from __future__ import annotations

import os
from typing import Any

from shenjing import _dtype
from shenjing._device import device as _device
from shenjing.autograd.grad_mode import _GradState

__all__ = ["set_num_threads", "get_num_threads", "set_num_interop_threads", "get_num_interop_threads",
           "init_num_threads", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
           "get_deterministic_debug_mode", "set_float32_matmul_precision", "get_float32_matmul_precision",
           "get_default_device", "set_default_tensor_type", "set_flush_denormal", "set_anomaly_enabled",
           "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "is_inference_mode_enabled",
           "promote_types", "can_cast", "thread_safe_generator"]


class _Settings:
    """The recorded values (process-wide, as PyTorch's are)."""

    num_threads = os.cpu_count() or 1
    num_interop_threads = os.cpu_count() or 1
    interop_set = False
    deterministic = False
    warn_only = False
    matmul_precision = "highest"


def set_num_threads(num: int) -> None:
    """The number of threads for intra-op parallelism (the BLAS pools, through threadpoolctl if present)."""
    num = int(num)
    if num <= 0:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {num}")
    _Settings.num_threads = num
    try:
        import threadpoolctl
    except ImportError:
        return
    threadpoolctl.threadpool_limits(num)


def get_num_threads() -> int:
    """The value of the last ``set_num_threads`` (the number of CPUs before)."""
    return _Settings.num_threads


def init_num_threads() -> None:
    """Nothing to initialise: NumPy's pools start with the process."""


def set_num_interop_threads(num: int) -> None:
    """Recorded only (shenjing runs no inter-op thread pool). Like PyTorch, it may be set once."""
    num = int(num)
    if num <= 0:
        raise RuntimeError(f"set_num_interop_threads expects a positive integer, got {num}")
    if _Settings.interop_set:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started or "
                           "set_num_interop_threads called")
    _Settings.num_interop_threads, _Settings.interop_set = num, True


def get_num_interop_threads() -> int:
    return _Settings.num_interop_threads


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Ask for deterministic algorithms. Every shenjing op is deterministic, so this changes no result."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms expects a bool, but got {type(mode).__name__}")
    _Settings.deterministic, _Settings.warn_only = mode, bool(warn_only) and mode


def are_deterministic_algorithms_enabled() -> bool:
    return _Settings.deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _Settings.warn_only


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode: int | str) -> None:
    """0 / "default": off; 1 / "warn": deterministic, warn only; 2 / "error": deterministic."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got "
                               f"{debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    if not _Settings.deterministic:
        return 0
    return 1 if _Settings.warn_only else 2


def set_float32_matmul_precision(precision: str) -> None:
    """"highest", "high" or "medium": recorded; NumPy's float32 matmul is always full precision."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid precision {precision!r}: expected one of 'highest', 'high', 'medium'")
    _Settings.matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _Settings.matmul_precision


def get_default_device() -> _device:
    """Where new tensors are made: always the CPU."""
    return _device("cpu")


_TENSOR_TYPES = {"torch.FloatTensor": _dtype.float32, "torch.DoubleTensor": _dtype.float64,
                 "torch.HalfTensor": _dtype.float16}


def set_default_tensor_type(t: Any) -> None:
    """The legacy form of ``set_default_dtype``: ``set_default_tensor_type(torch.DoubleTensor)`` (or its
    name) makes float64 the default floating dtype."""
    name = t if isinstance(t, str) else f"torch.{getattr(t, '__name__', t)}"
    name = name.replace("shenjing.", "torch.")
    if name not in _TENSOR_TYPES:
        raise TypeError(f"invalid type {t!r}: only floating-point CPU types are supported as the default type "
                        f"({', '.join(_TENSOR_TYPES)})")
    _dtype.set_default_dtype(_TENSOR_TYPES[name])


def set_flush_denormal(mode: bool) -> bool:
    """Flush-to-zero of denormal floats is not reachable from NumPy: returns False (not supported)."""
    return False


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Switch autograd's anomaly mode (``autograd.detect_anomaly``) on or off for this thread."""
    _GradState.anomaly = bool(enabled)


def is_anomaly_enabled() -> bool:
    return _GradState.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    """In shenjing's anomaly mode the NaN check is always on while the mode is."""
    return _GradState.anomaly


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()``."""
    return getattr(_GradState, "inference", False)


def thread_safe_generator() -> None:
    """The generator set for this thread by a DataLoader worker in PyTorch; shenjing has none (None)."""
    return None


def _as_dtype(value: Any, name: str) -> _dtype.dtype:
    if not isinstance(value, _dtype.dtype):
        raise TypeError(f"{name}(): argument must be a shenjing.dtype, not {type(value).__name__}")
    return value


def promote_types(type1: _dtype.dtype, type2: _dtype.dtype) -> _dtype.dtype:
    """The smallest dtype that holds both (PyTorch's table: uint8 + int8 -> int16, bool + x -> x, ...).

    >>> import shenjing
    >>> shenjing.promote_types(shenjing.int32, shenjing.float32)
    shenjing.float32
    """
    a, b = _as_dtype(type1, "promote_types"), _as_dtype(type2, "promote_types")
    return _dtype._promote_same_priority(a, b)


def can_cast(from_: _dtype.dtype, to: _dtype.dtype) -> bool:
    """Whether PyTorch's type promotion allows casting ``from_`` to ``to``: never to a lower category
    (float -> int, int -> bool); within a category any size is allowed.

    >>> import shenjing
    >>> shenjing.can_cast(shenjing.double, shenjing.float), shenjing.can_cast(shenjing.float, shenjing.int)
    (True, False)
    """
    a, b = _as_dtype(from_, "can_cast"), _as_dtype(to, "can_cast")
    return a.category <= b.category
