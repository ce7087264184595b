"""batch_norm / layer_norm / normalize and the BatchNorm1d/2d and LayerNorm layers against PyTorch 2.13."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import Const, check_module, check_op
from shenjing import nn

RNG = np.random.default_rng(5)

# ----------------------------------------------------------------------------------------------
# F.batch_norm
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 4), (2, 3, 2, 2)])
def test_batch_norm_training_matches_torch(shape):
    channels = shape[1]
    x = RNG.standard_normal(shape) * 2 + 1
    weight, bias = RNG.standard_normal(channels), RNG.standard_normal(channels)
    check_op(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
             lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), x, weight, bias)
    check_op(lambda x: F.batch_norm(x, None, None, training=True, eps=1e-3),
             lambda x: TF.batch_norm(x, None, None, training=True, eps=1e-3), x)


def test_batch_norm_eval_uses_running_stats_like_torch():
    x = RNG.standard_normal((3, 2, 2, 2))
    mean, var = Const(RNG.standard_normal(2)), Const(RNG.random(2) + 0.5)
    check_op(lambda x, w, b, m, v: F.batch_norm(x, m.to(x.dtype), v.to(x.dtype), w, b),
             lambda x, w, b, m, v: TF.batch_norm(x, m.to(x.dtype), v.to(x.dtype), w, b), x,
             RNG.standard_normal(2), RNG.standard_normal(2), mean, var)


@pytest.mark.parametrize("momentum", [0.1, 0.5, 1.0])
def test_batch_norm_updates_running_stats_like_torch(momentum):
    x = RNG.standard_normal((5, 3, 4)) * 3 + 2
    stats_sj = [sj.tensor(RNG.standard_normal(3)), sj.tensor(RNG.random(3) + 0.5)]
    stats_torch = [torch.tensor(s.numpy().copy()) for s in stats_sj]
    F.batch_norm(sj.tensor(x), *stats_sj, training=True, momentum=momentum)
    TF.batch_norm(torch.tensor(x), *stats_torch, training=True, momentum=momentum)
    for a, b in zip(stats_sj, stats_torch):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_batch_norm_running_var_is_unbiased_by_definition():
    x = np.array([[1.0], [2.0], [6.0]])
    mean, var = sj.zeros(1, dtype=sj.float64), sj.ones(1, dtype=sj.float64)
    F.batch_norm(sj.tensor(x), mean, var, training=True, momentum=1.0)
    assert mean.item() == pytest.approx(3.0)
    assert var.item() == pytest.approx(np.var(x, ddof=1))  # 7.0, not the biased 4.667


def test_batch_norm_output_is_standardised():
    x = sj.tensor(RNG.standard_normal((200, 4)) * 5 + 3)
    y = F.batch_norm(x, None, None, training=True, eps=0.0).numpy()
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=0), 1.0, rtol=1e-12)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(sj.randn(1, 3), None, None, training=True)
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        F.batch_norm(sj.randn(2, 3), sj.zeros(4), sj.ones(4))
    with pytest.raises(RuntimeError, match="evaluation mode"):
        F.batch_norm(sj.randn(2, 3), None, None, training=False)


# ----------------------------------------------------------------------------------------------
# F.layer_norm and F.normalize
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, normalized", [((3, 4), (4,)), ((2, 3, 4), (3, 4)), ((2, 5), 5), ((6,), (6,))])
def test_layer_norm_matches_torch(shape, normalized):
    x = RNG.standard_normal(shape)
    affine_shape = (normalized,) if isinstance(normalized, int) else normalized
    check_op(lambda x, w, b: F.layer_norm(x, normalized, w, b), lambda x, w, b: TF.layer_norm(
        x, affine_shape, w, b), x, RNG.standard_normal(affine_shape), RNG.standard_normal(affine_shape))
    check_op(lambda x: F.layer_norm(x, normalized, eps=0.1), lambda x: TF.layer_norm(x, affine_shape, eps=0.1), x)


def test_layer_norm_shape_error_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[4\], expected input with shape \[\*, 4\], but got "
                                           r"input of size \[2, 3\]"):
        F.layer_norm(sj.randn(2, 3), (4,))


@pytest.mark.parametrize("p, dim", [(2.0, 1), (1.0, -1), (3.0, 0)])
def test_normalize_matches_torch(p, dim):
    check_op(lambda x: F.normalize(x, p=p, dim=dim), lambda x: TF.normalize(x, p=p, dim=dim),
             RNG.standard_normal((3, 4)))


def test_normalize_unit_norm_and_zero_vector():
    out = F.normalize(sj.tensor([[3.0, 4.0], [0.0, 0.0]])).tolist()
    assert out[0] == pytest.approx([0.6, 0.8]) and out[1] == [0.0, 0.0]


# ----------------------------------------------------------------------------------------------
# BatchNorm layers
# ----------------------------------------------------------------------------------------------

BATCH_NORMS = [
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 3, 2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sj_type, torch_type, shape", BATCH_NORMS)
def test_batch_norm_layer_trains_then_evaluates_like_torch(sj_type, torch_type, shape, dtype):
    channels = shape[1]
    torch_layer = torch_type(channels)
    with torch.no_grad():  # parameters other than 1 and 0, so that their gradients matter
        torch_layer.weight.copy_(torch.tensor(RNG.random(channels) + 0.5))
        torch_layer.bias.copy_(torch.tensor(RNG.standard_normal(channels)))
    x = RNG.standard_normal(shape) * 2 + 1
    sj_layer = check_module(sj_type(channels), torch_layer, x, dtype=dtype, steps=3)
    assert sj_layer.num_batches_tracked.item() == 3 and sj_layer.num_batches_tracked.dtype == sj.int64
    torch_layer.eval()
    sj_layer.eval()
    check_module(sj_layer, torch_layer, x * 0.5, dtype=dtype)  # uses (and keeps) the running stats


@pytest.mark.parametrize("options", [dict(momentum=None), dict(momentum=0.3, eps=1e-3), dict(affine=False),
                                     dict(track_running_stats=False), dict(bias=False)])
def test_batch_norm_layer_options_match_torch(options):
    x = RNG.standard_normal((5, 2, 3))
    sj_layer, torch_layer = nn.BatchNorm1d(2, **options), torch.nn.BatchNorm1d(2, **options)
    check_module(sj_layer, torch_layer, x, steps=4)
    torch_layer.eval()
    sj_layer.eval()
    check_module(sj_layer, torch_layer, x)
    assert repr(sj_layer) == repr(torch_layer)
    assert list(sj_layer.state_dict()) == list(torch_layer.state_dict())


def test_batch_norm_momentum_none_is_the_cumulative_average():
    layer = nn.BatchNorm1d(1, momentum=None).double()
    batches = [np.array([[1.0], [3.0]]), np.array([[10.0], [20.0], [30.0]]), np.array([[-4.0], [0.0]])]
    for batch in batches:
        layer(sj.tensor(batch))
    assert layer.running_mean.item() == pytest.approx(np.mean([b.mean() for b in batches]))
    assert layer.running_var.item() == pytest.approx(np.mean([b.var(ddof=1) for b in batches]))


def test_batch_norm_layer_parameters_buffers_and_repr():
    layer = nn.BatchNorm2d(4)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in layer.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert layer.weight.tolist() == [1.0] * 4 and layer.bias.tolist() == [0.0] * 4
    assert layer.running_mean.tolist() == [0.0] * 4 and layer.running_var.tolist() == [1.0] * 4
    assert layer.num_batches_tracked.dtype == sj.int64 and layer.num_batches_tracked.item() == 0
    for args, kwargs in [((4,), {}), ((4, 1e-3, None, False), {}), ((3,), dict(track_running_stats=False))]:
        assert repr(nn.BatchNorm2d(*args, **kwargs)) == repr(torch.nn.BatchNorm2d(*args, **kwargs))
        assert repr(nn.BatchNorm1d(*args, **kwargs)) == repr(torch.nn.BatchNorm1d(*args, **kwargs))
    assert list(layer.state_dict()) == list(torch.nn.BatchNorm2d(4).state_dict())


def test_batch_norm_layer_reset_running_stats():
    layer = nn.BatchNorm1d(2)
    layer(sj.randn(4, 2) * 3 + 5)
    layer.reset_running_stats()
    assert layer.running_mean.tolist() == [0.0, 0.0] and layer.running_var.tolist() == [1.0, 1.0]
    assert layer.num_batches_tracked.item() == 0


def test_batch_norm_layer_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\).*expects input \[N, 3, H, W\], "
                                         r"got \[2, 3, 4\]"):
        nn.BatchNorm2d(3)(sj.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(sj.randn(2, 3, 4, 4))
    with pytest.raises(RuntimeError, match=r"BatchNorm2d\(3, .*\) expects input \[N, 3, H, W\] with 3 channels in "
                                           r"dim 1, got \[2, 4, 4, 4\]"):
        nn.BatchNorm2d(3)(sj.randn(2, 4, 4, 4))
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm1d(0)
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(sj.randn(1, 3))
    layer = nn.BatchNorm1d(3).eval()
    assert tuple(layer(sj.randn(1, 3)).shape) == (1, 3)  # one sample is fine in eval mode


# ----------------------------------------------------------------------------------------------
# LayerNorm
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, normalized, options", [((3, 4), 4, {}), ((2, 3, 4), (3, 4), {}),
                                                       ((2, 5), [5], dict(elementwise_affine=False)),
                                                       ((2, 5), 5, dict(bias=False, eps=1e-2))])
def test_layer_norm_layer_matches_torch(shape, normalized, options, dtype):
    torch_layer = torch.nn.LayerNorm(normalized, **options)
    if torch_layer.weight is not None:
        with torch.no_grad():
            torch_layer.weight.copy_(torch.tensor(RNG.random(torch_layer.weight.shape) + 0.5))
    sj_layer = check_module(nn.LayerNorm(normalized, **options), torch_layer, RNG.standard_normal(shape),
                            dtype=dtype)
    assert repr(sj_layer) == repr(torch_layer)
    assert list(sj_layer.state_dict()) == list(torch_layer.state_dict())


def test_layer_norm_layer_errors():
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 4\], but got input of size \[2, 3\]"):
        nn.LayerNorm(4)(sj.randn(2, 3))
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(0)
