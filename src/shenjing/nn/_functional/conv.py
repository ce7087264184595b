"""Convolutions: ``conv1d``, ``conv2d``, and the patch extraction behind them, ``unfold`` / ``fold``.

The arithmetic (im2col + one matrix product) is in ``shenjing._ops.conv``, faster algorithms for it in
``shenjing._ops.kernels.conv``; this module turns PyTorch's arguments into a ``ConvGeometry`` and checks
them, with errors that name the shapes involved. The checks run on every call: the usual case (int or
tuple arguments, operands that fit) costs a few comparisons, and anything else goes through the full
checks that explain what is wrong.
Argument values that can never work (a zero stride, an unknown padding string) raise ``ValueError``;
inputs whose shapes do not fit the weight raise ``RuntimeError``, as in PyTorch.
"""

from __future__ import annotations

from typing import Any, Sequence

from shenjing._ops._util import check_tensor
from shenjing._ops.conv import Conv2d, ConvGeometry, Fold, Unfold, conv_output_size
from shenjing._ops.kernels.conv import choose
from shenjing._ops.shape import squeeze, unsqueeze
from shenjing._tensor import Tensor
from shenjing.autograd.node import shown_as

__all__ = ["conv1d", "conv2d", "unfold", "fold"]


def as_tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints as an ``n``-tuple: ``as_tuple(3, 2, 'stride') == (3, 3)``."""
    if type(value) is int:
        return (value,) * n
    if isinstance(value, Tensor):
        value = value.tolist()
    if isinstance(value, (tuple, list)):
        if len(value) == 1 and n > 1:
            value = tuple(value) * n
        if len(value) != n:
            raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
        return tuple(int(v) for v in value)
    try:
        return (int(value),) * n
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}") from None


def conv_padding(padding: Any, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int],
                 ) -> tuple[tuple[int, int], ...]:
    """PyTorch's ``padding`` argument as (before, after) per axis.

    'valid' is no padding; 'same' pads d*(k-1) in all, half before and the odd one after (so the
    output has the input's size; stride must be 1); an int or a tuple pads both sides equally.
    """
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding != "same":
            raise ValueError(f"padding must be 'same', 'valid', an int or a tuple of {n} ints, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"padding='same' is not supported for strided convolutions (stride={tuple(stride)})")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((total // 2, total - total // 2) for total in totals)
    amounts = as_tuple(padding, n, "padding")
    if any(p < 0 for p in amounts):
        raise ValueError(f"padding must be non-negative, got padding={amounts}")
    return tuple((p, p) for p in amounts)


def check_conv_arguments(stride: Sequence[int], dilation: Sequence[int], groups: int) -> None:
    if any(s <= 0 for s in stride):
        raise ValueError(f"stride must be positive, got stride={tuple(stride)}")
    if any(d <= 0 for d in dilation):
        raise ValueError(f"dilation must be positive, got dilation={tuple(dilation)}")
    if groups <= 0:
        raise ValueError(f"groups must be a positive integer, got groups={groups}")


def check_output_size(who: Any, input_shape: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                      padding: Sequence[tuple[int, int]], dilation: Sequence[int]) -> None:
    """Raise if the (dilated) kernel does not fit in the padded input, explaining the formula.

    ``who`` names the caller in the message: a function name, or a layer (formatted only on error)."""
    axes = {1: "L", 2: "HW", 3: "DHW"}[len(kernel)]
    spatial = tuple(input_shape[-len(kernel):])
    for axis, n, k, s, (p0, p1), d in zip(axes, spatial, kernel, stride, padding, dilation):
        size = conv_output_size(n, k, s, (p0, p1), d)
        if size < 1:
            pad_text = f"2·{p0}" if p0 == p1 else f"{p0}+{p1}"
            pads = tuple(a if a == b else (a, b) for a, b in padding)
            raise RuntimeError(
                f"{who}: the kernel is larger than the padded input along {axis} (input {list(input_shape)}, "
                f"kernel {tuple(kernel)}, padding {pads}, dilation {tuple(dilation)}, stride {tuple(stride)}): "
                f"output size ⌊(n+2p−d(f−1)−1)/s⌋+1 = ⌊({n}+{pad_text}−{d}·({k}−1)−1)/{s}⌋+1 = {size}, "
                f"but it must be at least 1")


def _check_operands(name: str, input: Tensor, weight: Tensor, bias: Tensor | None, groups: int,
                    spatial: int) -> None:
    check_tensor(input, f"{name}(): input")
    check_tensor(weight, f"{name}(): weight")
    letters = "HW"[-spatial:] if spatial else ""
    if input.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"Expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) input to {name} "
                           f"[N, C, {', '.join(letters)}], but got input of size: {list(input.shape)}")
    if weight.ndim != spatial + 2:
        raise RuntimeError(f"{name}: weight must be {spatial + 2}-dimensional [out_channels, in_channels/groups, "
                           f"{', '.join('K' + a for a in letters)}], got weight of size {list(weight.shape)}")
    out_channels, group_channels = weight.shape[:2]
    if out_channels % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size {list(weight.shape)} instead")
    channels = input.shape[-spatial - 1]
    if channels != group_channels * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                           f"{list(input.shape)} to have {group_channels * groups} channels, but got {channels} "
                           f"channels instead")
    if bias is not None:
        check_tensor(bias, f"{name}(): bias")
        if tuple(bias.shape) != (out_channels,):
            raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional with "
                               f"{out_channels} elements, but got bias of size {list(bias.shape)} instead")
    for other, role in ((weight, "weight"), (bias, "bias")):
        if other is not None and other.dtype != input.dtype:
            raise RuntimeError(f"{name}: input type ({input.dtype}) and {role} type ({other.dtype}) should be "
                               f"the same")
    if not input.is_floating_point():
        raise RuntimeError(f"{name}: expected a floating-point input, got {input.dtype}")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of a batch of images with a bank of filters.

    y[n, o, i, j] = bias[o] + sum_{c, p, q} weight[o, c, p, q] * xpad[n, g*C/groups + c, s*i + d*p, s*j + d*q]

    where g = o // (O/groups) is the group of output channel o and xpad the zero-padded input.

    Shapes: input (N, C, H, W) or (C, H, W); weight (O, C/groups, KH, KW); bias (O,);
    output (N, O, OH, OW) with OH = floor((H + 2*pad - d*(KH-1) - 1) / s) + 1 (likewise OW).

    Args:
        stride, dilation: an int or (sh, sw) / (dh, dw).
        padding: an int, (ph, pw), 'valid' (no padding) or 'same' (output size = input size; stride 1;
            an odd total pads one more on the bottom/right, as PyTorch does).
        groups: split the channels into this many independent convolutions; groups == C with
            O = k*C is a depthwise convolution.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> x = shenjing.ones(1, 1, 4, 4)
    >>> F.conv2d(x, shenjing.ones(1, 1, 3, 3), padding=1)[0, 0]
    tensor([[4., 6., 6., 4.],
            [6., 9., 9., 6.],
            [6., 9., 9., 6.],
            [4., 6., 6., 4.]])
    """
    geometry = _fast_geometry(input, weight, bias, stride, padding, dilation, groups)
    if geometry is None:
        stride, pads, dilation = _checked_arguments("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)
        geometry = ConvGeometry(stride, pads, dilation, groups)
    if input._data.ndim == 4:
        return _conv(input, weight, bias, geometry)
    return squeeze(_conv(unsqueeze(input, 0), weight, bias, geometry), 0)


def _conv(x: Tensor, weight: Tensor, bias: Tensor | None, geometry: ConvGeometry) -> Tensor:
    """The op on a batched input, with the algorithm ``choose`` picks for it."""
    algorithm = choose(x._data.shape, weight._data.shape, x._data.dtype, geometry)
    return Conv2d(geometry, algorithm)(x, weight, bias)


def _pair(value: Any) -> tuple[int, int] | None:
    """An int or a pair of ints as a pair (None for anything else: the full checks handle it)."""
    if type(value) is int:
        return value, value
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        return value
    return None


def _fast_geometry(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
                   groups: Any) -> ConvGeometry | None:
    """conv2d's geometry where every check passes in the usual case (a batched or unbatched float input
    whose channels fit the weight, int or pair arguments, a kernel that fits): a few comparisons. None
    otherwise, and then ``_checked_arguments`` runs the full checks (and raises)."""
    if not (isinstance(input, Tensor) and isinstance(weight, Tensor) and type(groups) is int and groups > 0):
        return None
    x, w = input._data, weight._data
    if w.ndim != 4 or x.ndim not in (3, 4) or x.dtype != w.dtype or x.dtype.kind != "f" \
            or x.shape[-3] != w.shape[1] * groups or w.shape[0] % groups:
        return None
    if bias is not None and not (isinstance(bias, Tensor) and bias._data.shape == (w.shape[0],)
                                 and bias._data.dtype == x.dtype):
        return None
    stride, pads, dilation = _pair(stride), _pair(padding), _pair(dilation)
    if stride is None or pads is None or dilation is None:
        return None
    (sh, sw), (ph, pw), (dh, dw) = stride, pads, dilation
    if sh <= 0 or sw <= 0 or ph < 0 or pw < 0 or dh <= 0 or dw <= 0 \
            or x.shape[-2] + 2 * ph <= dh * (w.shape[2] - 1) or x.shape[-1] + 2 * pw <= dw * (w.shape[3] - 1):
        return None
    return ConvGeometry(stride, ((pads[0], pads[0]), (pads[1], pads[1])), dilation, groups)


def _checked_arguments(name: str, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,
                       dilation: Any, groups: int, spatial: int) -> tuple:
    """Check a convolution's operands and arguments; its stride, (before, after) padding and dilation per axis."""
    _check_operands(name, input, weight, bias, groups, spatial)
    kernel = tuple(weight.shape[2:])
    stride, dilation = as_tuple(stride, spatial, "stride"), as_tuple(dilation, spatial, "dilation")
    check_conv_arguments(stride, dilation, groups)
    pads = conv_padding(padding, kernel, stride, dilation)
    check_output_size(name, input.shape, kernel, stride, pads, dilation)
    return stride, pads, dilation


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) over sequences: ``conv2d`` with images of height 1.

    y[n, o, i] = bias[o] + sum_{c, p} weight[o, c, p] * xpad[n, g*C/groups + c, s*i + d*p]

    Shapes: input (N, C, L) or (C, L); weight (O, C/groups, K); bias (O,); output (N, O, OL) with
    OL = floor((L + 2*pad - d*(K-1) - 1) / s) + 1. ``padding`` may be an int, 'valid' or 'same'.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.conv1d(shenjing.tensor([[[1., 2., 3., 4.]]]), shenjing.tensor([[[1., 0., -1.]]]))
    tensor([[[-2., -2.]]])
    """
    stride, pads, dilation = _checked_arguments("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)
    batched = input.ndim == 3
    x = unsqueeze(input if batched else unsqueeze(input, 0), 2)  # (N, C, 1, L)
    geometry = ConvGeometry((1, stride[0]), ((0, 0), pads[0]), (1, dilation[0]), groups)
    y = shown_as(squeeze(_conv(x, unsqueeze(weight, 2), bias, geometry), 2), "ConvolutionBackward0")
    return y if batched else squeeze(y, 0)


def _unfold_geometry(kernel_size: Any, dilation: Any, padding: Any, stride: Any,
                     ) -> tuple[tuple[int, int], ConvGeometry]:
    kernel = as_tuple(kernel_size, 2, "kernel_size")
    dilation, stride = as_tuple(dilation, 2, "dilation"), as_tuple(stride, 2, "stride")
    if any(k <= 0 for k in kernel):
        raise ValueError(f"kernel_size must be positive, got kernel_size={kernel}")
    check_conv_arguments(stride, dilation, 1)
    pads = conv_padding(padding, kernel, stride, dilation)
    return kernel, ConvGeometry(stride, pads, dilation, 1)


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """Sliding blocks of a batch of images as columns (im2col): (N, C, H, W) -> (N, C*KH*KW, L).

    Column l holds the C*KH*KW pixels under the kernel at the l-th position (row-major over the
    OH x OW output positions, L = OH*OW), channel-major then kernel row then kernel column, so that
    ``conv2d(x, w)`` equals ``(w.view(O, -1) @ unfold(x, (KH, KW))).view(N, O, OH, OW)``.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.unfold(shenjing.arange(9.).view(1, 1, 3, 3), kernel_size=2)
    tensor([[[0., 1., 3., 4.],
             [1., 2., 4., 5.],
             [3., 4., 6., 7.],
             [4., 5., 7., 8.]]])
    """
    check_tensor(input, "unfold(): input")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D, "
                           f"shape {list(input.shape)})")
    kernel, geometry = _unfold_geometry(kernel_size, dilation, padding, stride)
    check_output_size("unfold", input.shape, kernel, geometry.stride, geometry.padding, geometry.dilation)
    batched = input.ndim == 4
    cols = Unfold(kernel, geometry)(input if batched else unsqueeze(input, 0))
    return cols if batched else squeeze(cols, 0)


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Tensor:
    """The adjoint of ``unfold`` (col2im): columns (N, C*KH*KW, L) summed back into (N, C, H, W).

    Where blocks overlap, their entries add up, so ``fold(unfold(x))`` is x times the number of
    blocks that cover each pixel.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.fold(shenjing.ones(1, 4, 4), output_size=(3, 3), kernel_size=2)[0, 0]
    tensor([[1., 2., 1.],
            [2., 4., 2.],
            [1., 2., 1.]])
    """
    check_tensor(input, "fold(): input")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                           f"(got {input.ndim}D, shape {list(input.shape)})")
    kernel, geometry = _unfold_geometry(kernel_size, dilation, padding, stride)
    size = as_tuple(output_size, 2, "output_size")
    batched = input.ndim == 3
    cols = input if batched else unsqueeze(input, 0)
    n, rows, length = cols.shape
    blocks = [conv_output_size(s, k, st, p, d) for s, k, st, p, d in
              zip(size, kernel, geometry.stride, geometry.padding, geometry.dilation)]
    if rows % (kernel[0] * kernel[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
                           f"but got input.size(1)={rows} and kernel_size={kernel}")
    if blocks[0] * blocks[1] != length:
        raise RuntimeError(f"Given output_size={size}, kernel_size={kernel}, dilation={geometry.dilation}, "
                           f"padding={tuple(p for p, _ in geometry.padding)}, stride={geometry.stride}, expected "
                           f"size of input's dimension 2 to match the calculated number of sliding blocks "
                           f"{blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got input.size(2)={length}.")
    image_shape = (n, rows // (kernel[0] * kernel[1])) + size
    image = Fold(image_shape, kernel, geometry)(cols)
    return image if batched else squeeze(image, 0)
