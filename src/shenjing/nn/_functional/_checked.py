"""Argument checks that run once per configuration.

Checking a convolution's or a pooling's arguments (types, shapes, dtypes, output sizes) costs as
much as a small convolution itself (~15-20 us at batch 1), and a model calls these functions with
the same shapes and arguments every step. ``CheckedCalls`` remembers, per configuration (the input
and parameter shapes and dtypes and the other arguments), what the checks produced (a geometry):
a call whose configuration passed before skips them. The checks depend on nothing else, so the
errors are exactly those of checking every time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing._tensor import Tensor

__all__ = ["CheckedCalls"]


class CheckedCalls:
    """A bounded map from configuration to the result of its checks."""

    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self._results: dict = {}

    @staticmethod
    def key(tensors: tuple, *arguments: Any) -> tuple | None:
        """The configuration of a call: the shape and dtype of each tensor (None stays None) and the
        other arguments. None when one of ``tensors`` is not a tensor or an argument is unhashable
        (a list): such calls are checked every time."""
        described = []
        for t in tensors:
            if t is None:
                described.append(None)
            elif isinstance(t, Tensor) and type(t._data) is np.ndarray:
                described.append((t._data.shape, t._data.dtype))
            else:
                return None
        return CheckedCalls.key_of(tuple(described), *arguments)

    @staticmethod
    def key_of(described: tuple, *arguments: Any) -> tuple | None:
        """``key`` from each tensor's (shape, dtype) (None for an absent one)."""
        key = (described, arguments)
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def get(self, key: tuple | None) -> Any:
        return None if key is None else self._results.get(key)

    def remember(self, key: tuple | None, result: Any) -> None:
        if key is None:
            return
        if len(self._results) >= self.limit:
            self._results.clear()
        self._results[key] = result
