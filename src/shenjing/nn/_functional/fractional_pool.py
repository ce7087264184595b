"""Fractional max pooling (Graham, 2014): max pooling with a non-integer reduction factor. Along each axis
the K-wide windows start at pseudo-random positions, the same for every output of a (sample, channel):

    start_i = int((i + u) * a) - int(u * a)  (i < out - 1),   start_{out-1} = n - K,   a = (n - K) / (out - 1)

with u ~ U(0, 1) per (sample, channel, axis) (``_random_samples`` (N, C, dims) gives them), computed in the
input's precision as PyTorch does. The windows are gathered and reduced by ``amax``, so the gradient goes to
each window's maximum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing._ops._util import check_tensor
from shenjing import _random_draws
from shenjing._random import default_generator
from shenjing._tensor import Tensor
from shenjing.nn._functional.conv import as_tuple

__all__ = ["fractional_max_pool2d", "fractional_max_pool2d_with_indices", "fractional_max_pool3d",
           "fractional_max_pool3d_with_indices"]

_AXES = {2: ("height", "width"), 3: ("time", "height", "width")}


def _starts(samples: np.ndarray, n: int, out: int, kernel: int, dtype: np.dtype) -> np.ndarray:
    """The window starts (..., out) for samples (...,) along an axis of length n."""
    starts = np.empty(samples.shape + (out,), dtype=np.int64)
    if out > 1:
        alpha = dtype.type(n - kernel) / dtype.type(out - 1)
        i = np.arange(out - 1, dtype=dtype)
        u = samples.astype(dtype)[..., None]
        starts[..., :-1] = ((i + u) * alpha).astype(np.int64) - (u * alpha).astype(np.int64)
    starts[..., -1] = n - kernel
    return starts


def _fractional(name: str, spatial: int, input: Tensor, kernel_size: Any, output_size: Any, output_ratio: Any,
                return_indices: bool, random_samples: Tensor | None) -> Any:
    check_tensor(input, f"{name}(): input")
    if input.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"{name}: expected a {spatial + 1}D or {spatial + 2}D input, got input of size "
                           f"{list(input.shape)}")
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    batched = input.ndim == spatial + 2
    x = input if batched else input.unsqueeze(0)
    sizes = tuple(x.shape[2:])
    kernel = as_tuple(kernel_size, spatial, "kernel_size")
    if output_size is None:
        ratios = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * spatial
        output_size = tuple(int(n * float(r)) for n, r in zip(sizes, ratios))
    outputs = as_tuple(output_size, spatial, "output_size")
    for axis, n, out, k in zip(_AXES[spatial], sizes, outputs, kernel):
        if out + k - 1 > n:
            raise RuntimeError(f"{name}(): pool {axis} {k} too large relative to input {axis} {n}")
    batch, channels = x.shape[:2]
    dtype = x._data.dtype
    if random_samples is None:
        samples = _random_draws.uniform(default_generator, (batch, channels, spatial), dtype)  # torch.rand's
    else:
        if isinstance(random_samples, Tensor) and random_samples.dtype != x.dtype:
            raise RuntimeError("Expect _random_samples to have the same dtype as input")
        samples = np.asarray(random_samples._data if isinstance(random_samples, Tensor) else random_samples)
        if samples.shape != (batch, channels, spatial):
            raise RuntimeError(f"{name}: expected _random_samples of shape {(batch, channels, spatial)}, got "
                               f"{samples.shape}")
    # PyTorch's samples: 2-D [0] width, [1] height; 3-D [0] time, [1] height, [2] width
    order = (1, 0) if spatial == 2 else (0, 1, 2)
    starts = [_starts(samples[..., order[d]], sizes[d], outputs[d], kernel[d], dtype) for d in range(spatial)]
    strides = np.cumprod((1,) + sizes[::-1])[:-1][::-1]  # flat index = sum of position * stride
    view = np.zeros((batch, channels) + (1, 1) * spatial, dtype=np.int64)  # positions (N, C, out_0, k_0, ...)
    for d in range(spatial):
        axis = (starts[d][..., None] + np.arange(kernel[d])) * strides[d]  # (N, C, out_d, k_d)
        layout = (batch, channels) + (1, 1) * d + (outputs[d], kernel[d]) + (1, 1) * (spatial - d - 1)
        view = view + axis.reshape(layout)
    windows = x.reshape(batch, channels, -1).gather(2, Tensor._make(view.reshape(batch, channels, -1)))
    windows = windows.reshape(view.shape)
    reduce_dims = tuple(3 + 2 * d for d in range(spatial))
    y = windows.amax(reduce_dims)
    if not return_indices:
        return y if batched else y.squeeze(0)
    order_out = [2 + 2 * d for d in range(spatial)] + list(reduce_dims)
    arranged = np.moveaxis(windows._data, order_out, range(2, 2 + 2 * spatial))
    arranged = arranged.reshape(arranged.shape[:2 + spatial] + (-1,))
    positions = np.moveaxis(view, order_out, range(2, 2 + 2 * spatial)).reshape(arranged.shape)
    index = np.take_along_axis(positions, np.argmax(arranged, axis=-1)[..., None], -1)[..., 0]
    index = Tensor._make(index.astype(np.int64))
    return (y, index) if batched else (y.squeeze(0), index.squeeze(0))


def fractional_max_pool2d(input: Tensor, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
                          return_indices: bool = False, _random_samples: Tensor | None = None) -> Any:
    """Fractional max pooling of (N, C, H, W) to ``output_size`` (or ``output_ratio`` of the input size)
    with K x K windows at pseudo-random starts (see the module docstring).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.fractional_max_pool2d(shenjing.randn(1, 2, 9, 9), 2, output_size=5).shape
    shenjing.Size([1, 2, 5, 5])
    """
    return _fractional("fractional_max_pool2d", 2, input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size: Any, output_size: Any = None,
                                       output_ratio: Any = None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``fractional_max_pool2d(..., return_indices=True)``."""
    return _fractional("fractional_max_pool2d", 2, input, kernel_size, output_size, output_ratio, True,
                       _random_samples)


def fractional_max_pool3d(input: Tensor, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
                          return_indices: bool = False, _random_samples: Tensor | None = None) -> Any:
    """Fractional max pooling of (N, C, T, H, W) volumes (see ``fractional_max_pool2d``).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.fractional_max_pool3d(shenjing.randn(1, 1, 6, 6, 6), 2, output_ratio=0.5).shape
    shenjing.Size([1, 1, 3, 3, 3])
    """
    return _fractional("fractional_max_pool3d", 3, input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size: Any, output_size: Any = None,
                                       output_ratio: Any = None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``fractional_max_pool3d(..., return_indices=True)``."""
    return _fractional("fractional_max_pool3d", 3, input, kernel_size, output_size, output_ratio, True,
                       _random_samples)
