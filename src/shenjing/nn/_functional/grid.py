"""Spatial transformers: ``affine_grid`` (the sampling grid of an affine map) and ``grid_sample`` (sample
an image at arbitrary points), composed of differentiable ops, so gradients reach both the image and the
grid (and through it the affine matrices).

Grid coordinates are normalised to [-1, 1] (x along W first, then y along H); -1 and 1 are the centres of
the corner pixels with ``align_corners=True`` and their outer edges with ``align_corners=False``:

    pixel x = (g + 1) / 2 * (W - 1)            (align_corners=True)
    pixel x = ((g + 1) * W - 1) / 2            (align_corners=False)

Bilinear sampling weighs the four pixels around each point by (1 - t) and t along each axis; nearest takes
the closest one (ties to even). Points outside the image see zeros (``padding_mode='zeros'``), the edge
(``'border'``) or the image mirrored at its edges (``'reflection'``).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from shenjing._ops._util import check_tensor
from shenjing._ops.elementwise import abs, clamp, where
from shenjing._tensor import Tensor

__all__ = ["affine_grid", "grid_sample"]

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                  "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                  "grid_sample for details.")


def _base_coordinates(n: int, align_corners: bool, dtype: np.dtype) -> np.ndarray:
    """The n normalised coordinates of the pixel centres along one axis."""
    if n <= 1:
        return np.zeros(max(n, 1), dtype=dtype)
    steps = np.linspace(-1.0, 1.0, n)
    return (steps if align_corners else steps * (n - 1) / n).astype(dtype)


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: bool | None = None) -> Tensor:
    """The grid (N, H, W, 2) of the points theta @ (x, y, 1) for every output pixel (x, y) (normalised),
    for theta (N, 2, 3) and size (N, C, H, W); likewise (N, D, H, W, 3) for theta (N, 3, 4), 5-D size.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> identity = shenjing.tensor([[[1., 0., 0.], [0., 1., 0.]]])
    >>> F.affine_grid(identity, (1, 1, 1, 2), align_corners=False)
    tensor([[[[-0.5000,  0.0000],
              [ 0.5000,  0.0000]]]])
    """
    check_tensor(theta, "affine_grid(): theta")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = [int(s) for s in size]
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got "
                             f"{list(theta.shape)}.")
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. Got "
                             f"{list(theta.shape)}.")
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
                      "of affine_grid for details.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    dtype = theta._data.dtype
    axes = [_base_coordinates(n, align_corners, dtype) for n in spatial]  # (D,) H, W
    mesh = np.meshgrid(*axes, indexing="ij")
    points = list(mesh[::-1]) + [np.ones_like(mesh[0])]  # x, y, (z), 1
    base = np.stack(points, axis=-1).reshape(1, -1, len(spatial) + 1)
    grid = Tensor._make(base).matmul(theta.transpose(1, 2))  # (N, prod(spatial), dims)
    return grid.reshape(size[0], *spatial, len(spatial))


def _pixel(g: Tensor, size: int, align_corners: bool) -> Tensor:
    return (g + 1) * ((size - 1) / 2) if align_corners else ((g + 1) * size - 1) / 2


def _reflect(x: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """x mirrored into [twice_low / 2, twice_high / 2] (as often as needed)."""
    if twice_low == twice_high:
        return x * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    distance = abs(x - low)
    flips = np.floor(distance._data / span)
    extra = distance - Tensor._make(flips * span)
    return where(Tensor._make(flips % 2 == 0), extra + low, span - extra + low)


def _source(g: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    """Grid coordinates as pixel coordinates, with the border or reflection rule applied."""
    x = _pixel(g, size, align_corners)
    if padding_mode == "border":
        return clamp(x, 0, size - 1)
    if padding_mode == "reflection":
        x = _reflect(x, 0, 2 * (size - 1)) if align_corners else _reflect(x, -1, 2 * size - 1)
        return clamp(x, 0, size - 1)
    return x


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> Tensor:
    """Sample input (N, C, H, W) at the points grid (N, Ho, Wo, 2) -> (N, C, Ho, Wo) (see the module
    docstring); ``mode`` 'bilinear' or 'nearest', ``padding_mode`` 'zeros', 'border' or 'reflection'.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> image = shenjing.tensor([[[[0., 1.], [2., 3.]]]])
    >>> F.grid_sample(image, shenjing.tensor([[[[0., 0.]]]]), align_corners=True)   # the centre
    tensor([[[[1.5000]]]])
    """
    check_tensor(input, "grid_sample(): input")
    check_tensor(grid, "grid_sample(): grid")
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
                         f"got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if input.ndim != 4 or mode == "bicubic":
        raise NotImplementedError("grid_sample: only 4-D input (N, C, H, W) with mode 'bilinear' or 'nearest' is "
                                  f"supported (got a {input.ndim}-D input, mode={mode!r})")
    if grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {2} in last dimension and the same batch "
                           f"size as input, but got input with sizes {list(input.shape)} and grid with sizes "
                           f"{list(grid.shape)}")
    n, channels, height, width = input.shape
    out_h, out_w = grid.shape[1:3]
    x = _source(grid[..., 0], width, padding_mode, align_corners).reshape(n, 1, -1)  # (N, 1, Ho*Wo)
    y = _source(grid[..., 1], height, padding_mode, align_corners).reshape(n, 1, -1)
    flat = input.reshape(n, channels, height * width)

    def tap(column: np.ndarray, row: np.ndarray) -> tuple[Tensor, np.ndarray]:
        inside = (column >= 0) & (column < width) & (row >= 0) & (row < height)
        index = np.where(inside, row * width + column, 0).astype(np.int64)
        values = flat.gather(2, Tensor._make(np.broadcast_to(index, (n, channels, index.shape[-1])).copy()))
        return values, inside

    if mode == "nearest":
        values, inside = tap(np.rint(x._data).astype(np.int64), np.rint(y._data).astype(np.int64))
        out = values * Tensor._make(inside.astype(input._data.dtype))
        out = out + (x + y) * 0.0  # the grid gets a zero gradient (rounding is flat), as in PyTorch
        return out.reshape(n, channels, out_h, out_w)
    left, top = np.floor(x._data), np.floor(y._data)
    tx, ty = x - Tensor._make(left), y - Tensor._make(top)
    left, top = left.astype(np.int64), top.astype(np.int64)
    out = None
    for dx, wx in ((0, 1 - tx), (1, tx)):
        for dy, wy in ((0, 1 - ty), (1, ty)):
            values, inside = tap(left + dx, top + dy)
            term = values * (wx * wy * Tensor._make(inside.astype(input._data.dtype)))
            out = term if out is None else out + term
    return out.reshape(n, channels, out_h, out_w)

