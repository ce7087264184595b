"""Every registered max-pool algorithm against its reference, and pooling layers that follow their attributes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing._ops import pool

MAX_CASES = {  # window count, window shape, what the values hold
    "one": (1, (2, 3, 4, 4), "normal"),
    "two": (2, (2, 3, 4, 4), "normal"),
    "four": (4, (2, 3, 5, 5), "normal"),
    "nine-ties": (9, (2, 2, 3, 3), "ties"),
    "five-nan": (5, (1, 2, 3, 3), "nan"),
    "odd-inf": (7, (2, 1, 4, 2), "inf"),
}


def _windows(count, shape, kind, dtype, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((count,) + shape).astype(dtype)
    if kind == "ties":
        values = np.round(values).astype(dtype)  # many equal maxima: the first must win
    elif kind == "nan":
        values[rng.random(values.shape) < 0.1] = np.nan
    elif kind == "inf":
        values[rng.random(values.shape) < 0.1] = -np.inf
        values[rng.random(values.shape) < 0.05] = np.inf
    return [values[k] for k in range(count)]


@pytest.mark.parametrize("kernel", list(pool.MAX_KERNELS))
@pytest.mark.parametrize("case", list(MAX_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_max_kernel_gives_the_references_max_and_winner(kernel, case, dtype):
    windows = _windows(*MAX_CASES[case], dtype)
    expected, expected_argmax = pool.running_max(windows, True)
    best, argmax = pool.MAX_KERNELS[kernel](windows, True)
    np.testing.assert_array_equal(best, expected)
    np.testing.assert_array_equal(argmax, expected_argmax)
    alone, none = pool.MAX_KERNELS[kernel](windows, False)
    assert none is None
    np.testing.assert_array_equal(alone, expected)
    assert all(w is not best for w in windows)  # a new array, not an input window


@pytest.mark.parametrize("kernel", list(pool.SCATTER_KERNELS))
@pytest.mark.parametrize("finite", [True, False])
def test_every_scatter_kernel_gives_the_references_gradient_on_disjoint_windows(kernel, finite):
    g = pool.PoolGeometry(kernel=(2, 2), stride=(2, 2), padding=(0, 0))
    assert pool.disjoint(g)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    _, argmax = pool.running_max(pool.windows(x, g, (3, 3)), True)
    gy = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    if not finite:
        gy[0, 0, 0, 0], gy[1, 2, 1, 1] = np.nan, np.inf
    expected, got = np.zeros_like(x), np.zeros_like(x)
    pool.scatter_to_winners(gy, argmax, pool.windows(expected, g, (3, 3)))
    pool.SCATTER_KERNELS[kernel](gy, argmax, pool.windows(got, g, (3, 3)))
    np.testing.assert_array_equal(got, expected)


def test_the_kernel_choice_is_a_function_of_the_geometry():
    assert pool.MAX_KERNELS[pool.max_kernel(4)] is not None and pool.max_kernel(4) == pool.max_kernel(4)
    overlapping = pool.PoolGeometry(kernel=(3, 3), stride=(2, 2), padding=(1, 1))
    assert pool.scatter_kernel(overlapping) == "reference"  # overlapping windows must add, not write


@pytest.mark.parametrize("change", [{"kernel_size": 3, "padding": 1}, {"stride": 1}, {"ceil_mode": True},
                                    {"dilation": 2}], ids=lambda c: ",".join(c))
def test_a_pooling_layer_uses_the_attributes_it_has_when_called(change):
    x = np.random.default_rng(2).standard_normal((2, 3, 9, 9))
    ours, theirs = sj.nn.MaxPool2d(2), torch.nn.MaxPool2d(2)
    ours(sj.tensor(x))  # a first call with the geometry from construction
    for layer in (ours, theirs):
        for name, value in change.items():
            setattr(layer, name, value)
    xs, xt = sj.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    assert tuple(ys.shape) == tuple(yt.shape)
    np.testing.assert_allclose(ys.detach().numpy(), yt.detach().numpy())
    (ys * ys).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy())


def test_an_average_pool_follows_its_attributes_too():
    x = np.random.default_rng(3).standard_normal((1, 2, 8, 8))
    ours, theirs = sj.nn.AvgPool2d(2), torch.nn.AvgPool2d(2)
    ours(sj.tensor(x))
    for layer in (ours, theirs):
        layer.kernel_size, layer.stride = 3, 1
    np.testing.assert_allclose(ours(sj.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-12)
