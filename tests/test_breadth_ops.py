"""New ops of issue 18's breadth against PyTorch: scatter-like writes, strided views, products and
queries; values, gradients (float32, float64) and central differences."""

import numpy as np
import pytest
import torch

import shenjing as sj
from tests.helpers import Const, check_op, numerical_gradient

rng = np.random.default_rng(11)


def r(*shape):
    return rng.standard_normal(shape)


def central_differences(fn, *arrays):
    """The float64 gradient of sum(upstream * fn(...)) against central differences (where PyTorch's own
    gradient is wrong or missing)."""
    arrays = [a.astype(np.float64) for a in arrays]
    inputs = [sj.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    upstream = rng.standard_normal(tuple(out.shape))
    out.backward(sj.tensor(upstream))
    for i, x in enumerate(inputs):
        expected = numerical_gradient(fn, arrays, i, upstream)
        np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5, atol=1e-6, err_msg=f"input {i}")


def method(name, *args, **kwargs):
    return lambda x, *rest: getattr(x, name)(*(args + rest), **kwargs)


# -- writes ----------------------------------------------------------------------------------------

def test_index_fill_copy_put():
    index = Const([2, 0, -1])
    check_op(lambda x, i: x.index_fill(1, i, -3.0), lambda x, i: x.index_fill(1, i, -3.0), r(3, 4), index)
    check_op(lambda x, v: x.index_fill(0, sj.tensor([1]), v), lambda x, v: x.index_fill(0, torch.tensor([1]), v),
             r(3, 4), np.array(2.5))
    check_op(lambda x, s: x.index_copy(1, sj.tensor([3, 0]), s), lambda x, s: x.index_copy(1, torch.tensor([3, 0]), s),
             r(3, 4), r(3, 2))
    for accumulate in (False, True):
        check_op(lambda x, v: x.index_put((sj.tensor([0, 2, 0]), sj.tensor([1, 1, 1])), v, accumulate),
                 lambda x, v: x.index_put((torch.tensor([0, 2, 0]), torch.tensor([1, 1, 1])), v, accumulate),
                 r(3, 4), r(3), numeric=accumulate)
    check_op(lambda x, v: sj.index_put(x, (sj.tensor([True, False, True]),), v),
             lambda x, v: torch.index_put(x, (torch.tensor([True, False, True]),), v), r(3, 4), r(4))


def test_masked_scatter_and_put():
    mask = np.array([[True, False, True], [False, True, True]])
    check_op(lambda x, s: x.masked_scatter(sj.tensor(mask), s), lambda x, s: x.masked_scatter(torch.tensor(mask), s),
             r(2, 3), r(6))
    check_op(lambda x, s: x.masked_scatter(sj.tensor([True, False, True]), s),
             lambda x, s: x.masked_scatter(torch.tensor([True, False, True]), s), r(2, 3), r(2, 3))
    for accumulate in (False, True):
        check_op(lambda x, s: x.put(sj.tensor([[0, -1], [4, 0]]), s, accumulate),
                 lambda x, s: x.put(torch.tensor([[0, -1], [4, 0]]), s, accumulate), r(2, 3), r(2, 2),
                 numeric=accumulate)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(reduce, include_self):
    index = Const([[0, 1, 0, 3], [2, 2, 2, 0]])
    src = r(2, 4)
    src[0, 2] = src[0, 0]  # a tie at one position
    check_op(lambda x, s, i: x.scatter_reduce(1, i, s, reduce, include_self=include_self),
             lambda x, s, i: x.scatter_reduce(1, i, s, reduce, include_self=include_self), r(2, 5), src, index,
             numeric=reduce not in ("amax", "amin"))


def test_scatter_reduce_prod_with_zeros():
    x, src = r(2, 3), r(2, 3)
    x[0, 0] = 0.0
    src[1, 1] = 0.0
    src[1, 2] = 0.0
    index = Const([[0, 0, 1], [2, 2, 2]])
    for include_self in (True, False):
        check_op(lambda a, s, i: a.scatter_reduce(1, i, s, "prod", include_self=include_self),
                 lambda a, s, i: a.scatter_reduce(1, i, s, "prod", include_self=include_self), x, src, index)


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
def test_index_reduce(reduce):
    for include_self in (True, False):
        check_op(lambda x, s: x.index_reduce(0, sj.tensor([0, 2, 0]), s, reduce, include_self=include_self),
                 lambda x, s: x.index_reduce(0, torch.tensor([0, 2, 0]), s, reduce, include_self=include_self),
                 r(3, 2), r(3, 2), numeric=reduce in ("prod", "mean"))


def test_inplace_writes_match_torch():
    for name, args in [("index_fill_", (1, [0, 2], 7.0)), ("index_copy_", (0, [1, 0], r(2, 3))),
                       ("put_", ([0, 5], r(2))), ("index_put_", (([0, 1],), r(2, 3), True)),
                       ("scatter_reduce_", (0, [[0, 1, 1]], r(1, 3), "amax")),
                       ("index_reduce_", (0, [1], r(1, 3), "prod")),
                       ("masked_scatter_", ([[True, False, True], [False, False, True]], r(3)))]:
        data = r(2, 3)
        ours, theirs = sj.tensor(data), torch.tensor(data)

        def convert(lib, a):
            if isinstance(a, tuple):
                return tuple(convert(lib, x) for x in a)
            if isinstance(a, (list, np.ndarray)):
                return lib.tensor(a)
            return a
        assert getattr(ours, name)(*convert(sj, args)) is ours
        getattr(theirs, name)(*convert(torch, args))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, err_msg=name)


def test_scatter_views():
    check_op(lambda x, s: x.diagonal_scatter(s, 1), lambda x, s: x.diagonal_scatter(s, 1), r(3, 4), r(3))
    check_op(lambda x, s: sj.diagonal_scatter(x, s, 0, 1, 2), lambda x, s: torch.diagonal_scatter(x, s, 0, 1, 2),
             r(2, 3, 3), r(2, 3))
    check_op(lambda x, s: x.select_scatter(s, 1, -1), lambda x, s: x.select_scatter(s, 1, -1), r(3, 4), r(3))
    check_op(lambda x, s: x.slice_scatter(s, 1, 0, 4, 2), lambda x, s: x.slice_scatter(s, 1, 0, 4, 2), r(3, 5), r(3, 2))


@pytest.mark.parametrize("offset", [0, 1])
def test_as_strided_scatter(offset):
    """PyTorch 2.13's gradient of the input here is wrong (it keeps the upstream gradient only where src
    is written): values and src's gradient are checked against PyTorch, the input's against maths."""
    x, src = r(3, 3), r(2, 2)
    check_op(lambda s: sj.tensor(x, dtype=s.dtype).as_strided_scatter(s, (2, 2), (1, 3), offset),
             lambda s: torch.tensor(x, dtype=s.dtype).as_strided_scatter(s, (2, 2), (1, 3), offset), src)
    a = sj.tensor(x, requires_grad=True)
    upstream = np.arange(9.).reshape(3, 3)
    a.as_strided_scatter(sj.tensor(src), (2, 2), (1, 3), offset).backward(sj.tensor(upstream))
    written = np.zeros(9, bool)
    written[offset + np.array([0, 1, 3, 4])] = True
    np.testing.assert_array_equal(a.grad.numpy(), np.where(written, 0, upstream.reshape(-1)).reshape(3, 3))
    central_differences(lambda a, s: a.as_strided_scatter(s, (2, 2), (1, 3), offset), x, src)


def test_write_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="slice"):
        sj.zeros(3, 4).select_scatter(sj.zeros(3), 0, 0)
    with pytest.raises(IndexError, match="out of bounds"):
        sj.zeros(3).index_fill(0, sj.tensor([3]), 1.0)
    with pytest.raises(RuntimeError, match="at least 2 elements"):
        sj.zeros(2).masked_scatter(sj.tensor([True, True]), sj.zeros(1))
    with pytest.raises(RuntimeError, match="reduce argument"):
        sj.zeros(2).scatter_reduce(0, sj.tensor([0]), sj.zeros(1), "max")
    with pytest.raises(RuntimeError, match="same number of elements"):
        sj.zeros(4).put(sj.tensor([0, 1]), sj.zeros(3))


# -- strided views ---------------------------------------------------------------------------------

def test_as_strided_and_unfold_against_torch():
    check_op(method("as_strided", (2, 3), (1, 2)), method("as_strided", (2, 3), (1, 2)), r(2, 3))
    check_op(method("as_strided", (3, 2), (2, 1), 1), method("as_strided", (3, 2), (2, 1), 1), r(7))
    check_op(method("as_strided", (3, 3), (1, 1)), method("as_strided", (3, 3), (1, 1)), r(5))  # overlapping
    check_op(method("unfold", 1, 3, 2), method("unfold", 1, 3, 2), r(2, 7))
    check_op(method("unfold", 0, 2, 1), method("unfold", 0, 2, 1), r(4, 3))
    check_op(method("unfold", 0, 1, 1), method("unfold", 0, 1, 1), np.array(r(1)[0]))


def test_strided_views_share_memory_and_history():
    x = sj.arange(6.)
    view = x.as_strided((2, 2), (2, 1))
    view[0, 1] = 100.0
    assert x[1].item() == 100.0
    base = sj.zeros(6, requires_grad=True)
    y = base * 1
    y.unfold(0, 2, 2).mul_(3)  # non-overlapping windows: writable, and the write is recorded on y
    (y * sj.arange(6.)).sum().backward()
    np.testing.assert_allclose(base.grad.numpy(), 3 * np.arange(6.))
    with pytest.raises(RuntimeError, match="read-only"):
        sj.arange(5.).unfold(0, 3, 1).fill_(0)
    with pytest.raises(RuntimeError, match="out of bounds"):
        sj.arange(4.).as_strided((2, 2), (2, 2))
    with pytest.raises(RuntimeError, match="maximum size"):
        sj.arange(4.).unfold(0, 5, 1)


def test_empty_strided_and_permuted():
    for size, stride in [((2, 3), (1, 2)), ((2, 3, 4), (12, 1, 3))]:
        ours, theirs = sj.empty_strided(size, stride), torch.empty_strided(size, stride)
        assert ours.shape == theirs.shape and ours.stride() == theirs.stride()
    ours, theirs = sj.empty_permuted((2, 3, 4, 5), (0, 2, 3, 1)), torch.empty_permuted((2, 3, 4, 5), (0, 2, 3, 1))
    assert ours.shape == theirs.shape and ours.stride() == theirs.stride()
    assert sj.zeros(1).new_empty_strided((2, 2), (1, 2)).stride() == (1, 2)


# -- products and tables ---------------------------------------------------------------------------

def test_cross_vdot_chain_matmul_vander_combinations():
    check_op(lambda a, b: sj.cross(a, b, dim=1), lambda a, b: torch.cross(a, b, dim=1), r(2, 3), r(2, 3))
    check_op(lambda a, b: a.cross(b, 0), lambda a, b: a.cross(b, 0), r(3, 4), r(3, 4))
    with pytest.warns(UserWarning, match="without specifying the dim"):
        ours = sj.cross(sj.tensor(np.eye(3)), sj.tensor(np.ones((3, 3))))
    with pytest.warns(UserWarning):
        theirs = torch.cross(torch.tensor(np.eye(3)), torch.tensor(np.ones((3, 3))))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    check_op(lambda a, b: sj.vdot(a, b), lambda a, b: torch.vdot(a, b), r(4), r(4))
    check_op(lambda a, b: a.vdot(b), lambda a, b: a.vdot(b), r(4), r(4))
    with pytest.raises(RuntimeError, match="1D tensors expected"):
        sj.vdot(sj.zeros(2, 2), sj.zeros(2))
    with pytest.warns(UserWarning, match="deprecated"):
        check_op(lambda a, b, c: sj.chain_matmul(a, b, c), lambda a, b, c: torch.chain_matmul(a, b, c),
                 r(2, 3), r(3, 4), r(4, 2))
    for n, increasing in ((None, False), (4, True), (2, False)):  # (PyTorch 2.13's vander has no working backward)
        check_op(lambda x: sj.vander(x, n, increasing), lambda x: torch.vander(x, n, increasing), r(3), grad=False)
        central_differences(lambda x: sj.vander(x, n, increasing), r(3))
    assert sj.vander(sj.tensor([1, 2])).dtype == sj.int64
    np.testing.assert_array_equal(sj.vander(sj.tensor([2, 3]), 3).numpy(), torch.vander(torch.tensor([2, 3]), 3))
    for rr, replacement in ((2, False), (3, True), (1, False)):
        check_op(lambda x: sj.combinations(x, rr, replacement), lambda x: torch.combinations(x, rr, replacement),
                 r(4))
    assert tuple(sj.combinations(sj.tensor([1, 2]), 3).shape) == tuple(torch.combinations(torch.tensor([1, 2]), 3).shape)
    assert tuple(sj.combinations(sj.tensor([1, 2]), 0).shape) == (0,)


def test_tile_take_along_dim_moveaxis_swapdims_methods():
    check_op(method("tile", 2, 1, 2), method("tile", 2, 1, 2), r(2, 3))
    check_op(method("tile", (2,)), method("tile", (2,)), r(2, 3))
    idx = Const([[0, 2], [-1, 1]])
    check_op(lambda x, i: x.take_along_dim(i, 1), lambda x, i: x.take_along_dim(i, 1), r(2, 3), idx)
    check_op(lambda x: x.take_along_dim(sj.tensor([5, 0])), lambda x: x.take_along_dim(torch.tensor([5, 0])), r(2, 3))
    check_op(method("moveaxis", 0, 2), method("moveaxis", 0, 2), r(2, 3, 4))
    check_op(method("swapdims", 0, 1), method("swapdims", 0, 1), r(2, 3))


# -- queries ---------------------------------------------------------------------------------------

def test_queries_against_torch():
    data = np.array([[0, 1, 0], [2, 0, 3]])
    ours, theirs = sj.tensor(data), torch.tensor(data)
    np.testing.assert_array_equal(sj.argwhere(ours).numpy(), torch.argwhere(theirs).numpy())
    np.testing.assert_array_equal(ours.argwhere().numpy(), theirs.argwhere().numpy())
    for size, fill in ((2, -1), (5, 9)):
        np.testing.assert_array_equal(sj.nonzero_static(ours, size=size, fill_value=fill).numpy(),
                                      torch.nonzero_static(theirs, size=size, fill_value=fill).numpy())
    flat = [0, 5, 3, -1]
    for a, b in zip(sj.unravel_index(sj.tensor(flat), (2, 3)), torch.unravel_index(torch.tensor(flat), (2, 3))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(RuntimeError):
        sj.unravel_index(sj.tensor([6]), (2, 3))
    assert sj.is_nonzero(sj.tensor([1.5])) and not sj.is_nonzero(sj.tensor(0))
    with pytest.raises(RuntimeError, match="more than one value"):
        sj.is_nonzero(sj.tensor([1, 2]))
    assert sj.is_same_size(ours, sj.zeros(2, 3)) and not ours.is_same_size(sj.zeros(3, 2))
    for dtype in ("uint8", "int8", "bool", "float32"):
        assert sj.zeros(1, dtype=getattr(sj, dtype)).is_signed() == torch.zeros(1, dtype=getattr(torch, dtype)).is_signed()
    x = sj.tensor(r(5, 2), requires_grad=True)
    parts = sj.split_with_sizes(x, [2, 3])
    assert [tuple(p.shape) for p in parts] == [(2, 2), (3, 2)]
    with pytest.raises(RuntimeError, match="sum exactly"):
        x.split_with_sizes([2, 2])
    assert [tuple(p.shape) for p in x.unsafe_split(2)] == [(2, 2), (2, 2), (1, 2)]
    assert [tuple(p.shape) for p in sj.unsafe_chunk(x, 2, 1)] == [(5, 1), (5, 1)]
    assert [tuple(p.shape) for p in x.unsafe_split_with_sizes([1, 4])] == [(1, 2), (4, 2)]
