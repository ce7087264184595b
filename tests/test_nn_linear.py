"""F.linear, nn.Linear, nn.Identity and the course's nn.Maxout, against PyTorch 2.13 and the maths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st

import shenjing as sj
import shenjing.nn.functional as F
from helpers import assert_close, check_module, check_op
from shenjing import nn

RNG = np.random.default_rng(7)

# ----------------------------------------------------------------------------------------------
# F.linear
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x_shape", [(3, 4), (2, 3, 4), (4,), (1, 2, 1, 4)])
def test_linear_matches_torch(x_shape):
    x, w, b = RNG.standard_normal(x_shape), RNG.standard_normal((5, 4)), RNG.standard_normal(5)
    check_op(F.linear, TF.linear, x, w, b)
    check_op(F.linear, TF.linear, x, w)


@settings(max_examples=30, deadline=None)
@given(lead=st.lists(st.integers(1, 3), max_size=3), in_features=st.integers(1, 4), out_features=st.integers(1, 4),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear_any_leading_shape_matches_torch(lead, in_features, out_features, bias, seed):
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal((*lead, in_features)), rng.standard_normal((out_features, in_features))]
    if bias:
        args.append(rng.standard_normal(out_features))
    check_op(F.linear, TF.linear, *args, numeric=False)


def test_linear_is_x_times_w_transposed_plus_b():
    x = sj.tensor([[1.0, 2.0, 3.0]])
    w = sj.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    b = sj.tensor([10.0, 20.0])
    assert F.linear(x, w, b).tolist() == [[11.0, 25.0]]


def test_linear_is_one_node():
    x = sj.randn(2, 3, requires_grad=True)
    y = F.linear(x, sj.randn(4, 3, requires_grad=True), sj.randn(4, requires_grad=True))
    assert y.grad_fn is not None
    assert len(y.grad_fn.next_functions) == 3
    assert all(fn.name() == "AccumulateGrad" for fn, _ in y.grad_fn.next_functions)


def test_linear_second_order_gradient():
    x = RNG.standard_normal((2, 3))
    w = RNG.standard_normal((4, 3))

    def grad_of_x(fn, lib):
        def f(x, w):
            (gx,) = lib.autograd.grad((fn(x, w) ** 2).sum(), x, create_graph=True)
            return gx
        return f

    check_op(grad_of_x(F.linear, sj), grad_of_x(TF.linear, torch), x, w, numeric=False)


def test_linear_shape_errors_name_both_shapes():
    with pytest.raises(RuntimeError, match=r"1x300 and 400x10"):
        F.linear(sj.randn(1, 300), sj.randn(10, 400))
    with pytest.raises(RuntimeError, match=r"bias must have shape \[10\]"):
        F.linear(sj.randn(1, 400), sj.randn(10, 400), sj.randn(3))
    with pytest.raises(RuntimeError, match="same dtype"):
        F.linear(sj.randn(1, 4, dtype=sj.float64), sj.randn(2, 4))


# ----------------------------------------------------------------------------------------------
# nn.Linear
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_module_matches_torch(dtype, bias):
    check_module(nn.Linear(4, 3, bias=bias), torch.nn.Linear(4, 3, bias=bias), RNG.standard_normal((5, 4)),
                 dtype=dtype)
    check_module(nn.Linear(4, 3, bias=bias), torch.nn.Linear(4, 3, bias=bias), RNG.standard_normal((2, 5, 4)),
                 dtype=dtype)


def test_linear_module_parameters_and_repr():
    layer = nn.Linear(400, 10)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert tuple(layer.weight.shape) == (10, 400) and tuple(layer.bias.shape) == (10,)
    assert layer.weight.dtype == sj.float32 and layer.weight.requires_grad
    assert repr(layer) == repr(torch.nn.Linear(400, 10))
    assert repr(nn.Linear(3, 2, bias=False)) == repr(torch.nn.Linear(3, 2, bias=False))
    assert nn.Linear(3, 2, bias=False).bias is None
    assert list(nn.Linear(3, 2).state_dict()) == list(torch.nn.Linear(3, 2).state_dict())
    assert nn.Linear(3, 2, dtype=sj.float64).weight.dtype == sj.float64


def test_linear_default_init_is_uniform_within_one_over_sqrt_fan_in():
    sj.manual_seed(0)
    fan_in = 50
    layer = nn.Linear(fan_in, 400)
    bound = 1 / math.sqrt(fan_in)
    w = layer.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(layer.bias.detach().numpy()).max() <= bound
    # U(-b, b): mean 0, standard deviation b / sqrt(3); 20,000 draws
    assert abs(w.mean()) < 0.02 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.abs(w).max() > 0.99 * bound  # the whole interval is used


def test_linear_init_repeats_under_manual_seed():
    sj.manual_seed(123)
    first = nn.Linear(3, 2).weight.detach().numpy().copy()
    sj.manual_seed(123)
    second = nn.Linear(3, 2).weight.detach().numpy()
    third = nn.Linear(3, 2).weight.detach().numpy()
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(second, third)


def test_linear_module_errors():
    with pytest.raises(RuntimeError) as error:
        nn.Linear(400, 10)(sj.randn(1, 300))
    expected = "Linear(in_features=400, out_features=10, bias=True) expects input [..., 400], got [1, 300]"
    assert str(error.value) == expected
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="in_features"):
            nn.Linear(bad, 3)
        with pytest.raises(ValueError, match="out_features"):
            nn.Linear(3, bad)


def test_identity():
    x = sj.randn(2, 3)
    assert nn.Identity(54, unused="x")(x) is x


# ----------------------------------------------------------------------------------------------
# Maxout (the course's max(w1^T x + b1, w2^T x + b2); not in PyTorch)
# ----------------------------------------------------------------------------------------------


def _torch_maxout(x, w, b, pieces):
    out = TF.linear(x, w, b)
    return out.unflatten(-1, (w.shape[0] // pieces, pieces)).amax(-1)


@pytest.mark.parametrize("pieces", [1, 2, 3])
def test_maxout_matches_max_of_torch_linear_pieces(pieces):
    x = RNG.standard_normal((4, 3))
    w = RNG.standard_normal((2 * pieces, 3))
    b = RNG.standard_normal(2 * pieces)
    check_op(lambda x, w, b: F.maxout(x, w, b, pieces), lambda x, w, b: _torch_maxout(x, w, b, pieces), x, w, b)


def test_maxout_course_formula_and_relu_special_case():
    # one unit, two pieces: max(w1 x + b1, w2 x + b2) by hand
    w = sj.tensor([[2.0, -1.0], [0.5, 0.5]])
    b = sj.tensor([0.0, 1.0])
    x = sj.tensor([[1.0, 1.0], [-2.0, 4.0], [3.0, 0.0]])
    expected = [max(2 * a - c, 0.5 * a + 0.5 * c + 1) for a, c in x.tolist()]
    assert F.maxout(x, w, b, pieces=2).reshape(-1).tolist() == expected
    # pieces w^T x and 0 give ReLU(w^T x)
    w_relu = sj.tensor([[1.5], [0.0]])
    z = sj.tensor([[-2.0], [0.0], [3.0]])
    assert F.maxout(z, w_relu, None, pieces=2).reshape(-1).tolist() == [0.0, 0.0, 4.5]


def test_maxout_module():
    layer = nn.Maxout(4, 3, pieces=2)
    assert tuple(layer.weight.shape) == (6, 4) and tuple(layer.bias.shape) == (6,)
    assert np.abs(layer.weight.detach().numpy()).max() <= 0.5
    x = sj.randn(5, 4, requires_grad=True)
    out = layer(x)
    assert tuple(out.shape) == (5, 3)
    expected = _torch_maxout(torch.tensor(x.detach().numpy()), torch.tensor(layer.weight.detach().numpy()),
                             torch.tensor(layer.bias.detach().numpy()), 2)
    # float32 sums of four products of O(1) terms: an output near 0 can differ by an ulp of the terms
    np.testing.assert_allclose(out.detach().numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)
    out.sum().backward()
    # only the winning piece of each unit receives gradient: per sample, 3 of the 6 rows
    assert layer.weight.grad is not None and layer.bias.grad.numpy().sum() == pytest.approx(15.0)
    assert repr(layer) == "Maxout(in_features=4, out_features=3, pieces=2, bias=True)"
    with pytest.raises(ValueError, match="pieces"):
        nn.Maxout(4, 3, pieces=0)
    with pytest.raises(RuntimeError, match=r"expects input \[\.\.\., 4\], got \[2, 5\]"):
        layer(sj.randn(2, 5))
