"""Autograd: backward semantics, graph inspection, grad modes, higher-order derivatives, custom Functions,
gradcheck, anomaly detection, deep graphs, memory and in-place safety.

PyTorch 2.13 is the reference for every expected value that is not plain calculus.
"""

from __future__ import annotations

import gc
import math
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import shenjing as sj
from helpers import check_op

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(autouse=True)
def _isolate_grad_mode():
    """A test that fails with grad mode switched off must not switch it off for the tests after it."""
    yield
    if not sj.is_grad_enabled():
        sj.set_grad_enabled(True)


def close(a, b, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def npy(t):
    return t.detach().numpy()


# --------------------------------------------------------------------------------------------------
# backward basics
# --------------------------------------------------------------------------------------------------

def test_grad_is_none_before_backward():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    assert x.grad is None
    y = (x * x).sum()
    assert x.grad is None
    y.backward()
    close(npy(x.grad), [2.0, 4.0])


def test_backward_accumulates_across_calls():
    x = sj.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    close(npy(x.grad), [2.0, 4.0, 6.0])
    (x * x).sum().backward()
    close(npy(x.grad), [4.0, 8.0, 12.0])
    (3 * x).sum().backward()
    close(npy(x.grad), [7.0, 11.0, 15.0])
    x.grad.zero_()
    (x * x).sum().backward()
    close(npy(x.grad), [2.0, 4.0, 6.0])
    x.grad = None
    (x.sum() * 5).backward()
    close(npy(x.grad), [5.0, 5.0, 5.0])


def test_gradient_used_twice_in_graph_accumulates():
    x = sj.tensor(3.0, requires_grad=True)
    y = x * x + x * 2 + x     # dy/dx = 2x + 3 = 9
    y.backward()
    assert x.grad.item() == pytest.approx(9.0)


def test_backward_with_gradient_argument():
    x = sj.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(sj.tensor([1.0, 0.1, 0.01]))
    close(npy(x.grad), [2.0, 0.4, 0.06])
    x2 = sj.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (x2 * 3).backward(gradient=sj.ones(2, 2))
    close(npy(x2.grad), np.full((2, 2), 3.0))


def test_backward_non_scalar_without_gradient_raises():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError) as info:
        y.backward()
    msg = str(info.value).lower()
    assert "scalar" in msg or "gradient" in msg, f"message should say what to pass: {info.value}"


def test_scalar_backward_needs_no_gradient_and_float64_grad_dtype():
    x = sj.tensor([1.0, 2.0], dtype=sj.float64, requires_grad=True)
    (x ** 2).sum().backward()
    assert x.grad.dtype == sj.float64
    close(npy(x.grad), [2.0, 4.0])


def test_retain_graph_allows_second_backward():
    x = sj.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    close(npy(x.grad), 2 * np.exp([0.5, 1.0]), rtol=1e-6)


def test_second_backward_without_retain_graph_raises():
    x = sj.tensor([0.5, 1.0], requires_grad=True)
    w = sj.tensor([2.0, 3.0], requires_grad=True)
    y = (x.exp() * w).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError):
        sj.tensor(1.0).backward()


# --------------------------------------------------------------------------------------------------
# detach, requires_grad_, retain_grad, hooks
# --------------------------------------------------------------------------------------------------

def test_detach():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad
    assert d.grad_fn is None
    assert d.is_leaf
    close(npy(d), [2.0, 4.0])
    z = (x * d).sum()          # d acts as a constant
    z.backward()
    close(npy(x.grad), [2.0, 4.0])


def test_detach_shares_data():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    d[0] = 5.0
    assert x[0].item() == 5.0, "detach() returns a view of the same data, like torch"


def test_detach_in_place():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    out = y.detach_()
    assert out is y
    assert not y.requires_grad
    assert y.grad_fn is None
    assert y.is_leaf


def test_requires_grad_():
    x = sj.tensor([1.0, 2.0])
    out = x.requires_grad_()
    assert out is x
    assert x.requires_grad
    (x * 4).sum().backward()
    close(npy(x.grad), [4.0, 4.0])
    x.requires_grad_(False)
    assert not x.requires_grad


def test_retain_grad_populates_non_leaf_grad():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    z = (y * y).sum()
    z.backward()
    close(npy(y.grad), [6.0, 12.0])      # dz/dy = 2y
    close(npy(x.grad), [18.0, 36.0])


def test_non_leaf_grad_is_none_without_retain_grad():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    (y * y).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # torch warns when .grad of a non-leaf is read
        assert y.grad is None


def test_hook_on_leaf_modifies_grad_and_remove():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 2)
    (x * 3).sum().backward()
    close(npy(x.grad), [6.0, 6.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    close(npy(x.grad), [3.0, 3.0])


def test_hook_on_non_leaf_modifies_upstream_grad():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(npy(g).copy()))        # returns None: grad unchanged
    handle = y.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    close(seen[0], [6.0, 12.0])
    close(npy(x.grad), [180.0, 360.0])                           # 10 * 2y * 3
    handle.remove()
    x.grad = None
    y2 = x * 3
    y2.register_hook(lambda g: g * 10)
    y2.sum().backward()
    close(npy(x.grad), [30.0, 30.0])


def test_removed_hook_on_non_leaf_is_not_called():
    x = sj.tensor([1.0], requires_grad=True)
    y = x * 2
    calls = []
    h = y.register_hook(lambda g: calls.append(1))
    h.remove()
    y.sum().backward()
    assert calls == []
    close(npy(x.grad), [2.0])


def test_register_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError):
        sj.tensor([1.0]).register_hook(lambda g: g)


# --------------------------------------------------------------------------------------------------
# grad modes
# --------------------------------------------------------------------------------------------------

def test_no_grad_context():
    x = sj.tensor([1.0], requires_grad=True)
    assert sj.is_grad_enabled()
    with sj.no_grad():
        assert not sj.is_grad_enabled()
        y = x * 2
        assert not y.requires_grad
        assert y.grad_fn is None
    assert sj.is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_restores_state_after_exception():
    with pytest.raises(ValueError):
        with sj.no_grad():
            raise ValueError("boom")
    assert sj.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = sj.tensor([1.0], requires_grad=True)
    with sj.no_grad():
        with sj.enable_grad():
            assert sj.is_grad_enabled()
            y = x * 2
        z = x * 2
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad


def test_set_grad_enabled_context_and_function():
    x = sj.tensor([1.0], requires_grad=True)
    with sj.set_grad_enabled(False):
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    with sj.set_grad_enabled(True):
        y = x * 2
    assert y.requires_grad
    sj.set_grad_enabled(False)
    try:
        assert not sj.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        sj.set_grad_enabled(True)
    assert sj.is_grad_enabled()


def test_grad_mode_decorators():
    x = sj.tensor([1.0], requires_grad=True)

    @sj.no_grad()
    def f_no_grad(t):
        return t * 2

    @sj.enable_grad()
    def f_enable(t):
        return t * 2

    y = f_no_grad(x)
    assert not y.requires_grad and y.grad_fn is None
    assert sj.is_grad_enabled()
    with sj.no_grad():
        y = f_enable(x)
        assert not sj.is_grad_enabled()
    assert y.requires_grad and y.grad_fn is not None
    assert f_no_grad.__name__ == "f_no_grad"


def test_set_grad_enabled_as_decorator():
    x = sj.tensor([1.0], requires_grad=True)

    @sj.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert sj.is_grad_enabled(), "creating a set_grad_enabled decorator must not change the mode (torch)"
    y = f(x)
    assert not y.requires_grad and y.grad_fn is None
    assert sj.is_grad_enabled()


def test_no_grad_as_bare_decorator():
    # torch >= 2.0 accepts @torch.no_grad without parentheses
    x = sj.tensor([1.0], requires_grad=True)

    @sj.no_grad
    def f(t):
        return t * 2

    y = f(x)
    assert not y.requires_grad and y.grad_fn is None
    assert sj.is_grad_enabled()


# --------------------------------------------------------------------------------------------------
# graph inspection
# --------------------------------------------------------------------------------------------------

def test_grad_fn_structure_of_mul_sum():
    a = sj.tensor([1.0, 2.0], requires_grad=True)
    b = sj.tensor([3.0, 4.0], requires_grad=True)
    s = (a * b).sum()
    ta = torch.tensor([1.0, 2.0], requires_grad=True)
    tb = torch.tensor([3.0, 4.0], requires_grad=True)
    ts = (ta * tb).sum()
    assert s.grad_fn.name() == ts.grad_fn.name() == "SumBackward0"
    nf, tnf = s.grad_fn.next_functions, ts.grad_fn.next_functions
    assert len(nf) == len(tnf) == 1
    mul, idx = nf[0]
    assert idx == 0
    assert mul.name() == tnf[0][0].name() == "MulBackward0"
    leaves = mul.next_functions
    assert len(leaves) == 2
    for (fn, i), (tfn, ti) in zip(leaves, tnf[0][0].next_functions):
        assert fn.name() == "AccumulateGrad"          # torch spells it 'torch::autograd::AccumulateGrad'
        assert tfn.name().endswith("AccumulateGrad")
        assert i == ti == 0


def test_accumulate_grad_variable_and_constant_inputs():
    a = sj.tensor([1.0, 2.0], requires_grad=True)
    c = sj.tensor([3.0, 4.0])
    mul = (a * c).grad_fn
    (fa, ia), (fc, ic) = mul.next_functions
    assert fa.name() == "AccumulateGrad"
    assert fa.variable is a
    assert fc is None and ic == 0          # torch: inputs without grad appear as (None, 0)


def _named_ops():
    def ops(lib):
        F = lib.nn.functional
        return {
            "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
            "div": lambda a, b: a / b, "neg": lambda a, b: -a, "exp": lambda a, b: a.exp(),
            "log": lambda a, b: a.log(), "sin": lambda a, b: a.sin(),
            "cos": lambda a, b: a.cos(), "tanh": lambda a, b: a.tanh(), "sigmoid": lambda a, b: a.sigmoid(),
            "relu": lambda a, b: a.relu(), "sum": lambda a, b: a.sum(), "sum_dim": lambda a, b: a.sum(dim=0),
            "mean": lambda a, b: a.mean(), "pow": lambda a, b: a ** 2, "matmul": lambda a, b: a @ b,
            "mul_scalar": lambda a, b: a * 2, "add_scalar": lambda a, b: a + 1, "sqrt": lambda a, b: a.sqrt(),
            "abs": lambda a, b: a.abs(), "softmax": lambda a, b: F.softmax(a, dim=1),
            "log_softmax": lambda a, b: F.log_softmax(a, dim=1), "maximum": lambda a, b: lib.maximum(a, b),
        }
    return ops


_OPS = _named_ops()
_OP_NAMES = list(_OPS(torch))


@pytest.mark.parametrize("op", _OP_NAMES)
def test_grad_fn_names_match_torch(op):
    data_a = [[1.0, 2.0], [3.0, 4.0]]
    data_b = [[0.5, -1.0], [2.0, 1.5]]
    out_t = _OPS(torch)[op](torch.tensor(data_a, requires_grad=True), torch.tensor(data_b, requires_grad=True))
    out_s = _OPS(sj)[op](sj.tensor(data_a, requires_grad=True), sj.tensor(data_b, requires_grad=True))
    assert out_s.grad_fn.name() == out_t.grad_fn.name()


# --------------------------------------------------------------------------------------------------
# sj.autograd.grad, first and higher order
# --------------------------------------------------------------------------------------------------

X_VALUES = [-1.3, -0.4, 0.2, 0.9, 1.7]
X_POS = [0.3, 0.8, 1.5, 2.2]


def test_autograd_grad_first_order_does_not_touch_dot_grad():
    x = sj.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x ** 2).sum()
    (g,) = sj.autograd.grad(y, x)
    close(npy(g), [2.0, 4.0, 6.0])
    assert x.grad is None
    assert not g.requires_grad


def test_autograd_grad_multiple_inputs_and_grad_outputs():
    a = sj.tensor([1.0, 2.0], requires_grad=True)
    b = sj.tensor([3.0, 5.0], requires_grad=True)
    y = a * b
    ga, gb = sj.autograd.grad(y, [a, b], grad_outputs=sj.tensor([1.0, 10.0]))
    close(npy(ga), [3.0, 50.0])
    close(npy(gb), [1.0, 20.0])
    ga, gb = sj.autograd.grad(outputs=[(a * b).sum()], inputs=(a, b))
    close(npy(ga), [3.0, 5.0])
    close(npy(gb), [1.0, 2.0])


def test_autograd_grad_allow_unused():
    x = sj.tensor([1.0], requires_grad=True)
    z = sj.tensor([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        sj.autograd.grad((x * 3).sum(), [x, z])
    gx, gz = sj.autograd.grad((x * 3).sum(), [x, z], allow_unused=True)
    close(npy(gx), [3.0])
    assert gz is None


def _second_derivative(lib, fn, values, dtype):
    # built from a float64 ndarray so that only autograd is under test here (test_creation covers lists)
    x = lib.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, requires_grad=True)
    y = fn(lib, x)
    (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
    assert g.requires_grad, "create_graph=True must give a differentiable gradient"
    (h,) = lib.autograd.grad(g.sum(), x)
    return g.detach().numpy(), h.detach().numpy()


ELEMENTWISE = {
    # name: (fn, first derivative, second derivative, domain)
    "cube": (lambda lib, x: x ** 3, lambda x: 3 * x ** 2, lambda x: 6 * x, X_VALUES),
    "sin": (lambda lib, x: x.sin(), np.cos, lambda x: -np.sin(x), X_VALUES),
    "sigmoid": (lambda lib, x: x.sigmoid(),
                lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s),
                lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s), X_VALUES),
    "torch_sigmoid_fn": (lambda lib, x: lib.sigmoid(x),
                         lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s),
                         lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s), X_VALUES),
    "tanh": (lambda lib, x: x.tanh(), lambda x: 1 - np.tanh(x) ** 2,
             lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2), X_VALUES),
    "exp": (lambda lib, x: x.exp(), np.exp, np.exp, X_VALUES),
    "log": (lambda lib, x: x.log(), lambda x: 1 / x, lambda x: -1 / x ** 2, X_POS),
    "sqrt": (lambda lib, x: x.sqrt(), lambda x: 0.5 / np.sqrt(x), lambda x: -0.25 * x ** -1.5, X_POS),
    "reciprocal_div": (lambda lib, x: 1 / x, lambda x: -1 / x ** 2, lambda x: 2 / x ** 3, X_POS),
    "x_sin_x": (lambda lib, x: x * x.sin(), lambda x: np.sin(x) + x * np.cos(x),
                lambda x: 2 * np.cos(x) - x * np.sin(x), X_VALUES),
    "exp_of_square": (lambda lib, x: (x * x).exp(), lambda x: 2 * x * np.exp(x * x),
                      lambda x: (2 + 4 * x * x) * np.exp(x * x), [-0.5, 0.1, 0.7]),
}


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_second_derivative_elementwise(name):
    fn, d1, d2, values = ELEMENTWISE[name]
    g, h = _second_derivative(sj, fn, values, sj.float64)
    gt, ht = _second_derivative(torch, fn, values, torch.float64)
    x = np.array(values)
    close(g, d1(x), rtol=1e-10, atol=1e-12)
    close(h, d2(x), rtol=1e-10, atol=1e-12)
    close(g, gt, rtol=1e-10, atol=1e-12)
    close(h, ht, rtol=1e-10, atol=1e-12)


def test_second_derivative_float32():
    g, h = _second_derivative(sj, lambda lib, x: x ** 3, [1.0, 2.0], sj.float32)
    close(g, [3.0, 12.0], rtol=1e-6)
    close(h, [6.0, 12.0], rtol=1e-6)


def test_third_derivative():
    x = sj.tensor([0.5, 2.0], dtype=sj.float64, requires_grad=True)
    y = (x ** 4).sum()
    (g1,) = sj.autograd.grad(y, x, create_graph=True)
    (g2,) = sj.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = sj.autograd.grad(g2.sum(), x)
    close(npy(g1), 4 * np.array([0.5, 2.0]) ** 3)
    close(npy(g2), 12 * np.array([0.5, 2.0]) ** 2)
    close(npy(g3), 24 * np.array([0.5, 2.0]))


def test_backward_with_create_graph_then_grad_of_grad():
    x = sj.tensor(2.0, dtype=sj.float64, requires_grad=True)
    y = x ** 3
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    close(g.item(), 12.0)
    (h,) = sj.autograd.grad(g, x)
    close(h.item(), 12.0)


_A = np.array([[0.5, -1.2, 0.3], [0.8, 0.1, -0.7], [-0.4, 0.9, 1.1]])
_W = np.array([0.3, -0.6, 1.4])
_V = np.array([0.7, -0.2, 0.5])
_X0 = np.array([0.2, -0.5, 0.9])

COMPOSITE = {
    "softmax_weighted": lambda lib, x: (lib.nn.functional.softmax(x, dim=0) * lib.tensor(_W)).sum(),
    "log_softmax_pick": lambda lib, x: lib.nn.functional.log_softmax(x * 2, dim=0)[1],
    "softmax_of_matmul": lambda lib, x: (lib.nn.functional.softmax(lib.tensor(_A) @ x, dim=0) ** 2).sum(),
    "matmul_tanh": lambda lib, x: ((lib.tensor(_A) @ x).tanh() ** 2).sum(),
    "quadratic_form": lambda lib, x: x @ (lib.tensor(_A) @ x),
    "matmul_2d_sigmoid": lambda lib, x: (x.reshape(1, 3) @ lib.tensor(_A)).sigmoid().sum(),
    "cross_entropy_like": lambda lib, x: -(lib.nn.functional.log_softmax(lib.tensor(_A) @ x, dim=0)
                                           * lib.tensor([0.0, 1.0, 0.0])).sum(),
}


def _grad_and_hvp(lib, fn):
    x = lib.tensor(_X0, requires_grad=True)
    y = fn(lib, x)
    (g,) = lib.autograd.grad(y, x, create_graph=True)
    (gsum,) = lib.autograd.grad(g.sum(), x, retain_graph=True)
    (hv,) = lib.autograd.grad((g * lib.tensor(_V)).sum(), x)
    return [t.detach().numpy() for t in (y, g, gsum, hv)]


@pytest.mark.parametrize("name", list(COMPOSITE))
def test_second_order_composite_vs_torch(name):
    ours = _grad_and_hvp(sj, COMPOSITE[name])
    ref = _grad_and_hvp(torch, COMPOSITE[name])
    for what, a, b in zip(("value", "grad", "hessian row sums", "hessian-vector product"), ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=what)


def test_hessian_vector_product_of_mlp_vs_torch():
    rng = np.random.default_rng(5)
    W1 = rng.standard_normal((4, 3))
    W2 = rng.standard_normal((1, 4))
    xin = rng.standard_normal((5, 3))
    V1 = rng.standard_normal((4, 3))

    def run(lib):
        w1 = lib.tensor(W1, requires_grad=True)
        w2 = lib.tensor(W2, requires_grad=True)
        h = (lib.tensor(xin) @ w1.t()).tanh()
        out = (h @ w2.t()).sigmoid()
        loss = ((out - 0.5) ** 2).mean()
        g1, g2 = lib.autograd.grad(loss, [w1, w2], create_graph=True)
        hv1, hv2 = lib.autograd.grad((g1 * lib.tensor(V1)).sum(), [w1, w2])
        return [t.detach().numpy() for t in (loss, g1, g2, hv1, hv2)]

    for a, b in zip(run(sj), run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------------------------------
# custom autograd.Function
# --------------------------------------------------------------------------------------------------

class MyExp(sj.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * y


NEEDS = []


class MulAdd(sj.autograd.Function):
    """f(a, b) = a * b + a"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        NEEDS.append(tuple(ctx.needs_input_grad))
        return a * b + a

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        ga = gy * (b + 1) if ctx.needs_input_grad[0] else None
        gb = gy * a if ctx.needs_input_grad[1] else None
        return ga, gb


class Scale(sj.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, gy):
        return gy * ctx.k, None


class SplitTwo(sj.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, g1, g2):
        return g1 * 2 + g2 * 3


def test_custom_exp_matches_builtin():
    check_op(lambda x: MyExp.apply(x), torch.exp, np.array([[-1.0, 0.5], [0.25, 1.5]]))


def test_custom_exp_grad_fn():
    x = sj.tensor([0.0, 1.0], requires_grad=True)
    y = MyExp.apply(x)
    assert y.requires_grad
    assert y.grad_fn is not None
    assert y.grad_fn.name() == "MyExpBackward"
    close(npy(y), np.exp([0.0, 1.0]), rtol=1e-6)
    (y * 2).sum().backward()
    close(npy(x.grad), 2 * np.exp([0.0, 1.0]), rtol=1e-6)


def test_custom_function_forward_runs_without_tracking():
    seen = []

    class Probe(sj.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            seen.append((sj.is_grad_enabled(), y.requires_grad))
            return y

        @staticmethod
        def backward(ctx, gy):
            return gy * 2

    Probe.apply(sj.tensor([1.0], requires_grad=True))
    assert seen == [(False, False)]


def test_custom_two_input_function_matches_builtin():
    check_op(lambda a, b: MulAdd.apply(a, b), lambda a, b: a * b + a,
             np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.7, -1.1]))


def test_needs_input_grad():
    NEEDS.clear()
    a = sj.tensor([1.0, 2.0], requires_grad=True)
    b = sj.tensor([3.0, 4.0])
    y = MulAdd.apply(a, b)
    assert NEEDS[-1] == (True, False)
    y.sum().backward()
    close(npy(a.grad), [4.0, 5.0])
    assert b.grad is None
    MulAdd.apply(sj.tensor([1.0]), sj.tensor([1.0], requires_grad=True))
    assert NEEDS[-1] == (False, True)


def test_function_without_grad_inputs_gives_plain_tensor():
    y = MyExp.apply(sj.tensor([0.0]))
    assert not y.requires_grad
    assert y.grad_fn is None


def test_custom_function_with_non_tensor_argument():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    y = Scale.apply(x, 2.5)
    close(npy(y), [2.5, 5.0])
    y.sum().backward()
    close(npy(x.grad), [2.5, 2.5])


def test_custom_function_with_two_outputs():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    a, b = SplitTwo.apply(x)
    close(npy(a), [2.0, 4.0])
    close(npy(b), [3.0, 6.0])
    (a.sum() + 10 * b.sum()).backward()
    close(npy(x.grad), [32.0, 32.0])


def test_custom_function_composes_with_builtins():
    x = sj.tensor(np.array([0.3, -0.2]), requires_grad=True)
    y = (MyExp.apply(x.sin()) * x).sum()
    y.backward()
    xv = np.array([0.3, -0.2])
    close(npy(x.grad), np.exp(np.sin(xv)) * (np.cos(xv) * xv + 1), rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# gradcheck / gradgradcheck
# --------------------------------------------------------------------------------------------------

def _inputs64(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(sj.tensor(rng.standard_normal(s) * 0.5 + 0.1, dtype=sj.float64, requires_grad=True)
                 for s in shapes)


@pytest.mark.parametrize("fn,shapes", [
    (lambda x: (x.sin() * x).sum(), [(3,)]),
    (lambda x: x.tanh() * 2, [(2, 3)]),
    (lambda a, b: a @ b, [(2, 3), (3, 4)]),
    (lambda a, b: (a * b).exp(), [(3,), (3,)]),
    (lambda x: sj.nn.functional.softmax(x, dim=1), [(2, 4)]),
    (lambda x: MyExp.apply(x), [(4,)]),
    (lambda a, b: MulAdd.apply(a, b), [(3,), (3,)]),
])
def test_gradcheck_passes_for_correct_ops(fn, shapes):
    assert sj.autograd.gradcheck(fn, _inputs64(*shapes)) is True


class WrongExp(MyExp):
    """MyExp with a deliberately wrong backward."""

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * y * 1.1        # deliberately wrong


def test_gradcheck_detects_wrong_backward():
    inputs = _inputs64((3,))
    with pytest.raises(RuntimeError):
        sj.autograd.gradcheck(WrongExp.apply, inputs)
    assert sj.autograd.gradcheck(WrongExp.apply, inputs, raise_exception=False) is False


@pytest.mark.parametrize("fn,shapes", [
    (lambda x: x.sin(), [(3,)]),
    (lambda x: x ** 3, [(3,)]),
    (lambda x: x.tanh().sum(), [(2, 2)]),
    (lambda x: x.sigmoid(), [(4,)]),
    (lambda a, b: a * b, [(3,), (3,)]),
    (lambda a, b: (a @ b).exp(), [(2, 3), (3, 2)]),
    (lambda x: sj.nn.functional.log_softmax(x, dim=0), [(4,)]),
])
def test_gradgradcheck(fn, shapes):
    assert sj.autograd.gradgradcheck(fn, _inputs64(*shapes, seed=1)) is True


# --------------------------------------------------------------------------------------------------
# anomaly detection
# --------------------------------------------------------------------------------------------------

class NanGrad(sj.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, gy):
        return gy * float("nan")


def test_detect_anomaly_names_custom_function():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with sj.autograd.detect_anomaly():
            y = NanGrad.apply(x).sum()
            with pytest.raises(RuntimeError) as info:
                y.backward()
    assert "NanGrad" in str(info.value)
    assert "nan" in str(info.value).lower()


def test_detect_anomaly_names_builtin_op():
    # d/dx sqrt(x) at 0 is inf; times the zero upstream gradient gives nan, in SqrtBackward0 (as in torch)
    x = sj.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with sj.autograd.detect_anomaly():
            y = (x.sqrt() * 0).sum()
            with pytest.raises(RuntimeError) as info:
                y.backward()
    assert "Sqrt" in str(info.value)


def test_without_anomaly_mode_nan_propagates_silently():
    x = sj.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (x.sqrt() * 0).sum().backward()
    g = npy(x.grad)
    assert np.isnan(g[0]) and g[1] == 0.0


# --------------------------------------------------------------------------------------------------
# deep graphs and memory
# --------------------------------------------------------------------------------------------------

def _run_isolated(code: str, timeout: int = 120) -> str:
    """Run code in a fresh interpreter so that a crash (C stack overflow) fails one test, not the run."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, f"exit code {proc.returncode}\nstdout: {proc.stdout[-2000:]}\n" \
                                 f"stderr: {proc.stderr[-3000:]}"
    return proc.stdout


def test_chain_of_100k_ops_backpropagates():
    out = _run_isolated("""
        import sys
        import shenjing as sj
        limit = sys.getrecursionlimit()
        x = sj.tensor(1.0, dtype=sj.float64, requires_grad=True)
        y = x
        for _ in range(100_000):
            y = y * 1.0000001
        y.backward()
        assert sys.getrecursionlimit() == limit, "the recursion limit must not be raised"
        print(repr(y.item()), repr(x.grad.item()))
    """)
    value, grad = map(float, out.split())
    expected = 1.0000001 ** 100_000
    assert value == pytest.approx(expected, rel=1e-9)
    assert grad == pytest.approx(expected, rel=1e-9)


def test_chain_of_100k_additions_backpropagates_in_process():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1e-9
    (y * 3).sum().backward()
    close(npy(x.grad), [3.0, 3.0])


def test_dropping_a_100k_graph_without_backward():
    out = _run_isolated("""
        import gc
        import shenjing as sj
        x = sj.tensor([1.0], requires_grad=True)
        y = x
        for _ in range(100_000):
            y = y * 1.0
        del y
        gc.collect()
        print("ok")
    """)
    assert out.strip() == "ok"


def test_memory_flat_over_1000_training_steps():
    sj.manual_seed(0)
    X = sj.randn(16, 4)
    Y = sj.randn(16, 1)
    W1 = (sj.randn(4, 8) * 0.5).requires_grad_()
    b1 = sj.zeros(8, requires_grad=True)
    W2 = (sj.randn(8, 1) * 0.5).requires_grad_()
    b2 = sj.zeros(1, requires_grad=True)
    params = [W1, b1, W2, b2]

    def step():
        h = (X @ W1 + b1).tanh()
        out = h @ W2 + b2
        loss = ((out - Y) ** 2).mean()
        loss.backward()
        with sj.no_grad():
            for p in params:
                p -= 0.05 * p.grad
                p.grad = None
        return loss.item()

    gc.collect()
    tracemalloc.start()
    try:
        losses = []
        for i in range(1000):
            losses.append(step())
            if i == 99:
                gc.collect()
                at_100 = tracemalloc.get_traced_memory()[0]
        gc.collect()
        at_1000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert losses[-1] < losses[0], "training should reduce the loss"
    growth = at_1000 - at_100
    assert growth < 300_000, f"traced memory grew by {growth} bytes between step 100 and step 1000"


def test_saved_tensors_freed_after_backward():
    n = 250_000                                           # 1 MB per float32 tensor
    x = sj.randn(n, requires_grad=True)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        a = x * 2
        b = a.sin()                                       # saves a (or something of that size)
        c = b * b                                         # saves b
        loss = c.sum()
        del a, c
        gc.collect()
        before = tracemalloc.get_traced_memory()[0] - base
        loss.backward()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert loss.grad_fn is not None and b is not None     # graph objects still reachable
    # before backward: a (saved by sin) and b are alive: at least 2 MB
    assert before > 1_900_000
    # after: only b and x.grad may remain (2 MB); a retained saved tensor would add 1 MB
    assert after < 2_500_000, f"{after} bytes still allocated after backward: saved tensors not freed"


# --------------------------------------------------------------------------------------------------
# in-place safety
# --------------------------------------------------------------------------------------------------

def test_inplace_on_saved_output_raises_at_backward():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()                 # ExpBackward saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"(?i)in-?place"):
        y.sum().backward()


def test_inplace_on_saved_input_raises_at_backward():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    a = x + 0
    b = a * a                   # saves a
    a.mul_(3)
    with pytest.raises(RuntimeError, match=r"(?i)in-?place"):
        b.sum().backward()


def test_inplace_on_unsaved_tensor_is_fine():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2                   # nothing of y is needed by MulBackward (scalar factor)
    y.add_(1)
    assert y.grad_fn is not None
    (y * y).sum().backward()    # y = 2x + 1, d/dx sum(y^2) = 4(2x + 1)
    close(npy(x.grad), [12.0, 20.0])


def test_inplace_on_leaf_requiring_grad_raises():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf"):
        x.mul_(2)
    with pytest.raises(RuntimeError):
        x[0] = 5.0
    with sj.no_grad():
        x.add_(1)
        x[1] = 7.0
    assert x.tolist() == [2.0, 7.0]
    assert x.requires_grad and x.is_leaf
