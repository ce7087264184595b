"""F.pad, F.interpolate, F.unfold and F.fold against PyTorch 2.13 and central differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import assert_close, check_op

RNG = np.random.default_rng(3)


def randn(*shape):
    return RNG.standard_normal(shape)


# -- pad -------------------------------------------------------------------------------------------

def test_pad_modes_on_a_row():
    row = sj.tensor([[[1.0, 2.0, 3.0]]])
    expected = {"reflect": [3, 2, 1, 2, 3, 2, 1], "replicate": [1, 1, 1, 2, 3, 3, 3],
                "circular": [2, 3, 1, 2, 3, 1, 2]}
    for mode, values in expected.items():
        assert F.pad(row, (2, 2), mode=mode).tolist() == [[values]]
    assert F.pad(row, (2, 1), value=-1.0).tolist() == [[[-1, -1, 1, 2, 3, -1]]]


@pytest.mark.parametrize("shape, pad, kwargs", [
    ((2, 3, 4, 5), (1, 2, 3, 0), {}),
    ((2, 3, 4, 5), (1, -2, -1, 2), dict(value=1.5)),  # negative amounts crop
    ((2, 3, 4), (0, 0, 1, 1, 2, 0), {}),  # all three dims
    ((3, 4), (2, 1), dict(mode="constant", value=-3.0)),
])
def test_constant_pad_matches_torch(shape, pad, kwargs):
    check_op(lambda x: F.pad(x, pad, **kwargs), lambda x: TF.pad(x, pad, **kwargs), randn(*shape))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pad", [
    ((2, 3, 4, 5), (3, 2, 3, 1)),
    ((3, 5), (4, 2)),  # unbatched, last dim
    ((2, 3, 6), (2, 3)),
    ((1, 2, 3, 4, 5), (1, 2, 2, 1, 2, 2)),  # last three dims
    ((2, 3, 4, 5), (-1, 2, 1, -2)),  # crop, then pad
    ((2, 4, 5), (1, 1, 2, 0)),  # unbatched image
])
def test_non_constant_pad_matches_torch(mode, shape, pad):
    check_op(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode), randn(*shape),
             numeric=len(shape) < 5)


def test_pad_errors():
    x = sj.randn(1, 2, 3, 3)
    with pytest.raises(RuntimeError, match=r"reflect padding must be less than the size"):
        F.pad(x, (3, 3, 0, 0), mode="reflect")
    with pytest.raises(RuntimeError, match=r"wraps around more than once"):
        F.pad(x, (4, 4, 0, 0), mode="circular")
    with pytest.raises(NotImplementedError, match=r"padding of length 2 is not supported for a 4D input"):
        F.pad(x, (1, 1), mode="replicate")
    with pytest.raises(ValueError, match=r"must be even"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match=r"mode must be 'constant', 'reflect'"):
        F.pad(x, (1, 1), mode="mirror")
    with pytest.raises(RuntimeError, match=r"negative output size"):
        F.pad(x, (-4, 0))


# -- interpolate -----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 5, 7), dict(size=(8, 11))),
    ((2, 3, 5, 7), dict(scale_factor=2)),
    ((2, 3, 5, 7), dict(scale_factor=2.5)),
    ((2, 3, 5, 7), dict(scale_factor=(0.7, 1.3))),
    ((2, 3, 6, 7), dict(size=(3, 4))),  # downsampling
    ((2, 3, 5, 7), dict(size=(3, 4), mode="nearest-exact")),
    ((2, 3, 5, 7), dict(size=(8, 11), mode="nearest-exact")),
    ((2, 3, 7), dict(size=12)),
    ((1, 2, 3, 4, 5), dict(size=(4, 7, 3))),
])
def test_interpolate_nearest_matches_torch(shape, kwargs):
    check_op(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs), randn(*shape),
             numeric=len(shape) < 5)


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 5, 7), dict(size=(8, 11), mode="bilinear")),
    ((2, 3, 5, 7), dict(size=(8, 11), mode="bilinear", align_corners=True)),
    ((2, 3, 6, 7), dict(size=(3, 4), mode="bilinear")),
    ((2, 3, 5, 7), dict(scale_factor=1.7, mode="bilinear")),
    ((2, 3, 5, 4), dict(scale_factor=(2, 0.5), mode="bilinear", align_corners=False)),
    ((2, 3, 5, 4), dict(size=(1, 6), mode="bilinear", align_corners=True)),
    ((2, 3, 7), dict(scale_factor=1.7, mode="linear")),
    ((2, 3, 7), dict(size=4, mode="linear", align_corners=True)),
    ((2, 3, 7), dict(size=4, mode="area")),
    ((2, 3, 7, 9), dict(size=(3, 5), mode="area")),
    ((2, 3, 5, 7), dict(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True)),
])
def test_interpolate_linear_and_area_match_torch(shape, kwargs):
    check_op(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs), randn(*shape))


def test_interpolate_nearest_doubles_pixels_and_bilinear_keeps_constants():
    x = sj.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert F.interpolate(x, scale_factor=2).tolist() == [[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]]
    ones = F.interpolate(sj.ones(1, 1, 3, 4), size=(7, 5), mode="bilinear")
    assert_close(ones.numpy(), np.ones((1, 1, 7, 5), np.float32), np.float32)


def test_interpolate_errors():
    x = sj.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"exactly one of size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"align_corners can only be set"):
        F.interpolate(x, size=2, align_corners=True)
    with pytest.raises(NotImplementedError, match=r"mode='bilinear' expects a 4-D input"):
        F.interpolate(sj.randn(1, 1, 4), size=2, mode="bilinear")
    with pytest.raises(NotImplementedError, match=r"lanczos"):
        F.interpolate(x, size=2, mode="lanczos")


# -- unfold and fold -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 5, 6), dict(kernel_size=2)),
    ((2, 3, 7, 6), dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1))),
    ((3, 5, 5), dict(kernel_size=3, padding=(0, 1), stride=2)),  # unbatched
])
def test_unfold_matches_torch(shape, kwargs):
    check_op(lambda x: F.unfold(x, **kwargs), lambda x: TF.unfold(x, **kwargs), randn(*shape))


@pytest.mark.parametrize("output_size, kwargs, blocks", [
    ((5, 6), dict(kernel_size=2), 4 * 5),
    ((7, 6), dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1)), 4 * 6),
])
def test_fold_matches_torch(output_size, kwargs, blocks):
    kh, kw = (kwargs["kernel_size"],) * 2 if isinstance(kwargs["kernel_size"], int) else kwargs["kernel_size"]
    check_op(lambda c: F.fold(c, output_size, **kwargs), lambda c: TF.fold(c, output_size, **kwargs),
             randn(2, 3 * kh * kw, blocks))


def test_conv2d_is_a_product_with_unfold():
    x, w = sj.randn(2, 3, 6, 5), sj.randn(4, 3, 3, 2)
    cols = F.unfold(x, (3, 2))
    y = (w.view(4, -1) @ cols).view(2, 4, 4, 4)
    assert_close(y.numpy(), TF.conv2d(torch.tensor(x.numpy()), torch.tensor(w.numpy())).numpy(), np.float32)


def test_fold_errors():
    with pytest.raises(RuntimeError, match=r"sliding blocks"):
        F.fold(sj.randn(1, 4, 5), output_size=(3, 3), kernel_size=2)
    with pytest.raises(RuntimeError, match=r"divisible by the product of kernel_size"):
        F.fold(sj.randn(1, 5, 4), output_size=(3, 3), kernel_size=2)
