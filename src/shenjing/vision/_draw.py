"""torchvision's drawing helpers: boxes, segmentation masks and keypoints drawn onto a (C, H, W) image.

Images are uint8 (0..255) or float (0..1) tensors; the result has the input's dtype. Boxes and keypoints are
drawn with pillow's ``ImageDraw`` (as torchvision does; labels use ``ImageFont.load_default()`` or a TrueType
file given as ``font``), so they need pillow; masks are blended with NumPy alone.

>>> import shenjing
>>> image = shenjing.zeros(3, 2, 2, dtype=shenjing.uint8)
>>> mask = shenjing.tensor([[True, False], [False, False]])
>>> draw_segmentation_masks(image, mask, alpha=0.5, colors=(200, 100, 0))[:, 0, 0]
tensor([100,  50,   0], dtype=shenjing.uint8)
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from shenjing._tensor import Tensor
from shenjing.vision._pil import require_pil

__all__ = ["draw_bounding_boxes", "draw_segmentation_masks", "draw_keypoints"]

Color = Any  # a pillow colour name ("red", "#FF00FF") or an RGB tuple


def _palette(count: int) -> list[tuple[int, int, int]]:
    """torchvision's default colours: object i gets (i * (2^25-1, 2^15-1, 2^21-1)) mod 255."""
    primes = np.array([2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1], dtype=np.int64)
    return [tuple(int(v) for v in (i * primes) % 255) for i in range(count)]


def _rgb(color: Color) -> tuple[int, ...]:
    if isinstance(color, str):
        require_pil("a colour given by name")
        from PIL import ImageColor

        return tuple(ImageColor.getrgb(color))[:3]
    return tuple(int(c) for c in color)


def _colors(colors: Any, count: int) -> list[tuple[int, ...]]:
    if colors is None:
        return _palette(count)
    if isinstance(colors, list):
        if len(colors) < count:
            raise ValueError(f"Number of colors must be equal or larger than the number of objects, but got "
                             f"{len(colors)} < {count}.")
        return [_rgb(c) for c in colors[:count]]
    return [_rgb(colors)] * count


def _check_image(image: Any, rgb_only: bool) -> np.ndarray:
    if not isinstance(image, Tensor):
        raise TypeError(f"Tensor expected, got {type(image)}")
    array = image.detach().numpy()
    if not (array.dtype == np.uint8 or array.dtype.kind == "f"):
        raise ValueError(f"The image dtype must be uint8 or float, got {image.dtype}")
    if array.ndim != 3:
        raise ValueError("Pass individual images, not batches")
    if rgb_only and array.shape[0] != 3:
        raise ValueError("Pass an RGB image. Other Image formats are not supported")
    if not rgb_only and array.shape[0] not in (1, 3):
        raise ValueError("Only grayscale and RGB images are supported")
    return array


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """torchvision's float -> uint8 scaling: x * (256 - 1e-3), truncated."""
    return array if array.dtype == np.uint8 else (array * (255.0 + 1.0 - 1e-3)).astype(np.uint8)


def _back(pixels: np.ndarray, dtype: np.dtype) -> Tensor:
    chw = np.ascontiguousarray(pixels.transpose(2, 0, 1))
    return Tensor._make(chw if dtype == np.uint8 else (chw / 255.0).astype(dtype))


def draw_bounding_boxes(image: Tensor, boxes: Tensor, labels: Sequence[str] | None = None, colors: Any = None,
                        fill: bool = False, width: int = 1, font: str | None = None, font_size: int | None = None,
                        label_colors: Any = None, fill_labels: bool = False) -> Tensor:
    """Draw boxes ``(xmin, ymin, xmax, ymax)`` (N x 4, pixels, corners included) onto ``image`` (C, H, W; 1 or
    3 channels, uint8 or float); returns a new 3-channel image of the same dtype.

    ``colors``: one colour, a list (one per box) or None (torchvision's palette); ``fill`` blends the colour in
    at alpha 100/255; ``width`` is the outline's thickness, drawn inwards; ``labels`` are written in the top-left
    corner inside each box (``label_colors``, default the box colours), with pillow's default font or the
    TrueType file ``font`` at ``font_size`` (default 10), on a rectangle of the box colour with ``fill_labels``.
    Needs pillow.
    """
    array = _check_image(image, rgb_only=False)
    box_values = boxes.detach().numpy() if isinstance(boxes, Tensor) else np.asarray(boxes)
    if box_values.ndim != 2 or box_values.shape[-1] != 4:
        raise ValueError(f"boxes must be of shape (N, 4), got {list(box_values.shape)}")
    if (box_values[:, 0] > box_values[:, 2]).any() or (box_values[:, 1] > box_values[:, 3]).any():
        raise ValueError("Boxes need to be in (xmin, ymin, xmax, ymax) format. Use torchvision.ops.box_convert to "
                         "convert them")
    count = len(box_values)
    if count == 0:
        warnings.warn("boxes doesn't contain any box. No box was drawn")
        return image
    if labels is None:
        labels = [None] * count
    elif len(labels) != count:
        raise ValueError(f"Number of boxes ({count}) and labels ({len(labels)}) mismatch. Please specify labels "
                         f"for each box.")
    box_colors = _colors(colors, count)
    text_colors = box_colors if label_colors is None else _colors(label_colors, count)
    pil = require_pil("draw_bounding_boxes")
    from PIL import ImageDraw, ImageFont

    if font is None:
        if font_size is not None:
            warnings.warn("Argument 'font_size' will be ignored since 'font' is not set.")
        text_font = ImageFont.load_default()
    else:
        text_font = ImageFont.truetype(font=font, size=font_size or 10)
    if array.shape[0] == 1:
        array = np.tile(array, (3, 1, 1))
    canvas = pil.fromarray(np.ascontiguousarray(_to_uint8(array).transpose(1, 2, 0)))
    draw = ImageDraw.Draw(canvas, "RGBA") if fill else ImageDraw.Draw(canvas)
    for box, color, label, text_color in zip(box_values.astype(np.int64).tolist(), box_colors, labels, text_colors):
        if fill:
            draw.rectangle(box, width=width, outline=color, fill=tuple(color) + (100,))
        else:
            draw.rectangle(box, width=width, outline=color)
        if label is not None:
            margin = width + 1
            corner = (box[0] + margin, box[1] + margin)
            if fill_labels:
                left, top, right, bottom = draw.textbbox(corner, label, font=text_font)
                draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=color)
            draw.text(corner, label, fill=text_color, font=text_font)
    return _back(np.asarray(canvas), array.dtype)


def draw_segmentation_masks(image: Tensor, masks: Tensor, alpha: float = 0.8, colors: Any = None) -> Tensor:
    """Blend boolean masks (H, W) or (N, H, W) onto an RGB image (3, H, W; uint8 or float):
    out = image (1 - alpha) + painted alpha, where painted holds each mask's colour on its pixels (black where
    masks overlap). The result has the image's dtype (truncated, as ``Tensor.to``)."""
    array = _check_image(image, rgb_only=True)
    mask_values = masks.detach().numpy() if isinstance(masks, Tensor) else np.asarray(masks)
    if mask_values.ndim == 2:
        mask_values = mask_values[None]
    if mask_values.ndim != 3:
        raise ValueError("masks must be of shape (H, W) or (batch_size, H, W)")
    if mask_values.dtype != np.bool_:
        raise ValueError(f"The masks must be of dtype bool. Got {masks.dtype}")
    if mask_values.shape[-2:] != array.shape[-2:]:
        raise ValueError("The image and the masks must have the same height and width")
    if len(mask_values) == 0:
        warnings.warn("masks doesn't contain any mask. No mask was drawn")
        return image
    scale = 1.0 if array.dtype == np.uint8 else 1.0 / 255.0
    painted = array.copy()
    for mask, color in zip(mask_values, _colors(colors, len(mask_values))):
        painted[:, mask] = (np.array(color, dtype=np.float64) * scale).astype(array.dtype)[:, None]
    painted[:, mask_values.sum(axis=0) > 1] = 0
    # in float32 with float32 factors, as PyTorch computes ``image * (1 - alpha) + painted * alpha``
    blended = array.astype(np.float32) * np.float32(1 - alpha) + painted.astype(np.float32) * np.float32(alpha)
    return Tensor._make(blended.astype(array.dtype))


def draw_keypoints(image: Tensor, keypoints: Tensor, connectivity: Sequence[tuple[int, int]] | None = None,
                   colors: Color | None = None, radius: int = 2, width: int = 3,
                   visibility: Tensor | None = None) -> Tensor:
    """Draw keypoints (num_instances, K, 2) of (x, y) pixels onto an RGB image (3, H, W; uint8 or float):
    a disc of ``radius`` in ``colors`` per visible point (none when ``colors`` is None, as torchvision) and a
    white line of ``width`` per ``connectivity`` pair whose two points are visible. Needs pillow."""
    array = _check_image(image, rgb_only=True)
    points = keypoints.detach().numpy() if isinstance(keypoints, Tensor) else np.asarray(keypoints)
    if points.ndim != 3:
        raise ValueError("keypoints must be of shape (num_instances, K, 2)")
    if visibility is None:
        visible = np.ones(points.shape[:-1], dtype=bool)
    else:
        visible = visibility.detach().numpy() if isinstance(visibility, Tensor) else np.asarray(visibility)
        if visible.ndim == 1:
            visible = visible[None]
        if visible.shape != points.shape[:-1]:
            raise ValueError(f"keypoints and visibility must have the same dimensionality for num_instances and "
                             f"K. Got keypoints.shape={list(points.shape)}, visibility.shape={list(visible.shape)}")
    pil = require_pil("draw_keypoints")
    from PIL import ImageDraw

    canvas = pil.fromarray(np.ascontiguousarray(_to_uint8(array).transpose(1, 2, 0)))
    draw = ImageDraw.Draw(canvas)
    fill = None if colors is None else _rgb(colors)
    for instance, instance_visible in zip(points.astype(np.int64).tolist(), visible.astype(bool).tolist()):
        for (x, y), shown in zip(instance, instance_visible):
            if shown:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=fill, outline=None, width=0)
        for start, end in connectivity or []:
            if instance_visible[start] and instance_visible[end]:
                draw.line(((instance[start][0], instance[start][1]), (instance[end][0], instance[end][1])),
                          width=width)
    return _back(np.asarray(canvas), array.dtype)
