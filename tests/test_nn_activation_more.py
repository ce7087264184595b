"""CELU, SELU, GLU, the shrinkage functions, Hardsigmoid, Hardswish, Mish, RReLU, Softmin and Softmax2d
(functions and layers) against PyTorch 2.13."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import check_module, check_op
from shenjing import nn

RNG = np.random.default_rng(23)


def away_from_kinks(shape, kinks, scale=3.0, gap=1e-3):
    """Random values at least ``gap`` away from the points where the function's derivative jumps."""
    x = RNG.standard_normal(shape) * scale
    for k in kinks:
        x = np.where(np.abs(x - k) < gap, x + 4 * gap, x)
    return x


FUNCTIONS = [  # (name, kwargs, kinks)
    ("hardshrink", {}, (0.5, -0.5)), ("hardshrink", {"lambd": 1.2}, (1.2, -1.2)),
    ("softshrink", {}, (0.5, -0.5)), ("softshrink", {"lambd": 0.0}, (0.0,)),
    ("tanhshrink", {}, ()), ("selu", {}, (0.0,)), ("celu", {}, (0.0,)), ("celu", {"alpha": 0.5}, (0.0,)),
    ("hardsigmoid", {}, (3.0, -3.0)), ("hardswish", {}, (3.0, -3.0)), ("mish", {}, ()),
    ("rrelu", {"lower": 0.1, "upper": 0.4}, (0.0,)),
]


@pytest.mark.parametrize("name, kwargs, kinks", FUNCTIONS)
def test_activation_functions_match_torch(name, kwargs, kinks):
    x = away_from_kinks((3, 7), kinks)
    check_op(lambda x: getattr(F, name)(x, **kwargs), lambda x: getattr(TF, name)(x, **kwargs), x)


@pytest.mark.parametrize("name, kwargs", [("selu", {}), ("celu", {"alpha": 2.0}), ("hardsigmoid", {}),
                                          ("hardswish", {}), ("mish", {}), ("rrelu", {})])
def test_inplace_forms_overwrite_the_input_like_torch(name, kwargs):
    x = away_from_kinks((4,), (0.0, 3.0, -3.0))
    ours, theirs = sj.tensor(x), torch.tensor(x)
    result = getattr(F, name)(ours, inplace=True, **kwargs)
    getattr(TF, name)(theirs, inplace=True, **kwargs)
    assert result is ours
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    if hasattr(F, name + "_"):
        ours = sj.tensor(x)
        getattr(F, name + "_")(ours, **kwargs)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape, dim", [((4, 6), -1), ((2, 4, 3), 1), ((6,), 0)])
def test_glu_matches_torch(shape, dim):
    check_op(lambda x: F.glu(x, dim), lambda x: TF.glu(x, dim), RNG.standard_normal(shape))


def test_glu_and_softshrink_errors_like_torch():
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 1 is size 3"):
        F.glu(sj.randn(2, 3))
    with pytest.raises(RuntimeError, match="lambda must be greater or equal to 0, but found to be -1"):
        F.softshrink(sj.randn(2), -1)
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        nn.Softmax2d()(sj.randn(2, 3))


@pytest.mark.parametrize("shape, dim", [((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -1)])
def test_softmin_matches_torch(shape, dim):
    check_op(lambda x: F.softmin(x, dim), lambda x: TF.softmin(x, dim), RNG.standard_normal(shape))


def test_softmin_implicit_dim_warns_like_torch():
    x = RNG.standard_normal((2, 3, 4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = F.softmin(sj.tensor(x))
        theirs = TF.softmin(torch.tensor(x))
    assert sum("Implicit dimension choice for softmin" in str(w.message) for w in caught) == 2
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_rrelu_training_draws_slopes_in_range():
    x = -sj.ones(2000, dtype=sj.float64)
    slopes = -F.rrelu(x, 0.1, 0.3, training=True).numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    assert abs(slopes.mean() - 0.2) < 0.01
    x = sj.tensor(RNG.standard_normal(50), requires_grad=True)
    y = F.rrelu(x, training=True)
    y.sum().backward()
    ratio = (y / x).detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), ratio, rtol=1e-12)  # the gradient is the drawn slope (or 1)


LAYERS = [  # (name, args, input shape, kinks)
    ("CELU", (1.5,), (3, 4), (0.0,)), ("SELU", (), (3, 4), (0.0,)), ("GLU", (1,), (3, 4), ()),
    ("Hardshrink", (0.3,), (3, 4), (0.3, -0.3)), ("Softshrink", (), (3, 4), (0.5, -0.5)),
    ("Tanhshrink", (), (3, 4), ()), ("Hardsigmoid", (), (3, 4), (3.0, -3.0)), ("Hardswish", (), (3, 4), (3.0, -3.0)),
    ("Mish", (), (3, 4), ()), ("Softmin", (1,), (3, 4), ()), ("Softmax2d", (), (2, 3, 2, 2), ()),
    ("Softmax2d", (), (3, 2, 2), ()),
]


@pytest.mark.parametrize("name, args, shape, kinks", LAYERS)
def test_activation_layers_match_torch(name, args, shape, kinks):
    layer = check_module(getattr(nn, name)(*args), getattr(torch.nn, name)(*args), away_from_kinks(shape, kinks))
    assert repr(layer) == repr(getattr(torch.nn, name)(*args))


@pytest.mark.parametrize("name, kwargs", [("CELU", dict(alpha=2.0, inplace=True)), ("SELU", dict(inplace=True)),
                                          ("RReLU", {}), ("RReLU", dict(lower=0.1, upper=0.2, inplace=True)),
                                          ("Softmin", {}), ("Hardswish", dict(inplace=True)), ("Mish", {})])
def test_activation_layer_reprs_like_torch(name, kwargs):
    assert repr(getattr(nn, name)(**kwargs)) == repr(getattr(torch.nn, name)(**kwargs))


def test_rrelu_layer_eval_matches_torch():
    x = RNG.standard_normal((3, 4))
    check_module(nn.RReLU(0.2, 0.5).eval(), torch.nn.RReLU(0.2, 0.5).eval(), x)
