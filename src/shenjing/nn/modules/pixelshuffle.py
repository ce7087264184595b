"""Channel rearranging layers: ``PixelShuffle``, ``PixelUnshuffle`` and ``ChannelShuffle``
(see ``shenjing.nn._functional.shuffle``)."""

from __future__ import annotations

from shenjing._tensor import Tensor
from shenjing.nn._functional.shuffle import channel_shuffle, pixel_shuffle, pixel_unshuffle
from shenjing.nn.modules.module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle", "ChannelShuffle"]


class PixelShuffle(Module):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r): sub-pixel upsampling (ESPCN), r = ``upscale_factor``.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.PixelShuffle(3)(shenjing.randn(1, 9, 4, 4)).shape
    shenjing.Size([1, 1, 12, 12])
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W), the inverse of PixelShuffle, r = ``downscale_factor``.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.PixelUnshuffle(2)(shenjing.randn(1, 1, 4, 4)).shape
    shenjing.Size([1, 4, 2, 2])
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Interleave the channels of ``groups`` groups: (N, g * k, *) with channel i*k + j moved to j*g + i.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ChannelShuffle(2)
    ChannelShuffle(groups=2)
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
