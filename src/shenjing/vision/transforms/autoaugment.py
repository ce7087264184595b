"""Learned and random augmentation policies (torchvision's ``transforms.autoaugment``): ``AutoAugment``
(Cubuk et al., 2019), ``RandAugment`` (Cubuk et al., 2020), ``TrivialAugmentWide`` (Mueller and Hutter,
2021) and ``AugMix`` (Hendrycks et al., 2020).

Each picks operations (shear, translate, rotate, brightness, colour, contrast, sharpness, posterize,
solarize, autocontrast, equalize, invert) and magnitudes from torchvision's tables, drawing its random numbers
with shenjing's ``randint`` / ``rand`` in torchvision's order. Images are PIL images or uint8 tensor images
(..., C, H, W), as torchvision requires (posterize and equalize need uint8).

>>> import shenjing
>>> image = shenjing.randint(0, 256, (3, 16, 16), dtype=shenjing.uint8)
>>> RandAugment(num_ops=2, magnitude=9)(image).shape
shenjing.Size([3, 16, 16])
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

import numpy as np

import shenjing
from shenjing._tensor import Tensor
from shenjing.vision.transforms import functional as F
from shenjing.vision.transforms.functional import InterpolationMode
from shenjing.vision.transforms.transforms import _rng, _Transform

__all__ = ["AutoAugmentPolicy", "AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix"]


def _apply_op(image: Any, op_name: str, magnitude: float, interpolation: Any, fill: Any) -> Any:
    """One augmentation operation at ``magnitude`` (its meaning per operation as in torchvision)."""
    if op_name == "ShearX":  # shear by atan(magnitude) about the top-left corner
        return F.affine(image, 0.0, [0, 0], 1.0, [math.degrees(math.atan(magnitude)), 0.0], interpolation, fill,
                        center=[0, 0])
    if op_name == "ShearY":
        return F.affine(image, 0.0, [0, 0], 1.0, [0.0, math.degrees(math.atan(magnitude))], interpolation, fill,
                        center=[0, 0])
    if op_name == "TranslateX":
        return F.affine(image, 0.0, [int(magnitude), 0], 1.0, [0.0, 0.0], interpolation, fill)
    if op_name == "TranslateY":
        return F.affine(image, 0.0, [0, int(magnitude)], 1.0, [0.0, 0.0], interpolation, fill)
    if op_name == "Rotate":
        return F.rotate(image, magnitude, interpolation, fill=fill)
    if op_name == "Brightness":
        return F.adjust_brightness(image, 1.0 + magnitude)
    if op_name == "Color":
        return F.adjust_saturation(image, 1.0 + magnitude)
    if op_name == "Contrast":
        return F.adjust_contrast(image, 1.0 + magnitude)
    if op_name == "Sharpness":
        return F.adjust_sharpness(image, 1.0 + magnitude)
    if op_name == "Posterize":
        return F.posterize(image, int(magnitude))
    if op_name == "Solarize":
        return F.solarize(image, magnitude)
    if op_name == "AutoContrast":
        return F.autocontrast(image)
    if op_name == "Equalize":
        return F.equalize(image)
    if op_name == "Invert":
        return F.invert(image)
    if op_name == "Identity":
        return image
    raise ValueError(f"The provided operator {op_name} is not recognized.")


def _linspace(start: float, end: float, steps: int) -> np.ndarray:
    return shenjing.linspace(start, end, steps).numpy()


def _posterize_bits(top: int, num_bins: int, spread: int) -> np.ndarray:
    """top - round(i / ((num_bins - 1) / spread)) for i < num_bins (float32, ties to even, as torch)."""
    return top - np.round(np.arange(num_bins, dtype=np.float32) / np.float32((num_bins - 1) / spread)).astype(np.int64)


def _space(num_bins: int, height: int, width: int, shear: float = 0.3, translate: tuple[float, float] | None = None,
           rotate: float = 30.0, enhance: float = 0.9, posterize: tuple[int, int] = (8, 4)) -> dict:
    """op name -> (magnitudes, signed): torchvision's table; None magnitudes for the operations without one."""
    translate = translate or (150.0 / 331.0 * width, 150.0 / 331.0 * height)
    return {"ShearX": (_linspace(0.0, shear, num_bins), True), "ShearY": (_linspace(0.0, shear, num_bins), True),
            "TranslateX": (_linspace(0.0, translate[0], num_bins), True),
            "TranslateY": (_linspace(0.0, translate[1], num_bins), True),
            "Rotate": (_linspace(0.0, rotate, num_bins), True),
            "Brightness": (_linspace(0.0, enhance, num_bins), True), "Color": (_linspace(0.0, enhance, num_bins), True),
            "Contrast": (_linspace(0.0, enhance, num_bins), True),
            "Sharpness": (_linspace(0.0, enhance, num_bins), True),
            "Posterize": (_posterize_bits(posterize[0], num_bins, posterize[1]), False),
            "Solarize": (_linspace(255.0, 0.0, num_bins), False),
            "AutoContrast": (None, False), "Equalize": (None, False)}


def _randint(high: int, low: int = 0) -> int:
    return int(shenjing.randint(low, high, (1,)).item())


def _fill_for(image: Any, fill: Any) -> Any:
    if isinstance(image, Tensor) and isinstance(fill, (int, float)):
        return [float(fill)] * F.get_dimensions(image)[0]
    return None if fill is None else fill if isinstance(fill, (int, float)) else [float(f) for f in fill]


class AutoAugmentPolicy(Enum):
    """The policies AutoAugment learned on ImageNet, CIFAR-10 and SVHN."""

    IMAGENET = "imagenet"
    CIFAR10 = "cifar10"
    SVHN = "svhn"


_POLICIES = {
    AutoAugmentPolicy.IMAGENET: [
        (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)), (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)), (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)), (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
        (("Solarize", 0.6, 3), ("Equalize", 0.6, None)), (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
        (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)), (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
        (("Rotate", 0.8, 8), ("Color", 0.4, 0)), (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
        (("Equalize", 0.0, None), ("Equalize", 0.8, None)), (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)), (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
        (("Color", 0.8, 8), ("Solarize", 0.8, 7)), (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
        (("ShearX", 0.6, 5), ("Equalize", 1.0, None)), (("Color", 0.4, 0), ("Equalize", 0.6, None)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)), (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)), (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None))],
    AutoAugmentPolicy.CIFAR10: [
        (("Invert", 0.1, None), ("Contrast", 0.2, 6)), (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
        (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)), (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.5, None), ("Equalize", 0.9, None)), (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
        (("Color", 0.4, 3), ("Brightness", 0.6, 7)), (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
        (("Equalize", 0.6, None), ("Equalize", 0.5, None)), (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
        (("Color", 0.7, 7), ("TranslateX", 0.5, 8)), (("Equalize", 0.3, None), ("AutoContrast", 0.4, None)),
        (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)), (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
        (("Solarize", 0.5, 2), ("Invert", 0.0, None)), (("Equalize", 0.2, None), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.2, None), ("Equalize", 0.6, None)), (("Color", 0.9, 9), ("Equalize", 0.6, None)),
        (("AutoContrast", 0.8, None), ("Solarize", 0.2, 8)), (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
        (("Solarize", 0.4, 5), ("AutoContrast", 0.9, None)), (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.9, None), ("Solarize", 0.8, 3)), (("Equalize", 0.8, None), ("Invert", 0.1, None)),
        (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, None))],
    AutoAugmentPolicy.SVHN: [
        (("ShearX", 0.9, 4), ("Invert", 0.2, None)), (("ShearY", 0.9, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.6, None), ("Solarize", 0.6, 6)), (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Equalize", 0.6, None), ("Rotate", 0.9, 3)), (("ShearX", 0.9, 4), ("AutoContrast", 0.8, None)),
        (("ShearY", 0.9, 8), ("Invert", 0.4, None)), (("ShearY", 0.9, 5), ("Solarize", 0.2, 6)),
        (("Invert", 0.9, None), ("AutoContrast", 0.8, None)), (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("Solarize", 0.3, 3)), (("ShearY", 0.8, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.9, None), ("TranslateY", 0.6, 6)), (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Contrast", 0.3, 3), ("Rotate", 0.8, 4)), (("Invert", 0.8, None), ("TranslateY", 0.0, 2)),
        (("ShearY", 0.7, 6), ("Solarize", 0.4, 8)), (("Invert", 0.6, None), ("Rotate", 0.8, 4)),
        (("ShearY", 0.3, 7), ("TranslateX", 0.9, 3)), (("ShearX", 0.1, 6), ("Invert", 0.6, None)),
        (("Solarize", 0.7, 2), ("TranslateY", 0.6, 7)), (("ShearY", 0.8, 4), ("Invert", 0.8, None)),
        (("ShearX", 0.7, 9), ("TranslateY", 0.8, 3)), (("ShearY", 0.8, 5), ("AutoContrast", 0.7, None)),
        (("ShearX", 0.7, 2), ("Invert", 0.1, None))],
}


class AutoAugment(_Transform):
    """Apply one of a policy's 25 sub-policies, picked at random: two operations, each applied with its
    probability at its magnitude (one of 10 bins; signed operations get a random sign)."""

    def __init__(self, policy: AutoAugmentPolicy = AutoAugmentPolicy.IMAGENET,
                 interpolation: InterpolationMode = InterpolationMode.NEAREST, fill: Any = None) -> None:
        if policy not in _POLICIES:
            raise ValueError(f"The provided policy {policy} is not recognized.")
        self.policy, self.interpolation, self.fill = policy, interpolation, fill
        self.policies = _POLICIES[policy]

    @staticmethod
    def get_params(transform_num: int) -> tuple[int, Tensor, Tensor]:
        """(sub-policy index, two probabilities in [0, 1), two signs in {0, 1})."""
        return _randint(transform_num), shenjing.rand(2), shenjing.randint(0, 2, (2,))

    def __call__(self, image: Any) -> Any:
        fill = _fill_for(image, self.fill)
        transform_id, probs, signs = self.get_params(len(self.policies))
        _, height, width = F.get_dimensions(image)
        space = _space(10, height, width)
        space["Invert"] = (None, False)
        for i, (op_name, p, magnitude_id) in enumerate(self.policies[transform_id]):
            if probs[i].item() <= p:
                magnitudes, signed = space[op_name]
                magnitude = float(magnitudes[magnitude_id]) if magnitude_id is not None else 0.0
                if signed and signs[i].item() == 0:
                    magnitude *= -1.0
                image = _apply_op(image, op_name, magnitude, self.interpolation, fill)
        return image

    def __repr__(self) -> str:
        return f"{type(self).__name__}(policy={self.policy}, fill={self.fill})"


class RandAugment(_Transform):
    """Apply ``num_ops`` operations chosen uniformly (with Identity), all at bin ``magnitude`` of
    ``num_magnitude_bins``; signed operations get a random sign."""

    _repr_fields = ("num_ops", "magnitude", "num_magnitude_bins", "interpolation", "fill")

    def __init__(self, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31,
                 interpolation: InterpolationMode = InterpolationMode.NEAREST, fill: Any = None) -> None:
        self.num_ops, self.magnitude, self.num_magnitude_bins = num_ops, magnitude, num_magnitude_bins
        self.interpolation, self.fill = interpolation, fill

    def __call__(self, image: Any) -> Any:
        fill = _fill_for(image, self.fill)
        for _ in range(self.num_ops):
            _, height, width = F.get_dimensions(image)
            space = {"Identity": (None, False), **_space(self.num_magnitude_bins, height, width)}
            op_name = list(space)[_randint(len(space))]
            magnitudes, signed = space[op_name]
            magnitude = float(magnitudes[self.magnitude]) if magnitudes is not None else 0.0
            if signed and _randint(2):
                magnitude *= -1.0
            image = _apply_op(image, op_name, magnitude, self.interpolation, fill)
        return image


class TrivialAugmentWide(_Transform):
    """Apply one operation chosen uniformly, at a magnitude chosen uniformly among ``num_magnitude_bins`` of
    the wide ranges (shear 0.99, translate 32 pixels, rotate 135 degrees, enhancements 0.99)."""

    _repr_fields = ("num_magnitude_bins", "interpolation", "fill")

    def __init__(self, num_magnitude_bins: int = 31, interpolation: InterpolationMode = InterpolationMode.NEAREST,
                 fill: Any = None) -> None:
        self.num_magnitude_bins, self.interpolation, self.fill = num_magnitude_bins, interpolation, fill

    def __call__(self, image: Any) -> Any:
        fill = _fill_for(image, self.fill)
        _, height, width = F.get_dimensions(image)
        space = {"Identity": (None, False), **_space(self.num_magnitude_bins, height, width, shear=0.99,
                                                     translate=(32.0, 32.0), rotate=135.0, enhance=0.99,
                                                     posterize=(8, 6))}
        op_name = list(space)[_randint(len(space))]
        magnitudes, signed = space[op_name]
        magnitude = float(magnitudes[_randint(len(magnitudes))]) if magnitudes is not None else 0.0
        if signed and _randint(2):
            magnitude *= -1.0
        return _apply_op(image, op_name, magnitude, self.interpolation, fill)


class AugMix(_Transform):
    """Mix the image with ``mixture_width`` chains of 1-3 (or ``chain_depth``) random operations of magnitude
    below ``severity`` (of 10): out = m0 image + m1 sum_i w_i chain_i(image), (m0, m1) ~ Dirichlet(alpha, alpha),
    w ~ Dirichlet(alpha, ..., alpha). ``all_ops`` adds brightness, colour, contrast and sharpness.
    (The Dirichlet draws come from shenjing's generator but are not PyTorch's numbers.)"""

    _repr_fields = ("severity", "mixture_width", "chain_depth", "alpha", "all_ops", "interpolation", "fill")
    _PARAMETER_MAX = 10

    def __init__(self, severity: int = 3, mixture_width: int = 3, chain_depth: int = -1, alpha: float = 1.0,
                 all_ops: bool = True, interpolation: InterpolationMode = InterpolationMode.BILINEAR,
                 fill: Any = None) -> None:
        if not 1 <= severity <= self._PARAMETER_MAX:
            raise ValueError(f"The severity must be between [1, {self._PARAMETER_MAX}]. Got {severity} instead.")
        self.severity, self.mixture_width, self.chain_depth = severity, mixture_width, chain_depth
        self.alpha, self.all_ops, self.interpolation, self.fill = alpha, all_ops, interpolation, fill

    def _space(self, height: int, width: int) -> dict:
        space = _space(self._PARAMETER_MAX, height, width, translate=(width / 3.0, height / 3.0), posterize=(4, 4))
        if not self.all_ops:
            for name in ("Brightness", "Color", "Contrast", "Sharpness"):
                del space[name]
        order = ["ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Posterize", "Solarize", "AutoContrast",
                 "Equalize", "Brightness", "Color", "Contrast", "Sharpness"]
        return {name: space[name] for name in order if name in space}

    def __call__(self, original: Any) -> Any:
        fill = _fill_for(original, self.fill)
        channels, height, width = F.get_dimensions(original)
        image = original if isinstance(original, Tensor) else F.pil_to_tensor(original)
        space = self._space(height, width)
        dims = list(image.shape)
        batch = image.reshape([1] * max(4 - image.ndim, 0) + dims)
        count = batch.shape[0]
        weights_shape = [count] + [1] * (batch.ndim - 1)
        rng = _rng()
        m = rng.dirichlet([self.alpha, self.alpha], size=count)
        combined = rng.dirichlet([self.alpha] * self.mixture_width, size=count) * m[:, 1:2]
        mix = m[:, 0].reshape(weights_shape).astype(np.float32) * batch.numpy().astype(np.float32)
        for i in range(self.mixture_width):
            augmented = batch
            depth = self.chain_depth if self.chain_depth > 0 else _randint(4, low=1)
            for _ in range(depth):
                op_name = list(space)[_randint(len(space))]
                magnitudes, signed = space[op_name]
                magnitude = float(magnitudes[_randint(self.severity)]) if magnitudes is not None else 0.0
                if signed and _randint(2):
                    magnitude *= -1.0
                augmented = _apply_op(augmented, op_name, magnitude, self.interpolation, fill)
            mix += combined[:, i].reshape(weights_shape).astype(np.float32) * augmented.numpy()
        result = Tensor._make(mix.reshape(dims).astype(image.numpy().dtype))
        return result if isinstance(original, Tensor) else F.to_pil_image(result)
