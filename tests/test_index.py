"""Indexing: __getitem__ (basic, advanced, boolean, mixed), gather scatter scatter_add index_add
index_select masked_fill, and __setitem__ (under no_grad on a leaf, and with autograd on a non-leaf)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shenjing as sj
from helpers import Const, check_op


def np_of(t):
    return t.detach().numpy()


X = np.random.default_rng(0).standard_normal((4, 5, 3))

# ----------------------------------------------------------------------------------------------
# __getitem__: basic indexing
# ----------------------------------------------------------------------------------------------

BASIC = {
    "x[1]": lambda x: x[1],
    "x[-1]": lambda x: x[-1],
    "x[1, 2]": lambda x: x[1, 2],
    "x[-1, -2, 0]": lambda x: x[-1, -2, 0],
    "x[1:3]": lambda x: x[1:3],
    "x[:, 1:]": lambda x: x[:, 1:],
    "x[::2]": lambda x: x[::2],
    "x[1::2, ::3]": lambda x: x[1::2, ::3],
    "x[-3:-1, :, -1]": lambda x: x[-3:-1, :, -1],
    "x[:, 1:4:2, ::2]": lambda x: x[:, 1:4:2, ::2],
    "x[2:100] (clipped)": lambda x: x[2:100],
    "x[None]": lambda x: x[None],
    "x[:, None]": lambda x: x[:, None],
    "x[..., 0]": lambda x: x[..., 0],
    "x[0, ..., 1]": lambda x: x[0, ..., 1],
    "x[..., None]": lambda x: x[..., None],
    "x[1:, None, ::2]": lambda x: x[1:, None, ::2],
    "x[None, 2, None, :, 1]": lambda x: x[None, 2, None, :, 1],
    "x[...]": lambda x: x[...],
    "x[:]": lambda x: x[:],
    "x[1][2][0] (chained)": lambda x: x[1][2][0],
}


@pytest.mark.parametrize("name", list(BASIC))
def test_getitem_basic(name):
    check_op(BASIC[name], BASIC[name], X)


def test_getitem_int_gives_zero_dim():
    out = sj.tensor(np.array([1.0, 2.0, 3.0]))[1]
    assert tuple(out.shape) == ()
    assert float(np_of(out)) == 2.0


def test_getitem_out_of_range_raises_index_error():
    with pytest.raises(IndexError):
        torch.ones(3, 2)[3]
    with pytest.raises(IndexError):
        sj.ones(3, 2)[3]


# ----------------------------------------------------------------------------------------------
# __getitem__: advanced (integer) indexing, boolean masks, mixed
# ----------------------------------------------------------------------------------------------

ADVANCED = {
    "list with repeats x[[0, 0, 1]]": (lambda x, i: x[i], [0, 0, 1]),
    "list with negatives x[[-1, 0, -1]]": (lambda x, i: x[i], [-1, 0, -1]),
    "int tensor x[t]": (lambda x, i: x[i], Const(np.array([2, 0, 2, 3]))),
    "2-D int tensor": (lambda x, i: x[i], Const(np.array([[0, 1], [1, 1]]))),
    "0-dim int tensor": (lambda x, i: x[i], Const(np.array(2))),
    "x[:, [0, 2]]": (lambda x, i: x[:, i], [0, 2]),
    "x[:, t] repeats": (lambda x, i: x[:, i], Const(np.array([4, 4, 0]))),
    "x[..., [1, 0, 1]]": (lambda x, i: x[..., i], [1, 0, 1]),
    "x[1:, [0, 2]]": (lambda x, i: x[1:, i], [0, 2]),
    "x[[0, 2], :, 1]": (lambda x, i: x[i, :, 1], [0, 2]),
    "x[i, i] paired": (lambda x, i: x[i, i], Const(np.array([0, 1, 1]))),
    "x[i, :, i] separated by slice": (lambda x, i: x[i, :, i], Const(np.array([0, 2, 2]))),
    "x[None, i]": (lambda x, i: x[None, i], [3, 1]),
    "x[i, None, 1:3]": (lambda x, i: x[i, None, 1:3], Const(np.array([1, 1]))),
}


@pytest.mark.parametrize("name", list(ADVANCED))
def test_getitem_advanced(name):
    fn, index = ADVANCED[name]
    check_op(fn, fn, X, index)


def test_getitem_two_index_tensors_broadcast():
    rows = Const(np.array([[0], [3]]))
    cols = Const(np.array([[1, 4, 1]]))
    check_op(lambda x, r, c: x[r, c], lambda x, r, c: x[r, c], X, rows, cols)


def test_getitem_repeated_index_accumulates_gradient():
    x = sj.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x[[0, 0, 1, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 1.0, 0.0])


MASKS = {
    "mask over dim 0": np.array([True, False, True, True]),
    "mask over dims 0-1": np.random.default_rng(1).random((4, 5)) < 0.5,
    "full mask": np.random.default_rng(2).random((4, 5, 3)) < 0.5,
    "all false": np.zeros(4, dtype=bool),
}


@pytest.mark.parametrize("name", list(MASKS))
def test_getitem_boolean_mask(name):
    check_op(lambda x, m: x[m], lambda x, m: x[m], X, Const(MASKS[name]))


def test_getitem_boolean_mask_on_inner_dim_and_from_comparison():
    mask = Const(np.array([False, True, True, False, True]))
    check_op(lambda x, m: x[:, m], lambda x, m: x[:, m], X, mask)
    check_op(lambda x, m: x[1:, m, 0], lambda x, m: x[1:, m, 0], X, mask)
    check_op(lambda x: x[x > 0], lambda x: x[x > 0], X)
    check_op(lambda x: x[x[:, 0, 0] > 0], lambda x: x[x[:, 0, 0] > 0], X)


def test_getitem_boolean_list():
    check_op(lambda x: x[[True, False, False, True]], lambda x: x[[True, False, False, True]], X)


def test_getitem_on_integer_tensor():
    a = np.arange(12).reshape(3, 4)
    for index in ((1, slice(None, None, 2)), ([2, 0],), (slice(None), [3, 3])):
        out, ref = sj.tensor(a)[index], torch.tensor(a)[index]
        assert out.dtype == sj.int64
        np.testing.assert_array_equal(np_of(out), ref.numpy())


# ----------------------------------------------------------------------------------------------
# gather / scatter / scatter_add / index_add / index_select / masked_fill
# ----------------------------------------------------------------------------------------------

M = np.random.default_rng(3).standard_normal((3, 4))


def test_gather_dim1_with_repeats_and_smaller_index():
    index = Const(np.array([[0, 0, 3], [1, 2, 1]]))  # index smaller than input along dim 0 too
    check_op(lambda x, i: x.gather(1, i), lambda x, i: x.gather(1, i), M, index)
    check_op(lambda x, i: sj.gather(x, 1, i), lambda x, i: torch.gather(x, 1, i), M, index)


def test_gather_dim0_and_negative_dim():
    index = Const(np.array([[2, 0, 1, 2], [2, 2, 0, 1]]))
    check_op(lambda x, i: x.gather(0, i), lambda x, i: x.gather(0, i), M, index)
    index3 = Const(np.array([[[2], [0]], [[1], [1]]]))
    x3 = np.random.default_rng(4).standard_normal((2, 2, 3))
    check_op(lambda x, i: x.gather(-1, i), lambda x, i: x.gather(-1, i), x3, index3)
    check_op(lambda x, i: x.gather(dim=2, index=i), lambda x, i: x.gather(dim=2, index=i), x3, index3)


def test_gather_picks_class_scores():
    scores = sj.tensor(np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]]))
    target = sj.tensor([[1], [0]])
    np.testing.assert_allclose(np_of(scores.gather(1, target)), [[0.7], [0.5]])


def test_scatter_with_src_tensor():
    index = Const(np.array([[3, 0], [1, 2], [0, 3]]))  # unique per row: deterministic
    src = np.random.default_rng(5).standard_normal((3, 2))
    check_op(lambda x, i, s: x.scatter(1, i, s), lambda x, i, s: x.scatter(1, i, s), M, index, src)
    check_op(lambda x, i, s: sj.scatter(x, 1, i, s), lambda x, i, s: torch.scatter(x, 1, i, s), M, index, src)


def test_scatter_src_larger_than_index_uses_leading_block():
    index = Const(np.array([[2, 0, 1]]))
    src = np.random.default_rng(6).standard_normal((2, 4))
    # forward only: torch 2.13's own ScatterBackward fails for a src larger than the index
    check_op(lambda x, i, s: x.scatter(0, i, s), lambda x, i, s: x.scatter(0, i, s), M, index, src, grad=False)


def test_scatter_with_scalar_value():
    index = Const(np.array([[1], [3], [0]]))
    check_op(lambda x, i: x.scatter(1, i, 2.5), lambda x, i: x.scatter(1, i, 2.5), M, index)
    check_op(lambda x, i: x.scatter(dim=0, index=i, value=-1.0),
             lambda x, i: x.scatter(dim=0, index=i, value=-1.0), M, Const(np.array([[2, 0, 1, 1]])))


def test_scatter_inplace_values():
    idx = np.array([[0, 2], [1, 0]])
    t, r = sj.zeros(2, 3), torch.zeros(2, 3)
    out = t.scatter_(1, sj.tensor(idx), sj.tensor(np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)))
    r.scatter_(1, torch.tensor(idx), torch.tensor(np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)))
    assert out is t
    np.testing.assert_array_equal(np_of(t), r.numpy())


def test_scatter_one_hot_style():
    labels = np.array([2, 0, 1])
    out = sj.zeros(3, 4).scatter(1, sj.tensor(labels).unsqueeze(1), 1.0)
    np.testing.assert_array_equal(np_of(out), np.eye(4, dtype=np.float32)[labels])


def test_scatter_add_accumulates_duplicates():
    index = Const(np.array([[0, 1, 0, 2], [2, 2, 2, 0]]))
    src = np.random.default_rng(7).standard_normal((2, 4))
    check_op(lambda x, i, s: x.scatter_add(0, i, s), lambda x, i, s: x.scatter_add(0, i, s), M, index, src)
    check_op(lambda x, i, s: sj.scatter_add(x, 1, i, s), lambda x, i, s: torch.scatter_add(x, 1, i, s),
             M, Const(np.array([[3, 3, 0], [1, 1, 1]])), src[:, :3])


def test_scatter_add_known_values():
    out = sj.zeros(3).scatter_add(0, sj.tensor([0, 2, 0, 0]), sj.tensor([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(np_of(out), [8.0, 0.0, 2.0])


def test_index_add_with_duplicates():
    index = Const(np.array([2, 0, 2]))
    src = np.random.default_rng(8).standard_normal((3, 4))
    check_op(lambda x, i, s: x.index_add(0, i, s), lambda x, i, s: x.index_add(0, i, s), M, index, src)
    check_op(lambda x, i, s: x.index_add(1, i, s, alpha=2.0), lambda x, i, s: x.index_add(1, i, s, alpha=2.0),
             M, index, src[:, :3])
    check_op(lambda x, i, s: sj.index_add(x, -1, i, s), lambda x, i, s: torch.index_add(x, -1, i, s),
             M, Const(np.array([3, 3])), src[:, :2])


def test_index_select_with_repeats():
    index = Const(np.array([2, 0, 2, 2]))
    check_op(lambda x, i: x.index_select(0, i), lambda x, i: x.index_select(0, i), M, index)
    check_op(lambda x, i: x.index_select(1, i), lambda x, i: x.index_select(1, i), M, Const(np.array([3, 1])))
    check_op(lambda x, i: sj.index_select(x, -1, i), lambda x, i: torch.index_select(x, -1, i), M, index)


MASKED_FILL = {
    "full mask": np.random.default_rng(9).random((3, 4)) < 0.5,
    "broadcast row mask": np.array([[True, False, False, True]]),
    "broadcast column mask": np.array([[False], [True], [False]]),
    "none masked": np.zeros((3, 4), dtype=bool),
}


@pytest.mark.parametrize("name", list(MASKED_FILL))
def test_masked_fill(name):
    mask = Const(MASKED_FILL[name])
    check_op(lambda x, m: x.masked_fill(m, 0.5), lambda x, m: x.masked_fill(m, 0.5), M, mask)
    check_op(lambda x, m: sj.masked_fill(x, m, -2.0), lambda x, m: torch.masked_fill(x, m, -2.0), M, mask)


def test_masked_fill_minus_infinity_then_softmax():
    mask = Const(np.array([[False, True, True, False], [False, False, False, True], [True, False, True, False]]))
    fn_sj = lambda x, m: sj.softmax(x.masked_fill(m, float("-inf")), dim=-1)  # noqa: E731
    fn_torch = lambda x, m: torch.softmax(x.masked_fill(m, float("-inf")), dim=-1)  # noqa: E731
    check_op(fn_sj, fn_torch, M, mask)


def test_masked_fill_with_comparison_mask_and_inplace():
    check_op(lambda x: x.masked_fill(x < 0, 0.0), lambda x: x.masked_fill(x < 0, 0.0), M)
    t, r = sj.tensor(M.copy()), torch.tensor(M.copy())
    out = t.masked_fill_(t > 0.5, 9.0)
    r.masked_fill_(r > 0.5, 9.0)
    assert out is t
    np.testing.assert_array_equal(np_of(t), r.numpy())


# ----------------------------------------------------------------------------------------------
# __setitem__
# ----------------------------------------------------------------------------------------------

SETITEMS = {
    "x[0] = 0": lambda lib, x: x.__setitem__(0, 0.0),
    "x[:, 1] = tensor": lambda lib, x: x.__setitem__((slice(None), 1), lib.tensor([7.0, 8.0, 9.0], dtype=x.dtype)),
    "x[1:, ::2] = scalar": lambda lib, x: x.__setitem__((slice(1, None), slice(None, None, 2)), -1.0),
    "x[mask] = 5": lambda lib, x: x.__setitem__(x > 0.5, 5.0),
    "x[[0, 2]] = row (broadcast)": lambda lib, x: x.__setitem__([0, 2], lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=x.dtype)),
    "x[..., -1] = column": lambda lib, x: x.__setitem__((Ellipsis, -1), lib.tensor([[1.0], [2.0], [3.0]], dtype=x.dtype)[:, 0]),
    "x[1, 2] = scalar": lambda lib, x: x.__setitem__((1, 2), 42.0),
    "x[:] = tensor": lambda lib, x: x.__setitem__(slice(None), lib.zeros(4, dtype=x.dtype)),
}


@pytest.mark.parametrize("name", list(SETITEMS))
def test_setitem_under_no_grad_on_leaf(name):
    x_sj = sj.tensor(M.copy(), requires_grad=True)
    x_torch = torch.tensor(M.copy(), requires_grad=True)
    with sj.no_grad():
        SETITEMS[name](sj, x_sj)
    with torch.no_grad():
        SETITEMS[name](torch, x_torch)
    np.testing.assert_array_equal(np_of(x_sj), x_torch.detach().numpy())
    assert x_sj.requires_grad and x_sj.is_leaf
    assert x_sj.grad is None


def test_setitem_on_plain_tensor():
    a = np.arange(12.0).reshape(3, 4)
    t, r = sj.tensor(a.copy()), torch.tensor(a.copy())
    t[1] = 0.0
    t[:, [0, 3]] = -1.0
    t[t > 9] = 99.0
    r[1] = 0.0
    r[:, [0, 3]] = -1.0
    r[r > 9] = 99.0
    np.testing.assert_array_equal(np_of(t), r.numpy())


def test_setitem_on_leaf_requiring_grad_raises():
    x = sj.tensor(M.copy(), requires_grad=True)
    with pytest.raises(RuntimeError):
        x[0] = 1.0


def test_setitem_after_no_grad_keeps_later_gradients_correct():
    x = sj.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with sj.no_grad():
        x[1] = 10.0
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0, 6.0])


def _assign_slice(x, v):
    y = x * 1.0
    y[1:3, ::2] = v
    return y * y


def _assign_broadcast_row(x, v):
    y = x + 0.0
    y[:, 1] = v  # v has shape (3,)
    return y.exp()


def _assign_rows_by_list(x, v):
    y = x * 2.0
    y[[0, 2]] = v  # v has shape (4,), broadcast over the two rows
    return y


def _assign_scalar_then_tensor(x, v):
    y = x * 3.0
    y[0, 0] = 1.0
    y[2] = v * v
    return y.sum(0)


def _assign_mask(x, v):
    y = x - 1.0
    y[x > 0] = 0.0
    return y * v[0]


def _assign_then_reuse_original(x, v):
    y = x.tanh()
    z = y * 2.0  # mul by a scalar saves nothing from y
    z[1] = v
    return z + x


SETITEM_GRADS = {
    "slice with step": (_assign_slice, (2, 2)),
    "column broadcast": (_assign_broadcast_row, (3,)),
    "rows by list": (_assign_rows_by_list, (4,)),
    "scalar then tensor": (_assign_scalar_then_tensor, (4,)),
    "boolean mask": (_assign_mask, (1,)),
    "then reuse original": (_assign_then_reuse_original, (4,)),
}


@pytest.mark.parametrize("name", list(SETITEM_GRADS))
def test_setitem_on_non_leaf_gradient_flows_to_both(name):
    fn, v_shape = SETITEM_GRADS[name]
    v = np.random.default_rng(10).standard_normal(v_shape)
    check_op(fn, fn, M, v)


def test_setitem_non_leaf_known_gradient():
    x = sj.tensor(np.array([1.0, 2.0, 3.0, 4.0]), requires_grad=True)
    v = sj.tensor(np.array([10.0, 20.0]), requires_grad=True)
    y = x * 2
    y[1:3] = v
    (y * sj.tensor(np.array([1.0, 2.0, 3.0, 4.0]))).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 0.0, 8.0])
    np.testing.assert_allclose(v.grad.numpy(), [2.0, 3.0])
