"""3-D convolution layers: ``Conv3d`` and ``ConvTranspose3d`` (see ``shenjing.nn._functional.conv3d``)."""

from __future__ import annotations

from shenjing._tensor import Tensor
from shenjing.nn._functional.conv import check_output_size, conv_padding
from shenjing.nn._functional.conv3d import conv3d, conv_transpose3d
from shenjing.nn.modules.conv import _ConvNd
from shenjing.nn.modules.conv_transpose import _ConvTransposeNd

__all__ = ["Conv3d", "ConvTranspose3d"]


class Conv3d(_ConvNd):
    """3-D convolution layer over volumes: y = conv3d(x, weight) + bias.

    Parameters: ``weight`` (out_channels, in_channels/groups, KD, KH, KW), ``bias`` (out_channels,), from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels/groups * KD * KH * KW.
    Shapes: (N, in_channels, D, H, W) -> (N, out_channels, OD, OH, OW).

    >>> import shenjing
    >>> from shenjing import nn
    >>> conv = nn.Conv3d(2, 4, 3, padding=1)
    >>> conv
    Conv3d(2, 4, kernel_size=(3, 3, 3), stride=(1, 1, 1), padding=(1, 1, 1))
    >>> conv(shenjing.randn(1, 2, 4, 5, 6)).shape
    shenjing.Size([1, 4, 4, 5, 6])
    """

    _spatial = 3
    _axes = "D, H, W"

    _function = staticmethod(conv3d)

    def _current_pads(self) -> tuple[tuple[int, int], ...]:
        return conv_padding(self.padding, self.kernel_size, self.stride, self.dilation)

    def _check_input(self, input: Tensor) -> None:
        self._check_input_fully(input)

    def _check_input_fully(self, input: Tensor) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self!r} expects a Tensor input, got {type(input).__name__}")
        shape = list(input.shape)
        if input.ndim not in (4, 5) or shape[-4] != self.in_channels:
            raise RuntimeError(f"{self!r} expects input [N, {self.in_channels}, D, H, W] (or unbatched "
                               f"[{self.in_channels}, D, H, W]), got {shape}")
        if input.dtype != self.weight.dtype:
            raise RuntimeError(f"{self!r}: input is {input.dtype} but the layer's weight is {self.weight.dtype}; "
                               f"convert one of them (e.g. layer.to({input.dtype}) or input.to({self.weight.dtype}))")
        check_output_size(self, input.shape, self.kernel_size, self.stride, self._current_pads(), self.dilation)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution layer (see ``F.conv_transpose3d``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ConvTranspose3d(2, 3, 2, stride=2)(shenjing.randn(1, 2, 2, 3, 4)).shape
    shenjing.Size([1, 3, 4, 6, 8])
    """

    _spatial = 3
    _function = staticmethod(conv_transpose3d)
