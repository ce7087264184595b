"""Layers fused with their ReLU (Linear + ReLU, convolution + 2x2 max-pool + ReLU) against PyTorch,
central differences and the layers in a row, and their use in the course models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from shenjing.models import MLP, CourseCNN, LeNet5
from shenjing.nn._functional.conv import conv2d_max_pool2d
from shenjing.nn._functional.linear import linear_relu
from helpers import FUSED_PRODUCTS, check_op, use_fused_product


@pytest.mark.parametrize("shape", [(5, 7), (7,), (2, 3, 7)], ids=["batch", "one sample", "leading dims"])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_relu_matches_pytorch_and_central_differences(shape, bias):
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(shape), rng.standard_normal((4, 7))] + ([rng.standard_normal(4)] if bias else [])
    check_op(lambda *a: linear_relu(*a), lambda *a: TF.relu(TF.linear(*a)), *args)


def test_linear_relu_equals_the_two_ops_bit_for_bit():
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((64, 30), (20, 30), (20,)))
    upstream = sj.tensor(rng.standard_normal((64, 20)).astype(np.float32))
    results = []
    for fn in (linear_relu, lambda *a: F.relu(F.linear(*a))):
        tensors = [sj.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = fn(*tensors)
        y.backward(upstream)
        results.append([y.detach().numpy()] + [t.grad.numpy() for t in tensors])
    for fused, plain in zip(*results):
        np.testing.assert_array_equal(fused, plain)


def test_linear_relu_second_derivatives_match_pytorch():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((3, 5)), rng.standard_normal((4, 5)), rng.standard_normal(4)
    grads = []
    for lib, fn in ((sj, linear_relu), (torch, lambda *a: TF.relu(TF.linear(*a)))):
        tensors = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = fn(*tensors)
        gx, gw = (sj.autograd.grad if lib is sj else torch.autograd.grad)((y * y).sum(), tensors[:2], create_graph=True)
        ((gx * gx).sum() + (gw ** 3).sum()).backward()
        grads.append([g.detach().numpy() for g in (gx, gw)] + [t.grad.numpy() for t in tensors])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_linear_relu_checks_its_operands():
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        linear_relu(sj.zeros(2, 3), sj.zeros(4, 5))
    with pytest.raises(RuntimeError, match="bias must have shape"):
        linear_relu(sj.zeros(2, 5), sj.zeros(4, 5), sj.zeros(3))


def test_linear_relu_notices_its_output_changed_in_place():
    x, w = sj.randn(3, 4), sj.randn(5, 4, requires_grad=True)
    y = linear_relu(x, w)
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


CONV_CASES = {  # x shape, w shape, padding
    "cnn1": ((2, 3, 12, 12), (6, 3, 5, 5), 0),
    "lenet1": ((2, 1, 12, 12), (6, 1, 5, 5), 2),
    "cnn2": ((2, 6, 14, 14), (16, 6, 5, 5), 0),
    "odd": ((2, 2, 9, 11), (4, 2, 3, 3), 1),
}


@pytest.mark.parametrize("product", FUSED_PRODUCTS)
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv_max_pool_relu_matches_pytorch_and_central_differences(monkeypatch, case, product):
    use_fused_product(monkeypatch, product)
    x_shape, w_shape, padding = CONV_CASES[case]
    rng = np.random.default_rng(3)
    check_op(lambda x, w, b: conv2d_max_pool2d(x, w, b, padding=padding, relu=True),
             lambda x, w, b: TF.relu(TF.max_pool2d(TF.conv2d(x, w, b, padding=padding), 2)),
             rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0]))


@pytest.mark.parametrize("case", ["cnn1", "odd"])
def test_conv_max_pool_relu_second_derivatives_and_inference(case):
    x_shape, w_shape, padding = CONV_CASES[case]
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    grads = []
    for lib, fn in ((sj, lambda *a: conv2d_max_pool2d(*a, padding=padding, relu=True)),
                    (torch, lambda *a: TF.relu(TF.max_pool2d(TF.conv2d(*a, padding=padding), 2)))):
        tensors = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = fn(*tensors)
        gx, gw = (sj.autograd.grad if lib is sj else torch.autograd.grad)((y * y).sum(), tensors[:2], create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum()).backward()
        grads.append([g.detach().numpy() for g in (gx, gw)] + [t.grad.numpy() for t in tensors])
        with lib.no_grad():
            grads[-1].append(fn(*(lib.tensor(a) for a in (x, w, b))).numpy())
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def _fused_and_plain(model, x, hooked):
    """The model's output and gradients, as it runs (fused) and with a hook on ``hooked`` (layers in a row)."""
    results = []
    for hook in (False, True):
        handle = hooked.register_forward_hook(lambda module, args, output: None) if hook else None
        model.zero_grad()
        y = model(x)
        y.square().sum().backward()
        results.append([y.detach().numpy()] + [p.grad.numpy().copy() for p in model.parameters()])
        if handle:
            handle.remove()
    return results


def test_mlp_runs_linear_and_relu_as_one_op_unless_watched():
    sj.manual_seed(5)
    model = MLP([12, 8, 6, 3])
    x = sj.tensor(np.random.default_rng(5).standard_normal((4, 12)).astype(np.float32))
    assert model(x).grad_fn.next_functions[0][0].name() == "ReluBackward0"  # fc3's input: the fused op
    assert type(model(x).grad_fn.next_functions[0][0]).__name__ == "LinearRelu"
    fused, plain = _fused_and_plain(model, x, model.layers[2])  # a hook on the first ReLU
    for a, c in zip(fused, plain):
        np.testing.assert_array_equal(a, c)
    seen = []
    handle = model.layers[1].register_forward_hook(lambda module, args, output: seen.append(output.detach().numpy()))
    model(x)
    handle.remove()
    assert seen[0].min() < 0  # the hooked Linear layer's own output, before ReLU


def test_mlp_with_other_activations_or_dropout():
    sj.manual_seed(6)
    x = sj.randn(4, 12)
    tanh = MLP([12, 8, 3], activation="tanh")
    assert tanh(x).grad_fn.next_functions[0][0].name() == "TanhBackward0"
    dropped = MLP([12, 8, 3], dropout=0.5).eval()  # Linear, ReLU, Dropout, Linear: the pair still fuses
    np.testing.assert_array_equal(dropped(x).detach().numpy(), dropped.layers(x).detach().numpy())


@pytest.mark.parametrize("make, shape", [(LeNet5, (3, 1, 28, 28)), (CourseCNN, (3, 3, 32, 32))])
def test_cnn_models_equal_the_layers_in_a_row(monkeypatch, make, shape):
    # on row windows the fused ops do the layers' arithmetic, bit for bit
    use_fused_product(monkeypatch, "rows")
    sj.manual_seed(7)
    model = make()
    x = sj.tensor(np.random.default_rng(7).standard_normal(shape).astype(np.float32))
    relu = model.relu if isinstance(model, LeNet5) else model.nf
    fused, plain = _fused_and_plain(model, x, relu)
    for a, c in zip(fused, plain):
        np.testing.assert_array_equal(a, c)
    if isinstance(model, LeNet5):
        assert model.features(x).grad_fn.name() == "ConvMaxPoolRelu2DBackward0"
