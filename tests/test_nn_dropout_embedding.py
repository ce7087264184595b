"""Dropout (statistics, scaling, determinism, train/eval) and Embedding (lookup, gradients, padding)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import Const, check_module, check_op
from shenjing import nn

RNG = np.random.default_rng(11)

# ----------------------------------------------------------------------------------------------
# dropout
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest(p):
    sj.manual_seed(0)
    n = 200_000
    x = sj.full((n,), 3.0)
    y = F.dropout(x, p=p).numpy()
    zeroed = np.mean(y == 0)
    # binomial: standard deviation sqrt(p (1 - p) / n) < 0.0012; allow 5 of them
    assert abs(zeroed - p) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[y != 0], 3.0 / (1 - p), rtol=1e-6)
    assert abs(y.mean() - 3.0) < 5 * 3.0 * np.sqrt(p / (1 - p) / n)  # inverted dropout keeps the mean


def test_dropout_gradient_is_the_same_mask_and_scale():
    sj.manual_seed(1)
    x = sj.tensor(RNG.standard_normal((50, 40)), requires_grad=True)
    y = F.dropout(x, p=0.3)
    upstream = RNG.standard_normal((50, 40))
    y.backward(sj.tensor(upstream))
    kept = y.detach().numpy() != 0
    expected = np.where(kept, upstream / 0.7, 0.0)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(y.detach().numpy(), np.where(kept, x.detach().numpy() / 0.7, 0.0), rtol=1e-12)


def test_dropout_repeats_under_manual_seed():
    x = sj.ones(1000)
    sj.manual_seed(42)
    first = F.dropout(x, 0.5).numpy()
    second_draw = F.dropout(x, 0.5).numpy()
    sj.manual_seed(42)
    again = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second_draw)


def test_dropout_edge_probabilities_and_eval():
    x = sj.tensor(RNG.standard_normal((4, 5)), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    zero = F.dropout(x, 1.0)
    assert not zero.detach().numpy().any()
    zero.sum().backward()
    assert not x.grad.numpy().any()
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError, match="-0.1"):
        F.dropout(x, -0.1)


def test_dropout_keeps_dtype_and_inplace():
    x = sj.ones(100, dtype=sj.float64)
    assert F.dropout(x, 0.5).dtype == sj.float64
    sj.manual_seed(3)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x and set(np.unique(x.numpy())) <= {0.0, 2.0}


def _assert_whole_channels(y, scale, channel_dims):
    """Every channel is all zero or all ``scale`` (the input is ones)."""
    feature_axes = tuple(range(channel_dims, y.ndim))
    zero = (y == 0).all(axis=feature_axes)
    kept = np.isclose(y, scale).all(axis=feature_axes)
    assert np.all(zero | kept)
    return zero


def test_dropout2d_drops_whole_feature_maps_with_probability_p():
    sj.manual_seed(5)
    y = F.dropout2d(sj.ones(40, 50, 3, 3), p=0.3).numpy()
    zero = _assert_whole_channels(y, 1 / 0.7, 2)
    assert abs(zero.mean() - 0.3) < 5 * np.sqrt(0.3 * 0.7 / 2000)
    # unbatched (C, H, W) is not accepted as 3-D: like PyTorch 2.x it is read as (N, C, L), with a warning
    with pytest.warns(UserWarning, match="3D input"):
        y3 = F.dropout2d(sj.ones(4, 6, 5), p=0.5).numpy()
    _assert_whole_channels(y3, 2.0, 2)
    with pytest.raises(RuntimeError, match="expected 3-D or 4-D input"):
        F.dropout2d(sj.ones(2, 3), 0.5)


def test_dropout1d_drops_whole_channels():
    sj.manual_seed(6)
    _assert_whole_channels(F.dropout1d(sj.ones(8, 16, 5), p=0.5).numpy(), 2.0, 2)
    _assert_whole_channels(F.dropout1d(sj.ones(16, 5), p=0.5).numpy(), 2.0, 1)


def test_dropout_layers_train_and_eval():
    for layer_type in (nn.Dropout, nn.Dropout1d, nn.Dropout2d):
        layer = layer_type(p=0.4)
        x = sj.ones(4, 6, 5, 5) if layer_type is nn.Dropout2d else sj.ones(4, 6, 5)
        sj.manual_seed(9)
        y = layer(x).numpy()
        assert (y == 0).any() and np.isclose(y, 1 / 0.6).any()
        layer.eval()
        assert layer(x) is x
        assert repr(layer) == repr(getattr(torch.nn, layer_type.__name__)(p=0.4))
    assert repr(nn.Dropout()) == repr(torch.nn.Dropout())
    assert repr(nn.Dropout(0.2, inplace=True)) == repr(torch.nn.Dropout(0.2, inplace=True))
    for bad in (-0.5, 1.01, "0.5"):
        with pytest.raises(ValueError, match="dropout probability"):
            nn.Dropout(bad)


def test_dropout_in_a_model_repeats_under_manual_seed():
    model = nn.Sequential(nn.Linear(5, 20), nn.ReLU(), nn.Dropout(0.5), nn.Linear(20, 1))
    x = sj.randn(8, 5)
    sj.manual_seed(100)
    first = model(x).detach().numpy()
    sj.manual_seed(100)
    second = model(x).detach().numpy()
    np.testing.assert_array_equal(first, second)
    model.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), model(x).detach().numpy())


# ----------------------------------------------------------------------------------------------
# embedding
# ----------------------------------------------------------------------------------------------

INDICES = np.array([[1, 2, 2], [0, 4, 1]])


def test_embedding_matches_torch_with_repeated_indices():
    check_op(lambda w, i: F.embedding(i, w), lambda w, i: TF.embedding(i, w), RNG.standard_normal((5, 3)),
             Const(INDICES))
    check_op(lambda w, i: F.embedding(i, w), lambda w, i: TF.embedding(i, w), RNG.standard_normal((4, 2)),
             Const(np.array(3)))


@pytest.mark.parametrize("padding_idx", [1, -4])
def test_embedding_padding_row_gets_no_gradient_like_torch(padding_idx):
    # central differences would see the padding row's true derivative: compare with PyTorch only
    check_op(lambda w, i: F.embedding(i, w, padding_idx=padding_idx),
             lambda w, i: TF.embedding(i, w, padding_idx=padding_idx), RNG.standard_normal((5, 3)),
             Const(INDICES), numeric=False)
    weight = sj.tensor(RNG.standard_normal((5, 3)), requires_grad=True)
    F.embedding(sj.tensor(INDICES), weight, padding_idx=padding_idx).sum().backward()
    grad = weight.grad.numpy()
    assert not grad[1].any()
    np.testing.assert_array_equal(grad[2], [2.0, 2.0, 2.0])  # index 2 looked up twice
    np.testing.assert_array_equal(grad[3], [0.0, 0.0, 0.0])  # never looked up


def test_embedding_max_norm_renormalises_like_torch():
    weight = RNG.standard_normal((5, 3)) * 2
    w_sj, w_torch = sj.tensor(weight), torch.tensor(weight)
    out_sj = F.embedding(sj.tensor(INDICES), w_sj, max_norm=1.5)
    out_torch = TF.embedding(torch.tensor(INDICES), w_torch, max_norm=1.5)
    np.testing.assert_allclose(out_sj.numpy(), out_torch.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w_sj.numpy(), w_torch.numpy(), rtol=1e-12)  # rows rescaled in place
    assert np.linalg.norm(w_sj.numpy()[[0, 1, 2, 4]], axis=1).max() <= 1.5
    np.testing.assert_array_equal(w_sj.numpy()[3], weight[3])  # not looked up: untouched


def test_embedding_errors():
    weight = sj.randn(3, 2)
    with pytest.raises(IndexError, match="index out of range"):
        F.embedding(sj.tensor([0, 3]), weight)
    with pytest.raises(IndexError, match="index out of range"):
        F.embedding(sj.tensor([-1]), weight)
    with pytest.raises(RuntimeError, match="Long, Int; but got .*float32"):
        F.embedding(sj.tensor([1.0]), weight)
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(ValueError, match="embedding_dim"):
        nn.Embedding(3, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_layer_matches_torch(dtype):
    layer = check_module(nn.Embedding(6, 4, padding_idx=2), torch.nn.Embedding(6, 4, padding_idx=2),
                         np.array([[0, 2, 5], [2, 2, 1]]), dtype=dtype, steps=2)
    assert not layer.weight.grad.numpy()[2].any()
    check_module(nn.Embedding(6, 4), torch.nn.Embedding(6, 4), np.array([3, 3, 0]), dtype=dtype)


def test_embedding_layer_init_and_repr():
    sj.manual_seed(0)
    layer = nn.Embedding(500, 40, padding_idx=0)
    weight = layer.weight.detach().numpy()
    assert weight.shape == (500, 40) and layer.weight.dtype == sj.float32
    assert not weight[0].any()                     # the padding row starts at zero
    rest = weight[1:]
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1.0) < 0.02   # N(0, 1), 19,960 draws
    assert repr(layer) == repr(torch.nn.Embedding(500, 40, padding_idx=0))
    assert repr(nn.Embedding(4, 2, max_norm=1.0)) == repr(torch.nn.Embedding(4, 2, max_norm=1.0))
    assert repr(nn.Embedding(4, 2)) == repr(torch.nn.Embedding(4, 2))
    assert list(layer.state_dict()) == ["weight"]


def test_embedding_from_pretrained():
    table = sj.tensor([[0.0, 1.0], [2.0, 3.0]])
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    assert frozen(sj.tensor([1, 0])).tolist() == [[2.0, 3.0], [0.0, 1.0]]
    trainable = nn.Embedding.from_pretrained(table, freeze=False)
    trainable(sj.tensor([1])).sum().backward()
    assert trainable.weight.grad.tolist() == [[0.0, 0.0], [1.0, 1.0]]
