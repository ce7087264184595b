"""Max, average and adaptive pooling (functional and layers) against PyTorch 2.13 and central differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import shenjing as sj
import shenjing.nn.functional as F
from shenjing import nn
from helpers import assert_close, check_op

RNG = np.random.default_rng(7)


def randn(*shape):
    return RNG.standard_normal(shape)


def distinct(*shape):
    """Values without ties (a max-pool's gradient is then unambiguous for central differences)."""
    return RNG.permutation(np.prod(shape)).reshape(shape) * 0.1 + 0.01 * RNG.standard_normal(shape)


# -- max pooling -----------------------------------------------------------------------------------

MAX_POOL2D_CASES = [
    ((2, 3, 8, 8), dict(kernel_size=2)),  # the 2x2 / stride-2 fast path
    ((2, 3, 7, 9), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 6, 6), dict(kernel_size=2, stride=2, ceil_mode=True)),  # ceil adds nothing: 6 = 3 * 2
    ((1, 2, 5, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),  # last window would start in the padding
    ((2, 2, 9, 8), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(2, 1))),
    ((2, 2, 10, 7), dict(kernel_size=3, stride=1, dilation=2, ceil_mode=True)),
    ((3, 5, 10), dict(kernel_size=(5, 1))),  # an unbatched (C, H, W) input, as in the course
]


@pytest.mark.parametrize("shape, kwargs", MAX_POOL2D_CASES)
def test_max_pool2d_matches_torch(shape, kwargs):
    check_op(lambda x: F.max_pool2d(x, **kwargs), lambda x: TF.max_pool2d(x, **kwargs), distinct(*shape))


@pytest.mark.parametrize("shape, kwargs", MAX_POOL2D_CASES)
def test_max_pool2d_indices_match_torch(shape, kwargs):
    x = distinct(*shape).astype(np.float32)
    values, indices = F.max_pool2d(sj.tensor(x), return_indices=True, **kwargs)
    expected_values, expected_indices = TF.max_pool2d(torch.tensor(x), return_indices=True, **kwargs)
    assert indices.dtype == sj.int64
    assert np.array_equal(values.numpy(), expected_values.numpy())
    assert np.array_equal(indices.numpy(), expected_indices.numpy())


def test_max_pool_gradient_goes_to_the_first_maximum_on_ties():
    x_np = np.round(RNG.standard_normal((2, 2, 7, 7)))  # many ties
    x_np[0, 0] = 1.0  # a plane of equal values
    for kwargs in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=3, stride=2)):
        x, x_t = sj.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        F.max_pool2d(x, **kwargs).sum().backward()
        TF.max_pool2d(x_t, **kwargs).sum().backward()
        assert np.array_equal(x.grad.numpy(), x_t.grad.numpy()), kwargs


def test_max_pool_propagates_nan_like_torch():
    x_np = randn(1, 1, 4, 4)
    x_np[0, 0, 1, 2] = np.nan
    values = F.max_pool2d(sj.tensor(x_np), 2).numpy()
    expected = TF.max_pool2d(torch.tensor(x_np), 2).numpy()
    assert np.array_equal(np.isnan(values), np.isnan(expected)) and np.isnan(values[0, 0, 0, 1])
    assert_close(values[~np.isnan(values)], expected[~np.isnan(expected)])


def test_max_pool_of_integers():
    x = RNG.integers(-50, 50, (1, 2, 5, 6))
    assert np.array_equal(F.max_pool2d(sj.tensor(x), 2, padding=1).numpy(),
                          TF.max_pool2d(torch.tensor(x), 2, padding=1).numpy())


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 11), dict(kernel_size=3)),
    ((2, 3, 11), dict(kernel_size=4, stride=3, padding=2, dilation=1, ceil_mode=True)),
    ((3, 12), dict(kernel_size=2, stride=1, dilation=3)),
])
def test_max_pool1d_matches_torch(shape, kwargs):
    check_op(lambda x: F.max_pool1d(x, **kwargs), lambda x: TF.max_pool1d(x, **kwargs), distinct(*shape))
    x = distinct(*shape).astype(np.float32)
    _, indices = F.max_pool1d(sj.tensor(x), return_indices=True, **kwargs)
    assert np.array_equal(indices.numpy(), TF.max_pool1d(torch.tensor(x), return_indices=True, **kwargs)[1].numpy())


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_pool_random_configurations(data):
    k = (data.draw(st.integers(1, 4), "KH"), data.draw(st.integers(1, 4), "KW"))
    s = (data.draw(st.integers(1, 3), "SH"), data.draw(st.integers(1, 3), "SW"))
    p = (data.draw(st.integers(0, k[0] // 2), "PH"), data.draw(st.integers(0, k[1] // 2), "PW"))
    ceil_mode = data.draw(st.booleans(), "ceil_mode")
    h = data.draw(st.integers(max(1, k[0] - 2 * p[0]), 9), "H")
    w = data.draw(st.integers(max(1, k[1] - 2 * p[1]), 9), "W")
    x = distinct(2, 2, h, w)
    check_op(lambda x: F.max_pool2d(x, k, s, p, ceil_mode=ceil_mode),
             lambda x: TF.max_pool2d(x, k, s, p, ceil_mode=ceil_mode), x, numeric=False, dtypes=(np.float64,))
    include = data.draw(st.booleans(), "count_include_pad")
    check_op(lambda x: F.avg_pool2d(x, k, s, p, ceil_mode, include),
             lambda x: TF.avg_pool2d(x, k, s, p, ceil_mode, include), x, numeric=False, dtypes=(np.float64,))


# -- average pooling -------------------------------------------------------------------------------

AVG_POOL2D_CASES = [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 3, 7, 9), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 7, 9), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((1, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ((1, 2, 5, 6), dict(kernel_size=(2, 3), stride=(2, 2), ceil_mode=True)),  # windows run past the input
    ((1, 2, 6, 7), dict(kernel_size=3, stride=1, padding=1, divisor_override=4)),
    ((3, 7, 7), dict(kernel_size=2, stride=2)),
]


@pytest.mark.parametrize("shape, kwargs", AVG_POOL2D_CASES)
def test_avg_pool2d_matches_torch(shape, kwargs):
    check_op(lambda x: F.avg_pool2d(x, **kwargs), lambda x: TF.avg_pool2d(x, **kwargs), randn(*shape))


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 10), dict(kernel_size=3)),
    ((2, 3, 10), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False)),
    ((3, 9), dict(kernel_size=2, stride=1, padding=1)),
])
def test_avg_pool1d_matches_torch(shape, kwargs):
    check_op(lambda x: F.avg_pool1d(x, **kwargs), lambda x: TF.avg_pool1d(x, **kwargs), randn(*shape))


def test_pooling_double_backward_matches_torch():
    x_np = distinct(1, 2, 7, 6)
    pools = [(lambda f, x: f.max_pool2d(x, 3, 2, 1)), (lambda f, x: f.avg_pool2d(x, 3, 2, 1, True, False)),
             (lambda f, x: f.adaptive_max_pool2d(x, (3, 4))), (lambda f, x: f.adaptive_avg_pool2d(x, (4, 4)))]
    for pool in pools:
        grads = []
        for lib, functional in ((sj, F), (torch, TF)):
            x = lib.tensor(x_np, requires_grad=True)
            (gx,) = lib.autograd.grad((pool(functional, x) ** 3).sum(), (x,), create_graph=True)
            gx.sin().sum().backward()
            grads.append(x.grad.detach().numpy())
        assert_close(*grads)


# -- adaptive pooling ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, size", [
    ((2, 3, 7, 9), (3, 4)),  # overlapping windows of two lengths
    ((2, 3, 6, 8), (3, 4)),  # divisible: plain 2x2 windows
    ((1, 2, 5, 6), 1),  # global pooling
    ((1, 2, 3, 2), (5, 7)),  # more outputs than inputs: windows repeat inputs
    ((2, 5, 4), (None, 2)),  # None keeps the input size
])
def test_adaptive_pool2d_matches_torch(shape, size):
    check_op(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), randn(*shape))
    check_op(lambda x: F.adaptive_max_pool2d(x, size), lambda x: TF.adaptive_max_pool2d(x, size), distinct(*shape))
    x = distinct(*shape).astype(np.float32)
    _, indices = F.adaptive_max_pool2d(sj.tensor(x), size, return_indices=True)
    assert np.array_equal(indices.numpy(), TF.adaptive_max_pool2d(torch.tensor(x), size, True)[1].numpy())


@pytest.mark.parametrize("shape, size", [((2, 3, 10), 4), ((3, 7), 3), ((1, 2, 3), 5)])
def test_adaptive_pool1d_matches_torch(shape, size):
    check_op(lambda x: F.adaptive_avg_pool1d(x, size), lambda x: TF.adaptive_avg_pool1d(x, size), randn(*shape))
    check_op(lambda x: F.adaptive_max_pool1d(x, size), lambda x: TF.adaptive_max_pool1d(x, size), distinct(*shape))


# -- errors ----------------------------------------------------------------------------------------

def test_pooling_errors():
    with pytest.raises(ValueError, match=r"pad should be at most half of effective kernel size"):
        F.max_pool2d(sj.randn(1, 1, 5, 5), 3, padding=2)
    with pytest.raises(ValueError, match=r"stride must be positive"):
        F.avg_pool2d(sj.randn(1, 1, 5, 5), 2, stride=0)
    with pytest.raises(RuntimeError) as error:
        F.max_pool2d(sj.randn(1, 1, 2, 2), 3)
    assert "⌊(2+2·0−1·(3−1)−1)/3⌋+1 = 0" in str(error.value)
    with pytest.raises(RuntimeError, match=r"got input of size: \[5\]"):
        F.max_pool2d(sj.randn(5), 2)
    with pytest.raises(RuntimeError, match=r"floating-point"):
        F.avg_pool2d(sj.tensor([[[[1, 2], [3, 4]]]]), 2)
    with pytest.raises(ValueError, match=r"output_size must be positive"):
        F.adaptive_avg_pool2d(sj.randn(1, 1, 4, 4), (0, 2))


# -- the layers ------------------------------------------------------------------------------------

LAYERS = [
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", ((2, 2),), dict(stride=2, padding=0), (1, 6, 28, 28)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, dilation=1, ceil_mode=True), (2, 2, 9, 8)),
    ("MaxPool1d", (3,), dict(stride=2), (2, 3, 11)),
    ("AvgPool2d", (3, 1), {}, (2, 3, 7, 7)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 2, 8, 7)),
    ("AvgPool2d", (2,), dict(divisor_override=3), (1, 2, 6, 6)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1), (2, 3, 10)),
    ("AdaptiveAvgPool2d", ((5, 7),), {}, (1, 4, 8, 9)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 5, 5)),
    ("AdaptiveMaxPool2d", ((2, 3),), {}, (1, 4, 7, 9)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 9)),
    ("AdaptiveMaxPool1d", (3,), {}, (2, 3, 8)),
]


@pytest.mark.parametrize("name, args, kwargs, shape", LAYERS)
def test_pool_layers_match_torch(name, args, kwargs, shape):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.parameters()) == [] and dict(ours.state_dict()) == {}
    check_op(ours, theirs, distinct(*shape), numeric=False)


def test_pool_layers_with_indices():
    x = distinct(2, 3, 8, 9).astype(np.float32)
    for ours, theirs in ((nn.MaxPool2d(3, 2, return_indices=True), torch.nn.MaxPool2d(3, 2, return_indices=True)),
                         (nn.AdaptiveMaxPool2d(3, True), torch.nn.AdaptiveMaxPool2d(3, True))):
        values, indices = ours(sj.tensor(x))
        expected_values, expected_indices = theirs(torch.tensor(x))
        assert np.array_equal(values.numpy(), expected_values.numpy())
        assert np.array_equal(indices.numpy(), expected_indices.numpy())


def test_pool_layer_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"MaxPool2d: pad should be at most half"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match=r"AvgPool2d: kernel_size must be positive"):
        nn.AvgPool2d(0)
    with pytest.raises(RuntimeError, match=r"MaxPool2d\(kernel_size=2, stride=2, padding=0, dilation=1, "
                                           r"ceil_mode=False\) expects input \[N, C, H, W\] or \[C, H, W\], got \[8\]"):
        nn.MaxPool2d(2)(sj.randn(8))
    with pytest.raises(RuntimeError, match=r"^MaxPool2d\(kernel_size=3.*output size is too small.*along W"):
        nn.MaxPool2d(3)(sj.randn(1, 1, 6, 2))


# -- the fast max and winner search against the compare-and-replace reference ---------------------

@settings(max_examples=40, deadline=None)
@given(st.data())
def test_running_max_matches_its_reference_with_ties(data):
    from shenjing._ops.pool import running_max as _running_max_reference, tournament_max as _running_max

    k = data.draw(st.integers(1, 9), "windows")
    shape = (2, 3, data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    # few distinct values, so that ties (several windows holding the max) are common
    windows = [RNG.integers(-2, 3, shape).astype(np.float32) for _ in range(k)]
    if data.draw(st.booleans(), "with NaN"):
        windows[data.draw(st.integers(0, k - 1))][0, 0, 0, 0] = np.nan
    best, argmax = _running_max(windows, keep_argmax=True)
    expected_best, expected_argmax = _running_max_reference(windows, keep_argmax=True)
    np.testing.assert_array_equal(best, expected_best)
    np.testing.assert_array_equal(argmax, expected_argmax)


def test_max_pool_gradient_with_non_finite_upstream_goes_only_to_the_winners():
    # gy * mask would turn inf * 0 into NaN at the losing positions: the masked copy keeps them 0
    x = sj.tensor(distinct(1, 1, 4, 4), requires_grad=True)
    y = F.max_pool2d(x, 2)
    gy = np.array([[[[np.inf, 1.0], [np.nan, -np.inf]]]])
    (gx,) = sj.autograd.grad(y, x, sj.tensor(gy))
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    (expected,) = torch.autograd.grad(TF.max_pool2d(xt, 2), xt, torch.tensor(gy))
    np.testing.assert_array_equal(np.isnan(gx.numpy()), np.isnan(expected.numpy()))
    np.testing.assert_array_equal(np.nan_to_num(gx.numpy()), np.nan_to_num(expected.numpy()))


# -- exact agreement with PyTorch: ties, NaN and inf, every branch of the max-pool's fast paths ------

def _special_values(rng, shape):
    """Rounded normals (many ties) with a plane of zeros, a plane of one value, NaN, +inf and -inf,
    a window of two NaNs (PyTorch: the last NaN wins) and a window of -inf only."""
    x = np.round(rng.standard_normal(shape))
    x[0, 0] = 0.0
    if shape[1] > 1:
        x[0, 1] = 2.5
    x[-1, -1, 0, 0] = x[-1, -1, 1, 1] = np.nan
    x[-1, -1, 0, 1] = np.inf
    x[-1, -1, 2:4, 2:4] = -np.inf
    x[0, -1, -1, -1] = np.nan
    x[0, -1, 1, 0] = -np.inf
    return x


# name: (input shape, keyword arguments); the comment says which branch of MaxPoolScatter it takes
EXACT_MAX_POOL_CASES = {
    "tiled 2x2": ((2, 3, 8, 10), dict(kernel_size=2)),  # _tiled: no zero fill, no crop
    "tiled 2x2 N=1": ((1, 6, 6, 6), dict(kernel_size=2)),
    "tiled 3x3": ((1, 2, 9, 6), dict(kernel_size=3)),  # 9 windows: an odd player in the tournament
    "odd sizes": ((2, 2, 7, 9), dict(kernel_size=2)),  # the last row and column are in no window
    "ceil_mode": ((1, 3, 7, 9), dict(kernel_size=2, ceil_mode=True)),  # windows past the input: crop
    "padding": ((2, 2, 6, 7), dict(kernel_size=2, padding=1)),  # disjoint windows in the padding
    "stride > kernel": ((2, 2, 9, 8), dict(kernel_size=2, stride=3)),
    "dilation": ((1, 2, 8, 9), dict(kernel_size=2, stride=(2, 3), dilation=(1, 2))),
    "rectangular": ((2, 2, 8, 9), dict(kernel_size=(2, 3), stride=(2, 3))),
    "overlapping": ((2, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1)),  # _add_windows
    "stride 1 dilated": ((1, 2, 7, 7), dict(kernel_size=2, stride=1, dilation=2, ceil_mode=True)),
}


def _max_pool_both(x_np, kwargs, upstream, transpose=False):
    """Values, indices and input gradients of shenjing and of PyTorch for the same input and dy."""
    results = []
    for lib, functional in ((sj, F), (torch, TF)):
        x = lib.tensor(x_np, requires_grad=True)
        source = x.transpose(2, 3) if transpose else x  # a non-contiguous input
        values, indices = functional.max_pool2d(source, return_indices=True, **kwargs)
        (grad,) = lib.autograd.grad(values, x, lib.tensor(upstream))
        results.append((values.detach().numpy(), indices.numpy(), grad.numpy()))
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("values", ["ties and non-finite", "distinct"])
@pytest.mark.parametrize("case", list(EXACT_MAX_POOL_CASES))
def test_max_pool_matches_torch_exactly(case, values, dtype):
    shape, kwargs = EXACT_MAX_POOL_CASES[case]
    rng = np.random.default_rng(11)
    if values == "distinct":
        x = (rng.permutation(np.prod(shape)).reshape(shape) * 0.1).astype(dtype)
    else:
        x = _special_values(rng, shape).astype(dtype)
    out_shape = TF.max_pool2d(torch.tensor(x), **kwargs).shape
    upstreams = [rng.standard_normal(out_shape).astype(dtype)]
    with_non_finite = upstreams[0].copy()  # a NaN or inf dy must reach the winner only
    with_non_finite.reshape(-1)[:3] = (np.nan, np.inf, -np.inf)
    upstreams.append(with_non_finite)
    overlapping = case in ("overlapping", "stride 1 dilated")
    for upstream in upstreams:
        (values_sj, indices_sj, grad_sj), (values_t, indices_t, grad_t) = _max_pool_both(x, kwargs, upstream)
        np.testing.assert_array_equal(values_sj, values_t)  # NaN equals NaN here
        np.testing.assert_array_equal(indices_sj, indices_t)
        if overlapping:  # a pixel that wins several windows adds their dy up, maybe in another order
            assert_close(grad_sj, grad_t, dtype, "gradient")
        else:
            np.testing.assert_array_equal(grad_sj, grad_t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_of_non_contiguous_input_matches_torch(dtype):
    rng = np.random.default_rng(12)
    x = _special_values(rng, (2, 3, 10, 8)).astype(dtype)
    upstream = rng.standard_normal((2, 3, 4, 5)).astype(dtype)
    (values_sj, indices_sj, grad_sj), (values_t, indices_t, grad_t) = _max_pool_both(
        x, dict(kernel_size=2), upstream, transpose=True)
    np.testing.assert_array_equal(values_sj, values_t)
    np.testing.assert_array_equal(indices_sj, indices_t)
    np.testing.assert_array_equal(grad_sj, grad_t)


def test_max_pool_second_derivative_with_ties_matches_torch():
    x_np = _special_values(np.random.default_rng(13), (1, 2, 6, 6))
    x_np[np.isnan(x_np) | np.isinf(x_np)] = 1.0  # finite, but with ties
    grads = []
    for lib, functional in ((sj, F), (torch, TF)):
        x = lib.tensor(x_np, requires_grad=True)
        (gx,) = lib.autograd.grad((functional.max_pool2d(x, 2) ** 2).sum(), (x,), create_graph=True)
        (ggx,) = lib.autograd.grad((gx * gx).sum(), (x,))
        grads.append((gx.detach().numpy(), ggx.numpy()))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 8, 9, 130])  # 130 windows: an int32 argmax
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_running_max_tournament_matches_its_reference(count, dtype):
    from shenjing._ops.pool import running_max as _running_max_reference, tournament_max as _running_max

    shape, rng = (2, 3, 4, 5), np.random.default_rng(count)
    windows = [rng.integers(-2, 3, shape).astype(dtype) for _ in range(count)]
    if dtype != np.int64:
        windows[0][0, 0, 0, 0] = windows[-1][0, 0, 0, 0] = np.nan  # two NaNs: the last one wins
        windows[count // 2][1, 2, 3, 4] = np.inf
        windows[-1][1, 0, 0, 0] = -np.inf
    best, argmax = _running_max(windows, keep_argmax=True)
    expected_best, expected_argmax = _running_max_reference(windows, keep_argmax=True)
    np.testing.assert_array_equal(best, expected_best)
    np.testing.assert_array_equal(argmax, expected_argmax)
    if dtype == np.int64:  # (where a NaN won, the reference's int32 argmax is returned)
        assert argmax.dtype == (np.int8 if count <= 127 else np.int32)
    best_only, none = _running_max(windows, keep_argmax=False)
    np.testing.assert_array_equal(best_only, expected_best)
    assert none is None
    stacked = np.stack(windows)
    winner = np.take_along_axis(stacked, argmax.astype(np.int64)[None], 0)[0]
    np.testing.assert_array_equal(winner, best)  # the chosen window holds the max
    if dtype == np.int64:
        np.testing.assert_array_equal(best, stacked.max(0))
        np.testing.assert_array_equal(argmax, stacked.argmax(0))  # NumPy's argmax: the first maximum


# -- every max-pool kernel against its reference and PyTorch; geometry read on every call -----------

@pytest.mark.parametrize("max_name", ["reference", "tournament"])
@pytest.mark.parametrize("scatter_name", ["reference", "disjoint"])
@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=3, padding=1),
                                    dict(kernel_size=2, stride=3, dilation=1, ceil_mode=True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_max_pool_kernel_matches_the_reference_and_torch(max_name, scatter_name, kwargs, dtype):
    from shenjing._ops import pool

    g = pool.PoolGeometry(*(((kwargs["kernel_size"],) * 2, (kwargs.get("stride", kwargs["kernel_size"]),) * 2,
                            (kwargs.get("padding", 0),) * 2, (1, 1), kwargs.get("ceil_mode", False))))
    x_np = distinct(2, 3, 7, 8).astype(dtype)
    padded = pool._padded(x_np, g, -np.inf)
    out, _ = pool.layout(x_np.shape[2:], g)
    views = pool.windows(padded, g, out)
    best, argmax = pool.MAX_KERNELS[max_name](views, True)
    ref_best, ref_argmax = pool.running_max(views, True)
    np.testing.assert_array_equal(best, ref_best)
    np.testing.assert_array_equal(argmax, ref_argmax)
    gy = randn(*best.shape).astype(dtype)
    dx = np.zeros(padded.shape, dtype)
    pool.SCATTER_KERNELS[scatter_name](gy, argmax, pool.windows(dx, g, out))
    ref_dx = np.zeros(padded.shape, dtype)
    pool.scatter_to_winners(gy, ref_argmax, pool.windows(ref_dx, g, out))
    np.testing.assert_array_equal(dx, ref_dx)
    xt = torch.tensor(x_np, requires_grad=True)
    yt = TF.max_pool2d(xt, **kwargs)
    yt.backward(torch.tensor(gy))
    np.testing.assert_array_equal(best, yt.detach().numpy())
    (ph, pw) = g.padding
    np.testing.assert_array_equal(dx[:, :, ph:ph + 7, pw:pw + 8], xt.grad.numpy())


def test_pool_layer_attributes_changed_after_a_call_are_used_like_torch():
    x_np = distinct(2, 3, 12, 12)
    ours, theirs = nn.MaxPool2d(2), torch.nn.MaxPool2d(2)
    for change in (None, ("kernel_size", 3), ("stride", 3), ("padding", 1), ("dilation", 2), ("ceil_mode", True)):
        if change is not None:
            setattr(ours, *change)
            setattr(theirs, *change)
        x = sj.tensor(x_np, requires_grad=True)
        xt = torch.tensor(x_np, requires_grad=True)
        y, yt = ours(x), theirs(xt)
        assert tuple(y.shape) == tuple(yt.shape)
        np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())
        y.sum().backward()
        yt.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())
    avg, avg_t = nn.AvgPool2d(2), torch.nn.AvgPool2d(2)
    avg(sj.tensor(x_np))
    avg.kernel_size = avg_t.kernel_size = 3
    np.testing.assert_allclose(avg(sj.tensor(x_np)).numpy(), avg_t(torch.tensor(x_np)).numpy(), rtol=1e-12)
    pool = nn.MaxPool2d(2)
    pool(sj.randn(1, 1, 6, 6))
    pool.kernel_size = 7
    with pytest.raises(RuntimeError, match=r"^MaxPool2d\(kernel_size=7.*output size is too small"):
        pool(sj.randn(1, 1, 6, 6))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_global_average_pool_matches_torch_with_double_backward(dtype):
    x_np = randn(3, 4, 5, 6).astype(dtype)
    x, xt = sj.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y = nn.Flatten()(nn.AdaptiveAvgPool2d(1)(x))
    yt = torch.nn.Flatten()(torch.nn.AdaptiveAvgPool2d(1)(xt))
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    w = randn(*y.shape).astype(dtype)
    (gx,) = sj.autograd.grad((y * y * sj.tensor(w)).sum(), (x,), create_graph=True)
    (gxt,) = torch.autograd.grad((yt * yt * torch.tensor(w)).sum(), (xt,), create_graph=True)
    np.testing.assert_allclose(gx.detach().numpy(), gxt.detach().numpy(), rtol=1e-5, atol=1e-6)
    (ggx,) = sj.autograd.grad((gx * gx).sum(), (x,))
    (ggxt,) = torch.autograd.grad((gxt * gxt).sum(), (xt,))
    np.testing.assert_allclose(ggx.numpy(), ggxt.numpy(), rtol=1e-5, atol=1e-6)
