"""Every registered convolution algorithm (``shenjing._ops.kernels.conv.ALGORITHMS``), called directly, against
the reference (``shenjing._ops.conv.IM2COL``) and PyTorch: forward and every gradient in float32 and
float64, central differences, second order, over a grid of geometries."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import shenjing as sj
from shenjing._ops.conv import IM2COL, Conv2d, ConvGeometry
from shenjing._ops.kernels.conv import ALGORITHMS, choose
from helpers import assert_close, check_op

RNG = np.random.default_rng(20261207)

# input shape, weight shape, stride, padding ((top, bottom), (left, right)), dilation, groups
GEOMETRIES = [
    ((2, 3, 9, 8), (4, 3, 3, 2), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ((2, 3, 9, 8), (4, 3, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 1),
    ((3, 2, 10, 7), (2, 2, 3, 3), (3, 1), ((2, 2), (0, 0)), (1, 1), 1),  # rows of the padding left over
    ((2, 2, 9, 11), (3, 2, 2, 3), (1, 2), ((0, 0), (2, 2)), (1, 2), 1),  # dilated along W only
    ((1, 3, 6, 6), (5, 3, 1, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),  # one kernel row, batch of one
    ((2, 2, 5, 9), (3, 2, 4, 1), (1, 1), ((0, 0), (0, 0)), (1, 3), 1),  # one kernel column
    ((1, 3, 8, 7), (2, 3, 2, 4), (1, 1), ((0, 1), (1, 2)), (1, 1), 1),  # 'same' for even kernels: uneven
    ((1, 3, 5, 5), (2, 3, 5, 5), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),  # one output pixel
    ((2, 2, 9, 8), (3, 2, 3, 2), (1, 1), ((1, 1), (0, 0)), (2, 1), 1),  # dilated along H
    ((1, 4, 9, 8), (6, 2, 3, 3), (2, 1), ((1, 1), (2, 2)), (2, 1), 2),  # groups, stride, dilation
    ((2, 4, 6, 7), (8, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 4),  # depthwise, channel multiplier 2
    ((1, 1, 28, 28), (6, 1, 5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1), 1),  # LeNet-5's conv1 at batch 1
    ((6, 2, 9, 28), (3, 2, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),  # wide: banded rows, border products
    ((4, 2, 11, 30), (4, 2, 3, 5), (2, 1), ((1, 1), (0, 0)), (1, 1), 1),  # wide and strided along H
]
CASES = [pytest.param(name, case, id=f"{name}-{k}") for name in ALGORITHMS for k, case in enumerate(GEOMETRIES)
         if ALGORITHMS[name].applies(case[0], case[1], ConvGeometry(*case[2:]))]


def _case_rng(case) -> np.random.Generator:
    """The same data for a geometry whichever algorithm runs it and whatever ran before."""
    return np.random.default_rng([20261207, GEOMETRIES.index(case)])


def _torch_conv(x, w, b, stride, padding, dilation, groups):
    (pt, pb), (pl, pr) = padding
    return TF.conv2d(TF.pad(x, (pl, pr, pt, pb)), w, b, stride=stride, dilation=dilation, groups=groups)


def test_every_algorithm_is_tested_and_the_reference_applies_everywhere():
    assert ALGORITHMS["im2col"] is IM2COL and len(ALGORITHMS) >= 2
    for name in ALGORITHMS:
        assert any(name == case.values[0] for case in CASES), name
    assert all(IM2COL.applies(c[0], c[1], ConvGeometry(*c[2:])) for c in GEOMETRIES)


@pytest.mark.parametrize("name, case", CASES)
def test_algorithm_matches_torch_and_central_differences(name, case):
    x_shape, w_shape, stride, padding, dilation, groups = case
    geometry, algorithm, rng = ConvGeometry(stride, padding, dilation, groups), ALGORITHMS[name], _case_rng(case)
    args = (rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0]))
    small = np.prod(x_shape) + np.prod(w_shape) < 700
    check_op(lambda x, w, b: Conv2d(geometry, algorithm)(x, w, b),
             lambda x, w, b: _torch_conv(x, w, b, stride, padding, dilation, groups), *args, numeric=small)


@pytest.mark.parametrize("name, case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_algorithm_equals_the_reference(name, case, dtype):
    # forward, and all three gradients, as the reference computes them (to rounding); also without the bias,
    # with a frozen weight (no patches kept) and under no_grad
    x_shape, w_shape, stride, padding, dilation, groups = case
    geometry, algorithm = ConvGeometry(stride, padding, dilation, groups), ALGORITHMS[name]
    arrays = [RNG.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, (w_shape[0],))]
    upstream = None
    results = []
    for algo in (algorithm, IM2COL):
        for frozen, bias in ((False, True), (True, False)):
            x, w, b = (sj.tensor(a, requires_grad=True) for a in arrays)
            w.requires_grad_(not frozen)
            y = Conv2d(geometry, algo)(x, w, b if bias else None)
            upstream = RNG.standard_normal(tuple(y.shape)).astype(dtype) if upstream is None else upstream
            inputs = (x, b) if frozen else (x, w, b)
            grads = sj.autograd.grad(y, inputs, sj.tensor(upstream), allow_unused=True)
            with sj.no_grad():
                inference = Conv2d(geometry, algo)(x, w, b)
            assert y.dtype == x.dtype and all(g is None or g.dtype == x.dtype for g in grads)
            results.append([y.detach().numpy(), inference.numpy()] + [None if g is None else g.numpy() for g in grads])
    half = len(results) // 2
    for actual_run, expected_run in zip(results[:half], results[half:]):
        for actual, expected in zip(actual_run, expected_run):
            if expected is None:
                assert actual is None or not actual.any()
            else:
                assert_close(actual, expected, dtype)


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_algorithm_second_order_matches_torch(name):
    for x_shape, w_shape, stride, padding, dilation, groups in GEOMETRIES:
        geometry, algorithm = ConvGeometry(stride, padding, dilation, groups), ALGORITHMS[name]
        if not algorithm.applies(x_shape, w_shape, geometry) or np.prod(x_shape) > 1000:
            continue
        arrays = [RNG.standard_normal(s) for s in (x_shape, w_shape, (w_shape[0],))]

        def run(lib, conv):
            x, w, b = (lib.tensor(a, requires_grad=True) for a in arrays)
            y = conv(x, w, b)
            gx, gw, gb = lib.autograd.grad((y * y).sum(), (x, w, b), create_graph=True)
            ((gx ** 3).sum() + (gw * gw.sin()).sum() + (gb ** 3).sum()).backward()
            return [t.grad.detach().numpy() for t in (x, w, b)]

        expected = run(torch, lambda x, w, b: _torch_conv(x, w, b, stride, padding, dilation, groups))
        for actual, wanted in zip(run(sj, lambda x, w, b: Conv2d(geometry, algorithm)(x, w, b)), expected):
            assert_close(actual, wanted)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_banded_rows_keep_an_inf_or_nan_in_the_outputs_that_see_it(bad):
    # the banded weight's zeros times inf would be NaN: the outputs whose windows miss it stay finite
    x = RNG.standard_normal((6, 2, 9, 28))
    x[0, 1, 4, 5] = bad
    w = RNG.standard_normal((3, 2, 3, 3))
    geometry = ConvGeometry((1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    expected = _torch_conv(torch.tensor(x), torch.tensor(w), None, (1, 1), geometry.padding, (1, 1), 1).numpy()
    actual = Conv2d(geometry, ALGORITHMS["rows"])(sj.tensor(x), sj.tensor(w)).numpy()
    np.testing.assert_array_equal(np.isfinite(actual), np.isfinite(expected))
    np.testing.assert_allclose(actual[np.isfinite(actual)], expected[np.isfinite(expected)], rtol=1e-10, atol=1e-10)


@pytest.mark.filterwarnings("ignore:invalid value encountered in matmul:RuntimeWarning")
@pytest.mark.parametrize("name", list(ALGORITHMS))
@pytest.mark.parametrize("bad", [np.inf, np.nan])
@pytest.mark.parametrize("where", ["x", "w"])
def test_an_inf_or_nan_reaches_only_the_values_and_gradients_that_see_it(name, bad, where):
    # as in PyTorch. The traps: zero rows of a padded dY times an inf weight (the row windows' input gradient),
    # and whole-rows' products past OW, which read the next sample's first columns
    rng = np.random.default_rng(7)
    x, w, gy = rng.standard_normal((3, 2, 6, 9)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal((3, 4, 6, 9))
    if where == "x":
        x[1, 0, 2, 0] = bad  # the first column of sample 1
    else:
        w[2, 1, 0, 2] = bad
    geometry = ConvGeometry((1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = _torch_conv(tx, tw, None, (1, 1), geometry.padding, (1, 1), 1)
    ty.backward(torch.tensor(gy))
    sx, sw = sj.tensor(x, requires_grad=True), sj.tensor(w, requires_grad=True)
    sy = Conv2d(geometry, ALGORITHMS[name])(sx, sw, None)
    sy.backward(sj.tensor(gy))
    for actual, expected in ((sy, ty), (sx.grad, tx.grad), (sw.grad, tw.grad)):
        actual, expected = actual.detach().numpy(), expected.detach().numpy()
        np.testing.assert_array_equal(np.isfinite(actual), np.isfinite(expected))
        finite = np.isfinite(expected)
        np.testing.assert_allclose(actual[finite], expected[finite], rtol=1e-10, atol=1e-10)


def test_choose_is_a_function_of_shapes_and_geometry():
    f32, lenet = np.dtype(np.float32), ConvGeometry((1, 1), ((2, 2), (2, 2)), (1, 1), 1)
    plain = ConvGeometry((1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    assert choose((64, 6, 14, 14), (16, 6, 5, 5), f32, plain) is ALGORITHMS["rows"]  # LeNet-5's conv2
    assert choose((64, 1, 28, 28), (6, 1, 5, 5), f32, lenet) is ALGORITHMS["samples"]  # conv1: 25 patch rows
    assert choose((1, 6, 14, 14), (16, 6, 5, 5), f32, plain) is ALGORITHMS["samples"]  # a batch of one
    # PyTorch's MNIST example's conv2 (a 24-pixel-wide output): the row windows with each row's pixels innermost,
    # over whole rows where the stride along W is 1
    assert choose((64, 32, 26, 26), (64, 32, 3, 3), f32, plain) is ALGORITHMS["whole-rows"]
    same = ConvGeometry((1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert choose((64, 16, 16, 16), (32, 16, 3, 3), f32, same) is ALGORITHMS["whole-rows"]  # 16 wide
    assert choose((64, 32, 8, 8), (64, 32, 3, 3), f32, same) is ALGORITHMS["rows"]  # 8 wide
    wide_pad = ConvGeometry((1, 1), ((2, 2), (2, 2)), (1, 1), 1)  # rows 20 padded for 16 outputs: "rows"
    assert choose((64, 16, 16, 16), (32, 16, 5, 5), f32, wide_pad) is ALGORITHMS["rows"]
    assert choose((64, 16, 26, 26), (32, 16, 5, 5), f32, wide_pad) is ALGORITHMS["wide-rows"]  # 30 for 26
    strided_w = ConvGeometry((1, 2), ((0, 0), (0, 0)), (1, 1), 1)
    assert choose((64, 32, 26, 60), (64, 32, 3, 3), f32, strided_w) is ALGORITHMS["wide-rows"]
    assert choose((64, 32, 26, 36), (64, 32, 3, 3), f32, strided_w) is ALGORITHMS["rows"]  # 17 wide, strided
    depthwise = ConvGeometry((1, 1), ((1, 1), (1, 1)), (1, 1), 4)
    assert choose((2, 4, 6, 7), (8, 1, 3, 3), f32, depthwise) is ALGORITHMS["samples"]
    dilated = ConvGeometry((1, 1), ((0, 0), (0, 0)), (2, 1), 1)
    assert choose((8, 8, 9, 8), (3, 8, 3, 2), f32, dilated) is ALGORITHMS["samples"]
    assert choose((0, 8, 9, 8), (3, 8, 3, 2), f32, plain) is ALGORITHMS["samples"]  # an empty batch
    for _ in range(2):  # the same answer every time, whatever ran before
        assert choose((64, 6, 14, 14), (16, 6, 5, 5), np.dtype(np.float64), plain) is ALGORITHMS["rows"]


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_every_algorithm_equals_the_reference_on_random_geometries(data):
    kh, kw = data.draw(st.integers(1, 4), "KH"), data.draw(st.integers(1, 4), "KW")
    stride = (data.draw(st.integers(1, 3), "SH"), data.draw(st.integers(1, 3), "SW"))
    dilation = (data.draw(st.integers(1, 2), "DH"), data.draw(st.integers(1, 2), "DW"))
    pads = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in "HW")
    groups = data.draw(st.sampled_from([1, 1, 2]), "groups")
    h = data.draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - sum(pads[0])), 9), "H")
    w = data.draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - sum(pads[1])), 12), "W")
    n = data.draw(st.integers(1, 9), "N")
    c, o = groups * data.draw(st.integers(1, 3), "C/g"), groups * data.draw(st.integers(1, 4), "O/g")
    dtype = data.draw(st.sampled_from([np.float32, np.float64]), "dtype")
    geometry = ConvGeometry(stride, pads, dilation, groups)
    x, weight = RNG.standard_normal((n, c, h, w)).astype(dtype), RNG.standard_normal((o, c // groups, kh, kw))
    weight, b = weight.astype(dtype), RNG.standard_normal(o).astype(dtype)
    expected_y, expected_patches = IM2COL.forward(x, weight, b, geometry, True)
    gy = RNG.standard_normal(expected_y.shape).astype(dtype)
    expected = IM2COL.gradients(gy, x, weight, geometry, expected_patches, (True, True, True))
    for name, algorithm in ALGORITHMS.items():
        if not algorithm.applies(x.shape, weight.shape, geometry):
            continue
        y, patches = algorithm.forward(x, weight, b, geometry, True)
        assert y.dtype == dtype and y.flags.c_contiguous
        assert_close(y, expected_y, dtype, f"{name}: forward")
        for what, actual, wanted in zip(("dx", "dW", "db"), algorithm.gradients(gy, x, weight, geometry, patches,
                                                                                 (True, True, True)), expected):
            assert actual.dtype == dtype and actual.flags.c_contiguous
            assert_close(actual, wanted, dtype, f"{name}: {what}")
        assert_close(algorithm.input_grad(gy, weight, x.shape, geometry), expected[0], dtype, f"{name}: dx alone")
        assert_close(algorithm.weight_grad(x, gy, weight.shape, geometry), expected[1], dtype, f"{name}: dW alone")
