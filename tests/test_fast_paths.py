"""The speed paths that skip work (issue 5) must not skip correctness.

* Argument checks of conv2d / max_pool2d and of their layers run once per configuration: a call
  with a new shape, dtype or argument is checked again, and a bad call is never remembered.
* A first-order backward (no ``create_graph``) of Linear and ReLU works on arrays without building
  ops: it must give PyTorch's gradients and still notice saved values changed in place.
"""

import numpy as np
import pytest
import torch

import shenjing as sj
import shenjing.nn.functional as F


def test_conv2d_checks_each_new_configuration():
    w = sj.randn(4, 3, 3, 3)
    F.conv2d(sj.randn(2, 3, 8, 8), w)  # remembered as checked
    with pytest.raises(RuntimeError, match="expected input.*to have 3 channels, but got 2"):
        F.conv2d(sj.randn(2, 2, 8, 8), w)
    with pytest.raises(RuntimeError, match="kernel is larger than the padded input"):
        F.conv2d(sj.randn(2, 3, 2, 2), w)
    with pytest.raises(RuntimeError, match="input type.*and weight type.*should be the same"):
        F.conv2d(sj.randn(2, 3, 8, 8, dtype=sj.float64), w)
    with pytest.raises(ValueError, match="stride must be positive"):
        F.conv2d(sj.randn(2, 3, 8, 8), w, stride=0)


def test_a_bad_conv2d_call_fails_every_time():
    w = sj.randn(4, 3, 3, 3)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="kernel is larger"):
            F.conv2d(sj.randn(1, 3, 2, 2), w)


def test_conv2d_with_list_arguments_matches_torch():
    # a list is unhashable: such calls are checked every time and must still work
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 7)).astype(np.float32)
    w = np.random.default_rng(2).standard_normal((4, 3, 3, 3)).astype(np.float32)
    for _ in range(2):
        ours = F.conv2d(sj.tensor(x), sj.tensor(w), stride=[2, 1], padding=[1, 0]).numpy()
        theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=[2, 1], padding=[1, 0]).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_conv_layer_checks_a_new_input_shape():
    layer = sj.nn.Conv2d(3, 4, 3)
    layer(sj.randn(2, 3, 8, 8))
    with pytest.raises(RuntimeError, match=r"Conv2d\(3, 4.*expects input \[N, 3, H, W\]"):
        layer(sj.randn(2, 5, 8, 8))
    with pytest.raises(RuntimeError, match="input is shenjing.float64 but the layer.s weight is shenjing.float32"):
        layer(sj.randn(2, 3, 8, 8, dtype=sj.float64))
    layer.double()  # the weight's dtype is part of what was checked
    assert layer(sj.randn(2, 3, 8, 8, dtype=sj.float64)).dtype == sj.float64


def test_max_pool_checks_each_new_configuration():
    F.max_pool2d(sj.randn(1, 2, 8, 8), 2)
    with pytest.raises(RuntimeError, match="output size is too small"):
        F.max_pool2d(sj.randn(1, 2, 1, 1), 2)
    with pytest.raises(ValueError, match="pad should be at most half"):
        F.max_pool2d(sj.randn(1, 2, 8, 8), 2, padding=2)
    layer = sj.nn.MaxPool2d(3)
    layer(sj.randn(1, 2, 9, 9))
    with pytest.raises(RuntimeError, match="output size is too small"):
        layer(sj.randn(1, 2, 2, 2))
    # unbatched and 1-D inputs after a batched call of the same arguments
    assert F.max_pool2d(sj.randn(2, 8, 8), 2).shape == (2, 4, 4)
    assert F.max_pool1d(sj.randn(1, 2, 8), 2).shape == (1, 2, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_first_order_backward_of_linear_and_relu_matches_torch(dtype):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((5, 3, 4), (6, 4), (6,)))
    grads = []
    for lib in (sj, torch):
        xs, ws, bs = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        out = lib.nn.functional.relu(lib.nn.functional.linear(xs, ws, bs))
        (out * lib.tensor(np.arange(out.numel(), dtype=dtype).reshape(out.shape))).sum().backward()
        grads.append([t.grad.detach().numpy() for t in (xs, ws, bs)])
    for ours, theirs in zip(*grads):
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_first_order_backward_notices_a_changed_saved_output():
    x = sj.randn(3, 4, requires_grad=True)
    y = sj.nn.functional.relu(x * 1)
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    w = sj.randn(2, 4, requires_grad=True)
    inputs = x * 1
    out = sj.nn.functional.linear(inputs, w)
    inputs.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
