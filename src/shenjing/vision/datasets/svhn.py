"""SVHN (Netzer et al., 2011): 32x32 colour crops of house-number digits, read from torchvision's layout
``root/train_32x32.mat``, ``test_32x32.mat``, ``extra_32x32.mat``.

The files are MATLAB .mat files, which need SciPy's ``scipy.io.loadmat`` (it reads arrays, never code). SciPy
is not a dependency of shenjing: without it, SVHN raises an ImportError that says so and how to install it.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from shenjing.vision.datasets._archive import check_file
from shenjing.vision.datasets._download import download_url
from shenjing.vision.datasets.vision import ChannelsFirstImages

__all__ = ["SVHN"]


def _loadmat() -> Any:
    try:
        from scipy.io import loadmat
    except ImportError:
        raise ImportError("SVHN's files are MATLAB .mat files, read with scipy.io.loadmat; SciPy is not installed "
                          "(it is not a dependency of shenjing): pip install scipy") from None
    return loadmat


class SVHN(ChannelsFirstImages):
    """The Street View House Numbers: items ``(image, label)``, label 0-9 (the files' 10 is digit 0).

    Attributes: ``data`` (uint8 ndarray N x 3 x 32 x 32, as torchvision's), ``labels`` (int64 ndarray N).

    Args:
        root: the folder holding ``<split>_32x32.mat``.
        split: ``"train"``, ``"test"`` or ``"extra"``.
        transform / target_transform: applied to each image (PIL with pillow, else 32x32x3 uint8) / label.
        download: fetch the split's file into ``root`` (verified by MD5).
    """

    split_list = {"train": ["http://ufldl.stanford.edu/housenumbers/train_32x32.mat", "train_32x32.mat",
                            "e26dedcc434d2e4c54c9b2d4a06d8373"],
                  "test": ["http://ufldl.stanford.edu/housenumbers/test_32x32.mat", "test_32x32.mat",
                           "eb5a983be6a315427106f1b164d9cef3"],
                  "extra": ["http://ufldl.stanford.edu/housenumbers/extra_32x32.mat", "extra_32x32.mat",
                            "a93ce644f1a588dc4d68dda5feec44a7"]}

    def __init__(self, root: str | os.PathLike, split: str = "train", transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        if split not in self.split_list:
            raise ValueError(f"Unknown value '{split}' for argument split. Valid values are "
                             f"{{'train', 'test', 'extra'}}.")
        self.split = split
        self.url, self.filename, self.file_md5 = self.split_list[split]
        path = self.root / self.filename
        if download and not path.is_file():
            download_url([self.url], path, self.file_md5)
        loadmat = _loadmat()
        check_file(path, self.file_md5, "SVHN", f"Pass download=True, or download {self.url} into {self.root}.")
        loaded = loadmat(str(path))
        if "X" not in loaded or "y" not in loaded or np.asarray(loaded["X"]).ndim != 4:
            raise ValueError(f"{path}: not an SVHN file (expected arrays X, 32 x 32 x 3 x N, and y)")
        self.data = np.transpose(np.asarray(loaded["X"], dtype=np.uint8), (3, 2, 0, 1))
        self.labels = np.asarray(loaded["y"]).astype(np.int64).squeeze(-1) % 10
