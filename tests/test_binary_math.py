"""Binary and ternary maths of issue 18 (shenjing._ops.binary): values and gradients against PyTorch 2.13 in
float32 and float64 and central differences, broadcasting, integer and bool operands, the Tensor methods and
in-place forms, and PyTorch's errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import shenjing as sj
from helpers import check_op

RNG = np.random.default_rng(81)


def normal(*shape):
    return RNG.standard_normal(shape)


def away_from_zero(*shape):
    magnitude = 0.5 + RNG.random(shape)
    return np.where(RNG.random(shape) < 0.5, -magnitude, magnitude)


def positive(*shape):
    return 0.5 + RNG.random(shape)


# name -> (function of the namespace, its arguments); differentiable in PyTorch
BINARY = [
    ("atan2", lambda m: m.atan2, (normal(3, 4), away_from_zero(4))),
    ("arctan2", lambda m: m.arctan2, (normal(2, 3), away_from_zero(2, 1))),
    ("hypot", lambda m: m.hypot, (away_from_zero(3, 4), away_from_zero(3, 1))),
    ("logaddexp", lambda m: m.logaddexp, (normal(3, 4) * 5, normal(4) * 5)),
    ("logaddexp2", lambda m: m.logaddexp2, (normal(3, 4) * 5, normal(3, 4))),
    ("copysign", lambda m: m.copysign, (away_from_zero(3, 4), away_from_zero(3, 4))),
    ("fmod", lambda m: m.fmod, (normal(3, 4) * 4, away_from_zero(3, 4))),
    ("fmod-number", lambda m: (lambda x: m.fmod(x, 1.5)), (normal(3, 4) * 4,)),
    ("remainder", lambda m: m.remainder, (normal(3, 4) * 4, away_from_zero(3, 4))),
    ("xlogy", lambda m: m.xlogy, (np.append(normal(5), 0.0), positive(6))),
    ("fmax", lambda m: m.fmax, (normal(3, 4), normal(3, 4))),
    ("fmin", lambda m: m.fmin, (normal(3, 4), normal(4))),
    ("float_power", lambda m: m.float_power, (positive(3, 4), normal(3, 4))),
    # (non-negative exponents: PyTorch 2.13's gradient is 0 for an integer exponent below 0, its value is not)
    ("ldexp", lambda m: (lambda x: m.ldexp(x, m.tensor([1, 2, 3, 0]))), (normal(3, 4),)),
    ("ldexp-float", lambda m: (lambda x: m.ldexp(x, m.tensor([1.0, -2.0, 3.5, 0.0]))), (normal(3, 4),)),
    ("lerp-number", lambda m: (lambda a, b: m.lerp(a, b, 0.3)), (normal(3, 4), normal(3, 4))),
    ("lerp-tensor", lambda m: m.lerp, (normal(3, 4), normal(3, 4), RNG.random((3, 4)))),
    ("lerp-broadcast", lambda m: m.lerp, (normal(3, 4), normal(4), RNG.random((3, 1)))),
    ("addcmul", lambda m: (lambda a, b, c: m.addcmul(a, b, c, value=0.5)), (normal(3, 4), normal(3, 1), normal(4))),
    ("addcdiv", lambda m: (lambda a, b, c: m.addcdiv(a, b, c, value=-2)),
     (normal(3, 4), normal(3, 4), away_from_zero(3, 4))),
    ("addmm", lambda m: (lambda a, b, c: m.addmm(a, b, c, beta=0.5, alpha=2)), (normal(4), normal(3, 2), normal(2, 4))),
    ("addmm-plain", lambda m: m.addmm, (normal(3, 4), normal(3, 2), normal(2, 4))),
    ("addmv", lambda m: (lambda a, b, c: m.addmv(a, b, c, alpha=3)), (normal(3), normal(3, 2), normal(2))),
    ("addbmm", lambda m: (lambda a, b, c: m.addbmm(a, b, c, beta=2)), (normal(3, 4), normal(5, 3, 2), normal(5, 2, 4))),
    ("baddbmm", lambda m: (lambda a, b, c: m.baddbmm(a, b, c, alpha=0.5)),
     (normal(5, 3, 4), normal(5, 3, 2), normal(5, 2, 4))),
    ("addr", lambda m: (lambda a, b, c: m.addr(a, b, c, beta=-1)), (normal(3, 4), normal(3), normal(4))),
    ("clamp_min", lambda m: (lambda x: m.clamp_min(x, 0.1)), (normal(3, 4),)),
    ("clamp_max", lambda m: (lambda x: m.clamp_max(x, -0.1)), (normal(3, 4),)),
    ("inner-1d", lambda m: m.inner, (normal(4), normal(4))),
    ("inner-nd", lambda m: m.inner, (normal(2, 3, 4), normal(5, 4))),
    ("inner-0d", lambda m: m.inner, (normal(2, 3), np.array(1.5))),
]


@pytest.mark.parametrize("case", BINARY, ids=[c[0] for c in BINARY])
def test_binary_value_and_gradient(case):
    _, function, args = case
    check_op(function(sj), function(torch), *args)


METHODS = ["atan2", "arctan2", "hypot", "logaddexp", "logaddexp2", "copysign", "fmod", "remainder", "xlogy",
           "fmax", "fmin", "float_power", "inner"]


@pytest.mark.parametrize("name", METHODS)
def test_method_forms(name):
    a, b = away_from_zero(3, 4), away_from_zero(3, 4)
    if name == "float_power":
        a = np.abs(a)
    check_op(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), a, b, numeric=False)


INPLACE = ["atan2_", "arctan2_", "hypot_", "copysign_", "fmod_", "remainder_", "xlogy_", "float_power_",
           "ldexp_", "nextafter_", "clamp_min_", "clamp_max_", "divide_", "true_divide_", "multiply_",
           "subtract_", "floor_divide_", "lerp_", "addcmul_", "addcdiv_", "heaviside_"]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_methods(name):
    dtype = np.float64 if name == "float_power_" else np.float32
    a, b, c = (away_from_zero(3, 4).astype(dtype) for _ in range(3))
    args = {"clamp_min_": (0.2,), "clamp_max_": (0.2,), "lerp_": (b, 0.25), "addcmul_": (b, c), "addcdiv_": (b, c),
            "ldexp_": (np.array([1, -1, 2, 0]),), "heaviside_": (np.array([0.5], dtype=dtype),)}.get(name, (b,))
    if name == "float_power_":
        a = np.abs(a)
    theirs = torch.tensor(a)
    ours = sj.tensor(a)
    getattr(theirs, name)(*[torch.tensor(v) if isinstance(v, np.ndarray) else v for v in args])
    assert getattr(ours, name)(*[sj.tensor(v) if isinstance(v, np.ndarray) else v for v in args]) is ours
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_inplace_addmm_family():
    for name, shapes in [("addmm_", ((3, 4), (3, 2), (2, 4))), ("addmv_", ((3,), (3, 2), (2,))),
                         ("addbmm_", ((3, 4), (5, 3, 2), (5, 2, 4))), ("baddbmm_", ((5, 3, 4), (5, 3, 2), (5, 2, 4))),
                         ("addr_", ((3, 4), (3,), (4,)))]:
        a, b, c = (normal(*s) for s in shapes)
        theirs = getattr(torch.tensor(a), name)(torch.tensor(b), torch.tensor(c), beta=0.5, alpha=2)
        ours = getattr(sj.tensor(a), name)(sj.tensor(b), sj.tensor(c), beta=0.5, alpha=2)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, err_msg=name)
    x = sj.tensor(normal(3))
    assert sj.addmv_(x, sj.tensor(normal(3, 2)), sj.tensor(normal(2))) is x


def test_fmod_is_cs_remainder():
    assert sj.fmod(sj.tensor(-3.0), 2).item() == -1.0
    assert sj.remainder(sj.tensor(-3.0), 2).item() == 1.0
    a, b = [-7, -3, 3, 7, 5], [2, -2, 2, -3, 5]
    for dtype in ("int64", "float32", "float64"):
        ours = sj.fmod(sj.tensor(a, dtype=getattr(sj, dtype)), sj.tensor(b, dtype=getattr(sj, dtype)))
        theirs = torch.fmod(torch.tensor(a, dtype=getattr(torch, dtype)), torch.tensor(b, dtype=getattr(torch, dtype)))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert ours.dtype == getattr(sj, dtype)
    np.testing.assert_array_equal(sj.tensor([5, -5]).fmod(3).numpy(), torch.tensor([5, -5]).fmod(3).numpy())
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        sj.fmod(sj.tensor([1, 2]), 0)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.fmod(torch.tensor([1, 2]), 0)


def test_inner_checks_the_last_dims():
    with pytest.raises(RuntimeError, match="last dimension must match"):
        sj.inner(sj.ones(2, 3), sj.ones(3, 2))
    with pytest.raises(RuntimeError):
        torch.inner(torch.ones(2, 3), torch.ones(3, 2))


EDGE = np.array([0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, 2.5])


@pytest.mark.parametrize("name", ["atan2", "hypot", "logaddexp", "logaddexp2", "copysign", "fmod", "xlogy", "fmax",
                                  "fmin", "nextafter", "float_power"])
def test_edge_values(name):
    a, b = np.meshgrid(EDGE, EDGE)
    for dtype in ("float32", "float64"):
        ours = getattr(sj, name)(sj.tensor(a, dtype=getattr(sj, dtype)), sj.tensor(b, dtype=getattr(sj, dtype)))
        theirs = getattr(torch, name)(torch.tensor(a, dtype=getattr(torch, dtype)),
                                      torch.tensor(b, dtype=getattr(torch, dtype)))
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7, equal_nan=True)
        # (the sign of a nan is not specified, nor which zero fmax(0, -0) is)
        expected = theirs.numpy()
        numbers = ~np.isnan(expected) & ((np.abs(expected) > 1e-6) | ((expected == 0) & (name not in ("fmax", "fmin"))))
        np.testing.assert_array_equal(np.signbit(ours.numpy())[numbers], np.signbit(theirs.numpy())[numbers])


@pytest.mark.parametrize("name", ["atan2", "copysign", "xlogy", "fmax", "fmin", "float_power",
                                  "ldexp", "fmod", "gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor",
                                  "bitwise_left_shift", "bitwise_right_shift", "logical_and", "logical_or",
                                  "logical_xor", "greater", "less_equal", "not_equal", "greater_equal", "less"])
def test_integer_operands(name):
    a, b = [6, -4, 0, 15, 9], [4, 6, 3, 0, 2]
    if name in ("fmod",):
        b = [4, 6, 3, 1, 2]
    ours = getattr(sj, name)(sj.tensor(a), sj.tensor(b))
    theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], name
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    method = getattr(sj.tensor(a), name)(sj.tensor(b))
    np.testing.assert_allclose(method.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor", "logical_and", "logical_or",
                                  "logical_xor"])
def test_bool_operands_and_inplace(name):
    a, b = [True, True, False, False], [True, False, True, False]
    ours = getattr(sj, name)(sj.tensor(a), sj.tensor(b))
    theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
    assert ours.dtype == sj.bool
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    x = sj.tensor(a)
    getattr(x, name + "_")(sj.tensor(b))
    np.testing.assert_array_equal(x.numpy(), theirs.numpy())


def test_logical_ops_on_numbers_are_not_bitwise():
    a, b = [2.0, 0.0, 1.5], [1.0, 3.0, 0.0]
    for name in ("logical_and", "logical_or", "logical_xor"):
        np.testing.assert_array_equal(getattr(sj, name)(sj.tensor(a), sj.tensor(b)).numpy(),
                                      getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy())
    np.testing.assert_array_equal(sj.tensor([2, 0]).logical_and(sj.tensor([1, 1])).numpy(), [True, False])


@pytest.mark.parametrize("name", ["gcd", "lcm", "bitwise_and", "bitwise_left_shift"])
def test_integer_only_functions_refuse_floats(name):
    with pytest.raises((RuntimeError, NotImplementedError, TypeError)):
        getattr(torch, name)(torch.tensor([1.0]), torch.tensor([2.0]))
    with pytest.raises((RuntimeError, NotImplementedError)):
        getattr(sj, name)(sj.tensor([1.0]), sj.tensor([2.0]))


def test_float_only_functions_refuse_integers():
    for name in ("hypot", "nextafter", "logaddexp", "logaddexp2"):
        with pytest.raises(NotImplementedError):
            getattr(torch, name)(torch.tensor([3]), torch.tensor([4]))
        with pytest.raises(NotImplementedError):
            getattr(sj, name)(sj.tensor([3]), sj.tensor([4]))


def test_bitwise_not_and_shifts():
    x = [5, -3, 0, 127]
    np.testing.assert_array_equal(sj.tensor(x).bitwise_not().numpy(), torch.tensor(x).bitwise_not().numpy())
    np.testing.assert_array_equal(sj.bitwise_left_shift(sj.tensor(x), 2).numpy(),
                                  torch.bitwise_left_shift(torch.tensor(x), 2).numpy())
    np.testing.assert_array_equal(sj.tensor(x).bitwise_right_shift(1).numpy(),
                                  torch.tensor(x).bitwise_right_shift(1).numpy())
    y = sj.tensor(x)
    y.bitwise_not_()
    np.testing.assert_array_equal(y.numpy(), torch.tensor(x).bitwise_not().numpy())


def test_comparison_aliases_and_their_inplace_forms():
    a, b = normal(3, 4), normal(3, 4)
    for name in ("greater", "greater_equal", "less", "less_equal", "not_equal", "eq", "ne", "lt", "le", "gt", "ge"):
        np.testing.assert_array_equal(getattr(sj.tensor(a), name)(sj.tensor(b)).numpy(),
                                      getattr(torch.tensor(a), name)(torch.tensor(b)).numpy(), err_msg=name)
        ours, theirs = sj.tensor(a), torch.tensor(a)
        getattr(ours, name + "_")(sj.tensor(b))
        getattr(theirs, name + "_")(torch.tensor(b))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name + "_")


def test_gcd_lcm_values():
    a, b = [0, 12, -18, 7, 0], [0, 18, 12, -21, 5]
    for name in ("gcd", "lcm"):
        ours = getattr(sj, name)(sj.tensor(a), sj.tensor(b))
        np.testing.assert_array_equal(ours.numpy(), getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy())
        x = sj.tensor(a)
        getattr(sj, name + "_")(x, sj.tensor(b))
        np.testing.assert_array_equal(x.numpy(), ours.numpy())


def test_heaviside():
    x, values = [-1.5, 0.0, 2.0, 0.0], [0.5, 0.25, 0.5, 0.75]
    np.testing.assert_array_equal(sj.heaviside(sj.tensor(x), sj.tensor(values)).numpy(),
                                  torch.heaviside(torch.tensor(x), torch.tensor(values)).numpy())
    with pytest.raises(RuntimeError, match="different dtypes"):
        sj.heaviside(sj.tensor(x), sj.tensor([1]))


def test_nextafter_values():
    a, b = np.array([1.0, 1.0, 0.0, -2.0]), np.array([2.0, 0.0, -1.0, -2.0])
    for dtype in ("float32", "float64"):
        ours = sj.nextafter(sj.tensor(a, dtype=getattr(sj, dtype)), sj.tensor(b, dtype=getattr(sj, dtype)))
        theirs = torch.nextafter(torch.tensor(a, dtype=getattr(torch, dtype)), torch.tensor(b, dtype=getattr(torch, dtype)))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_lerp_and_addcdiv_errors():
    with pytest.raises(RuntimeError, match="expected dtype"):
        sj.lerp(sj.ones(2), sj.ones(2, dtype=sj.float64), 0.5)
    with pytest.raises(RuntimeError):
        torch.lerp(torch.ones(2), torch.ones(2, dtype=torch.float64), 0.5)
    with pytest.raises(RuntimeError, match="Integer division"):
        sj.addcdiv(sj.ones(2), sj.tensor([1, 2]), sj.tensor([3, 4]))
    with pytest.raises(RuntimeError):
        torch.addcdiv(torch.ones(2), torch.tensor([1, 2]), torch.tensor([3, 4]))


def test_addmm_errors_and_beta_zero_ignores_nan():
    with pytest.raises(RuntimeError):
        sj.addmm(sj.ones(3, 4), sj.ones(3), sj.ones(2, 4))
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        sj.addmm(sj.ones(5, 4), sj.ones(3, 2), sj.ones(2, 4))
    with pytest.raises(RuntimeError):
        torch.addmm(torch.ones(5, 4), torch.ones(3, 2), torch.ones(2, 4))
    nan = np.full((3, 4), np.nan)
    b, c = normal(3, 2), normal(2, 4)
    np.testing.assert_allclose(sj.addmm(sj.tensor(nan), sj.tensor(b), sj.tensor(c), beta=0).numpy(),
                               torch.addmm(torch.tensor(nan), torch.tensor(b), torch.tensor(c), beta=0).numpy())


# -- lookups -------------------------------------------------------------------------------------

@pytest.mark.parametrize("invert", [False, True])
def test_isin(invert):
    elements, tests = [[1, 2, 3], [4, 5, 6]], [2, 6, 9]
    ours = sj.isin(sj.tensor(elements), sj.tensor(tests), invert=invert)
    theirs = torch.isin(torch.tensor(elements), torch.tensor(tests), invert=invert)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(sj.isin(sj.tensor(elements), 5).numpy(), torch.isin(torch.tensor(elements), 5).numpy())
    np.testing.assert_array_equal(sj.isin(3, sj.tensor(tests)).numpy(), torch.isin(3, torch.tensor(tests)).numpy())


@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("out_int32", [False, True])
def test_bucketize(right, out_int32):
    boundaries = [1.0, 3.0, 5.0, 7.0]
    values = [[0.5, 1.0, 3.0], [6.0, 7.0, 9.0]]
    ours = sj.bucketize(sj.tensor(values), sj.tensor(boundaries), right=right, out_int32=out_int32)
    theirs = torch.bucketize(torch.tensor(values), torch.tensor(boundaries), right=right, out_int32=out_int32)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert sj.bucketize(3.0, sj.tensor(boundaries), right=right).item() == torch.bucketize(
        3.0, torch.tensor(boundaries), right=right).item()


@pytest.mark.parametrize("kwargs", [{}, {"right": True}, {"side": "right"}, {"side": "left"}, {"out_int32": True}])
def test_searchsorted(kwargs):
    sequence_1d = [1, 3, 5, 7, 9]
    sequence_2d = [[1, 3, 5, 7, 9], [2, 4, 6, 8, 10]]
    values_2d = [[3, 6, 9], [3, 6, 9]]
    for sequence, values in [(sequence_1d, values_2d), (sequence_2d, values_2d), (sequence_1d, [0, 10, 5])]:
        ours = sj.searchsorted(sj.tensor(sequence), sj.tensor(values), **kwargs)
        theirs = torch.searchsorted(torch.tensor(sequence), torch.tensor(values), **kwargs)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]


def test_searchsorted_with_sorter_and_errors():
    sequence, sorter = [5, 1, 9, 3], [1, 3, 0, 2]
    values = [4, 9, 0]
    ours = sj.searchsorted(sj.tensor(sequence), sj.tensor(values), sorter=sj.tensor(sorter))
    theirs = torch.searchsorted(torch.tensor(sequence), torch.tensor(values), sorter=torch.tensor(sorter))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(RuntimeError, match="opposites"):
        sj.searchsorted(sj.tensor([1, 2]), sj.tensor([1]), right=True, side="left")
    with pytest.raises(RuntimeError, match="first N-1"):
        sj.searchsorted(sj.tensor([[1, 2], [3, 4]]), sj.tensor([[1], [2], [3]]))
    with pytest.raises(RuntimeError):
        torch.searchsorted(torch.tensor([[1, 2], [3, 4]]), torch.tensor([[1], [2], [3]]))


def test_rsub():
    check_op(lambda a, b: sj.rsub(a, b, alpha=2), lambda a, b: torch.rsub(a, b, alpha=2), normal(3, 4), normal(4))
    np.testing.assert_allclose(sj.rsub(sj.tensor([1.0, 2.0]), 5).numpy(), torch.rsub(torch.tensor([1.0, 2.0]), 5).numpy())
