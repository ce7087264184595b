"""Transposed convolutions: ``conv_transpose1d`` and ``conv_transpose2d`` (the op is in
``shenjing._ops.conv_transpose``); this module checks PyTorch's arguments and works out the output size."""

from __future__ import annotations

from typing import Any, Sequence

from shenjing._ops._util import check_tensor
from shenjing._ops.conv import ConvGeometry
from shenjing._ops.conv_transpose import ConvTranspose2d
from shenjing._ops.shape import squeeze, unsqueeze
from shenjing._tensor import Tensor
from shenjing.nn._functional.conv import as_tuple, check_conv_arguments

__all__ = ["conv_transpose1d", "conv_transpose2d"]


def transposed_output_size(n: int, k: int, stride: int, padding: int, dilation: int, output_padding: int) -> int:
    """(n - 1)*s - 2*p + d*(k - 1) + output_padding + 1."""
    return (n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1


def output_padding_for(output_size: Any, input_shape: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                       padding: Sequence[int], dilation: Sequence[int]) -> tuple[int, ...]:
    """The output_padding that gives ``output_size`` (the spatial sizes, optionally after N and C), checked
    to be one of the sizes a convolution maps back to the input's size."""
    spatial = len(kernel)
    sizes = [int(s) for s in (output_size.tolist() if isinstance(output_size, Tensor) else output_size)]
    non_spatial = len(input_shape) - spatial  # N and C, or C alone for an unbatched input
    if len(sizes) == non_spatial + spatial:
        sizes = sizes[non_spatial:]
    if len(sizes) != spatial:
        raise ValueError(f"ConvTranspose{spatial}D: for {len(input_shape)}D input, output_size must have {spatial} "
                         f"or {non_spatial + spatial} elements (got {len(sizes)})")
    in_sizes = list(input_shape[-spatial:])
    smallest = [transposed_output_size(n, k, s, p, d, 0)
                for n, k, s, p, d in zip(in_sizes, kernel, stride, padding, dilation)]
    largest = [low + s - 1 for low, s in zip(smallest, stride)]
    for size, low, high in zip(sizes, smallest, largest):
        if not low <= size <= high:
            raise ValueError(f"requested an output size of {sizes}, but valid sizes range from {smallest} to "
                             f"{largest} (for an input of {in_sizes})")
    return tuple(size - low for size, low in zip(sizes, smallest))


def _check_operands(name: str, input: Tensor, weight: Tensor, bias: Tensor | None, groups: int, spatial: int) -> None:
    check_tensor(input, f"{name}(): input")
    check_tensor(weight, f"{name}(): weight")
    if input.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"Expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) input to {name}, but "
                           f"got input of size: {list(input.shape)}")
    if weight.ndim != spatial + 2:
        raise RuntimeError(f"{name}: weight must be {spatial + 2}-dimensional [in_channels, out_channels/groups, "
                           f"*kernel_size], got weight of size {list(weight.shape)}")
    channels = input.shape[-spatial - 1]
    if weight.shape[0] != channels:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected input "
                           f"{list(input.shape)} to have {weight.shape[0]} channels, but got {channels} channels "
                           f"instead")
    if channels % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size {list(weight.shape)} instead")
    out_channels = weight.shape[1] * groups
    if bias is not None:
        check_tensor(bias, f"{name}(): bias")
        if tuple(bias.shape) != (out_channels,):
            raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected bias to be "
                               f"1-dimensional with {out_channels} elements, but got bias of size "
                               f"{list(bias.shape)} instead")
    for other, role in ((weight, "weight"), (bias, "bias")):
        if other is not None and other.dtype != input.dtype:
            raise RuntimeError(f"{name}: input type ({input.dtype}) and {role} type ({other.dtype}) should be the "
                               f"same")
    if not input.is_floating_point():
        raise RuntimeError(f"{name}: expected a floating-point input, got {input.dtype}")


def _geometry(name: str, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,
              output_padding: Any, groups: int, dilation: Any, spatial: int) -> tuple[tuple[int, ...], ...]:
    """Checked (stride, padding, output_padding, dilation, output sizes), one entry per spatial axis."""
    _check_operands(name, input, weight, bias, groups, spatial)
    stride, dilation = as_tuple(stride, spatial, "stride"), as_tuple(dilation, spatial, "dilation")
    check_conv_arguments(stride, dilation, groups)
    if isinstance(padding, str):
        raise ValueError(f"{name}: padding must be an int or a tuple of {spatial} ints (no 'same' / 'valid' for "
                         f"transposed convolutions), got {padding!r}")
    padding = as_tuple(padding, spatial, "padding")
    output_padding = as_tuple(output_padding, spatial, "output_padding")
    if any(p < 0 for p in padding) or any(p < 0 for p in output_padding):
        raise ValueError(f"{name}: padding and output_padding must be non-negative, got padding={padding}, "
                         f"output_padding={output_padding}")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise RuntimeError(f"{name}: output padding must be smaller than either stride or dilation, but got "
                               f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    kernel = tuple(weight.shape[2:])
    sizes = tuple(transposed_output_size(n, k, s, p, d, op) for n, k, s, p, d, op in
                  zip(input.shape[-spatial:], kernel, stride, padding, dilation, output_padding))
    if any(size < 1 for size in sizes):
        raise RuntimeError(f"{name}: the output size (n-1)*s - 2*p + d*(k-1) + output_padding + 1 is {list(sizes)} "
                           f"for input {list(input.shape)}, kernel {kernel}, stride {stride}, padding {padding}, "
                           f"dilation {dilation}, output_padding {output_padding}: it must be at least 1")
    return stride, padding, output_padding, dilation, sizes


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """2-D transposed convolution ("deconvolution"): the gradient of ``conv2d`` with respect to its input.

    Each input pixel x[n, c, i, j] adds weight[c, o, p, q] * x[n, c, i, j] to
    y[n, g*O/groups + o, s*i + d*p - pad, s*j + d*q - pad] (then + bias[o]).

    Shapes: input (N, C, H, W) or (C, H, W); weight (C, O/groups, KH, KW); bias (O,); output (N, O, OH, OW)
    with OH = (H - 1)*s - 2*pad + d*(KH - 1) + output_padding + 1 (likewise OW); output_padding < s or d.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.conv_transpose2d(shenjing.ones(1, 1, 2, 2), shenjing.ones(1, 1, 2, 2), stride=1)[0, 0]
    tensor([[1., 2., 1.],
            [2., 4., 2.],
            [1., 2., 1.]])
    """
    stride, padding, _, dilation, sizes = _geometry("conv_transpose2d", input, weight, bias, stride, padding,
                                                    output_padding, groups, dilation, 2)
    geometry = ConvGeometry(stride, tuple((p, p) for p in padding), dilation, groups)
    op = ConvTranspose2d(geometry, sizes)
    if input.ndim == 4:
        return op(input, weight, bias)
    return squeeze(op(unsqueeze(input, 0), weight, bias), 0)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """1-D transposed convolution over sequences: ``conv_transpose2d`` with images of height 1.

    Shapes: input (N, C, L) or (C, L); weight (C, O/groups, K); bias (O,); output (N, O, OL) with
    OL = (L - 1)*s - 2*pad + d*(K - 1) + output_padding + 1.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.conv_transpose1d(shenjing.tensor([[[1., 2.]]]), shenjing.tensor([[[1., 10.]]]), stride=2)
    tensor([[[ 1., 10.,  2., 20.]]])
    """
    stride, padding, _, dilation, sizes = _geometry("conv_transpose1d", input, weight, bias, stride, padding,
                                                    output_padding, groups, dilation, 1)
    batched = input.ndim == 3
    x = unsqueeze(input if batched else unsqueeze(input, 0), 2)  # (N, C, 1, L)
    geometry = ConvGeometry((1, stride[0]), ((0, 0), (padding[0], padding[0])), (1, dilation[0]), groups)
    y = squeeze(ConvTranspose2d(geometry, (1, sizes[0]))(x, unsqueeze(weight, 2), bias), 2)
    return y if batched else squeeze(y, 0)
