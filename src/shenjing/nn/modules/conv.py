"""Convolution layers: ``Conv1d`` and ``Conv2d``.

A layer checks its arguments (``ValueError`` naming the bad one), holds ``weight`` (out_channels,
in_channels/groups, *kernel_size) and ``bias`` (out_channels,), checks each input against them (an
error naming the layer, the expected and the received shape) and calls ``F.conv1d`` / ``F.conv2d``.
"""

from __future__ import annotations

import math
from typing import Any

from shenjing._creation import empty
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.nn._functional.conv import as_tuple, check_conv_arguments, check_output_size, conv1d, conv2d, \
    conv_padding
from shenjing.nn._functional.padding import pad
from shenjing.nn.modules.module import Module
from shenjing.nn.parameter import Parameter
from shenjing.nn.modules.linear import kaiming_bound

__all__ = ["Conv1d", "Conv2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _positive_int(layer: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return value


class _ConvNd(Module):
    """What Conv1d and Conv2d share; ``_spatial`` is the number of spatial dims."""

    _spatial = 2
    _axes = "H, W"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        layer, n = type(self).__name__, self._spatial
        self.in_channels = _positive_int(layer, "in_channels", in_channels)
        self.out_channels = _positive_int(layer, "out_channels", out_channels)
        self.groups = _positive_int(layer, "groups", groups)
        if in_channels % groups:
            raise ValueError(f"{layer}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{layer}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        self.kernel_size = as_tuple(kernel_size, n, "kernel_size")
        if any(k <= 0 for k in self.kernel_size):
            raise ValueError(f"{layer}: kernel_size must be positive, got kernel_size={self.kernel_size}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{layer}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        try:
            self.stride = as_tuple(stride, n, "stride")
            self.dilation = as_tuple(dilation, n, "dilation")
            check_conv_arguments(self.stride, self.dilation, groups)
            conv_padding(padding, self.kernel_size, self.stride, self.dilation)  # validates 'same' / 'valid' / ints
        except ValueError as error:
            raise ValueError(f"{layer}: {error}") from None
        self.padding = padding if isinstance(padding, str) else as_tuple(padding, n, "padding")
        self.weight = Parameter(empty(out_channels, in_channels // groups, *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels/groups * prod(kernel_size)
        (PyTorch's default: kaiming-uniform with a = sqrt(5)), drawn from the default generator."""
        fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
        with no_grad():
            self.weight.uniform_(-kaiming_bound(fan_in), kaiming_bound(fan_in))  # kaiming_uniform_(a=sqrt(5))
            if self.bias is not None:
                self.bias.uniform_(-1.0 / math.sqrt(fan_in), 1.0 / math.sqrt(fan_in))

    def _check_input(self, input: Tensor) -> None:
        """The input fits the layer (a few comparisons in the usual case; the full checks explain a misfit):
        its channels and dtype, and a kernel that fits the padded input, size + pads > d*(k-1) per axis."""
        if isinstance(input, Tensor):
            x, n = input._data, self._spatial
            shape = x.shape
            if len(shape) - n in (1, 2) and shape[-n - 1] == self.in_channels and x.dtype == self.weight._data.dtype:
                pads, k, d = self._current_pads(), self.kernel_size, self.dilation
                if shape[-n] + pads[0][0] + pads[0][1] > d[0] * (k[0] - 1) and (
                        n == 1 or shape[-1] + pads[1][0] + pads[1][1] > d[1] * (k[1] - 1)):
                    return
        self._check_input_fully(input)

    def _check_input_fully(self, input: Tensor) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self!r} expects a Tensor input, got {type(input).__name__}")
        n = self._spatial
        shape = list(input.shape)
        if input.ndim not in (n + 1, n + 2) or shape[-n - 1] != self.in_channels:
            unbatched = "" if input.ndim == n + 2 else f" (or unbatched [{self.in_channels}, {self._axes}])"
            raise RuntimeError(f"{self!r} expects input [N, {self.in_channels}, {self._axes}]{unbatched}, got {shape}")
        if input.dtype != self.weight.dtype:
            raise RuntimeError(f"{self!r}: input is {input.dtype} but the layer's weight is {self.weight.dtype}; "
                               f"convert one of them (e.g. layer.to({input.dtype}) or input.to({self.weight.dtype}))")
        check_output_size(self, input.shape, self.kernel_size, self.stride, self._current_pads(), self.dilation)

    def _current_pads(self) -> tuple[tuple[int, int], ...]:
        """(before, after) per axis from the layer's ``padding`` as it is now (it may be changed after construction)."""
        padding = self.padding
        if type(padding) is tuple and len(padding) == self._spatial:
            first, last = padding[0], padding[-1]
            if type(first) is int and type(last) is int:
                return ((first, first), (last, last)) if self._spatial == 2 else ((first, first),)
        return conv_padding(padding, self.kernel_size, self.stride, self.dilation)

    def _torch_pad(self) -> tuple[int, ...]:
        """The padding in ``F.pad``'s order (last dim first), for padding modes other than zeros."""
        return tuple(amount for before_after in reversed(self._current_pads()) for amount in before_after)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._spatial:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._spatial:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        return self._conv_forward(input, self.weight, self.bias)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """The functional conv (``_function``), after explicit padding for the non-zero padding modes."""
        padding = self.padding
        if self.padding_mode != "zeros":
            input, padding = pad(input, self._torch_pad(), mode=self.padding_mode), 0
        return self._function(input, weight, bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution layer: y = conv2d(x, weight) + bias (see ``shenjing.nn.functional.conv2d``).

    Parameters: ``weight`` (out_channels, in_channels/groups, KH, KW) and ``bias`` (out_channels,),
    both from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels/groups * KH * KW.
    Shapes: (N, in_channels, H, W) -> (N, out_channels, OH, OW), OH = floor((H + 2p - d(KH-1) - 1)/s) + 1.
    ``padding`` may be an int, a pair, 'valid' or 'same'; ``padding_mode`` 'zeros', 'reflect',
    'replicate' or 'circular' says what the border holds.

    >>> import shenjing
    >>> from shenjing import nn
    >>> conv = nn.Conv2d(3, 6, kernel_size=5)
    >>> conv
    Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))
    >>> conv(shenjing.randn(1, 3, 32, 32)).shape
    shenjing.Size([1, 6, 28, 28])
    >>> sum(p.numel() for p in conv.parameters())  # 6 filters of 3*5*5 weights + 1 bias
    456
    """

    _spatial = 2
    _axes = "H, W"

    _function = staticmethod(conv2d)


class Conv1d(_ConvNd):
    """1-D convolution layer over sequences: y = conv1d(x, weight) + bias.

    Parameters: ``weight`` (out_channels, in_channels/groups, K), ``bias`` (out_channels,), from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels/groups * K.
    Shapes: (N, in_channels, L) -> (N, out_channels, OL), OL = floor((L + 2p - d(K-1) - 1)/s) + 1.

    >>> import shenjing
    >>> from shenjing import nn
    >>> conv = nn.Conv1d(4, 8, 3, padding=1)
    >>> conv
    Conv1d(4, 8, kernel_size=(3,), stride=(1,), padding=(1,))
    >>> conv(shenjing.randn(2, 4, 10)).shape
    shenjing.Size([2, 8, 10])
    """

    _spatial = 1
    _axes = "L"

    _function = staticmethod(conv1d)
