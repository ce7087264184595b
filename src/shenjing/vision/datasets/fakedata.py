"""``FakeData``: random images with random labels, for trying a pipeline without any data on disk."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from shenjing._creation import from_numpy
from shenjing.vision._pil import pil_image_module
from shenjing.vision.datasets.vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """``size`` images of ``image_size`` (C, H, W) with labels in 0..num_classes-1. Item i is the same on every
    read: its values come from a generator seeded with i + ``random_offset``. Images are PIL images (as
    torchvision's) when pillow is installed, else uint8 tensors (C, H, W).

    >>> from shenjing.vision.datasets import FakeData
    >>> data = FakeData(size=10, image_size=(1, 8, 8), num_classes=3)
    >>> len(data), 0 <= data[0][1] < 3
    (10, True)
    """

    def __init__(self, size: int = 1000, image_size: Sequence[int] = (3, 224, 224), num_classes: int = 10,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 random_offset: int = 0) -> None:
        super().__init__(None, transform, target_transform)
        if size < 0 or num_classes <= 0 or len(image_size) != 3:
            raise ValueError(f"FakeData: size >= 0, num_classes > 0 and image_size (C, H, W) expected, got "
                             f"size={size}, num_classes={num_classes}, image_size={tuple(image_size)}")
        self.size, self.image_size, self.num_classes = size, tuple(image_size), num_classes
        self.random_offset = random_offset

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[Any, int]:
        if not -self.size <= index < self.size:
            raise IndexError(f"{type(self).__name__} index out of range: {index} (size {self.size})")
        index %= max(self.size, 1)
        rng = np.random.default_rng(index + self.random_offset)
        pixels = rng.integers(0, 256, self.image_size, dtype=np.uint8)
        target = int(rng.integers(0, self.num_classes))
        image_module = pil_image_module()
        if image_module is None:
            image: Any = from_numpy(pixels)
        else:
            channels = self.image_size[0]
            layout = pixels[0] if channels == 1 else pixels.transpose(1, 2, 0)
            image = image_module.fromarray(np.ascontiguousarray(layout), {1: "L", 3: "RGB", 4: "RGBA"}.get(channels))
        return self._apply_transforms(image, target)
