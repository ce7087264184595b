"""NumPy kernels behind the transforms, on arrays of shape (..., C, H, W) or (..., H, W).

Coordinates are "pixel-edge" coordinates as in pillow: pixel (row i, column j) covers [j, j+1) x [i, i+1), so
its centre is (j + 0.5, i + 0.5) and the centre of an H x W image is (W / 2, H / 2). An affine warp takes an
inverse matrix (a, b, c, d, e, f): the output pixel centred at (x, y) samples the input at
(a x + b y + c, d x + e y + f), exactly what pillow's ``Image.transform(..., AFFINE, ...)`` does.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

Fill = float | Sequence[float]


def _as_float(array: np.ndarray) -> np.ndarray:
    return array if array.dtype.kind == "f" else array.astype(np.float32)


def _back_to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Interpolated float values cast back to the input's dtype (rounded and clipped for integers)."""
    if dtype.kind == "f":
        return values.astype(dtype, copy=False)
    if dtype.kind == "b":
        return values >= 0.5
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)


def fill_array(fill: Fill | None, array: np.ndarray) -> np.ndarray:
    """``fill`` as an array that broadcasts against ``array``: a number, or one value per channel."""
    values = np.asarray(0 if fill is None else fill, dtype=np.float64)
    if values.ndim == 0 or values.size == 1:
        return values.reshape(())
    if array.ndim < 3 or values.size != array.shape[-3]:
        raise ValueError(f"fill has {values.size} values but the image has shape {array.shape}: give one number, "
                         f"or one value per channel")
    return values.reshape(-1, 1, 1)


def pad(array: np.ndarray, left: int, top: int, right: int, bottom: int, fill: Fill = 0,
        mode: str = "constant") -> np.ndarray:
    """Pad the last two axes; modes as ``np.pad``: constant (with ``fill``), edge, reflect, symmetric."""
    height, width = array.shape[-2:]
    if mode != "constant":
        if mode == "reflect" and (max(top, bottom) >= height or max(left, right) >= width):
            raise ValueError(f"reflect padding of ({left}, {top}, {right}, {bottom}) needs an image larger than the "
                             f"padding; the image is {height} x {width}")
        widths = [(0, 0)] * (array.ndim - 2) + [(top, bottom), (left, right)]
        return np.pad(array, widths, mode=mode)
    out = np.empty(array.shape[:-2] + (height + top + bottom, width + left + right), dtype=array.dtype)
    out[...] = fill_array(fill, array)
    out[..., top:top + height, left:left + width] = array
    return out


def crop(array: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """The ``height x width`` window at (top, left); parts outside the image are zeros (as pillow's crop)."""
    h, w = array.shape[-2:]
    out = np.zeros(array.shape[:-2] + (height, width), dtype=array.dtype)
    rows = slice(max(top, 0), min(top + height, h))
    cols = slice(max(left, 0), min(left + width, w))
    if rows.start < rows.stop and cols.start < cols.stop:
        out[..., rows.start - top:rows.stop - top, cols.start - left:cols.stop - left] = array[..., rows, cols]
    return out


def linear_weights(in_size: int, out_size: int, antialias: bool = True) -> np.ndarray:
    """The (out_size, in_size) matrix of a 1-D linear ("triangle") resampling.

    Output pixel i is centred on input coordinate c = (i + 0.5) * in_size / out_size; input pixel j (centre
    j + 0.5) gets weight max(0, 1 - |j + 0.5 - c| / support), and each row is normalised to sum to 1. With
    support = 1 this is ordinary bilinear interpolation (half-pixel centres, edges clamped); with
    ``antialias`` and shrinking, support = in_size / out_size averages every input pixel the output covers.
    """
    scale = in_size / out_size
    support = max(scale, 1.0) if antialias else 1.0
    centres = (np.arange(out_size) + 0.5) * scale
    weights = 1.0 - np.abs(np.arange(in_size)[None, :] + 0.5 - centres[:, None]) / support
    weights = np.clip(weights, 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def resize(array: np.ndarray, size: tuple[int, int], interpolation: str = "bilinear",
           antialias: bool = True) -> np.ndarray:
    """Resize the last two axes to ``size = (height, width)``: "nearest" or (antialiased) "bilinear"."""
    height, width = array.shape[-2:]
    out_h, out_w = size
    if interpolation == "nearest":
        rows = np.minimum(np.floor(np.arange(out_h) * (height / out_h)).astype(np.int64), height - 1)
        cols = np.minimum(np.floor(np.arange(out_w) * (width / out_w)).astype(np.int64), width - 1)
        return array[..., rows[:, None], cols[None, :]]
    if interpolation != "bilinear":
        raise ValueError(f"tensor images can be resized with nearest or bilinear interpolation, not "
                         f"{interpolation!r} (convert to a PIL image for {interpolation})")
    values = _as_float(array)
    w_rows = linear_weights(height, out_h, antialias).astype(values.dtype)
    w_cols = linear_weights(width, out_w, antialias).astype(values.dtype)
    return _back_to_dtype(w_rows @ values @ w_cols.T, array.dtype)


def inverse_affine_matrix(center: tuple[float, float], angle: float, translate: tuple[float, float],
                          scale: float, shear: tuple[float, float] = (0.0, 0.0)) -> list[float]:
    """Coefficients (a, b, c, d, e, f) mapping output coordinates back to input ones (see module docstring).

    The forward map, with y pointing down, is p' = center + translate + scale * R @ Sh @ (p - center), where
    R = [[cos t, sin t], [-sin t, cos t]] turns the image counter-clockwise on screen by ``angle`` degrees and
    Sh = [[1, 0], [tan sy, 1]] @ [[1, tan sx], [0, 1]] shears it by ``shear = (sx, sy)`` degrees: with
    sx > 0 lower rows move right, with sy > 0 columns on the right move down.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    t, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cos, sin, tan_x, tan_y = math.cos(t), math.sin(t), math.tan(sx), math.tan(sy)
    # forward matrix scale * R @ Sh, with Sh = [[1, tan_x], [tan_y, 1 + tan_y * tan_x]]
    m11 = scale * (cos + sin * tan_y)
    m12 = scale * (cos * tan_x + sin * (1 + tan_y * tan_x))
    m21 = scale * (-sin + cos * tan_y)
    m22 = scale * (-sin * tan_x + cos * (1 + tan_y * tan_x))
    det = m11 * m22 - m12 * m21
    # its inverse, rounded to 15 digits as pillow does (so that cos 90 degrees is exactly 0)
    a, b, d, e = (round(v, 15) for v in (m22 / det, -m12 / det, -m21 / det, m11 / det))
    x0, y0 = center[0] + translate[0], center[1] + translate[1]
    return [a, b, center[0] - (a * x0 + b * y0), d, e, center[1] - (d * x0 + e * y0)]


def expanded_size(matrix: Sequence[float], width: int, height: int) -> tuple[int, int, list[float]]:
    """Size (width, height) that holds the whole transformed image, and the matrix shifted to centre it."""
    a, b, c, d, e, f = matrix
    corners = [(0, 0), (width, 0), (width, height), (0, height)]
    xs = [a * x + b * y + c for x, y in corners]
    ys = [d * x + e * y + f for x, y in corners]
    new_w = math.ceil(max(xs)) - math.floor(min(xs))
    new_h = math.ceil(max(ys)) - math.floor(min(ys))
    dx, dy = -(new_w - width) / 2.0, -(new_h - height) / 2.0
    return new_w, new_h, [a, b, a * dx + b * dy + c, d, e, d * dx + e * dy + f]


def warp_affine(array: np.ndarray, matrix: Sequence[float], out_size: tuple[int, int],
                interpolation: str = "nearest", fill: Fill = 0) -> np.ndarray:
    """Sample ``array`` at the affine-mapped centres of an ``out_size = (height, width)`` grid (see
    ``sample_at``)."""
    a, b, c, d, e, f = matrix
    xs = np.arange(out_size[1])[None, :] + 0.5  # output pixel centres, broadcast to (height, width)
    ys = np.arange(out_size[0])[:, None] + 0.5
    return sample_at(array, a * xs + b * ys + c, d * xs + e * ys + f, interpolation, fill)


def perspective_coefficients(startpoints: Sequence[Sequence[float]],
                             endpoints: Sequence[Sequence[float]]) -> list[float]:
    """(a, b, c, d, e, f, g, h) with (x, y) -> ((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (g x + h y + 1))
    mapping each of the four ``endpoints`` to its ``startpoints`` (output to input, as pillow wants): the least
    squares solution of the 8 linear equations, in float64, rounded to float32 as torchvision does."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(f"Please provide exactly four corners, got {len(startpoints)} startpoints and "
                         f"{len(endpoints)} endpoints.")
    rows, targets = [], []
    for (x, y), (u, v) in zip(endpoints, startpoints):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        targets += [u, v]
    solution = np.linalg.lstsq(np.array(rows, dtype=np.float64), np.array(targets, dtype=np.float64), rcond=None)[0]
    return [float(v) for v in solution.astype(np.float32)]


def warp_perspective(array: np.ndarray, coefficients: Sequence[float], interpolation: str = "bilinear",
                     fill: Fill = 0) -> np.ndarray:
    """Sample ``array`` at the perspective-mapped centres of its own grid (see ``perspective_coefficients``)."""
    a, b, c, d, e, f, g, h = coefficients
    height, width = array.shape[-2:]
    xs = np.arange(width)[None, :] + 0.5
    ys = np.arange(height)[:, None] + 0.5
    denominator = g * xs + h * ys + 1.0
    return sample_at(array, (a * xs + b * ys + c) / denominator, (d * xs + e * ys + f) / denominator,
                     interpolation, fill)


def sample_at(array: np.ndarray, src_x: np.ndarray, src_y: np.ndarray, interpolation: str = "nearest",
              fill: Fill = 0) -> np.ndarray:
    """``array`` (..., H, W) sampled at the points (src_x, src_y) (pixel units, pixel i spanning [i, i + 1)).

    A point outside the input image gives ``fill``. Inside, nearest takes the pixel that contains the point
    and bilinear blends the four nearest pixel centres (repeating the edge pixels), as pillow does.
    """
    height, width = array.shape[-2:]
    fill_value = fill_array(fill, array)
    if interpolation == "nearest":
        return _gather(array, np.floor(src_y).astype(np.int64), np.floor(src_x).astype(np.int64), fill_value)
    if interpolation != "bilinear":
        raise ValueError(f"tensor images can be warped with nearest or bilinear interpolation, not "
                         f"{interpolation!r} (convert to a PIL image for {interpolation})")
    values = _as_float(array)
    x, y = src_x - 0.5, src_y - 0.5  # in pixel-centre (index) coordinates
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    wx, wy = x - x0, y - y0
    x0, x1 = np.clip(x0, 0, width - 1), np.clip(x0 + 1, 0, width - 1)
    y0, y1 = np.clip(y0, 0, height - 1), np.clip(y0 + 1, 0, height - 1)
    top = (1 - wx) * values[..., y0, x0] + wx * values[..., y0, x1]
    bottom = (1 - wx) * values[..., y1, x0] + wx * values[..., y1, x1]
    blended = (1 - wy) * top + wy * bottom
    inside = (src_x >= 0) & (src_x < width) & (src_y >= 0) & (src_y < height)
    return _back_to_dtype(np.where(inside, blended, fill_value), array.dtype)


def _gather(array: np.ndarray, rows: np.ndarray, cols: np.ndarray, fill_value: np.ndarray) -> np.ndarray:
    """array[..., rows, cols], with ``fill_value`` where (row, col) lies outside the image."""
    height, width = array.shape[-2:]
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    picked = array[..., np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)]
    return np.where(inside, picked, fill_value).astype(array.dtype)


def rgb_to_grayscale(array: np.ndarray, num_output_channels: int = 1) -> np.ndarray:
    """ITU-R 601-2 luma, L = 0.299 R + 0.587 G + 0.114 B, on (..., 3, H, W); 1 channel passes through."""
    channels = array.shape[-3] if array.ndim >= 3 else 0
    if channels not in (1, 3):
        raise ValueError(f"grayscale needs an image with 1 or 3 channels in dim -3, got shape {array.shape}")
    if channels == 3:
        values = _as_float(array)
        red, green, blue = values[..., 0, :, :], values[..., 1, :, :], values[..., 2, :, :]
        luma = _back_to_dtype(0.299 * red + 0.587 * green + 0.114 * blue, array.dtype)[..., None, :, :]
    else:
        luma = array.copy()
    return np.repeat(luma, num_output_channels, axis=-3) if num_output_channels > 1 else luma
