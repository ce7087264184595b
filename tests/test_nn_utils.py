"""nn.utils: gradient clipping and parameter vectors against PyTorch; penalties against their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import nn
from shenjing.nn import utils


def _pair(shapes, seed=0, scale=1.0):
    """The same parameters with the same gradients in shenjing and in torch."""
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for shape in shapes:
        value = rng.normal(size=shape).astype(np.float32)
        grad = (rng.normal(size=shape) * scale).astype(np.float32)
        p = nn.Parameter(sj.tensor(value))
        p.grad = sj.tensor(grad)
        q = torch.nn.Parameter(torch.tensor(value))
        q.grad = torch.tensor(grad)
        ours.append(p)
        theirs.append(q)
    return ours, theirs


SHAPES = [(3, 4), (4,), (2, 3, 3)]


@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3, math.inf, "inf"])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    ours, theirs = _pair(SHAPES)
    total = utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=float(norm_type))
    assert total.dtype == sj.float32 and total.shape == ()
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_result_has_the_max_norm():
    ours, _ = _pair(SHAPES, scale=10.0)
    utils.clip_grad_norm_(ours, 2.0)
    flat = np.concatenate([p.grad.numpy().ravel() for p in ours])
    assert np.linalg.norm(flat) == pytest.approx(2.0, rel=1e-5)


def test_clip_grad_norm_skips_parameters_without_grad_and_accepts_single_tensor():
    p = nn.Parameter(sj.ones(2))
    q = nn.Parameter(sj.ones(2))
    q.grad = sj.tensor([6.0, 8.0])
    assert utils.clip_grad_norm_([p, q], 5.0).item() == pytest.approx(10.0)
    assert p.grad is None
    np.testing.assert_allclose(q.grad.numpy(), [3.0, 4.0], rtol=1e-5)
    assert utils.clip_grad_norm_(q, 100.0).item() == pytest.approx(5.0, rel=1e-5)
    assert utils.clip_grad_norm_([p], 1.0).item() == 0.0
    assert utils.clip_grad_norm_(iter([q]), 1.0).item() == pytest.approx(5.0, rel=1e-5)  # a generator works


def test_clip_grad_norm_nonfinite():
    p = nn.Parameter(sj.ones(2))
    p.grad = sj.tensor([math.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isinf(utils.clip_grad_norm_([p], 1.0).item())


def test_clip_grad_value_matches_torch():
    ours, theirs = _pair(SHAPES, seed=3)
    assert utils.clip_grad_value_(ours, 0.3) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.3)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_parameters_to_vector_and_back_match_torch():
    ours, theirs = _pair(SHAPES, seed=4)
    vec = utils.parameters_to_vector(ours)
    np.testing.assert_array_equal(vec.detach().numpy(), torch.nn.utils.parameters_to_vector(theirs).detach().numpy())
    new = np.arange(vec.numel(), dtype=np.float32)
    utils.vector_to_parameters(sj.tensor(new), ours)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), theirs)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
        assert isinstance(p, nn.Parameter) and p.requires_grad


def test_parameters_to_vector_is_differentiable():
    p = nn.Parameter(sj.ones(2, 2))
    (utils.parameters_to_vector([p]) * sj.arange(4.0)).sum().backward()
    assert p.grad.tolist() == [[0.0, 1.0], [2.0, 3.0]]


def test_vector_to_parameters_errors():
    with pytest.raises(TypeError, match="expected a shenjing Tensor"):
        utils.vector_to_parameters(np.zeros(3), [sj.zeros(3)])
    with pytest.raises(ValueError, match="has 4 elements but the parameters have 3"):
        utils.vector_to_parameters(sj.zeros(4), [sj.zeros(3)])


# -- penalties --------------------------------------------------------------------------------------


def _params(seed=5):
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=(3, 4)), rng.normal(size=(4,))]
    return arrays, [nn.Parameter(sj.tensor(a, dtype=sj.float64)) for a in arrays]


def test_l1_l2_values_and_gradients():
    arrays, params = _params()
    l1 = utils.l1_penalty(params)
    assert l1.item() == pytest.approx(sum(np.abs(a).sum() for a in arrays), rel=1e-12)
    l1.backward()
    for a, p in zip(arrays, params):
        np.testing.assert_allclose(p.grad.numpy(), np.sign(a))
    arrays, params = _params(6)
    l2 = utils.l2_penalty(params)
    assert l2.item() == pytest.approx(sum((a ** 2).sum() for a in arrays), rel=1e-12)
    l2.backward()
    for a, p in zip(arrays, params):
        np.testing.assert_allclose(p.grad.numpy(), 2 * a)


def test_elastic_net_interpolates_between_l1_and_l2():
    arrays, params = _params(7)
    l1 = sum(np.abs(a).sum() for a in arrays)
    l2 = sum((a ** 2).sum() for a in arrays)
    for ratio in (0.0, 0.3, 1.0):
        assert utils.elastic_net_penalty(params, ratio).item() == pytest.approx(ratio * l1 + (1 - ratio) * l2)
    utils.elastic_net_penalty(params, 0.3).backward()
    for a, p in zip(arrays, params):
        np.testing.assert_allclose(p.grad.numpy(), 0.3 * np.sign(a) + 0.7 * 2 * a)
    with pytest.raises(ValueError, match="l1_ratio"):
        utils.elastic_net_penalty(params, 1.5)


def test_course_elastic_net_form():
    """The course's R(W) = sum(beta*W^2 + |W|) equals (1 + beta) * elastic_net_penalty(l1_ratio=1/(1+beta))."""
    arrays, params = _params(8)
    beta = 0.5
    course = sum((beta * a ** 2 + np.abs(a)).sum() for a in arrays)
    ours = (1 + beta) * utils.elastic_net_penalty(params, 1 / (1 + beta)).item()
    assert ours == pytest.approx(course, rel=1e-12)


def test_penalties_accept_a_single_tensor_a_generator_and_nothing():
    w = sj.tensor([1.0, -2.0])
    assert utils.l2_penalty(w).item() == 5.0
    assert utils.l1_penalty(x for x in [w, w]).item() == 6.0
    assert utils.l2_penalty([]).item() == 0.0


def test_lambda_l2_penalty_equals_torch_sgd_weight_decay_of_two_lambda():
    """One SGD step on loss + lam*||w||^2 equals torch's SGD step with weight_decay = 2*lam."""
    rng = np.random.default_rng(9)
    w0, x = rng.normal(size=(3,)), rng.normal(size=(5, 3))
    lam, lr = 0.1, 0.5
    w = nn.Parameter(sj.tensor(w0))
    loss = (sj.tensor(x) @ w).pow(2).mean() + lam * utils.l2_penalty([w])
    loss.backward()
    ours = w0 - lr * w.grad.numpy()
    tw = torch.nn.Parameter(torch.tensor(w0))
    (torch.tensor(x) @ tw).pow(2).mean().backward()
    torch.optim.SGD([tw], lr=lr, weight_decay=2 * lam).step()
    np.testing.assert_allclose(ours, tw.detach().numpy(), rtol=1e-12)
