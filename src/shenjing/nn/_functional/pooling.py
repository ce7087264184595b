"""Pooling: max, average and adaptive pooling over 1-D sequences and 2-D images.

The window arithmetic is in ``shenjing._ops.pool``; a 1-D pool is the 2-D one on images of height 1.
Output size per axis, as for a convolution: floor((n + 2p - d*(k-1) - 1) / s) + 1 (``ceil_mode``: ceil,
but the last window must start inside the input or its left padding).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Sequence

from shenjing._ops.linalg import matmul
from shenjing._ops.pool import (AdaptiveMaxPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d, PoolGeometry,
                               average_matrix, layout, pool_output_size)
from shenjing._ops.shape import squeeze, unsqueeze
from shenjing._tensor import Tensor
from shenjing.autograd.node import shown_as
from shenjing.nn._functional.conv import as_tuple

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices"]

# The checks below run on every call and keep nothing between calls: a layer's attributes changed after
# construction or after a first call are used by the next call. ``who`` is the function's name, or the
# layer that calls it (then errors name the layer with its settings, as ``repr`` shows them).


def _name(who: Any) -> str:
    return who if isinstance(who, str) else type(who).__name__


def _layout_text(spatial: int) -> str:
    return "[N, C, H, W] or [C, H, W]" if spatial == 2 else "[N, C, L] or [C, L]"


def _check_input(who: Any, input: Any, spatial: int) -> None:
    """Raise unless ``input`` is a tensor of ``spatial`` + 1 (unbatched) or + 2 (batched) dims."""
    if not isinstance(input, Tensor):
        if isinstance(who, str):
            raise TypeError(f"{who}(): input must be a Tensor, got {type(input).__name__}")
        raise TypeError(f"{who!r} expects a Tensor input, got {type(input).__name__}")
    if input._data.ndim not in (spatial + 1, spatial + 2):
        if isinstance(who, str):
            raise RuntimeError(f"{who}: expected a {spatial + 1}D (unbatched) or {spatial + 2}D (batched) input "
                               f"{_layout_text(spatial)}, but got input of size: {list(input.shape)}")
        raise RuntimeError(f"{who!r} expects input {_layout_text(spatial)}, got {list(input.shape)}")


def _as_images(who: Any, input: Tensor, spatial: int) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """``input`` (checked) as (N, C, H, W), and the function that gives a result the input's layout back.

    2-D pools take (N, C, H, W) or (C, H, W); 1-D pools take (N, C, L) or (C, L), seen as H = 1.
    """
    _check_input(who, input, spatial)
    batched = input.ndim == spatial + 2
    x = input if batched else unsqueeze(input, 0)
    x = unsqueeze(x, 2) if spatial == 1 else x

    def restore(y: Tensor) -> Tensor:
        y = squeeze(y, 2) if spatial == 1 else y
        return y if batched else squeeze(y, 0)
    return x, restore


def _plain(value: Any) -> Any:
    """``value`` if it is an int, None or a tuple of ints (a list of ints as a tuple), else ``_OTHER``."""
    if value is None or type(value) is int:
        return value
    if type(value) in (tuple, list) and all(type(v) is int for v in value):
        return tuple(value)
    return _OTHER


_OTHER = object()


def pool_geometry(name: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
                  spatial: int) -> PoolGeometry:
    """The checked 2-D geometry of a pooling (a 1-D pool's is that of an image of height 1).

    Arguments given as plain ints (the usual case) are looked up in a cache of ``_geometry``, a pure
    function of them: it gives the same geometry, or raises the same error, as computing it again."""
    args = (_plain(kernel_size), _plain(stride), _plain(padding), _plain(dilation))
    if _OTHER not in args and type(ceil_mode) is bool:
        return _cached_geometry(name, *args, ceil_mode, spatial)
    return _geometry(name, kernel_size, stride, padding, dilation, ceil_mode, spatial)


def _geometry(name: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
              spatial: int) -> PoolGeometry:
    kernel = as_tuple(kernel_size, spatial, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else as_tuple(stride, spatial, "stride")
    padding, dilation = as_tuple(padding, spatial, "padding"), as_tuple(dilation, spatial, "dilation")
    for label, values, low in (("kernel_size", kernel, 1), ("stride", stride, 1), ("dilation", dilation, 1),
                               ("padding", padding, 0)):
        if any(v < low for v in values):
            raise ValueError(f"{name}: {label} must be {'positive' if low else 'non-negative'}, got "
                             f"{label}={values}")
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise ValueError(f"{name}: pad should be at most half of effective kernel size, but got "
                             f"padding={padding}, kernel_size={kernel} and dilation={dilation}")
    if spatial == 1:  # the 2-D geometry of an image of height 1
        return PoolGeometry((1,) + kernel, (1,) + stride, (0,) + padding, (1,) + dilation, bool(ceil_mode))
    return PoolGeometry(kernel, stride, padding, dilation, bool(ceil_mode))


_cached_geometry = lru_cache(maxsize=256)(_geometry)


def check_pool_output(who: Any, input_shape: Sequence[int], g: PoolGeometry, spatial: int) -> None:
    """Raise if a pooling window does not fit in the padded input, explaining the output-size formula.

    ``g`` is the 2-D geometry; the input of a 1-D pool (``spatial == 1``) is an image of height 1.
    """
    image_hw = tuple(input_shape[-2:]) if spatial == 2 else (1, input_shape[-1])
    (oh, ow), _ = layout(image_hw, g)
    if oh >= 1 and ow >= 1:
        return
    for axis, n, k, s, p, d in zip("HL" if spatial == 1 else "HW", image_hw, g.kernel, g.stride, g.padding,
                                   g.dilation):
        size = pool_output_size(n, k, s, p, d, g.ceil_mode)
        if size < 1:
            rounding = "⌈" if g.ceil_mode else "⌊"
            closing = "⌉" if g.ceil_mode else "⌋"
            raise RuntimeError(
                f"{who}: output size is too small for input of size {list(input_shape)} along {axis}: "
                f"{rounding}(n+2p−d(f−1)−1)/s{closing}+1 = {rounding}({n}+2·{p}−{d}·({k}−1)−1)/{s}{closing}+1 = "
                f"{size}, but it must be at least 1")


def max_pool(who: Any, spatial: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
             dilation: Any, ceil_mode: bool, return_indices: bool) -> Any:
    """``max_pool1d`` / ``max_pool2d`` (``spatial``), for the functions and the layers (``who``)."""
    if spatial == 2 and not return_indices and isinstance(input, Tensor) and input._data.ndim == 4:
        # the usual case, without the reshaping
        geometry = pool_geometry(_name(who), kernel_size, stride, padding, dilation, ceil_mode, 2)
        check_pool_output(who, input._data.shape, geometry, 2)
        return MaxPool2d(geometry)(input)
    x, restore = _as_images(who, input, spatial)
    geometry = pool_geometry(_name(who), kernel_size, stride, padding, dilation, ceil_mode, spatial)
    check_pool_output(who, input.shape, geometry, spatial)
    op = MaxPool2d(geometry, return_indices)
    y = restore(op(x))
    if not return_indices:
        return y
    return y, restore(Tensor._make(op.indices()))


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """2-D max pooling: the largest value in each KH x KW window (windows ``stride`` apart, default
    ``kernel_size``; ``padding`` adds -inf on each side; ``dilation`` spaces the window's taps).

    y[n, c, i, j] = max_{p, q} x[n, c, s*i + d*p - pad, s*j + d*q - pad]

    Shapes: (N, C, H, W) -> (N, C, OH, OW), OH = floor((H + 2*pad - d*(KH-1) - 1) / s) + 1; (C, H, W)
    inputs work too. The gradient goes to the position of the maximum (the first one on ties).
    With ``return_indices`` also returns, per output, the position h*W + w of the maximum.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.max_pool2d(shenjing.arange(16.).view(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    return max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """1-D max pooling over sequences: (N, C, L) -> (N, C, OL); see ``max_pool2d``.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.max_pool1d(shenjing.tensor([[[1., 3., 2., 5., 4.]]]), 2)
    tensor([[[3., 5.]]])
    """
    return max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool(who: Any, spatial: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
             ceil_mode: bool, count_include_pad: bool, divisor_override: int | None) -> Tensor:
    """``avg_pool1d`` / ``avg_pool2d`` (``spatial``), for the functions and the layers (``who``)."""
    x, restore = _as_images(who, input, spatial)
    if not input.is_floating_point():
        raise RuntimeError(f"{_name(who)}: expected a floating-point input, got {input.dtype}")
    if divisor_override is not None and divisor_override <= 0:
        raise ValueError(f"{_name(who)}: divisor_override must be positive, got {divisor_override}")
    geometry = pool_geometry(_name(who), kernel_size, stride, padding, 1, ceil_mode, spatial)
    check_pool_output(who, input.shape, geometry, spatial)
    return restore(AvgPool2d(geometry, bool(count_include_pad), divisor_override)(x))


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling: the mean of each KH x KW window.

    y[n, c, i, j] = (1 / divisor) * sum_{p, q} xpad[n, c, s*i + p, s*j + q]

    The divisor is KH*KW (the padding zeros count, ``count_include_pad=True``), or the number of real
    input pixels in the window (``count_include_pad=False``), or ``divisor_override``. Windows that
    ``ceil_mode`` lets run past the padding count only the part inside it.
    Shapes: (N, C, H, W) -> (N, C, OH, OW), OH = floor((H + 2*pad - KH) / s) + 1.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.avg_pool2d(shenjing.arange(16.).view(1, 1, 4, 4), 2)
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """
    return avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling over sequences: (N, C, L) -> (N, C, OL); see ``avg_pool2d``.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.avg_pool1d(shenjing.tensor([[[1., 3., 2., 6.]]]), 2)
    tensor([[[2., 4.]]])
    """
    return avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def adaptive_output_size(name: str, output_size: Any, input_hw: tuple[int, ...]) -> tuple[int, ...]:
    """``output_size`` per axis; ``None`` keeps that axis's input size."""
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * len(input_hw)
    if len(sizes) != len(input_hw):
        raise ValueError(f"{name}: output_size must be an int or a tuple of {len(input_hw)} ints, got "
                         f"{output_size!r}")
    sizes = tuple(n if s is None else int(s) for s, n in zip(sizes, input_hw))
    if any(s < 1 for s in sizes):
        raise ValueError(f"{name}: output_size must be positive, got output_size={output_size!r}")
    return sizes


def adaptive_avg(who: Any, spatial: int, input: Tensor, output_size: Any) -> Tensor:
    """``adaptive_avg_pool1d`` / ``adaptive_avg_pool2d`` (``spatial``), for the functions and the layers."""
    x, restore = _as_images(who, input, spatial)
    if not input.is_floating_point():
        raise RuntimeError(f"{_name(who)}: expected a floating-point input, got {input.dtype}")
    out = (1,) + adaptive_output_size(_name(who), output_size, x.shape[3:]) if spatial == 1 else \
        adaptive_output_size(_name(who), output_size, x.shape[2:])
    if out == (1, 1):  # global average pooling
        return restore(GlobalAvgPool2d()(x))
    # pooling is linear and separable: y = A_H @ x @ A_W^T with A[i, j] = 1/|window i| on window i
    rows = Tensor._make(average_matrix(x.shape[2], out[0], x._data.dtype))
    columns = Tensor._make(average_matrix(x.shape[3], out[1], x._data.dtype).T.copy())
    pooled = matmul(matmul(rows, x), columns)
    return restore(shown_as(pooled, "AdaptiveAvgPool2DBackward0") if spatial == 2 else pooled)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size (OH, OW), whatever the input size.

    Output (i, j) is the mean of rows [floor(i*H/OH), ceil((i+1)*H/OH)) and the matching columns;
    ``output_size=1`` is global average pooling. ``None`` in ``output_size`` keeps that size.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.adaptive_avg_pool2d(shenjing.arange(9.).view(1, 1, 3, 3), 2)
    tensor([[[[2., 3.],
              [5., 6.]]]])
    """
    return adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """1-D adaptive average pooling: (N, C, L) -> (N, C, output_size).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.adaptive_avg_pool1d(shenjing.tensor([[[1., 2., 3., 4., 5.]]]), 2)
    tensor([[[2., 4.]]])
    """
    return adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_max(who: Any, spatial: int, input: Tensor, output_size: Any, return_indices: bool) -> Any:
    """``adaptive_max_pool1d`` / ``adaptive_max_pool2d`` (``spatial``), for the functions and the layers."""
    x, restore = _as_images(who, input, spatial)
    out = (1,) + adaptive_output_size(_name(who), output_size, x.shape[3:]) if spatial == 1 else \
        adaptive_output_size(_name(who), output_size, x.shape[2:])
    op = AdaptiveMaxPool2d(out)
    y = restore(op(x))
    return (y, restore(Tensor._make(op.flat_indices))) if return_indices else y


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed output size (OH, OW): output (i, j) is the max over rows
    [floor(i*H/OH), ceil((i+1)*H/OH)) and the matching columns.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.adaptive_max_pool2d(shenjing.arange(9.).view(1, 1, 3, 3), 2)
    tensor([[[[4., 5.],
              [7., 8.]]]])
    """
    return adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """1-D adaptive max pooling: (N, C, L) -> (N, C, output_size).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.adaptive_max_pool1d(shenjing.tensor([[[1., 5., 2., 4., 3.]]]), 2)
    tensor([[[5., 4.]]])
    """
    return adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def max_pool1d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                            ceil_mode: bool = False, return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``max_pool1d(..., return_indices=True)``: the pooled values and the positions of the maxima."""
    return max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                            ceil_mode: bool = False, return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``max_pool2d(..., return_indices=True)``: the pooled values and the positions h*W + w of the maxima."""
    return max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``adaptive_max_pool1d(..., return_indices=True)``."""
    return adaptive_max("adaptive_max_pool1d", 1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``adaptive_max_pool2d(..., return_indices=True)``."""
    return adaptive_max("adaptive_max_pool2d", 2, input, output_size, True)
