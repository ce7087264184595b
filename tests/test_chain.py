"""``Chain``: ops in a row as one node (LeNet-5's and CourseCNN's whole forward), against PyTorch, central
differences and the same ops as separate nodes; and its use in the course CNNs."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
from shenjing._ops.chain import Chain
from shenjing._ops.conv import ConvGeometry
from shenjing._ops.conv_pool import ConvMaxPool2d
from shenjing.models import CourseCNN, LeNet5
from shenjing.nn._functional.conv import conv2d_max_pool2d
from shenjing.nn._functional.linear import LinearStack, linear_stack
from helpers import FUSED_PRODUCTS, check_op, use_fused_product

PAD1, PAD0 = ConvGeometry((1, 1), ((1, 1), (1, 1)), (1, 1)), ConvGeometry((1, 1), ((0, 0), (0, 0)), (1, 1))
# two conv blocks (relu(pool(conv)), padding 1 then 0) and two Linear layers: x (2, 2, 12, 12) -> (2, 3)
STAGES = ((partial(ConvMaxPool2d, PAD1, True), 2), (partial(ConvMaxPool2d, PAD0, True), 2),
          (partial(LinearStack, True), 4))
SHAPES = ((2, 2, 12, 12), (4, 2, 3, 3), (4,), (5, 4, 3, 3), (5,), (7, 20), (7,), (3, 7), (3,))


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in SHAPES]


def _chain(x, *params):
    return Chain(STAGES)(x, *params)


def _ops_in_a_row(x, w1, b1, w2, b2, *linear):
    h = conv2d_max_pool2d(x, w1, b1, padding=1, relu=True)
    return linear_stack(conv2d_max_pool2d(h, w2, b2, relu=True), linear, flatten=True)


def _torch_net(x, w1, b1, w2, b2, w3, b3, w4, b4):
    h = TF.relu(TF.max_pool2d(TF.conv2d(x, w1, b1, padding=1), 2))
    h = TF.relu(TF.max_pool2d(TF.conv2d(h, w2, b2), 2)).flatten(1)
    return TF.linear(TF.relu(TF.linear(h, w3, b3)), w4, b4)


@pytest.mark.parametrize("product", FUSED_PRODUCTS)
def test_chain_matches_pytorch_and_central_differences(monkeypatch, product):
    use_fused_product(monkeypatch, product)
    check_op(_chain, _torch_net, *_arrays())


@pytest.mark.parametrize("product", FUSED_PRODUCTS)
def test_chain_equals_its_ops_as_separate_nodes_bit_for_bit(monkeypatch, product):
    use_fused_product(monkeypatch, product)
    results = []
    for fn in (_chain, _ops_in_a_row):
        tensors = [sj.tensor(a.astype(np.float32), requires_grad=True) for a in _arrays(1)]
        y = fn(*tensors)
        y.backward(sj.tensor(np.random.default_rng(2).standard_normal((2, 3)).astype(np.float32)))
        results.append([y.detach().numpy()] + [t.grad.numpy() for t in tensors])
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


def test_chain_second_derivatives_match_pytorch():
    grads = []
    for lib, fn in ((sj, _chain), (torch, _torch_net)):
        tensors = [lib.tensor(a, requires_grad=True) for a in _arrays(3)]
        y = fn(*tensors)
        differentiate = sj.autograd.grad if lib is sj else torch.autograd.grad
        first = differentiate((y * y).sum(), tensors, create_graph=True)
        sum((g * g).sum() for g in first).backward()
        grads.append([g.detach().numpy() for g in first] + [t.grad.numpy() for t in tensors])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_chain_with_frozen_first_block_and_no_bias():
    arrays = _arrays(4)
    arrays[4] = None  # the second convolution has no bias
    results = []
    for lib, fn in ((sj, _chain), (torch, _torch_net)):
        tensors = [None if a is None else lib.tensor(a, requires_grad=i > 2) for i, a in enumerate(arrays)]
        fn(*tensors).square().sum().backward()
        results.append([None if t is None or t.grad is None else t.grad.numpy() for t in tensors])
    for ours, theirs in zip(*results):
        if theirs is None:
            assert ours is None
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_chain_backward_twice_with_retain_graph_then_freed():
    tensors = [sj.tensor(a, requires_grad=True) for a in _arrays(5)]
    y = _chain(*tensors).sum()
    y.backward(retain_graph=True)
    first = [t.grad.numpy().copy() for t in tensors]
    y.backward()
    for t, g in zip(tensors, first):
        np.testing.assert_allclose(t.grad.numpy(), 2 * g, rtol=1e-12)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_chain_under_no_grad_records_nothing():
    tensors = [sj.tensor(a, requires_grad=True) for a in _arrays(6)]
    with sj.no_grad():
        y = _chain(*tensors)
    assert y.grad_fn is None and not y.requires_grad
    np.testing.assert_allclose(y.numpy(), _torch_net(*(torch.tensor(a) for a in _arrays(6))).numpy(), rtol=1e-10)


@pytest.mark.parametrize("changed", ["input", "parameter", "output"])
def test_chain_notices_a_value_changed_in_place(changed):
    tensors = [sj.tensor(a, requires_grad=i > 0) for i, a in enumerate(_arrays(7))]
    y = _chain(*tensors)
    with sj.no_grad():
        {"input": tensors[0], "parameter": tensors[3], "output": y}[changed].mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("make, shape", [(LeNet5, (1, 1, 28, 28)), (LeNet5, (3, 1, 28, 28)),
                                         (CourseCNN, (2, 3, 32, 32))])
def test_cnn_models_run_as_one_chain_with_the_layers_values(make, shape):
    sj.manual_seed(8)
    model = make()
    x = sj.tensor(np.random.default_rng(8).standard_normal(shape).astype(np.float32))
    results = []
    for _ in range(2):  # the first call of a configuration runs the layers (their checks remember it)
        model.zero_grad()
        y = model(x)
        y.square().sum().backward()
        results.append([y.detach().numpy()] + [p.grad.numpy().copy() for p in model.parameters()])
    assert y.grad_fn.name() == "ChainBackward0"
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)
    relu = model.relu if isinstance(model, LeNet5) else model.nf
    handle = relu.register_forward_hook(lambda module, args, output: None)
    assert model(x).grad_fn.name() != "ChainBackward0"  # a hook watches a layer: the layers one by one
    handle.remove()
    for p in model.parameters():
        p.requires_grad_(False)
    assert model(x).grad_fn is None  # nothing to differentiate: no graph
    model.conv1.weight.requires_grad_(True)  # the second block then runs as two ops (its weight is frozen)
    model.zero_grad()
    model(x).sum().backward()
    assert [name for name, p in model.named_parameters() if p.grad is not None] == ["conv1.weight"]


def test_cnn_model_checks_its_input_as_the_layers_do():
    model = LeNet5()
    good = sj.randn(2, 1, 28, 28)
    model(good), model(good)
    with pytest.raises(RuntimeError, match=r"expects input \[N, 1, H, W\]"):
        model(sj.randn(2, 3, 28, 28))
    with pytest.raises(RuntimeError, match="float64"):
        model(sj.randn(2, 1, 28, 28, dtype=sj.float64))


def _textbook_lenet(model, x):
    """LeNet-5's layers in the textbook order, one module call each (nothing fused)."""
    layers = [model.conv1, model.relu, model.pool1, model.conv2, model.relu, model.pool2, sj.nn.Flatten(),
              model.fc1, model.relu, model.fc2, model.relu, model.fc3]
    for layer in layers:
        x = layer(x)
    return x


class _LeakyConv(sj.nn.Conv2d):  # a subclass may compute something else than its parent
    def forward(self, x):
        return super().forward(x) * 0.5


@pytest.mark.parametrize("swap", ["tanh", "avgpool", "sequential fc2", "conv subclass", "features override"])
def test_lenet_with_a_swapped_layer_runs_that_layer(swap):
    sj.manual_seed(9)
    model = LeNet5()
    if swap == "tanh":
        model.relu = sj.nn.Tanh()
    elif swap == "avgpool":
        model.pool1 = sj.nn.AvgPool2d(2)
    elif swap == "sequential fc2":
        model.fc2 = sj.nn.Sequential(sj.nn.Linear(120, 84))
    elif swap == "conv subclass":
        conv = _LeakyConv(6, 16, 5)
        conv.load_state_dict(model.conv2.state_dict())
        model.conv2 = conv
    else:
        class Halved(LeNet5):
            def features(self, x):
                return super().features(x) * 0.5
        halved = Halved()
        halved.load_state_dict(model.state_dict())
        x = sj.randn(2, 1, 28, 28)
        for _ in range(2):
            np.testing.assert_allclose(halved(x).detach().numpy(),
                                       model.fc3(model.relu(model.fc2(model.relu(model.fc1(
                                           (model.features(x) * 0.5).flatten(1)))))).detach().numpy(), rtol=1e-6)
        return
    x = sj.randn(2, 1, 28, 28)
    expected = _textbook_lenet(model, x).detach().numpy()
    for _ in range(2):  # (the second call is the one a chain would take)
        np.testing.assert_allclose(model(x).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_course_cnn_with_tanh_runs_tanh():
    sj.manual_seed(10)
    model = CourseCNN()
    model.nf = sj.nn.Tanh()
    x = sj.randn(2, 3, 32, 32)
    expected = model.fc(model.pool2(model.nf(model.conv2(model.pool1(model.nf(model.conv1(x)))))).flatten(1))
    for _ in range(2):
        np.testing.assert_allclose(model(x).detach().numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
