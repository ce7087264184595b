"""Convolutional networks of the course: LeNet-5 and the CNN of seed 000.

Both apply ReLU and then a 2x2 max-pool. max and ReLU commute (ReLU is monotone: max_k relu(x_k) =
relu(max_k x_k), exactly, in floating point too), and the gradients agree as well (a window whose
max is positive sends its gradient to the same first maximum; one whose max is not positive sends
none either way). So ``forward`` pools first and applies ReLU to 4x fewer elements, which saves
about a tenth of a training step. The layers' outputs then differ from the textbook order (pool1's
output is not yet rectified), so as soon as a forward hook or pre-hook watches the ReLU or a pooling
layer (feature maps, summaries), ``forward`` runs them in the textbook order, ReLU first. So it does
when a layer has been swapped for another kind (``model.relu = nn.Tanh()``, an ``AvgPool2d``, a
subclass): the fused paths below run only Conv2d, MaxPool2d, ReLU and Linear layers themselves.

On that unwatched path each convolution, its pool and its ReLU also run as one op, ``ConvMaxPool2d``
(``shenjing._ops.conv_pool``: the max-pool works on the convolution's product), and so do the
flatten and the fully connected layers with their ReLUs (``shenjing.models._fused``), unless a hook
watches the convolution (or a Linear layer) or the op does not apply (then the layers run in a row;
same values). The fused convolution + pool saves 8-16% of a training or inference step at batch 64-256
(see that module). Where nothing watches any layer, the whole forward is one op, those ops in a row as
one node of the graph (``shenjing._ops.chain``, ``_fused.conv_net``): ``model(x).grad_fn`` is then
``ChainBackward0``.
"""

from __future__ import annotations

from shenjing._tensor import Tensor
from shenjing.models._fused import conv_max_pool2d_relu, conv_net, linear_stack, pools_first
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
        """The two conv blocks: (N, C, H, W) -> (N, 16, 5, 5). (Pooling runs before ReLU when nothing
        watches those layers: the same values, see the module's docstring.)"""
        if not pools_first(self.relu, self.pool1, self.pool2):  # (the textbook order)
            x = self.pool1(self.relu(self.conv1(x)))
            return self.pool2(self.relu(self.conv2(x)))
        x = conv_max_pool2d_relu(self.conv1, self.pool1, self.relu, x)
        return conv_max_pool2d_relu(self.conv2, self.pool2, self.relu, x)

    def forward(self, x: Tensor) -> Tensor:
        relu, linears = self.relu, (self.fc1, self.fc2, self.fc3)
        y = None
        if type(self).features is LeNet5.features:  # (a subclass's own ``features`` runs as written)
            y = conv_net(((self.conv1, self.pool1), (self.conv2, self.pool2)), relu, linears, x)
        return linear_stack(linears, (relu, relu), self.features(x), flatten=True) if y is None else y


class CourseCNN(Module):
    """The CNN of seed 000, for 3x32x32 images, with the notes' layer names:

    conv1 6@5x5 -> ReLU -> pool1 (max 2x2) -> conv2 16@5x5 -> ReLU -> pool2 -> flatten 400 -> fc 10.

    ``forward`` returns logits (train with CrossEntropyLoss); ``softmax(model(x), dim=1)`` gives the
    probabilities the notes print. conv1 has 3*6*5*5 + 6 = 456 parameters.
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
        y = conv_net(((self.conv1, self.pool1), (self.conv2, self.pool2)), self.nf, (self.fc,), x)
        if y is not None:
            return y
        if not pools_first(self.nf, self.pool1, self.pool2):  # (the textbook order)
            x = self.pool1(self.nf(self.conv1(x)))
            x = self.pool2(self.nf(self.conv2(x)))
        else:  # pool first: the same values (see the module's docstring)
            x = conv_max_pool2d_relu(self.conv1, self.pool1, self.nf, x)
            x = conv_max_pool2d_relu(self.conv2, self.pool2, self.nf, x)
        return linear_stack((self.fc,), (), x, flatten=True)
