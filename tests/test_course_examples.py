"""Worked examples from the course notes (/work/shared/seeds), recomputed with shenjing.

Each expected number is the one printed in the notes, checked to the notes' own rounding; where the
notes computed a number from intermediates they had already rounded, the test says so and also checks
the exact value against the closed-form formula the notes use.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import shenjing as sj
from helpers import check_op

F = sj.nn.functional


def rounds_to(value, printed, decimals):
    """True when value rounds to the printed number at the printed number of decimals."""
    return round(float(value), decimals) == pytest.approx(printed, abs=1e-12)


# --------------------------------------------------------------------------------------------------
# (1) computational graph f = (x + y) * z
# --------------------------------------------------------------------------------------------------

def test_graph_add_mul():
    x = sj.tensor(-2.0, requires_grad=True)
    y = sj.tensor(5.0, requires_grad=True)
    z = sj.tensor(-4.0, requires_grad=True)
    q = x + y
    q.retain_grad()
    f = q * z
    assert q.item() == 3.0
    assert f.item() == -12.0
    f.backward()
    assert x.grad.item() == -4.0      # df/dx = df/dq * dq/dx = z
    assert y.grad.item() == -4.0
    assert z.grad.item() == 3.0       # df/dz = q
    assert q.grad.item() == -4.0


# --------------------------------------------------------------------------------------------------
# (2) max gate routes the gradient to the larger input
# --------------------------------------------------------------------------------------------------

def test_max_gate_with_maximum():
    z = sj.tensor(2.0, requires_grad=True)
    w = sj.tensor(-1.0, requires_grad=True)
    f = sj.maximum(z, w)
    assert f.item() == 2.0
    f.backward(sj.tensor(2.0))        # upstream gradient 2
    assert z.grad.item() == 2.0
    assert w.grad.item() == 0.0


def test_max_gate_with_max_of_stack():
    z = sj.tensor(2.0, requires_grad=True)
    w = sj.tensor(-1.0, requires_grad=True)
    f = sj.max(sj.stack([z, w]))
    assert f.item() == 2.0
    (2 * f).backward()
    assert z.grad.item() == 2.0
    assert w.grad.item() == 0.0


# --------------------------------------------------------------------------------------------------
# (3) f = ||W x||^2
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype,tol", [("float32", 1e-6), ("float64", 1e-12)])
def test_squared_norm_of_matrix_vector_product(dtype, tol):
    W = sj.tensor([[0.1, 0.5], [-0.3, 0.8]], dtype=getattr(sj, dtype), requires_grad=True)
    x = sj.tensor([0.2, 0.4], dtype=getattr(sj, dtype), requires_grad=True)
    q = W @ x
    f = (q ** 2).sum()
    np.testing.assert_allclose(q.detach().numpy(), [0.22, 0.26], rtol=0, atol=tol)
    assert f.item() == pytest.approx(0.22 ** 2 + 0.26 ** 2, abs=tol)
    f.backward()
    np.testing.assert_allclose(W.grad.numpy(), [[0.088, 0.176], [0.104, 0.208]], rtol=0, atol=tol)   # 2 q x^T
    np.testing.assert_allclose(x.grad.numpy(), [-0.112, 0.636], rtol=0, atol=tol)                    # 2 W^T q


# --------------------------------------------------------------------------------------------------
# (4) softmax tables of seed 000
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("z,exp_z,q", [
    ([1.0, 1.0, 0.0, 0.0], [2.718, 2.718, 1.000, 1.000], [0.366, 0.366, 0.134, 0.134]),
    ([1.0, 3.0, 0.0, 0.0], [2.718, 20.086, 1.000, 1.000], [0.110, 0.810, 0.040, 0.040]),
])
def test_softmax_tables(z, exp_z, q):
    t = sj.tensor(z)
    np.testing.assert_array_equal(np.round(t.exp().numpy().astype(np.float64), 3), exp_z)
    probs = F.softmax(t, dim=0)
    np.testing.assert_array_equal(np.round(probs.numpy().astype(np.float64), 3), q)
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-6)
    # the notes call torch.softmax(output, dim=1) on a batch of rows
    rows = sj.softmax(sj.tensor([z, z]), dim=1)
    np.testing.assert_array_equal(np.round(rows.numpy().astype(np.float64), 3), [q, q])


# --------------------------------------------------------------------------------------------------
# (5) seed 004: one BP step on a 2-2-1 sigmoid network without biases
# --------------------------------------------------------------------------------------------------

A_IN, B_IN, TARGET, LR = 0.35, 0.9, 0.5, 1.0
W0 = dict(w1=0.3, w2=0.9, w3=0.1, w4=0.8, w5=0.4, w6=0.6)


def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def _reference_step():
    """The notes' BP formulas evaluated exactly in float64 (no intermediate rounding)."""
    w = dict(W0)
    n1 = w["w3"] * A_IN + w["w4"] * B_IN
    o1 = _sigmoid(n1)
    n2 = w["w5"] * A_IN + w["w6"] * B_IN
    o2 = _sigmoid(n2)
    n = w["w1"] * o1 + w["w2"] * o2
    o = _sigmoid(n)
    g = (TARGET - o) * o * (1 - o)
    e1 = g * w["w1"] * o1 * (1 - o1)
    e2 = g * w["w2"] * o2 * (1 - o2)
    new = dict(w1=w["w1"] + LR * g * o1, w2=w["w2"] + LR * g * o2,
               w3=w["w3"] + LR * e1 * A_IN, w4=w["w4"] + LR * e1 * B_IN,
               w5=w["w5"] + LR * e2 * A_IN, w6=w["w6"] + LR * e2 * B_IN)
    return dict(n1=n1, o1=o1, n2=n2, o2=o2, n=n, o=o, g=g, e1=e1, e2=e2), new


class Net:
    def __init__(self):
        self.w = {k: sj.tensor(v, requires_grad=True) for k, v in W0.items()}

    def forward(self):
        w = self.w
        n1 = w["w3"] * A_IN + w["w4"] * B_IN
        o1 = sj.sigmoid(n1)
        n2 = w["w5"] * A_IN + w["w6"] * B_IN
        o2 = sj.sigmoid(n2)
        n = w["w1"] * o1 + w["w2"] * o2
        o = sj.sigmoid(n)
        return dict(n1=n1, o1=o1, n2=n2, o2=o2, n=n, o=o)

    def step(self):
        v = self.forward()
        for k in ("n1", "n2", "n"):
            v[k].retain_grad()
        E = 0.5 * (TARGET - v["o"]) ** 2
        E.backward()
        grads = {k: p.grad.item() for k, p in self.w.items()}
        with sj.no_grad():
            for p in self.w.values():
                p -= LR * p.grad
                p.grad = None
        return v, E, grads


def test_bp_example_forward_matches_notes():
    v = Net().forward()
    assert rounds_to(v["n1"].item(), 0.755, 3)
    assert rounds_to(v["o1"].item(), 0.68, 2)
    assert rounds_to(v["n2"].item(), 0.68, 2)
    assert rounds_to(v["o2"].item(), 0.6637, 4)
    assert rounds_to(v["o"].item(), 0.69, 2)
    # the notes compute the output net input from the rounded o1 = 0.68: 0.3*0.68 + 0.9*0.6637 = 0.80133;
    # the unrounded value is 0.80144
    assert v["n"].item() == pytest.approx(0.80133, abs=2e-4)
    ref, _ = _reference_step()
    for k in v:
        assert v[k].item() == pytest.approx(ref[k], abs=1e-6), k


def test_bp_example_gradients_and_update():
    net = Net()
    v, E, grads = net.step()
    ref, new = _reference_step()
    o = ref["o"]
    assert E.item() == pytest.approx(0.5 * (TARGET - o) ** 2, abs=1e-7)
    # error terms: dE/dnet = -g for the output, -e1 / -e2 for the hidden units
    assert v["n"].grad.item() == pytest.approx(-ref["g"], abs=1e-7)
    assert v["n1"].grad.item() == pytest.approx(-ref["e1"], abs=1e-7)
    assert v["n2"].grad.item() == pytest.approx(-ref["e2"], abs=1e-7)
    # notes: g = (t-o)(1-o)o = -0.0406 (computed with o rounded to 0.69; unrounded -0.04068)
    assert -v["n"].grad.item() == pytest.approx(-0.0406, abs=1.5e-4)
    # notes: e1 = -2.650e-3, e2 = -8.156e-3 (from the rounded g, o1, o2)
    assert -v["n1"].grad.item() == pytest.approx(-2.650e-3, abs=2e-5)
    assert -v["n2"].grad.item() == pytest.approx(-8.156e-3, abs=3e-5)
    # dE/dw1 = -g o1 and so on
    assert grads["w1"] == pytest.approx(-ref["g"] * ref["o1"], abs=1e-7)
    assert grads["w6"] == pytest.approx(-ref["e2"] * B_IN, abs=1e-7)
    # updated weights: exact formula first, then the numbers printed in the notes
    for k, p in net.w.items():
        assert p.item() == pytest.approx(new[k], abs=1e-6), k
    assert rounds_to(net.w["w3"].item(), 0.0991, 4)
    assert rounds_to(net.w["w4"].item(), 0.7976, 4)
    assert rounds_to(net.w["w5"].item(), 0.3971, 4)
    # w1, w2, w6: the notes use the rounded g = -0.0406, o1 = 0.68 (exact: 0.27233, 0.87300, 0.59265)
    assert net.w["w1"].item() == pytest.approx(0.2724, abs=1.5e-4)
    assert net.w["w2"].item() == pytest.approx(0.8731, abs=1.5e-4)
    assert net.w["w6"].item() == pytest.approx(0.5927, abs=1e-4)
    for p in net.w.values():
        assert p.is_leaf and p.requires_grad


def test_bp_example_after_update_matches_notes():
    net = Net()
    net.step()
    v = net.forward()
    assert rounds_to(v["n1"].item(), 0.7525, 4)
    assert rounds_to(v["o1"].item(), 0.6797, 4)
    assert rounds_to(v["n2"].item(), 0.6724, 4)
    assert rounds_to(v["o2"].item(), 0.6620, 4)
    assert rounds_to(v["n"].item(), 0.7631, 4)
    assert rounds_to(v["o"].item(), 0.6820, 4)
    # "error drops from 0.19 to 0.182" (|t - o|)
    before = abs(TARGET - Net().forward()["o"].item())
    after = abs(TARGET - v["o"].item())
    assert rounds_to(before, 0.19, 2)
    assert rounds_to(after, 0.182, 3)
    assert after < before


def test_bp_example_notes_arithmetic_from_rounded_values():
    """The notes' printed updates follow from shenjing's forward values rounded as the notes print them."""
    v = Net().forward()
    o1 = round(v["o1"].item(), 2)           # 0.68
    o2 = round(v["o2"].item(), 4)           # 0.6637
    o = round(v["o"].item(), 2)             # 0.69
    g = round((TARGET - o) * (1 - o) * o, 4)
    assert g == pytest.approx(-0.0406)
    assert round(W0["w1"] * o1 + W0["w2"] * o2, 5) == pytest.approx(0.80133)
    assert round(W0["w1"] + g * o1, 4) == pytest.approx(0.2724)
    assert round(W0["w2"] + g * o2, 4) == pytest.approx(0.8731)
    e1 = g * W0["w1"] * o1 * (1 - o1)
    e2 = g * W0["w2"] * o2 * (1 - o2)
    assert round(e1, 6) == pytest.approx(-2.650e-3)
    assert round(e2, 6) == pytest.approx(-8.156e-3)
    assert round(W0["w3"] + e1 * A_IN, 4) == pytest.approx(0.0991)
    assert round(W0["w4"] + e1 * B_IN, 4) == pytest.approx(0.7976)
    assert round(W0["w5"] + e2 * A_IN, 4) == pytest.approx(0.3971)
    assert round(W0["w6"] + e2 * B_IN, 4) == pytest.approx(0.5927)


# --------------------------------------------------------------------------------------------------
# seed 004: the two-layer ReLU network that solves XOR
# --------------------------------------------------------------------------------------------------

def test_xor_relu_network():
    X = sj.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    W = sj.tensor([[1.0, 1.0], [1.0, 1.0]])
    c = sj.tensor([0.0, -1.0])
    h = sj.relu(X @ W.t() + c)          # h = max(0, W x + c)
    y = h @ sj.tensor([1.0, -2.0]) - 0.5
    assert y.tolist() == [-0.5, 0.5, 0.5, -0.5]
    assert (y > 0).tolist() == [False, True, True, False]


# --------------------------------------------------------------------------------------------------
# (6) seed 004 homework: softmax / log-sum-exp overflow and their gradients
# --------------------------------------------------------------------------------------------------

def test_softmax_does_not_overflow():
    x = sj.tensor([1000.0, -1000.0, 0.0])
    p = F.softmax(x, dim=0)
    assert np.all(np.isfinite(p.numpy()))
    np.testing.assert_allclose(p.numpy(), [1.0, 0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(p.numpy(), torch.softmax(torch.tensor([1000.0, -1000.0, 0.0]), dim=0).numpy(),
                               atol=1e-7)


def test_log_softmax_does_not_overflow():
    x = sj.tensor([1000.0, -1000.0, 0.0])
    lp = F.log_softmax(x, dim=0)
    assert np.all(np.isfinite(lp.numpy()))
    np.testing.assert_allclose(lp.numpy(), [0.0, -2000.0, -1000.0], rtol=1e-6, atol=1e-4)


def test_logsumexp_does_not_overflow():
    out = sj.logsumexp(sj.tensor([1000.0, 1000.0]), dim=0)
    assert math.isfinite(out.item())
    assert out.item() == pytest.approx(1000.0 + math.log(2.0), rel=1e-6)
    out64 = sj.logsumexp(sj.tensor([1000.0, 1000.0], dtype=sj.float64), dim=0)
    assert out64.item() == pytest.approx(1000.0 + math.log(2.0), rel=1e-12)
    small = sj.logsumexp(sj.tensor([-1000.0, -1000.0]), dim=0)
    assert small.item() == pytest.approx(-1000.0 + math.log(2.0), rel=1e-6)


def test_softmax_gradient_finite_at_extreme_inputs():
    x = sj.tensor([1000.0, -1000.0, 0.0], requires_grad=True)
    F.log_softmax(x, dim=0)[1].backward()
    g = x.grad.numpy()
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [-1.0, 1.0, 0.0], atol=1e-6)     # e_1 - softmax(x)
    x2 = sj.tensor([1000.0, -1000.0, 0.0], requires_grad=True)
    (F.softmax(x2, dim=0) * sj.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert np.all(np.isfinite(x2.grad.numpy()))


def test_softmax_and_log_softmax_gradients():
    """Homework: gradients of softmax(x)_i and log softmax(x)_i with respect to x."""
    x_np = np.array([0.5, -1.0, 2.0, 0.1])
    check_op(lambda x: F.softmax(x, dim=0), lambda x: torch.softmax(x, dim=0), x_np)
    check_op(lambda x: F.log_softmax(x, dim=0), lambda x: torch.log_softmax(x, dim=0), x_np)
    s = np.exp(x_np) / np.exp(x_np).sum()
    for i in range(4):
        x = sj.tensor(x_np, requires_grad=True)
        (g,) = sj.autograd.grad(F.softmax(x, dim=0)[i], x)
        np.testing.assert_allclose(g.numpy(), s[i] * (np.eye(4)[i] - s), atol=1e-12)   # s_i (delta_ij - s_j)
        x = sj.tensor(x_np, requires_grad=True)
        (g,) = sj.autograd.grad(F.log_softmax(x, dim=0)[i], x)
        np.testing.assert_allclose(g.numpy(), np.eye(4)[i] - s, atol=1e-12)          # delta_ij - s_j
