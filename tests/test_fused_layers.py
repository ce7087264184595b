"""Layers fused with their ReLU (Linear + ReLU, Linear layers in a row, convolution + 2x2 max-pool + ReLU)
against PyTorch, central differences and the layers in a row, and their use in the course models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from shenjing.models import MLP, CourseCNN, LeNet5
from shenjing.nn._functional.conv import conv2d_max_pool2d
from shenjing.nn._functional.linear import linear_relu, linear_stack, stacked_layers
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


STACKS = {  # input shape, layer sizes (in, out) ..., which layers have a bias, flatten
    "mlp": ((5, 7), ((7, 6), (6, 4), (4, 3)), (True, True, True), False),
    "one layer, images": ((3, 2, 2, 2), ((8, 4),), (True,), True),
    "no biases, one sample": ((1, 2, 3), ((6, 5), (5, 2)), (False, True), True),
    "leading dims": ((2, 3, 7), ((7, 5), (5, 4)), (True, False), False),
}


def _stack_arrays(case, seed=0):
    """x and the layers' parameters (None for a missing bias) of a STACKS case."""
    x_shape, sizes, biases, _ = STACKS[case]
    rng = np.random.default_rng(seed)
    params = []
    for (n_in, n_out), bias in zip(sizes, biases):
        params += [rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out) if bias else None]
    return rng.standard_normal(x_shape), params


def _torch_stack(x, params, flatten):
    h = x.flatten(1) if flatten else x
    for i in range(0, len(params), 2):
        h = TF.linear(h, params[i], params[i + 1])
        h = TF.relu(h) if i + 2 < len(params) else h
    return h


@pytest.mark.parametrize("case", list(STACKS))
def test_linear_stack_matches_pytorch_and_central_differences(case):
    x, params = _stack_arrays(case)
    flatten = STACKS[case][3]
    present = [p for p in params if p is not None]

    def with_biases(fn):  # the parameter list again, with None where a layer has no bias
        def call(x, *given):
            remaining = iter(given)
            return fn(x, [None if p is None else next(remaining) for p in params], flatten)
        return call
    check_op(with_biases(linear_stack), with_biases(_torch_stack), x, *present)


@pytest.mark.parametrize("case", list(STACKS))
def test_linear_stack_equals_the_layers_bit_for_bit(case):
    x, params = _stack_arrays(case, seed=1)
    flatten = STACKS[case][3]
    upstream = None
    results = []
    for fn in (linear_stack, stacked_layers):
        inputs = [sj.tensor(x.astype(np.float32), requires_grad=True)]
        inputs += [None if p is None else sj.tensor(p.astype(np.float32), requires_grad=True) for p in params]
        y = fn(inputs[0], inputs[1:], flatten)
        if upstream is None:
            upstream = sj.tensor(np.random.default_rng(2).standard_normal(tuple(y.shape)).astype(np.float32))
        y.backward(upstream)
        results.append([y.detach().numpy()] + [t.grad.numpy() for t in inputs if t is not None])
        results[-1].append(type(y.grad_fn).__name__)
    assert results[0].pop() == "LinearStack" and results[1].pop() == "Linear"
    for fused, plain in zip(*results):
        np.testing.assert_array_equal(fused, plain)


@pytest.mark.parametrize("case", ["mlp", "no biases, one sample"])
def test_linear_stack_second_derivatives_match_pytorch(case):
    x, params = _stack_arrays(case, seed=3)
    flatten = STACKS[case][3]
    grads = []
    for lib, fn in ((sj, linear_stack), (torch, _torch_stack)):
        inputs = [lib.tensor(x, requires_grad=True)]
        inputs += [None if p is None else lib.tensor(p, requires_grad=True) for p in params]
        tensors = [t for t in inputs if t is not None]
        y = fn(inputs[0], inputs[1:], flatten)
        first = (sj.autograd.grad if lib is sj else torch.autograd.grad)((y * y).sum(), tensors, create_graph=True)
        sum((g ** 3).sum() for g in first).backward()
        grads.append([g.detach().numpy() for g in first] + [t.grad.numpy() for t in tensors])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_linear_stack_backward_twice_with_retain_graph_and_inference():
    x, params = _stack_arrays("mlp", seed=4)
    grads = []
    for lib, fn in ((sj, linear_stack), (torch, _torch_stack)):
        tensors = [lib.tensor(a, requires_grad=True) for a in [x] + params]
        y = fn(tensors[0], tensors[1:], False).sum()
        y.backward(retain_graph=True)
        y.backward()  # the hidden layers are still there: the gradients double
        with lib.no_grad():
            inference = fn(*(lib.tensor(a) for a in [x]), [lib.tensor(p) for p in params], False).numpy()
        grads.append([t.grad.numpy() for t in tensors] + [inference])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    y = linear_stack(sj.tensor(x), [sj.tensor(p, requires_grad=True) for p in params]).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_linear_stack_takes_an_empty_batch():
    x = sj.zeros(0, 2, 3, requires_grad=True)
    w, b = sj.randn(4, 6, requires_grad=True), sj.randn(4, requires_grad=True)
    y = linear_stack(x, [w, b], flatten=True)
    assert tuple(y.shape) == (0, 4)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 2, 3)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((4, 6), np.float32))
    np.testing.assert_array_equal(b.grad.numpy(), np.zeros(4, np.float32))


def test_linear_stack_checks_its_operands():
    w1, w2 = sj.zeros(4, 6), sj.zeros(3, 5)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x4 and 5x3\)"):
        linear_stack(sj.zeros(2, 6), [w1, None, w2, None])  # layer 2 expects 5 inputs, layer 1 gives 4
    with pytest.raises(RuntimeError, match=r"\(2x6 and 5x4\)"):
        linear_stack(sj.zeros(2, 2, 3), [sj.zeros(4, 5), None], flatten=True)
    with pytest.raises(RuntimeError, match="flatten needs a batched input"):
        linear_stack(sj.zeros(6), [w1, None], flatten=True)
    with pytest.raises(RuntimeError, match="bias must have shape"):
        linear_stack(sj.zeros(2, 6), [w1, sj.zeros(3)])
    with pytest.raises(RuntimeError, match="same dtype"):
        linear_stack(sj.zeros(2, 6), [w1, None, sj.zeros(3, 4, dtype=sj.float64), None])


def test_linear_stack_notices_its_input_changed_in_place():
    x, w = sj.randn(3, 4), sj.randn(5, 4, requires_grad=True)
    y = linear_stack(x, [w, None, sj.randn(2, 5), None])
    x.add_(1.0)
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


def test_mlp_runs_its_layers_as_one_op_unless_watched():
    sj.manual_seed(5)
    model = MLP([12, 8, 6, 3])
    x = sj.tensor(np.random.default_rng(5).standard_normal((4, 12)).astype(np.float32))
    assert type(model(x).grad_fn).__name__ == "LinearStack"  # the three layers: one op
    fused, plain = _fused_and_plain(model, x, model.layers[2])  # a hook on the first ReLU
    for a, c in zip(fused, plain):
        np.testing.assert_array_equal(a, c)
    hooked = model.layers[4].register_forward_hook(lambda module, args, output: None)  # the second ReLU
    assert type(model(x).grad_fn).__name__ == "Linear"  # the layers one by one: fc3, ...
    assert type(model(x).grad_fn.next_functions[0][0]).__name__ == "Relu"
    hooked.remove()
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
