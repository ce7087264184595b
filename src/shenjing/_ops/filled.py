"""New arrays made from constants alone, as ops without inputs: what ``zeros``, ``ones``, ``full``, ``empty``
(and their ``_like`` forms), ``arange``, ``linspace`` and ``eye`` return when no gradient is asked for.

Being ops, they are seen by ``shenjing.compile``, which captures a forward that makes one (an RNN's zero
initial state, ``arange`` positions) and replays it, each replay making a new array, and by the ONNX
exporter, which writes them as constants. Never differentiable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing.autograd.node import Op

__all__ = ["Fill", "Constant"]


class Fill(Op):
    """A new array of ``shape`` and ``dtype`` holding ``value`` everywhere (uninitialised: None)."""

    def __init__(self, shape: tuple[int, ...], value: Any, dtype: np.dtype) -> None:
        self.shape, self.value, self.dtype = shape, value, dtype

    def forward(self):
        if self.value is None:
            return np.empty(self.shape, self.dtype)
        if self.value == 0:
            return np.zeros(self.shape, self.dtype)
        return np.full(self.shape, self.value, self.dtype)


class Constant(Op):
    """A new copy of ``array``, values computed when the op was made (``arange``, ``linspace``, ``eye``)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def forward(self):
        return self.array.copy()
