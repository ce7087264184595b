"""``interpolate``: resize a batch of sequences, images or volumes (nearest, linear, bilinear, bicubic,
trilinear, area), and its deprecated forms ``upsample``, ``upsample_nearest``, ``upsample_bilinear``.

Resizing is separable: each spatial dim is resampled on its own. Nearest modes copy pixels through
an index map per dim (``IndexMapGather``); linear modes multiply by an interpolation matrix per dim,
y = A_H @ x @ A_W^T, where row i of A holds the two weights (1 - t, t) that output pixel i gives
its two neighbouring input pixels (bicubic: the four weights of the cubic convolution kernel that output
pixel i gives input pixels i0 - 1 ... i0 + 2, clamped to the image). Both are differentiable to any order.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from shenjing._ops._util import check_tensor
from shenjing._ops.linalg import matmul
from shenjing._ops.pool import IndexMapGather
from shenjing._tensor import Tensor
from shenjing.autograd.node import shown_as
from shenjing.nn._functional.pooling import adaptive_avg_pool1d, adaptive_avg_pool2d

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

_LINEAR_MODES = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}  # the spatial dims each one takes
_CUBIC_A = -0.75  # the cubic convolution kernel's parameter (as PyTorch)


def _output_sizes(input: Tensor, spatial: int, size: Any, scale_factor: Any) -> tuple[tuple[int, ...], list]:
    """Output size per spatial dim, and the scale (input/output) to use in the coordinate maps or None."""
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size or scale_factor")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * spatial
        if len(sizes) != spatial:
            raise ValueError(f"interpolate: input {list(input.shape)} has {spatial} spatial dims, but size has "
                             f"{len(sizes)}: size={size!r}")
        sizes = tuple(int(s) for s in sizes)
        if any(s <= 0 for s in sizes):
            raise ValueError(f"interpolate: size must be positive, got size={size!r}")
        return sizes, [None] * spatial
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * spatial
    if len(factors) != spatial:
        raise ValueError(f"interpolate: input {list(input.shape)} has {spatial} spatial dims, but scale_factor "
                         f"has {len(factors)}: scale_factor={scale_factor!r}")
    if any(f <= 0 for f in factors):
        raise ValueError(f"interpolate: scale_factor must be positive, got scale_factor={scale_factor!r}")
    sizes = tuple(math.floor(n * float(f)) for n, f in zip(input.shape[2:], factors))
    if any(s <= 0 for s in sizes):
        raise ValueError(f"interpolate: input {list(input.shape)} scaled by {scale_factor!r} has an empty "
                         f"output size {sizes}")
    return sizes, [1.0 / float(f) for f in factors]


def _nearest_map(n: int, out: int, scale: float | None, exact: bool) -> np.ndarray:
    """Source index of each output index: floor(i * scale) (``exact``: floor((i + 0.5) * scale)), clamped.

    Computed in float32, like PyTorch, so the rounding of the products matches.
    """
    scale = np.float32(n / out if scale is None else scale)
    offset = np.float32(0.5 if exact else 0.0)
    positions = np.floor((np.arange(out, dtype=np.float32) + offset) * scale).astype(np.int64)
    return np.minimum(positions, n - 1)


def _linear_matrix(n: int, out: int, scale: float | None, align_corners: bool, dtype: np.dtype) -> np.ndarray:
    """The (out, n) matrix of linear interpolation weights along one dim.

    align_corners=True: output i sits at input coordinate i * (n-1)/(out-1) (the corner pixels line
    up). Otherwise pixels are areas: coordinate (i + 0.5) * scale - 0.5, clamped at 0, with
    scale = n/out (or 1/scale_factor). Between i0 = floor(x) and i1 = min(i0 + 1, n - 1), the
    weights are 1 - t and t, t = x - i0.
    """
    index = np.arange(out, dtype=dtype)
    if align_corners:
        coordinate = index * dtype.type((n - 1) / (out - 1) if out > 1 else 0.0)
    else:
        step = dtype.type(n / out if scale is None else scale)
        coordinate = np.maximum((index + dtype.type(0.5)) * step - dtype.type(0.5), 0)
    left = np.minimum(np.floor(coordinate).astype(np.int64), n - 1)
    right = np.minimum(left + 1, n - 1)
    t = (coordinate - left).astype(dtype)
    matrix = np.zeros((out, n), dtype=dtype)
    rows = np.arange(out)
    matrix[rows, left] = 1 - t
    matrix[rows, right] += t  # at the last pixel left == right and the two weights add up
    return matrix


def _cubic_matrix(n: int, out: int, scale: float | None, align_corners: bool, dtype: np.dtype) -> np.ndarray:
    """The (out, n) matrix of bicubic interpolation weights along one dim.

    Output i sits at input coordinate x as in ``_linear_matrix`` but not clamped at 0; with
    i0 = floor(x), t = x - i0, it takes the pixels i0 - 1, i0, i0 + 1, i0 + 2 (clamped to [0, n - 1])
    with the weights W(t + 1), W(t), W(1 - t), W(2 - t) of Keys' cubic kernel (a = -0.75):
    W(s) = (a + 2)|s|^3 - (a + 3)|s|^2 + 1 for |s| <= 1, a|s|^3 - 5a|s|^2 + 8a|s| - 4a for 1 < |s| < 2.
    """
    index = np.arange(out, dtype=dtype)
    if align_corners:
        coordinate = index * dtype.type((n - 1) / (out - 1) if out > 1 else 0.0)
    else:
        step = dtype.type(n / out if scale is None else scale)
        coordinate = (index + dtype.type(0.5)) * step - dtype.type(0.5)
    left = np.floor(coordinate)
    t = (coordinate - left).astype(dtype)
    a = dtype.type(_CUBIC_A)

    def near(s):  # |s| <= 1
        return ((a + 2) * s - (a + 3)) * s * s + 1

    def far(s):  # 1 < |s| < 2
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a

    matrix = np.zeros((out, n), dtype=dtype)
    rows = np.arange(out)
    for offset, weight in zip((-1, 0, 1, 2), (far(t + 1), near(t), near(1 - t), far(2 - t))):
        np.add.at(matrix, (rows, np.clip(left.astype(np.int64) + offset, 0, n - 1)), weight)
    return matrix


def _resample(input: Tensor, matrices: list[np.ndarray]) -> Tensor:
    """Multiply each spatial dim of input (N, C, *spatial) by its (out, n) matrix, the last dim first."""
    y = matmul(input, Tensor._make(np.ascontiguousarray(matrices[-1].T)))  # resample W (or L)
    for dim in range(input.ndim - 2, 1, -1):  # then H, then D: (out, n) @ (..., n, rest)
        shape, matrix = tuple(y.shape), matrices[dim - 2]
        y = matmul(Tensor._make(matrix), y.reshape(shape[:dim + 1] + (-1,)))
        y = y.reshape(shape[:dim] + (matrix.shape[0],) + shape[dim + 1:])
    return y


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize (N, C, L) sequences, (N, C, H, W) images or (N, C, D, H, W) volumes to ``size`` or by ``scale_factor``.

    Modes: 'nearest' (copy the pixel at floor(i * in/out)), 'nearest-exact' (at floor((i + 0.5) * in/out)),
    'linear' (3-D input), 'bilinear' (4-D input) and 'trilinear' (5-D input): weighted average of the 2
    (4, 8) nearest pixels, see ``align_corners``; 'bicubic' (4-D input): the cubic convolution of the
    4 x 4 nearest pixels (values may overshoot the input's range); 'area' (3-D, 4-D input): adaptive
    average pooling.

    With ``scale_factor`` the output size is floor(n * scale_factor) and coordinates use 1/scale_factor
    (unless ``recompute_scale_factor=True``, which uses n/out), as in PyTorch.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.interpolate(shenjing.tensor([[[1., 2.]]]), scale_factor=2)
    tensor([[[1., 1., 2., 2.]]])
    >>> F.interpolate(shenjing.tensor([[[1., 2.]]]), size=3, mode='linear', align_corners=True)
    tensor([[[1.0000, 1.5000, 2.0000]]])
    """
    check_tensor(input, "interpolate(): input")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    spatial = input.ndim - 2
    if spatial < 1 or spatial > 3:
        raise ValueError(f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got input of size "
                         f"{list(input.shape)}")
    linear = mode in _LINEAR_MODES
    if align_corners is not None and not linear:
        raise ValueError(f"interpolate: align_corners can only be set with the interpolating modes linear | "
                         f"bilinear | bicubic | trilinear (got mode={mode!r})")
    sizes, scales = _output_sizes(input, spatial, size, scale_factor)
    if recompute_scale_factor:
        scales = [None] * spatial
    if mode in ("nearest", "nearest-exact"):
        maps = tuple(_nearest_map(n, m, s, mode == "nearest-exact")
                     for n, m, s in zip(input.shape[2:], sizes, scales))
        exact = "Exact" if mode == "nearest-exact" else ""
        return IndexMapGather(maps, f"UpsampleNearest{exact}{spatial}D")(input)
    if mode == "area":
        if spatial == 3:
            raise NotImplementedError("interpolate: mode='area' supports 3-D and 4-D inputs")
        return adaptive_avg_pool1d(input, sizes) if spatial == 1 else adaptive_avg_pool2d(input, sizes)
    if not linear:
        raise NotImplementedError(f"interpolate: mode={mode!r} is not supported (nearest, nearest-exact, "
                                  f"linear, bilinear, bicubic, trilinear, area are)")
    if _LINEAR_MODES[mode] != spatial:
        needed = _LINEAR_MODES[mode] + 2
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {needed}D input (interpolate: "
                                  f"mode={mode!r} expects a {needed}-D input, got input of size {list(input.shape)})")
    if not input.is_floating_point():
        raise RuntimeError(f"interpolate: mode={mode!r} needs a floating-point input, got {input.dtype}")
    dtype = input._data.dtype
    make = _cubic_matrix if mode == "bicubic" else _linear_matrix
    matrices = [make(n, m, s, bool(align_corners), dtype) for n, m, s in zip(input.shape[2:], sizes, scales)]
    kind = "Bicubic" if mode == "bicubic" else ("Linear", "Bilinear", "Trilinear")[spatial - 1]
    return shown_as(_resample(input, matrices), f"Upsample{kind}{spatial}DBackward0")


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated form of ``interpolate`` (same arguments); warns as PyTorch does."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Deprecated: ``interpolate(input, size, scale_factor, mode='nearest')``, with a warning."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Deprecated: ``interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)``, with a warning."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
