"""``Unfold`` (im2col: sliding blocks as columns) and ``Fold`` (col2im, its adjoint) as layers
(see ``shenjing.nn.functional.unfold`` / ``fold``)."""

from __future__ import annotations

from typing import Any

from shenjing._tensor import Tensor
from shenjing.nn._functional.conv import fold, unfold
from shenjing.nn.modules.module import Module

__all__ = ["Fold", "Unfold"]


class Fold(Module):
    """Columns (N, C * prod(kernel_size), L) summed back into images (N, C, *output_size).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Fold(output_size=(3, 3), kernel_size=2)(shenjing.ones(1, 4, 4)).shape
    shenjing.Size([1, 1, 3, 3])
    """

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Unfold(Module):
    """The sliding blocks of images (N, C, H, W) as columns (N, C * prod(kernel_size), L).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Unfold(kernel_size=2)(shenjing.ones(1, 3, 4, 4)).shape
    shenjing.Size([1, 12, 9])
    """

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> None:
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, stride={self.stride}"
