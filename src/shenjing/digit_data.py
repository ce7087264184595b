"""Handwritten digits for the command line's digit models: the MNIST loaders ``shenjing train`` uses, and
reading a digit from an image file the way MNIST's digits were prepared (``shenjing predict``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import shenjing

__all__ = ["MNIST_MEAN", "MNIST_STD", "NoDigitError", "digit_transform", "digit_loaders", "load_digit_image",
           "digit_pixels"]

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
# a grey image whose lightest and darkest pixels differ by less than this (of 255) holds no digit
BLANK_CONTRAST = 32


class NoDigitError(ValueError):
    """An image without a digit in it: one flat colour (after any transparency is filled in)."""


def digit_transform(channels: int = 1, size: int = 28, augment: bool = False) -> Any:
    """A digit (PIL image or uint8 array) -> normalised tensor (channels, size, size), with small random
    shifts, rotations and scalings when ``augment``. Works without pillow (tensor transforms only)."""
    from shenjing.vision import transforms as T

    steps: list[Any] = [T.ToTensor()]
    if augment:
        steps.append(T.RandomAffine(degrees=8, translate=(0.08, 0.08), scale=(0.95, 1.05)))
    if size != 28:
        steps.append(T.Pad((size - 28) // 2))
    if channels == 3:
        steps.append(T.Lambda(_grey_to_rgb))
    steps.append(T.Normalize((MNIST_MEAN,) * channels, (MNIST_STD,) * channels))
    return T.Compose(steps)


def _grey_to_rgb(image: shenjing.Tensor) -> shenjing.Tensor:
    """The grey value in all three channels: what ``Image.convert('RGB')`` does to a greyscale digit."""
    return image.repeat(3, 1, 1)


def digit_loaders(options: Any, batch_size: int, channels: int = 1, size: int = 28,
                  augment: bool = True) -> tuple[Any, Any]:
    """Training and test DataLoaders of handwritten digits (the bundled sample unless ``options.data_dir``);
    ``options`` has ``data_dir``, ``download`` and ``seed`` (the shuffling's seed)."""
    from shenjing.utils.data import DataLoader
    from shenjing.vision.datasets import MNIST

    root = options.data_dir
    train = MNIST(root, train=True, download=options.download,
                  transform=digit_transform(channels, size, augment))
    test = MNIST(root, train=False, download=options.download, transform=digit_transform(channels, size))
    generator = shenjing.Generator().manual_seed(options.seed)
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator),
            DataLoader(test, batch_size=500))


def digit_pixels(image: Any) -> np.ndarray:
    """A PIL image as greyscale float32 pixels (0-255) with light ink on a dark background.

    Transparency is filled in first with the background the ink is not: the opaque pixels' mean grey
    decides whether the ink is dark (then the background is white) or light (black), so ink drawn on
    a transparent canvas is kept. The result is inverted when the paper is light (mean above 127).
    Raises NoDigitError for an image of one flat colour.
    """
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3] / 255.0
        grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601, as convert("L")
        if alpha.sum() == 0:
            raise NoDigitError("holds no digit: every pixel is fully transparent")
        ink_is_dark = float((grey * alpha).sum() / alpha.sum()) < 128
        background = 255.0 if ink_is_dark else 0.0
        pixels = grey * alpha + background * (1 - alpha)
    else:
        pixels = np.asarray(image.convert("L"), dtype=np.float32)
    if float(pixels.max() - pixels.min()) < BLANK_CONTRAST:
        raise NoDigitError(f"holds no digit: the image is one flat colour (its pixels differ by at most "
                           f"{pixels.max() - pixels.min():.0f} of 255)")
    if pixels.mean() > 127:
        pixels = 255 - pixels
    return pixels


def load_digit_image(path: str, channels: int = 1, size: int = 28) -> shenjing.Tensor:
    """An image file of one digit, prepared like an MNIST digit: greyscale, light ink on a dark
    background (see ``digit_pixels``), the ink's bounding box scaled into 20x20 and centred in 28x28,
    then padded to ``size`` and normalised. Returns (channels, size, size); NoDigitError for a blank image."""
    from shenjing.vision._pil import require_pil

    Image = require_pil("reading an image file")
    with Image.open(path) as opened:
        pixels = digit_pixels(opened)
    ink = np.argwhere(pixels > pixels.min() + 0.3 * (pixels.max() - pixels.min()))
    (top, left), (bottom, right) = ink.min(0), ink.max(0) + 1
    pixels = pixels[top:bottom, left:right]
    height, width = pixels.shape
    scale = 20.0 / max(height, width)
    box = Image.fromarray(pixels.astype(np.uint8)).resize(
        (max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR)
    canvas = np.zeros((28, 28), np.uint8)
    top, left = (28 - box.height) // 2, (28 - box.width) // 2
    canvas[top:top + box.height, left:left + box.width] = np.asarray(box)
    return digit_transform(channels, size)(canvas)
