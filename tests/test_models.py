"""The course's models and datasets: shapes, parameter counts, the perceptron rule, XOR."""

import numpy as np
import pytest

import shenjing as sj
from shenjing import nn
from shenjing.data import (house_prices, logic_gate, make_blobs, make_circles, make_moons, make_spirals, watermelon,
                           xo_images)
from shenjing.models import MLP, CourseCNN, ElmanRNN, LeNet5, Perceptron, XorNet


@pytest.mark.parametrize("gate", ["and", "or", "not", "nand"])
def test_perceptron_rule_converges_on_linearly_separable_gates(gate):
    x, y = logic_gate(gate)
    model = Perceptron(x.shape[1])
    history = model.fit(x, y, lr=1.0)
    assert history.converged and history.mistakes[-1] == 0
    assert model(x).tolist() == y.tolist()


def test_perceptron_cannot_fit_xor():
    x, y = logic_gate("xor")
    model = Perceptron(2)
    history = model.fit(x, y, epochs=50)
    assert not history.converged
    assert history.epochs == 50 and min(history.mistakes) > 0
    assert model(x).tolist() != y.tolist()


def test_perceptron_rule_by_hand():
    # AND with eta = 1 from zero weights: first mistake on (0,0): y_hat = step(0) = 1, target 0,
    # so b <- 0 + 1 * (0 - 1) = -1 and w stays 0 (x = 0).
    x, y = logic_gate("and")
    model = Perceptron(2)
    model.fit(x[:1], y[:1], epochs=1)
    assert model.bias.item() == -1.0 and model.weight.tolist() == [0.0, 0.0]


def test_xor_network_of_the_notes():
    x, y = logic_gate("xor")
    net = XorNet()
    assert net.predict(x).tolist() == y.tolist()
    # h = relu([[1,1],[1,1]] x + [0,-1]); y = [1,-2] h - 0.5, at x = (1, 1): h = (2, 1), y = -0.5
    assert net(sj.tensor([[1.0, 1.0]])).item() == pytest.approx(-0.5)


def test_xor_network_learns_from_random_initialisation():
    sj.manual_seed(1)
    x, y = logic_gate("xor")
    net = XorNet(pretrained=False, hidden=4)
    optimizer = sj.optim.Adam(net.parameters(), lr=0.05)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(500):
        optimizer.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        optimizer.step()
    assert net.predict(x).tolist() == y.tolist()


def test_lenet5_shapes_and_parameter_count():
    model = LeNet5()
    assert model(sj.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert LeNet5(input_size=32)(sj.zeros(1, 1, 32, 32)).shape == (1, 10)
    expected = (1 * 6 * 25 + 6) + (6 * 16 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == expected == 61706
    assert list(model.state_dict())[:4] == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"]


@pytest.mark.parametrize("batch", [1, 2])
def test_course_cnn_shapes_and_conv1_parameters(batch):
    model = CourseCNN()
    x = sj.rand(batch, 3, 32, 32)
    c1 = model.nf(model.conv1(x))
    assert c1.shape == (batch, 6, 28, 28)
    p1 = model.pool1(c1)
    assert p1.shape == (batch, 6, 14, 14)
    c2 = model.nf(model.conv2(p1))
    assert c2.shape == (batch, 16, 10, 10)
    p2 = model.pool2(c2)
    assert p2.shape == (batch, 16, 5, 5) and p2.flatten(1).shape == (batch, 400)
    probabilities = sj.softmax(model(x), dim=1)
    assert probabilities.shape == (batch, 10)
    np.testing.assert_allclose(probabilities.sum(1).detach().numpy(), np.ones(batch), rtol=1e-6)
    assert sum(p.numel() for p in model.conv1.parameters()) == 3 * 6 * 5 * 5 + 6 == 456


def test_mlp_layers_and_flattening():
    model = MLP([784, 256, 128, 10], activation="tanh")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 256), (256, 128), (128, 10)]
    assert sum(isinstance(m, nn.Tanh) for m in model.modules()) == 2
    assert model(sj.zeros(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(ValueError, match="activation"):
        MLP([2, 2], activation="cubic")


def test_elman_rnn_outputs():
    model = ElmanRNN(input_size=1, hidden_size=8, output_size=1)
    assert model(sj.zeros(4, 20, 1)).shape == (4, 1)
    assert ElmanRNN(2, 8, 3, many_to_one=False)(sj.zeros(4, 5, 2)).shape == (4, 5, 3)


def test_course_datasets():
    x, y = watermelon()
    assert x.shape == (17, 2) and int(y.sum().item()) == 8           # 8 good melons, 9 bad
    assert x[0].tolist() == pytest.approx([0.697, 0.460])
    images, labels = xo_images(10, noise=0.0)
    assert images.shape == (10, 1, 9, 9) and set(images.unique().tolist() if hasattr(images, "unique")
                                                  else np.unique(images.numpy()).tolist()) == {-1.0, 1.0}
    assert labels.tolist() == [0, 1] * 5
    centred, _ = xo_images(2, noise=0.0, max_shift=0, thickness=(1, 1))
    x_image, o_image = centred[0, 0].numpy(), centred[1, 0].numpy()
    assert np.array_equal(x_image, x_image[:, ::-1]) and np.array_equal(x_image, x_image.T)  # an X's symmetries
    assert np.array_equal(o_image, o_image[::-1]) and np.array_equal(o_image, o_image.T)    # and an O's
    assert x_image[4, 4] == 1.0 and o_image[4, 4] == -1.0  # the X crosses the centre, the O encloses it
    for make in (make_moons, make_circles, make_blobs):
        points, classes = make(100)
        assert points.shape == (100, 2) and points.dtype == sj.float32 and classes.dtype == sj.int64
    points, classes = make_spirals(300, classes=3)
    assert np.bincount(classes.numpy()).tolist() == [100, 100, 100]
    area, price = house_prices(50)
    assert area.shape == (50, 1) and price.shape == (50, 1)
    assert make_moons(50, seed=3)[0].tolist() == make_moons(50, seed=3)[0].tolist()
    with pytest.raises(ValueError, match="logic gate"):
        logic_gate("maybe")


def test_course_cnn_trains_on_digits_as_seed_000_builds_it():
    """Seed 000's CNN, unchanged (3x32x32 input, conv 6@5x5, pool, conv 16@5x5, pool, FC 400->10),
    trained with CrossEntropyLoss and Adam on digits turned into 3-channel 32x32 images."""
    from shenjing.recipes import digit_transform
    from shenjing.utils.data import DataLoader, Subset
    from shenjing.vision.datasets import MNIST

    transform = digit_transform(channels=3, size=32)
    train = Subset(MNIST(None, train=True, transform=transform), range(800))
    test = Subset(MNIST(None, train=False, transform=transform), range(300))
    image, _ = train[0]
    assert image.shape == (3, 32, 32) and sj.equal(image[0], image[2])  # the grey value in R, G and B
    sj.manual_seed(0)
    model = CourseCNN()
    optimizer = sj.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(train, batch_size=32, shuffle=True, generator=sj.Generator().manual_seed(0))
    for _ in range(3):
        for x, y in loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with sj.no_grad():
        x, y = next(iter(DataLoader(test, batch_size=300)))
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.8  # chance is 0.1; 800 digits and 3 epochs give about 0.89


# -- training is numerically the one PyTorch does (the fast paths change speed, not results) -----

def _torch_twin(model):
    """The same network in PyTorch, with the shenjing model's weights."""
    import torch
    from torch import nn as tnn

    if isinstance(model, LeNet5):
        layers = [tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(6, 16, 5), tnn.ReLU(),
                  tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                  tnn.Linear(84, 10)]
        names = ["conv1", None, None, "conv2", None, None, None, "fc1", None, "fc2", None, "fc3"]
    else:  # MLP([784, 256, 128, 10])
        layers = [tnn.Flatten(), tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 128), tnn.ReLU(), tnn.Linear(128, 10)]
        names = [None, "layers.1", None, "layers.3", None, "layers.5"]
    twin = tnn.Sequential(*layers)
    state = model.state_dict()
    with torch.no_grad():
        for layer, name in zip(layers, names):
            if name is not None:
                layer.weight.copy_(torch.tensor(state[f"{name}.weight"].numpy()))
                layer.bias.copy_(torch.tensor(state[f"{name}.bias"].numpy()))
    return twin


@pytest.mark.parametrize("make, shape", [(LeNet5, (16, 1, 28, 28)), (lambda: MLP([784, 256, 128, 10]), (16, 784))],
                         ids=["lenet5", "mlp"])
def test_training_steps_match_pytorch_with_the_same_weights(make, shape):
    import torch

    sj.manual_seed(0)
    model = make()
    twin = _torch_twin(model)
    rng = np.random.default_rng(5)
    batches = [(rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, shape[0])) for _ in range(6)]
    opt = sj.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    twin_opt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
    losses, twin_losses = [], []
    for x, y in batches:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(sj.tensor(x)), sj.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
        twin_opt.zero_grad()
        twin_loss = torch.nn.functional.cross_entropy(twin(torch.tensor(x)), torch.tensor(y))
        twin_loss.backward()
        twin_opt.step()
        twin_losses.append(twin_loss.item())
    # float32 end to end on both sides: the loss curves agree to float32 noise after 6 steps
    np.testing.assert_allclose(losses, twin_losses, rtol=2e-5, atol=2e-6)
    assert losses[-1] < losses[0]
    twin_weights = [p.detach().numpy() for p in twin.parameters()]
    for ours, theirs in zip([p.detach().numpy() for p in model.parameters()], twin_weights):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def _graph_names(output):
    """The node names of ``output``'s backward graph, in a fixed walk order (depth first, inputs in order)."""
    names, seen, stack = [], set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.append(node.name())
        stack.extend(reversed([child for child, _ in node.next_functions]))
    return names


@pytest.mark.parametrize("make, shape", [(LeNet5, (2, 1, 28, 28)), (CourseCNN, (2, 3, 32, 32)),
                                         (lambda: MLP([784, 32, 10]), (2, 784))], ids=["lenet5", "cnn", "mlp"])
def test_a_models_graph_is_the_textbook_and_the_same_on_the_first_and_the_tenth_call(make, shape):
    sj.manual_seed(0)
    model = make()
    optimizer = sj.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = sj.randn(*shape), sj.tensor([1, 3])
    graphs = []
    for _ in range(10):
        optimizer.zero_grad()
        out = model(x)
        graphs.append(_graph_names(out))
        sj.nn.functional.cross_entropy(out, y).backward()
        optimizer.step()
    assert graphs[0] == graphs[9]
    layers = {"AddmmBackward0", "ReluBackward0"}
    if make is not LeNet5 and shape[1] == 784:
        assert layers <= set(graphs[0]) and "ConvolutionBackward0" not in graphs[0]
    else:  # the textbook order, conv -> ReLU -> max-pool, twice
        assert layers | {"ConvolutionBackward0", "MaxPool2DWithIndicesBackward0"} <= set(graphs[0])
        blocks = [name for name in reversed(graphs[0]) if name in
                  ("ConvolutionBackward0", "ReluBackward0", "MaxPool2DWithIndicesBackward0")]
        assert blocks[:6] == ["ConvolutionBackward0", "ReluBackward0", "MaxPool2DWithIndicesBackward0"] * 2


def test_course_cnn_pools_with_the_geometry_its_layer_has_when_called():
    # a pooling layer's geometry changed after construction is the one used (PyTorch reads the attributes)
    import torch
    from torch import nn as tnn

    sj.manual_seed(1)
    model = CourseCNN()
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    model(sj.tensor(x))  # a first call with the 2x2 pool
    twin = tnn.ModuleDict({"conv1": tnn.Conv2d(3, 6, 5), "pool1": tnn.MaxPool2d(2), "conv2": tnn.Conv2d(6, 16, 5),
                           "pool2": tnn.MaxPool2d(2), "fc": tnn.Linear(400, 10)})
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    for pool in (model.pool1, twin["pool1"]):
        pool.kernel_size, pool.padding = 3, 1  # 3x3 windows, stride 2, padding 1: still 14x14
    h = twin["pool1"](torch.relu(twin["conv1"](torch.tensor(x))))
    h = twin["pool2"](torch.relu(twin["conv2"](h)))
    expected = twin["fc"](h.flatten(1))
    np.testing.assert_allclose(model(sj.tensor(x)).detach().numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    two_by_two = CourseCNN()
    two_by_two.load_state_dict(model.state_dict())
    assert not np.allclose(two_by_two(sj.tensor(x)).detach().numpy(), expected.detach().numpy(), atol=1e-3)
