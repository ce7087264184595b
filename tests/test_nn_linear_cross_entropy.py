"""linear_cross_entropy / LinearCrossEntropyLoss / LinearCrossEntropyOptions against PyTorch 2.13."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import Const, check_module, check_op
from shenjing import nn

RNG = np.random.default_rng(107)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_linear_cross_entropy_matches_torch(reduction):
    x, w, b = RNG.standard_normal((5, 4)), RNG.standard_normal((3, 4)), RNG.standard_normal(3)
    target = Const(np.array([0, 2, 1, 2, 0]))
    check_op(lambda x, w, b, t: F.linear_cross_entropy(x, w, t, linear_bias=b, reduction=reduction),
             lambda x, w, b, t: TF.linear_cross_entropy(x, w, t, linear_bias=b, reduction=reduction), x, w, b, target)
    check_op(lambda x, w, t: F.linear_cross_entropy(x, w, t, reduction=reduction, label_smoothing=0.2,
                                                    ignore_index=1),
             lambda x, w, t: TF.linear_cross_entropy(x, w, t, reduction=reduction, label_smoothing=0.2,
                                                     ignore_index=1), x, w, target)


def test_linear_cross_entropy_k_dimensional_and_unbatched_match_torch():
    x, w = RNG.standard_normal((2, 4)), RNG.standard_normal((3, 2, 4))  # 3 classes at each of 2 positions
    check_op(lambda x, w, t: F.linear_cross_entropy(x, w, t), lambda x, w, t: TF.linear_cross_entropy(x, w, t),
             x, w, Const(np.array([[0, 2], [1, 1]])))
    check_op(lambda x, w, t: F.linear_cross_entropy(x, w, t), lambda x, w, t: TF.linear_cross_entropy(x, w, t),
             x[0], w[:, 0], Const(np.array(2)))
    with pytest.raises(RuntimeError, match="requires batched input"):
        F.linear_cross_entropy(sj.randn(4), sj.randn(3, 2, 4), sj.tensor([0, 1]))


def test_linear_cross_entropy_loss_layer_and_options_match_torch():
    kwargs = dict(bias=True, label_smoothing=0.1)
    x, target = RNG.standard_normal((6, 4)), RNG.integers(0, 3, 6)
    layer = check_module(nn.LinearCrossEntropyLoss(4, 3, **kwargs), torch.nn.LinearCrossEntropyLoss(4, 3, **kwargs),
                         x, target)
    assert repr(layer) == repr(torch.nn.LinearCrossEntropyLoss(4, 3, **kwargs))
    assert list(layer.state_dict()) == ["linear.weight", "linear.bias"]
    options = nn.LinearCrossEntropyOptions(batch_chunk_size=2)
    assert repr(options) == repr(torch.nn.LinearCrossEntropyOptions(batch_chunk_size=2))
    with_options = nn.LinearCrossEntropyLoss(4, 3, options=options).double()
    with_options.load_state_dict({"linear.weight": layer.linear.weight.detach().numpy()})
    plain = F.linear_cross_entropy(sj.tensor(x), layer.linear.weight, sj.tensor(target))
    np.testing.assert_allclose(with_options(sj.tensor(x), sj.tensor(target)).item(), plain.item(), rtol=1e-12)
    with pytest.raises(ValueError, match="invalid acc_policy"):
        nn.LinearCrossEntropyOptions(acc_policy="fast")
