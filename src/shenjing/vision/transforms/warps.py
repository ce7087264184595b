"""Random warps (torchvision's ``RandomPerspective`` and ``ElasticTransform``), drawn with shenjing's
``randint`` / ``rand`` in torchvision's order.

>>> import shenjing
>>> RandomPerspective(p=1.0)(shenjing.rand(3, 20, 20)).shape
shenjing.Size([3, 20, 20])
"""

from __future__ import annotations

from typing import Any, Sequence

import shenjing
from shenjing._tensor import Tensor
from shenjing.vision.transforms import functional as F
from shenjing.vision.transforms.functional import InterpolationMode
from shenjing.vision.transforms.transforms import _Transform

__all__ = ["RandomPerspective", "ElasticTransform"]


def _fill_for(image: Any, fill: Any) -> Any:
    if isinstance(image, Tensor):
        channels = F.get_dimensions(image)[0]
        return [float(fill)] * channels if isinstance(fill, (int, float)) else [float(f) for f in fill]
    return fill


class RandomPerspective(_Transform):
    """With probability ``p``, move each corner inwards by a random amount up to ``distortion_scale`` (0..1) of
    half the image's width and height, and warp the image accordingly (``functional.perspective``)."""

    _repr_fields = ("p",)

    def __init__(self, distortion_scale: float = 0.5, p: float = 0.5,
                 interpolation: InterpolationMode | str = InterpolationMode.BILINEAR, fill: Any = 0) -> None:
        if not isinstance(fill, (int, float, Sequence)) or isinstance(fill, str):
            raise TypeError("Fill should be either a sequence or a number.")
        self.distortion_scale, self.p = distortion_scale, p
        self.interpolation, self.fill = F._interpolation(interpolation), fill

    @staticmethod
    def get_params(width: int, height: int, distortion_scale: float) -> tuple[list[list[int]], list[list[int]]]:
        """(startpoints, endpoints): the image's corners (top-left, top-right, bottom-right, bottom-left) and
        their random destinations."""
        half_w, half_h = int(distortion_scale * (width // 2)), int(distortion_scale * (height // 2))

        def draw(low: int, high: int) -> int:
            return int(shenjing.randint(low, high, (1,)).item())
        top_left = [draw(0, half_w + 1), draw(0, half_h + 1)]
        top_right = [draw(width - half_w - 1, width), draw(0, half_h + 1)]
        bottom_right = [draw(width - half_w - 1, width), draw(height - half_h - 1, height)]
        bottom_left = [draw(0, half_w + 1), draw(height - half_h - 1, height)]
        start = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
        return start, [top_left, top_right, bottom_right, bottom_left]

    def __call__(self, image: Any) -> Any:
        fill = _fill_for(image, self.fill)
        _, height, width = F.get_dimensions(image)
        if shenjing.rand(1).item() < self.p:
            start, end = self.get_params(width, height, self.distortion_scale)
            return F.perspective(image, start, end, self.interpolation, fill)
        return image


def _pair_of_floats(value: Any, name: str) -> list[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value), float(value)]
    if not isinstance(value, Sequence) or len(value) not in (1, 2):
        raise ValueError(f"If {name} is a sequence its length should be one of 2. Got {value}")
    values = [float(v) for v in value]
    return values * 2 if len(values) == 1 else values


class ElasticTransform(_Transform):
    """Displace every pixel by a smooth random field: uniform noise in [-1, 1] per pixel and direction,
    blurred by a Gaussian of ``sigma`` (kernel 8 sigma + 1, made odd), scaled by ``alpha`` / size
    (``functional.elastic_transform``), as torchvision (whose dx uses the height, dy the width)."""

    _repr_fields = ("alpha", "sigma", "interpolation", "fill")

    def __init__(self, alpha: float | Sequence[float] = 50.0, sigma: float | Sequence[float] = 5.0,
                 interpolation: InterpolationMode | str = InterpolationMode.BILINEAR, fill: Any = 0) -> None:
        self.alpha = _pair_of_floats(alpha, "alpha")
        self.sigma = _pair_of_floats(sigma, "sigma")
        self.interpolation, self.fill = F._interpolation(interpolation), fill

    @staticmethod
    def get_params(alpha: Sequence[float], sigma: Sequence[float], size: Sequence[int]) -> Tensor:
        """The displacement field, 1 x H x W x 2 (dx, dy) in normalised grid units."""
        fields = []
        for i in range(2):
            field = shenjing.rand(1, 1, *size) * 2 - 1
            if sigma[i] > 0.0:
                kernel = int(8 * sigma[i] + 1)
                kernel += 1 - kernel % 2
                field = F.gaussian_blur(field, [kernel, kernel], list(sigma))
            fields.append(field * alpha[i] / size[i])
        return shenjing.cat(fields, 1).permute(0, 2, 3, 1)

    def __call__(self, image: Any) -> Any:
        _, height, width = F.get_dimensions(image)
        displacement = self.get_params(self.alpha, self.sigma, [height, width])
        return F.elastic_transform(image, displacement, self.interpolation, _fill_for(image, self.fill))
