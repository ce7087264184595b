"""New arrays made from constants or random draws alone, as ops without inputs: what ``zeros``, ``ones``,
``full``, ``empty`` (and their ``_like`` forms), ``arange``, ``linspace``, ``eye``, ``tensor`` of Python
numbers, and ``rand``, ``randn``, ``randint`` and ``normal`` (of numbers) return when no gradient is asked for.

Being ops, they are seen by ``shenjing.compile``, which captures a forward that makes one (an RNN's zero
initial state, ``arange`` positions, a VAE's noise) and replays it, each replay making a new array (random
ones drawn from the generator then, as eager mode would), and by the ONNX exporter. Never differentiable.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from shenjing._random import generator_or_default
from shenjing.autograd.node import Op

__all__ = ["Fill", "Constant", "Draw"]


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


class Draw(Op):
    """A new array of random numbers, ``sample(generator, *arguments)`` (a function of
    ``shenjing._random_draws``) in ``dtype`` (None: as drawn), from ``generator`` (None: the default one,
    as it is when the op runs)."""

    def __init__(self, sample: Callable, generator: Any, arguments: tuple, dtype: np.dtype | None = None) -> None:
        self.sample, self.generator, self.arguments, self.dtype = sample, generator, arguments, dtype

    def forward(self):
        values = self.sample(generator_or_default(self.generator), *self.arguments)
        return values if self.dtype is None else values.astype(self.dtype, copy=False)
