"""EMNIST and QMNIST: MNIST's relatives, in MNIST's IDX format, read from torchvision's layout
``root/<Name>/raw/`` (or ``root``), files optionally compressed (``.gz``; QMNIST's ``nist`` files ``.xz``).

- EMNIST (Cohen et al., 2017): handwritten digits and letters of NIST Special Database 19, six splits, files
  ``emnist-<split>-<train|test>-images-idx3-ubyte`` / ``-labels-idx1-ubyte``. As in torchvision, the images are
  given as stored (EMNIST's files hold them transposed).
- QMNIST (Yadav and Bottou, 2019): MNIST's digits reconstructed from NIST with 8 label columns per image
  (class, NIST series, writer, ...), files ``qmnist-<train|test>-images-idx3-ubyte`` /
  ``-labels-idx2-int`` and ``xnist-*`` for ``what="nist"``.
"""

from __future__ import annotations

import lzma
import os
import shutil
import string
from pathlib import Path
from typing import Any, Callable

import numpy as np

from shenjing.vision._pil import pil_image_module
from shenjing.vision.datasets._archive import download_and_extract
from shenjing.vision.datasets._download import download_url
from shenjing.vision.datasets._idx import IMAGES_MAGIC, IDXFormatError, load_idx
from shenjing.vision.datasets.mnist import MNIST

__all__ = ["EMNIST", "QMNIST"]

QMNIST_LABELS_MAGIC = 0x00000C02  # int32 values in 2 dimensions: N x 8


class EMNIST(MNIST):
    """EMNIST: 28x28 grey images; ``split`` is one of ``byclass`` (62 classes), ``bymerge`` and ``balanced``
    (47), ``letters`` (26, label 0 unused: ``'N/A'``), ``digits`` and ``mnist`` (10).

    Items, attributes and the other arguments are those of ``MNIST``; ``download=True`` fetches NIST's
    ``gzip.zip`` (535 MB) and unpacks its files into ``root/EMNIST/raw/``.

    >>> len(EMNIST.classes_split_dict["balanced"]), EMNIST.classes_split_dict["letters"][:3]
    (47, ['N/A', 'a', 'b'])
    """

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    _merged_classes = {"c", "i", "j", "k", "l", "m", "o", "p", "s", "u", "v", "w", "x", "y", "z"}
    _all_classes = set(string.digits + string.ascii_letters)
    classes_split_dict = {"byclass": sorted(_all_classes), "bymerge": sorted(_all_classes - _merged_classes),
                          "balanced": sorted(_all_classes - _merged_classes),
                          "letters": ["N/A"] + list(string.ascii_lowercase), "digits": list(string.digits),
                          "mnist": list(string.digits)}
    bundled_sample = None

    def __init__(self, root: str | os.PathLike, split: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        if split not in self.splits:
            raise ValueError(f"Unknown value '{split}' for argument split. Valid values are "
                             f"{{{', '.join(repr(s) for s in self.splits)}}}.")
        self.split = split
        self.classes = self.classes_split_dict[split]
        super().__init__(root, train, transform, target_transform, download)

    def _split_files(self) -> tuple[str, str]:
        prefix = f"emnist-{self.split}-{'train' if self.train else 'test'}"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"

    def download(self) -> None:
        """Fetch NIST's gzip.zip (verified by MD5) and put its ``.gz`` files into ``raw_folder``."""
        staging = self.raw_folder / "gzip-download"
        download_and_extract([self.url], self.raw_folder / "gzip.zip", self.md5, staging)
        for packed in sorted(staging.rglob("*.gz")):
            os.replace(packed, self.raw_folder / packed.name)
        shutil.rmtree(staging)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'} ({self.split})"


class QMNIST(MNIST):
    """QMNIST: 28x28 grey digits; ``what`` is ``"train"`` (60,000), ``"test"`` (60,000), ``"test10k"`` (its
    first 10,000, MNIST's test set), ``"test50k"`` (the other 50,000) or ``"nist"`` (all 402,953); None picks
    ``"train"`` or ``"test"`` from ``train``.

    ``targets`` is an int64 tensor N x 8 (class, NIST series, writer id, digit index, ...). With ``compat``
    (default) an item's target is the class as an int; else the row of 8 values (a tensor).
    """

    subsets = {"train": "train", "test": "test", "test10k": "test", "test50k": "test", "nist": "nist"}
    resources = {"train": [("https://raw.githubusercontent.com/facebookresearch/qmnist/master/"
                            "qmnist-train-images-idx3-ubyte.gz", "ed72d4157d28c017586c42bc6afe6370"),
                           ("https://raw.githubusercontent.com/facebookresearch/qmnist/master/"
                            "qmnist-train-labels-idx2-int.gz", "0058f8dd561b90ffdd0f734c6a30e5e4")],
                 "test": [("https://raw.githubusercontent.com/facebookresearch/qmnist/master/"
                           "qmnist-test-images-idx3-ubyte.gz", "1394631089c404de565df7b7aeaf9412"),
                          ("https://raw.githubusercontent.com/facebookresearch/qmnist/master/"
                           "qmnist-test-labels-idx2-int.gz", "5b5b05890a5e13444e108efe57b788aa")],
                 "nist": [("https://raw.githubusercontent.com/facebookresearch/qmnist/master/"
                           "xnist-images-idx3-ubyte.xz", "7f124b3b8ab81486c9d8c2749c17f834"),
                          ("https://raw.githubusercontent.com/facebookresearch/qmnist/master/"
                           "xnist-labels-idx2-int.xz", "5ed0e788978e45d4a8bd4b7caec3d79d")]}
    bundled_sample = None

    def __init__(self, root: str | os.PathLike, what: str | None = None, compat: bool = True, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        if what is None:
            what = "train" if train else "test"
        if what not in self.subsets:
            raise ValueError(f"Unknown value '{what}' for argument what. Valid values are "
                             f"{{{', '.join(repr(s) for s in self.subsets)}}}.")
        self.what, self.compat = what, compat
        super().__init__(root, train, transform, target_transform, download)

    def _split_files(self) -> tuple[str, str]:
        return tuple(Path(url.rsplit("/", 1)[1]).stem for url, _ in self.resources[self.subsets[self.what]])

    @staticmethod
    def _find(folder: Path, name: str) -> Path | None:
        for candidate in (folder / name, folder / f"{name}.gz", folder / f"{name}.xz"):
            if candidate.is_file():
                return candidate
        return None

    def _parse(self, image_bytes: bytes, image_name: str, label_bytes: bytes,
               label_name: str) -> tuple[np.ndarray, np.ndarray]:
        if image_name.endswith(".xz"):
            image_bytes, label_bytes = _unxz(image_bytes, image_name), _unxz(label_bytes, label_name)
            image_name, label_name = image_name[:-3], label_name[:-3]
        images = load_idx(image_bytes, image_name, IMAGES_MAGIC)
        labels = load_idx(label_bytes, label_name, QMNIST_LABELS_MAGIC)
        if len(images) != len(labels):
            raise IDXFormatError(f"{label_name} holds {len(labels)} labels but {image_name} holds {len(images)} "
                                 f"images; the two files must come from the same split")
        if self.what == "test10k":
            images, labels = images[:10000], labels[:10000]
        elif self.what == "test50k":
            images, labels = images[10000:], labels[10000:]
        return images.copy(), labels.copy()

    def download(self) -> None:
        """Fetch this subset's two files into ``raw_folder``, each verified by its MD5."""
        for url, md5 in self.resources[self.subsets[self.what]]:
            name = url.rsplit("/", 1)[1]
            if self._find(self.raw_folder, Path(name).stem) is None:
                download_url([url], self.raw_folder / name, md5)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = self.data._data[index]
        target: Any = int(self.targets._data[index, 0]) if self.compat else self.targets[index]
        pil = pil_image_module()
        image = pil.fromarray(image) if pil is not None else image.copy()
        return self._apply_transforms(image, target)

    def extra_repr(self) -> str:
        return f"Split: {self.what}"


def _unxz(raw: bytes, name: str) -> bytes:
    try:
        return lzma.decompress(raw)
    except lzma.LZMAError as error:
        raise IDXFormatError(f"{name}: corrupt or truncated xz data ({error}); delete the file and download it "
                             f"again") from None
