"""The CNN lecture (seeds/000) and the X-vs-O feature map (seeds/003), run on shenjing.

Each test follows a snippet or worked example from the notes and checks the numbers or shapes they
print, or compares with PyTorch 2.13 where the notes use a photo we do not have.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from shenjing import nn
from helpers import assert_close

RNG = np.random.default_rng(0)


# -- seed 000: Sobel kernels on an RGB image -------------------------------------------------------

def _image():
    """A 3-channel 32x32 'photo' in [0, 1) with a bright square, batched as (1, 3, 32, 32)."""
    image = RNG.random((3, 32, 32)).astype(np.float32) * 0.2
    image[:, 8:24, 10:20] += 0.7
    return image


def test_sobel_vertical_edges_on_rgb_image():
    image_np = _image()
    image = sj.tensor(image_np).unsqueeze(0)
    w = sj.tensor([[[[1., 0., -1.],
                     [2., 0., -2.],
                     [1., 0., -1.]]]])
    w = w.repeat(1, 3, 1, 1)
    convv = F.conv2d(image, w, stride=1, padding=0)
    convv = convv.squeeze(0)
    assert list(convv.shape) == [1, 30, 30]

    w_t = torch.tensor([[[[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]]]]).repeat(1, 3, 1, 1)
    expected = TF.conv2d(torch.tensor(image_np).unsqueeze(0), w_t, stride=1, padding=0).squeeze(0)
    assert_close(convv.numpy(), expected.numpy(), np.float32)
    # the left edge of the square (columns 9..10) responds strongly and negatively, its inside not at all
    column_response = convv.numpy()[0, 10:20].mean(axis=0)
    assert column_response[8] < -5 and abs(column_response[12]) < 1


def test_sobel_kernel_bank_built_with_cat():
    image_np = _image()
    image = sj.tensor(image_np).unsqueeze(0)
    w = sj.tensor([[[[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]]]]).repeat(1, 3, 1, 1)
    w2 = sj.tensor([[[[1., 2., 1.],
                      [0., 0., 0.],
                      [-1., -2., -1.]]]])
    w2 = w2.repeat(1, 3, 1, 1)
    w3 = sj.cat((w, w2), 0)
    w3 = sj.cat((w3, w2), 0)
    assert list(w3.shape) == [3, 3, 3, 3]
    convh = F.conv2d(image, w3, stride=1, padding=0)
    convh = convh.squeeze(0)
    assert list(convh.shape) == [3, 30, 30]  # three channels: shown as an RGB image by toPIL

    w_t = torch.tensor([[[[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]]]]).repeat(1, 3, 1, 1)
    w2_t = torch.tensor([[[[1., 2., 1.], [0., 0., 0.], [-1., -2., -1.]]]]).repeat(1, 3, 1, 1)
    w3_t = torch.cat((torch.cat((w_t, w2_t), 0), w2_t), 0)
    expected = TF.conv2d(torch.tensor(image_np).unsqueeze(0), w3_t, stride=1, padding=0).squeeze(0)
    assert_close(convh.numpy(), expected.numpy(), np.float32)


def test_vertical_edge_detector_table():
    # "why convolution": a 6x6 image, bright on the left, * the 3x3 vertical-edge filter = rows of 0 30 30 0
    image = sj.tensor([[10., 10., 10., 0., 0., 0.]] * 6).view(1, 1, 6, 6)
    kernel = sj.tensor([[1., 0., -1.]] * 3).view(1, 1, 3, 3)
    assert F.conv2d(image, kernel).view(4, 4).tolist() == [[0, 30, 30, 0]] * 4


# -- seed 000: pooling worked tables -------------------------------------------------------------

POOL_INPUT = [[3., 3., 2., 1., 0.],
              [0., 0., 1., 3., 1.],
              [3., 1., 2., 2., 3.],
              [2., 0., 0., 2., 2.],
              [2., 0., 0., 0., 1.]]


def test_max_pooling_table_f3_s1():
    x = sj.tensor(POOL_INPUT)
    x = x.view(1, 5, 5)
    MP = nn.MaxPool2d(kernel_size=3, stride=1)
    y = MP(x)
    assert y.tolist() == [[[3., 3., 3.],
                           [3., 3., 3.],
                           [3., 2., 3.]]]


def test_average_pooling_table_f3_s1():
    x = sj.tensor(POOL_INPUT).view(1, 5, 5)
    MP2 = nn.AvgPool2d(3, 1)
    y = MP2(x)
    printed = [[1.6667, 1.6667, 1.6667],  # the notes' printed tensor (4 decimals)
               [1.0000, 1.2222, 1.7778],
               [1.1111, 0.7778, 1.3333]]
    table = [[1.7, 1.7, 1.7],  # the notes' table (1 decimal)
             [1.0, 1.2, 1.8],
             [1.1, 0.8, 1.3]]
    np.testing.assert_allclose(y.numpy()[0], printed, atol=5e-5)
    np.testing.assert_allclose(np.round(y.numpy()[0], 1), table, atol=1e-6)


def test_max_pool_5x1_on_a_3d_tensor_and_avg_pool_shape():
    a = sj.randn(3, 5, 10)
    MP3 = nn.MaxPool2d((5, 1))
    c = MP3(a)
    assert list(c.shape) == [3, 1, 10]
    assert np.array_equal(c.numpy()[:, 0, :], a.numpy().max(axis=1))  # each column's max over the 5 rows

    x = sj.rand(1, 3, 7, 7)
    MP4 = nn.AvgPool2d(kernel_size=2, stride=2)
    assert list(MP4.forward(x).shape) == [1, 3, 3, 3]


# -- seed 000: the CNN ---------------------------------------------------------------------------

class CNN(nn.Module):
    """The lecture's class, with its prints collected in ``shapes``."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=3, out_channels=6, kernel_size=5, stride=1, padding=0)
        self.pool1 = nn.MaxPool2d((2, 2), stride=2, padding=0)
        self.conv2 = nn.Conv2d(in_channels=6, out_channels=16, kernel_size=5, stride=1, padding=0)
        self.pool2 = nn.MaxPool2d((2, 2), stride=2, padding=0)
        self.fc = nn.Linear(400, 10)
        self.nf = nn.ReLU()
        self.shapes = []

    def forward(self, x):
        output1 = self.nf(self.conv1(x))
        self.shapes.append(list(output1.shape))
        output1 = self.pool1(output1)
        self.shapes.append(list(output1.shape))
        output2 = self.nf(self.conv2(output1))
        self.shapes.append(list(output2.shape))
        output2 = self.pool2(output2)
        self.shapes.append(list(output2.shape))
        output3 = output2.flatten(1)
        self.shapes.append(list(output3.shape))
        output3 = self.fc(output3)
        self.shapes.append(list(output3.shape))
        return sj.softmax(output3, dim=1)


def test_course_cnn_shapes_batch_1_and_2():
    model = CNN()
    input1 = sj.tensor(_image()).unsqueeze(0)
    assert list(input1.shape) == [1, 3, 32, 32]
    output = model(input1)
    assert model.shapes == [[1, 6, 28, 28], [1, 6, 14, 14], [1, 16, 10, 10], [1, 16, 5, 5], [1, 400], [1, 10]]
    assert output.grad_fn.name() == "SoftmaxBackward0"
    assert abs(float(output.sum()) - 1) < 1e-5 and float(output.min()) > 0

    model.shapes = []
    input = sj.cat([input1, input1], 0)  # the notes feed the same image twice: both rows are equal
    output = model(input)
    assert model.shapes == [[2, 6, 28, 28], [2, 6, 14, 14], [2, 16, 10, 10], [2, 16, 5, 5], [2, 400], [2, 10]]
    assert_close(output.detach().numpy()[0], output.detach().numpy()[1], np.float32)


def test_course_cnn_parameter_counts():
    model = CNN()
    # "each filter has 3x5x5 + 1 = 76 parameters, 76 x 6 = 456"
    assert sum(p.numel() for p in model.conv1.parameters()) == 456
    assert sum(p.numel() for p in model.conv2.parameters()) == (6 * 5 * 5 + 1) * 16
    assert sum(p.numel() for p in model.parameters()) == 456 + 2416 + 400 * 10 + 10
    assert list(model.state_dict()) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                        "fc.weight", "fc.bias"]


def test_course_cnn_with_torch_weights_gives_torch_outputs_and_gradients():
    model = CNN()
    reference = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2), torch.nn.Flatten(1),
        torch.nn.Linear(400, 10), torch.nn.Softmax(dim=1))
    ours = [model.conv1, model.conv2, model.fc]
    theirs = [reference[0], reference[3], reference[7]]
    with sj.no_grad():
        for layer, torch_layer in zip(ours, theirs):
            layer.weight.copy_(sj.tensor(torch_layer.weight.detach().numpy()))
            layer.bias.copy_(sj.tensor(torch_layer.bias.detach().numpy()))
    x_np = np.stack([_image(), _image()])
    y, y_t = model(sj.tensor(x_np)), reference(torch.tensor(x_np))
    assert_close(y.detach().numpy(), y_t.detach().numpy(), np.float32, "softmax output")
    labels = np.array([5, 3])
    y.log().gather(1, sj.tensor(labels).view(2, 1)).sum().backward()
    y_t.log().gather(1, torch.tensor(labels).view(2, 1)).sum().backward()
    for layer, torch_layer in zip(ours, theirs):
        np.testing.assert_allclose(layer.weight.grad.numpy(), torch_layer.weight.grad.numpy(), rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(layer.bias.grad.numpy(), torch_layer.bias.grad.numpy(), rtol=1e-3, atol=1e-5)


# -- seed 003: the X-vs-O feature map ------------------------------------------------------------

X_IMAGE = [[-1, -1, -1, -1, -1, -1, -1, -1, -1],  # the notes' 9x9 X (1 = ink, -1 = background)
           [-1, 1, -1, -1, -1, -1, -1, 1, -1],
           [-1, -1, 1, -1, -1, -1, 1, -1, -1],
           [-1, -1, -1, 1, -1, 1, -1, -1, -1],
           [-1, -1, -1, -1, 1, -1, -1, -1, -1],
           [-1, -1, -1, 1, -1, 1, -1, -1, -1],
           [-1, -1, 1, -1, -1, -1, 1, -1, -1],
           [-1, 1, -1, -1, -1, -1, -1, 1, -1],
           [-1, -1, -1, -1, -1, -1, -1, -1, -1]]

DIAGONAL_KERNEL = [[1, -1, -1],
                   [-1, 1, -1],
                   [-1, -1, 1]]

FEATURE_MAP = [[0.77, -0.11, 0.11, 0.33, 0.55, -0.11, 0.33],  # the table printed in the notes
               [-0.11, 1.00, -0.11, 0.33, -0.11, 0.11, -0.11],
               [0.11, -0.11, 1.00, -0.33, 0.11, -0.11, 0.55],
               [0.33, 0.33, -0.33, 0.55, -0.33, 0.33, 0.33],
               [0.55, -0.11, 0.11, -0.33, 1.00, -0.11, 0.11],
               [-0.11, 0.11, -0.11, 0.33, -0.11, 1.00, -0.11],
               [0.33, -0.11, 0.55, 0.33, 0.11, -0.11, 0.77]]


def test_x_feature_map_is_the_notes_table():
    image = sj.tensor(X_IMAGE, dtype=sj.float32).view(1, 1, 9, 9)
    kernel = sj.tensor(DIAGONAL_KERNEL, dtype=sj.float32).view(1, 1, 3, 3)
    feature_map = F.conv2d(image, kernel) / 9  # the mean of the 9 products at each position
    assert list(feature_map.shape) == [1, 1, 7, 7]
    # the notes cut the values to two decimals (7/9 = 0.777... is printed 0.77)
    np.testing.assert_allclose(feature_map.numpy()[0, 0], FEATURE_MAP, atol=0.01)
    assert float(feature_map.max()) == 1.0  # the kernel matches the X's diagonal exactly
