"""STL-10 (Coates, Lee and Ng, 2011): 96x96 colour images of 10 classes plus 100,000 unlabelled ones, read from
torchvision's layout ``root/stl10_binary/`` (``train_X.bin``, ``train_y.bin``, ``test_X.bin``, ``test_y.bin``,
``unlabeled_X.bin``: raw uint8 bytes, images stored column-major; ``class_names.txt``, ``fold_indices.txt``).
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from shenjing.vision.datasets._archive import check_file, download_and_extract
from shenjing.vision.datasets._idx import read_regular_file
from shenjing.vision.datasets.vision import ChannelsFirstImages

__all__ = ["STL10"]

_IMAGE_BYTES = 3 * 96 * 96


class STL10(ChannelsFirstImages):
    """STL-10: items ``(image, label)``; label -1 for unlabelled images.

    Attributes: ``data`` (uint8 ndarray N x 3 x 96 x 96, as torchvision's), ``labels`` (ndarray N, 0-9 or -1),
    ``classes`` (from ``class_names.txt`` when present).

    Args:
        root: the folder holding ``stl10_binary/``.
        split: ``"train"``, ``"train+unlabeled"``, ``"unlabeled"`` or ``"test"``.
        folds: 0-9 selects one of the ten predefined 1,000-image training folds (``fold_indices.txt``);
            None, all 5,000.
        transform / target_transform: applied to each image (PIL with pillow, else 96x96x3 uint8) / label.
        download: fetch and unpack the archive (2.6 GB) into ``root``.
    """

    base_folder = "stl10_binary"
    url = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
    filename = "stl10_binary.tar.gz"
    tgz_md5 = "91f7769df0f17e558f3565bffb0c7dfb"
    class_names_file = "class_names.txt"
    folds_list_file = "fold_indices.txt"
    train_list = [["train_X.bin", "918c2871b30a85fa023e0c44e0bee87f"],
                  ["train_y.bin", "5a34089d4802c674881badbb80307741"],
                  ["unlabeled_X.bin", "5242ba1fed5e4be9e1e742405eb56ca4"]]
    test_list = [["test_X.bin", "7f263ba9f9e0b06b93213547f721ac82"],
                 ["test_y.bin", "36f9794fa4beb8a2c72628de14fa638e"]]
    splits = ("train", "train+unlabeled", "unlabeled", "test")

    def __init__(self, root: str | os.PathLike, split: str = "train", folds: int | None = None,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        if split not in self.splits:
            raise ValueError(f"Unknown value '{split}' for argument split. Valid values are "
                             f"{{{', '.join(repr(s) for s in self.splits)}}}.")
        if folds is not None and not (isinstance(folds, int) and 0 <= folds < 10):
            raise ValueError(f"Value for argument folds should be in the range [0, 10), but got {folds}.")
        self.split, self.folds = split, folds
        if download:
            self.download()
        checksums = dict(self.train_list + self.test_list)
        if split in ("train", "train+unlabeled"):
            self.data, self.labels = self._load("train_X.bin", "train_y.bin", checksums)
            self._select_fold(folds)
        if split == "train+unlabeled":
            unlabeled, _ = self._load("unlabeled_X.bin", None, checksums)
            self.data = np.concatenate((self.data, unlabeled))
            self.labels = np.concatenate((self.labels, np.full(len(unlabeled), -1, dtype=self.labels.dtype)))
        elif split == "unlabeled":
            self.data, _ = self._load("unlabeled_X.bin", None, checksums)
            self.labels = np.full(len(self.data), -1, dtype=np.int64)
        elif split == "test":
            self.data, self.labels = self._load("test_X.bin", "test_y.bin", checksums)
        class_file = self.root / self.base_folder / self.class_names_file
        if class_file.is_file():
            self.classes = class_file.read_text().splitlines()

    def _fix(self) -> str:
        return (f"Pass download=True, or unpack {self.filename} (from {self.url}) into {self.root} so that "
                f"{self.root / self.base_folder}/ holds its files.")

    def _load(self, data_file: str, labels_file: str | None, checksums: dict) -> tuple[np.ndarray, Any]:
        labels = None
        if labels_file is not None:
            path = self.root / self.base_folder / labels_file
            check_file(path, checksums[labels_file], "STL10", self._fix())
            labels = np.frombuffer(read_regular_file(path, "STL10 file"), dtype=np.uint8).astype(np.int64) - 1
        path = self.root / self.base_folder / data_file
        check_file(path, checksums[data_file], "STL10", self._fix())
        raw = np.frombuffer(read_regular_file(path, "STL10 file"), dtype=np.uint8)
        if raw.size % _IMAGE_BYTES:
            raise ValueError(f"{path}: {raw.size} bytes is not a whole number of 3 x 96 x 96 images")
        images = np.transpose(raw.reshape(-1, 3, 96, 96), (0, 1, 3, 2)).copy()
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"{path}: {len(images)} images but {labels_file} has {len(labels)} labels")
        return images, labels

    def _select_fold(self, folds: int | None) -> None:
        if folds is None:
            return
        path = self.root / self.base_folder / self.folds_list_file
        check_file(path, None, "STL10", self._fix())
        indices = np.array(path.read_text().splitlines()[folds].split(), dtype=np.int64)
        self.data, self.labels = self.data[indices], self.labels[indices]

    def download(self) -> None:
        """Fetch and unpack the archive into ``root`` unless the files are already there and intact."""
        try:
            for name, md5 in self.train_list + self.test_list:
                check_file(self.root / self.base_folder / name, md5, "STL10", "")
            return
        except (OSError, ValueError):
            download_and_extract([self.url], self.root / self.filename, self.tgz_md5, self.root)
