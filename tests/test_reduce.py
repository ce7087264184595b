"""Reductions: sum mean prod max min amax amin argmax argmin var std logsumexp norm all any.

Expected values and gradients come from PyTorch (through ``check_op`` or directly) or from maths.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import shenjing as sj
from helpers import assert_close, check_op


def np_of(t):
    return t.detach().numpy()


def dtype_name(t):
    return str(t.dtype).split(".")[-1]


def same(fn):
    """(fn, fn) for check_op when the method call reads the same in both libraries."""
    return fn, fn


X3 = np.random.default_rng(0).standard_normal((2, 3, 4))


# ----------------------------------------------------------------------------------------------
# sum / mean
# ----------------------------------------------------------------------------------------------

SUM_MEAN_CALLS = {
    "full": lambda x, op: getattr(x, op)(),
    "dim=1": lambda x, op: getattr(x, op)(dim=1),
    "dim=0 positional": lambda x, op: getattr(x, op)(0),
    "dim=-1": lambda x, op: getattr(x, op)(dim=-1),
    "dim=-1 keepdim": lambda x, op: getattr(x, op)(dim=-1, keepdim=True),
    "dim=(0,2)": lambda x, op: getattr(x, op)(dim=(0, 2)),
    "dim=(0,-1) keepdim": lambda x, op: getattr(x, op)(dim=(0, -1), keepdim=True),
    "dim=(2,0,1)": lambda x, op: getattr(x, op)(dim=(2, 0, 1)),
    "dim=[1] list": lambda x, op: getattr(x, op)(dim=[1]),
    "positional keepdim": lambda x, op: getattr(x, op)(1, True),
}


@pytest.mark.parametrize("call", list(SUM_MEAN_CALLS))
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean_method(op, call):
    fn = SUM_MEAN_CALLS[call]
    check_op(lambda x: fn(x, op), lambda x: fn(x, op), X3)


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean_function_form(op):
    check_op(lambda x: getattr(sj, op)(x), lambda x: getattr(torch, op)(x), X3)
    check_op(lambda x: getattr(sj, op)(x, dim=1, keepdim=True),
             lambda x: getattr(torch, op)(x, dim=1, keepdim=True), X3)
    check_op(lambda x: getattr(sj, op)(x, (0, 1)), lambda x: getattr(torch, op)(x, (0, 1)), X3)


def test_sum_of_zero_dim_tensor():
    check_op(*same(lambda x: x.sum()), np.array(2.5))
    check_op(*same(lambda x: x.sum(0)), np.array(2.5))


def test_sum_of_integer_and_bool_tensors_gives_int64():
    for values in (np.array([[1, 2], [3, 4]], dtype=np.int32), np.array([True, False, True])):
        out, ref = sj.tensor(values).sum(), torch.tensor(values).sum()
        assert dtype_name(out) == dtype_name(ref) == "int64"
        np.testing.assert_array_equal(np_of(out), ref.numpy())
    out = sj.tensor(np.array([[1, 2], [3, 4]], dtype=np.int32)).sum(dim=0)
    assert out.dtype == sj.int64


def test_mean_keeps_float32():
    x = sj.tensor(np.ones((2, 3), dtype=np.float32))
    assert x.mean().dtype == sj.float32
    assert x.mean(dim=0).dtype == sj.float32


def test_sum_float32_dtype():
    x = sj.tensor(np.ones((2, 3), dtype=np.float32))
    assert x.sum().dtype == sj.float32
    assert x.sum(1).dtype == sj.float32


# ----------------------------------------------------------------------------------------------
# prod
# ----------------------------------------------------------------------------------------------

PROD_CALLS = {
    "full": lambda x: x.prod(),
    "dim=1": lambda x: x.prod(dim=1),
    "dim=-1 keepdim": lambda x: x.prod(dim=-1, keepdim=True),
    "dim=0 positional": lambda x: x.prod(0),
}


@pytest.mark.parametrize("call", list(PROD_CALLS))
def test_prod(call):
    x = 0.5 + np.random.default_rng(1).random((3, 4))
    x[0, 1] *= -1
    check_op(*same(PROD_CALLS[call]), x)


def test_prod_function_form():
    x = 0.5 + np.random.default_rng(2).random((2, 3))
    check_op(lambda t: sj.prod(t), lambda t: torch.prod(t), x)
    check_op(lambda t: sj.prod(t, 1), lambda t: torch.prod(t, 1), x)


@pytest.mark.parametrize("call", list(PROD_CALLS))
def test_prod_with_zeros_gradient_matches_torch(call):
    # row 0: one zero, row 1: two zeros, row 2: none
    x = np.array([[1.5, 2.0, 0.0, -1.0],
                  [0.0, 3.0, 0.0, 2.0],
                  [1.2, -0.5, 2.0, 0.8]])
    check_op(*same(PROD_CALLS[call]), x)


def test_prod_single_zero_full_reduction():
    x = np.array([2.0, 0.0, -3.0, 0.5])
    check_op(*same(lambda t: t.prod()), x)
    # d/dx1 prod = 2 * -3 * 0.5 = -3, all others 0
    t = sj.tensor(x, requires_grad=True)
    t.prod().backward()
    np.testing.assert_allclose(t.grad.numpy(), [0.0, -3.0, 0.0, 0.0])


# ----------------------------------------------------------------------------------------------
# max / min (full, with dim), amax / amin, argmax / argmin
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_full_reduction(op):
    check_op(*same(lambda x: getattr(x, op)()), X3)
    check_op(lambda x: getattr(sj, op)(x), lambda x: getattr(torch, op)(x), X3)


MAX_DIM_CALLS = {
    "dim=1": lambda x, op: getattr(x, op)(dim=1),
    "dim=0 positional": lambda x, op: getattr(x, op)(0),
    "dim=-1 keepdim": lambda x, op: getattr(x, op)(dim=-1, keepdim=True),
    "positional keepdim": lambda x, op: getattr(x, op)(2, True),
}


@pytest.mark.parametrize("call", list(MAX_DIM_CALLS))
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim_values_indices_and_gradient(op, call):
    fn = MAX_DIM_CALLS[call]
    check_op(lambda x: fn(x, op), lambda x: fn(x, op), X3)  # values + gradient to the selected index
    values, indices = fn(sj.tensor(X3), op)
    ref_values, ref_indices = fn(torch.tensor(X3), op)
    assert indices.dtype == sj.int64
    assert tuple(indices.shape) == tuple(ref_indices.shape)
    np.testing.assert_array_equal(np_of(indices), ref_indices.numpy())
    np.testing.assert_allclose(np_of(values), ref_values.numpy())


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim_function_form(op):
    check_op(lambda x: getattr(sj, op)(x, dim=1), lambda x: getattr(torch, op)(x, dim=1), X3)
    check_op(lambda x: getattr(sj, op)(x, 0, keepdim=True), lambda x: getattr(torch, op)(x, 0, keepdim=True), X3)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim_named_fields(op):
    out = getattr(sj.tensor(X3), op)(dim=1)
    ref = getattr(torch.tensor(X3), op)(dim=1)
    np.testing.assert_allclose(np_of(out.values), ref.values.numpy())
    np.testing.assert_array_equal(np_of(out.indices), ref.indices.numpy())


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_binary_form_is_elementwise(op):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    check_op(lambda x, y: getattr(sj, op)(x, y), lambda x, y: getattr(torch, op)(x, y), a, b)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_with_dim_ties_gradient_goes_to_returned_index(op):
    x = np.array([[1.0, 3.0, 3.0], [-2.0, -2.0, 0.0], [5.0, 5.0, 5.0]])
    t = sj.tensor(x, requires_grad=True)
    values, indices = getattr(t, op)(dim=1)
    values.sum().backward()
    grad = t.grad.numpy()
    expected = np.zeros_like(x)
    expected[np.arange(3), np_of(indices)] = 1.0
    np.testing.assert_array_equal(grad, expected)
    ref = getattr(torch.tensor(x), op)(dim=1).values.numpy()
    np.testing.assert_array_equal(np_of(values), ref)
    # the returned index really holds the extreme value
    np.testing.assert_array_equal(x[np.arange(3), np_of(indices)], ref)


@pytest.mark.parametrize("op", ["max", "min", "amax", "amin"])
def test_full_reduction_with_ties_splits_gradient_evenly(op):
    x = np.array([[1.0, 3.0, -2.0], [3.0, -2.0, 3.0]])  # max 3 three times, min -2 twice
    check_op(*same(lambda t: getattr(t, op)()), x, numeric=False)
    t = sj.tensor(x, requires_grad=True)
    getattr(t, op)().backward()
    target = x.max() if op in ("max", "amax") else x.min()
    expected = (x == target) / np.sum(x == target)
    np.testing.assert_allclose(t.grad.numpy(), expected)


@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin_with_dim_ties_split_evenly_per_slice(op):
    x = np.array([[2.0, 2.0, 1.0], [0.0, 4.0, 4.0], [-1.0, -1.0, -1.0]])
    check_op(*same(lambda t: getattr(t, op)(dim=1)), x, numeric=False)
    check_op(*same(lambda t: getattr(t, op)(dim=0, keepdim=True)), x, numeric=False)


AMAX_CALLS = {
    "full": lambda x, op: getattr(x, op)(),
    "dim=1": lambda x, op: getattr(x, op)(dim=1),
    "dim=-1 keepdim": lambda x, op: getattr(x, op)(dim=-1, keepdim=True),
    "dim=(0,2)": lambda x, op: getattr(x, op)(dim=(0, 2)),
    "dim=(1,-1) keepdim": lambda x, op: getattr(x, op)((1, -1), True),
    "positional": lambda x, op: getattr(x, op)(0),
}


@pytest.mark.parametrize("call", list(AMAX_CALLS))
@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin(op, call):
    fn = AMAX_CALLS[call]
    check_op(lambda x: fn(x, op), lambda x: fn(x, op), X3)


@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin_function_form(op):
    check_op(lambda x: getattr(sj, op)(x, dim=(0, 1)), lambda x: getattr(torch, op)(x, dim=(0, 1)), X3)


ARG_CALLS = {
    "full": lambda x, op: getattr(x, op)(),
    "dim=1": lambda x, op: getattr(x, op)(dim=1),
    "dim=-1 keepdim": lambda x, op: getattr(x, op)(dim=-1, keepdim=True),
    "dim=0 positional": lambda x, op: getattr(x, op)(0),
}


@pytest.mark.parametrize("call", list(ARG_CALLS))
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin(op, call):
    fn = ARG_CALLS[call]
    out, ref = fn(sj.tensor(X3), op), fn(torch.tensor(X3), op)
    assert out.dtype == sj.int64
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_array_equal(np_of(out), ref.numpy())


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin_function_form_and_first_occurrence_on_ties(op):
    x = np.array([[0.0, 5.0, 5.0, -1.0], [-1.0, 2.0, -1.0, 2.0]])
    for call in (lambda lib, t: getattr(lib, op)(t), lambda lib, t: getattr(lib, op)(t, dim=1),
                 lambda lib, t: getattr(lib, op)(t, 0)):
        out, ref = call(sj, sj.tensor(x)), call(torch, torch.tensor(x))
        np.testing.assert_array_equal(np_of(out), ref.numpy())
    # documented torch behaviour: the first maximal / minimal index is returned
    expected = [1, 1] if op == "argmax" else [3, 0]
    np.testing.assert_array_equal(np_of(getattr(sj.tensor(x), op)(dim=1)), expected)


def test_argmax_on_integer_tensor():
    a = np.array([[3, 9, 2], [7, 1, 7]], dtype=np.int64)
    np.testing.assert_array_equal(np_of(sj.tensor(a).argmax(dim=1)), [1, 0])
    assert int(np_of(sj.tensor(a).argmax())) == 1


def test_max_of_integer_tensor_keeps_dtype():
    a = np.array([[3, 9, 2], [7, 1, 7]], dtype=np.int32)
    out, ref = sj.tensor(a).max(), torch.tensor(a).max()
    assert dtype_name(out) == dtype_name(ref) == "int32"
    assert int(np_of(out)) == 9


# ----------------------------------------------------------------------------------------------
# var / std
# ----------------------------------------------------------------------------------------------

VAR_CALLS = {
    "default": lambda x, op: getattr(x, op)(),
    "dim=1": lambda x, op: getattr(x, op)(dim=1),
    "dim=1 correction=0": lambda x, op: getattr(x, op)(dim=1, correction=0),
    "dim=-1 correction=1": lambda x, op: getattr(x, op)(dim=-1, correction=1),
    "dim=0 correction=2": lambda x, op: getattr(x, op)(dim=0, correction=2),
    "full correction=0": lambda x, op: getattr(x, op)(correction=0),
    "unbiased=False": lambda x, op: getattr(x, op)(unbiased=False),
    "unbiased=True": lambda x, op: getattr(x, op)(unbiased=True),
    "dim=1 unbiased=False keepdim": lambda x, op: getattr(x, op)(dim=1, unbiased=False, keepdim=True),
    "dim=(0,2)": lambda x, op: getattr(x, op)(dim=(0, 2)),
    "dim=(0,-1) correction=0 keepdim": lambda x, op: getattr(x, op)(dim=(0, -1), correction=0, keepdim=True),
    "positional dim": lambda x, op: getattr(x, op)(2),
}


@pytest.mark.parametrize("call", list(VAR_CALLS))
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std(op, call):
    fn = VAR_CALLS[call]
    x = np.random.default_rng(4).standard_normal((3, 4, 3))
    check_op(lambda t: fn(t, op), lambda t: fn(t, op), x)


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_function_form(op):
    x = np.random.default_rng(5).standard_normal((3, 4))
    check_op(lambda t: getattr(sj, op)(t), lambda t: getattr(torch, op)(t), x)
    check_op(lambda t: getattr(sj, op)(t, dim=0, correction=0), lambda t: getattr(torch, op)(t, dim=0, correction=0), x)
    check_op(lambda t: getattr(sj, op)(t, 1, keepdim=True), lambda t: getattr(torch, op)(t, 1, keepdim=True), x)


def test_var_known_values():
    t = sj.tensor(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(float(np_of(t.var())), 5.0 / 3.0)           # unbiased by default
    np.testing.assert_allclose(float(np_of(t.var(correction=0))), 1.25)
    np.testing.assert_allclose(float(np_of(t.var(correction=2))), 2.5)
    np.testing.assert_allclose(float(np_of(t.std(unbiased=False))), np.sqrt(1.25))


# ----------------------------------------------------------------------------------------------
# logsumexp
# ----------------------------------------------------------------------------------------------

LSE_CALLS = {
    "dim=1": lambda x, lib: lib.logsumexp(x, dim=1),
    "dim=-1 keepdim": lambda x, lib: lib.logsumexp(x, dim=-1, keepdim=True),
    "dim=(0,2)": lambda x, lib: lib.logsumexp(x, dim=(0, 2)),
    "positional": lambda x, lib: lib.logsumexp(x, 0),
    "method": lambda x, lib: x.logsumexp(dim=1),
    "method keepdim": lambda x, lib: x.logsumexp(2, keepdim=True),
}


@pytest.mark.parametrize("call", list(LSE_CALLS))
def test_logsumexp(call):
    fn = LSE_CALLS[call]
    check_op(lambda x: fn(x, sj), lambda x: fn(x, torch), X3)


def test_logsumexp_is_stable_for_large_values():
    x = np.array([[1000.0, 1000.0, -1000.0], [-1000.0, -1000.0, -1000.0], [0.0, 1.0, 2.0]])
    check_op(lambda t: sj.logsumexp(t, dim=1), lambda t: torch.logsumexp(t, dim=1), x)
    out = np_of(sj.logsumexp(sj.tensor(x), dim=1))
    np.testing.assert_allclose(out[:2], [1000.0 + np.log(2.0), -1000.0 + np.log(3.0)])
    t = sj.tensor(x, requires_grad=True)
    sj.logsumexp(t, dim=1).sum().backward()
    assert np.all(np.isfinite(t.grad.numpy()))


def test_logsumexp_with_minus_infinity_row():
    x = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    check_op(lambda t: sj.logsumexp(t, dim=1), lambda t: torch.logsumexp(t, dim=1), x, grad=False)


# ----------------------------------------------------------------------------------------------
# norm
# ----------------------------------------------------------------------------------------------

NORM_CALLS = {
    "default p=2": lambda x: x.norm(),
    "p=2": lambda x: x.norm(p=2),
    "p=1": lambda x: x.norm(p=1),
    "p=3": lambda x: x.norm(p=3),
    "p=fro": lambda x: x.norm(p="fro"),
    "p=inf": lambda x: x.norm(p=float("inf")),
    "positional p=1": lambda x: x.norm(1),
    "dim=1": lambda x: x.norm(dim=1),
    "p=2 dim=-1 keepdim": lambda x: x.norm(p=2, dim=-1, keepdim=True),
    "p=1 dim=0": lambda x: x.norm(p=1, dim=0),
    "p=inf dim=1": lambda x: x.norm(p=float("inf"), dim=1),
    "p=2 dim=(0,1)": lambda x: x.norm(p=2, dim=(0, 1)),
    "p=fro dim=(1,2)": lambda x: x.norm(p="fro", dim=(1, 2)),
}


@pytest.mark.parametrize("call", list(NORM_CALLS))
def test_norm(call):
    check_op(*same(NORM_CALLS[call]), X3)


def test_norm_function_form():
    check_op(lambda x: sj.norm(x), lambda x: torch.norm(x), X3)
    check_op(lambda x: sj.norm(x, p=1, dim=2), lambda x: torch.norm(x, p=1, dim=2), X3)
    check_op(lambda x: sj.norm(x, dim=1, keepdim=True), lambda x: torch.norm(x, dim=1, keepdim=True), X3)


def test_norm_known_value():
    t = sj.tensor(np.array([[3.0, -4.0], [0.0, 12.0]]))
    np.testing.assert_allclose(float(np_of(t.norm())), 13.0)
    np.testing.assert_allclose(float(np_of(t.norm(p=1))), 19.0)
    np.testing.assert_allclose(float(np_of(t.norm(p=float("inf")))), 12.0)
    np.testing.assert_allclose(np_of(t.norm(dim=1)), [5.0, 12.0])


def test_norm_float32_dtype():
    assert sj.tensor(np.ones((2, 2), dtype=np.float32)).norm().dtype == sj.float32


# ----------------------------------------------------------------------------------------------
# all / any
# ----------------------------------------------------------------------------------------------

BOOL_INPUT = np.array([[True, True, False], [True, True, True]])
FLOAT_INPUT = np.array([[0.0, 1.5, -2.0], [3.0, 0.5, 1.0]])

ALL_ANY_CALLS = {
    "full": lambda x, op, lib: getattr(x, op)(),
    "dim=1": lambda x, op, lib: getattr(x, op)(dim=1),
    "dim=0 keepdim": lambda x, op, lib: getattr(x, op)(dim=0, keepdim=True),
    "dim=-1 positional": lambda x, op, lib: getattr(x, op)(-1),
    "function": lambda x, op, lib: getattr(lib, op)(x),
    "function dim": lambda x, op, lib: getattr(lib, op)(x, dim=0),
}


@pytest.mark.parametrize("values", [BOOL_INPUT, FLOAT_INPUT, ~BOOL_INPUT, np.ones((2, 3), dtype=bool)],
                         ids=["bool", "float", "bool-negated", "all-true"])
@pytest.mark.parametrize("call", list(ALL_ANY_CALLS))
@pytest.mark.parametrize("op", ["all", "any"])
def test_all_any(op, call, values):
    fn = ALL_ANY_CALLS[call]
    out, ref = fn(sj.tensor(values), op, sj), fn(torch.tensor(values), op, torch)
    assert dtype_name(out) == dtype_name(ref) == "bool"
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_array_equal(np_of(out), ref.numpy())


@pytest.mark.parametrize("op", ["all", "any"])
def test_all_any_tuple_dim(op):
    x = np.array([[[True, False], [True, True]], [[False, False], [True, True]]])
    out, ref = getattr(sj.tensor(x), op)(dim=(0, 2)), getattr(torch.tensor(x), op)(dim=(0, 2))
    np.testing.assert_array_equal(np_of(out), ref.numpy())


def test_all_any_of_comparison():
    x = sj.tensor(np.array([1.0, 2.0, 3.0]))
    assert bool((x > 0).all())
    assert not bool((x > 2).all())
    assert bool((x > 2).any())
    assert not bool((x > 5).any())


# ----------------------------------------------------------------------------------------------
# Property tests: random shapes and dims, value and gradient vs torch (float64)
# ----------------------------------------------------------------------------------------------

@st.composite
def shape_and_dim(draw, allow_none=True):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"] if allow_none else ["int", "tuple"]))
    if kind == "none":
        dim = None
    elif kind == "int":
        dim = draw(st.integers(-ndim, ndim - 1))
    else:
        axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        dim = tuple(a - ndim if draw(st.booleans()) else a for a in axes)  # mix of negative and positive
    keepdim = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    return shape, dim, keepdim, seed


def compare_reduction(call, shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    t_sj = sj.tensor(x, requires_grad=True)
    t_torch = torch.tensor(x, requires_grad=True)
    out_sj, out_torch = call(t_sj), call(t_torch)
    assert tuple(out_sj.shape) == tuple(out_torch.shape)
    assert out_sj.dtype == sj.float64
    assert_close(np_of(out_sj), out_torch.detach().numpy(), np.float64, "forward")
    upstream = np.random.default_rng(seed + 1).standard_normal(tuple(out_torch.shape))
    out_sj.backward(sj.tensor(upstream))
    out_torch.backward(torch.tensor(upstream))
    assert_close(t_sj.grad.numpy(), t_torch.grad.numpy(), np.float64, "gradient")


def reduced_count(shape, dim):
    if dim is None:
        return int(np.prod(shape))
    axes = (dim,) if isinstance(dim, int) else dim
    return int(np.prod([shape[a] for a in axes]))


@pytest.mark.parametrize("op", ["sum", "mean", "amax"])
@settings(max_examples=25, deadline=None)
@given(case=shape_and_dim())
def test_property_reductions_match_torch(op, case):
    shape, dim, keepdim, seed = case
    if dim is None:
        call = lambda t: getattr(t, op)()  # noqa: E731
    else:
        call = lambda t: getattr(t, op)(dim=dim, keepdim=keepdim)  # noqa: E731
    compare_reduction(call, shape, seed)


@settings(max_examples=25, deadline=None)
@given(case=shape_and_dim(), correction=st.sampled_from([0, 1, 2]))
def test_property_var_matches_torch(case, correction):
    shape, dim, keepdim, seed = case
    # keep the divisor N - correction positive: the degenerate case is a division by zero in both libraries
    if reduced_count(shape, dim) <= correction:
        correction = 0
    if dim is None:
        call = lambda t: t.var(correction=correction)  # noqa: E731
    else:
        call = lambda t: t.var(dim=dim, correction=correction, keepdim=keepdim)  # noqa: E731
    compare_reduction(call, shape, seed)
