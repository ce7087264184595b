"""3-D convolutions, ``conv3d`` and ``conv_transpose3d``, composed of the 2-D ones (so their gradients,
of every order, are those of the 2-D ops and of the reshapes around them).

conv3d: the output at depth od takes the input depths s_d*od + d_d*kd - pad_d (kd < KD). The padded input's
depth slices for all (kd, od) are gathered at once and laid out as the channels of one 2-D image per
(n, od), (group, kd, channel) major to minor, so that one grouped ``conv2d`` with the weight laid out
(O, KD*C/g, KH, KW) does the sum over (kd, c, kh, kw):

    y[n, :, od] = conv2d(stack_kd xpad[n, :, s_d*od + d_d*kd], w viewed (O, KD*C/g, KH, KW))

conv_transpose3d, its adjoint: one grouped ``conv_transpose2d`` per (n, input depth d) gives every kernel
depth kd's contribution at once (the weight laid out (Cin, KD*Cout/g, KH, KW)); a constant 0/1 matrix
then adds the contribution of (kd, d) to output depth s_d*d + d_d*kd - pad_d.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing._ops._util import check_tensor
from shenjing._tensor import Tensor
from shenjing.nn._functional.conv import as_tuple, check_conv_arguments, check_output_size, conv2d, conv_padding
from shenjing.nn._functional.conv_transpose import conv_transpose2d, transposed_output_size
from shenjing.nn._functional.padding import pad

__all__ = ["conv3d", "conv_transpose3d"]


def _check_5d(name: str, input: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    check_tensor(input, f"{name}(): input")
    check_tensor(weight, f"{name}(): weight")
    if input.ndim not in (4, 5):
        raise RuntimeError(f"Expected 4D (unbatched) or 5D (batched) input to {name}, but got input of size: "
                           f"{list(input.shape)}")
    if weight.ndim != 5:
        raise RuntimeError(f"{name}: weight must be 5-dimensional, got weight of size {list(weight.shape)}")
    if bias is not None:
        check_tensor(bias, f"{name}(): bias")
    for other, role in ((weight, "weight"), (bias, "bias")):
        if other is not None and other.dtype != input.dtype:
            raise RuntimeError(f"{name}: input type ({input.dtype}) and {role} type ({other.dtype}) should be the "
                               f"same")
    if not input.is_floating_point():
        raise RuntimeError(f"{name}: expected a floating-point input, got {input.dtype}")


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-D convolution (cross-correlation) of volumes with a bank of filters.

    y[n, o, i, j, k] = bias[o] + sum_{c, p, q, r} weight[o, c, p, q, r] * xpad[n, c', s*i + d*p, s*j + d*q, s*k + d*r]

    Shapes: input (N, C, D, H, W) or (C, D, H, W); weight (O, C/groups, KD, KH, KW); bias (O,); output
    (N, O, OD, OH, OW), OD = floor((D + 2*pad - d*(KD-1) - 1) / s) + 1 (likewise OH, OW). ``padding``: an
    int, a triple, 'valid' or 'same'.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.conv3d(shenjing.ones(1, 1, 3, 3, 3), shenjing.ones(1, 1, 2, 2, 2)).flatten()
    tensor([8., 8., 8., 8., 8., 8., 8., 8.])
    """
    _check_5d("conv3d", input, weight, bias)
    batched = input.ndim == 5
    x = input if batched else input.unsqueeze(0)
    out_channels, group_channels, kd, kh, kw = weight.shape
    if out_channels % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size {list(weight.shape)} instead")
    n, channels = x.shape[:2]
    if channels != group_channels * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                           f"{list(input.shape)} to have {group_channels * groups} channels, but got {channels} "
                           f"channels instead")
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional with "
                           f"{out_channels} elements, but got bias of size {list(bias.shape)} instead")
    stride, dilation = as_tuple(stride, 3, "stride"), as_tuple(dilation, 3, "dilation")
    check_conv_arguments(stride, dilation, groups)
    pads = conv_padding(padding, (kd, kh, kw), stride, dilation)
    check_output_size("conv3d", x.shape, (kd, kh, kw), stride, pads, dilation)
    if any(p for pair in pads for p in pair):
        x = pad(x, tuple(amount for pair in reversed(pads) for amount in pair))
    depth, height, width = x.shape[2:]
    out_depth = (depth - dilation[0] * (kd - 1) - 1) // stride[0] + 1
    slices = np.add.outer(np.arange(kd) * dilation[0], np.arange(out_depth) * stride[0]).reshape(-1)  # (kd, od)
    patches = x.index_select(2, Tensor._make(slices))  # (N, C, KD*OD, H, W)
    patches = patches.reshape(n, groups, channels // groups, kd, out_depth, height, width)
    patches = patches.permute(0, 4, 1, 3, 2, 5, 6).reshape(n * out_depth, groups * kd * (channels // groups),
                                                           height, width)
    kernel = weight.permute(0, 2, 1, 3, 4).reshape(out_channels, kd * group_channels, kh, kw)
    y = conv2d(patches, kernel, None, stride[1:], 0, dilation[1:], groups)  # (N*OD, O, OH, OW)
    y = y.reshape(n, out_depth, out_channels, *y.shape[2:]).permute(0, 2, 1, 3, 4)
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1, 1)
    return y if batched else y.squeeze(0)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """3-D transposed convolution: the gradient of ``conv3d`` with respect to its input.

    Shapes: input (N, C, D, H, W) or (C, D, H, W); weight (C, O/groups, KD, KH, KW); bias (O,); output
    (N, O, OD, OH, OW), OD = (D - 1)*s - 2*pad + d*(KD - 1) + output_padding + 1 (likewise OH, OW).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.conv_transpose3d(shenjing.ones(1, 1, 1, 1, 2), shenjing.ones(1, 1, 2, 1, 1), stride=2).shape
    shenjing.Size([1, 1, 2, 1, 3])
    """
    _check_5d("conv_transpose3d", input, weight, bias)
    batched = input.ndim == 5
    x = input if batched else input.unsqueeze(0)
    in_channels, group_out, kd, kh, kw = weight.shape
    if x.shape[1] != in_channels:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected input "
                           f"{list(input.shape)} to have {in_channels} channels, but got {x.shape[1]} channels "
                           f"instead")
    if in_channels % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size {list(weight.shape)} instead")
    out_channels = group_out * groups
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {out_channels} elements, but got bias of size {list(bias.shape)} "
                           f"instead")
    stride, dilation = as_tuple(stride, 3, "stride"), as_tuple(dilation, 3, "dilation")
    check_conv_arguments(stride, dilation, groups)
    padding, output_padding = as_tuple(padding, 3, "padding"), as_tuple(output_padding, 3, "output_padding")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise RuntimeError(f"conv_transpose3d: output padding must be smaller than either stride or dilation, "
                               f"but got output_padding={output_padding}, stride={stride}, dilation={dilation}")
    n, _, depth, height, width = x.shape
    out_depth = transposed_output_size(depth, kd, stride[0], padding[0], dilation[0], output_padding[0])
    if out_depth < 1:
        raise RuntimeError(f"conv_transpose3d: the output depth (D-1)*s - 2*p + d*(k-1) + output_padding + 1 is "
                           f"{out_depth} for input {list(input.shape)}: it must be at least 1")
    planes = x.permute(0, 2, 1, 3, 4).reshape(n * depth, in_channels, height, width)
    kernel = weight.reshape(in_channels, group_out, kd, kh, kw).permute(0, 2, 1, 3, 4)
    kernel = kernel.reshape(in_channels, kd * group_out, kh, kw)  # output channels (group, kd, o)
    z = conv_transpose2d(planes, kernel, None, stride[1:], padding[1:], output_padding[1:], groups, dilation[1:])
    z = z.reshape(n, depth, groups, kd, group_out, *z.shape[2:]).permute(0, 2, 4, 5, 6, 3, 1)
    z = z.reshape(n, out_channels, *z.shape[3:5], kd * depth)  # (N, O, OH, OW, KD*D)
    target = np.add.outer(np.arange(kd) * dilation[0], np.arange(depth) * stride[0]).reshape(-1) - padding[0]
    placement = np.zeros((kd * depth, out_depth), dtype=x._data.dtype)
    inside = (target >= 0) & (target < out_depth)
    placement[np.nonzero(inside)[0], target[inside]] = 1.0
    y = z.matmul(Tensor._make(placement)).permute(0, 1, 4, 2, 3)  # (N, O, OD, OH, OW)
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1, 1)
    return y if batched else y.squeeze(0)
