"""Transforms as callable objects (torchvision's ``transforms``): build a pipeline with ``Compose``.

Each class holds its arguments and calls one function of ``functional``. Random transforms draw their
parameters from shenjing's default generator, so ``shenjing.manual_seed(s)`` makes them repeatable. All
image transforms accept a PIL image or a tensor image (..., C, H, W) and return the same kind.

>>> import shenjing
>>> from shenjing.vision import transforms
>>> pipeline = transforms.Compose([transforms.Pad(2), transforms.Normalize((0.5,), (0.5,))])
>>> pipeline(shenjing.ones(1, 28, 28)).shape
shenjing.Size([1, 32, 32])
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Sequence

from shenjing._random import rng_of
from shenjing._tensor import Tensor
from shenjing.vision.transforms import functional as F
from shenjing.vision.transforms.functional import InterpolationMode, _size_pair

__all__ = ["Compose", "ToTensor", "PILToTensor", "ToPILImage", "Normalize", "Lambda", "Pad", "Resize",
           "CenterCrop", "RandomCrop", "RandomRotation", "RandomAffine", "RandomHorizontalFlip",
           "RandomVerticalFlip", "Grayscale"]


def _rng() -> Any:
    """The NumPy generator inside shenjing's default generator (looked up each time: manual_seed replaces it)."""
    return rng_of(None)


def _range(value: float | Sequence[float], name: str, center: float = 0.0) -> tuple[float, float]:
    """A number x -> (center - x, center + x) (x must be >= 0); a pair -> itself (min <= max)."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"if {name} is a single number, it must be non-negative, got {value}")
        return (center - float(value), center + float(value))
    values = [float(v) for v in value]
    if len(values) != 2 or values[0] > values[1]:
        raise ValueError(f"{name} should be a number or a sequence (min, max) with min <= max, got {value!r}")
    return (values[0], values[1])


class _Transform:
    """Shared repr: ``Name(arg=value, ...)`` from the attributes listed in ``_repr_fields``."""

    _repr_fields: tuple[str, ...] = ()

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._repr_fields)
        return f"{type(self).__name__}({args})"


class Compose(_Transform):
    """Apply transforms one after another.

    >>> Compose([lambda x: x + 1, lambda x: x * 10])(1)
    20
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: Any) -> Any:
        for transform in self.transforms:
            image = transform(image)
        return image

    def __repr__(self) -> str:
        return "Compose(\n" + "".join(f"    {t!r}\n" for t in self.transforms) + ")"


class ToTensor(_Transform):
    """PIL image or ndarray (H x W x C) -> float32 tensor (C, H, W), uint8 scaled to [0, 1] (see ``F.to_tensor``).

    >>> import numpy as np
    >>> ToTensor()(np.full((28, 28), 255, dtype=np.uint8)).shape
    shenjing.Size([1, 28, 28])
    """

    def __call__(self, pic: Any) -> Tensor:
        return F.to_tensor(pic)


class PILToTensor(_Transform):
    """PIL image -> tensor (C, H, W) with the same dtype and values (no scaling)."""

    def __call__(self, pic: Any) -> Tensor:
        return F.pil_to_tensor(pic)


class ToPILImage(_Transform):
    """Tensor (C, H, W) or ndarray (H, W, C) -> PIL image (needs pillow; see ``F.to_pil_image``)."""

    _repr_fields = ("mode",)

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic: Any) -> Any:
        return F.to_pil_image(pic, self.mode)


class Normalize(_Transform):
    """output[c] = (input[c] - mean[c]) / std[c] on a float tensor image.

    >>> import shenjing
    >>> round(Normalize((0.1307,), (0.3081,))(shenjing.zeros(1, 1, 1)).item(), 4)
    -0.4242
    """

    _repr_fields = ("mean", "std")

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor: Tensor) -> Tensor:
        return F.normalize(tensor, self.mean, self.std, self.inplace)


class Lambda(_Transform):
    """Wrap any function as a transform: ``Lambda(lambda x: x.flatten())``."""

    def __init__(self, lambd: Callable[[Any], Any]) -> None:
        if not callable(lambd):
            raise TypeError(f"Lambda needs a callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, image: Any) -> Any:
        return self.lambd(image)


class Pad(_Transform):
    """Pad the borders (see ``F.pad`` for ``padding``, ``fill`` and ``padding_mode``)."""

    _repr_fields = ("padding", "fill", "padding_mode")

    def __init__(self, padding: int | Sequence[int], fill: Any = 0, padding_mode: str = "constant") -> None:
        F._padding(padding)  # validate now rather than at the first image
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"padding_mode should be constant, edge, reflect or symmetric, got {padding_mode!r}")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, image: Any) -> Any:
        return F.pad(image, self.padding, self.fill, self.padding_mode)


class Resize(_Transform):
    """Resize to (h, w), or an int: the shorter side becomes ``size``, keeping the aspect ratio."""

    _repr_fields = ("size", "interpolation", "antialias")

    def __init__(self, size: int | Sequence[int], interpolation: InterpolationMode | str = "bilinear",
                 antialias: bool = True) -> None:
        F._resized_size(1, 1, size)  # validate
        self.size, self.interpolation, self.antialias = size, F._interpolation(interpolation), antialias

    def __call__(self, image: Any) -> Any:
        return F.resize(image, self.size, self.interpolation, self.antialias)


class CenterCrop(_Transform):
    """Crop the centre ``size`` (int: a square; (h, w)); smaller images are padded with zeros first."""

    _repr_fields = ("size",)

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size_pair(size)

    def __call__(self, image: Any) -> Any:
        return F.center_crop(image, self.size)


class RandomCrop(_Transform):
    """Crop a random ``size`` window, after optional ``padding`` (as ``Pad``); the offset is uniform.

    ``pad_if_needed`` pads an image smaller than ``size`` on both sides by the shortfall first.

    >>> import shenjing
    >>> RandomCrop(28, padding=4)(shenjing.zeros(1, 28, 28)).shape
    shenjing.Size([1, 28, 28])
    """

    _repr_fields = ("size", "padding")

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] | None = None,
                 pad_if_needed: bool = False, fill: Any = 0, padding_mode: str = "constant") -> None:
        self.size = _size_pair(size)
        if padding is not None:
            F._padding(padding)
        self.padding, self.pad_if_needed, self.fill, self.padding_mode = padding, pad_if_needed, fill, padding_mode

    @staticmethod
    def get_params(image: Any, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """A random (top, left, height, width) window of ``output_size`` inside ``image``."""
        _, height, width = F.get_dimensions(image)
        crop_h, crop_w = output_size
        if height < crop_h or width < crop_w:
            raise ValueError(f"required crop size {(crop_h, crop_w)} is larger than the input image size "
                             f"{(height, width)} (use padding= or pad_if_needed=True)")
        top = int(_rng().integers(0, height - crop_h + 1))
        left = int(_rng().integers(0, width - crop_w + 1))
        return top, left, crop_h, crop_w

    def __call__(self, image: Any) -> Any:
        if self.padding is not None:
            image = F.pad(image, self.padding, self.fill, self.padding_mode)
        _, height, width = F.get_dimensions(image)
        if self.pad_if_needed and (width < self.size[1] or height < self.size[0]):
            grow_w, grow_h = max(self.size[1] - width, 0), max(self.size[0] - height, 0)
            image = F.pad(image, [grow_w, grow_h], self.fill, self.padding_mode)
        return F.crop(image, *self.get_params(image, self.size))


class RandomHorizontalFlip(_Transform):
    """Mirror left-right with probability ``p``."""

    _repr_fields = ("p",)

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p should be a probability in [0, 1], got {p}")
        self.p = p

    def __call__(self, image: Any) -> Any:
        return F.hflip(image) if _rng().random() < self.p else image


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``."""

    def __call__(self, image: Any) -> Any:
        return F.vflip(image) if _rng().random() < self.p else image


class RandomRotation(_Transform):
    """Rotate by an angle drawn uniformly from (-degrees, degrees) or (min, max); counter-clockwise > 0."""

    _repr_fields = ("degrees", "interpolation", "expand", "fill")

    def __init__(self, degrees: float | Sequence[float], interpolation: InterpolationMode | str = "nearest",
                 expand: bool = False, center: Sequence[float] | None = None, fill: Any = 0) -> None:
        self.degrees = _range(degrees, "degrees")
        self.interpolation, self.expand = F._interpolation(interpolation), expand
        self.center, self.fill = center, fill

    @staticmethod
    def get_params(degrees: tuple[float, float]) -> float:
        return float(_rng().uniform(degrees[0], degrees[1]))

    def __call__(self, image: Any) -> Any:
        angle = self.get_params(self.degrees)
        return F.rotate(image, angle, self.interpolation, self.expand, self.center, self.fill)


class RandomAffine(_Transform):
    """Random rotation, translation, scaling and shear about the centre, drawn uniformly:

    angle from ``degrees`` (a number d: (-d, d)); translation tx in (-translate[0] * W, translate[0] * W)
    (rounded to whole pixels), ty likewise with H; scale from ``scale`` = (min, max); x-shear from ``shear``
    (a number s: (-s, s); 2 values: an x range; 4 values: x range then y range). See ``F.affine``.
    """

    _repr_fields = ("degrees", "translate", "scale", "shear")

    def __init__(self, degrees: float | Sequence[float], translate: Sequence[float] | None = None,
                 scale: Sequence[float] | None = None, shear: float | Sequence[float] | None = None,
                 interpolation: InterpolationMode | str = "nearest", fill: Any = 0,
                 center: Sequence[float] | None = None) -> None:
        self.degrees = _range(degrees, "degrees")
        if translate is not None and (len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate)):
            raise ValueError(f"translate should be a pair of fractions in [0, 1], got {translate!r}")
        if scale is not None and (len(scale) != 2 or not 0 < scale[0] <= scale[1]):
            raise ValueError(f"scale should be a pair (min, max) with 0 < min <= max, got {scale!r}")
        if shear is not None and not isinstance(shear, numbers.Number) and len(shear) == 4:
            self.shear = _range(shear[:2], "shear") + _range(shear[2:], "shear")
        else:
            self.shear = None if shear is None else _range(shear, "shear") + (0.0, 0.0)
        self.translate, self.scale = translate, scale
        self.interpolation, self.fill, self.center = F._interpolation(interpolation), fill, center

    @staticmethod
    def get_params(degrees: tuple[float, float], translate: Sequence[float] | None,
                   scale_ranges: Sequence[float] | None, shears: Sequence[float] | None,
                   image_size: tuple[int, int]) -> tuple[float, tuple[int, int], float, tuple[float, float]]:
        """(angle, (tx, ty), scale, (shear_x, shear_y)) drawn in that order; ``image_size`` is (W, H)."""
        rng = _rng()
        angle = float(rng.uniform(degrees[0], degrees[1]))
        tx = ty = 0
        if translate is not None:
            max_dx, max_dy = translate[0] * image_size[0], translate[1] * image_size[1]
            tx, ty = int(round(rng.uniform(-max_dx, max_dx))), int(round(rng.uniform(-max_dy, max_dy)))
        scale = float(rng.uniform(scale_ranges[0], scale_ranges[1])) if scale_ranges is not None else 1.0
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = float(rng.uniform(shears[0], shears[1]))
            shear_y = float(rng.uniform(shears[2], shears[3])) if shears[2:] != (0.0, 0.0) else 0.0
        return angle, (tx, ty), scale, (shear_x, shear_y)

    def __call__(self, image: Any) -> Any:
        width, height = F.get_image_size(image)
        angle, translate, scale, shear = self.get_params(self.degrees, self.translate, self.scale, self.shear,
                                                         (width, height))
        return F.affine(image, angle, translate, scale, shear, self.interpolation, self.fill, self.center)


class Grayscale(_Transform):
    """RGB -> grey by ITU-R 601-2 luma (0.299 R + 0.587 G + 0.114 B), with 1 or 3 identical output channels.

    ``Grayscale(3)`` turns MNIST's 1-channel digits into the 3-channel input of the course's CNN.
    """

    _repr_fields = ("num_output_channels",)

    def __init__(self, num_output_channels: int = 1) -> None:
        if num_output_channels not in (1, 3):
            raise ValueError(f"num_output_channels should be 1 or 3, got {num_output_channels!r}")
        self.num_output_channels = num_output_channels

    def __call__(self, image: Any) -> Any:
        return F.rgb_to_grayscale(image, self.num_output_channels)
