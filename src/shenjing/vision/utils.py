"""torchvision.utils for images: ``make_grid`` (a batch of images tiled into one), ``save_image``, and the
drawing helpers ``draw_bounding_boxes``, ``draw_segmentation_masks``, ``draw_keypoints`` (``vision._draw``).

    >>> import shenjing
    >>> grid = shenjing.vision.utils.make_grid(shenjing.zeros(10, 1, 28, 28), nrow=5)
    >>> tuple(grid.shape)   # 3 channels (grey repeated), 2 rows of 5 with 2-pixel padding
    (3, 62, 152)
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from shenjing._tensor import Tensor
from shenjing.vision._draw import draw_bounding_boxes, draw_keypoints, draw_segmentation_masks
from shenjing.vision._pil import require_pil

__all__ = ["make_grid", "save_image", "draw_bounding_boxes", "draw_segmentation_masks", "draw_keypoints"]


def _as_batch(tensor: Any) -> np.ndarray:
    """Images as a float array (N, C, H, W): a list of (C, H, W) tensors, one (H, W) or (C, H, W) image, or a
    batch; one channel is repeated to three (RGB), as torchvision does."""
    if isinstance(tensor, (list, tuple)):
        array = np.stack([t.detach().numpy() if isinstance(t, Tensor) else np.asarray(t) for t in tensor])
    elif isinstance(tensor, Tensor):
        array = tensor.detach().numpy()
    else:
        raise TypeError(f"tensor or list of tensors expected, got {type(tensor).__name__}")
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 3:
        array = np.concatenate([array] * 3) if array.shape[0] == 1 else array
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"make_grid: expected images of 2, 3 or 4 dims, got a tensor of shape {list(array.shape)}")
    if array.shape[1] == 1:
        array = np.concatenate([array] * 3, axis=1)
    return array.astype(np.float32) if array.dtype.kind != "f" else array


def _normalize(images: np.ndarray, value_range: tuple[float, float] | None, scale_each: bool) -> np.ndarray:
    """Clip to ``value_range`` (else each image's, or the batch's, min and max) and map it onto [0, 1]."""
    def scaled(x: np.ndarray) -> np.ndarray:
        low, high = (float(x.min()), float(x.max())) if value_range is None else value_range
        return (np.clip(x, low, high) - low) / max(high - low, 1e-5)
    if scale_each:
        return np.stack([scaled(image) for image in images])
    return scaled(images)


def make_grid(tensor: Any, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range: tuple[float, float] | None = None, scale_each: bool = False,
              pad_value: float = 0.0) -> Tensor:
    """Tile a batch (N, C, H, W) into one image (C, rows*(H+p)+p, cols*(W+p)+p): ``nrow`` images per row,
    ``padding`` pixels of ``pad_value`` around each. With ``normalize``, values are mapped onto [0, 1]
    (from ``value_range``, or from the min and max of the batch, or of each image with ``scale_each``).
    One image comes back as it is (3 channels)."""
    images = _as_batch(tensor).copy()
    if normalize:
        images = _normalize(images, value_range, scale_each)
    if images.shape[0] == 1:
        return Tensor._make(images[0])
    n, channels, height, width = images.shape
    columns = min(nrow, n)
    rows = int(math.ceil(n / columns))
    cell_h, cell_w = height + padding, width + padding
    grid = np.full((channels, rows * cell_h + padding, columns * cell_w + padding), pad_value, images.dtype)
    for k in range(n):
        y, x = divmod(k, columns)
        grid[:, y * cell_h + padding:y * cell_h + padding + height,
             x * cell_w + padding:x * cell_w + padding + width] = images[k]
    return Tensor._make(grid)


def save_image(tensor: Any, fp: Any, format: str | None = None, **kwargs: Any) -> None:
    """Save images as one picture file (PNG, JPEG, ... by the name or ``format``): ``make_grid`` with
    ``kwargs``, values in [0, 1] scaled to 0..255 and rounded. Needs pillow."""
    image_module = require_pil("save_image")
    grid = make_grid(tensor, **kwargs).numpy()
    pixels = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    if isinstance(fp, (str, os.PathLike)):
        folder = os.path.dirname(os.fspath(fp))
        if folder and not os.path.isdir(folder):
            raise FileNotFoundError(f"save_image: the folder {folder!r} does not exist")
    image_module.fromarray(pixels).save(fp, format=format)
