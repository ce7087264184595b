"""AdaptiveLogSoftmaxWithLoss against PyTorch 2.13: the same weights, outputs, loss, log_prob, predict,
gradients, repr and state_dict keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import nn

RNG = np.random.default_rng(113)


def _pair(*args, **kwargs):
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(*args, **kwargs).double()
    ours = nn.AdaptiveLogSoftmaxWithLoss(*args, **kwargs).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("kwargs", [dict(cutoffs=[3, 6]), dict(cutoffs=[2, 5, 8], div_value=2.0, head_bias=True)])
def test_adaptive_log_softmax_matches_torch(kwargs):
    ours, theirs = _pair(16, 10, **kwargs)
    x, target = RNG.standard_normal((7, 16)), np.array([0, 2, 3, 5, 6, 9, 1])
    xs, xt = sj.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_s, out_t = ours(xs, sj.tensor(target)), theirs(xt, torch.tensor(target))
    np.testing.assert_allclose(out_s.output.detach().numpy(), out_t.output.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(out_s.loss.item(), out_t.loss.item(), rtol=1e-10)
    out_s.loss.backward()
    out_t.loss.backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(ours.log_prob(sj.tensor(x)).detach().numpy(),
                               theirs.log_prob(torch.tensor(x)).detach().numpy(), rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(sj.tensor(x)).numpy(), theirs.predict(torch.tensor(x)).numpy())
    single = ours(sj.tensor(x[0]), sj.tensor(target[0]))
    assert single.output.shape == () and abs(single.output.item() - out_t.output[0].item()) < 1e-10


def test_adaptive_log_softmax_errors_like_torch():
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique, positive integers"):
        nn.AdaptiveLogSoftmaxWithLoss(16, 10, cutoffs=[5, 3])
    asm = nn.AdaptiveLogSoftmaxWithLoss(16, 10, cutoffs=[4])
    with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 9\]"):
        asm(sj.randn(2, 16), sj.tensor([1, 10]))
    with pytest.raises(RuntimeError, match="same size in the batch dimension"):
        asm(sj.randn(3, 16), sj.tensor([1, 2]))
