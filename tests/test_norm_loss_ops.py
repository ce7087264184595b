"""The single ops of batch norm, layer norm, log_softmax, nll_loss and dropout: each is one node, agrees
with its composed reference and PyTorch 2.13 (values and gradients), with central differences, and
under create_graph (second derivatives against PyTorch's)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import assert_close, check_module, check_op
from shenjing import nn
from shenjing.nn._functional.normalization import batch_norm_reference, layer_norm_reference

RNG = np.random.default_rng(15)
DTYPES = [np.float32, np.float64]


def _pair(array, dtype=np.float64, requires_grad=True):
    value = np.asarray(array).astype(dtype)
    return sj.tensor(value, requires_grad=requires_grad), torch.tensor(value, requires_grad=requires_grad)


def _second_derivatives_match(sj_fn, torch_fn, arrays, dtype=np.float64):
    """d/d(inputs, gy) of sum(v * d(sum(gy * f))/d inputs): shenjing's create_graph against PyTorch's."""
    sj_in, torch_in = zip(*[_pair(a, dtype) for a in arrays])
    out_sj, out_torch = sj_fn(*sj_in), torch_fn(*torch_in)
    gy_sj, gy_torch = _pair(RNG.standard_normal(tuple(out_torch.shape)), dtype)
    first_sj = sj.autograd.grad(out_sj, sj_in, gy_sj, create_graph=True)
    first_torch = torch.autograd.grad(out_torch, torch_in, gy_torch, create_graph=True)
    vs = [RNG.standard_normal(tuple(g.shape)).astype(dtype) for g in first_torch]
    for g_sj, g_torch in zip(first_sj, first_torch):
        assert_close(g_sj.detach().numpy(), g_torch.detach().numpy(), dtype, "first derivative")
    total_sj = sum((g * sj.tensor(v)).sum() for g, v in zip(first_sj, vs))
    total_torch = sum((g * torch.tensor(v)).sum() for g, v in zip(first_torch, vs))
    second_sj = sj.autograd.grad(total_sj, (*sj_in, gy_sj), allow_unused=True)
    second_torch = torch.autograd.grad(total_torch, (*torch_in, gy_torch), allow_unused=True)
    for k, (a, b) in enumerate(zip(second_sj, second_torch)):
        if b is None:
            assert a is None or np.all(a.numpy() == 0), f"second derivative {k}: torch has none"
            continue
        assert a is not None, f"second derivative {k}: missing"
        assert_close(a.numpy(), b.numpy(), dtype, f"second derivative {k}")


# -- batch norm --------------------------------------------------------------------------------------

SHAPES = [(5, 3), (4, 3, 6), (3, 2, 4, 5)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_op_matches_its_composed_reference(shape, affine, training, dtype):
    channels = shape[1]
    x = RNG.standard_normal(shape) * 3 + 2
    w = RNG.random(channels) + 0.5 if affine in ("both", "weight") else None
    b = RNG.standard_normal(channels) if affine in ("both", "bias") else None
    stats = [RNG.standard_normal(channels), RNG.random(channels) + 0.5]
    results = []
    for fn in (F.batch_norm, batch_norm_reference):
        inputs = [sj.tensor(a.astype(dtype), requires_grad=True) if a is not None else None for a in (x, w, b)]
        running = [sj.tensor(s.astype(dtype)) for s in stats]
        out = fn(inputs[0], *running, inputs[1], inputs[2], training=training, momentum=0.2)
        upstream = sj.tensor(np.linspace(-1, 1, out.numel()).reshape(shape).astype(dtype))
        grads = sj.autograd.grad(out, [t for t in inputs if t is not None], upstream)
        results.append([out.detach().numpy(), *[g.numpy() for g in grads], *[s.numpy() for s in running]])
    for fused, reference in zip(*results):
        assert_close(fused, reference, dtype)


def test_batch_norm_is_one_node_whose_inputs_are_x_weight_and_bias():
    layer = nn.BatchNorm2d(3)
    x = sj.randn(4, 3, 2, 2, requires_grad=True)
    out = layer(x)
    assert out.grad_fn.name() == "NativeBatchNormBackward0"
    assert [type(f).__name__ for f, _ in out.grad_fn.next_functions] == ["AccumulateGrad"] * 3
    assert [f.variable for f, _ in out.grad_fn.next_functions] == [x, layer.weight, layer.bias]
    layer.eval()
    assert layer(x).grad_fn.name() == "NativeBatchNormBackward0"


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 3, 2)])
def test_batch_norm_gradients_against_central_differences_without_affine(shape):
    x = RNG.standard_normal(shape)
    check_op(lambda x, b: F.batch_norm(x, None, None, None, b, training=True),
             lambda x, b: TF.batch_norm(x, None, None, None, b, training=True), x, RNG.standard_normal(shape[1]))
    check_op(lambda x, w: F.batch_norm(x, sj.zeros(shape[1], dtype=x.dtype), sj.ones(shape[1], dtype=x.dtype), w,
                                       training=False),
             lambda x, w: TF.batch_norm(x, torch.zeros(shape[1], dtype=x.dtype), torch.ones(shape[1], dtype=x.dtype),
                                        w, training=False), x, RNG.random(shape[1]) + 0.5)


@pytest.mark.parametrize("shape", [(4, 2), (3, 2, 2, 2)])
def test_batch_norm_second_derivatives_match_torch(shape):
    x, w, b = RNG.standard_normal(shape), RNG.random(shape[1]) + 0.5, RNG.standard_normal(shape[1])
    _second_derivatives_match(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                              lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), [x, w, b])
    _second_derivatives_match(lambda x: F.batch_norm(x, None, None, training=True, eps=1e-2),
                              lambda x: TF.batch_norm(x, None, None, training=True, eps=1e-2), [x])
    mean, var = RNG.standard_normal(shape[1]), RNG.random(shape[1]) + 0.5
    _second_derivatives_match(
        lambda x, w, b: F.batch_norm(x, sj.tensor(mean), sj.tensor(var), w, b),
        lambda x, w, b: TF.batch_norm(x, torch.tensor(mean), torch.tensor(var), w, b), [x, w, b])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("sj_type, torch_type, shape", [(nn.BatchNorm1d, torch.nn.BatchNorm1d, (8, 4)),
                                                        (nn.BatchNorm1d, torch.nn.BatchNorm1d, (3, 4, 5)),
                                                        (nn.BatchNorm2d, torch.nn.BatchNorm2d, (3, 4, 3, 5))])
def test_running_statistics_after_several_steps_match_torch(sj_type, torch_type, shape, momentum, dtype):
    torch_layer = torch_type(shape[1], momentum=momentum)
    sj_layer = check_module(sj_type(shape[1], momentum=momentum), torch_layer, RNG.standard_normal(shape) * 2 + 3,
                            dtype=dtype, steps=5)
    assert sj_layer.num_batches_tracked.item() == 5
    assert_close(sj_layer.running_var.numpy(), torch_layer.running_var.detach().numpy(), dtype)
    sj_layer.eval()
    torch_layer.eval()
    check_module(sj_layer, torch_layer, RNG.standard_normal(shape), dtype=dtype)


def test_batch_norm_wrong_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(sj.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match=r"with 3 channels in dim 1, got \[2, 5\]"):
        nn.BatchNorm1d(3)(sj.randn(2, 5))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size "
                                         r"\[1, 3, 1\]"):
        nn.BatchNorm1d(3)(sj.randn(1, 3, 1))
    assert tuple(nn.BatchNorm1d(3)(sj.randn(1, 3, 2)).shape) == (1, 3, 2)  # 2 values per channel: fine
    with pytest.raises(RuntimeError, match="weight should contain 3 elements not 2"):
        F.batch_norm(sj.randn(4, 3), None, None, sj.ones(2), training=True)
    with pytest.raises(ValueError, match=r"expected 2D or higher input"):
        F.batch_norm(sj.randn(4), None, None, training=True)


def test_batch_norm_input_changed_in_place_is_caught_like_torch():
    for lib in (sj, torch):
        x = lib.randn(4, 3, requires_grad=True)
        h = x * 1.0
        y = (F if lib is sj else TF).batch_norm(h, None, None, training=True)
        h.add_(1.0)  # the input is saved for backward (under create_graph x_hat is recomputed from it)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


# -- layer norm --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
@pytest.mark.parametrize("shape, normalized", [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((6,), (6,))])
def test_layer_norm_op_matches_its_composed_reference_and_torch(shape, normalized, affine, dtype):
    x = RNG.standard_normal(shape) * 2 - 1
    w = RNG.random(normalized) + 0.5 if affine in ("both", "weight") else None
    b = RNG.standard_normal(normalized) if affine in ("both", "bias") else None
    results = []
    for fn in (F.layer_norm, layer_norm_reference):
        inputs = [sj.tensor(a.astype(dtype), requires_grad=True) if a is not None else None for a in (x, w, b)]
        out = fn(inputs[0], normalized, inputs[1], inputs[2])
        upstream = sj.tensor(np.cos(np.arange(out.numel())).reshape(shape).astype(dtype))
        grads = sj.autograd.grad(out, [t for t in inputs if t is not None], upstream)
        results.append([out.detach().numpy(), *[g.numpy() for g in grads]])
    for fused, reference in zip(*results):
        assert_close(fused, reference, dtype)
    assert F.layer_norm(sj.tensor(x, requires_grad=True), normalized).grad_fn.name() == "NativeLayerNormBackward0"
    arrays = [a for a in (x, w, b) if a is not None]
    names = [n for n, a in zip("xwb", (x, w, b)) if a is not None]

    def call(lib_fn):
        def fn(*args):
            given = dict(zip(names, args))
            return lib_fn(given["x"], normalized, given.get("w"), given.get("b"))
        return fn

    check_op(call(F.layer_norm), call(TF.layer_norm), *arrays, dtypes=(dtype,))


def test_layer_norm_second_derivatives_match_torch():
    x, w, b = RNG.standard_normal((3, 2, 3)), RNG.random((2, 3)) + 0.5, RNG.standard_normal((2, 3))
    _second_derivatives_match(lambda x, w, b: F.layer_norm(x, (2, 3), w, b),
                              lambda x, w, b: TF.layer_norm(x, (2, 3), w, b), [x, w, b])
    _second_derivatives_match(lambda x: F.layer_norm(x, (3,)), lambda x: TF.layer_norm(x, (3,)), [x])


# -- log_softmax, nll_loss, cross_entropy ---------------------------------------------------------

@pytest.mark.parametrize("dim", [1, 0, -1])
def test_log_softmax_and_softmax_gradients_and_second_derivatives(dim):
    x = RNG.standard_normal((3, 4)) * 3
    check_op(lambda x: F.log_softmax(x, dim), lambda x: TF.log_softmax(x, dim), x)
    check_op(lambda x: F.softmax(x, dim), lambda x: TF.softmax(x, dim), x)
    _second_derivatives_match(lambda x: F.log_softmax(x, dim), lambda x: TF.log_softmax(x, dim), [x])
    _second_derivatives_match(lambda x: F.softmax(x, dim), lambda x: TF.softmax(x, dim), [x])


NLL_CASES = [  # input shape, target, keyword arguments
    ((4, 5), [1, 0, 4, 2], {}),
    ((4, 5), [1, -100, 4, 2], {}),
    ((4, 5), [1, 3, 4, 3], dict(ignore_index=3)),
    ((4, 5), [1, 0, 4, 2], dict(weight=[0.5, 1.0, 2.0, 0.1, 3.0])),
    ((4, 5), [1, 0, -100, 2], dict(weight=[0.5, 1.0, 2.0, 0.1, 3.0])),
    ((2, 3, 2, 2), [[[0, 1], [2, 1]], [[2, 2], [0, -100]]], {}),
    ((2, 3, 4), [[0, 1, 2, 1], [2, 0, 0, 1]], dict(weight=[2.0, 1.0, 0.5])),
    ((5,), 3, {}),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape, target, options", NLL_CASES)
def test_nll_loss_op_matches_torch_with_weights_ignore_index_and_reductions(shape, target, options, reduction):
    target = np.array(target)
    weight = options.get("weight")
    rest = {k: v for k, v in options.items() if k != "weight"}

    def sj_fn(x):
        w = None if weight is None else sj.tensor(weight, dtype=x.dtype)
        return F.nll_loss(F.log_softmax(x, 0 if x.ndim == 1 else 1), sj.tensor(target), w, reduction=reduction,
                          **rest)

    def torch_fn(x):
        w = None if weight is None else torch.tensor(weight, dtype=x.dtype)
        return TF.nll_loss(TF.log_softmax(x, 0 if x.ndim == 1 else 1), torch.tensor(target), w,
                           reduction=reduction, **rest)

    check_op(sj_fn, torch_fn, RNG.standard_normal(shape))
    values = RNG.standard_normal(shape)
    x = sj.tensor(values, requires_grad=True)
    assert sj_fn(x).grad_fn.name() == torch_fn(torch.tensor(values, requires_grad=True)).grad_fn.name()
    if reduction != "none" and len(shape) > 1:
        _second_derivatives_match(sj_fn, torch_fn, [RNG.standard_normal(shape)])


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shape, target, options", NLL_CASES[:6])
def test_cross_entropy_with_weights_ignore_index_and_label_smoothing_matches_torch(shape, target, options,
                                                                                    smoothing):
    target = np.array(target)
    weight = options.get("weight")
    rest = {k: v for k, v in options.items() if k != "weight"}
    check_op(lambda x: F.cross_entropy(x, sj.tensor(target),
                                       None if weight is None else sj.tensor(weight, dtype=x.dtype),
                                       label_smoothing=smoothing, **rest),
             lambda x: TF.cross_entropy(x, torch.tensor(target),
                                        None if weight is None else torch.tensor(weight, dtype=x.dtype),
                                        label_smoothing=smoothing, **rest), RNG.standard_normal(shape))


def test_nll_loss_class_weights_that_need_a_gradient_get_one():
    # PyTorch does not differentiate the class weights; shenjing's composed form does, consistently
    x = sj.tensor(RNG.standard_normal((4, 3)))
    weight = sj.tensor([1.0, 2.0, 3.0], dtype=sj.float64, requires_grad=True)
    target = sj.tensor([0, 2, 2, 1])
    F.nll_loss(x, target, weight, reduction="sum").backward()
    expected = [-x.numpy()[0, 0], -x.numpy()[3, 1], -(x.numpy()[1, 2] + x.numpy()[2, 2])]
    np.testing.assert_allclose(weight.grad.numpy(), expected, rtol=1e-12)


def test_nll_loss_with_every_target_ignored_is_nan_like_torch():
    x = RNG.standard_normal((2, 3))
    sx, tx = _pair(x)
    for sj_loss, torch_loss in [(F.nll_loss, TF.nll_loss), (F.cross_entropy, TF.cross_entropy)]:
        sx.grad = tx.grad = None
        loss, expected = sj_loss(sx, sj.tensor([-100, -100])), torch_loss(tx, torch.tensor([-100, -100]))
        assert np.isnan(loss.item()) and np.isnan(expected.item())
        loss.backward()
        expected.backward()
        np.testing.assert_array_equal(sx.grad.numpy(), tx.grad.numpy())  # zeros, not nan


# -- dropout ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.25, 0.5])
def test_dropout_is_one_node_draws_the_same_stream_and_its_gradient_is_the_mask(p, dtype):
    x_np = RNG.standard_normal((6, 7)).astype(dtype)
    torch.manual_seed(3)  # PyTorch's mask for the same seed (its dropout of ones is the scaled mask)
    expected_mask = TF.dropout(torch.ones(6, 7, dtype=getattr(torch, np.dtype(dtype).name)), p).numpy()
    sj.manual_seed(3)
    x = sj.tensor(x_np, requires_grad=True)
    y = F.dropout(x, p)
    assert y.grad_fn.name() == "MulBackward0" and y.dtype == x.dtype
    assert [f.variable for f, _ in y.grad_fn.next_functions] == [x]
    np.testing.assert_array_equal(y.detach().numpy(), x_np * expected_mask)
    gy = RNG.standard_normal((6, 7)).astype(dtype)
    (gx,) = sj.autograd.grad(y, x, sj.tensor(gy), create_graph=True)
    np.testing.assert_array_equal(gx.detach().numpy(), gy * expected_mask)
    v = sj.tensor(RNG.standard_normal((6, 7)).astype(dtype), requires_grad=True)
    (ggy,) = sj.autograd.grad((gx * v).sum(), v)  # d/dv of sum(v * gy * mask)
    np.testing.assert_array_equal(ggy.numpy(), (gy * expected_mask).astype(dtype))


def test_dropout_second_derivative_with_respect_to_the_upstream_gradient():
    x = sj.tensor(RNG.standard_normal((5, 4)), requires_grad=True)
    sj.manual_seed(0)
    y = F.dropout(x, 0.4)
    mask = y.detach().numpy() / x.detach().numpy()
    gy = sj.tensor(RNG.standard_normal((5, 4)), requires_grad=True)
    (gx,) = sj.autograd.grad(y, x, gy, create_graph=True)
    (ggy,) = sj.autograd.grad((gx * gx).sum(), gy)  # = 2 gy mask^2
    np.testing.assert_allclose(ggy.numpy(), 2 * gy.detach().numpy() * mask ** 2, rtol=1e-12)


def test_channel_dropout_and_inplace_dropout_are_one_node_too():
    sj.manual_seed(1)
    x = sj.randn(2, 3, 4, 4, requires_grad=True)
    y = F.dropout2d(x, 0.5)
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    kept = (y.detach().numpy() != 0).all(axis=(2, 3)) | (y.detach().numpy() == 0).all(axis=(2, 3))
    assert kept.all()
    np.testing.assert_array_equal(x.grad.numpy(), np.where(y.detach().numpy() != 0, 2.0, 0.0))
    z = sj.randn(3, 5, requires_grad=True)
    h = z * 1.0
    F.dropout(h, 0.5, inplace=True)
    h.sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), np.where(h.detach().numpy() != 0, 2.0, 0.0))
