"""nn.init: gains against PyTorch, distributions against their formulas (bounds, moments, orthogonality)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import nn
from shenjing.nn import init


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose2d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
    ("leaky_relu", math.sqrt(5)), ("leaky_relu", 3), ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity softsign"):
        init.calculate_gain("softsign")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(5, 3), (6, 3, 5, 5), (4, 2, 7), (2, 3, 1, 2, 2)])
def test_fan_in_and_fan_out_match_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(sj.empty(*shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_fan_needs_two_dimensions():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(sj.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(sj.empty(2, 2), mode="fan_avg")


def _values(tensor):
    return tensor.detach().numpy().astype(np.float64)


def test_kaiming_uniform_linear_default_bound_and_std():
    """nn.Linear's init: a=sqrt(5) gives gain sqrt(2/6) and bound = gain*sqrt(3/fan_in) = 1/sqrt(fan_in)."""
    w = nn.Parameter(sj.empty(300, 400))
    out = init.kaiming_uniform_(w, a=math.sqrt(5), generator=sj.Generator().manual_seed(0))
    assert out is w and w.requires_grad and w.is_leaf and w.grad_fn is None
    values = _values(w)
    bound = 1 / math.sqrt(400)
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.99 * bound  # the whole range is used
    # U(-b, b) has std b/sqrt(3); 120000 draws estimate it within ~0.3%
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    assert abs(values.mean()) < 0.01 * bound


def test_kaiming_normal_fan_out_relu_std():
    w = init.kaiming_normal_(sj.empty(64, 32, 3, 3), mode="fan_out", nonlinearity="relu",
                             generator=sj.Generator().manual_seed(1))
    expected = math.sqrt(2) / math.sqrt(64 * 9)
    assert _values(w).std() == pytest.approx(expected, rel=0.02)


def test_xavier_uniform_and_normal_scale():
    gain = init.calculate_gain("tanh")
    w = init.xavier_uniform_(sj.empty(200, 300), gain=gain, generator=sj.Generator().manual_seed(2))
    bound = gain * math.sqrt(6 / 500)
    assert np.abs(_values(w)).max() <= bound
    assert _values(w).std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    w = init.xavier_normal_(sj.empty(200, 300), generator=sj.Generator().manual_seed(3))
    assert _values(w).std() == pytest.approx(math.sqrt(2 / 500), rel=0.01)


def test_uniform_and_normal():
    w = init.uniform_(sj.empty(100000), -2.0, 3.0, generator=sj.Generator().manual_seed(4))
    values = _values(w)
    assert values.min() >= -2.0 and values.max() < 3.0
    assert values.mean() == pytest.approx(0.5, abs=0.03)
    w = init.normal_(sj.empty(100000), mean=1.5, std=0.5, generator=sj.Generator().manual_seed(5))
    assert _values(w).mean() == pytest.approx(1.5, abs=0.01)
    assert _values(w).std() == pytest.approx(0.5, rel=0.01)


def test_generator_makes_draws_repeatable_and_default_respects_manual_seed():
    a = init.kaiming_uniform_(sj.empty(4, 5), generator=sj.Generator().manual_seed(7))
    b = init.kaiming_uniform_(sj.empty(4, 5), generator=sj.Generator().manual_seed(7))
    assert a.tolist() == b.tolist()
    sj.manual_seed(11)
    c = init.normal_(sj.empty(3))
    sj.manual_seed(11)
    assert init.normal_(sj.empty(3)).tolist() == c.tolist()


def _truncnorm_moments(mean, std, a, b):
    """Mean and std of N(mean, std^2) truncated to [a, b], from the closed-form expressions."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    m = (pdf(alpha) - pdf(beta)) / z
    var = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - m * m
    return mean + std * m, std * math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -2.0, 2.0), (1.0, 2.0, 0.0, 1.5),
                                          (0.0, 1.0, 3.0, 3.5), (0.0, 1.0, -8.0, -6.0)])
def test_trunc_normal_bounds_and_moments(mean, std, a, b):
    w = init.trunc_normal_(sj.empty(200, 250), mean, std, a, b, generator=sj.Generator().manual_seed(8))
    values = _values(w)
    assert values.min() >= a and values.max() <= b
    expected_mean, expected_std = _truncnorm_moments(mean, std, a, b)
    assert values.mean() == pytest.approx(expected_mean, abs=0.01 * expected_std)
    assert values.std() == pytest.approx(expected_std, rel=0.01)


def test_trunc_normal_validates():
    # as PyTorch 2.13, whose sampler draws uniform_(a, b) for a window this narrow
    with pytest.raises(RuntimeError, match=r"uniform_ expects to return a \[from, to\) range, but found from=1 > to=0"):
        init.trunc_normal_(sj.empty(2), a=1.0, b=0.0)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5), (8, 2, 3, 3)])
def test_orthogonal(shape):
    w = init.orthogonal_(sj.empty(*shape), gain=2.0, generator=sj.Generator().manual_seed(9))
    flat = _values(w).reshape(shape[0], -1)
    rows, cols = flat.shape
    gram = flat.T @ flat if rows >= cols else flat @ flat.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-5)


def test_orthogonal_is_not_biased_towards_positive_diagonal():
    """With the sign correction Q is Haar distributed: its diagonal entries have mean ~0."""
    generator = sj.Generator().manual_seed(10)
    diagonals = [np.diag(_values(init.orthogonal_(sj.empty(3, 3), generator=generator))) for _ in range(400)]
    assert abs(np.mean(diagonals)) < 0.1


def test_constant_ones_zeros_eye_dirac_match_torch():
    assert init.constant_(sj.empty(2, 3), 0.25).tolist() == torch.nn.init.constant_(torch.empty(2, 3), 0.25).tolist()
    assert init.ones_(sj.empty(3)).tolist() == [1, 1, 1]
    assert init.zeros_(nn.Parameter(sj.ones(2))).tolist() == [0, 0]
    assert init.eye_(sj.empty(3, 5)).tolist() == torch.nn.init.eye_(torch.empty(3, 5)).tolist()
    for shape, groups in [((4, 2, 3, 3), 2), ((3, 5, 3), 1), ((2, 2, 3, 3, 3), 1)]:
        ours = init.dirac_(sj.empty(*shape), groups)
        assert ours.tolist() == torch.nn.init.dirac_(torch.empty(*shape), groups).tolist()
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(sj.empty(2, 2, 2))
    with pytest.raises(ValueError, match="divisible by groups"):
        init.dirac_(sj.empty(3, 3, 3), groups=2)


def test_dirac_conv_weight_is_identity_map():
    w = init.dirac_(sj.empty(3, 3, 3, 3))
    x = np.random.default_rng(0).normal(size=(1, 3, 6, 6)).astype(np.float32)
    out = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w.numpy()), padding=1)
    np.testing.assert_allclose(out.numpy(), x, atol=1e-6)


def test_sparse_zeroes_a_fraction_of_each_column():
    w = _values(init.sparse_(sj.empty(20, 6), sparsity=0.25, std=0.1, generator=sj.Generator().manual_seed(12)))
    assert [(w[:, j] == 0).sum() for j in range(6)] == [5] * 6


def test_init_does_not_record_a_graph_and_bumps_version():
    w = nn.Parameter(sj.ones(3, 3))
    before = w._version
    init.xavier_uniform_(w)
    assert w.grad_fn is None and w._version > before
    (w * 2).sum().backward()
    assert w.grad.tolist() == [[2.0] * 3] * 3


def test_init_preserves_dtype():
    w = nn.Parameter(sj.empty(4, 4, dtype=sj.float64))
    init.kaiming_normal_(w)
    assert w.dtype == sj.float64


def test_kaiming_on_empty_tensor_warns():
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(sj.empty(0, 3))


@pytest.mark.parametrize("old", ["uniform", "normal", "xavier_uniform", "xavier_normal", "kaiming_uniform",
                                 "kaiming_normal", "orthogonal", "eye", "dirac"])
def test_the_old_names_warn_as_torch_and_do_what_the_new_ones_do(old):
    import torch

    shape = (3, 3, 3) if old == "dirac" else (3, 4)
    with pytest.warns(FutureWarning, match=f"nn.init.{old}` is now deprecated") as ours:
        sj.manual_seed(1)
        a = getattr(sj.nn.init, old)(sj.empty(*shape))
    with pytest.warns(FutureWarning) as theirs:
        getattr(torch.nn.init, old)(torch.empty(*shape))
    assert str(ours[0].message) == str(theirs[0].message)
    sj.manual_seed(1)
    b = getattr(sj.nn.init, old + "_")(sj.empty(*shape))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
