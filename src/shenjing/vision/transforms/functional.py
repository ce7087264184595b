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
from shenjing.vision.transforms import _array, _color

__all__ = ["InterpolationMode", "get_dimensions", "get_image_size", "to_tensor", "pil_to_tensor", "to_pil_image",
           "normalize", "pad", "resize", "crop", "center_crop", "hflip", "vflip", "rotate", "affine",
           "rgb_to_grayscale", "to_grayscale", "resized_crop", "five_crop", "ten_crop", "adjust_brightness",
           "adjust_contrast", "adjust_saturation", "adjust_hue", "adjust_sharpness", "invert", "posterize",
           "solarize", "autocontrast", "equalize", "gaussian_blur", "erase", "convert_image_dtype", "perspective",
           "elastic_transform"]


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


# -- crops of several windows ----------------------------------------------------------------------

def resized_crop(image: Any, top: int, left: int, height: int, width: int, size: int | Sequence[int],
                 interpolation: InterpolationMode | str = "bilinear", antialias: bool | None = True) -> Any:
    """``crop`` then ``resize`` to ``size``."""
    return resize(crop(image, top, left, height, width), size, interpolation, antialias=antialias)


def five_crop(image: Any, size: int | Sequence[int]) -> tuple:
    """(top-left, top-right, bottom-left, bottom-right, centre) crops of ``size``."""
    crop_h, crop_w = _size_pair(size, "size")
    _, height, width = get_dimensions(image)
    if crop_w > width or crop_h > height:
        raise ValueError(f"Requested crop size {(crop_h, crop_w)} is bigger than input size {(height, width)}")
    return (crop(image, 0, 0, crop_h, crop_w), crop(image, 0, width - crop_w, crop_h, crop_w),
            crop(image, height - crop_h, 0, crop_h, crop_w),
            crop(image, height - crop_h, width - crop_w, crop_h, crop_w), center_crop(image, [crop_h, crop_w]))


def ten_crop(image: Any, size: int | Sequence[int], vertical_flip: bool = False) -> tuple:
    """``five_crop`` of the image, then of its mirror image (``vflip`` if ``vertical_flip``, else ``hflip``)."""
    return five_crop(image, size) + five_crop(vflip(image) if vertical_flip else hflip(image), size)


# -- colour (kernels in _color) ----------------------------------------------------------------------

def _check_factor(name: str, factor: float) -> None:
    if factor < 0:
        raise ValueError(f"{name} ({factor}) is not non-negative.")


def adjust_brightness(image: Any, brightness_factor: float) -> Any:
    """x * factor, clipped (0: black, 1: unchanged)."""
    _check_factor("brightness_factor", brightness_factor)
    return _apply(image, lambda a: _color.adjust_brightness(a, brightness_factor))


def adjust_contrast(image: Any, contrast_factor: float) -> Any:
    """Blend with the mean grey level (0: flat grey, 1: unchanged)."""
    _check_factor("contrast_factor", contrast_factor)
    return _apply(image, lambda a: _color.adjust_contrast(a, contrast_factor))


def adjust_saturation(image: Any, saturation_factor: float) -> Any:
    """Blend with the grey image (0: grey, 1: unchanged, 2: twice as saturated)."""
    _check_factor("saturation_factor", saturation_factor)
    return _apply(image, lambda a: _color.adjust_saturation(a, saturation_factor))


def adjust_hue(image: Any, hue_factor: float) -> Any:
    """Turn the hue by ``hue_factor`` of a full turn (in [-0.5, 0.5])."""
    return _apply(image, lambda a: _color.adjust_hue(a, hue_factor))


def adjust_sharpness(image: Any, sharpness_factor: float) -> Any:
    """Blend with a smoothed copy (0: smoothed, 1: unchanged, 2: sharper)."""
    _check_factor("sharpness_factor", sharpness_factor)
    return _apply(image, lambda a: _color.adjust_sharpness(a, sharpness_factor))


def invert(image: Any) -> Any:
    """bound - x (bound: 1 for floats, 255 for uint8)."""
    return _apply(image, _color.invert)


def posterize(image: Any, bits: int) -> Any:
    """Keep the top ``bits`` bits of each uint8 value."""
    return _apply(image, lambda a: _color.posterize(a, bits))


def solarize(image: Any, threshold: float) -> Any:
    """Invert the values at or above ``threshold``."""
    return _apply(image, lambda a: _color.solarize(a, threshold))


def autocontrast(image: Any) -> Any:
    """Stretch each channel's range to the full range."""
    return _apply(image, _color.autocontrast)


def equalize(image: Any) -> Any:
    """Equalise each channel's histogram (uint8 images)."""
    return _apply(image, _color.equalize)


def gaussian_blur(image: Any, kernel_size: int | Sequence[int], sigma: float | Sequence[float] | None = None) -> Any:
    """Blur with a Gaussian kernel: ``kernel_size`` (x, y), odd and positive; ``sigma`` (x, y), by default
    0.3 ((k - 1) / 2 - 1) + 0.8 as torchvision computes it."""
    sizes = [kernel_size, kernel_size] if isinstance(kernel_size, int) else list(kernel_size)
    if len(sizes) == 1:
        sizes = sizes * 2
    if any(k <= 0 or k % 2 == 0 for k in sizes):
        raise ValueError(f"kernel_size should have odd and positive integers. Got {kernel_size}")
    if sigma is None:
        sigmas = [0.3 * ((k - 1) * 0.5 - 1) + 0.8 for k in sizes]
    else:
        sigmas = [float(sigma)] * 2 if isinstance(sigma, numbers.Number) else [float(s) for s in sigma]
        sigmas = sigmas * 2 if len(sigmas) == 1 else sigmas
    if any(s <= 0 for s in sigmas):
        raise ValueError(f"sigma should have positive values. Got {sigma}")
    return _apply(image, lambda a: _color.gaussian_blur(a, (sizes[0], sizes[1]), (sigmas[0], sigmas[1])))


def erase(image: Tensor, i: int, j: int, h: int, w: int, v: Any, inplace: bool = False) -> Tensor:
    """The tensor image with the rectangle rows i..i+h, columns j..j+w set to ``v`` (a tensor that broadcasts)."""
    if not isinstance(image, Tensor):
        raise TypeError(f"erase works on tensor images, got {type(image).__name__}")
    target = image if inplace else image.clone()
    values = v.numpy() if isinstance(v, Tensor) else np.asarray(v)
    target._data[..., i:i + h, j:j + w] = values
    target._version_counter[0] += 1
    return target


def convert_image_dtype(image: Tensor, dtype: Any = None) -> Tensor:
    """A tensor image in another dtype with its values rescaled: integers hold 0..max, floats 0..1; float to
    integer multiplies by (max + 1 - 0.001) and truncates, as torchvision."""
    from shenjing._dtype import as_dtype, float32

    target = float32 if dtype is None else as_dtype(dtype)
    array = image.numpy()
    if array.dtype == target.numpy:
        return image
    if array.dtype.kind == "f" and target.numpy.kind == "f":
        result = array.astype(target.numpy)
    elif array.dtype.kind == "f":
        top = float(np.iinfo(target.numpy).max)
        result = (array * (top + 1.0 - 1e-3)).astype(target.numpy)
    elif target.numpy.kind == "f":
        result = (array / float(np.iinfo(array.dtype).max)).astype(target.numpy)
    else:
        source_bits, target_bits = np.iinfo(array.dtype).bits, np.iinfo(target.numpy).bits
        if source_bits > target_bits:
            result = (array.astype(np.int64) >> (source_bits - target_bits)).astype(target.numpy)
        else:
            factor = (np.iinfo(target.numpy).max + 1) // (np.iinfo(array.dtype).max + 1)
            result = array.astype(target.numpy) * factor
    return from_numpy(np.ascontiguousarray(result))


def perspective(image: Any, startpoints: Sequence[Sequence[int]], endpoints: Sequence[Sequence[int]],
                interpolation: InterpolationMode | str = "bilinear", fill: Any = None) -> Any:
    """Warp so that the four corners ``startpoints`` ([top-left, top-right, bottom-right, bottom-left], (x, y)
    pixels) land on ``endpoints``; the output keeps the input's size, uncovered pixels get ``fill``."""
    coefficients = _array.perspective_coefficients(startpoints, endpoints)
    if is_pil_image(image):
        image_module = require_pil("perspective")
        method = getattr(image_module, "Transform", image_module).PERSPECTIVE
        return image.transform(image.size, method, coefficients, _pil_resample(interpolation),
                               fillcolor=_pil_fill(image, fill))
    mode = _interpolation(interpolation).value
    return _apply(image, lambda a: _array.warp_perspective(a, coefficients, mode, fill))


def elastic_transform(image: Any, displacement: Tensor, interpolation: InterpolationMode | str = "bilinear",
                      fill: Any = None) -> Any:
    """Move pixels by ``displacement`` (1 x H x W x 2, (dx, dy) in grid_sample's normalised units, -1..1 across
    the image): output pixel (i, j) samples the input at x = j + dx W / 2, y = i + dy H / 2 (pixel indices).
    PIL images go through a uint8 array and back."""
    shift = displacement.detach().numpy() if isinstance(displacement, Tensor) else np.asarray(displacement)
    _, height, width = get_dimensions(image)
    if shift.shape != (1, height, width, 2):
        raise ValueError(f"displacement should be of shape [1, {height}, {width}, 2], got {list(shift.shape)}")
    src_x = np.arange(width)[None, :] + 0.5 + shift[0, :, :, 0] * width / 2.0
    src_y = np.arange(height)[:, None] + 0.5 + shift[0, :, :, 1] * height / 2.0
    mode = _interpolation(interpolation).value
    return _apply(image, lambda a: _array.sample_at(a, src_x, src_y, mode, fill))
