"""einsum, tensordot, kron, meshgrid, cdist, roll, rot90, repeat_interleave, the splits and stacks against
PyTorch: values and gradients (float32, float64), central differences in float64, PyTorch's errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import shenjing as sj
from helpers import check_op

RNG = np.random.default_rng(11)


def randn(*shape):
    return RNG.standard_normal(shape)


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("ji", [(2, 3)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 4)]),
    ("b...,b->...", [(2, 3, 4), (2,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("iij->j", [(2, 2, 3)]),
    ("i,i", [(4,), (4,)]),
])
def test_einsum_matches_torch(equation, shapes):
    arrays = [randn(*s) for s in shapes]
    check_op(lambda *t: sj.einsum(equation, *t), lambda *t: torch.einsum(equation, *t), *arrays)


def test_einsum_takes_a_list_and_names_bad_equations():
    a, b = randn(2, 3), randn(3, 2)
    np.testing.assert_allclose(sj.einsum("ij,jk", [sj.tensor(a), sj.tensor(b)]).numpy(), a @ b)
    with pytest.raises(RuntimeError, match="number of subscripts"):
        sj.einsum("ijk->i", sj.randn(2, 3))
    with pytest.raises(RuntimeError, match="more operands"):
        sj.einsum("ij->i", sj.randn(2, 3), sj.randn(2, 3))
    with pytest.raises(RuntimeError, match="output subscript"):
        sj.einsum("ij->k", sj.randn(2, 3))


@pytest.mark.parametrize("dims", [2, 1, 0, ([1, 0], [0, 1]), ([2], [0])])
def test_tensordot_matches_torch(dims):
    a = randn(3, 4, 2) if dims != ([1, 0], [0, 1]) else randn(3, 4)
    b = randn(4, 2, 3) if dims != ([1, 0], [0, 1]) else randn(4, 3)
    if dims == ([2], [0]):
        b = randn(2, 5)
    if dims == 2:
        b = randn(4, 2, 5)
    if dims == 1:
        b = randn(2, 5)
    check_op(lambda x, y: sj.tensordot(x, y, dims), lambda x, y: torch.tensordot(x, y, dims), a, b)


@pytest.mark.parametrize("shapes", [[(2, 3), (3, 2)], [(2,), (3,)], [(2, 2, 1), (3, 2)]])
def test_kron_matches_torch(shapes):
    check_op(sj.kron, torch.kron, randn(*shapes[0]), randn(*shapes[1]))


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_torch(indexing):
    def both(lib):
        def fn(x, y, z):
            return lib.stack(list(lib.meshgrid(x, y, z, indexing=indexing)), 0) * 1.0
        return fn
    check_op(both(sj), both(torch), randn(2), randn(3), randn(4))


def test_meshgrid_without_indexing_warns_as_torch():
    with pytest.warns(UserWarning, match="indexing argument"):
        xs, ys = sj.meshgrid(sj.arange(2), sj.arange(3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.meshgrid(torch.arange(2), torch.arange(3))
    np.testing.assert_array_equal(xs.numpy(), expected[0].numpy())


def test_cartesian_prod_and_block_diag_match_torch():
    check_op(lambda a, b: sj.cartesian_prod(a, b), lambda a, b: torch.cartesian_prod(a, b), randn(2), randn(3))
    check_op(lambda a, b, c: sj.block_diag(a, b, c), lambda a, b, c: torch.block_diag(a, b, c),
             randn(2, 2), randn(3), randn(1, 3))


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.0, float("inf")])
def test_cdist_matches_torch(p):
    check_op(lambda a, b: sj.cdist(a, b, p), lambda a, b: torch.cdist(a, b, p), randn(2, 4, 3), randn(2, 5, 3),
             numeric=p not in (0.0, float("inf")))


def test_cdist_gradient_is_zero_where_rows_coincide():
    a = randn(3, 2)
    ours, theirs = sj.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    sj.cdist(ours, ours).sum().backward()
    torch.cdist(theirs, theirs).sum().backward()
    assert np.all(np.isfinite(ours.grad.numpy()))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("shifts,dims", [(1, None), (-2, None), (1, 0), ((1, 2), (0, 1)), (5, -1)])
def test_roll_matches_torch(shifts, dims):
    check_op(lambda x: sj.roll(x, shifts, dims), lambda x: torch.roll(x, shifts, dims), randn(3, 4))


@pytest.mark.parametrize("k,dims", [(1, (0, 1)), (2, (0, 1)), (3, (0, 1)), (-1, (1, 2)), (0, (0, 2)), (5, (2, 0))])
def test_rot90_matches_torch(k, dims):
    check_op(lambda x: sj.rot90(x, k, dims), lambda x: torch.rot90(x, k, dims), randn(2, 3, 4))


def test_flips_match_torch():
    check_op(sj.fliplr, torch.fliplr, randn(2, 3))
    check_op(sj.flipud, torch.flipud, randn(2, 3))
    with pytest.raises(RuntimeError, match=">= 2-d"):
        sj.fliplr(sj.randn(3))


@pytest.mark.parametrize("repeats,dim", [(2, None), (2, 0), ([1, 0, 2], 1), (3, -1)])
def test_repeat_interleave_matches_torch(repeats, dim):
    check_op(lambda x: sj.repeat_interleave(x, repeats if isinstance(repeats, int) else sj.tensor(repeats), dim),
             lambda x: torch.repeat_interleave(x, repeats if isinstance(repeats, int) else torch.tensor(repeats), dim),
             randn(2, 3))


def test_repeat_interleave_of_counts_alone_matches_torch():
    counts = [2, 0, 3]
    np.testing.assert_array_equal(sj.repeat_interleave(sj.tensor(counts)).numpy(),
                                  torch.repeat_interleave(torch.tensor(counts)).numpy())


@pytest.mark.parametrize("spec,dim", [(3, 0), (4, 0), ([1, 4], 0), ([2, 2, 5], 0), ([-2], 0), (2, 1), ([4, 1], 0)])
def test_tensor_split_matches_torch(spec, dim):
    x = randn(7, 4)
    ours, theirs = sj.tensor_split(sj.tensor(x), spec, dim), torch.tensor_split(torch.tensor(x), spec, dim)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    check_op(lambda t: sj.cat(sj.tensor_split(t, spec, dim), dim) * 2,
             lambda t: torch.cat(torch.tensor_split(t, spec, dim), dim) * 2, x)


def test_hsplit_vsplit_dsplit_match_torch():
    x = randn(4, 6, 2)
    for name, spec in [("hsplit", 3), ("hsplit", [1, 4]), ("vsplit", 2), ("dsplit", 2), ("dsplit", [1])]:
        ours, theirs = getattr(sj, name)(sj.tensor(x), spec), getattr(torch, name)(torch.tensor(x), spec)
        assert [tuple(t.shape) for t in ours] == [tuple(t.shape) for t in theirs], name
    with pytest.raises(RuntimeError, match="not divisible"):
        sj.hsplit(sj.randn(4, 5), 2)
    with pytest.raises(RuntimeError, match="at least 3 dimensions"):
        sj.dsplit(sj.randn(4, 4), 2)


def test_atleast_and_stacks_match_torch():
    for name in ("atleast_1d", "atleast_2d", "atleast_3d"):
        for shape in [(), (3,), (2, 3), (2, 3, 4)]:
            x = randn(*shape)
            assert tuple(getattr(sj, name)(sj.tensor(x)).shape) == tuple(getattr(torch, name)(torch.tensor(x)).shape)
        ours = getattr(sj, name)(sj.tensor(randn(3)), sj.tensor(randn(2, 2)))
        theirs = getattr(torch, name)(torch.tensor(randn(3)), torch.tensor(randn(2, 2)))
        assert [tuple(t.shape) for t in ours] == [tuple(t.shape) for t in theirs]
    for name in ("dstack", "column_stack", "row_stack"):
        check_op(lambda a, b: getattr(sj, name)([a, b]), lambda a, b: getattr(torch, name)([a, b]), randn(3), randn(3))
        check_op(lambda a, b: getattr(sj, name)([a, b]), lambda a, b: getattr(torch, name)([a, b]),
                 randn(2, 3), randn(2, 3))


def test_ravel_take_and_narrow_copy_match_torch():
    check_op(sj.ravel, torch.ravel, randn(2, 3))
    index = np.array([[0, 5], [-1, 2]])
    check_op(lambda x: sj.take(x, sj.tensor(index)), lambda x: torch.take(x, torch.tensor(index)), randn(2, 3))
    with pytest.raises(IndexError, match="out of range"):
        sj.take(sj.randn(2, 3), sj.tensor([6]))
    x = sj.arange(6.0)
    copy = x.narrow_copy(0, 1, 3)
    copy.fill_(0)
    assert x.numpy().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
