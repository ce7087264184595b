"""Element-wise ops: arithmetic, unary maths, clamp/where/maximum, comparisons, dtype promotion, in-place ops.

Every expected value comes from PyTorch (through ``check_op`` or directly) or from plain maths.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
import torch

import shenjing as sj
from helpers import Const, check_op


def np_of(t):
    return t.detach().numpy()


def dtype_name(t):
    return str(t.dtype).split(".")[-1]


def away_from_zero(rng, shape, low=0.5):
    """Values with |v| >= low, random sign: safe denominators and far from kinks."""
    mag = low + rng.random(shape)
    return np.where(rng.random(shape) < 0.5, -mag, mag)


def positive(rng, shape, low=0.5):
    return low + rng.random(shape)


# ----------------------------------------------------------------------------------------------
# Binary arithmetic, with broadcasting
# ----------------------------------------------------------------------------------------------

BINARY_OPERATORS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
}

BROADCAST_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 1, 4), (2, 1)),
    ((4,), (3, 4)),
    ((2, 3), ()),
    ((), (2, 3)),
    ((1,), (3, 1)),
    ((2, 1, 3), (1, 4, 1)),
]


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=lambda s: f"{s[0]}-{s[1]}")
@pytest.mark.parametrize("name", list(BINARY_OPERATORS))
def test_binary_operator_broadcasting(name, shapes):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shapes[0])
    b = away_from_zero(rng, shapes[1])
    op = BINARY_OPERATORS[name]
    check_op(op, op, a, b)


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1, 4), (2, 1)), ((2, 3), ())],
                         ids=lambda s: f"{s[0]}-{s[1]}")
def test_pow_tensor_tensor_broadcasting(shapes):
    rng = np.random.default_rng(2)
    base = positive(rng, shapes[0])
    exponent = rng.standard_normal(shapes[1])
    check_op(lambda x, y: x ** y, lambda x, y: x ** y, base, exponent)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
def test_binary_function_and_method_forms(name):
    rng = np.random.default_rng(3)
    a = positive(rng, (3, 1, 4)) if name == "pow" else rng.standard_normal((3, 1, 4))
    b = away_from_zero(rng, (2, 1))
    check_op(lambda x, y: getattr(sj, name)(x, y), lambda x, y: getattr(torch, name)(x, y), a, b)
    check_op(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), a, b)


def test_add_and_sub_with_alpha():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3,))
    check_op(lambda x, y: sj.add(x, y, alpha=2), lambda x, y: torch.add(x, y, alpha=2), a, b)
    check_op(lambda x, y: x.sub(y, alpha=0.5), lambda x, y: x.sub(y, alpha=0.5), a, b)


def test_matmul_operator():
    rng = np.random.default_rng(5)
    check_op(operator.matmul, operator.matmul, rng.standard_normal((2, 3)), rng.standard_normal((3, 4)))


SCALAR_FORMS = {
    "x + 1.5": lambda x: x + 1.5,
    "1.5 + x": lambda x: 1.5 + x,
    "x - 2": lambda x: x - 2,
    "2 - x": lambda x: 2 - x,
    "3 * x": lambda x: 3 * x,
    "x * -0.5": lambda x: x * -0.5,
    "x / 4": lambda x: x / 4,
    "2 / x": lambda x: 2 / x,
    "x ** 2": lambda x: x ** 2,
    "x ** 3": lambda x: x ** 3,
    "x ** -1": lambda x: x ** -1,
    "x ** 0": lambda x: x ** 0,
    "x ** 1": lambda x: x ** 1,
    "-x": lambda x: -x,
    "+x": lambda x: +x,
}


@pytest.mark.parametrize("form", list(SCALAR_FORMS))
def test_python_scalar_and_reflected_forms(form):
    fn = SCALAR_FORMS[form]
    check_op(fn, fn, away_from_zero(np.random.default_rng(6), (3, 4)))


@pytest.mark.parametrize("form", ["x ** 0.5", "x ** -1.5", "2 ** x", "0.5 ** x", "x ** 2.5"])
def test_pow_with_float_scalars_on_positive_base(form):
    fn = eval(f"lambda x: {form}")
    check_op(fn, fn, positive(np.random.default_rng(7), (2, 5)))


def test_pow_scalar_base_function_form():
    x = positive(np.random.default_rng(8), (4,))
    check_op(lambda t: sj.pow(2.0, t), lambda t: torch.pow(2.0, t), x)


def test_zero_dim_tensors():
    rng = np.random.default_rng(9)
    check_op(lambda x, y: x * y + x / y, lambda x, y: x * y + x / y, np.array(1.5), away_from_zero(rng, ()))
    check_op(lambda x, y: x * y - y, lambda x, y: x * y - y, np.array(-0.7), rng.standard_normal((2, 3)))


def test_same_tensor_used_twice_accumulates_gradient():
    x = np.random.default_rng(10).standard_normal((3,))
    check_op(lambda t: t * t + t, lambda t: t * t + t, x)
    check_op(lambda t: t / (t * t + 1), lambda t: t / (t * t + 1), x)


# ----------------------------------------------------------------------------------------------
# Unary ops
# ----------------------------------------------------------------------------------------------

# name -> input domain ("real": any, away from 0; "positive": > 0)
UNARY = {
    "neg": "real",
    "abs": "real",
    "exp": "real",
    "log": "positive",
    "log1p": "positive",
    "sqrt": "positive",
    "rsqrt": "positive",
    "sin": "real",
    "cos": "real",
    "sigmoid": "real",
    "tanh": "real",
    "relu": "real",
    "sign": "real",
}


def unary_input(domain, shape=(3, 4), seed=11):
    rng = np.random.default_rng(seed)
    return positive(rng, shape, low=0.2) if domain == "positive" else away_from_zero(rng, shape, low=0.1)


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_function_form(name):
    check_op(lambda x: getattr(sj, name)(x), lambda x: getattr(torch, name)(x), unary_input(UNARY[name]))


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_method_form(name):
    check_op(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), unary_input(UNARY[name], (2, 3, 2)))


def test_log1p_near_minus_one_and_tiny_values():
    x = np.array([-0.9, -0.5, 1e-10, 1e-5, 3.0])
    check_op(lambda t: t.log1p(), lambda t: t.log1p(), x)


def test_sigmoid_and_tanh_saturate_without_overflow():
    x = np.array([-800.0, -50.0, 0.0, 50.0, 800.0])
    check_op(lambda t: t.sigmoid(), lambda t: t.sigmoid(), x, numeric=False)
    check_op(lambda t: t.tanh(), lambda t: t.tanh(), x, numeric=False)
    out = sj.sigmoid(sj.tensor(x, requires_grad=True))
    assert np.all(np.isfinite(np_of(out)))


def test_exp_overflow_gives_inf_like_torch():
    x = np.array([1000.0, -1000.0, 0.0])
    check_op(lambda t: t.exp(), lambda t: t.exp(), x, grad=False)


def test_log_of_zero_and_negative_like_torch():
    x = np.array([0.0, -1.0, 1.0])
    check_op(lambda t: t.log(), lambda t: t.log(), x, grad=False)
    check_op(lambda t: t.sqrt(), lambda t: t.sqrt(), x, grad=False)


def test_unary_ops_preserve_float_dtype():
    for dtype in (np.float32, np.float64):
        t = sj.tensor(np.array([0.5, 1.5], dtype=dtype))
        ref = torch.tensor(np.array([0.5, 1.5], dtype=dtype))
        for name in UNARY:
            assert dtype_name(getattr(t, name)()) == dtype_name(getattr(ref, name)()), name


@pytest.mark.parametrize("name", ["abs", "relu"])
def test_gradient_at_kink_zero_matches_torch(name):
    # torch: d|x|/dx = sign(0) = 0 and relu'(0) = 0
    x = np.array([-1.0, 0.0, 2.0])
    check_op(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x, numeric=False)


def test_sign_values_including_zero():
    x = np.array([-3.0, -0.0, 0.0, 2.5])
    check_op(lambda t: t.sign(), lambda t: t.sign(), x, numeric=False)


def test_abs_and_neg_on_integers():
    a = np.array([-3, 0, 4], dtype=np.int64)
    for name in ("abs", "neg", "sign"):
        out = getattr(sj.tensor(a), name)()
        ref = getattr(torch.tensor(a), name)()
        assert dtype_name(out) == dtype_name(ref)
        np.testing.assert_array_equal(np_of(out), ref.numpy())
    out = -sj.tensor(a)
    np.testing.assert_array_equal(np_of(out), -a)


# ----------------------------------------------------------------------------------------------
# clamp, maximum, minimum, where
# ----------------------------------------------------------------------------------------------

CLAMPS = {
    "min only": lambda x: x.clamp(min=-0.3),
    "max only": lambda x: x.clamp(max=0.4),
    "both keywords": lambda x: x.clamp(min=-0.3, max=0.4),
    "both positional": lambda x: x.clamp(-0.3, 0.4),
    "min above max": lambda x: x.clamp(min=0.5, max=-0.5),
}


@pytest.mark.parametrize("case", list(CLAMPS))
def test_clamp_scalar_bounds(case):
    x = np.random.default_rng(12).standard_normal((4, 5))
    check_op(CLAMPS[case], CLAMPS[case], x)


def test_clamp_function_form():
    x = np.random.default_rng(13).standard_normal((3, 4))
    check_op(lambda t: sj.clamp(t, min=-0.2, max=0.6), lambda t: torch.clamp(t, min=-0.2, max=0.6), x)
    check_op(lambda t: sj.clamp(t, max=0.1), lambda t: torch.clamp(t, max=0.1), x)


def test_clamp_tensor_bounds_with_broadcasting_and_gradients():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((3, 4)) * 2
    lo = -0.3 - rng.random((4,))
    hi = 0.3 + rng.random((3, 1))
    check_op(lambda t, a, b: t.clamp(min=a, max=b), lambda t, a, b: t.clamp(min=a, max=b), x, lo, hi)
    check_op(lambda t, a: t.clamp(min=a), lambda t, a: t.clamp(min=a), x, lo)
    check_op(lambda t, b: sj.clamp(t, max=b), lambda t, b: torch.clamp(t, max=b), x, hi)


def test_clamp_gradient_at_exact_boundary_matches_torch():
    # torch passes the gradient through when x == min or x == max (inclusive bounds)
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    check_op(lambda t: t.clamp(-0.5, 0.5), lambda t: t.clamp(-0.5, 0.5), x, numeric=False)


def test_clamp_integer_tensor_keeps_dtype():
    a = np.array([-5, 0, 3, 9], dtype=np.int64)
    out, ref = sj.tensor(a).clamp(0, 4), torch.tensor(a).clamp(0, 4)
    assert dtype_name(out) == dtype_name(ref) == "int64"
    np.testing.assert_array_equal(np_of(out), ref.numpy())


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_broadcasting(name):
    rng = np.random.default_rng(15)
    a, b = rng.standard_normal((3, 1, 4)), rng.standard_normal((2, 1))
    check_op(lambda x, y: getattr(sj, name)(x, y), lambda x, y: getattr(torch, name)(x, y), a, b)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_gradient(name):
    # torch gives each side half of the gradient where the two inputs are equal
    a = np.array([1.0, 2.0, -3.0, 0.5])
    b = np.array([1.0, 0.0, -3.0, 4.0])
    check_op(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), a, b)


def test_where_with_broadcasting():
    rng = np.random.default_rng(16)
    cond = Const(rng.random((3, 1)) < 0.5)
    cond_full = Const(np.array([[True, False, True, False]] * 3))
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    check_op(lambda c, x, y: sj.where(c, x, y), lambda c, x, y: torch.where(c, x, y), cond, a, b)
    check_op(lambda c, x, y: sj.where(c, x, y), lambda c, x, y: torch.where(c, x, y), cond_full, a, b)
    check_op(lambda c, x, y: x.where(c, y), lambda c, x, y: x.where(c, y), cond_full, a, b)


def test_where_with_scalar_branch():
    rng = np.random.default_rng(17)
    cond = Const(np.array([[True, False, False], [False, True, True]]))
    a = rng.standard_normal((2, 3))
    check_op(lambda c, x: sj.where(c, x, 0.0), lambda c, x: torch.where(c, x, 0.0), cond, a)
    check_op(lambda c, x: sj.where(c, -1.5, x), lambda c, x: torch.where(c, -1.5, x), cond, a)


def test_where_condition_from_comparison():
    x = np.random.default_rng(18).standard_normal((4, 3))
    check_op(lambda t: sj.where(t > 0, t, t * 0.1), lambda t: torch.where(t > 0, t, t * 0.1), x)


# ----------------------------------------------------------------------------------------------
# Comparisons
# ----------------------------------------------------------------------------------------------

COMPARISONS = {
    "==": (operator.eq, "eq"),
    "!=": (operator.ne, "ne"),
    "<": (operator.lt, "lt"),
    "<=": (operator.le, "le"),
    ">": (operator.gt, "gt"),
    ">=": (operator.ge, "ge"),
}


def compare_with_torch(out, ref):
    assert dtype_name(out) == dtype_name(ref) == "bool", f"dtype {out.dtype} vs torch {ref.dtype}"
    assert out.dtype == sj.bool
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_array_equal(np_of(out), ref.numpy())


@pytest.mark.parametrize("symbol", list(COMPARISONS))
def test_comparison_operators_tensor_tensor_broadcast(symbol):
    rng = np.random.default_rng(19)
    # small integers stored as floats, so that ties occur
    a = rng.integers(0, 3, (3, 1, 4)).astype(np.float32)
    b = rng.integers(0, 3, (2, 1)).astype(np.float32)
    op, method = COMPARISONS[symbol]
    compare_with_torch(op(sj.tensor(a), sj.tensor(b)), op(torch.tensor(a), torch.tensor(b)))
    compare_with_torch(getattr(sj.tensor(a), method)(sj.tensor(b)),
                       getattr(torch.tensor(a), method)(torch.tensor(b)))


@pytest.mark.parametrize("symbol", list(COMPARISONS))
def test_comparison_with_python_scalar_both_sides(symbol):
    a = np.array([[0.0, 1.0, 2.0], [1.0, -1.0, 1.5]])
    op, method = COMPARISONS[symbol]
    compare_with_torch(op(sj.tensor(a), 1.0), op(torch.tensor(a), 1.0))
    compare_with_torch(op(1, sj.tensor(a)), op(1, torch.tensor(a)))
    compare_with_torch(getattr(sj.tensor(a), method)(1), getattr(torch.tensor(a), method)(1))


@pytest.mark.parametrize("symbol", list(COMPARISONS))
def test_comparison_mixed_dtypes(symbol):
    a = np.array([1, 2, 3], dtype=np.int64)
    b = np.array([1.5, 2.0, 2.5], dtype=np.float32)
    op, _ = COMPARISONS[symbol]
    compare_with_torch(op(sj.tensor(a), sj.tensor(b)), op(torch.tensor(a), torch.tensor(b)))
    compare_with_torch(op(sj.tensor(a), 2.5), op(torch.tensor(a), 2.5))


def test_comparison_results_do_not_require_grad():
    x = sj.tensor(np.array([1.0, -1.0]), requires_grad=True)
    assert not (x > 0).requires_grad
    assert not x.eq(1.0).requires_grad


def test_torch_function_comparisons():
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([3.0, 2.0, 1.0])
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        compare_with_torch(getattr(sj, name)(sj.tensor(a), sj.tensor(b)),
                           getattr(torch, name)(torch.tensor(a), torch.tensor(b)))


# ----------------------------------------------------------------------------------------------
# dtype promotion
# ----------------------------------------------------------------------------------------------

NP_DTYPES = {"bool": np.bool_, "int32": np.int32, "int64": np.int64, "float32": np.float32, "float64": np.float64}


def make_operand(lib, spec):
    """spec: (dtype name, shape) -> a tensor with values 1, 2, 3, ... (alternating booleans); else a python scalar."""
    if not isinstance(spec, tuple):
        return spec
    dtype, shape = spec
    values = np.arange(1, int(np.prod(shape, dtype=int)) + 1).reshape(shape)
    if dtype == "bool":
        values = values % 2 == 1
    return lib.tensor(values.astype(NP_DTYPES[dtype]))


PROMOTIONS = [
    # (lhs, op, rhs)
    (("int32", (3,)), "+", 2.5),
    (("int64", (3,)), "+", 2.5),
    (("int64", (3,)), "*", 2),
    (("int32", (3,)), "*", 2),
    (("int32", (3,)), "+", ("int64", (3,))),
    (("int64", (3,)), "/", ("int64", (3,))),
    (("int32", (3,)), "/", 2),
    (("int64", (3,)), "/", ("int64", ())),
    (("float32", (3,)), "+", ("float64", ())),
    (("float32", (3,)), "*", ("float64", (3,))),
    (("int64", (3,)), "+", ("float64", ())),
    (("int32", (3,)), "+", ("float32", ())),
    (("int64", (3,)), "*", ("float32", (3,))),
    (("float64", ()), "+", ("int64", (3,))),
    (("float32", (2, 3)), "-", ("int64", (3,))),
    (("bool", (3,)), "+", 1),
    (("bool", (3,)), "+", 1.5),
    (("bool", (3,)), "+", ("int32", (3,))),
    (("bool", (3,)), "*", ("float32", (3,))),
    (("float32", (3,)), "+", 2),
    (("float32", (3,)), "*", 2.5),
    (("float64", (3,)), "-", 1),
    (("int64", (3,)), "**", 2),
    (("int64", (3,)), "**", 0.5),
    (("float32", (3,)), "**", ("float64", ())),
    (2, "-", ("int32", (3,))),
    (2.5, "*", ("int64", (3,))),
    (1, "/", ("int32", (3,))),
    (("int32", ()), "+", ("int64", ())),
    (("float32", ()), "+", ("float64", ())),
]

OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow}


def _describe(spec):
    return f"{spec[0]}{list(spec[1])}" if isinstance(spec, tuple) else repr(spec)


@pytest.mark.parametrize("lhs,symbol,rhs", PROMOTIONS,
                         ids=[f"{_describe(l)}{s}{_describe(r)}" for l, s, r in PROMOTIONS])
def test_dtype_promotion_matches_torch(lhs, symbol, rhs):
    op = OPS[symbol]
    out = op(make_operand(sj, lhs), make_operand(sj, rhs))
    ref = op(make_operand(torch, lhs), make_operand(torch, rhs))
    assert dtype_name(out) == dtype_name(ref), f"dtype {out.dtype} vs torch {ref.dtype}"
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(np_of(out).astype(np.float64), ref.numpy().astype(np.float64), rtol=1e-6)


def test_integer_true_division_gives_float32_values():
    a, b = np.array([7, -7, 1], dtype=np.int64), np.array([2, 2, 3], dtype=np.int64)
    out = sj.tensor(a) / sj.tensor(b)
    assert out.dtype == sj.float32
    np.testing.assert_allclose(np_of(out), [3.5, -3.5, 1 / 3], rtol=1e-6)


def test_python_float_does_not_upcast_float32():
    x = sj.tensor(np.ones(3, dtype=np.float32))
    assert (x * 1e-3).dtype == sj.float32
    assert (1.0 - x).dtype == sj.float32
    assert (x ** 2.0).dtype == sj.float32


def test_default_dtypes_of_created_tensors():
    assert sj.tensor([1, 2]).dtype == sj.int64
    assert sj.tensor([1.0, 2.0]).dtype == sj.float32
    assert sj.tensor([True]).dtype == sj.bool
    assert (sj.tensor([1, 2]) + sj.tensor([0.5])).dtype == sj.float32


# ----------------------------------------------------------------------------------------------
# In-place ops
# ----------------------------------------------------------------------------------------------

def _pair(a):
    return sj.tensor(a.copy()), torch.tensor(a.copy())


INPLACE = {
    "add_ tensor": lambda t, o: t.add_(o),
    "add_ scalar": lambda t, o: t.add_(2.5),
    "add_ alpha": lambda t, o: t.add_(o, alpha=-2),
    "sub_ tensor": lambda t, o: t.sub_(o),
    "sub_ scalar": lambda t, o: t.sub_(1),
    "mul_ tensor": lambda t, o: t.mul_(o),
    "mul_ scalar": lambda t, o: t.mul_(-3),
    "div_ tensor": lambda t, o: t.div_(o),
    "div_ scalar": lambda t, o: t.div_(4),
    "zero_": lambda t, o: t.zero_(),
    "fill_": lambda t, o: t.fill_(0.25),
    "copy_ broadcast": lambda t, o: t.copy_(o),
    "clamp_ both": lambda t, o: t.clamp_(-0.5, 0.5),
    "clamp_ min": lambda t, o: t.clamp_(min=0.0),
    "clamp_ max": lambda t, o: t.clamp_(max=0.1),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_op_values_and_identity(name):
    rng = np.random.default_rng(20)
    a = rng.standard_normal((3, 4))
    o = away_from_zero(rng, (4,))  # broadcast over the rows
    t_sj, t_torch = _pair(a)
    o_sj, o_torch = sj.tensor(o), torch.tensor(o)
    result = INPLACE[name](t_sj, o_sj)
    INPLACE[name](t_torch, o_torch)
    assert result is t_sj, "in-place ops return self"
    assert tuple(t_sj.shape) == (3, 4)
    assert t_sj.dtype == sj.float64
    np.testing.assert_allclose(np_of(t_sj), t_torch.numpy(), rtol=1e-12, atol=1e-12)


def test_augmented_assignment_keeps_identity_and_values():
    a = np.arange(6.0).reshape(2, 3)
    t_sj, t_torch = _pair(a)
    alias = t_sj
    t_sj += 1
    t_sj *= sj.tensor(np.array([1.0, -2.0, 0.5]))
    t_sj -= 0.5
    t_sj /= 2
    t_torch += 1
    t_torch *= torch.tensor(np.array([1.0, -2.0, 0.5]))
    t_torch -= 0.5
    t_torch /= 2
    assert t_sj is alias
    np.testing.assert_allclose(np_of(t_sj), t_torch.numpy())


def test_inplace_integer_ops():
    a = np.array([1, 2, 3], dtype=np.int64)
    t_sj, t_torch = _pair(a)
    t_sj.add_(2)
    t_sj.mul_(3)
    t_torch.add_(2)
    t_torch.mul_(3)
    assert t_sj.dtype == sj.int64
    np.testing.assert_array_equal(np_of(t_sj), t_torch.numpy())


def test_inplace_float_into_int_tensor_raises_like_torch():
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError):
        sj.tensor([1, 2]).add_(1.5)


def test_inplace_float64_operand_into_float32_keeps_float32():
    t = sj.tensor(np.ones(3, dtype=np.float32))
    t.add_(sj.tensor(np.array([0.5, 1.5, 2.5])))
    assert t.dtype == sj.float32
    np.testing.assert_allclose(np_of(t), [1.5, 2.5, 3.5])


def test_inplace_result_must_fit_self_shape():
    # broadcasting may expand the other operand, never self
    with pytest.raises(RuntimeError):
        torch.ones(3).add_(torch.ones(2, 3))
    with pytest.raises(RuntimeError):
        sj.ones(3).add_(sj.ones(2, 3))


def test_inplace_on_leaf_requiring_grad_raises():
    x = sj.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError):
        x.add_(1)


def test_inplace_on_leaf_under_no_grad_is_allowed():
    x = sj.tensor(np.ones(3), requires_grad=True)
    with sj.no_grad():
        x.mul_(2)
        x -= 0.5
    assert x.requires_grad and x.is_leaf
    np.testing.assert_allclose(np_of(x), [1.5, 1.5, 1.5])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_gradient_through_add_on_non_leaf():
    x = sj.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = x * 2
    y.add_(1)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(np_of(y), [3.0, -3.0, 7.0])


INPLACE_CHAINS = {
    "add_": lambda x, z: (x * 2).add_(z),
    "add_ alpha": lambda x, z: (x * 2).add_(z, alpha=3),
    "sub_": lambda x, z: (x + 0).sub_(z * z),
    "mul_ by other": lambda x, z: (x * 2).mul_(z),
    "mul_ twice by a source": lambda x, z: (x * 3).mul_(z).mul_(x),
    "div_": lambda x, z: (x * 1).div_(z),
    "clamp_": lambda x, z: (x * z).clamp_(-0.4, 0.4),
    "iadd imul": lambda x, z: _augmented(x, z),
    "chain then reuse": lambda x, z: _chain_then_reuse(x, z),
}


def _augmented(x, z):
    y = x * 1
    y += z
    y *= x
    y -= 1.0
    y /= z
    return y


def _chain_then_reuse(x, z):
    y = x + z
    w = y * 3  # uses y before the in-place update (y's values are not saved by mul-by-scalar)
    y.add_(x)
    return y * w


@pytest.mark.parametrize("name", list(INPLACE_CHAINS))
def test_gradient_through_inplace_on_non_leaf(name):
    rng = np.random.default_rng(21)
    x = rng.standard_normal((2, 3))
    z = away_from_zero(rng, (3,))
    fn = INPLACE_CHAINS[name]
    check_op(fn, fn, x, z)


@pytest.mark.parametrize("name", ["zero_", "fill_", "copy_"])
def test_gradient_after_overwriting_inplace(name):
    # The overwritten values no longer depend on x: torch gives x a zero gradient; copy_ routes it to src.
    rng = np.random.default_rng(22)
    x = rng.standard_normal((2, 3))
    z = rng.standard_normal((3,))
    ops = {
        "zero_": lambda a, b: (a * 2).zero_() + b,
        "fill_": lambda a, b: (a * 2).fill_(1.5) * b,
        "copy_": lambda a, b: (a * 2).copy_(b) * b,
    }
    sj_x, torch_x = sj.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    sj_z, torch_z = sj.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    out_sj, out_torch = ops[name](sj_x, sj_z), ops[name](torch_x, torch_z)
    np.testing.assert_allclose(np_of(out_sj), out_torch.detach().numpy())
    upstream = rng.standard_normal((2, 3))
    out_sj.backward(sj.tensor(upstream))
    out_torch.backward(torch.tensor(upstream))
    sj_grad_x = np.zeros_like(x) if sj_x.grad is None else sj_x.grad.numpy()
    np.testing.assert_allclose(sj_grad_x, torch_x.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(sj_z.grad.numpy(), torch_z.grad.numpy(), rtol=1e-10)
