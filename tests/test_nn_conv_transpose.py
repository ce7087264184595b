"""conv_transpose1d / conv_transpose2d and the ConvTranspose1d/2d layers against PyTorch 2.13."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import check_module, check_op
from shenjing import nn

RNG = np.random.default_rng(7)

CASES_2D = [  # (x shape, w shape, kwargs)
    ((2, 3, 4, 4), (3, 2, 3, 3), {}),
    ((1, 2, 3, 5), (2, 3, 2, 3), {"stride": 2}),
    ((2, 2, 3, 3), (2, 2, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ((1, 4, 3, 3), (4, 1, 3, 2), {"stride": (2, 1), "padding": (1, 0), "groups": 2}),
    ((1, 2, 4, 3), (2, 2, 2, 2), {"dilation": 2, "stride": 3, "output_padding": (2, 1)}),
    ((3, 4, 4), (3, 2, 2, 2), {"stride": 2}),  # unbatched
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES_2D)
def test_conv_transpose2d_matches_torch(x_shape, w_shape, kwargs):
    groups = kwargs.get("groups", 1)
    x, w, b = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape), RNG.standard_normal(w_shape[1] * groups)
    check_op(lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs),
             lambda x, w, b: TF.conv_transpose2d(x, w, b, **kwargs), x, w, b)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((2, 3, 5), (3, 2, 3), {}), ((1, 2, 4), (2, 3, 2), {"stride": 3, "padding": 1, "output_padding": 2}),
    ((1, 4, 3), (4, 1, 3), {"groups": 2, "dilation": 2}), ((2, 3), (2, 2, 2), {"stride": 2})])
def test_conv_transpose1d_matches_torch(x_shape, w_shape, kwargs):
    x, w = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape)
    check_op(lambda x, w: F.conv_transpose1d(x, w, **kwargs), lambda x, w: TF.conv_transpose1d(x, w, **kwargs), x, w)


def test_conv_transpose_is_the_input_gradient_of_conv():
    w = sj.randn(2, 3, 3, 3, dtype=sj.float64)  # a conv weight (O=2, C=3): conv2d maps 3 channels to 2
    z = sj.randn(1, 3, 7, 7, dtype=sj.float64, requires_grad=True)
    y = F.conv2d(z, w, stride=2)
    g = sj.randn(*y.shape, dtype=sj.float64)
    (grad,) = sj.autograd.grad(y, z, g)
    np.testing.assert_allclose(F.conv_transpose2d(g, w, stride=2).numpy(), grad.numpy(), rtol=1e-12)


def test_conv_transpose2d_double_backward_matches_torch():
    x, w = RNG.standard_normal((1, 2, 3, 3)), RNG.standard_normal((2, 2, 2, 2))
    results = []
    for lib, fn in ((sj, F.conv_transpose2d), (torch, TF.conv_transpose2d)):
        xs, ws = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = fn(xs, ws, stride=2)
        (gx,) = lib.autograd.grad((y * y).sum(), xs, create_graph=True)
        (gw,) = lib.autograd.grad((gx * gx).sum(), ws)
        results.append(gw.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)


@pytest.mark.parametrize("args, kwargs, shape", [
    ((3, 4, 3), {}, (2, 3, 5, 4)),
    ((4, 2, (3, 2)), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2, "bias": False}, (1, 4, 3, 3)),
    ((2, 3, 2), {"dilation": 2, "stride": 3, "output_padding": 1}, (2, 4, 4)),
])
def test_conv_transpose2d_layer_matches_torch(args, kwargs, shape):
    layer = check_module(nn.ConvTranspose2d(*args, **kwargs), torch.nn.ConvTranspose2d(*args, **kwargs),
                         RNG.standard_normal(shape))
    torch_layer = torch.nn.ConvTranspose2d(*args, **kwargs)
    assert repr(layer) == repr(torch_layer)
    assert list(layer.state_dict()) == list(torch_layer.state_dict())
    assert layer.weight.shape == torch_layer.weight.shape


def test_conv_transpose1d_layer_matches_torch_and_output_size():
    layer = check_module(nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1),
                         torch.nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1),
                         RNG.standard_normal((2, 2, 5)))
    assert repr(layer) == repr(torch.nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1))
    torch_layer = torch.nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1).double()
    layer.load_state_dict({k: v.numpy() for k, v in torch_layer.state_dict().items()})
    x = RNG.standard_normal((2, 2, 5))
    for size in ([10], (2, 3, 10), [9]):
        expected = torch_layer(torch.tensor(x), output_size=size).detach().numpy()
        np.testing.assert_allclose(layer(sj.tensor(x), output_size=size).detach().numpy(), expected, rtol=1e-10)
    with pytest.raises(ValueError, match=r"valid sizes range from \[9\] to \[10\]"):
        layer(sj.tensor(x), output_size=[11])


def test_conv_transpose2d_output_size_matches_torch():
    args = dict(in_channels=2, out_channels=2, kernel_size=3, stride=2, padding=1)
    sj_layer, torch_layer = nn.ConvTranspose2d(**args).double(), torch.nn.ConvTranspose2d(**args).double()
    sj_layer.load_state_dict({k: v.numpy() for k, v in torch_layer.state_dict().items()})
    x = RNG.standard_normal((1, 2, 4, 4))
    expected = torch_layer(torch.tensor(x), output_size=[8, 7]).detach().numpy()
    np.testing.assert_allclose(sj_layer(sj.tensor(x), output_size=[8, 7]).detach().numpy(), expected, rtol=1e-10)


def test_conv_transpose_errors_like_torch():
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(sj.randn(1, 2, 3, 3), sj.randn(2, 2, 3, 3), output_padding=1)
    with pytest.raises(RuntimeError, match="expected input .* to have 2 channels, but got 3"):
        F.conv_transpose2d(sj.randn(1, 3, 3, 3), sj.randn(2, 2, 3, 3))
    with pytest.raises(RuntimeError, match="Expected 3D .* or 4D"):
        F.conv_transpose2d(sj.randn(3, 3), sj.randn(2, 2, 3, 3))
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.ConvTranspose2d(3, 2, 3, groups=2)


def test_conv_transpose_default_init_bounds_like_torch():
    layer = nn.ConvTranspose2d(8, 2, 3, groups=2)  # fan_in = out_channels/groups * 9 = 9
    assert layer.weight.abs().max().item() <= 1 / 3 and layer.weight.abs().max().item() > 0.25
    assert tuple(layer.weight.shape) == (8, 1, 3, 3)


# -- 3-D ------------------------------------------------------------------------------------------

CASES_3D = [  # (x shape, w shape, kwargs)
    ((2, 2, 3, 4, 3), (3, 2, 2, 3, 2), {}),
    ((1, 4, 4, 3, 5), (4, 2, 3, 2, 2), {"stride": (2, 1, 2), "padding": (1, 0, 1), "groups": 2}),
    ((1, 2, 5, 4, 4), (2, 2, 2, 2, 2), {"dilation": (2, 1, 1), "padding": "same"}),
    ((2, 3, 3, 3), (2, 2, 2, 2, 2), {"stride": 2}),  # unbatched
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES_3D)
def test_conv3d_matches_torch(x_shape, w_shape, kwargs):
    x, w, b = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape), RNG.standard_normal(w_shape[0])
    check_op(lambda x, w, b: F.conv3d(x, w, b, **kwargs), lambda x, w, b: TF.conv3d(x, w, b, **kwargs), x, w, b)


CASES_T3D = [
    ((2, 3, 2, 3, 2), (3, 2, 2, 3, 2), {}),
    ((1, 4, 3, 2, 3), (4, 1, 3, 2, 2), {"stride": (2, 1, 2), "padding": (1, 0, 1), "output_padding": (1, 0, 1),
                                       "groups": 2}),
    ((1, 2, 2, 2, 3), (2, 2, 2, 2, 2), {"dilation": (2, 1, 1), "stride": 3, "output_padding": (2, 1, 0)}),
    ((3, 2, 2, 2), (3, 2, 2, 2, 2), {"stride": 2}),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES_T3D)
def test_conv_transpose3d_matches_torch(x_shape, w_shape, kwargs):
    groups = kwargs.get("groups", 1)
    x, w, b = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape), RNG.standard_normal(w_shape[1] * groups)
    check_op(lambda x, w, b: F.conv_transpose3d(x, w, b, **kwargs),
             lambda x, w, b: TF.conv_transpose3d(x, w, b, **kwargs), x, w, b)


@pytest.mark.parametrize("args, kwargs", [((2, 4, 3), {}), ((4, 2, (2, 3, 1)), {"stride": 2, "padding": 1,
                                                                                 "groups": 2, "bias": False}),
                                          ((2, 2, 2), {"padding_mode": "reflect", "padding": 1})])
def test_conv3d_layer_matches_torch(args, kwargs):
    layer = check_module(nn.Conv3d(*args, **kwargs), torch.nn.Conv3d(*args, **kwargs),
                         RNG.standard_normal((2, args[0], 4, 5, 3)))
    assert repr(layer) == repr(torch.nn.Conv3d(*args, **kwargs))
    assert list(layer.state_dict()) == list(torch.nn.Conv3d(*args, **kwargs).state_dict())


def test_conv_transpose3d_layer_matches_torch():
    args = dict(in_channels=2, out_channels=4, kernel_size=(2, 3, 2), stride=2, padding=(0, 1, 0), output_padding=1)
    layer = check_module(nn.ConvTranspose3d(**args), torch.nn.ConvTranspose3d(**args),
                         RNG.standard_normal((1, 2, 2, 3, 2)))
    assert repr(layer) == repr(torch.nn.ConvTranspose3d(**args))
    with pytest.raises(RuntimeError, match=r"expects input \[N, 2, D, H, W\]"):
        nn.Conv3d(2, 2, 2)(sj.randn(1, 3, 4, 4, 4))
