"""softmax / log_softmax (three spellings, several dims, numerical stability), one_hot, sort, topk, argsort."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
from helpers import check_op


def np_of(t):
    return t.detach().numpy()


X = np.random.default_rng(0).standard_normal((2, 3, 4))

# ----------------------------------------------------------------------------------------------
# softmax / log_softmax
# ----------------------------------------------------------------------------------------------

SPELLINGS = {
    "sj.{op}(x, dim)": (lambda op, x, d: getattr(sj, op)(x, dim=d), lambda op, x, d: getattr(torch, op)(x, dim=d)),
    "sj.{op}(x, d) positional": (lambda op, x, d: getattr(sj, op)(x, d), lambda op, x, d: getattr(torch, op)(x, d)),
    "x.{op}(dim)": (lambda op, x, d: getattr(x, op)(dim=d), lambda op, x, d: getattr(x, op)(dim=d)),
    "x.{op}(d) positional": (lambda op, x, d: getattr(x, op)(d), lambda op, x, d: getattr(x, op)(d)),
    "F.{op}(x, dim)": (lambda op, x, d: getattr(sj.nn.functional, op)(x, dim=d),
                       lambda op, x, d: getattr(TF, op)(x, dim=d)),
}


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("spelling", list(SPELLINGS))
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_log_softmax(op, spelling, dim):
    fn_sj, fn_torch = SPELLINGS[spelling]
    check_op(lambda x: fn_sj(op, x, dim), lambda x: fn_torch(op, x, dim), X)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_on_1d_and_with_trailing_singleton(op):
    rng = np.random.default_rng(1)
    check_op(lambda x: getattr(sj, op)(x, 0), lambda x: getattr(torch, op)(x, 0), rng.standard_normal(5))
    check_op(lambda x: getattr(sj, op)(x, -1), lambda x: getattr(torch, op)(x, -1), rng.standard_normal((3, 1)))


def test_softmax_rows_sum_to_one():
    out = np_of(sj.softmax(sj.tensor(X), dim=1))
    np.testing.assert_allclose(out.sum(axis=1), np.ones((2, 4)), rtol=1e-12)
    assert np.all(out > 0)


def test_log_softmax_equals_log_of_softmax():
    t = sj.tensor(X)
    np.testing.assert_allclose(np_of(sj.log_softmax(t, dim=-1)), np.log(np_of(sj.softmax(t, dim=-1))), rtol=1e-10)


def test_softmax_float32_keeps_dtype():
    t = sj.tensor(X.astype(np.float32))
    assert sj.softmax(t, dim=1).dtype == sj.float32
    assert sj.log_softmax(t, dim=1).dtype == sj.float32


STABLE_LOGITS = np.array([[1000.0, -1000.0, 0.0],
                          [-1000.0, -1000.0, -1000.0],
                          [1000.0, 1000.0, 999.0],
                          [88.0, 89.0, 90.0]])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_is_numerically_stable(op):
    # finite, equal to torch (float32 and float64), gradients equal to torch and to central differences
    check_op(lambda x: getattr(sj, op)(x, dim=1), lambda x: getattr(torch, op)(x, dim=1), STABLE_LOGITS)
    for dtype in (np.float32, np.float64):
        t = sj.tensor(STABLE_LOGITS.astype(dtype), requires_grad=True)
        out = getattr(sj, op)(t, dim=1)
        assert np.all(np.isfinite(np_of(out))), f"{op} not finite for {dtype.__name__}"
        (out * sj.tensor(np.arange(12.0).reshape(4, 3).astype(dtype))).sum().backward()
        assert np.all(np.isfinite(t.grad.numpy()))


def test_stable_softmax_known_values():
    out = np_of(sj.softmax(sj.tensor(STABLE_LOGITS), dim=1))
    np.testing.assert_allclose(out[0], [1.0, 0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(out[1], [1 / 3, 1 / 3, 1 / 3])
    log_out = np_of(sj.log_softmax(sj.tensor(STABLE_LOGITS), dim=1))
    np.testing.assert_allclose(log_out[0], [0.0, -2000.0, -1000.0], atol=1e-9)
    np.testing.assert_allclose(log_out[1], np.log([1 / 3] * 3))


def test_softmax_on_dim_0_with_large_values():
    check_op(lambda x: x.softmax(0), lambda x: x.softmax(0), STABLE_LOGITS.T.copy())
    check_op(lambda x: x.log_softmax(0), lambda x: x.log_softmax(0), STABLE_LOGITS.T.copy())


def test_softmax_with_minus_infinity_entries():
    x = np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, -np.inf]])
    check_op(lambda t: sj.softmax(t, 1), lambda t: torch.softmax(t, 1), x, numeric=False)


# ----------------------------------------------------------------------------------------------
# one_hot
# ----------------------------------------------------------------------------------------------

ONE_HOT = {
    "num_classes given": (np.array([0, 2, 1, 2]), 5),
    "num_classes inferred": (np.array([0, 2, 1, 3]), None),
    "2-D labels": (np.array([[0, 1], [3, 1], [2, 2]]), 4),
    "2-D labels inferred": (np.array([[0, 1], [3, 1], [2, 2]]), None),
    "0-dim label": (np.array(2), 3),
    "num_classes=-1 infers": (np.array([1, 0, 4]), -1),
}


@pytest.mark.parametrize("name", list(ONE_HOT))
def test_one_hot(name):
    labels, num_classes = ONE_HOT[name]
    if num_classes is None:
        out = sj.nn.functional.one_hot(sj.tensor(labels))
        ref = TF.one_hot(torch.tensor(labels))
    else:
        out = sj.nn.functional.one_hot(sj.tensor(labels), num_classes=num_classes)
        ref = TF.one_hot(torch.tensor(labels), num_classes=num_classes)
    assert out.dtype == sj.int64
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_array_equal(np_of(out), ref.numpy())


def test_one_hot_positional_num_classes_and_values():
    out = sj.nn.functional.one_hot(sj.tensor([1, 0]), 3)
    np.testing.assert_array_equal(np_of(out), [[0, 1, 0], [1, 0, 0]])


def test_one_hot_label_out_of_range_raises():
    with pytest.raises(RuntimeError):
        TF.one_hot(torch.tensor([0, 3]), num_classes=3)
    with pytest.raises(RuntimeError):
        sj.nn.functional.one_hot(sj.tensor([0, 3]), num_classes=3)


# ----------------------------------------------------------------------------------------------
# sort / topk / argsort
# ----------------------------------------------------------------------------------------------

S = np.random.default_rng(2).standard_normal((3, 5))  # distinct values: indices are unambiguous

SORTS = {
    "x.sort()": lambda lib, x: x.sort(),
    "x.sort(dim=0)": lambda lib, x: x.sort(dim=0),
    "x.sort(descending=True)": lambda lib, x: x.sort(descending=True),
    "x.sort(0, True) positional": lambda lib, x: x.sort(0, True),
    "lib.sort(x, dim=1, descending=True)": lambda lib, x: lib.sort(x, dim=1, descending=True),
    "lib.sort(x, -2)": lambda lib, x: lib.sort(x, -2),
}


@pytest.mark.parametrize("name", list(SORTS))
def test_sort_values_gradient_and_indices(name):
    fn = SORTS[name]
    check_op(lambda x: fn(sj, x), lambda x: fn(torch, x), S)  # values and their gradient
    values, indices = fn(sj, sj.tensor(S))
    ref_values, ref_indices = fn(torch, torch.tensor(S))
    assert indices.dtype == sj.int64
    np.testing.assert_array_equal(np_of(values), ref_values.numpy())
    np.testing.assert_array_equal(np_of(indices), ref_indices.numpy())


def test_sort_named_fields():
    out, ref = sj.tensor(S).sort(dim=1), torch.tensor(S).sort(dim=1)
    np.testing.assert_array_equal(np_of(out.values), ref.values.numpy())
    np.testing.assert_array_equal(np_of(out.indices), ref.indices.numpy())


def test_sort_1d_known_values():
    values, indices = sj.tensor([3.0, -1.0, 2.0]).sort(descending=True)
    np.testing.assert_array_equal(np_of(values), [3.0, 2.0, -1.0])
    np.testing.assert_array_equal(np_of(indices), [0, 2, 1])


@pytest.mark.parametrize("descending", [False, True])
def test_stable_sort_keeps_order_of_ties(descending):
    x = np.array([2.0, 1.0, 2.0, 0.0, 1.0, 2.0])
    values, indices = sj.sort(sj.tensor(x), stable=True, descending=descending)
    ref_values, ref_indices = torch.sort(torch.tensor(x), stable=True, descending=descending)
    np.testing.assert_array_equal(np_of(values), ref_values.numpy())
    np.testing.assert_array_equal(np_of(indices), ref_indices.numpy())


def test_sort_gradient_with_ties_follows_indices():
    x = np.array([[1.0, 3.0, 1.0, 2.0]])
    t = sj.tensor(x, requires_grad=True)
    values, indices = t.sort(dim=1)
    weights = np.array([[10.0, 20.0, 30.0, 40.0]])
    (values * sj.tensor(weights)).sum().backward()
    expected = np.zeros_like(x)
    expected[0, np_of(indices)[0]] = weights[0]
    np.testing.assert_array_equal(t.grad.numpy(), expected)
    np.testing.assert_array_equal(np_of(values), [[1.0, 1.0, 2.0, 3.0]])


def test_sort_integer_tensor():
    a = np.array([5, -2, 9, 0], dtype=np.int64)
    values, indices = sj.tensor(a).sort()
    assert values.dtype == sj.int64
    np.testing.assert_array_equal(np_of(values), np.sort(a))
    np.testing.assert_array_equal(np_of(indices), np.argsort(a))


TOPKS = {
    "x.topk(2)": lambda lib, x: x.topk(2),
    "x.topk(1)": lambda lib, x: x.topk(1),
    "x.topk(5) all": lambda lib, x: x.topk(5),
    "x.topk(2, dim=0)": lambda lib, x: x.topk(2, dim=0),
    "x.topk(3, largest=False)": lambda lib, x: x.topk(3, largest=False),
    "x.topk(2, 0, False) positional": lambda lib, x: x.topk(2, 0, False),
    "lib.topk(x, 2, dim=-1)": lambda lib, x: lib.topk(x, 2, dim=-1),
    "lib.topk(x, k=3, largest=True)": lambda lib, x: lib.topk(x, k=3, largest=True),
}


@pytest.mark.parametrize("name", list(TOPKS))
def test_topk_values_gradient_and_indices(name):
    fn = TOPKS[name]
    check_op(lambda x: fn(sj, x), lambda x: fn(torch, x), S)
    values, indices = fn(sj, sj.tensor(S))
    ref_values, ref_indices = fn(torch, torch.tensor(S))
    assert indices.dtype == sj.int64
    assert tuple(values.shape) == tuple(ref_values.shape)
    np.testing.assert_array_equal(np_of(values), ref_values.numpy())  # sorted=True by default
    np.testing.assert_array_equal(np_of(indices), ref_indices.numpy())


def test_topk_named_fields_and_known_values():
    out = sj.tensor([1.0, 5.0, 3.0, 4.0]).topk(2)
    np.testing.assert_array_equal(np_of(out.values), [5.0, 4.0])
    np.testing.assert_array_equal(np_of(out.indices), [1, 3])
    out = sj.tensor([1.0, 5.0, 3.0, 4.0]).topk(2, largest=False)
    np.testing.assert_array_equal(np_of(out.values), [1.0, 3.0])
    np.testing.assert_array_equal(np_of(out.indices), [0, 2])


def test_topk_k_too_large_raises():
    with pytest.raises(RuntimeError):
        torch.ones(2, 3).topk(4)
    with pytest.raises(RuntimeError):
        sj.ones(2, 3).topk(4)


ARGSORTS = {
    "x.argsort()": lambda lib, x: x.argsort(),
    "x.argsort(dim=0)": lambda lib, x: x.argsort(dim=0),
    "x.argsort(descending=True)": lambda lib, x: x.argsort(descending=True),
    "lib.argsort(x, 1, True)": lambda lib, x: lib.argsort(x, 1, True),
    "lib.argsort(x, dim=-2)": lambda lib, x: lib.argsort(x, dim=-2),
}


@pytest.mark.parametrize("name", list(ARGSORTS))
def test_argsort(name):
    if not hasattr(sj, "argsort"):
        pytest.skip("shenjing has no argsort")
    fn = ARGSORTS[name]
    out, ref = fn(sj, sj.tensor(S)), fn(torch, torch.tensor(S))
    assert out.dtype == sj.int64
    np.testing.assert_array_equal(np_of(out), ref.numpy())
