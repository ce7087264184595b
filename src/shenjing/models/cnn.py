"""Convolutional networks of the course: LeNet-5 and the CNN of seed 000.

Both are layers in the textbook order, convolution -> ReLU -> max-pool, twice, then the fully
connected layers. ``model(x).grad_fn`` and ``shenjing graph lenet`` show exactly those nodes, the same
on every call; speed comes from the ops themselves (and from ``shenjing.compile``), not from here.
"""

from __future__ import annotations

from shenjing._tensor import Tensor
from shenjing.nn.modules.activation import ReLU
from shenjing.nn.modules.conv import Conv2d
from shenjing.nn.modules.linear import Linear
from shenjing.nn.modules.module import Module
from shenjing.nn.modules.pooling import MaxPool2d

__all__ = ["LeNet5", "CourseCNN"]


class LeNet5(Module):
    """LeNet-5 (LeCun et al., 1998) with ReLU and max-pooling, for 28x28 or 32x32 images:

    conv 6@5x5 (padding 2 for 28x28) -> ReLU -> maxpool 2 -> conv 16@5x5 -> ReLU -> maxpool 2
    -> 400 -> fc 120 -> ReLU -> fc 84 -> ReLU -> fc ``num_classes`` (logits).

    Input: (N, in_channels, 28, 28) or (N, in_channels, 32, 32). 61,706 parameters for 1x28x28.

    >>> import shenjing
    >>> LeNet5()(shenjing.zeros(2, 1, 28, 28)).shape
    shenjing.Size([2, 10])
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28) -> None:
        super().__init__()
        if input_size not in (28, 32):
            raise ValueError(f"input_size must be 28 or 32, got {input_size}")
        self.input_size = input_size
        self.conv1 = Conv2d(in_channels, 6, 5, padding=2 if input_size == 28 else 0)
        self.pool1 = MaxPool2d(2)
        self.conv2 = Conv2d(6, 16, 5)
        self.pool2 = MaxPool2d(2)
        self.fc1 = Linear(16 * 5 * 5, 120)
        self.fc2 = Linear(120, 84)
        self.fc3 = Linear(84, num_classes)
        self.relu = ReLU()

    def features(self, x: Tensor) -> Tensor:
        """The two convolution blocks: (N, C, H, W) -> (N, 16, 5, 5)."""
        x = self.pool1(self.relu(self.conv1(x)))
        return self.pool2(self.relu(self.conv2(x)))

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x).flatten(1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


class CourseCNN(Module):
    """The CNN of seed 000, for 3x32x32 images, with the notes' layer names:

    conv1 6@5x5 -> ReLU -> pool1 (max 2x2) -> conv2 16@5x5 -> ReLU -> pool2 -> flatten 400 -> fc 10.

    ``forward`` returns logits (train with CrossEntropyLoss); ``softmax(model(x), dim=1)`` gives the
    probabilities the notes print. conv1 has 3*6*5*5 + 6 = 456 parameters.

    >>> import shenjing
    >>> CourseCNN()(shenjing.zeros(1, 3, 32, 32)).shape
    shenjing.Size([1, 10])
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.conv1 = Conv2d(in_channels=in_channels, out_channels=6, kernel_size=5, stride=1, padding=0)
        self.pool1 = MaxPool2d((2, 2), stride=2, padding=0)
        self.conv2 = Conv2d(in_channels=6, out_channels=16, kernel_size=5, stride=1, padding=0)
        self.pool2 = MaxPool2d((2, 2), stride=2, padding=0)
        self.fc = Linear(400, num_classes)
        self.nf = ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.nf(self.conv1(x)))
        x = self.pool2(self.nf(self.conv2(x)))
        return self.fc(x.flatten(1))
