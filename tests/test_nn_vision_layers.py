"""Padding layers, Upsample (and interpolate's bicubic / trilinear modes), PixelShuffle / PixelUnshuffle,
ChannelShuffle and Fold / Unfold layers against PyTorch 2.13."""

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

RNG = np.random.default_rng(3)

PADDING_LAYERS = [  # (name, constructor args, input shape)
    ("ZeroPad1d", (2,), (2, 3, 4)), ("ZeroPad1d", ((1, 0),), (3, 4)), ("ZeroPad2d", ((1, 0, 2, 1),), (1, 2, 3, 3)),
    ("ZeroPad3d", (1,), (1, 1, 2, 2, 2)), ("ConstantPad1d", (2, 3.5), (2, 3, 4)),
    ("ConstantPad2d", ((1, 2, 0, 1), -1.0), (2, 3, 3)), ("ConstantPad3d", ((1, 0, 0, 1, 2, 0), 2.0), (1, 2, 2, 2)),
    ("ReflectionPad1d", (2,), (2, 3, 4)), ("ReflectionPad2d", ((1, 2, 2, 0),), (1, 2, 3, 4)),
    ("ReflectionPad3d", (1,), (1, 1, 2, 3, 3)), ("ReplicationPad1d", ((3, 1),), (2, 2, 3)),
    ("ReplicationPad2d", (2,), (1, 2, 3, 3)), ("ReplicationPad3d", ((1, 0, 2, 1, 0, 1),), (1, 1, 2, 2, 2)),
    ("CircularPad1d", (2,), (2, 3, 4)), ("CircularPad2d", ((1, 2, 0, 1),), (1, 2, 3, 3)),
    ("CircularPad3d", (1,), (1, 1, 2, 2, 3)),
]


@pytest.mark.parametrize("name, args, shape", PADDING_LAYERS)
def test_padding_layers_match_torch(name, args, shape):
    layer = check_module(getattr(nn, name)(*args), getattr(torch.nn, name)(*args), RNG.standard_normal(shape))
    assert repr(layer) == repr(getattr(torch.nn, name)(*args))


def test_zero_pad_is_a_constant_pad_and_circular_checks_dims():
    assert isinstance(nn.ZeroPad2d(1), nn.ConstantPad2d)
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.CircularPad2d(1)(sj.randn(3, 3))
    with pytest.raises(RuntimeError, match="reflect"):
        nn.ReflectionPad1d(3)(sj.randn(1, 2, 3))


@pytest.mark.parametrize("shape, kwargs", [
    ((1, 2, 3, 4), dict(size=(5, 7), mode="bicubic")),
    ((1, 2, 3, 4), dict(size=(5, 7), mode="bicubic", align_corners=True)),
    ((2, 1, 4, 4), dict(scale_factor=1.5, mode="bicubic")),
    ((1, 1, 5, 6), dict(size=(3, 2), mode="bicubic")),
    ((1, 2, 2, 3, 2), dict(size=(3, 4, 5), mode="trilinear")),
    ((1, 1, 2, 3, 4), dict(scale_factor=2, mode="trilinear", align_corners=True)),
])
def test_interpolate_bicubic_and_trilinear_match_torch(shape, kwargs):
    check_op(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs), RNG.standard_normal(shape))


@pytest.mark.parametrize("kwargs, shape", [
    (dict(scale_factor=2), (1, 2, 3, 3)), (dict(size=5, mode="linear"), (2, 2, 3)),
    (dict(scale_factor=(2, 1.5), mode="bilinear", align_corners=True), (1, 1, 3, 4)),
    (dict(size=(4, 5), mode="bicubic"), (1, 2, 3, 3)), (dict(scale_factor=2, mode="trilinear"), (1, 1, 2, 2, 2)),
    (dict(scale_factor=3, mode="nearest-exact"), (1, 1, 2, 3)),
])
def test_upsample_layer_matches_torch(kwargs, shape):
    layer = check_module(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), RNG.standard_normal(shape))
    assert repr(layer) == repr(torch.nn.Upsample(**kwargs))


@pytest.mark.parametrize("cls, kwargs", [("UpsamplingNearest2d", dict(scale_factor=2)),
                                         ("UpsamplingNearest2d", dict(size=(3, 5))),
                                         ("UpsamplingBilinear2d", dict(scale_factor=2)),
                                         ("UpsamplingBilinear2d", dict(size=5))])
def test_fixed_mode_upsampling_layers_match_torch(cls, kwargs):
    layer = check_module(getattr(nn, cls)(**kwargs), getattr(torch.nn, cls)(**kwargs),
                         RNG.standard_normal((1, 2, 3, 3)))
    assert repr(layer) == repr(getattr(torch.nn, cls)(**kwargs))


def test_deprecated_upsample_functions_warn_and_match_torch():
    x = RNG.standard_normal((1, 1, 3, 3))
    for name, kwargs in (("upsample", dict(scale_factor=2, mode="bilinear")), ("upsample_nearest", dict(size=4)),
                         ("upsample_bilinear", dict(scale_factor=2))):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ours = getattr(F, name)(sj.tensor(x), **kwargs)
        assert any("deprecated" in str(w.message) for w in caught)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = getattr(TF, name)(torch.tensor(x), **kwargs)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape, r", [((1, 8, 2, 3), 2), ((2, 3, 9, 1, 2), 3), ((4, 2, 2), 2)])
def test_pixel_shuffle_matches_torch(shape, r):
    check_op(lambda x: F.pixel_shuffle(x, r), lambda x: TF.pixel_shuffle(x, r), RNG.standard_normal(shape))
    layer = check_module(nn.PixelShuffle(r), torch.nn.PixelShuffle(r), RNG.standard_normal(shape))
    assert repr(layer) == repr(torch.nn.PixelShuffle(r))


@pytest.mark.parametrize("shape, r", [((1, 2, 4, 6), 2), ((2, 1, 1, 3, 6), 3), ((1, 4, 4), 4)])
def test_pixel_unshuffle_matches_torch(shape, r):
    check_op(lambda x: F.pixel_unshuffle(x, r), lambda x: TF.pixel_unshuffle(x, r), RNG.standard_normal(shape))
    layer = check_module(nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r), RNG.standard_normal(shape))
    assert repr(layer) == repr(torch.nn.PixelUnshuffle(r))


@pytest.mark.parametrize("shape, groups", [((2, 6, 3), 2), ((1, 6, 2, 2), 3), ((1, 4, 1, 2, 1), 4)])
def test_channel_shuffle_matches_torch(shape, groups):
    check_op(lambda x: F.channel_shuffle(x, groups), lambda x: TF.channel_shuffle(x, groups),
             RNG.standard_normal(shape))
    layer = check_module(nn.ChannelShuffle(groups), torch.nn.ChannelShuffle(groups), RNG.standard_normal(shape))
    assert repr(layer) == repr(torch.nn.ChannelShuffle(groups))


def test_shuffle_errors_like_torch():
    with pytest.raises(RuntimeError, match=r"input.size\(-3\)=5 is not divisible by 4"):
        F.pixel_shuffle(sj.randn(1, 5, 2, 2), 2)
    with pytest.raises(RuntimeError, match=r"input.size\(-2\)=3 is not divisible by 2"):
        F.pixel_unshuffle(sj.randn(1, 1, 3, 4), 2)
    with pytest.raises(RuntimeError, match="Got 5 channels and 2 groups"):
        F.channel_shuffle(sj.randn(1, 5, 2), 2)
    with pytest.raises(RuntimeError, match="at least 3 dimensions"):
        F.pixel_shuffle(sj.randn(4, 2), 2)


def test_fold_and_unfold_layers_match_torch():
    args = dict(kernel_size=(2, 3), padding=1, stride=(1, 2))
    layer = check_module(nn.Unfold(**args), torch.nn.Unfold(**args), RNG.standard_normal((2, 3, 4, 5)))
    assert repr(layer) == repr(torch.nn.Unfold(**args))
    fold_args = dict(output_size=(4, 5), kernel_size=2, dilation=1, padding=0, stride=1)
    layer = check_module(nn.Fold(**fold_args), torch.nn.Fold(**fold_args), RNG.standard_normal((2, 8, 12)))
    assert repr(layer) == repr(torch.nn.Fold(**fold_args))
