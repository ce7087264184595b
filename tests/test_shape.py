"""Shape ops: reshape view flatten unflatten squeeze unsqueeze transpose permute t T expand repeat
contiguous split chunk cat stack view_as; values, shapes and gradients compared with PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shenjing as sj
from helpers import Const, check_op


def np_of(t):
    return t.detach().numpy()


def lib_of(t):
    return torch if isinstance(t, torch.Tensor) else sj


def both(fn):
    """fn(lib, *tensors) -> (shenjing version, torch version) for check_op."""
    return (lambda *a: fn(sj, *a)), (lambda *a: fn(torch, *a))


X = np.random.default_rng(0).standard_normal((2, 3, 4))

UNARY_SHAPE_OPS = {
    # reshape / view
    "reshape(6, 4)": lambda lib, x: x.reshape(6, 4),
    "reshape((4, -1))": lambda lib, x: x.reshape((4, -1)),
    "reshape(-1)": lambda lib, x: x.reshape(-1),
    "reshape(2, -1, 2)": lambda lib, x: x.reshape(2, -1, 2),
    "reshape to 1x24x1": lambda lib, x: x.reshape(1, 24, 1),
    "lib.reshape": lambda lib, x: lib.reshape(x, (3, 8)),
    "view(6, 4)": lambda lib, x: x.view(6, 4),
    "view(-1, 12)": lambda lib, x: x.view(-1, 12),
    "view((24,))": lambda lib, x: x.view((24,)),
    "view(2, 3, 2, 2)": lambda lib, x: x.view(2, 3, 2, 2),
    # flatten / unflatten
    "flatten()": lambda lib, x: x.flatten(),
    "flatten(1)": lambda lib, x: x.flatten(1),
    "flatten(0, 1)": lambda lib, x: x.flatten(0, 1),
    "flatten(-2, -1)": lambda lib, x: x.flatten(-2, -1),
    "flatten(start_dim=1, end_dim=1)": lambda lib, x: x.flatten(start_dim=1, end_dim=1),
    "lib.flatten(x, 1)": lambda lib, x: lib.flatten(x, 1),
    "unflatten(2, (2, 2))": lambda lib, x: x.unflatten(2, (2, 2)),
    "unflatten(-1, (2, -1))": lambda lib, x: x.unflatten(-1, (2, -1)),
    "unflatten(1, (3, 1))": lambda lib, x: x.unflatten(1, (3, 1)),
    # unsqueeze
    "unsqueeze(0)": lambda lib, x: x.unsqueeze(0),
    "unsqueeze(3)": lambda lib, x: x.unsqueeze(3),
    "unsqueeze(-1)": lambda lib, x: x.unsqueeze(-1),
    "unsqueeze(-2)": lambda lib, x: x.unsqueeze(-2),
    "lib.unsqueeze(x, 1)": lambda lib, x: lib.unsqueeze(x, 1),
    # transpose / permute / t
    "transpose(0, 2)": lambda lib, x: x.transpose(0, 2),
    "transpose(-1, -2)": lambda lib, x: x.transpose(-1, -2),
    "transpose(1, 1)": lambda lib, x: x.transpose(1, 1),
    "lib.transpose(x, 0, 1)": lambda lib, x: lib.transpose(x, 0, 1),
    "permute(2, 0, 1)": lambda lib, x: x.permute(2, 0, 1),
    "permute((1, 2, 0))": lambda lib, x: x.permute((1, 2, 0)),
    "permute(-1, 0, 1)": lambda lib, x: x.permute(-1, 0, 1),
    "lib.permute(x, (2, 1, 0))": lambda lib, x: lib.permute(x, (2, 1, 0)),
    # contiguous
    "transpose().contiguous()": lambda lib, x: x.transpose(0, 2).contiguous(),
    "permute then reshape": lambda lib, x: x.permute(2, 0, 1).reshape(4, 6),
    "transpose().contiguous().view(-1)": lambda lib, x: x.transpose(1, 2).contiguous().view(-1),
    "transpose then view of last dims": lambda lib, x: x.transpose(0, 1).view(3, 2, 2, 2),
}


@pytest.mark.parametrize("name", list(UNARY_SHAPE_OPS))
def test_shape_op(name):
    check_op(*both(UNARY_SHAPE_OPS[name]), X)


SQUEEZE_OPS = {
    "squeeze()": lambda lib, x: x.squeeze(),
    "squeeze(0)": lambda lib, x: x.squeeze(0),
    "squeeze(2)": lambda lib, x: x.squeeze(2),
    "squeeze(-1)": lambda lib, x: x.squeeze(-1),
    "squeeze(1) non-1 size is a no-op": lambda lib, x: x.squeeze(1),
    "squeeze((0, 2))": lambda lib, x: x.squeeze((0, 2)),
    "squeeze((0, 1)) mixed sizes": lambda lib, x: x.squeeze((0, 1)),
    "squeeze(dim=-3)": lambda lib, x: x.squeeze(dim=-3),
    "lib.squeeze(x)": lambda lib, x: lib.squeeze(x),
    "lib.squeeze(x, 2)": lambda lib, x: lib.squeeze(x, 2),
}


@pytest.mark.parametrize("name", list(SQUEEZE_OPS))
def test_squeeze(name):
    x = np.random.default_rng(1).standard_normal((1, 3, 1, 2, 1))
    check_op(*both(SQUEEZE_OPS[name]), x)


def test_squeeze_all_ones_gives_zero_dim():
    check_op(*both(lambda lib, x: x.squeeze()), np.array([[[2.5]]]))
    assert tuple(sj.tensor(np.ones((1, 1))).squeeze().shape) == ()


def test_unsqueeze_zero_dim():
    check_op(*both(lambda lib, x: x.unsqueeze(0)), np.array(1.5))
    check_op(*both(lambda lib, x: x.unsqueeze(-1)), np.array(1.5))


@pytest.mark.parametrize("name", ["t()", "T", "lib.t", "t() of 1-D", "T of 3-D permute"])
def test_t_and_T(name):
    fns = {
        "t()": (lambda lib, x: x.t(), (3, 4)),
        "T": (lambda lib, x: x.T, (3, 4)),
        "lib.t": (lambda lib, x: lib.t(x), (2, 5)),
        "t() of 1-D": (lambda lib, x: x.t(), (4,)),
        "T of 3-D permute": (lambda lib, x: x.permute(2, 1, 0), (2, 3, 4)),
    }
    fn, shape = fns[name]
    check_op(*both(fn), np.random.default_rng(2).standard_normal(shape))


def test_t_rejects_3d():
    with pytest.raises(RuntimeError):
        torch.ones(2, 3, 4).t()
    with pytest.raises(RuntimeError):
        sj.ones(2, 3, 4).t()


def test_shape_op_results_share_values_with_transposed_layout():
    a = np.arange(12.0).reshape(3, 4)
    t = sj.tensor(a)
    np.testing.assert_array_equal(np_of(t.t()), a.T)
    np.testing.assert_array_equal(np_of(t.t().reshape(-1)), a.T.reshape(-1))
    np.testing.assert_array_equal(np_of(t.permute(1, 0).flatten()), a.T.flatten())


# ----------------------------------------------------------------------------------------------
# view on non-contiguous tensors
# ----------------------------------------------------------------------------------------------

def test_view_of_transposed_tensor_raises_like_torch():
    with pytest.raises(RuntimeError):
        torch.ones(3, 4).t().view(-1)
    with pytest.raises(RuntimeError):
        sj.ones(3, 4).t().view(-1)
    with pytest.raises(RuntimeError):
        sj.tensor(np.arange(24.0).reshape(2, 3, 4)).permute(1, 0, 2).view(6, 4)


def test_reshape_of_transposed_tensor_works():
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(np_of(sj.tensor(a).t().reshape(-1)), torch.tensor(a).t().reshape(-1).numpy())


def test_is_contiguous():
    t = sj.ones(3, 4)
    assert t.is_contiguous()
    assert not t.t().is_contiguous()
    assert t.t().contiguous().is_contiguous()


@pytest.mark.parametrize("bad", [(5, 5), (7, -1), (-1, -1)])
def test_reshape_with_incompatible_size_raises(bad):
    with pytest.raises(RuntimeError):
        torch.ones(2, 3, 4).reshape(*bad)
    with pytest.raises(RuntimeError):
        sj.ones(2, 3, 4).reshape(*bad)


# ----------------------------------------------------------------------------------------------
# expand / expand_as / repeat
# ----------------------------------------------------------------------------------------------

EXPAND_OPS = {
    "expand(3, 4)": lambda lib, x: x.expand(3, 4),
    "expand(-1, 4)": lambda lib, x: x.expand(-1, 4),
    "expand(2, 3, 4) new leading dim": lambda lib, x: x.expand(2, 3, 4),
    "expand((2, -1, 5))": lambda lib, x: x.expand((2, -1, 5)),
    "expand same shape": lambda lib, x: x.expand(3, 1),
    "expand then arithmetic": lambda lib, x: x.expand(3, 4) * lib.arange(4.0, dtype=x.dtype),
}


@pytest.mark.parametrize("name", list(EXPAND_OPS))
def test_expand(name):
    check_op(*both(EXPAND_OPS[name]), np.random.default_rng(3).standard_normal((3, 1)))


def test_expand_as():
    rng = np.random.default_rng(4)
    other = rng.standard_normal((2, 3, 4))
    check_op(lambda x, o: x.expand_as(o), lambda x, o: x.expand_as(o), rng.standard_normal((3, 1)), Const(other))
    check_op(lambda x, o: x.expand_as(o) + o, lambda x, o: x.expand_as(o) + o, rng.standard_normal((1, 4)), other)


def test_expand_of_non_singleton_dim_raises():
    with pytest.raises(RuntimeError):
        torch.ones(3, 2).expand(3, 4)
    with pytest.raises(RuntimeError):
        sj.ones(3, 2).expand(3, 4)


REPEAT_OPS = {
    "repeat(2, 1)": lambda lib, x: x.repeat(2, 1),
    "repeat(1, 3)": lambda lib, x: x.repeat(1, 3),
    "repeat(2, 2, 3) new leading dim": lambda lib, x: x.repeat(2, 2, 3),
    "repeat((3, 2))": lambda lib, x: x.repeat((3, 2)),
    "repeat(1, 1)": lambda lib, x: x.repeat(1, 1),
}


@pytest.mark.parametrize("name", list(REPEAT_OPS))
def test_repeat(name):
    check_op(*both(REPEAT_OPS[name]), np.random.default_rng(5).standard_normal((2, 3)))


def test_repeat_tiles_like_torch_not_like_numpy_repeat():
    a = np.array([1.0, 2.0])
    np.testing.assert_array_equal(np_of(sj.tensor(a).repeat(3)), [1.0, 2.0, 1.0, 2.0, 1.0, 2.0])


# ----------------------------------------------------------------------------------------------
# split / chunk
# ----------------------------------------------------------------------------------------------

Y = np.random.default_rng(6).standard_normal((3, 5))

SPLITS = {
    "split(2, dim=1)": lambda lib, x: x.split(2, dim=1),
    "split(2) dim 0": lambda lib, x: x.split(2),
    "split([1, 3, 1], dim=1)": lambda lib, x: x.split([1, 3, 1], dim=1),
    "split([2, 1]) dim 0": lambda lib, x: x.split([2, 1]),
    "split(5, dim=-1) single piece": lambda lib, x: x.split(5, dim=-1),
    "lib.split(x, 2, 1)": lambda lib, x: lib.split(x, 2, 1),
    "lib.split(x, [4, 1], dim=-1)": lambda lib, x: lib.split(x, [4, 1], dim=-1),
    "chunk(3, dim=1)": lambda lib, x: x.chunk(3, dim=1),
    "chunk(2)": lambda lib, x: x.chunk(2),
    "chunk(4, dim=1) gives 3 pieces": lambda lib, x: x.chunk(4, dim=1),
    "chunk(5, dim=-1)": lambda lib, x: x.chunk(5, dim=-1),
    "lib.chunk(x, 2, 1)": lambda lib, x: lib.chunk(x, 2, 1),
}


@pytest.mark.parametrize("name", list(SPLITS))
def test_split_chunk_pieces(name):
    fn = SPLITS[name]
    pieces = fn(sj, sj.tensor(Y))
    ref = fn(torch, torch.tensor(Y))
    assert len(pieces) == len(ref)
    for p, r in zip(pieces, ref):
        assert tuple(p.shape) == tuple(r.shape)
        np.testing.assert_array_equal(np_of(p), r.numpy())


@pytest.mark.parametrize("name", list(SPLITS))
def test_split_chunk_gradient(name):
    fn = SPLITS[name]

    def weighted(lib, x):
        # weight each piece differently so that a gradient routed to the wrong place shows
        return lib.cat([(p * (i + 1)).flatten() for i, p in enumerate(fn(lib, x))])

    check_op(*both(weighted), Y)


def test_split_gradient_with_unused_pieces():
    fn = lambda lib, x: x.split([1, 3, 1], dim=1)[1] * 2  # noqa: E731
    check_op(*both(fn), Y)


def test_chunk_of_six_into_four_gives_three_chunks():
    pieces = sj.arange(6).chunk(4)
    assert [tuple(p.shape) for p in pieces] == [(2,), (2,), (2,)]


# ----------------------------------------------------------------------------------------------
# cat / stack
# ----------------------------------------------------------------------------------------------

CATS = {
    "cat dim 0": (lambda lib, a, b, c: lib.cat([a, b, c]), [(1, 3), (2, 3), (1, 3)]),
    "cat dim 1": (lambda lib, a, b, c: lib.cat([a, b, c], dim=1), [(2, 1), (2, 3), (2, 2)]),
    "cat dim -1": (lambda lib, a, b, c: lib.cat([a, b, c], dim=-1), [(2, 2, 1), (2, 2, 3), (2, 2, 2)]),
    "cat dim -2": (lambda lib, a, b, c: lib.cat((a, b, c), -2), [(2, 1, 3), (2, 2, 3), (2, 1, 3)]),
    "cat tuple positional": (lambda lib, a, b, c: lib.cat((a, b, c), 1), [(2, 1), (2, 1), (2, 1)]),
    "cat same tensor twice": (lambda lib, a, b, c: lib.cat([a, b, a], dim=0) * c, [(2, 3), (1, 3), (5, 1)]),
    "stack dim 0": (lambda lib, a, b, c: lib.stack([a, b, c]), [(2, 3)] * 3),
    "stack dim 1": (lambda lib, a, b, c: lib.stack([a, b, c], dim=1), [(2, 3)] * 3),
    "stack dim -1": (lambda lib, a, b, c: lib.stack((a, b, c), dim=-1), [(2, 3)] * 3),
    "stack dim 2 (new last)": (lambda lib, a, b, c: lib.stack([a, b, c], 2), [(2, 3)] * 3),
    "stack 0-dim": (lambda lib, a, b, c: lib.stack([a, b, c]), [()] * 3),
}


@pytest.mark.parametrize("name", list(CATS))
def test_cat_stack(name):
    fn, shapes = CATS[name]
    rng = np.random.default_rng(7)
    check_op(*both(fn), *[rng.standard_normal(s) for s in shapes])


def test_cat_single_tensor():
    check_op(*both(lambda lib, a: lib.cat([a], dim=0)), np.random.default_rng(8).standard_normal((2, 3)))


def test_cat_mismatched_shapes_raise():
    with pytest.raises(RuntimeError):
        torch.cat([torch.ones(2, 3), torch.ones(2, 4)], dim=0)
    with pytest.raises(RuntimeError):
        sj.cat([sj.ones(2, 3), sj.ones(2, 4)], dim=0)


def test_stack_mismatched_shapes_raise():
    with pytest.raises(RuntimeError):
        torch.stack([torch.ones(2, 3), torch.ones(3, 2)])
    with pytest.raises(RuntimeError):
        sj.stack([sj.ones(2, 3), sj.ones(3, 2)])


def test_cat_mixed_dtypes_promotes_like_torch():
    a32, a64 = np.ones((1, 2), dtype=np.float32), np.ones((1, 2), dtype=np.float64)
    out, ref = sj.cat([sj.tensor(a32), sj.tensor(a64)]), torch.cat([torch.tensor(a32), torch.tensor(a64)])
    assert str(out.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]


# ----------------------------------------------------------------------------------------------
# view_as and chains
# ----------------------------------------------------------------------------------------------

def test_view_as():
    rng = np.random.default_rng(9)
    check_op(lambda x, o: x.view_as(o) * o, lambda x, o: x.view_as(o) * o,
             rng.standard_normal((2, 6)), rng.standard_normal((3, 4)))
    check_op(lambda x, o: x.reshape_as(o), lambda x, o: x.reshape_as(o),
             rng.standard_normal((2, 6)), Const(rng.standard_normal((4, 3))))
    check_op(lambda x, o: x.view_as(o), lambda x, o: x.view_as(o),
             rng.standard_normal((2, 6)), Const(rng.standard_normal((12,))))


def test_chain_of_shape_ops():
    fn = lambda lib, x: (x.permute(1, 0, 2).reshape(3, -1).unsqueeze(0).expand(2, -1, -1)  # noqa: E731
                         .transpose(0, 2).flatten(1).sum(1))
    check_op(*both(fn), X)


def test_shape_op_does_not_change_input():
    a = np.arange(6.0).reshape(2, 3)
    t = sj.tensor(a)
    t.reshape(3, 2)
    t.t()
    t.unsqueeze(0)
    t.permute(1, 0)
    assert tuple(t.shape) == (2, 3)
    np.testing.assert_array_equal(np_of(t), a)


def test_size_and_dim():
    t = sj.ones(2, 3, 4)
    assert t.size() == (2, 3, 4)
    assert t.size(1) == 3
    assert t.size(-1) == 4
    assert t.dim() == 3 and t.ndim == 3
    assert t.numel() == 24
