"""gumbel_softmax, conv_tbc, CrossMapLRN2d, SyncBatchNorm (single process) and the deprecated Container
against PyTorch 2.13."""

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

RNG = np.random.default_rng(97)


def test_gumbel_softmax_samples_the_categorical_distribution():
    sj.manual_seed(0)
    logits = sj.tensor([[0.0, 1.0, 2.0]]).expand(20000, 3)
    sample = F.gumbel_softmax(logits, tau=0.5, hard=True)
    frequencies = sample.numpy().mean(0)
    expected = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    np.testing.assert_allclose(frequencies, expected, atol=0.015)
    assert set(np.unique(sample.numpy())) == {0.0, 1.0}
    soft = F.gumbel_softmax(sj.zeros(4, 5), dim=0)
    np.testing.assert_allclose(soft.numpy().sum(0), np.ones(5), rtol=1e-6)


def test_gumbel_softmax_hard_has_the_soft_gradient():
    logits = sj.randn(3, 4, dtype=sj.float64, requires_grad=True)
    sj.manual_seed(5)
    hard = F.gumbel_softmax(logits, hard=True)
    weights = sj.randn(3, 4, dtype=sj.float64)
    (hard * weights).sum().backward()
    grad_hard = logits.grad.numpy().copy()
    logits.grad = None
    sj.manual_seed(5)
    (F.gumbel_softmax(logits) * weights).sum().backward()
    np.testing.assert_allclose(grad_hard, logits.grad.numpy(), rtol=1e-12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.gumbel_softmax(sj.zeros(2, 2), eps=1e-5)
    assert any("`eps` parameter is deprecated" in str(w.message) for w in caught)


@pytest.mark.parametrize("pad", [0, 1, 2])
def test_conv_tbc_matches_torch(pad):
    x, w, b = RNG.standard_normal((6, 2, 3)), RNG.standard_normal((3, 3, 4)), RNG.standard_normal(4)
    check_op(lambda x, w, b: F.conv_tbc(x, w, b, pad), lambda x, w, b: TF.conv_tbc(x, w, b, pad), x, w, b)


@pytest.mark.parametrize("size, channels", [(3, 7), (5, 6), (2, 4)])  # (size 1: torch's own backward fails)
def test_cross_map_lrn2d_matches_torch(size, channels):
    x = RNG.standard_normal((2, channels, 3, 2)) * 3
    # torch's hand-written backward is not the derivative of its forward (its windows differ), so the layer is
    # compared with torch (forward and gradient) and not with central differences
    layer = check_module(nn.CrossMapLRN2d(size, alpha=0.3, beta=0.6, k=1.5),
                         torch.nn.CrossMapLRN2d(size, alpha=0.3, beta=0.6, k=1.5), x)
    assert repr(layer) == repr(torch.nn.CrossMapLRN2d(size, alpha=0.3, beta=0.6, k=1.5))
    with pytest.raises(ValueError, match="CrossMapLRN2d: Expected input to be 4D, got 3D instead"):
        layer(sj.randn(2, 3, 4))


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 2, 2, 2)])
def test_sync_batch_norm_is_batch_norm_in_one_process(shape):
    layer = check_module(nn.SyncBatchNorm(3, momentum=0.3), torch.nn.SyncBatchNorm(3, momentum=0.3),
                         RNG.standard_normal(shape), steps=2)
    assert repr(layer) == repr(torch.nn.SyncBatchNorm(3, momentum=0.3))
    with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
        layer(sj.randn(3))


def test_convert_sync_batchnorm_like_torch():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.BatchNorm1d(4, affine=False)))
    weight = model[1].weight
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    theirs = torch.nn.SyncBatchNorm.convert_sync_batchnorm(torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Sequential(torch.nn.BatchNorm1d(4, affine=False))))
    assert repr(converted) == repr(theirs)
    assert converted[1].weight is weight
    assert list(converted.state_dict()) == list(theirs.state_dict())


def test_container_is_deprecated_like_torch():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = nn.Container(a=nn.ReLU(), b=nn.Linear(2, 3))
        theirs = torch.nn.Container(a=torch.nn.ReLU(), b=torch.nn.Linear(2, 3))
    assert sum("`nn.Container` is deprecated" in str(w.message) for w in caught) == 2
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
