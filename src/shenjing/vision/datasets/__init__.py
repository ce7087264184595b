"""Image datasets with torchvision's names: ``MNIST`` (with a bundled 5,000-digit sample), ``FashionMNIST``,
``KMNIST``, ``EMNIST``, ``QMNIST``, ``CIFAR10`` / ``CIFAR100``, ``SVHN`` (needs SciPy), ``STL10`` (all read
from local copies in torchvision's layouts), ``ImageFolder`` / ``DatasetFolder`` (one sub-folder per class),
``FakeData`` (random images).

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
from shenjing.vision.datasets.mnist_variants import EMNIST, QMNIST
from shenjing.vision.datasets.cifar import CIFAR10, CIFAR100
from shenjing.vision.datasets.svhn import SVHN
from shenjing.vision.datasets.stl10 import STL10

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "FakeData", "ImageFolder", "DatasetFolder", "VisionDataset", "IMG_EXTENSIONS",
           "default_loader", "IDXFormatError", "load_idx", "read_idx", "EMNIST", "QMNIST", "CIFAR10", "CIFAR100",
           "SVHN", "STL10"]
