"""The less common ops, the random generator's state, and broadcasting of every binary op (hypothesis)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import shenjing as sj
from helpers import Const, assert_close, check_op

rng = np.random.default_rng(7)


def away_from_integers(shape, low=-3.0, high=3.0):
    """Values whose ratios and fractions stay clear of rounding boundaries (for floor/remainder)."""
    values = rng.uniform(low, high, shape)
    return np.round(values) + np.sign(rng.uniform(-1, 1, shape)) * rng.uniform(0.2, 0.4, shape)


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_div_rounding_modes(mode):
    a = rng.uniform(-9, 9, (3, 4)).astype(np.float32)
    b = away_from_integers((3, 4)).astype(np.float32)
    expected = torch.div(torch.tensor(a), torch.tensor(b), rounding_mode=mode)
    assert_close(sj.div(sj.tensor(a), sj.tensor(b), rounding_mode=mode).numpy(), expected.numpy(), np.float32)
    ints = sj.tensor([7, -7, 8]) // sj.tensor([2, 2, -3])
    assert ints.tolist() == (torch.tensor([7, -7, 8]) // torch.tensor([2, 2, -3])).tolist()
    assert ints.dtype == sj.int64


def test_remainder_value_and_gradient():
    a = away_from_integers((2, 3)) * 2
    b = away_from_integers((2, 3))
    check_op(lambda x, y: x % y, lambda x, y: x % y, a, b)
    check_op(lambda x: sj.remainder(x, 1.5), lambda x: torch.remainder(x, 1.5), a)


@pytest.mark.parametrize("name", ["expm1", "square", "reciprocal"])
def test_more_unary_ops(name):
    x = rng.uniform(0.5, 2.0, (2, 3)) * rng.choice([-1, 1], (2, 3))
    check_op(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x)


@pytest.mark.parametrize("name", ["floor", "ceil", "round"])
def test_rounding_has_zero_gradient(name):
    x = away_from_integers((2, 3))
    check_op(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x, numeric=False)


def test_cumsum_value_and_gradient():
    x = rng.standard_normal((3, 4))
    for dim in (0, 1, -1):
        check_op(lambda t: t.cumsum(dim), lambda t: t.cumsum(dim), x)
    assert sj.tensor([1, 2, 3]).cumsum(0).tolist() == [1, 3, 6]


def test_logical_ops_and_isclose():
    a = np.array([True, False, True, False])
    b = np.array([True, True, False, False])
    for sj_op, torch_op in [(lambda x, y: x & y, lambda x, y: x & y), (lambda x, y: x | y, lambda x, y: x | y),
                            (lambda x, y: x ^ y, lambda x, y: x ^ y), (lambda x, y: ~x, lambda x, y: ~x)]:
        assert sj_op(sj.tensor(a), sj.tensor(b)).tolist() == torch_op(torch.tensor(a), torch.tensor(b)).tolist()
    x = sj.tensor([1.0, 1.0 + 1e-7, 2.0])
    assert sj.isclose(x, sj.tensor([1.0, 1.0, 2.1])).tolist() == [True, True, False]
    assert (~sj.tensor([1, 2])).tolist() == (~torch.tensor([1, 2])).tolist()


def test_joining_and_selection_helpers():
    x = rng.standard_normal((3, 4))
    check_op(lambda t: sj.hstack([t, t]), lambda t: torch.hstack([t, t]), x)
    check_op(lambda t: sj.vstack([t, t]), lambda t: torch.vstack([t, t]), x)
    check_op(lambda t: t.flip(0), lambda t: t.flip(0), x)
    check_op(lambda t: sj.tile(t, (2,)), lambda t: torch.tile(t, (2,)), x)
    check_op(lambda t: t.movedim(0, 1), lambda t: t.movedim(0, 1), x)
    check_op(lambda t: t.narrow(1, 1, 2), lambda t: t.narrow(1, 1, 2), x)
    check_op(lambda t: t.select(1, -1), lambda t: t.select(1, -1), x)
    check_op(lambda t: t.masked_select(t > 0), lambda t: t.masked_select(t > 0), x)
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    check_op(lambda t, i: sj.take_along_dim(t, i, 1), lambda t, i: torch.take_along_dim(t, i, 1), x, Const(idx))
    m = np.array([[0.0, 1.5], [2.0, 0.0]])
    assert sj.tensor(m).nonzero().tolist() == torch.tensor(m).nonzero().tolist()
    assert [t.tolist() for t in sj.tensor(m).nonzero(as_tuple=True)] == [
        t.tolist() for t in torch.tensor(m).nonzero(as_tuple=True)]
    assert sj.count_nonzero(sj.tensor(m)).item() == 2


def test_statistics_helpers():
    x = rng.standard_normal((3, 5))
    var, mean = sj.var_mean(sj.tensor(x), 1)
    torch_var, torch_mean = torch.var_mean(torch.tensor(x), 1)
    assert_close(var.numpy(), torch_var.numpy())
    assert_close(mean.numpy(), torch_mean.numpy())
    std, _ = sj.std_mean(sj.tensor(x), 0, correction=0)
    assert_close(std.numpy(), torch.std_mean(torch.tensor(x), 0, correction=0)[0].numpy())
    check_op(lambda a, b: sj.dist(a, b), lambda a, b: torch.dist(a, b), x, x[::-1].copy())
    check_op(lambda a: a.norm(3, dim=1), lambda a: a.norm(3, dim=1), x)


def test_generator_state_round_trip_repeats_the_numbers():
    sj.manual_seed(123)
    state = sj.get_rng_state()
    first = sj.randn(5).tolist()
    sj.set_rng_state(state)
    assert sj.randn(5).tolist() == first
    assert sj.initial_seed() == 123
    generator = sj.Generator().manual_seed(9)
    a = sj.rand(4, generator=generator).tolist()
    assert sj.rand(4, generator=sj.Generator().manual_seed(9)).tolist() == a
    with pytest.raises(RuntimeError, match="get_state"):
        sj.set_rng_state(sj.tensor([1, 2, 3], dtype=sj.uint8))


def test_random_sampling_functions():
    sj.manual_seed(0)
    draws = sj.bernoulli(sj.full((20000,), 0.3))
    assert draws.dtype == sj.float32 and abs(draws.mean().item() - 0.3) < 0.02
    normal = sj.normal(2.0, 0.5, (20000,))
    assert abs(normal.mean().item() - 2.0) < 0.02 and abs(normal.std().item() - 0.5) < 0.02
    picks = sj.multinomial(sj.tensor([0.0, 1.0, 3.0]), 4000, replacement=True)
    counts = np.bincount(picks.numpy(), minlength=3)
    assert counts[0] == 0 and abs(counts[2] / 4000 - 0.75) < 0.03
    x = sj.zeros(1000)
    x.random_(5)
    assert set(x.long().tolist()) <= set(range(5)) and len(set(x.tolist())) == 5


def test_default_dtype_switch():
    try:
        sj.set_default_dtype(sj.float64)
        assert sj.tensor([1.5]).dtype == sj.float64 and sj.zeros(2).dtype == sj.float64
        assert (sj.tensor([1, 2]) / 2).dtype == sj.float64
    finally:
        sj.set_default_dtype(sj.float32)
    with pytest.raises(TypeError, match="floating"):
        sj.set_default_dtype(sj.int64)


def test_cuda_is_reported_unavailable():
    assert sj.cuda.is_available() is False and sj.cuda.device_count() == 0
    assert sj.device("cpu") == "cpu" and str(sj.device("cuda:0")) == "cuda:0"
    with pytest.raises(RuntimeError, match="CPU only"):
        sj.zeros(2, device="cuda")


# -- broadcasting of every binary op, on hypothesis-generated shape pairs ------------------------------

@st.composite
def broadcastable_pair(draw):
    ndim = draw(st.integers(1, 4))
    shape = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))
    other = [draw(st.sampled_from([size, 1])) for size in shape]
    drop = draw(st.integers(0, ndim - 1))
    return tuple(shape), tuple(other[drop:])


BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a.abs() ** b, "maximum": lambda a, b: a.maximum(b),
    "minimum": lambda a, b: a.minimum(b), "where": lambda a, b: (a > 0).to(a.dtype) * a + (a <= 0).to(a.dtype) * b,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=15, deadline=None)
@given(shapes=broadcastable_pair(), swap=st.booleans())
def test_binary_ops_broadcast_like_torch(name, shapes, swap):
    shape_a, shape_b = shapes[::-1] if swap else shapes
    a = rng.uniform(0.5, 2.0, shape_a) * rng.choice([-1, 1], shape_a)
    b = rng.uniform(0.5, 2.0, shape_b) * rng.choice([-1, 1], shape_b)
    op = BINARY[name]
    check_op(op, op, a, b, numeric=False, dtypes=(np.float64,))


def test_cli_version_and_xor(capsys, tmp_path):
    from shenjing.cli import main

    assert main(["train", "xor", "--epochs", "3000", "--quiet", "--out", str(tmp_path / "xor.shenjing")]) == 0
    out = capsys.readouterr().out
    assert "accuracy: 100%" in out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert sj.__version__ in capsys.readouterr().out
    assert main(["train", "nonexistent"]) == 2
    assert "unknown model" in capsys.readouterr().err
