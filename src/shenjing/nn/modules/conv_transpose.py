"""Transposed convolution layers: ``ConvTranspose1d`` and ``ConvTranspose2d``.

A layer holds ``weight`` (in_channels, out_channels/groups, *kernel_size) and ``bias`` (out_channels,)
and calls ``F.conv_transpose1d`` / ``F.conv_transpose2d``; ``forward(input, output_size)`` picks the
output_padding that gives the requested size, as PyTorch does.
"""

from __future__ import annotations

import math
from typing import Any

from shenjing._creation import empty
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.nn._functional.conv import as_tuple, check_conv_arguments
from shenjing.nn._functional.conv_transpose import conv_transpose1d, conv_transpose2d, output_padding_for
from shenjing.nn.modules.module import Module
from shenjing.nn.parameter import Parameter
from shenjing.nn.modules.linear import kaiming_bound

__all__ = ["ConvTranspose1d", "ConvTranspose2d"]


def _positive_int(layer: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return value


class _ConvTransposeNd(Module):
    """What ConvTranspose1d and ConvTranspose2d share; ``_spatial`` is the number of spatial dims."""

    _spatial = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        layer, n = type(self).__name__, self._spatial
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {layer}')
        self.in_channels = _positive_int(layer, "in_channels", in_channels)
        self.out_channels = _positive_int(layer, "out_channels", out_channels)
        self.groups = _positive_int(layer, "groups", groups)
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        self.kernel_size = as_tuple(kernel_size, n, "kernel_size")
        if any(k <= 0 for k in self.kernel_size):
            raise ValueError(f"{layer}: kernel_size must be positive, got kernel_size={self.kernel_size}")
        try:
            self.stride = as_tuple(stride, n, "stride")
            self.dilation = as_tuple(dilation, n, "dilation")
            check_conv_arguments(self.stride, self.dilation, groups)
            if isinstance(padding, str):
                raise ValueError(f"padding must be an int or a tuple of {n} ints, got {padding!r}")
            self.padding = as_tuple(padding, n, "padding")
            self.output_padding = as_tuple(output_padding, n, "output_padding")
        except ValueError as error:
            raise ValueError(f"{layer}: {error}") from None
        self.transposed, self.padding_mode = True, padding_mode
        self.weight = Parameter(empty(in_channels, out_channels // groups, *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = out_channels/groups * prod(kernel_size)
        (PyTorch's default, which computes fan_in from the weight's dim 1), drawn from the default generator."""
        fan_in = self.out_channels // self.groups * math.prod(self.kernel_size)
        with no_grad():
            self.weight.uniform_(-kaiming_bound(fan_in), kaiming_bound(fan_in))  # kaiming_uniform_(a=sqrt(5))
            if self.bias is not None:
                self.bias.uniform_(-1.0 / math.sqrt(fan_in), 1.0 / math.sqrt(fan_in))

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__} expects a Tensor input, got {type(input).__name__}")
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = output_padding_for(output_size, input.shape, self.kernel_size, self.stride,
                                                self.padding, self.dilation)
        return self._function(input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                              self.dilation)

    def extra_repr(self) -> str:
        n = self._spatial
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * n:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution layer (see ``shenjing.nn.functional.conv_transpose2d``): upsampling
    by a learnt kernel, the input gradient of a Conv2d with the same arguments.

    Parameters: ``weight`` (in_channels, out_channels/groups, KH, KW) and ``bias`` (out_channels,).
    Shapes: (N, in_channels, H, W) -> (N, out_channels, OH, OW),
    OH = (H - 1)*s - 2p + d(KH - 1) + output_padding + 1.

    >>> import shenjing
    >>> from shenjing import nn
    >>> up = nn.ConvTranspose2d(8, 4, kernel_size=2, stride=2)
    >>> up
    ConvTranspose2d(8, 4, kernel_size=(2, 2), stride=(2, 2))
    >>> up(shenjing.randn(1, 8, 5, 5)).shape
    shenjing.Size([1, 4, 10, 10])
    """

    _spatial = 2
    _function = staticmethod(conv_transpose2d)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution layer over sequences (see ``ConvTranspose2d``).

    Shapes: (N, in_channels, L) -> (N, out_channels, (L - 1)*s - 2p + d(K - 1) + output_padding + 1).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.ConvTranspose1d(2, 3, 3, stride=2)(shenjing.randn(1, 2, 4)).shape
    shenjing.Size([1, 3, 9])
    """

    _spatial = 1
    _function = staticmethod(conv_transpose1d)
