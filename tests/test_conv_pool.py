"""The fused convolution + max-pool (``ConvMaxPool2d``, what ``shenjing.compile`` puts in place of the two
ops): its value and every gradient equal the two eager ops bit for bit, over geometries, ties, NaNs and
odd sizes, and agree with PyTorch; and the compile rule uses it only where it applies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing
from shenjing import nn
from shenjing._ops.conv import Conv2d, ConvGeometry
from shenjing._ops.conv_pool import ConvMaxPool2d
from shenjing._ops.kernels import conv_pool
from shenjing._ops.kernels.conv import ROWS, SAMPLES, WHOLE_ROWS, WIDE_ROWS
from shenjing._ops.pool import MaxPool2d, PoolGeometry

RNG = np.random.default_rng(7)

# input shape, weight shape, conv stride, padding ((top, bottom), (left, right)), dilation, pool kernel
CASES = [
    ((4, 6, 14, 14), (16, 6, 5, 5), (1, 1), ((0, 0), (0, 0)), (1, 1), (2, 2)),  # LeNet-5's conv2
    ((3, 3, 12, 12), (6, 3, 5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1), (2, 2)),  # padded
    ((2, 4, 11, 13), (5, 4, 3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), (2, 2)),  # odd outputs: floor mode
    ((2, 3, 13, 12), (4, 3, 2, 3), (1, 2), ((1, 0), (0, 1)), (1, 2), (3, 2)),  # strided and dilated along W
    ((5, 2, 9, 9), (3, 2, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), (3, 3)),  # 3x3 windows
    ((2, 8, 10, 10), (4, 8, 3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 2)),  # uneven windows
]


def _inputs(case, dtype=np.float32, integers=False):
    x_shape, w_shape = case[:2]
    draw = (lambda shape: RNG.integers(-2, 3, shape)) if integers else RNG.standard_normal
    return (draw(x_shape).astype(dtype), draw(w_shape).astype(dtype), draw(w_shape[0]).astype(dtype))


def _two_ops(x, w, b, geometry, kernel, algorithm=ROWS):
    pooled = MaxPool2d(PoolGeometry(kernel, kernel, (0, 0)))
    return pooled(Conv2d(geometry, algorithm)(x, w, b))


def _run(make, arrays, needs):
    """(y, the gradients of sum(y * weights)), the weights drawn with a fixed seed."""
    tensors = [shenjing.tensor(a, requires_grad=need) for a, need in zip(arrays, needs)]
    y = make(*tensors)
    weights = shenjing.tensor(np.random.default_rng(1).standard_normal(y.shape).astype(arrays[0].dtype))
    (y * weights).sum().backward()
    return y.detach().numpy(), [None if t.grad is None else t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("integers", [False, True], ids=["normal", "ties"])
@pytest.mark.parametrize("needs", [(True, True, True), (False, True, True), (True, False, False)],
                         ids=["all", "first layer", "input only"])
@pytest.mark.parametrize("case", CASES, ids=[str(k) for k in range(len(CASES))])
@pytest.mark.parametrize("algorithm", [ROWS, WIDE_ROWS, WHOLE_ROWS], ids=lambda a: a.name)
def test_fused_equals_the_two_ops_bit_for_bit(case, needs, integers, algorithm):
    geometry, kernel = ConvGeometry(*case[2:5]), case[5]
    assert conv_pool.applies(algorithm, geometry, case[0], case[1], kernel)
    arrays = _inputs(case, integers=integers)
    fused = _run(lambda x, w, b: ConvMaxPool2d(geometry, kernel, algorithm)(x, w, b), arrays, needs)
    eager = _run(lambda x, w, b: _two_ops(x, w, b, geometry, kernel, algorithm), arrays, needs)
    np.testing.assert_array_equal(fused[0], eager[0])
    for got, expected in zip(fused[1], eager[1]):
        assert (got is None) == (expected is None)
        if got is not None:
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("case", CASES, ids=[str(k) for k in range(len(CASES))])
def test_fused_matches_pytorch(case):
    x, w, b = _inputs(case, np.float64)
    geometry, kernel = ConvGeometry(*case[2:5]), case[5]
    tensors = [shenjing.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = ConvMaxPool2d(geometry, kernel)(*tensors)
    weights = RNG.standard_normal(y.shape)
    (y * shenjing.tensor(weights)).sum().backward()
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    (pt, pb), (pl, pr) = case[3]
    ty = TF.max_pool2d(TF.conv2d(TF.pad(tx, (pl, pr, pt, pb)), tw, tb, stride=case[2], dilation=case[4]), kernel)
    (ty * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(tensors, (tx, tw, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", [CASES[2], CASES[3]], ids=["floor mode", "strided"])
def test_fused_gradients_match_central_differences(case):
    """In float64, one sample of random inputs (whose window maxima stand apart, where a max is smooth)."""
    x, w, b = (shenjing.tensor(a[:1] if k == 0 else a, requires_grad=True)
               for k, a in enumerate(_inputs(case, np.float64)))
    geometry, kernel = ConvGeometry(*case[2:5]), case[5]
    assert shenjing.autograd.gradcheck(lambda x, w, b: ConvMaxPool2d(geometry, kernel)(x, w, b), (x, w, b))


def test_a_nan_wins_its_window_and_gets_the_gradient_as_in_the_two_ops():
    case = CASES[0]
    geometry, kernel = ConvGeometry(*case[2:5]), case[5]
    x, w, b = _inputs(case)
    x[1, 2, 4, 7] = np.nan
    fused = _run(lambda x, w, b: ConvMaxPool2d(geometry, kernel)(x, w, b), (x, w, b), (True, True, True))
    eager = _run(lambda x, w, b: _two_ops(x, w, b, geometry, kernel), (x, w, b), (True, True, True))
    assert np.isnan(fused[0]).any()
    np.testing.assert_array_equal(fused[0], eager[0])
    for got, expected in zip(fused[1], eager[1]):
        np.testing.assert_array_equal(got, expected)


def test_it_does_not_apply_where_the_kernel_cannot_pool_batch_last():
    geometry = ConvGeometry((1, 1), ((0, 0), (0, 0)), (1, 1))
    assert not conv_pool.applies(SAMPLES, geometry, (4, 6, 14, 14), (16, 6, 5, 5), (2, 2))  # batch first
    assert not conv_pool.applies(ROWS, geometry._replace(stride=(2, 1)), (4, 6, 14, 14), (16, 6, 5, 5), (2, 2))
    assert not conv_pool.applies(ROWS, geometry, (4, 6, 6, 6), (16, 6, 5, 5), (3, 3))  # a 2x2 output


def test_higher_derivatives_are_refused_with_a_reason():
    case = CASES[0]
    x, w, b = (shenjing.tensor(a, requires_grad=True) for a in _inputs(case))
    y = ConvMaxPool2d(ConvGeometry(*case[2:5]), case[5])(x, w, b)
    with pytest.raises(RuntimeError, match="first-order gradients only"):
        shenjing.autograd.grad(y.sum(), w, create_graph=True)


def _explain_after_two_steps(model, x):
    compiled = shenjing.compile(model)
    for _ in range(2):
        compiled(x).sum().backward()
    return compiled.explain()


def test_compile_fuses_conv_relu_pool_where_it_applies_and_nowhere_else():
    lenet = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 10))
    # conv1 has 25-row patches (the batch-first algorithm): only conv2 is fused
    assert "1 x (convolution, max-pool)" in _explain_after_two_steps(lenet, shenjing.randn(4, 1, 28, 28))
    # a batch of one runs batch first: nothing to fuse
    assert "(convolution, max-pool)" not in _explain_after_two_steps(lenet, shenjing.randn(1, 1, 28, 28))
    # the convolution's output is also used elsewhere: not fused
    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(6, 8, 3, padding=1)

        def forward(self, x):
            y = self.conv(x)
            return nn.functional.max_pool2d(y, 2).sum() + y.mean()

    assert "(convolution, max-pool)" not in _explain_after_two_steps(Skip(), shenjing.randn(4, 6, 8, 8))
