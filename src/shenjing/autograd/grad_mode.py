"""Whether operations record a graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

Each works as a context manager and as a function decorator, like PyTorch's. The modes are per
thread, as PyTorch's are: ``no_grad`` in one thread (evaluation) leaves another thread's training
recording, and every new thread starts with grad mode on and anomaly detection off.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode"]

F = TypeVar("F", bound=Callable[..., Any])


class _ThreadGradState(threading.local):
    """This thread's switches; the class attributes are the defaults every thread starts from."""

    enabled = True
    anomaly = False
    inference = False  # inside inference_mode() (read by shenjing.is_inference_mode_enabled)


_GradState = _ThreadGradState()


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad are recorded for backward."""
    return _GradState.enabled


class _GradModeContext:
    """Sets grad mode on entry and restores the previous mode on exit; also usable as a decorator,
    with or without parentheses (``@no_grad`` or ``@no_grad()``)."""

    mode = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is not set_grad_enabled and len(args) == 1 and callable(args[0]) and not kwargs:
            return cls()(args[0])
        return super().__new__(cls)

    def __enter__(self) -> None:
        self._previous = _GradState.enabled
        _GradState.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        _GradState.enabled = self._previous

    def __call__(self, fn: F) -> F:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = _GradState.enabled
            _GradState.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _GradState.enabled = previous
        return wrapper  # type: ignore[return-value]


class no_grad(_GradModeContext):
    """Stop recording: inside, results never require grad (use for evaluation and weight updates).

    >>> import shenjing
    >>> x = shenjing.ones(2, requires_grad=True)
    >>> with shenjing.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    mode = False


class enable_grad(_GradModeContext):
    """Record again inside a ``no_grad`` block."""

    mode = True


class inference_mode(no_grad):
    """Same as ``no_grad`` here (PyTorch's extra inference-mode optimisations have no NumPy analogue)."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = not mode

    def __enter__(self) -> None:
        super().__enter__()
        self._previous_inference = _GradState.inference
        _GradState.inference = not self.mode

    def __exit__(self, *exc: Any) -> None:
        _GradState.inference = self._previous_inference
        super().__exit__(*exc)

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(not self.mode):
                return fn(*args, **kwargs)
        return wrapper  # type: ignore[return-value]


class set_grad_enabled(_GradModeContext):
    """Turn recording on or off: ``set_grad_enabled(False)`` is ``no_grad()``.

    Like PyTorch's, calling it (not only entering it) sets the mode at once.
    """

    def __init__(self, mode: bool) -> None:
        self._previous = _GradState.enabled
        self.mode = bool(mode)
        _GradState.enabled = self.mode

    def __enter__(self) -> None:
        _GradState.enabled = self.mode

    def __call__(self, fn: F) -> F:
        _GradState.enabled = self._previous  # as a decorator it changes the mode only inside fn
        return super().__call__(fn)
