"""More pooling layers: ``MaxPool3d``, ``AvgPool3d``, ``AdaptiveAvgPool3d``, ``AdaptiveMaxPool3d``,
``LPPool1d/2d/3d``, ``MaxUnpool1d/2d/3d`` (see ``shenjing.nn._functional.pooling_more``) and
``FractionalMaxPool2d/3d`` (``shenjing.nn._functional.fractional_pool``)."""

from __future__ import annotations

from typing import Any

from shenjing._tensor import Tensor
from shenjing.nn._functional import fractional_pool as FR
from shenjing.nn._functional import pooling_more as F
from shenjing.nn._functional.conv import as_tuple
from shenjing.nn.modules.module import Module

__all__ = ["MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d",
           "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "FractionalMaxPool2d", "FractionalMaxPool3d"]


class MaxPool3d(Module):
    """3-D max pooling layer (see ``F.max_pool3d``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.MaxPool3d(2)
    MaxPool3d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    >>> nn.MaxPool3d(2)(shenjing.randn(1, 3, 4, 4, 4)).shape
    shenjing.Size([1, 3, 2, 2, 2])
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:
        return F.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool3d(Module):
    """3-D average pooling layer (see ``F.avg_pool3d``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.AvgPool3d(2)
    AvgPool3d(kernel_size=2, stride=2, padding=0)
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool3d(Module):
    """Average pooling of volumes to a fixed (OD, OH, OW) (see ``F.adaptive_avg_pool3d``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.AdaptiveAvgPool3d((1, 2, 2))(shenjing.randn(2, 3, 4, 5, 6)).shape
    shenjing.Size([2, 3, 1, 2, 2])
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool3d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool3d(Module):
    """Max pooling of volumes to a fixed (OD, OH, OW); with ``return_indices`` also the positions of the maxima.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.AdaptiveMaxPool3d(2)(shenjing.randn(1, 1, 3, 4, 5)).shape
    shenjing.Size([1, 1, 2, 2, 2])
    """

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor) -> Any:
        return F.adaptive_max_pool3d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _LPPoolNd(Module):
    _function: Any = None

    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._function(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """1-D power-average pooling: (sum of x^p over each window)^(1/p).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.LPPool1d(2, 2)(shenjing.tensor([[[3., 4.]]]))
    tensor([[[5.]]])
    """

    _function = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """2-D power-average pooling (see ``LPPool1d``).

    >>> from shenjing import nn
    >>> nn.LPPool2d(2, 3)
    LPPool2d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)
    """

    _function = staticmethod(F.lp_pool2d)


class LPPool3d(_LPPoolNd):
    """3-D power-average pooling (see ``LPPool1d``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.LPPool3d(1, 2)(shenjing.ones(1, 1, 2, 2, 2)).flatten()
    tensor([8.])
    """

    _function = staticmethod(F.lp_pool3d)


class _MaxUnpoolNd(Module):
    _spatial = 1
    _function: Any = None

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        n = self._spatial
        self.kernel_size = as_tuple(kernel_size, n, "kernel_size")
        self.stride = as_tuple(stride if stride is not None else kernel_size, n, "stride")
        self.padding = as_tuple(padding, n, "padding")

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        return type(self)._function(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """The partial inverse of MaxPool1d: values back at the positions of their maxima, zeros elsewhere.

    >>> from shenjing import nn
    >>> nn.MaxUnpool1d(2)
    MaxUnpool1d(kernel_size=(2,), stride=(2,), padding=(0,))
    """

    _spatial = 1
    _function = staticmethod(F.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    """The partial inverse of MaxPool2d (see ``MaxUnpool1d``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    >>> unpool(*pool(shenjing.randn(1, 1, 4, 4))).shape
    shenjing.Size([1, 1, 4, 4])
    """

    _spatial = 2
    _function = staticmethod(F.max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    """The partial inverse of MaxPool3d (see ``MaxUnpool1d``).

    >>> from shenjing import nn
    >>> nn.MaxUnpool3d(2)
    MaxUnpool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2), padding=(0, 0, 0))
    """

    _spatial = 3
    _function = staticmethod(F.max_unpool3d)


class _FractionalMaxPoolNd(Module):
    _spatial = 2

    def __init__(self, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
                 return_indices: bool = False, _random_samples: Tensor | None = None) -> None:
        super().__init__()
        n = self._spatial
        self.kernel_size = as_tuple(kernel_size, n, "kernel_size")
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = as_tuple(output_size, n, "output_size") if output_size is not None else None
        self.output_ratio = None
        if output_ratio is not None:
            self.output_ratio = tuple(output_ratio) if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * n
        if output_size is None and output_ratio is None:
            raise ValueError(f"{type(self).__name__} requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input: Tensor) -> Any:
        function = FR.fractional_max_pool2d if self._spatial == 2 else FR.fractional_max_pool3d
        return function(input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                        _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Fractional max pooling of (N, C, H, W) input (see ``F.fractional_max_pool2d``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.FractionalMaxPool2d(3, output_ratio=0.5)(shenjing.randn(1, 2, 10, 12)).shape
    shenjing.Size([1, 2, 5, 6])
    """

    _spatial = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Fractional max pooling of (N, C, T, H, W) input (see ``F.fractional_max_pool3d``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.FractionalMaxPool3d(2, output_size=3)(shenjing.randn(1, 1, 5, 5, 5)).shape
    shenjing.Size([1, 1, 3, 3, 3])
    """

    _spatial = 3
