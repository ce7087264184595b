"""Computer vision, with torchvision's names: ``datasets`` (MNIST, FashionMNIST, ImageFolder),
``transforms`` (ToTensor, Normalize, Compose, Pad, Resize, random crops, rotations, flips, ...), ``utils``
(make_grid, save_image) and ``io`` (read_image, write_png, ...).

pillow is optional (``pip install shenjing[vision]``); it is imported only when a PIL image is needed.

>>> from shenjing.vision import datasets, transforms
>>> mnist = datasets.MNIST(train=False, transform=transforms.ToTensor())  # the bundled 1,000 test digits
>>> image, label = mnist[0]
>>> tuple(image.shape), image.dtype
((1, 28, 28), shenjing.float32)
"""

from shenjing.vision import datasets, io, transforms, utils  # noqa: F401

__all__ = ["datasets", "io", "transforms", "utils"]
