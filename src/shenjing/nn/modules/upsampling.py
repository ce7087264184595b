"""Resizing layers: ``Upsample`` and its fixed-mode forms ``UpsamplingNearest2d`` and
``UpsamplingBilinear2d`` (see ``shenjing.nn.functional.interpolate``)."""

from __future__ import annotations

from typing import Any

from shenjing._tensor import Tensor
from shenjing.nn._functional.vision import interpolate
from shenjing.nn.modules.module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class Upsample(Module):
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) input to ``size`` or by ``scale_factor``
    with ``mode`` 'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic' or 'trilinear'.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Upsample(scale_factor=2)
    Upsample(scale_factor=2.0, mode='nearest')
    >>> nn.Upsample(scale_factor=2, mode='bilinear')(shenjing.randn(1, 3, 4, 4)).shape
    shenjing.Size([1, 3, 8, 8])
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` for (N, C, H, W) images.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.UpsamplingNearest2d(scale_factor=2)(shenjing.ones(1, 1, 2, 2)).shape
    shenjing.Size([1, 1, 4, 4])
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` for (N, C, H, W) images.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.UpsamplingBilinear2d(size=3)(shenjing.tensor([[[[0., 1.], [2., 3.]]]]))
    tensor([[[[0.0000, 0.5000, 1.0000],
              [1.0000, 1.5000, 2.0000],
              [2.0000, 2.5000, 3.0000]]]])
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
