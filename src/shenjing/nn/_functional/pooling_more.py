"""More pooling: 3-D max / average / adaptive pooling, power-average (LP) pooling and max unpooling.

3-D pools are composed of the 2-D ones, because max and sum pool separably: the depth windows are
gathered (one slice of the padded input per (kernel depth, output depth)) and reduced, and the 2-D pool
then reduces over H and W. Average pooling sums that way and divides by the window sizes PyTorch uses
(the window clipped to the padded input, or to the input itself with ``count_include_pad=False``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing._ops._util import check_tensor
from shenjing._ops.elementwise import abs, relu, sign
from shenjing._ops.pool import average_matrix, pool_output_size
from shenjing._ops.shape import stack
from shenjing._tensor import Tensor
from shenjing.nn._functional.conv import as_tuple
from shenjing.nn._functional.padding import pad
from shenjing.nn._functional.pooling import adaptive_max_pool2d, avg_pool1d, avg_pool2d, max_pool2d
from shenjing.nn._functional.vision import _resample

__all__ = ["max_pool3d", "max_pool3d_with_indices", "avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d",
           "adaptive_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d",
           "max_unpool2d", "max_unpool3d"]


def _volumes(name: str, input: Tensor) -> tuple[Tensor, bool]:
    check_tensor(input, f"{name}(): input")
    if input.ndim not in (4, 5):
        raise RuntimeError(f"{name}: expected a 4D (unbatched) or 5D (batched) input [N, C, D, H, W], but got "
                           f"input of size: {list(input.shape)}")
    return (input, True) if input.ndim == 5 else (input.unsqueeze(0), False)


def _geometry3d(name: str, kernel_size: Any, stride: Any, padding: Any, dilation: Any) -> tuple:
    kernel = as_tuple(kernel_size, 3, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else as_tuple(stride, 3, "stride")
    padding, dilation = as_tuple(padding, 3, "padding"), as_tuple(dilation, 3, "dilation")
    if any(k < 1 for k in kernel) or any(s < 1 for s in stride) or any(d < 1 for d in dilation) or min(padding) < 0:
        raise ValueError(f"{name}: kernel_size, stride and dilation must be positive and padding non-negative, got "
                         f"kernel_size={kernel}, stride={stride}, padding={padding}, dilation={dilation}")
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise ValueError(f"{name}: pad should be at most half of effective kernel size, but got "
                             f"padding={padding}, kernel_size={kernel} and dilation={dilation}")
    return kernel, stride, padding, dilation


def _depth_windows(x: Tensor, k: int, s: int, p: int, d: int, ceil_mode: bool, value: float,
                   name: str) -> tuple[Tensor, int]:
    """x (N, C, D, H, W) -> (N, C, K, OD, H, W): the padded input's depth slice under each kernel tap of
    each output depth, and OD."""
    depth = x.shape[2]
    out = pool_output_size(depth, k, s, p, d, ceil_mode)
    if out < 1:
        raise RuntimeError(f"{name}: output size is too small for input of size {list(x.shape)} along D: got {out}")
    after = max(0, (out - 1) * s + d * (k - 1) + 1 - depth - p)
    if p or after:
        x = pad(x, (0, 0, 0, 0, p, after), value=value)
    taps = np.add.outer(np.arange(k) * d, np.arange(out) * s).reshape(-1)
    windows = x.index_select(2, Tensor._make(taps))
    return windows.reshape(x.shape[0], x.shape[1], k, out, *x.shape[3:]), out


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """3-D max pooling: (N, C, D, H, W) -> (N, C, OD, OH, OW), the largest value of each window (see
    ``max_pool2d``); ``return_indices`` also gives the position d*H*W + h*W + w of each maximum.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.max_pool3d(shenjing.arange(8.).view(1, 1, 2, 2, 2), 2).flatten()
    tensor([7.])
    """
    x, batched = _volumes("max_pool3d", input)
    kernel, stride, padding, dilation = _geometry3d("max_pool3d", kernel_size, stride, padding, dilation)
    windows, out_depth = _depth_windows(x, kernel[0], stride[0], padding[0], dilation[0], ceil_mode, -np.inf,
                                        "max_pool3d")
    n, c, _, _, height, width = windows.shape
    deepest = windows.amax(2).reshape(n, c * out_depth, height, width)
    pooled = max_pool2d(deepest, kernel[1:], stride[1:], padding[1:], dilation[1:], ceil_mode, return_indices)
    if not return_indices:
        y = pooled.reshape(n, c, out_depth, *pooled.shape[2:])
        return y if batched else y.squeeze(0)
    y, plane_index = pooled
    tap = np.argmax(windows._data, axis=2).reshape(n, c * out_depth, height * width)  # kernel tap of the max
    tap = np.take_along_axis(tap, plane_index._data.reshape(n, c * out_depth, -1), axis=2).reshape(y.shape)
    od = np.arange(out_depth)[None, None, :, None, None]
    depth = od * stride[0] + tap.reshape(n, c, out_depth, *y.shape[2:]) * dilation[0] - padding[0]
    index = depth * (x.shape[3] * x.shape[4]) + plane_index._data.reshape(depth.shape)
    y = y.reshape(n, c, out_depth, *y.shape[2:])
    index = Tensor._make(index.astype(np.int64))
    return (y, index) if batched else (y.squeeze(0), index.squeeze(0))


def max_pool3d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                            ceil_mode: bool = False, return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``max_pool3d(..., return_indices=True)``."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _window_counts(n: int, k: int, s: int, p: int, out: int, include_pad: bool) -> np.ndarray:
    """Per output position along one axis, how many positions its window covers (PyTorch's divisor)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, n + p)
    if include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def avg_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """3-D average pooling: (N, C, D, H, W) -> (N, C, OD, OH, OW), the mean of each window (see ``avg_pool2d``
    for the divisor rules).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.avg_pool3d(shenjing.arange(8.).view(1, 1, 2, 2, 2), 2).flatten()
    tensor([3.5000])
    """
    x, batched = _volumes("avg_pool3d", input)
    if not x.is_floating_point():
        raise RuntimeError(f"avg_pool3d: expected a floating-point input, got {x.dtype}")
    if divisor_override is not None and divisor_override <= 0:
        raise ValueError(f"avg_pool3d: divisor_override must be positive, got {divisor_override}")
    kernel, stride, padding, _ = _geometry3d("avg_pool3d", kernel_size, stride, padding, 1)
    windows, out_depth = _depth_windows(x, kernel[0], stride[0], padding[0], 1, ceil_mode, 0.0, "avg_pool3d")
    n, c, _, _, height, width = windows.shape
    sums = avg_pool2d(windows.sum(2).reshape(n, c * out_depth, height, width), kernel[1:], stride[1:], padding[1:],
                      ceil_mode, True, 1)
    sums = sums.reshape(n, c, out_depth, *sums.shape[2:])
    if divisor_override is not None:
        y = sums / divisor_override
    else:
        counts = [_window_counts(size, k, s, p, out, count_include_pad) for size, k, s, p, out in
                  zip(x.shape[2:], kernel, stride, padding, sums.shape[2:])]
        divisor = np.einsum("i,j,k->ijk", *counts).astype(x._data.dtype)
        y = sums / Tensor._make(divisor)
    return y if batched else y.squeeze(0)


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling of (N, C, D, H, W) to a fixed (OD, OH, OW) (see ``adaptive_avg_pool2d``): separable,
    one averaging matrix per axis.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.adaptive_avg_pool3d(shenjing.arange(8.).view(1, 1, 2, 2, 2), 1).flatten()
    tensor([3.5000])
    """
    x, batched = _volumes("adaptive_avg_pool3d", input)
    sizes = _adaptive_sizes("adaptive_avg_pool3d", output_size, x.shape[2:])
    matrices = [average_matrix(n, out, x._data.dtype) for n, out in zip(x.shape[2:], sizes)]
    y = _resample(x, matrices)
    return y if batched else y.squeeze(0)


def _adaptive_sizes(name: str, output_size: Any, input_sizes: tuple[int, ...]) -> tuple[int, ...]:
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 3
    if len(sizes) != 3:
        raise ValueError(f"{name}: output_size must be an int or a tuple of 3 ints, got {output_size!r}")
    sizes = tuple(n if s is None else int(s) for s, n in zip(sizes, input_sizes))
    if any(s < 1 for s in sizes):
        raise ValueError(f"{name}: output_size must be positive, got output_size={output_size!r}")
    return sizes


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling of (N, C, D, H, W) to a fixed (OD, OH, OW): output (i, j, k) is the max over depths
    [floor(i*D/OD), ceil((i+1)*D/OD)) and the matching rows and columns.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.adaptive_max_pool3d(shenjing.arange(8.).view(1, 1, 2, 2, 2), (2, 1, 1)).flatten()
    tensor([3., 7.])
    """
    x, batched = _volumes("adaptive_max_pool3d", input)
    depth, height, width = x.shape[2:]
    out_depth, out_h, out_w = _adaptive_sizes("adaptive_max_pool3d", output_size, (depth, height, width))
    starts = [(i * depth) // out_depth for i in range(out_depth)]
    ends = [-((-(i + 1) * depth) // out_depth) for i in range(out_depth)]
    deepest = stack([x[:, :, s:e].amax(2) for s, e in zip(starts, ends)], 2)  # (N, C, OD, H, W)
    n, c = x.shape[:2]
    pooled = adaptive_max_pool2d(deepest.reshape(n, c * out_depth, height, width), (out_h, out_w), return_indices)
    if not return_indices:
        y = pooled.reshape(n, c, out_depth, out_h, out_w)
        return y if batched else y.squeeze(0)
    y, plane_index = pooled
    data = x._data
    arg = np.stack([s + np.argmax(data[:, :, s:e], axis=2) for s, e in zip(starts, ends)], 2)  # depth of the max
    arg = np.take_along_axis(arg.reshape(n, c * out_depth, -1), plane_index._data.reshape(n, c * out_depth, -1), 2)
    index = arg.reshape(n, c, out_depth, out_h, out_w) * (height * width) + \
        plane_index._data.reshape(n, c, out_depth, out_h, out_w)
    y, index = y.reshape(n, c, out_depth, out_h, out_w), Tensor._make(index.astype(np.int64))
    return (y, index) if batched else (y.squeeze(0), index.squeeze(0))


def adaptive_max_pool3d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``adaptive_max_pool3d(..., return_indices=True)``."""
    return adaptive_max_pool3d(input, output_size, True)


def _lp(out: Tensor, norm_type: float, count: int) -> Tensor:
    return (sign(out) * relu(abs(out)) * count) ** (1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: int, stride: Any = None, ceil_mode: bool = False) -> Tensor:
    """Power-average pooling: (sum over each window of x^p)^(1/p) (p = inf is max pooling, p = 1 sum pooling).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.lp_pool1d(shenjing.tensor([[[3., 4., 1.]]]), 2, 2)
    tensor([[[5.]]])
    """
    kernel = as_tuple(kernel_size, 1, "kernel_size")[0]
    out = avg_pool1d(input ** norm_type, kernel, stride, 0, ceil_mode)
    return _lp(out, norm_type, kernel)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> Tensor:
    """2-D power-average pooling (see ``lp_pool1d``).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.lp_pool2d(shenjing.ones(1, 1, 2, 2), 1, 2).flatten()
    tensor([4.])
    """
    kernel = as_tuple(kernel_size, 2, "kernel_size")
    out = avg_pool2d(input ** norm_type, kernel, stride, 0, ceil_mode)
    return _lp(out, norm_type, kernel[0] * kernel[1])


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> Tensor:
    """3-D power-average pooling (see ``lp_pool1d``).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.lp_pool3d(shenjing.ones(1, 1, 2, 2, 2), 1, 2).flatten()
    tensor([8.])
    """
    kernel = as_tuple(kernel_size, 3, "kernel_size")
    out = avg_pool3d(input ** norm_type, kernel, stride, 0, ceil_mode)
    return _lp(out, norm_type, kernel[0] * kernel[1] * kernel[2])


def _max_unpool(name: str, spatial: int, input: Tensor, indices: Tensor, kernel_size: Any, stride: Any,
                padding: Any, output_size: Any) -> Tensor:
    check_tensor(input, f"{name}(): input")
    check_tensor(indices, f"{name}(): indices")
    if input.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"{name}: expected a {spatial + 1}D or {spatial + 2}D input, got input of size "
                           f"{list(input.shape)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(input.shape)}) "
                           f"but got indices tensor with shape: {list(indices.shape)}")
    kernel = as_tuple(kernel_size, spatial, "kernel_size")
    stride = kernel if stride is None else as_tuple(stride, spatial, "stride")
    padding = as_tuple(padding, spatial, "padding")
    in_sizes = tuple(input.shape[-spatial:])
    default = tuple((n - 1) * s + k - 2 * p for n, k, s, p in zip(in_sizes, kernel, stride, padding))
    if output_size is None:
        sizes = default
    else:
        sizes = tuple(int(v) for v in output_size)
        if len(sizes) == spatial + 2 or (len(sizes) == spatial + 1 and input.ndim == spatial + 1):
            sizes = sizes[-spatial:]
        if len(sizes) != spatial:
            raise ValueError(f"output_size should be a sequence containing {spatial} or {spatial + 2} elements, but "
                             f"it has a length of '{len(sizes)}'")
        for size, low, s in zip(sizes, default, stride):
            if not low - s < size < low + s:
                raise ValueError(f"invalid output_size \"{list(sizes)}\" (dim {sizes.index(size)} must be between "
                                 f"{low - s} and {low + s})")
    lead = tuple(input.shape[:-spatial])
    flat_in = input.reshape(*lead, -1)
    flat_index = indices.reshape(*lead, -1)
    total = int(np.prod(sizes))
    if flat_index.numel() and (int(flat_index._data.max()) >= total or int(flat_index._data.min()) < 0):
        raise RuntimeError(f"Found an invalid max index: {int(flat_index._data.max())} (output volumes are of size "
                           f"{'x'.join(str(s) for s in sizes)})")
    zeros = Tensor._make(np.zeros(lead + (total,), dtype=input._data.dtype))
    return zeros.scatter(-1, flat_index, flat_in).reshape(*lead, *sizes)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The partial inverse of ``max_pool1d``: each value put back at its max's position, zeros elsewhere.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> y, i = F.max_pool1d(shenjing.tensor([[[1., 3., 2., 0.]]]), 2, return_indices=True)
    >>> F.max_unpool1d(y, i, 2)
    tensor([[[0., 3., 2., 0.]]])
    """
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The partial inverse of ``max_pool2d`` (see ``max_unpool1d``); indices are h*W + w.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> y, i = F.max_pool2d(shenjing.arange(4.).view(1, 1, 2, 2), 2, return_indices=True)
    >>> F.max_unpool2d(y, i, 2)
    tensor([[[[0., 0.],
              [0., 3.]]]])
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The partial inverse of ``max_pool3d`` (see ``max_unpool1d``); indices are d*H*W + h*W + w.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> y, i = F.max_pool3d(shenjing.arange(8.).view(1, 1, 2, 2, 2), 2, return_indices=True)
    >>> F.max_unpool3d(y, i, 2).flatten()
    tensor([0., 0., 0., 0., 0., 0., 0., 7.])
    """
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)
