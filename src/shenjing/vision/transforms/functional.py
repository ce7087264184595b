"""Image operations as functions (torchvision's ``transforms.functional``), for PIL images and tensors.

A tensor image has shape (..., C, H, W) (some operations also take (..., H, W)); a PIL image is any pillow
image. Geometric operations on PIL images (resize, rotate, affine) use pillow's own resampling; on tensors
they use the NumPy kernels in ``_array`` (nearest or bilinear). Operations on tensors are not recorded by
autograd, except ``normalize``.

>>> import shenjing
>>> from shenjing.vision.transforms import functional as F
>>> image = shenjing.arange(4.0).reshape(1, 2, 2)
>>> F.hflip(image)
tensor([[[1., 0.],
         [3., 2.]]])
>>> F.pad(image, 1).shape
shenjing.Size([1, 4, 4])
"""

from __future__ import annotations

import numbers
from enum import Enum
from typing import Any, Callable, Sequence

import numpy as np

from shenjing._creation import from_numpy
from shenjing._dtype import get_default_dtype
from shenjing._tensor import Tensor
from shenjing.vision._pil import is_pil_image, require_pil
from shenjing.vision.transforms import _array

__all__ = ["InterpolationMode", "get_dimensions", "get_image_size", "to_tensor", "pil_to_tensor", "to_pil_image",
           "normalize", "pad", "resize", "crop", "center_crop", "hflip", "vflip", "rotate", "affine",
           "rgb_to_grayscale", "to_grayscale"]


class InterpolationMode(Enum):
    """How to sample between pixels. Tensors support NEAREST and BILINEAR; PIL images also BICUBIC."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


def _interpolation(value: InterpolationMode | str) -> InterpolationMode:
    if isinstance(value, InterpolationMode):
        return value
    try:
        return InterpolationMode(str(value).lower())
    except ValueError:
        raise ValueError(f"interpolation should be one of {[m.value for m in InterpolationMode]}, "
                         f"got {value!r}") from None


def _pil_resample(interpolation: InterpolationMode | str) -> int:
    image_module = require_pil("resampling a PIL image")
    return getattr(image_module, "Resampling", image_module)[_interpolation(interpolation).name]


def _pil_fill(image: Any, fill: Any) -> Any:
    """``fill`` in the form pillow wants for ``image``'s mode: a number, or a tuple with one value per band."""
    fill = 0 if fill is None else fill
    values = list(fill) if isinstance(fill, (list, tuple)) else [fill] * len(image.getbands())
    if image.mode not in ("F", "I"):
        values = [int(round(v)) for v in values]
    return values[0] if len(values) == 1 else tuple(values)


def _not_an_image(image: Any) -> TypeError:
    hint = " (an ndarray: convert it with ToTensor() first)" if isinstance(image, np.ndarray) else ""
    return TypeError(f"expected a PIL Image or a Tensor image, got {type(image).__name__}{hint}")


def _pil_to_chw(image: Any) -> np.ndarray:
    array = np.array(image)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _chw_to_pil(array: np.ndarray, like: Any) -> Any:
    """A PIL image of ``like``'s mode (and palette) holding the (C, H, W) ``array``."""
    image_module = require_pil("making a PIL image")
    pixels = np.ascontiguousarray(array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0))
    image = image_module.fromarray(pixels)
    if image.mode != like.mode and like.mode not in ("P", "PA"):
        image = image_module.frombytes(like.mode, image.size, pixels.tobytes())
    if like.mode == "P":
        image.putpalette(like.getpalette())
    return image


def _apply(image: Any, kernel: Callable[[np.ndarray], np.ndarray]) -> Any:
    """Run an array kernel on a PIL image or a tensor image; the result is of the same kind."""
    if is_pil_image(image):
        return _chw_to_pil(kernel(_pil_to_chw(image)), image)
    if isinstance(image, Tensor):
        if image.ndim < 2:
            raise ValueError(f"a tensor image needs at least 2 dims (..., H, W), got shape {tuple(image.shape)}")
        return from_numpy(np.ascontiguousarray(kernel(image._data)))
    raise _not_an_image(image)


def get_dimensions(image: Any) -> list[int]:
    """[channels, height, width] of a PIL image or a tensor image."""
    if is_pil_image(image):
        return [len(image.getbands()), image.height, image.width]
    if isinstance(image, Tensor):
        shape = image.shape
        return [1 if len(shape) == 2 else shape[-3], shape[-2], shape[-1]]
    raise _not_an_image(image)


def get_image_size(image: Any) -> list[int]:
    """[width, height] (torchvision's order)."""
    _, height, width = get_dimensions(image)
    return [width, height]


def to_tensor(pic: Any) -> Tensor:
    """PIL image or ndarray (H x W or H x W x C) -> tensor (C, H, W); uint8 becomes float in [0, 1] (/ 255).

    Other dtypes keep their values and dtype (a float array is not scaled), as torchvision does.

    >>> import numpy as np
    >>> to_tensor(np.array([[0, 51], [255, 102]], dtype=np.uint8))
    tensor([[[0.0000, 0.2000],
             [1.0000, 0.4000]]])
    """
    if is_pil_image(pic):
        array = np.array(pic, dtype=np.uint8) * 255 if pic.mode == "1" else np.array(pic)
    elif isinstance(pic, np.ndarray):
        array = pic
    else:
        raise TypeError(f"pic should be a PIL Image or an ndarray, got {type(pic).__name__}")
    if array.ndim not in (2, 3):
        raise ValueError(f"pic should be 2- or 3-dimensional (H x W or H x W x C), got shape {array.shape}")
    if array.dtype == np.uint16:
        array = array.astype(np.int32)  # 16-bit PIL images ('I;16'): shenjing has no uint16
    chw = np.array(array[None] if array.ndim == 2 else array.transpose(2, 0, 1), order="C")
    if chw.dtype == np.uint8:
        chw = chw.astype(get_default_dtype().numpy) / 255
    return from_numpy(chw)


def pil_to_tensor(pic: Any) -> Tensor:
    """PIL image -> tensor (C, H, W) with the same values and dtype (uint8 stays 0-255)."""
    if not is_pil_image(pic):
        raise TypeError(f"pic should be a PIL Image, got {type(pic).__name__}")
    array = _pil_to_chw(pic)
    return from_numpy(np.ascontiguousarray(array.astype(np.int32) if array.dtype == np.uint16 else array))


def to_pil_image(pic: Any, mode: str | None = None) -> Any:
    """Tensor (C, H, W) or ndarray (H, W, C) -> PIL image; float tensors are scaled by 255 (and truncated).

    1 channel gives mode 'L' (uint8), 'I' (int32) or 'F' (float32 arrays); 2 'LA', 3 'RGB', 4 'RGBA'.
    """
    image_module = require_pil("to_pil_image / ToPILImage")
    if isinstance(pic, Tensor):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2- or 3-dimensional (C x H x W), got shape {tuple(pic.shape)}")
        array = pic._data if pic.ndim == 3 else pic._data[None]
        if array.dtype.kind == "f" and mode != "F":
            array = np.clip(array * 255, 0, 255).astype(np.uint8)
        array = array.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2- or 3-dimensional (H x W x C), got shape {pic.shape}")
        array = pic if pic.ndim == 3 else pic[:, :, None]
    else:
        raise TypeError(f"pic should be a Tensor or an ndarray, got {type(pic).__name__}")
    channels = array.shape[2]
    if channels > 4:
        raise ValueError(f"pic should have at most 4 channels, got {channels} (shape {array.shape})")
    if channels == 1:
        array = array[:, :, 0]
        if array.dtype == np.int64 or array.dtype == np.int16:
            array = array.astype(np.int32)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
    elif array.dtype != np.uint8:
        raise TypeError(f"a {channels}-channel image must be uint8 (or a float tensor in [0, 1]), got {array.dtype}")
    image = image_module.fromarray(np.ascontiguousarray(array))
    return image if mode is None or image.mode == mode else image.convert(mode)


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> Tensor:
    """(tensor - mean) / std per channel, on a float tensor image (..., C, H, W); differentiable.

    >>> import shenjing
    >>> normalize(shenjing.ones(2, 1, 1), mean=[0.5, 1.0], std=[0.5, 2.0]).flatten()
    tensor([1., 0.])
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"normalize expects a Tensor image, got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise TypeError(f"normalize expects a float tensor, got {tensor.dtype} (use ToTensor() or .float())")
    if tensor.ndim < 3:
        raise ValueError(f"normalize expects a tensor image of shape (..., C, H, W), got {tuple(tensor.shape)}")
    dtype, channels = tensor._data.dtype, tensor.shape[-3]
    mean_values = np.asarray(mean, dtype=dtype).reshape(-1, 1, 1)
    std_values = np.asarray(std, dtype=dtype).reshape(-1, 1, 1)
    for name, values in (("mean", mean_values), ("std", std_values)):
        if values.shape[0] not in (1, channels):
            raise ValueError(f"normalize: {name} has {values.shape[0]} values but the image has {channels} "
                             f"channels (shape {tuple(tensor.shape)})")
    if np.any(std_values == 0):
        raise ValueError(f"normalize: std {list(np.ravel(std))} contains a zero (division by zero)")
    mean_tensor, std_tensor = from_numpy(mean_values), from_numpy(std_values)
    if inplace:
        return tensor.sub_(mean_tensor).div_(std_tensor)
    return (tensor - mean_tensor) / std_tensor


def _padding(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) from an int, (all,), (left/right, top/bottom) or (left, top, right, bottom)."""
    values = [padding] if isinstance(padding, numbers.Number) else list(padding)
    if len(values) not in (1, 2, 4) or not all(isinstance(v, numbers.Integral) for v in values):
        raise ValueError(f"padding should be an int or a sequence of 1, 2 or 4 ints, got {padding!r}")
    if any(v < 0 for v in values):
        raise ValueError(f"padding should be non-negative, got {padding!r}")
    if len(values) == 1:
        values = values * 4
    elif len(values) == 2:
        values = values * 2
    return tuple(int(v) for v in values)


def pad(image: Any, padding: int | Sequence[int], fill: Any = 0, padding_mode: str = "constant") -> Any:
    """Pad the borders: ``padding`` = all sides, (left/right, top/bottom) or (left, top, right, bottom).

    ``padding_mode``: constant (``fill``: a number or one value per channel), edge (repeat the border
    pixel), reflect (mirror without the border: 1 2 3 -> 3 2 | 1 2 3 | 2 1), symmetric (with it: 2 1 | 1 2 3).
    """
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError(f"padding_mode should be constant, edge, reflect or symmetric, got {padding_mode!r}")
    left, top, right, bottom = _padding(padding)
    return _apply(image, lambda a: _array.pad(a, left, top, right, bottom, fill, padding_mode))


def _size_pair(size: int | Sequence[int], name: str = "size") -> tuple[int, int]:
    """(height, width) from an int (a square), a 1-sequence (a square) or a 2-sequence; positive ints only."""
    values = [size] if isinstance(size, numbers.Number) else list(size)
    if len(values) not in (1, 2) or not all(isinstance(v, numbers.Integral) and v > 0 for v in values):
        raise ValueError(f"{name} should be a positive int or a sequence of 1 or 2 positive ints, got {size!r}")
    return (int(values[0]), int(values[-1]))


def _resized_size(height: int, width: int, size: int | Sequence[int]) -> tuple[int, int]:
    values = [size] if isinstance(size, numbers.Number) else list(size)
    if len(values) not in (1, 2) or not all(isinstance(v, numbers.Integral) and v > 0 for v in values):
        raise ValueError(f"size should be a positive int or a sequence of 1 or 2 positive ints, got {size!r}")
    if len(values) == 2:
        return int(values[0]), int(values[1])
    short, long = sorted((height, width))
    new_short, new_long = int(values[0]), int(values[0] * long / short)
    return (new_short, new_long) if height <= width else (new_long, new_short)


def resize(image: Any, size: int | Sequence[int], interpolation: InterpolationMode | str = "bilinear",
           antialias: bool = True) -> Any:
    """Resize to ``size`` = (height, width), or make the shorter side ``size`` keeping the aspect ratio.

    Longer side = int(size * long / short). Bilinear on tensors is antialiased when shrinking (as PyTorch's
    ``interpolate(..., antialias=True)`` and pillow); integer tensors are rounded back to their dtype.
    """
    _, height, width = get_dimensions(image)
    out_h, out_w = _resized_size(height, width, size)
    if is_pil_image(image):
        return image.resize((out_w, out_h), _pil_resample(interpolation))
    mode = _interpolation(interpolation).value
    return _apply(image, lambda a: _array.resize(a, (out_h, out_w), mode, antialias))


def crop(image: Any, top: int, left: int, height: int, width: int) -> Any:
    """The ``height x width`` region whose top-left corner is (top, left); outside the image is 0."""
    if is_pil_image(image):
        return image.crop((left, top, left + width, top + height))
    return _apply(image, lambda a: _array.crop(a, top, left, height, width))


def center_crop(image: Any, output_size: int | Sequence[int]) -> Any:
    """The centred ``output_size`` region; top = round((H - h) / 2) (Python's round, as torchvision).

    An image smaller than ``output_size`` is first padded with zeros.
    """
    crop_h, crop_w = _size_pair(output_size, "output_size")
    _, height, width = get_dimensions(image)
    if crop_h > height or crop_w > width:
        grow_w, grow_h = max(crop_w - width, 0), max(crop_h - height, 0)
        image = pad(image, [grow_w // 2, grow_h // 2, (grow_w + 1) // 2, (grow_h + 1) // 2])
        _, height, width = get_dimensions(image)
    top, left = int(round((height - crop_h) / 2.0)), int(round((width - crop_w) / 2.0))
    return crop(image, top, left, crop_h, crop_w)


def hflip(image: Any) -> Any:
    """Mirror left-right."""
    if is_pil_image(image):
        image_module = require_pil("hflip")
        return image.transpose(getattr(image_module, "Transpose", image_module).FLIP_LEFT_RIGHT)
    return _apply(image, lambda a: a[..., ::-1])


def vflip(image: Any) -> Any:
    """Mirror top-bottom."""
    if is_pil_image(image):
        image_module = require_pil("vflip")
        return image.transpose(getattr(image_module, "Transpose", image_module).FLIP_TOP_BOTTOM)
    return _apply(image, lambda a: a[..., ::-1, :])


def rotate(image: Any, angle: float, interpolation: InterpolationMode | str = "nearest", expand: bool = False,
           center: Sequence[float] | None = None, fill: Any = 0) -> Any:
    """Rotate counter-clockwise by ``angle`` degrees about ``center`` (x, y) (default: the image centre).

    ``expand`` enlarges the output to hold the whole rotated image; uncovered pixels get ``fill``.
    """
    if is_pil_image(image):
        return image.rotate(angle, _pil_resample(interpolation), expand, center, fillcolor=_pil_fill(image, fill))
    _, height, width = get_dimensions(image)
    quarter_turns = (angle % 360.0) / 90.0
    if center is None and (quarter_turns in (0, 2) or quarter_turns in (1, 3) and (expand or height == width)):
        # exact turns, as pillow: a 2 x 3 image turned by 90 degrees with expand is 3 x 2
        return _apply(image, lambda a: np.rot90(a, int(quarter_turns), axes=(-2, -1)))
    center = (width / 2.0, height / 2.0) if center is None else tuple(center)
    matrix = _array.inverse_affine_matrix(center, angle, (0.0, 0.0), 1.0)
    if expand:
        width, height, matrix = _array.expanded_size(matrix, width, height)
    mode = _interpolation(interpolation).value
    return _apply(image, lambda a: _array.warp_affine(a, matrix, (height, width), mode, fill))


def affine(image: Any, angle: float, translate: Sequence[float], scale: float,
           shear: float | Sequence[float] = 0.0, interpolation: InterpolationMode | str = "nearest",
           fill: Any = 0, center: Sequence[float] | None = None) -> Any:
    """Rotate (counter-clockwise, degrees), scale, shear (degrees) about ``center``, then translate (pixels).

    The map is spelled out in ``_array.inverse_affine_matrix``; the output keeps the input's size.
    """
    shear = [shear, 0.0] if isinstance(shear, numbers.Number) else list(shear) + [0.0] * (2 - len(shear))
    _, height, width = get_dimensions(image)
    center = (width / 2.0, height / 2.0) if center is None else tuple(center)
    matrix = _array.inverse_affine_matrix(center, angle, tuple(translate), scale, tuple(shear[:2]))
    if is_pil_image(image):
        image_module = require_pil("affine")
        method = getattr(image_module, "Transform", image_module).AFFINE
        return image.transform((width, height), method, matrix,
                               _pil_resample(interpolation), fillcolor=_pil_fill(image, fill))
    mode = _interpolation(interpolation).value
    return _apply(image, lambda a: _array.warp_affine(a, matrix, (height, width), mode, fill))


def rgb_to_grayscale(image: Any, num_output_channels: int = 1) -> Any:
    """ITU-R 601-2 luma L = 0.299 R + 0.587 G + 0.114 B, as 1 channel or repeated into 3."""
    if num_output_channels not in (1, 3):
        raise ValueError(f"num_output_channels should be 1 or 3, got {num_output_channels!r}")
    if is_pil_image(image):
        image_module = require_pil("rgb_to_grayscale")
        gray = image.convert("L")
        return image_module.merge("RGB", [gray] * 3) if num_output_channels == 3 else gray
    return _apply(image, lambda a: _array.rgb_to_grayscale(a, num_output_channels))


to_grayscale = rgb_to_grayscale
