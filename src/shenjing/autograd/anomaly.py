"""Anomaly detection: inside ``detect_anomaly()``, a NaN or infinity produced by a backward formula
raises an error naming the op, with the line of the forward pass that created it.

The switch is per thread, like grad mode (PyTorch keeps this one process-wide): a ``detect_anomaly()``
block in one thread neither turns detection on in another nor, overlapping another thread's block,
leaves it on or off when both have ended."""

from __future__ import annotations

import functools
from typing import Any, Callable

from shenjing.autograd.grad_mode import _GradState

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


class detect_anomaly:
    """Context manager (or decorator) that checks every backward result for NaN and inf.

    >>> import shenjing
    >>> x = shenjing.tensor([0.0], requires_grad=True)
    >>> with detect_anomaly():
    ...     shenjing.sqrt(x).sum().backward()
    Traceback (most recent call last):
    ...
    RuntimeError: Function 'SqrtBackward0' returned inf values in its 0th output...
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._previous = _GradState.anomaly
        _GradState.anomaly = self.check_nan

    def __exit__(self, *exc: Any) -> None:
        _GradState.anomaly = self._previous

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly(detect_anomaly):
    """Turn anomaly detection on or off (at once, and for the duration of a ``with`` block)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._previous = _GradState.anomaly
        self.check_nan = bool(mode)
        _GradState.anomaly = self.check_nan


def is_anomaly_enabled() -> bool:
    return _GradState.anomaly
