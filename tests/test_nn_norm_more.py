"""group_norm / instance_norm / local_response_norm and the GroupNorm, InstanceNorm1d/2d/3d and
LocalResponseNorm layers against PyTorch 2.13 (values, gradients, central differences, reprs, errors)."""

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

RNG = np.random.default_rng(18)


@pytest.mark.parametrize("shape, groups", [((2, 4, 3), 2), ((2, 6, 2, 2), 3), ((3, 4), 1), ((2, 4, 2, 1, 2), 4)])
def test_group_norm_matches_torch(shape, groups):
    x = RNG.standard_normal(shape) * 2 + 1
    w, b = RNG.standard_normal(shape[1]), RNG.standard_normal(shape[1])
    check_op(lambda x, w, b: F.group_norm(x, groups, w, b), lambda x, w, b: TF.group_norm(x, groups, w, b), x, w, b)
    check_op(lambda x: F.group_norm(x, groups, eps=1e-3), lambda x: TF.group_norm(x, groups, eps=1e-3), x)


def test_group_norm_errors_like_torch():
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(sj.randn(2, 6, 3), 4)
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)


@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_layer_matches_torch(affine):
    x = RNG.standard_normal((3, 6, 2, 2))
    check_module(nn.GroupNorm(3, 6, affine=affine), torch.nn.GroupNorm(3, 6, affine=affine), x)
    check_module(nn.GroupNorm(2, 6), torch.nn.GroupNorm(2, 6), x.astype(np.float32), dtype=np.float32)


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 2, 3, 3), (1, 2, 2, 2, 3)])
def test_instance_norm_matches_torch(shape):
    x = RNG.standard_normal(shape) * 3 - 1
    w, b = RNG.standard_normal(shape[1]), RNG.standard_normal(shape[1])
    check_op(lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
             lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
             x, w, b)


def test_instance_norm_running_stats_like_torch():
    x = RNG.standard_normal((3, 2, 5))
    mean_sj, var_sj = sj.zeros(2, dtype=sj.float64), sj.ones(2, dtype=sj.float64)
    mean_t, var_t = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    y_sj = F.instance_norm(sj.tensor(x), mean_sj, var_sj, momentum=0.3)
    y_t = TF.instance_norm(torch.tensor(x), mean_t, var_t, momentum=0.3)
    np.testing.assert_allclose(y_sj.numpy(), y_t.numpy(), rtol=1e-10)
    np.testing.assert_allclose(mean_sj.numpy(), mean_t.numpy(), rtol=1e-10)
    np.testing.assert_allclose(var_sj.numpy(), var_t.numpy(), rtol=1e-10)
    y_sj = F.instance_norm(sj.tensor(x), mean_sj, var_sj, use_input_stats=False)
    y_t = TF.instance_norm(torch.tensor(x), mean_t, var_t, use_input_stats=False)
    np.testing.assert_allclose(y_sj.numpy(), y_t.numpy(), rtol=1e-10)


@pytest.mark.parametrize("cls, shape", [("InstanceNorm1d", (3, 2, 5)), ("InstanceNorm2d", (2, 2, 3, 3)),
                                        ("InstanceNorm3d", (2, 2, 2, 2, 3))])
@pytest.mark.parametrize("affine, track", [(False, False), (True, True), (True, False), (False, True)])
def test_instance_norm_layers_match_torch(cls, shape, affine, track):
    x = RNG.standard_normal(shape) + 0.5
    layer = check_module(getattr(nn, cls)(2, affine=affine, track_running_stats=track, momentum=0.2),
                         getattr(torch.nn, cls)(2, affine=affine, track_running_stats=track, momentum=0.2), x, steps=2)
    torch_layer = getattr(torch.nn, cls)(2, affine=affine, track_running_stats=track)
    assert repr(layer) == repr(torch_layer.to(torch.float64)).replace("momentum=0.1", "momentum=0.2")
    assert list(layer.state_dict()) == list(torch_layer.state_dict())


def test_instance_norm_eval_uses_running_stats_and_unbatched_input():
    x = RNG.standard_normal((2, 3, 4))
    sj_layer = nn.InstanceNorm1d(3, track_running_stats=True)
    torch_layer = torch.nn.InstanceNorm1d(3, track_running_stats=True)
    sj_layer.double()
    torch_layer.double()
    sj_layer(sj.tensor(x)), torch_layer(torch.tensor(x))
    sj_layer.eval(), torch_layer.eval()
    check_module(sj_layer, torch_layer, x)
    check_module(nn.InstanceNorm1d(3, affine=True), torch.nn.InstanceNorm1d(3, affine=True), x[0])


def test_instance_norm_errors_like_torch():
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.InstanceNorm2d(3)(sj.randn(2, 3))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        nn.InstanceNorm2d(3)(sj.randn(2, 3, 1, 1))
    with pytest.raises(ValueError, match=r"size at dim=1 to match num_features \(3\), but got: 4"):
        nn.InstanceNorm1d(3, affine=True)(sj.randn(2, 4, 5))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nn.InstanceNorm1d(3)(sj.randn(2, 4, 5))
    assert any("does not match num_features" in str(w.message) for w in caught)


@pytest.mark.parametrize("shape, size", [((2, 5, 3), 3), ((2, 4, 2, 3), 2), ((1, 6, 2, 2, 2), 4), ((2, 3, 4), 1)])
def test_local_response_norm_matches_torch(shape, size):
    x = RNG.standard_normal(shape)
    check_op(lambda x: F.local_response_norm(x, size), lambda x: TF.local_response_norm(x, size), x)
    check_op(lambda x: F.local_response_norm(x, size, alpha=0.5, beta=0.6, k=2.0),
             lambda x: TF.local_response_norm(x, size, alpha=0.5, beta=0.6, k=2.0), x)


def test_local_response_norm_layer_and_errors():
    check_module(nn.LocalResponseNorm(3, alpha=0.1), torch.nn.LocalResponseNorm(3, alpha=0.1),
                 RNG.standard_normal((2, 4, 3, 3)))
    assert repr(nn.LocalResponseNorm(3)) == repr(torch.nn.LocalResponseNorm(3))
    with pytest.raises(ValueError, match="3D or higher"):
        F.local_response_norm(sj.randn(2, 3), 2)


def test_group_norm_repr_and_state_dict_like_torch():
    for args, kwargs in [((2, 6), {}), ((3, 3), {"affine": False}), ((1, 4), {"eps": 1e-3})]:
        assert repr(nn.GroupNorm(*args, **kwargs)) == repr(torch.nn.GroupNorm(*args, **kwargs))
        expected = list(torch.nn.GroupNorm(*args, **kwargs).state_dict())
        assert list(nn.GroupNorm(*args, **kwargs).state_dict()) == expected
