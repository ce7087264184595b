"""More of torchvision's transforms: colour (ColorJitter, RandomGrayscale, RandomInvert, RandomPosterize,
RandomSolarize, RandomAutocontrast, RandomEqualize, RandomAdjustSharpness, GaussianBlur), crops
(RandomResizedCrop, FiveCrop, TenCrop), choices (RandomApply, RandomChoice, RandomOrder), RandomErasing,
ConvertImageDtype and LinearTransformation.

Random parameters come from shenjing's default generator (``shenjing.manual_seed`` makes them repeatable),
drawn by the rules torchvision documents; the numbers drawn are not torchvision's.

>>> import shenjing
>>> from shenjing.vision import transforms
>>> transforms.RandomResizedCrop(24)(shenjing.rand(3, 32, 32)).shape
shenjing.Size([3, 24, 24])
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

from shenjing import _dtype
from shenjing._tensor import Tensor
from shenjing.vision.transforms import functional as F
from shenjing.vision.transforms.functional import InterpolationMode, _size_pair
from shenjing.vision.transforms.transforms import _rng, _Transform

__all__ = ["ColorJitter", "RandomGrayscale", "RandomInvert", "RandomPosterize", "RandomSolarize",
           "RandomAutocontrast", "RandomEqualize", "RandomAdjustSharpness", "GaussianBlur", "RandomResizedCrop",
           "FiveCrop", "TenCrop", "RandomApply", "RandomChoice", "RandomOrder", "RandomErasing",
           "ConvertImageDtype", "LinearTransformation"]


def _check_p(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p should be a probability in [0, 1], got {p}")
    return p


def _factor_range(value: Any, name: str, center: float = 1.0, bound: tuple[float, float] = (0, math.inf),
                  clip_first: bool = True) -> tuple[float, float] | None:
    """torchvision's rule: a number v gives [center - v, center + v] (clipped at 0), a pair itself; None or
    (center, center) means no change."""
    if value is None:
        return None
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be non negative.")
        low, high = center - float(value), center + float(value)
        if clip_first:
            low = max(low, 0.0)
    else:
        if len(value) != 2:
            raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
        low, high = float(value[0]), float(value[1])
    if not bound[0] <= low <= high <= bound[1]:
        raise ValueError(f"{name} values should be between {bound}, but got {[low, high]}.")
    return None if low == high == center else (low, high)


class ColorJitter(_Transform):
    """Change brightness, contrast, saturation and hue by factors drawn uniformly from their ranges (a number
    v: [max(0, 1 - v), 1 + v]; hue h: [-h, h] with h <= 0.5), applied in a random order."""

    _repr_fields = ("brightness", "contrast", "saturation", "hue")

    def __init__(self, brightness: Any = 0, contrast: Any = 0, saturation: Any = 0, hue: Any = 0) -> None:
        self.brightness = _factor_range(brightness, "brightness")
        self.contrast = _factor_range(contrast, "contrast")
        self.saturation = _factor_range(saturation, "saturation")
        self.hue = _factor_range(hue, "hue", center=0.0, bound=(-0.5, 0.5), clip_first=False)

    @staticmethod
    def get_params(brightness: Any, contrast: Any, saturation: Any, hue: Any) -> tuple:
        """(order, brightness, contrast, saturation, hue factors): each None where its range is None."""
        rng = _rng()
        order = [int(i) for i in rng.permutation(4)]
        ranges = (brightness, contrast, saturation, hue)
        factors = [None if r is None else float(rng.uniform(r[0], r[1])) for r in ranges]
        return (order, *factors)

    def __call__(self, image: Any) -> Any:
        order, *factors = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        adjust = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
        for k in order:
            if factors[k] is not None:
                image = adjust[k](image, factors[k])
        return image


class _RandomlyApplied(_Transform):
    """A transform applied with probability ``p``."""

    _repr_fields = ("p",)

    def __init__(self, p: float = 0.5) -> None:
        self.p = _check_p(p)

    def transform(self, image: Any) -> Any:
        raise NotImplementedError

    def __call__(self, image: Any) -> Any:
        return self.transform(image) if _rng().random() < self.p else image


class RandomGrayscale(_RandomlyApplied):
    """Grey with probability ``p`` (default 0.1), keeping the number of channels."""

    def __init__(self, p: float = 0.1) -> None:
        super().__init__(p)

    def transform(self, image: Any) -> Any:
        channels = F.get_dimensions(image)[0]
        return F.rgb_to_grayscale(image, num_output_channels=channels)


class RandomInvert(_RandomlyApplied):
    """bound - x with probability ``p``."""

    def transform(self, image: Any) -> Any:
        return F.invert(image)


class RandomPosterize(_RandomlyApplied):
    """Keep the top ``bits`` bits of each uint8 value, with probability ``p``."""

    _repr_fields = ("bits", "p")

    def __init__(self, bits: int, p: float = 0.5) -> None:
        super().__init__(p)
        if not 0 <= bits <= 8:
            raise ValueError(f"bits should be between 0 and 8, got {bits}")
        self.bits = bits

    def transform(self, image: Any) -> Any:
        return F.posterize(image, self.bits)


class RandomSolarize(_RandomlyApplied):
    """Invert the values at or above ``threshold``, with probability ``p``."""

    _repr_fields = ("threshold", "p")

    def __init__(self, threshold: float, p: float = 0.5) -> None:
        super().__init__(p)
        self.threshold = threshold

    def transform(self, image: Any) -> Any:
        return F.solarize(image, self.threshold)


class RandomAutocontrast(_RandomlyApplied):
    """Stretch each channel to the full range, with probability ``p``."""

    def transform(self, image: Any) -> Any:
        return F.autocontrast(image)


class RandomEqualize(_RandomlyApplied):
    """Equalise each channel's histogram (uint8), with probability ``p``."""

    def transform(self, image: Any) -> Any:
        return F.equalize(image)


class RandomAdjustSharpness(_RandomlyApplied):
    """Sharpen (factor > 1) or blur (< 1) by ``sharpness_factor``, with probability ``p``."""

    _repr_fields = ("sharpness_factor", "p")

    def __init__(self, sharpness_factor: float, p: float = 0.5) -> None:
        super().__init__(p)
        if sharpness_factor < 0:
            raise ValueError("sharpness_factor is not non-negative.")
        self.sharpness_factor = float(sharpness_factor)

    def transform(self, image: Any) -> Any:
        return F.adjust_sharpness(image, self.sharpness_factor)


class GaussianBlur(_Transform):
    """Blur with a Gaussian of odd ``kernel_size`` and a sigma drawn uniformly from ``sigma`` (a number: fixed)."""

    _repr_fields = ("kernel_size", "sigma")

    def __init__(self, kernel_size: int | Sequence[int], sigma: float | Sequence[float] = (0.1, 2.0)) -> None:
        self.kernel_size = _size_pair(kernel_size, "kernel_size")
        if any(k <= 0 or k % 2 == 0 for k in self.kernel_size):
            raise ValueError("Kernel size value should be an odd and positive number.")
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError("If sigma is a single number, it must be positive.")
            sigma = (float(sigma), float(sigma))
        elif len(sigma) != 2 or not 0.0 < sigma[0] <= sigma[1]:
            raise ValueError("sigma values should be positive and of the form (min, max).")
        self.sigma = tuple(float(s) for s in sigma)

    @staticmethod
    def get_params(sigma_min: float, sigma_max: float) -> float:
        return float(_rng().uniform(sigma_min, sigma_max))

    def __call__(self, image: Any) -> Any:
        s = self.get_params(*self.sigma)
        return F.gaussian_blur(image, list(self.kernel_size), [s, s])


class RandomResizedCrop(_Transform):
    """Crop a random window of area ``scale`` x the image's and aspect ratio (log-uniform) in ``ratio``, then
    resize it to ``size``; after 10 failed draws, the centred crop of the ratio nearest the range."""

    _repr_fields = ("size", "scale", "ratio", "interpolation")

    def __init__(self, size: int | Sequence[int], scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3.0 / 4.0, 4.0 / 3.0),
                 interpolation: InterpolationMode | str = "bilinear", antialias: bool | None = True) -> None:
        self.size = _size_pair(size)
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("Scale and ratio should be of kind (min, max)")
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.interpolation, self.antialias = F._interpolation(interpolation), antialias

    @staticmethod
    def get_params(image: Any, scale: Sequence[float], ratio: Sequence[float]) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the window."""
        _, height, width = F.get_dimensions(image)
        area = height * width
        rng = _rng()
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target_area = area * float(rng.uniform(scale[0], scale[1]))
            aspect = math.exp(float(rng.uniform(*log_ratio)))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = int(rng.integers(0, height - h + 1))
                left = int(rng.integers(0, width - w + 1))
                return top, left, h, w
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, image: Any) -> Any:
        top, left, h, w = self.get_params(image, self.scale, self.ratio)
        return F.resize(F.crop(image, top, left, h, w), list(self.size), self.interpolation, antialias=self.antialias)


class FiveCrop(_Transform):
    """The four corners and the centre, each of ``size``: a tuple of five images."""

    _repr_fields = ("size",)

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size_pair(size)

    def __call__(self, image: Any) -> tuple:
        return F.five_crop(image, list(self.size))


class TenCrop(FiveCrop):
    """``FiveCrop`` of the image and of its mirror (left-right, or top-bottom with ``vertical_flip``)."""

    _repr_fields = ("size", "vertical_flip")

    def __init__(self, size: int | Sequence[int], vertical_flip: bool = False) -> None:
        super().__init__(size)
        self.vertical_flip = vertical_flip

    def __call__(self, image: Any) -> tuple:
        return F.ten_crop(image, list(self.size), self.vertical_flip)


class RandomApply(_Transform):
    """Apply the list of ``transforms`` (in order) with probability ``p``."""

    _repr_fields = ("transforms", "p")

    def __init__(self, transforms: Sequence[Any], p: float = 0.5) -> None:
        self.transforms, self.p = list(transforms), _check_p(p)

    def __call__(self, image: Any) -> Any:
        if self.p < _rng().random():
            return image
        for t in self.transforms:
            image = t(image)
        return image


class RandomChoice(_Transform):
    """Apply one of ``transforms``, chosen with probabilities ``p`` (equal by default)."""

    _repr_fields = ("transforms", "p")

    def __init__(self, transforms: Sequence[Any], p: Sequence[float] | None = None) -> None:
        if p is not None and len(p) != len(transforms):
            raise ValueError(f"Length of p doesn't match the number of transforms: {len(p)} != {len(transforms)}")
        self.transforms = list(transforms)
        total = None if p is None else float(sum(p))
        self.p = None if p is None else [float(v) / total for v in p]

    def __call__(self, image: Any) -> Any:
        k = int(_rng().choice(len(self.transforms), p=self.p))
        return self.transforms[k](image)


class RandomOrder(_Transform):
    """Apply all of ``transforms`` in a random order."""

    _repr_fields = ("transforms",)

    def __init__(self, transforms: Sequence[Any]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: Any) -> Any:
        for k in _rng().permutation(len(self.transforms)):
            image = self.transforms[int(k)](image)
        return image


class RandomErasing(_Transform):
    """With probability ``p``, set a random rectangle of a tensor image (area ``scale`` x the image's, aspect
    ratio log-uniform in ``ratio``) to ``value`` (a number, one per channel, or "random": normal noise). Tensor
    images only (apply after ToTensor)."""

    _repr_fields = ("p", "scale", "ratio", "value", "inplace")

    def __init__(self, p: float = 0.5, scale: Sequence[float] = (0.02, 0.33), ratio: Sequence[float] = (0.3, 3.3),
                 value: Any = 0, inplace: bool = False) -> None:
        self.p = _check_p(p)
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("Scale and ratio should be of kind (min, max)")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("Scale should be between 0 and 1")
        if not isinstance(value, (numbers.Number, str, tuple, list)) or (isinstance(value, str) and value != "random"):
            raise ValueError("If value is str, it should be 'random'")
        self.scale, self.ratio, self.value, self.inplace = tuple(scale), tuple(ratio), value, inplace

    @staticmethod
    def get_params(image: Tensor, scale: Sequence[float], ratio: Sequence[float], value: Any = None) -> tuple:
        """(top, left, height, width, values) of the rectangle; the whole image and the image itself if no draw
        of 10 fits."""
        channels, height, width = image.shape[-3], image.shape[-2], image.shape[-1]
        area = height * width
        rng = _rng()
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            erase_area = area * float(rng.uniform(scale[0], scale[1]))
            aspect = math.exp(float(rng.uniform(*log_ratio)))
            h = int(round(math.sqrt(erase_area * aspect)))
            w = int(round(math.sqrt(erase_area / aspect)))
            if not (h < height and w < width):
                continue
            if value is None:
                fill = rng.standard_normal((channels, h, w))
            else:
                fill = np.broadcast_to(np.asarray(value, np.float64).reshape(-1, 1, 1), (channels, h, w))
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return top, left, h, w, Tensor._make(fill.astype(image.numpy().dtype))
        return 0, 0, height, width, image

    def __call__(self, image: Any) -> Any:
        if not isinstance(image, Tensor):
            raise TypeError(f"RandomErasing works on tensor images (after ToTensor), got {type(image).__name__}")
        if _rng().random() >= self.p:
            return image
        value = None if self.value == "random" else ([self.value] if isinstance(self.value, numbers.Number)
                                                     else list(self.value))
        if value is not None and len(value) not in (1, image.shape[-3]):
            raise ValueError(f"If value is a sequence, it should have either a single value or {image.shape[-3]} "
                             f"(number of input channels)")
        top, left, h, w, fill = self.get_params(image, self.scale, self.ratio, value)
        return F.erase(image, top, left, h, w, fill, self.inplace)


class ConvertImageDtype(_Transform):
    """Convert a tensor image's dtype, rescaling: uint8 0..255 <-> float 0..1 (float to uint8 as x (256 - eps))."""

    _repr_fields = ("dtype",)

    def __init__(self, dtype: Any) -> None:
        self.dtype = _dtype.as_dtype(dtype)

    def __call__(self, image: Tensor) -> Tensor:
        return F.convert_image_dtype(image, self.dtype)


class LinearTransformation(_Transform):
    """(x.flatten() - mean_vector) @ transformation_matrix, reshaped back: whitening (ZCA) of tensor images."""

    def __init__(self, transformation_matrix: Tensor, mean_vector: Tensor) -> None:
        n = transformation_matrix.shape
        if len(n) != 2 or n[0] != n[1]:
            raise ValueError(f"transformation_matrix should be square. Got {list(n)} rectangular matrix.")
        if mean_vector.shape[0] != n[0]:
            raise ValueError(f"mean_vector should have the same length {mean_vector.shape[0]} as any one of the "
                             f"dimensions of the transformation_matrix [{n[0]}]")
        self.transformation_matrix, self.mean_vector = transformation_matrix, mean_vector

    def __call__(self, image: Tensor) -> Tensor:
        shape = tuple(image.shape)
        size = int(np.prod(shape[-3:]))
        if size != self.transformation_matrix.shape[0]:
            raise ValueError(f"Input tensor and transformation matrix have incompatible shape.[{shape[-3]} x "
                             f"{shape[-2]} x {shape[-1]}] != [{self.transformation_matrix.shape[0]}]")
        flat = image.reshape(-1, size) - self.mean_vector
        return (flat @ self.transformation_matrix.to(flat.dtype)).reshape(*shape)

    def __repr__(self) -> str:
        return f"LinearTransformation(transformation_matrix={self.transformation_matrix.tolist()}, " \
               f"mean_vector={self.mean_vector.tolist()})"
