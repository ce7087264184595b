"""Matrix products: matmul / @ in every rank combination, mm, bmm, dot, outer, broadcasting of batch dims."""

from __future__ import annotations

import operator

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import shenjing as sj
from helpers import assert_close, check_op


def np_of(t):
    return t.detach().numpy()


MATMUL_SHAPES = {
    "1d@1d": ((3,), (3,)),
    "1d@2d": ((3,), (3, 4)),
    "2d@1d": ((2, 3), (3,)),
    "2d@2d": ((2, 3), (3, 4)),
    "3d@3d batched": ((2, 3, 4), (2, 4, 2)),
    "4d@3d broadcast": ((2, 1, 3, 4), (5, 4, 2)),
    "3d@2d": ((2, 3, 4), (4, 2)),
    "2d@3d": ((3, 4), (2, 4, 2)),
    "3d@1d": ((2, 3, 4), (4,)),
    "1d@3d": ((3,), (2, 3, 4)),
    "batch dims 1 vs n": ((1, 2, 3), (4, 3, 2)),
    "1x1 matrices": ((1, 1), (1, 1)),
}


@pytest.mark.parametrize("case", list(MATMUL_SHAPES))
def test_matmul_operator(case):
    rng = np.random.default_rng(0)
    a_shape, b_shape = MATMUL_SHAPES[case]
    check_op(operator.matmul, operator.matmul, rng.standard_normal(a_shape), rng.standard_normal(b_shape))


@pytest.mark.parametrize("case", ["1d@1d", "2d@1d", "2d@2d", "4d@3d broadcast", "3d@1d"])
def test_matmul_function_and_method(case):
    rng = np.random.default_rng(1)
    a_shape, b_shape = MATMUL_SHAPES[case]
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    check_op(lambda x, y: sj.matmul(x, y), lambda x, y: torch.matmul(x, y), a, b)
    check_op(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), a, b)


def test_matmul_known_values_and_output_shapes():
    a = sj.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    b = sj.tensor(np.array([[5.0, 6.0], [7.0, 8.0]]))
    np.testing.assert_allclose(np_of(a @ b), [[19.0, 22.0], [43.0, 50.0]])
    v = sj.tensor(np.array([1.0, -1.0]))
    out = v @ v
    assert tuple(out.shape) == ()
    np.testing.assert_allclose(float(np_of(out)), 2.0)
    assert tuple((a @ v).shape) == (2,)
    assert tuple((v @ a).shape) == (2,)
    np.testing.assert_allclose(np_of(v @ a), [-2.0, -2.0])


def test_matmul_same_tensor_both_sides():
    x = np.random.default_rng(2).standard_normal((3, 3))
    check_op(lambda t: t @ t, lambda t: t @ t, x)
    check_op(lambda t: t @ t.T, lambda t: t @ t.T, np.random.default_rng(3).standard_normal((2, 3)))


def test_matmul_with_one_side_constant():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    t = sj.tensor(x, requires_grad=True)
    (t @ sj.tensor(w)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), np.ones((4, 2)) @ w.T)


def test_matmul_float32_stays_float32():
    a = sj.tensor(np.ones((2, 3), dtype=np.float32))
    b = sj.tensor(np.ones((3, 2), dtype=np.float32))
    assert (a @ b).dtype == sj.float32


def test_matmul_integer_tensors():
    a = np.array([[1, 2], [3, 4]], dtype=np.int64)
    b = np.array([[1], [-1]], dtype=np.int64)
    out, ref = sj.tensor(a) @ sj.tensor(b), torch.tensor(a) @ torch.tensor(b)
    assert out.dtype == sj.int64
    np.testing.assert_array_equal(np_of(out), ref.numpy())


@pytest.mark.parametrize("shapes", [((2, 3), (4, 2)), ((3,), (4,)), ((2, 3, 4), (3, 3, 2)), ((2, 3), (2,))])
def test_matmul_shape_mismatch_raises(shapes):
    a, b = np.ones(shapes[0]), np.ones(shapes[1])
    with pytest.raises(RuntimeError):
        torch.tensor(a) @ torch.tensor(b)
    with pytest.raises(RuntimeError):
        sj.tensor(a) @ sj.tensor(b)


def test_matmul_zero_dim_raises():
    with pytest.raises(RuntimeError):
        torch.tensor(2.0) @ torch.ones(2)
    with pytest.raises(RuntimeError):
        sj.tensor(2.0) @ sj.ones(2)


def test_mm():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    check_op(lambda x, y: sj.mm(x, y), lambda x, y: torch.mm(x, y), a, b)
    check_op(lambda x, y: x.mm(y), lambda x, y: x.mm(y), a, b)


def test_mm_rejects_non_matrices():
    with pytest.raises(RuntimeError):
        torch.mm(torch.ones(2, 3), torch.ones(3))
    with pytest.raises(RuntimeError):
        sj.mm(sj.ones(2, 3), sj.ones(3))


def test_bmm():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 4, 2))
    check_op(lambda x, y: sj.bmm(x, y), lambda x, y: torch.bmm(x, y), a, b)
    check_op(lambda x, y: x.bmm(y), lambda x, y: x.bmm(y), a, b)


def test_bmm_does_not_broadcast():
    with pytest.raises(RuntimeError):
        torch.bmm(torch.ones(1, 2, 3), torch.ones(4, 3, 2))
    with pytest.raises(RuntimeError):
        sj.bmm(sj.ones(1, 2, 3), sj.ones(4, 3, 2))


def test_dot():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    check_op(lambda x, y: sj.dot(x, y), lambda x, y: torch.dot(x, y), a, b)
    check_op(lambda x, y: x.dot(y), lambda x, y: x.dot(y), a, b)
    np.testing.assert_allclose(float(np_of(sj.dot(sj.tensor([1.0, 2.0]), sj.tensor([3.0, 4.0])))), 11.0)


def test_dot_rejects_matrices():
    with pytest.raises(RuntimeError):
        torch.dot(torch.ones(2, 2), torch.ones(2, 2))
    with pytest.raises(RuntimeError):
        sj.dot(sj.ones(2, 2), sj.ones(2, 2))


def test_outer():
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal(3), rng.standard_normal(4)
    check_op(lambda x, y: sj.outer(x, y), lambda x, y: torch.outer(x, y), a, b)
    check_op(lambda x, y: x.outer(y), lambda x, y: x.outer(y), a, b)


def test_linear_layer_composition():
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    fn = lambda x_, w_, b_: (x_ @ w_.t() + b_).tanh()  # noqa: E731
    check_op(fn, fn, x, w, b)


# ----------------------------------------------------------------------------------------------
# Property test: broadcastable batch shapes, including 1-D operands
# ----------------------------------------------------------------------------------------------

@st.composite
def matmul_shapes(draw):
    batch = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))

    def operand_batch():
        # drop some leading dims, turn some remaining dims into 1
        drop = draw(st.integers(0, len(batch)))
        return [1 if draw(st.booleans()) else size for size in batch[drop:]]

    a_vector = draw(st.integers(0, 4)) == 0
    b_vector = draw(st.integers(0, 4)) == 0
    a_shape = (k,) if a_vector else tuple(operand_batch()) + (n, k)
    b_shape = (k,) if b_vector else tuple(operand_batch()) + (k, m)
    return a_shape, b_shape, draw(st.integers(0, 2**31 - 1))


@settings(max_examples=25, deadline=None)
@given(case=matmul_shapes())
def test_property_matmul_broadcast_matches_torch(case):
    a_shape, b_shape, seed = case
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    a_sj, b_sj = sj.tensor(a, requires_grad=True), sj.tensor(b, requires_grad=True)
    a_t, b_t = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out_sj, out_t = a_sj @ b_sj, a_t @ b_t
    assert tuple(out_sj.shape) == tuple(out_t.shape)
    assert_close(np_of(out_sj), out_t.detach().numpy(), np.float64, "forward")
    upstream = rng.standard_normal(tuple(out_t.shape))
    out_sj.backward(sj.tensor(upstream))
    out_t.backward(torch.tensor(upstream))
    assert_close(a_sj.grad.numpy(), a_t.grad.numpy(), np.float64, "gradient of a")
    assert_close(b_sj.grad.numpy(), b_t.grad.numpy(), np.float64, "gradient of b")
