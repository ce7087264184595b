"""Activation functions (F.*) and layers (nn.*) against PyTorch 2.13; erf against math.erf; Step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import check_module, check_op
from shenjing import nn
from shenjing.nn._functional.activation import erf

RNG = np.random.default_rng(3)
X = RNG.standard_normal((3, 5)) * 3  # a spread of values on both sides of every kink

# name: (shenjing call, torch call) with the same hyper-parameters
FUNCTIONS = {
    "relu": (F.relu, TF.relu),
    "leaky_relu": (F.leaky_relu, TF.leaky_relu),
    "leaky_relu slope 0.1": (lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1)),
    "elu": (F.elu, TF.elu),
    "elu alpha 0.7": (lambda x: F.elu(x, alpha=0.7), lambda x: TF.elu(x, alpha=0.7)),
    "gelu": (F.gelu, TF.gelu),
    "gelu tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    "silu": (F.silu, TF.silu),
    "sigmoid": (F.sigmoid, TF.sigmoid),
    "tanh": (F.tanh, TF.tanh),
    "softplus": (F.softplus, TF.softplus),
    "softplus beta 2 threshold 3": (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
                                    lambda x: TF.softplus(x, beta=2.0, threshold=3.0)),
    "hardtanh": (F.hardtanh, TF.hardtanh),
    "hardtanh -0.5 2": (lambda x: F.hardtanh(x, -0.5, 2.0), lambda x: TF.hardtanh(x, -0.5, 2.0)),
    "relu6": (F.relu6, TF.relu6),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid),
    "softsign": (F.softsign, TF.softsign),
    "threshold": (lambda x: F.threshold(x, 0.5, -2.0), lambda x: TF.threshold(x, 0.5, -2.0)),
    "softmax": (lambda x: F.softmax(x, dim=1), lambda x: TF.softmax(x, dim=1)),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0), lambda x: TF.log_softmax(x, dim=0)),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_functional_activation_matches_torch(name):
    fn_sj, fn_torch = FUNCTIONS[name]
    check_op(fn_sj, fn_torch, X)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "hardtanh", "relu6", "threshold", "gelu", "silu",
                                  "softplus", "logsigmoid"])
def test_gradient_at_kinks_and_edges_matches_torch(name):
    # exactly at 0, +-1, 6 and the softplus threshold: where the one-sided derivatives differ
    edges = np.array([[0.0, 1.0, -1.0, 6.0, 20.0, 0.5, -0.0]])
    fn_sj, fn_torch = FUNCTIONS[name]
    check_op(fn_sj, fn_torch, edges, numeric=False)


@pytest.mark.parametrize("name", ["softplus", "logsigmoid", "sigmoid", "tanh", "silu", "gelu", "elu", "softsign"])
def test_large_inputs_stay_finite_and_match_torch(name):
    big = np.array([-1000.0, -80.0, -30.0, 30.0, 80.0, 1000.0])
    fn_sj, fn_torch = FUNCTIONS[name]
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow inside the ops either
        check_op(fn_sj, fn_torch, big, numeric=False)


@pytest.mark.parametrize("shape, channels", [((2, 3, 4), 3), ((2, 3), 3), ((2, 3, 2, 2), 1), ((5,), 1)])
def test_prelu_matches_torch(shape, channels):
    check_op(F.prelu, TF.prelu, RNG.standard_normal(shape), RNG.standard_normal(channels))


def test_prelu_rejects_wrong_weight_size():
    with pytest.raises(RuntimeError, match=r"weight has 2 elements.*input \[2, 3, 4\] has 3 channels"):
        F.prelu(sj.randn(2, 3, 4), sj.randn(2))


def test_gelu_bad_approximate():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(sj.randn(2), approximate="fast")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


def test_integer_input_is_promoted_like_torch():
    for fn_sj, fn_torch in (FUNCTIONS["gelu"], FUNCTIONS["elu"], FUNCTIONS["softplus"], FUNCTIONS["silu"]):
        out = fn_sj(sj.tensor([-2, 0, 3]))
        expected = fn_torch(torch.tensor([-2, 0, 3]).float())
        assert out.dtype == sj.float32
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5)


# ----------------------------------------------------------------------------------------------
# in-place variants
# ----------------------------------------------------------------------------------------------

INPLACE = {
    "relu(inplace=True)": (lambda x: F.relu(x, inplace=True), lambda x: TF.relu(x, inplace=True)),
    "relu_": (F.relu_, TF.relu_),
    "leaky_relu_": (lambda x: F.leaky_relu_(x, 0.2), lambda x: TF.leaky_relu_(x, 0.2)),
    "elu_": (F.elu_, TF.elu_),
    "hardtanh_": (F.hardtanh_, TF.hardtanh_),
    "relu6(inplace=True)": (lambda x: F.relu6(x, inplace=True), lambda x: TF.relu6(x, inplace=True)),
    "threshold_": (lambda x: F.threshold_(x, 0.5, -2.0), lambda x: TF.threshold_(x, 0.5, -2.0)),
    "silu(inplace=True)": (lambda x: F.silu(x, inplace=True), lambda x: TF.silu(x, inplace=True)),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_variants_overwrite_input_and_backprop_like_torch(name):
    fn_sj, fn_torch = INPLACE[name]
    leaf_sj = sj.tensor(X, requires_grad=True)
    leaf_torch = torch.tensor(X, requires_grad=True)
    y_sj, y_torch = leaf_sj * 1.5, leaf_torch * 1.5  # a non-leaf, which may be changed in place
    out_sj, out_torch = fn_sj(y_sj), fn_torch(y_torch)
    assert out_sj is y_sj
    np.testing.assert_allclose(y_sj.detach().numpy(), y_torch.detach().numpy(), rtol=1e-12)
    upstream = RNG.standard_normal(X.shape)
    out_sj.backward(sj.tensor(upstream))
    out_torch.backward(torch.tensor(upstream))
    np.testing.assert_allclose(leaf_sj.grad.numpy(), leaf_torch.grad.numpy(), rtol=1e-10)


def test_inplace_on_leaf_that_requires_grad_is_refused():
    with pytest.raises(RuntimeError, match="leaf"):
        F.relu_(sj.tensor([1.0, -1.0], requires_grad=True))


def test_inplace_without_grad_changes_the_tensor():
    x = sj.tensor([-1.0, 2.0])
    assert F.relu(x, inplace=True) is x
    assert x.tolist() == [0.0, 2.0]


# ----------------------------------------------------------------------------------------------
# erf (NumPy has none; GELU needs it)
# ----------------------------------------------------------------------------------------------


def test_erf_matches_math_erf_to_double_precision():
    xs = np.concatenate([np.linspace(-7, 7, 20001), np.logspace(-300, 0.8, 500), -np.logspace(-30, 0.5, 50)])
    expected = np.array([math.erf(v) for v in xs])
    actual = erf(sj.tensor(xs)).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-14, atol=0)


def test_erf_special_values():
    out = erf(sj.tensor([0.0, -0.0, np.inf, -np.inf, np.nan, 30.0, -30.0], dtype=sj.float64)).numpy()
    assert out[0] == 0.0 and out[1] == 0.0
    assert out[2] == 1.0 and out[3] == -1.0 and np.isnan(out[4])
    assert out[5] == 1.0 and out[6] == -1.0


def test_erf_matches_torch_with_gradient():
    check_op(erf, torch.erf, RNG.standard_normal((4, 5)) * 2)


# ----------------------------------------------------------------------------------------------
# layers
# ----------------------------------------------------------------------------------------------

LAYERS = {
    "ReLU": (lambda: nn.ReLU(), lambda: torch.nn.ReLU()),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    "ELU": (lambda: nn.ELU(alpha=0.5), lambda: torch.nn.ELU(alpha=0.5)),
    "GELU": (lambda: nn.GELU(), lambda: torch.nn.GELU()),
    "GELU tanh": (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    "SiLU": (lambda: nn.SiLU(), lambda: torch.nn.SiLU()),
    "Sigmoid": (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    "Tanh": (lambda: nn.Tanh(), lambda: torch.nn.Tanh()),
    "Softplus": (lambda: nn.Softplus(beta=2.0, threshold=4.0), lambda: torch.nn.Softplus(beta=2.0, threshold=4.0)),
    "Softmax": (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1)),
    "Hardtanh": (lambda: nn.Hardtanh(-2.0, 2.0), lambda: torch.nn.Hardtanh(-2.0, 2.0)),
    "ReLU6": (lambda: nn.ReLU6(), lambda: torch.nn.ReLU6()),
    "PReLU": (lambda: nn.PReLU(), lambda: torch.nn.PReLU()),
    "PReLU per channel": (lambda: nn.PReLU(3, init=0.1), lambda: torch.nn.PReLU(3, init=0.1)),
    "LogSigmoid": (lambda: nn.LogSigmoid(), lambda: torch.nn.LogSigmoid()),
    "Softsign": (lambda: nn.Softsign(), lambda: torch.nn.Softsign()),
    "Threshold": (lambda: nn.Threshold(0.1, 20.0), lambda: torch.nn.Threshold(0.1, 20.0)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_torch(name, dtype):
    make_sj, make_torch = LAYERS[name]
    check_module(make_sj(), make_torch(), RNG.standard_normal((2, 3, 4)) * 3, dtype=dtype)


def test_prelu_learns_its_slope_like_torch():
    sj_layer, torch_layer = nn.PReLU(3, init=0.3), torch.nn.PReLU(3, init=0.3)
    check_module(sj_layer, torch_layer, RNG.standard_normal((4, 3, 2)), steps=2)
    assert sj_layer.weight.grad is not None and sj_layer.weight.grad.numpy().any()
    assert [name for name, _ in sj_layer.named_parameters()] == ["weight"]


def test_prelu_rejects_bad_num_parameters():
    with pytest.raises(ValueError, match="num_parameters"):
        nn.PReLU(0)


def test_inplace_layers():
    x = sj.tensor([-1.0, 2.0])
    assert nn.ReLU(inplace=True)(x) is x and x.tolist() == [0.0, 2.0]
    y = sj.tensor([-1.0, 9.0])
    assert nn.ReLU6(True)(y) is y and y.tolist() == [0.0, 6.0]


REPRS = [
    ("ReLU()", "ReLU()"), ("ReLU(inplace=True)", "ReLU(inplace=True)"), ("LeakyReLU()", "LeakyReLU()"),
    ("LeakyReLU(0.2, inplace=True)", "LeakyReLU(0.2, inplace=True)"), ("ELU()", "ELU()"),
    ("ELU(alpha=0.5, inplace=True)", "ELU(alpha=0.5, inplace=True)"), ("GELU()", "GELU()"),
    ("GELU('tanh')", "GELU('tanh')"), ("SiLU()", "SiLU()"), ("SiLU(inplace=True)", "SiLU(inplace=True)"),
    ("Sigmoid()", "Sigmoid()"), ("Tanh()", "Tanh()"), ("Softplus()", "Softplus()"),
    ("Softplus(beta=2, threshold=10)", "Softplus(beta=2, threshold=10)"), ("Softmax(dim=1)", "Softmax(dim=1)"),
    ("Softmax()", "Softmax()"), ("LogSoftmax(dim=1)", "LogSoftmax(dim=1)"), ("Hardtanh()", "Hardtanh()"),
    ("Hardtanh(-2.0, 3.0, True)", "Hardtanh(-2.0, 3.0, True)"), ("ReLU6()", "ReLU6()"),
    ("ReLU6(inplace=True)", "ReLU6(inplace=True)"), ("PReLU()", "PReLU()"), ("PReLU(3)", "PReLU(3)"),
    ("LogSigmoid()", "LogSigmoid()"), ("Softsign()", "Softsign()"), ("Threshold(0.1, 20)", "Threshold(0.1, 20)"),
]


@pytest.mark.parametrize("expression", [e for e, _ in REPRS])
def test_layer_repr_matches_torch(expression):
    assert repr(eval("nn." + expression)) == repr(eval("torch.nn." + expression))


def test_softmax_without_dim_uses_torchs_legacy_choice():
    x3 = RNG.standard_normal((2, 3, 4))
    x2 = RNG.standard_normal((2, 3))
    for x in (x3, x2):
        with pytest.warns(UserWarning, match="Implicit dimension"):
            out = nn.Softmax()(sj.tensor(x))
        with pytest.warns(UserWarning):
            expected = torch.nn.Softmax()(torch.tensor(x))
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12)


def test_hardtanh_rejects_empty_range():
    with pytest.raises(ValueError, match="max_val"):
        nn.Hardtanh(1.0, -1.0)


# ----------------------------------------------------------------------------------------------
# Step: the M-P neuron's threshold unit (not in PyTorch)
# ----------------------------------------------------------------------------------------------


def test_step_values_follow_the_definition():
    x = sj.tensor([-2.0, -1e-9, 0.0, 1e-9, 3.0])
    assert nn.Step()(x).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert nn.Step(threshold=1.0)(sj.tensor([0.5, 1.0, 1.5])).tolist() == [0.0, 1.0, 1.0]
    assert F.step(sj.tensor([0, 2]), 1.0).tolist() == [0.0, 1.0]  # integer input gives float output


def test_step_has_zero_gradient_and_stays_in_the_graph():
    x = sj.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = nn.Step(0.0)(x * 2.0)
    assert y.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_step_makes_an_and_gate_mp_neuron():
    # the course's M-P neuron: y = step(w . x - theta); AND with w = (1, 1), theta = 2
    inputs = sj.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    layer = nn.Linear(2, 1)
    with sj.no_grad():
        layer.weight.copy_(sj.tensor([[1.0, 1.0]]))
        layer.bias.fill_(0.0)
    assert nn.Step(threshold=2.0)(layer(inputs)).reshape(-1).tolist() == [0.0, 0.0, 0.0, 1.0]
    assert repr(nn.Step(2.0)) == "Step(threshold=2.0)"
