"""Padding layers: ``ZeroPad``, ``ConstantPad``, ``ReflectionPad``, ``ReplicationPad`` and ``CircularPad``,
each for 1, 2 or 3 trailing dims. Each holds its padding, in ``F.pad``'s order (last dim first:
(left, right), (left, right, top, bottom), (left, right, top, bottom, front, back)), and calls
``F.pad`` with its mode (see ``shenjing.nn.functional.pad`` for what each mode puts in the border).
"""

from __future__ import annotations

from typing import Any

from shenjing._tensor import Tensor
from shenjing.nn._functional.padding import pad
from shenjing.nn.modules.module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d"]

def _amounts(padding: Any, dims: int) -> tuple[int, ...]:
    """An int padding repeated to 2 * dims values; a sequence kept as given (as PyTorch's _ntuple does)."""
    if isinstance(padding, (tuple, list)):
        return tuple(padding)
    return (padding,) * (2 * dims)

class _PadNd(Module):
    """A padding layer: ``_dims`` trailing dims padded in ``_mode``."""

    _dims = 1
    _mode = "constant"

    def __init__(self, padding: Any) -> None:
        super().__init__()
        self.padding = _amounts(padding, self._dims)

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"

class _ConstantPadNd(_PadNd):
    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"

class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``: (N, C, L) -> (N, C, left + L + right).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ConstantPad1d((1, 2), 9.0)(shenjing.tensor([[1., 2.]]))
    tensor([[9., 1., 2., 9., 9.]])
    """

    _dims = 1

class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``; padding (left, right, top, bottom) or an int.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ConstantPad2d(1, 0.5)(shenjing.ones(1, 1, 2)).shape
    shenjing.Size([1, 3, 4])
    """

    _dims = 2

class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``; padding (left, right, top, bottom, front, back) or an int.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ConstantPad3d(1, 0.0)(shenjing.ones(1, 1, 1, 1)).shape
    shenjing.Size([1, 3, 3, 3])
    """

    _dims = 3

class _ZeroPadNd:
    """Mixed in before ConstantPad1d/2d/3d: value 0 (a ZeroPad2d is a ConstantPad2d, as in PyTorch)."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"

class ZeroPad1d(_ZeroPadNd, ConstantPad1d):
    """Pad the last dim with zeros.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ZeroPad1d(1)(shenjing.tensor([[1., 2.]]))
    tensor([[0., 1., 2., 0.]])
    """

class ZeroPad2d(_ZeroPadNd, ConstantPad2d):
    """Pad the last two dims with zeros; padding (left, right, top, bottom) or an int.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ZeroPad2d((1, 0, 0, 2))
    ZeroPad2d((1, 0, 0, 2))
    """

class ZeroPad3d(_ZeroPadNd, ConstantPad3d):
    """Pad the last three dims with zeros; padding (left, right, top, bottom, front, back) or an int.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ZeroPad3d(1)(shenjing.ones(1, 1, 1, 1)).sum()
    tensor(1.)
    """

class ReflectionPad1d(_PadNd):
    """Mirror the last dim about its edge elements (not repeated); each amount < the dim's size.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ReflectionPad1d(2)(shenjing.tensor([[1., 2., 3.]]))
    tensor([[3., 2., 1., 2., 3., 2., 1.]])
    """

    _dims, _mode = 1, "reflect"

class ReflectionPad2d(_PadNd):
    """Mirror the last two dims (see ReflectionPad1d); padding (left, right, top, bottom) or an int.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ReflectionPad2d(1)(shenjing.ones(1, 2, 2)).shape
    shenjing.Size([1, 4, 4])
    """

    _dims, _mode = 2, "reflect"

class ReflectionPad3d(_PadNd):
    """Mirror the last three dims (see ReflectionPad1d).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ReflectionPad3d(1)(shenjing.ones(1, 1, 2, 2, 2)).shape
    shenjing.Size([1, 1, 4, 4, 4])
    """

    _dims, _mode = 3, "reflect"

class ReplicationPad1d(_PadNd):
    """Repeat the edge elements of the last dim.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ReplicationPad1d((2, 1))(shenjing.tensor([[1., 2., 3.]]))
    tensor([[1., 1., 1., 2., 3., 3.]])
    """

    _dims, _mode = 1, "replicate"

class ReplicationPad2d(_PadNd):
    """Repeat the edges of the last two dims; padding (left, right, top, bottom) or an int.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ReplicationPad2d(1)(shenjing.ones(1, 2, 2)).shape
    shenjing.Size([1, 4, 4])
    """

    _dims, _mode = 2, "replicate"

class ReplicationPad3d(_PadNd):
    """Repeat the edges of the last three dims.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ReplicationPad3d(1)(shenjing.ones(1, 1, 1, 1, 1)).shape
    shenjing.Size([1, 1, 3, 3, 3])
    """

    _dims, _mode = 3, "replicate"

class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input: Tensor) -> Tensor:
        if isinstance(input, Tensor) and input.ndim not in (self._dims + 1, self._dims + 2):
            raise ValueError(f"expected {self._dims + 1}D or {self._dims + 2}D input (got {input.ndim}D input)")
        return pad(input, self.padding, "circular")

class CircularPad1d(_CircularPadNd):
    """Wrap the last dim around: the left border copies the end, the right border the start.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.CircularPad1d(1)(shenjing.tensor([[1., 2., 3.]]))
    tensor([[3., 1., 2., 3., 1.]])
    """

    _dims = 1

class CircularPad2d(_CircularPadNd):
    """Wrap the last two dims around (a torus); padding (left, right, top, bottom) or an int.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.CircularPad2d(1)(shenjing.ones(1, 2, 2)).shape
    shenjing.Size([1, 4, 4])
    """

    _dims = 2

class CircularPad3d(_CircularPadNd):
    """Wrap the last three dims around.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.CircularPad3d(1)(shenjing.ones(1, 1, 2, 2, 2)).shape
    shenjing.Size([1, 1, 4, 4, 4])
    """

    _dims = 3
