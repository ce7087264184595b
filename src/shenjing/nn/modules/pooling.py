"""Pooling layers: ``MaxPool1d/2d``, ``AvgPool1d/2d``, ``AdaptiveAvgPool1d/2d``, ``AdaptiveMaxPool1d/2d``.

Pooling has hyper-parameters (window, stride, padding) but nothing to learn: these layers hold no
parameters, check their arguments when built, and on every call pass their attributes as they are then
to the functional op (which checks them and the input, naming the layer in its errors); nothing is
derived from them and kept, so a changed ``kernel_size`` or ``stride`` takes effect on the next call.
"""

from __future__ import annotations

from typing import Any

from shenjing._tensor import Tensor
from shenjing.nn._functional.conv import as_tuple
from shenjing.nn._functional.pooling import (adaptive_avg, adaptive_max, adaptive_output_size, avg_pool, max_pool,
                                             pool_geometry)
from shenjing.nn.modules.module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d"]


class _Pool(Module):
    """A pooling layer; ``_spatial`` is the number of spatial dims."""

    _spatial = 2


class _MaxPoolNd(_Pool):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode
        pool_geometry(type(self).__name__, kernel_size, self.stride, padding, dilation, ceil_mode, self._spatial)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling layer: the largest value of each window (see ``F.max_pool2d``).

    Shapes: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), OH = floor((H + 2p - d(k-1) - 1)/s) + 1;
    ``stride`` defaults to ``kernel_size``. With ``return_indices`` returns (output, indices).

    >>> import shenjing
    >>> from shenjing import nn
    >>> pool = nn.MaxPool2d(2)
    >>> pool
    MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    >>> pool(shenjing.randn(1, 6, 28, 28)).shape
    shenjing.Size([1, 6, 14, 14])
    """

    _spatial = 2

    def forward(self, input: Tensor) -> Any:
        return max_pool(self, 2, input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                        self.return_indices)


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling layer: (N, C, L) or (C, L) -> (N, C, OL); see ``MaxPool2d``.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.MaxPool1d(2)(shenjing.tensor([[[1., 3., 2., 5.]]]))
    tensor([[[3., 5.]]])
    """

    _spatial = 1

    def forward(self, input: Tensor) -> Any:
        return max_pool(self, 1, input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                        self.return_indices)


class AvgPool2d(_Pool):
    """2-D average pooling layer: the mean of each window (see ``F.avg_pool2d`` for the divisor).

    >>> import shenjing
    >>> from shenjing import nn
    >>> pool = nn.AvgPool2d(kernel_size=2, stride=2)
    >>> pool
    AvgPool2d(kernel_size=2, stride=2, padding=0)
    >>> pool(shenjing.rand(1, 3, 7, 7)).shape
    shenjing.Size([1, 3, 3, 3])
    """

    _spatial = 2

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override
        if divisor_override is not None and divisor_override <= 0:
            raise ValueError(f"AvgPool2d: divisor_override must be positive, got {divisor_override}")
        pool_geometry("AvgPool2d", kernel_size, self.stride, padding, 1, ceil_mode, 2)

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool(self, 2, input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                        self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_Pool):
    """1-D average pooling layer: (N, C, L) or (C, L) -> (N, C, OL); see ``AvgPool2d``.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.AvgPool1d(3)
    AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))
    """

    _spatial = 1

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = as_tuple(kernel_size, 1, "kernel_size")
        self.stride = as_tuple(stride if stride is not None else kernel_size, 1, "stride")
        self.padding = as_tuple(padding, 1, "padding")
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        pool_geometry("AvgPool1d", self.kernel_size, self.stride, self.padding, 1, ceil_mode, 1)

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool(self, 1, input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                        self.count_include_pad, None)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptivePool(_Pool):
    def __init__(self, output_size: Any) -> None:
        super().__init__()
        adaptive_output_size(type(self).__name__, output_size, (1,) * self._spatial)  # validates
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool):
    """Average pooling to a fixed output size, whatever the input size; ``AdaptiveAvgPool2d(1)`` is
    global average pooling. See ``F.adaptive_avg_pool2d``.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.AdaptiveAvgPool2d((5, 7))(shenjing.randn(1, 64, 8, 9)).shape
    shenjing.Size([1, 64, 5, 7])
    """

    _spatial = 2

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg(self, 2, input, self.output_size)


class AdaptiveAvgPool1d(_AdaptivePool):
    """1-D adaptive average pooling: (N, C, L) -> (N, C, output_size).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.AdaptiveAvgPool1d(2)(shenjing.tensor([[[1., 2., 3., 4.]]]))
    tensor([[[1.5000, 3.5000]]])
    """

    _spatial = 1

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg(self, 1, input, self.output_size)


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """Max pooling to a fixed output size; with ``return_indices`` also the position of each max.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.AdaptiveMaxPool2d((2, 3))(shenjing.randn(1, 4, 7, 9)).shape
    shenjing.Size([1, 4, 2, 3])
    """

    _spatial = 2

    def forward(self, input: Tensor) -> Any:
        return adaptive_max(self, 2, input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """1-D adaptive max pooling: (N, C, L) -> (N, C, output_size).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.AdaptiveMaxPool1d(2)(shenjing.tensor([[[1., 4., 3., 2.]]]))
    tensor([[[4., 3.]]])
    """

    _spatial = 1

    def forward(self, input: Tensor) -> Any:
        return adaptive_max(self, 1, input, self.output_size, self.return_indices)
