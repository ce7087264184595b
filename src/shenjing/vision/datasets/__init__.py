"""Image datasets with torchvision's names: ``MNIST`` (with a bundled 5,000-digit sample), ``FashionMNIST``,
``ImageFolder`` / ``DatasetFolder`` (one sub-folder per class), ``FakeData`` (random images).

>>> from shenjing.vision.datasets import MNIST
>>> train = MNIST()           # root=None: the bundled sample, no download needed
>>> len(train), train.classes[3]
(4000, '3 - three')
"""

from shenjing.vision.datasets._idx import IDXFormatError, load_idx, read_idx
from shenjing.vision.datasets.fakedata import FakeData
from shenjing.vision.datasets.folder import IMG_EXTENSIONS, DatasetFolder, ImageFolder, default_loader
from shenjing.vision.datasets.mnist import KMNIST, MNIST, FashionMNIST
from shenjing.vision.datasets.vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "FakeData", "ImageFolder", "DatasetFolder", "VisionDataset", "IMG_EXTENSIONS",
           "default_loader", "IDXFormatError", "load_idx", "read_idx"]
