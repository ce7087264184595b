"""The fused convolution + 2x2 max-pool + ReLU op against PyTorch and central differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
from shenjing.nn._functional.conv import conv2d_max_pool2d
from helpers import FUSED_PRODUCTS, check_op, use_fused_product


CONV_CASES = {  # x shape, w shape, padding
    "cnn1": ((2, 3, 12, 12), (6, 3, 5, 5), 0),
    "lenet1": ((2, 1, 12, 12), (6, 1, 5, 5), 2),
    "cnn2": ((2, 6, 14, 14), (16, 6, 5, 5), 0),
    "odd": ((2, 2, 9, 11), (4, 2, 3, 3), 1),
}


@pytest.mark.parametrize("product", FUSED_PRODUCTS)
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv_max_pool_relu_matches_pytorch_and_central_differences(monkeypatch, case, product):
    use_fused_product(monkeypatch, product)
    x_shape, w_shape, padding = CONV_CASES[case]
    rng = np.random.default_rng(3)
    check_op(lambda x, w, b: conv2d_max_pool2d(x, w, b, padding=padding, relu=True),
             lambda x, w, b: TF.relu(TF.max_pool2d(TF.conv2d(x, w, b, padding=padding), 2)),
             rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0]))


@pytest.mark.parametrize("case", ["cnn1", "odd"])
def test_conv_max_pool_relu_second_derivatives_and_inference(case):
    x_shape, w_shape, padding = CONV_CASES[case]
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    grads = []
    for lib, fn in ((sj, lambda *a: conv2d_max_pool2d(*a, padding=padding, relu=True)),
                    (torch, lambda *a: TF.relu(TF.max_pool2d(TF.conv2d(*a, padding=padding), 2)))):
        tensors = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = fn(*tensors)
        gx, gw = (sj.autograd.grad if lib is sj else torch.autograd.grad)((y * y).sum(), tensors[:2], create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum()).backward()
        grads.append([g.detach().numpy() for g in (gx, gw)] + [t.grad.numpy() for t in tensors])
        with lib.no_grad():
            grads[-1].append(fn(*(lib.tensor(a) for a in (x, w, b))).numpy())
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
