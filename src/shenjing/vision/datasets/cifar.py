"""CIFAR-10 and CIFAR-100 (A. Krizhevsky, 2009): 32x32 colour images, 10 or 100 classes, read from a local
copy in torchvision's layout::

    root/cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch, batches.meta
    root/cifar-100-python/train, test, meta

Each file is checked against the MD5 torchvision lists, then read with a pickle reader that refuses every
global but the few a NumPy array needs (``_safe_pickle``): no object from the file is ever built or called.
``download=True`` fetches and unpacks the archive into ``root``.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from shenjing.vision.datasets._archive import check_file, download_and_extract
from shenjing.vision.datasets._idx import read_regular_file
from shenjing.vision.datasets._safe_pickle import UnsafePickleError, load_data_pickle
from shenjing.vision.datasets.vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100"]


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 training and 10,000 test images (32x32 RGB) of 10 classes; items ``(image, label)``.

    The image is a PIL image (RGB) with pillow, else a 32x32x3 uint8 ndarray. Attributes: ``data`` (uint8
    ndarray N x 32 x 32 x 3, as torchvision's), ``targets`` (list of int), ``classes``, ``class_to_idx``.

    Args:
        root: the folder holding ``cifar-10-batches-py/`` (``cifar-100-python/`` for CIFAR100).
        train: the five training batches, else the test batch.
        transform / target_transform: applied to each image / label.
        download: fetch the archive from the authors' site into ``root`` and unpack it (when a file is
            missing or corrupt).
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [["data_batch_1", "c99cafc152244af753f735de768cd75f"],
                  ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
                  ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
                  ["data_batch_4", "634d18415352ddfa80567beed471001a"],
                  ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"]]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names", "md5": "5ff9c542aee3614f3951f8cda6e48888"}

    def __init__(self, root: str | os.PathLike, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        if download:
            self.download()
        data, targets = [], []
        for file_name, md5 in (self.train_list if train else self.test_list):
            entry = self._read(file_name, md5)
            labels = entry.get("labels", entry.get("fine_labels"))
            if not isinstance(entry.get("data"), np.ndarray) or not isinstance(labels, list):
                raise UnsafePickleError(f"{self._path(file_name)}: not a CIFAR batch (expected 'data' and "
                                        f"'labels' or 'fine_labels')")
            data.append(entry["data"])
            targets.extend(int(label) for label in labels)
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1)).astype(np.uint8)
        self.targets = targets
        if len(self.data) != len(self.targets):
            raise UnsafePickleError(f"{root}: {len(self.data)} images but {len(self.targets)} labels")
        names = self._read(self.meta["filename"], self.meta["md5"]).get(self.meta["key"])
        self.classes = [str(name) for name in names]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    def _path(self, file_name: str) -> Any:
        return self.root / self.base_folder / file_name

    def _fix(self) -> str:
        return (f"Pass download=True, or unpack {self.filename} (from {self.url}) into {self.root} so that "
                f"{self.root / self.base_folder}/ holds its files.")

    def _read(self, file_name: str, md5: str) -> dict:
        path = self._path(file_name)
        check_file(path, md5, type(self).__name__, self._fix())
        entry = load_data_pickle(read_regular_file(path, "CIFAR file"), str(path))
        if not isinstance(entry, dict):
            raise UnsafePickleError(f"{path}: not a CIFAR file (expected a pickled dict)")
        return entry

    def _check_integrity(self) -> bool:
        try:
            for file_name, md5 in self.train_list + self.test_list + [[self.meta["filename"], self.meta["md5"]]]:
                check_file(self._path(file_name), md5, type(self).__name__, "")
        except (OSError, ValueError):
            return False
        return True

    def download(self) -> None:
        """Fetch and unpack the archive into ``root`` unless every file is already there and intact."""
        if self._check_integrity():
            return
        download_and_extract([self.url], self.root / self.filename, self.tgz_md5, self.root)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, target = self.data[index], self.targets[index]
        return self._image_item(image, target)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100: as ``CIFAR10`` with 100 classes (the fine labels), files in ``root/cifar-100-python/``."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": "7973b15100ade9c7d40fb424638fde48"}
