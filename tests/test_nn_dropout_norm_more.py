"""RMSNorm / rms_norm, Dropout3d, AlphaDropout, FeatureAlphaDropout and the *_with_indices pooling
functions against PyTorch 2.13 (values and gradients where deterministic; statistics of the masks)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import check_module, check_op
from shenjing import nn

RNG = np.random.default_rng(53)


@pytest.mark.parametrize("shape, normalized", [((3, 4), (4,)), ((2, 3, 4), (3, 4)), ((5,), (5,))])
def test_rms_norm_matches_torch(shape, normalized):
    x, w = RNG.standard_normal(shape), RNG.standard_normal(normalized)
    check_op(lambda x, w: F.rms_norm(x, normalized, w), lambda x, w: TF.rms_norm(x, normalized, w), x, w)
    check_op(lambda x: F.rms_norm(x, normalized, eps=0.1), lambda x: TF.rms_norm(x, normalized, eps=0.1), x)


@pytest.mark.parametrize("args, kwargs", [((4,), {}), (((3, 4),), {"eps": 1e-3}),
                                          ((4,), {"elementwise_affine": False})])
def test_rms_norm_layer_matches_torch(args, kwargs):
    layer = check_module(nn.RMSNorm(*args, **kwargs), torch.nn.RMSNorm(*args, **kwargs),
                         RNG.standard_normal((2, 3, 4)))
    assert repr(layer) == repr(torch.nn.RMSNorm(*args, **kwargs))
    assert list(layer.state_dict()) == list(torch.nn.RMSNorm(*args, **kwargs).state_dict())
    check_module(nn.RMSNorm(*args, **kwargs), torch.nn.RMSNorm(*args, **kwargs),
                 RNG.standard_normal((2, 3, 4)).astype(np.float32), dtype=np.float32)


def test_rms_norm_errors_like_torch():
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with shape \[\*4\]"):
        F.rms_norm(sj.randn(2, 3), (4,))


def test_dropout3d_drops_whole_channels():
    y = F.dropout3d(sj.ones(4, 16, 2, 2, 2), p=0.5).numpy()
    per_channel = y.reshape(4, 16, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert 0 < (per_channel[..., 0] == 0).sum() < 64
    layer = nn.Dropout3d(0.5)
    assert repr(layer) == repr(torch.nn.Dropout3d(0.5))
    assert layer.eval()(sj.ones(2, 2, 1, 1, 1)).numpy().tolist() == np.ones((2, 2, 1, 1, 1)).tolist()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = F.dropout3d(sj.ones(6, 5), p=0.5).numpy()  # taken as unbatched (C, L): one draw per row
    assert any("Received a 2-D input to dropout3d" in str(w.message) for w in caught)
    assert np.all((y == 0).all(1) | (y == 2).all(1))


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_alpha_dropout_keeps_mean_and_variance_and_matches_torch_s_values(p):
    sj.manual_seed(1)
    x = sj.randn(200000, dtype=sj.float64)
    y = F.alpha_dropout(x, p, training=True).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01
    # where an element is dropped it becomes the same constant as in torch's alpha dropout
    dropped_torch = TF.alpha_dropout(torch.full((1000,), 1e6, dtype=torch.float64), p, training=True).numpy()
    dropped_torch = np.unique(dropped_torch[np.abs(dropped_torch) < 1e3])
    dropped_ours = F.alpha_dropout(sj.full((1000,), 1e6, dtype=sj.float64), p, training=True).numpy()
    dropped_ours = np.unique(dropped_ours[np.abs(dropped_ours) < 1e3])
    np.testing.assert_allclose(dropped_ours, dropped_torch, rtol=1e-12)
    kept_torch = TF.alpha_dropout(torch.full((1000,), 2.0, dtype=torch.float64), p, training=True).numpy()
    kept_ours = F.alpha_dropout(sj.full((1000,), 2.0, dtype=sj.float64), p, training=True).numpy()
    np.testing.assert_allclose(np.unique(kept_ours), np.unique(kept_torch), rtol=1e-12)  # the two values


def test_alpha_dropout_gradient_is_the_kept_scale():
    x = sj.randn(1000, dtype=sj.float64, requires_grad=True)
    y = F.alpha_dropout(x, 0.3, training=True)
    y.sum().backward()
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.3 + 1) * 0.7)
    assert set(np.round(x.grad.numpy(), 12)) <= {0.0, round(a, 12)}


def test_feature_alpha_dropout_and_layers():
    y = F.feature_alpha_dropout(sj.randn(4, 8, 3, 3), 0.5, training=True).numpy()
    x = None
    assert y.shape == (4, 8, 3, 3)
    for name in ("AlphaDropout", "FeatureAlphaDropout"):
        assert repr(getattr(nn, name)(0.3)) == repr(getattr(torch.nn, name)(0.3))
        x = sj.randn(2, 3, 4)
        assert getattr(nn, name)(0.3).eval()(x) is x
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
        F.feature_alpha_dropout(sj.randn(3), 0.5, training=True)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        F.alpha_dropout(sj.randn(3), 1.5)


def test_pooling_with_indices_match_torch():
    x = RNG.standard_normal((2, 3, 6, 5))
    for ours, theirs, args in ((F.max_pool2d_with_indices, TF.max_pool2d_with_indices, (2,)),
                               (F.adaptive_max_pool2d_with_indices, TF.adaptive_max_pool2d_with_indices, ((3, 2),))):
        (y, i), (ty, ti) = ours(sj.tensor(x), *args), theirs(torch.tensor(x), *args)
        np.testing.assert_allclose(y.numpy(), ty.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
    x1 = x[:, :, 0]
    for ours, theirs, args in ((F.max_pool1d_with_indices, TF.max_pool1d_with_indices, (2,)),
                               (F.adaptive_max_pool1d_with_indices, TF.adaptive_max_pool1d_with_indices, (3,))):
        (y, i), (ty, ti) = ours(sj.tensor(x1), *args), theirs(torch.tensor(x1), *args)
        np.testing.assert_allclose(y.numpy(), ty.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
