"""VisionDataset: the common base of the image datasets (root folder, transforms, a readable repr)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from shenjing.utils.data import Dataset

__all__ = ["VisionDataset"]


class VisionDataset(Dataset):
    """A dataset of (image, target) pairs read from ``root``, with optional per-item transforms.

    Args:
        root: the folder the data lives in (``~`` is expanded), or ``None`` where a dataset has a default.
        transform: applied to each image (e.g. ``transforms.ToTensor()``).
        target_transform: applied to each target (label).
    """

    def __init__(self, root: str | os.PathLike | None, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.root = None if root is None else Path(os.path.expanduser(os.fspath(root)))
        self.transform = transform
        self.target_transform = target_transform

    def _apply_transforms(self, image: Any, target: Any) -> tuple[Any, Any]:
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def _image_item(self, image: Any, target: Any) -> tuple[Any, Any]:
        """An HxWxC uint8 array as a PIL image (the array itself without pillow), then the transforms."""
        from shenjing.vision._pil import pil_image_module

        pil = pil_image_module()
        image = pil.fromarray(image) if pil is not None else image.copy()
        return self._apply_transforms(image, target)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"Number of datapoints: {len(self)}",
                 f"Root location: {self.root if self.root is not None else '(bundled sample)'}"]
        lines += [line for line in self.extra_repr().splitlines() if line]
        for name in ("transform", "target_transform"):
            value = getattr(self, name)
            if value is not None:
                text = repr(value).replace("\n", "\n" + " " * 4)
                lines.append(f"{'Transform' if name == 'transform' else 'Target transform'}: {text}")
        return "\n".join([f"Dataset {type(self).__name__}"] + ["    " + line for line in lines])


class ChannelsFirstImages(VisionDataset):
    """A data set held as ``data`` (N, C, H, W) uint8 and ``labels`` (N,), with a ``split`` (SVHN, STL10):
    item i is image i as H x W x C (a PIL image with pillow) and its label, through the transforms."""

    data: Any
    labels: Any
    split: str

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, target = np.transpose(self.data[index], (1, 2, 0)), int(self.labels[index])
        return self._image_item(image, target)

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
