"""3-D max / average / adaptive pooling, LP pooling and max unpooling (functions and layers) against
PyTorch 2.13."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import Const, check_module, check_op
from shenjing import nn

RNG = np.random.default_rng(61)


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 2, 4, 4, 4), dict(kernel_size=2)),
    ((1, 2, 5, 6, 5), dict(kernel_size=(3, 2, 2), stride=(2, 1, 2), padding=(1, 1, 0))),
    ((1, 1, 5, 5, 5), dict(kernel_size=2, stride=2, ceil_mode=True)),
    ((1, 1, 6, 5, 6), dict(kernel_size=2, dilation=(2, 1, 2), stride=1)),
    ((2, 4, 4, 4), dict(kernel_size=2, padding=1)),  # unbatched
])
def test_max_pool3d_matches_torch(shape, kwargs):
    x = RNG.standard_normal(shape)
    check_op(lambda x: F.max_pool3d(x, **kwargs), lambda x: TF.max_pool3d(x, **kwargs), x)
    (y, i), (ty, ti) = F.max_pool3d(sj.tensor(x), return_indices=True, **kwargs), \
        TF.max_pool3d(torch.tensor(x), return_indices=True, **kwargs)
    np.testing.assert_allclose(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 2, 4, 4, 4), dict(kernel_size=2)),
    ((1, 2, 5, 6, 5), dict(kernel_size=(3, 2, 2), stride=(2, 1, 2), padding=(1, 1, 0))),
    ((1, 2, 5, 6, 5), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((1, 1, 5, 5, 5), dict(kernel_size=2, stride=2, ceil_mode=True)),
    ((1, 1, 5, 5, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ((1, 1, 4, 4, 4), dict(kernel_size=2, divisor_override=3)),
])
def test_avg_pool3d_matches_torch(shape, kwargs):
    check_op(lambda x: F.avg_pool3d(x, **kwargs), lambda x: TF.avg_pool3d(x, **kwargs), RNG.standard_normal(shape))


@pytest.mark.parametrize("shape, size", [((2, 2, 5, 6, 7), (2, 3, 4)), ((1, 3, 4, 4, 4), 1),
                                         ((1, 2, 3, 5, 4), (None, 2, 3)), ((2, 5, 3, 3), 2)])
def test_adaptive_pool3d_matches_torch(shape, size):
    x = RNG.standard_normal(shape)
    check_op(lambda x: F.adaptive_avg_pool3d(x, size), lambda x: TF.adaptive_avg_pool3d(x, size), x)
    check_op(lambda x: F.adaptive_max_pool3d(x, size), lambda x: TF.adaptive_max_pool3d(x, size), x)
    (y, i), (ty, ti) = F.adaptive_max_pool3d(sj.tensor(x), size, True), TF.adaptive_max_pool3d(torch.tensor(x), size,
                                                                                               True)
    np.testing.assert_allclose(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0])
def test_lp_pool_matches_torch(norm_type):
    x = RNG.random((2, 2, 6, 6, 4)) + 0.1  # positive: x^p is defined for any p
    check_op(lambda x: F.lp_pool1d(x, norm_type, 2), lambda x: TF.lp_pool1d(x, norm_type, 2), x[:, :, 0, 0])
    check_op(lambda x: F.lp_pool2d(x, norm_type, (2, 3), stride=1),
             lambda x: TF.lp_pool2d(x, norm_type, (2, 3), stride=1), x[:, :, 0])
    check_op(lambda x: F.lp_pool3d(x, norm_type, 2, ceil_mode=True),
             lambda x: TF.lp_pool3d(x, norm_type, 2, ceil_mode=True), x[:, :, :5, :5, :3])


@pytest.mark.parametrize("spatial, shape, kwargs", [(1, (2, 3, 8), dict(kernel_size=2)),
                                                    (2, (1, 2, 6, 4), dict(kernel_size=2, stride=2)),
                                                    (2, (1, 2, 5, 5), dict(kernel_size=3, stride=2, padding=1)),
                                                    (3, (1, 2, 4, 4, 4), dict(kernel_size=2))])
def test_max_unpool_matches_torch(spatial, shape, kwargs):
    pool, unpool = f"max_pool{spatial}d", f"max_unpool{spatial}d"
    x = RNG.standard_normal(shape)
    _, indices = getattr(TF, pool)(torch.tensor(x), return_indices=True, **kwargs)
    pooled = getattr(TF, pool)(torch.tensor(x), **kwargs).numpy()
    index = indices.numpy()
    # overlapping windows can pick one position twice: the forward keeps one value and, as in PyTorch, the
    # gradient goes to both, so central differences only apply where the indices are distinct
    distinct = all(len(np.unique(row)) == row.size for row in index.reshape(-1, index[0, 0].size))
    check_op(lambda y, i: getattr(F, unpool)(y, i, **kwargs), lambda y, i: getattr(TF, unpool)(y, i, **kwargs),
             pooled, Const(index), numeric=distinct)
    sizes = tuple(shape[-spatial:])
    check_op(lambda y, i: getattr(F, unpool)(y, i, output_size=sizes, **kwargs),
             lambda y, i: getattr(TF, unpool)(y, i, output_size=sizes, **kwargs), pooled, Const(index),
             numeric=distinct)


POOL_LAYERS = [
    ("MaxPool3d", (2,), {}, (1, 2, 4, 4, 4)), ("MaxPool3d", ((3, 2, 2),), dict(stride=1, padding=1, dilation=(1, 2, 1),
                                                                              ceil_mode=True), (1, 1, 5, 4, 5)),
    ("AvgPool3d", (2,), {}, (1, 2, 4, 4, 4)), ("AvgPool3d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False),
                                               (1, 1, 5, 5, 5)),
    ("AdaptiveAvgPool3d", ((2, None, 3),), {}, (1, 2, 4, 3, 5)), ("AdaptiveMaxPool3d", (2,), {}, (1, 1, 3, 4, 5)),
    ("LPPool1d", (2, 3), {}, (1, 2, 7)), ("LPPool2d", (2, (2, 3)), dict(stride=1), (1, 2, 4, 5)),
    ("LPPool3d", (1.5, 2), dict(ceil_mode=True), (1, 1, 3, 3, 3)),
]


@pytest.mark.parametrize("name, args, kwargs, shape", POOL_LAYERS)
def test_pool_layers_match_torch(name, args, kwargs, shape):
    x = RNG.random(shape) + 0.1
    layer = check_module(getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs), x)
    assert repr(layer) == repr(getattr(torch.nn, name)(*args, **kwargs))


@pytest.mark.parametrize("spatial", [1, 2, 3])
def test_max_unpool_layers_match_torch(spatial):
    name = f"MaxUnpool{spatial}d"
    assert repr(getattr(nn, name)(2)) == repr(getattr(torch.nn, name)(2))
    x = RNG.standard_normal((1, 2) + (4,) * spatial)
    pool_name = f"MaxPool{spatial}d"
    y, i = getattr(nn, pool_name)(2, return_indices=True)(sj.tensor(x))
    ty, ti = getattr(torch.nn, pool_name)(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_allclose(getattr(nn, name)(2)(y, i).numpy(), getattr(torch.nn, name)(2)(ty, ti).numpy())


def test_pooling_more_errors():
    with pytest.raises(RuntimeError, match="4D .* or 5D"):
        F.max_pool3d(sj.randn(2, 3, 4), 2)
    with pytest.raises(ValueError, match="pad should be at most half of effective kernel size"):
        F.avg_pool3d(sj.randn(1, 1, 4, 4, 4), 2, padding=2)
    y, i = F.max_pool2d(sj.randn(1, 1, 4, 4), 2, return_indices=True)
    with pytest.raises(ValueError, match="invalid output_size"):
        F.max_unpool2d(y, i, 2, output_size=(9, 9))


# -- fractional max pooling -----------------------------------------------------------------------

@pytest.mark.parametrize("spatial, shape, kernel, kwargs", [
    (2, (2, 3, 9, 8), (2, 3), dict(output_size=(4, 5))), (2, (1, 2, 10, 10), 3, dict(output_ratio=(0.5, 0.5))),
    (2, (2, 7, 7), 2, dict(output_size=3)), (3, (1, 2, 7, 6, 8), (2, 3, 2), dict(output_size=(4, 3, 5))),
    (3, (1, 1, 6, 6, 6), 2, dict(output_ratio=(0.5, 0.6, 0.7)))])
def test_fractional_max_pool_matches_torch_for_the_same_samples(spatial, shape, kernel, kwargs):
    batch_channels = shape[:2] if len(shape) == spatial + 2 else (1, shape[0])
    samples = Const(RNG.random(batch_channels + (spatial,)))
    name = f"fractional_max_pool{spatial}d"
    check_op(lambda x, s: getattr(F, name)(x, kernel, _random_samples=s.to(x.dtype), **kwargs),
             lambda x, s: getattr(TF, name)(x, kernel, _random_samples=s.to(x.dtype), **kwargs),
             RNG.standard_normal(shape), samples)
    x, s = RNG.standard_normal(shape), samples.array
    (y, i) = getattr(F, name)(sj.tensor(x), kernel, return_indices=True, _random_samples=sj.tensor(s), **kwargs)
    (ty, ti) = getattr(TF, name)(torch.tensor(x), kernel, return_indices=True, _random_samples=torch.tensor(s),
                                 **kwargs)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_fractional_max_pool_layers_like_torch():
    for name, kwargs in (("FractionalMaxPool2d", dict(output_size=3)),
                         ("FractionalMaxPool3d", dict(output_ratio=0.5))):
        assert repr(getattr(nn, name)(2, **kwargs)) == repr(getattr(torch.nn, name)(2, **kwargs))
    y = nn.FractionalMaxPool2d(2, output_ratio=0.5)(sj.randn(2, 3, 8, 8))
    assert y.shape == (2, 3, 4, 4)
    with pytest.raises(ValueError, match="requires specifying either an output size, or a pooling ratio"):
        nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError, match=r"output_ratio must be between 0 and 1 \(got 1.5\)"):
        nn.FractionalMaxPool2d(2, output_ratio=1.5)
    with pytest.raises(RuntimeError, match="Expect _random_samples to have the same dtype as input"):
        F.fractional_max_pool2d(sj.randn(1, 1, 4, 4), 2, output_size=2, _random_samples=sj.rand(1, 1, 2).double())
    with pytest.raises(RuntimeError, match="pool height 3 too large relative to input height 4"):
        F.fractional_max_pool2d(sj.randn(1, 1, 4, 4), 3, output_size=3)
