"""The names that tutorials print: ``loss.grad_fn`` and its ``next_functions``, as PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shenjing as sj


def _printed(node):
    """The name that printing a node shows: ``<AddmmBackward0 object at 0x...>``."""
    return None if node is None else repr(node)[1:].split(" ")[0]


def _names(lib, build):
    lib.manual_seed(0)
    node = build(lib).grad_fn
    return _printed(node), [_printed(n) for n, _ in node.next_functions]


CASES = {
    "linear": lambda L: L.nn.Linear(3, 2)(L.randn(4, 3)),
    "linear without bias": lambda L: L.nn.Linear(3, 2, bias=False)(L.randn(4, 3)),
    "linear on 3-D input": lambda L: L.nn.Linear(3, 2)(L.randn(5, 4, 3)),
    "mse of a linear layer": lambda L: L.nn.functional.mse_loss(L.nn.Linear(3, 1)(L.randn(4, 3)), L.randn(4, 1)),
    "mse summed": lambda L: L.nn.MSELoss(reduction="sum")(L.randn(4, requires_grad=True), L.randn(4)),
    "cross entropy": lambda L: L.nn.functional.cross_entropy(L.nn.Linear(3, 4)(L.randn(2, 3)), L.tensor([0, 3])),
    "nll of log_softmax": lambda L: L.nn.functional.nll_loss(L.randn(2, 3, requires_grad=True).log_softmax(1),
                                                             L.tensor([0, 1])),
    "t": lambda L: L.randn(2, 3, requires_grad=True).t(),
    "transpose": lambda L: L.randn(2, 3, requires_grad=True).transpose(0, 1),
    "permute": lambda L: L.randn(2, 3, requires_grad=True).permute(1, 0),
    "relu of a conv": lambda L: L.relu(L.nn.Conv2d(1, 2, 3)(L.randn(1, 1, 5, 5))),
}


# Where shenjing's graph differs on purpose: cross_entropy is one node (log_softmax and nll_loss fused), and
# a linear layer's weight enters directly where PyTorch transposes it first (TBackward0).
FUSED = {"cross entropy": ["AddmmBackward0"],
         "linear on 3-D input": ["AccumulateGrad", None, "AccumulateGrad"]}  # (PyTorch: view of an addmm)


@pytest.mark.parametrize("case", list(CASES))
def test_grad_fn_and_next_functions_are_named_as_in_torch(case):
    ours, theirs = _names(sj, CASES[case]), _names(torch, CASES[case])
    assert ours[0] == theirs[0]
    expected = FUSED.get(case, ["AccumulateGrad" if name == "TBackward0" else name for name in theirs[1]])
    assert ours[1] == expected, theirs[1]


def test_the_blitz_tutorials_chain_prints_as_in_torch():
    """loss.grad_fn, then next_functions[0][0] twice: MseLossBackward0, AddmmBackward0, AccumulateGrad."""
    def chain(lib):
        lib.manual_seed(0)
        net = lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.ReLU(), lib.nn.Linear(3, 2))
        loss = lib.nn.MSELoss()(net(lib.randn(1, 4)), lib.randn(1, 2))
        first = loss.grad_fn
        second = first.next_functions[0][0]
        return [_printed(first), _printed(second), _printed(second.next_functions[0][0])]
    assert chain(sj) == chain(torch) == ["MseLossBackward0", "AddmmBackward0", "AccumulateGrad"]


def test_mse_loss_as_one_node_matches_torch_values_and_gradients():
    rng = np.random.default_rng(0)
    for reduction in ("mean", "sum", "none"):
        for shapes in [((3, 2), (3, 2)), ((0,), (0,)), ((2, 3), (2, 3))]:
            a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
            xs, ys = sj.tensor(a, requires_grad=True), sj.tensor(b, requires_grad=True)
            xt, yt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
            ls = sj.nn.functional.mse_loss(xs, ys, reduction=reduction)
            lt = torch.nn.functional.mse_loss(xt, yt, reduction=reduction)
            np.testing.assert_allclose(ls.detach().numpy(), lt.detach().numpy(), rtol=1e-12, equal_nan=True)
            upstream = rng.standard_normal(tuple(lt.shape))
            ls.backward(sj.tensor(upstream))
            lt.backward(torch.tensor(upstream))
            np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
            np.testing.assert_allclose(ys.grad.numpy(), yt.grad.numpy(), rtol=1e-12)
    x = sj.tensor(rng.standard_normal(3), requires_grad=True)
    (g,) = sj.autograd.grad(sj.nn.functional.mse_loss(x, sj.zeros(3)), x, create_graph=True)
    (h,) = sj.autograd.grad(g.sum(), x)  # d/dx of 2x/3 summed: 2/3 each
    np.testing.assert_allclose(h.numpy(), np.full(3, 2 / 3))
