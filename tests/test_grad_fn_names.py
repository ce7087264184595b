"""The names that tutorials print: ``loss.grad_fn`` and its ``next_functions``, as PyTorch's.

A long list of expressions (arithmetic, reductions with and without dim, shape and view ops, indexing,
activations, every loss of nn.functional with each reduction, layers, products, joining and splitting) is
evaluated with torch 2.13 and with shenjing on the same inputs (the same seed: the same random numbers), and
``grad_fn.name()`` compared. Where shenjing composes an op from smaller ones, its last node shows PyTorch's
name (``shown_as``): only the name, the values and gradients are the composition's.
"""

from __future__ import annotations

import warnings

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


NEXT_FUNCTIONS_CASES = {
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


@pytest.mark.parametrize("case", list(NEXT_FUNCTIONS_CASES))
def test_grad_fn_and_next_functions_are_named_as_in_torch(case):
    ours, theirs = _names(sj, NEXT_FUNCTIONS_CASES[case]), _names(torch, NEXT_FUNCTIONS_CASES[case])
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


# -- the sweep: grad_fn.name() of each expression, as in torch ------------------------------------

def R(L, *shape):
    """A leaf that requires grad."""
    return L.randn(*shape, requires_grad=True)


def P(L, *shape):
    """Probabilities in (0, 1), a leaf that requires grad."""
    return (L.rand(*shape) * 0.8 + 0.1).requires_grad_()


def F(L):
    return L.nn.functional


def y(L, *shape):
    """A tensor made by an op (not a leaf), so that in-place ops may write it."""
    return R(L, *shape) * 1


def _loss_cases():
    """Every loss of nn.functional with each reduction."""
    cases = {}
    losses = {
        "mse_loss": lambda L, r: F(L).mse_loss(R(L, 4, 3), L.randn(4, 3), reduction=r),
        "l1_loss": lambda L, r: F(L).l1_loss(R(L, 4, 3), L.randn(4, 3), reduction=r),
        "smooth_l1_loss": lambda L, r: F(L).smooth_l1_loss(R(L, 4, 3), L.randn(4, 3), reduction=r),
        "huber_loss": lambda L, r: F(L).huber_loss(R(L, 4, 3), L.randn(4, 3), reduction=r),
        "binary_cross_entropy": lambda L, r: F(L).binary_cross_entropy(P(L, 4, 3), L.rand(4, 3), reduction=r),
        "binary_cross_entropy_with_logits":
            lambda L, r: F(L).binary_cross_entropy_with_logits(R(L, 4, 3), L.rand(4, 3), reduction=r),
        "bce_with_logits_pos_weight": lambda L, r: F(L).binary_cross_entropy_with_logits(
            R(L, 4, 3), L.rand(4, 3), pos_weight=L.rand(3), reduction=r),
        "cross_entropy": lambda L, r: F(L).cross_entropy(R(L, 4, 3), L.tensor([0, 2, 1, 0]), reduction=r),
        "cross_entropy_smoothing": lambda L, r: F(L).cross_entropy(R(L, 4, 3), L.tensor([0, 2, 1, 0]),
                                                                   label_smoothing=0.1, reduction=r),
        "cross_entropy_probabilities": lambda L, r: F(L).cross_entropy(R(L, 4, 3), L.rand(4, 3).softmax(1),
                                                                       reduction=r),
        "nll_loss": lambda L, r: F(L).nll_loss(R(L, 4, 3).log_softmax(1), L.tensor([0, 2, 1, 0]), reduction=r),
        "kl_div": lambda L, r: F(L).kl_div(R(L, 4, 3).log_softmax(1), L.rand(4, 3).softmax(1),
                                           reduction="batchmean" if r == "mean" else r),
        "poisson_nll_loss": lambda L, r: F(L).poisson_nll_loss(R(L, 4, 3), L.rand(4, 3), reduction=r),
        "gaussian_nll_loss": lambda L, r: F(L).gaussian_nll_loss(R(L, 4, 3), L.randn(4, 3), L.rand(4, 3) + 0.1,
                                                                 reduction=r),
        "hinge_embedding_loss": lambda L, r: F(L).hinge_embedding_loss(
            R(L, 4, 3), L.tensor([[1.0, -1.0, 1.0]] * 4), reduction=r),
        "margin_ranking_loss": lambda L, r: F(L).margin_ranking_loss(R(L, 4), L.randn(4),
                                                                     L.tensor([1.0, -1.0, 1.0, -1.0]), reduction=r),
        "soft_margin_loss": lambda L, r: F(L).soft_margin_loss(R(L, 4, 3), L.tensor([[1.0, -1.0, 1.0]] * 4),
                                                               reduction=r),
        "multilabel_soft_margin_loss": lambda L, r: F(L).multilabel_soft_margin_loss(
            R(L, 4, 3), L.tensor([[1.0, 0.0, 1.0]] * 4), reduction=r),
        "multilabel_margin_loss": lambda L, r: F(L).multilabel_margin_loss(
            R(L, 2, 3), L.tensor([[0, 2, -1], [1, -1, 0]]), reduction=r),
        "multi_margin_loss": lambda L, r: F(L).multi_margin_loss(R(L, 4, 3), L.tensor([0, 2, 1, 0]), reduction=r),
        "cosine_embedding_loss": lambda L, r: F(L).cosine_embedding_loss(R(L, 4, 3), L.randn(4, 3),
                                                                         L.tensor([1, -1, 1, -1]), reduction=r),
        "triplet_margin_loss": lambda L, r: F(L).triplet_margin_loss(R(L, 4, 3), L.randn(4, 3), L.randn(4, 3),
                                                                     reduction=r),
        "triplet_margin_with_distance_loss": lambda L, r: F(L).triplet_margin_with_distance_loss(
            R(L, 4, 3), L.randn(4, 3), L.randn(4, 3), reduction=r),
        "ctc_loss": lambda L, r: F(L).ctc_loss(R(L, 6, 2, 4).log_softmax(2), L.tensor([[1, 2], [3, 1]]),
                                               L.tensor([6, 6]), L.tensor([2, 2]), reduction=r),
    }
    for name, build in losses.items():
        for reduction in ("mean", "sum", "none"):
            cases[f"{name} {reduction}"] = (lambda b, r: lambda L: b(L, r))(build, reduction)
    return cases


NAME_CASES = {
    # arithmetic
    "add": lambda L: R(L, 3) + R(L, 3),
    "add scalar": lambda L: R(L, 3) + 2,
    "sub": lambda L: R(L, 3) - R(L, 3),
    "rsub scalar": lambda L: 1 - R(L, 3),
    "mul": lambda L: R(L, 3) * R(L, 3),
    "mul scalar": lambda L: R(L, 3) * 2,
    "div": lambda L: R(L, 3) / R(L, 3),
    "div scalar": lambda L: R(L, 3) / 2,
    "rdiv scalar": lambda L: 2 / R(L, 3),
    "neg": lambda L: -R(L, 3),
    "pow scalar": lambda L: R(L, 3) ** 2,
    "pow tensor": lambda L: P(L, 3) ** R(L, 3),
    "rpow": lambda L: 2 ** R(L, 3),
    "square": lambda L: R(L, 3).square(),
    "sqrt": lambda L: P(L, 3).sqrt(),
    "rsqrt": lambda L: P(L, 3).rsqrt(),
    "exp": lambda L: R(L, 3).exp(),
    "log": lambda L: P(L, 3).log(),
    "log1p": lambda L: P(L, 3).log1p(),
    "abs": lambda L: R(L, 3).abs(),
    "sin": lambda L: R(L, 3).sin(),
    "cos": lambda L: R(L, 3).cos(),
    "reciprocal": lambda L: P(L, 3).reciprocal(),
    "clamp": lambda L: R(L, 3).clamp(0, 1),
    "clamp min": lambda L: R(L, 3).clamp(min=0),
    "clamp tensors": lambda L: R(L, 3).clamp(L.zeros(3), L.ones(3)),
    "clamp_min": lambda L: R(L, 3).clamp_min(0),
    "maximum": lambda L: L.maximum(R(L, 3), R(L, 3)),
    "minimum": lambda L: L.minimum(R(L, 3), R(L, 3)),
    "where": lambda L: L.where(L.tensor([True, False, True]), R(L, 3), R(L, 3)),
    "lerp": lambda L: L.lerp(R(L, 3), R(L, 3), 0.5),
    "addcmul": lambda L: L.addcmul(R(L, 3), R(L, 3), R(L, 3)),
    # reductions
    "sum": lambda L: R(L, 4, 3).sum(),
    "sum dim": lambda L: R(L, 4, 3).sum(1),
    "mean": lambda L: R(L, 4, 3).mean(),
    "mean dim": lambda L: R(L, 4, 3).mean(0, keepdim=True),
    "prod": lambda L: R(L, 4, 3).prod(),
    "prod dim": lambda L: R(L, 4, 3).prod(1),
    "max": lambda L: R(L, 4, 3).max(),
    "max dim": lambda L: R(L, 4, 3).max(1)[0],
    "min": lambda L: R(L, 4, 3).min(),
    "min dim": lambda L: R(L, 4, 3).min(0).values,
    "amax": lambda L: R(L, 4, 3).amax(1),
    "std": lambda L: R(L, 4, 3).std(),
    "std dim": lambda L: R(L, 4, 3).std(1),
    "var": lambda L: R(L, 4, 3).var(),
    "var dim": lambda L: R(L, 4, 3).var(0),
    "norm": lambda L: R(L, 4, 3).norm(),
    "norm dim": lambda L: R(L, 4, 3).norm(dim=1),
    "logsumexp": lambda L: R(L, 4, 3).logsumexp(1),
    "cumsum": lambda L: R(L, 4, 3).cumsum(1),
    "cumprod": lambda L: R(L, 4, 3).cumprod(1),
    "median": lambda L: R(L, 5).median(),
    "sort": lambda L: R(L, 5).sort()[0],
    "topk": lambda L: R(L, 5).topk(2)[0],
    # shape and view
    "view": lambda L: R(L, 4, 3).view(12),
    "reshape": lambda L: R(L, 4, 3).reshape(3, 4),
    "flatten": lambda L: R(L, 2, 3, 4).flatten(1),
    "unflatten": lambda L: R(L, 2, 12).unflatten(1, (3, 4)),
    "unsqueeze": lambda L: R(L, 4).unsqueeze(0),
    "squeeze": lambda L: R(L, 1, 4).squeeze(),
    "squeeze dim": lambda L: R(L, 1, 4).squeeze(0),
    "squeeze dims": lambda L: R(L, 1, 4, 1).squeeze((0, 2)),
    "t": lambda L: R(L, 2, 3).t(),
    "T": lambda L: R(L, 2, 3).T,
    "mT": lambda L: R(L, 2, 2, 3).mT,
    "transpose": lambda L: R(L, 2, 3).transpose(0, 1),
    "permute": lambda L: R(L, 2, 3, 4).permute(2, 0, 1),
    "expand": lambda L: R(L, 1, 3).expand(4, 3),
    "expand_as": lambda L: R(L, 1, 3).expand_as(L.zeros(4, 3)),
    "repeat": lambda L: R(L, 3).repeat(2, 3),
    "repeat_interleave": lambda L: R(L, 3).repeat_interleave(2),
    "flip": lambda L: R(L, 3, 2).flip(0),
    "roll": lambda L: R(L, 3, 2).roll(1, 0),
    "contiguous of a transpose": lambda L: R(L, 2, 3).t().contiguous(),
    "clone": lambda L: R(L, 3).clone(),
    "to float64": lambda L: R(L, 3).to(L.float64),
    "double": lambda L: R(L, 3).double(),
    "narrow": lambda L: R(L, 4, 3).narrow(0, 1, 2),
    "tril": lambda L: R(L, 3, 3).tril(),
    "diag": lambda L: R(L, 3, 3).diag(),
    "diagonal": lambda L: R(L, 3, 3).diagonal(),
    "trace": lambda L: R(L, 3, 3).trace(),
    # indexing
    "select": lambda L: R(L, 4, 3)[0],
    "select dim 1": lambda L: R(L, 4, 3)[:, 1],
    "slice": lambda L: R(L, 4, 3)[1:3],
    "slice step": lambda L: R(L, 4, 3)[::2],
    "index with a list": lambda L: R(L, 4, 3)[[0, 2]],
    "index with a tensor": lambda L: R(L, 4, 3)[L.tensor([0, 2])],
    "index with a mask": lambda L: R(L, 4)[L.tensor([True, False, True, False])],
    "index two dims": lambda L: R(L, 4, 3)[L.tensor([0, 1]), L.tensor([2, 0])],
    "gather": lambda L: R(L, 4, 3).gather(1, L.tensor([[0], [1], [2], [0]])),
    "index_select": lambda L: R(L, 4, 3).index_select(0, L.tensor([0, 3])),
    "masked_fill": lambda L: R(L, 3).masked_fill(L.tensor([True, False, True]), 0.0),
    "masked_select": lambda L: R(L, 3).masked_select(L.tensor([True, False, True])),
    "take_along_dim": lambda L: L.take_along_dim(R(L, 4, 3), L.tensor([[0], [1], [2], [0]]), 1),
    "scatter": lambda L: R(L, 2, 3).scatter(1, L.tensor([[0], [2]]), R(L, 2, 1)),
    "scatter_add": lambda L: R(L, 2, 3).scatter_add(1, L.tensor([[0], [2]]), R(L, 2, 1)),
    "index_add": lambda L: R(L, 4, 3).index_add(0, L.tensor([0, 2]), R(L, 2, 3)),
    # joining and splitting
    "cat": lambda L: L.cat([R(L, 2, 3), R(L, 1, 3)]),
    "concat": lambda L: L.concat([R(L, 2, 3), R(L, 1, 3)], 0),
    "stack": lambda L: L.stack([R(L, 3), R(L, 3)]),
    "stack dim 1": lambda L: L.stack([R(L, 3), R(L, 3)], 1),
    "hstack": lambda L: L.hstack([R(L, 3), R(L, 3)]),
    "vstack": lambda L: L.vstack([R(L, 3), R(L, 3)]),
    "split": lambda L: R(L, 4, 3).split(2)[0],
    "split sizes": lambda L: R(L, 4, 3).split([1, 3])[1],
    "chunk": lambda L: R(L, 4, 3).chunk(2)[1],
    "unbind": lambda L: R(L, 4, 3).unbind()[0],
    "tensor_split": lambda L: R(L, 4, 3).tensor_split(2)[0],
    # products
    "matmul 2-D": lambda L: R(L, 4, 3) @ R(L, 3, 2),
    "matmul 1-D @ 2-D": lambda L: R(L, 3) @ R(L, 3, 2),
    "matmul 2-D @ 1-D": lambda L: R(L, 4, 3) @ R(L, 3),
    "matmul 1-D @ 1-D": lambda L: R(L, 3) @ R(L, 3),
    "matmul 3-D @ 3-D": lambda L: R(L, 2, 4, 3) @ R(L, 2, 3, 2),
    "matmul 3-D @ 2-D": lambda L: R(L, 2, 4, 3) @ R(L, 3, 2),
    "mm": lambda L: L.mm(R(L, 4, 3), R(L, 3, 2)),
    "bmm": lambda L: L.bmm(R(L, 2, 4, 3), R(L, 2, 3, 2)),
    "mv": lambda L: L.mv(R(L, 4, 3), R(L, 3)),
    "dot": lambda L: L.dot(R(L, 3), R(L, 3)),
    "outer": lambda L: L.outer(R(L, 3), R(L, 2)),
    "addmm": lambda L: L.addmm(R(L, 2), R(L, 4, 3), R(L, 3, 2)),
    "einsum": lambda L: L.einsum("ij,jk->ik", R(L, 4, 3), R(L, 3, 2)),
    # activations
    "relu": lambda L: F(L).relu(R(L, 3)),
    "relu method": lambda L: R(L, 3).relu(),
    "leaky_relu": lambda L: F(L).leaky_relu(R(L, 3)),
    "elu": lambda L: F(L).elu(R(L, 3)),
    "selu": lambda L: F(L).selu(R(L, 3)),
    "celu": lambda L: F(L).celu(R(L, 3)),
    "gelu": lambda L: F(L).gelu(R(L, 3)),
    "gelu tanh": lambda L: F(L).gelu(R(L, 3), approximate="tanh"),
    "silu": lambda L: F(L).silu(R(L, 3)),
    "mish": lambda L: F(L).mish(R(L, 3)),
    "sigmoid": lambda L: R(L, 3).sigmoid(),
    "tanh": lambda L: R(L, 3).tanh(),
    "softplus": lambda L: F(L).softplus(R(L, 3)),
    "softsign": lambda L: F(L).softsign(R(L, 3)),
    "hardtanh": lambda L: F(L).hardtanh(R(L, 3)),
    "relu6": lambda L: F(L).relu6(R(L, 3)),
    "hardsigmoid": lambda L: F(L).hardsigmoid(R(L, 3)),
    "hardswish": lambda L: F(L).hardswish(R(L, 3)),
    "logsigmoid": lambda L: F(L).logsigmoid(R(L, 3)),
    "prelu": lambda L: L.nn.PReLU()(R(L, 2, 3)),
    "glu": lambda L: F(L).glu(R(L, 4)),
    "threshold": lambda L: F(L).threshold(R(L, 3), 0.1, 0.0),
    "hardshrink": lambda L: F(L).hardshrink(R(L, 3)),
    "softshrink": lambda L: F(L).softshrink(R(L, 3)),
    "tanhshrink": lambda L: F(L).tanhshrink(R(L, 3)),
    "softmax": lambda L: F(L).softmax(R(L, 2, 3), dim=1),
    "log_softmax": lambda L: F(L).log_softmax(R(L, 2, 3), dim=1),
    "softmin": lambda L: F(L).softmin(R(L, 2, 3), dim=1),
    "softmax method": lambda L: R(L, 2, 3).softmax(-1),
    "normalize": lambda L: F(L).normalize(R(L, 2, 3)),
    "cosine_similarity": lambda L: F(L).cosine_similarity(R(L, 2, 3), R(L, 2, 3)),
    "pairwise_distance": lambda L: F(L).pairwise_distance(R(L, 2, 3), R(L, 2, 3)),
    # layers
    "Linear 1-D": lambda L: L.nn.Linear(3, 2)(R(L, 3)),
    "Linear 2-D": lambda L: L.nn.Linear(3, 2)(R(L, 4, 3)),
    "Linear 3-D": lambda L: L.nn.Linear(3, 2)(R(L, 5, 4, 3)),
    "Linear without bias": lambda L: L.nn.Linear(3, 2, bias=False)(R(L, 4, 3)),
    "Bilinear": lambda L: L.nn.Bilinear(3, 2, 4)(R(L, 5, 3), R(L, 5, 2)),
    "Conv1d": lambda L: L.nn.Conv1d(2, 3, 3)(R(L, 1, 2, 8)),
    "Conv2d": lambda L: L.nn.Conv2d(2, 3, 3)(R(L, 1, 2, 6, 6)),
    "Conv2d without batch": lambda L: L.nn.Conv2d(2, 3, 3)(R(L, 2, 6, 6)),
    "ConvTranspose2d": lambda L: L.nn.ConvTranspose2d(2, 3, 3)(R(L, 1, 2, 4, 4)),
    "max_pool2d": lambda L: F(L).max_pool2d(R(L, 1, 2, 6, 6), 2),
    "max_pool1d": lambda L: F(L).max_pool1d(R(L, 1, 2, 6), 2),
    "avg_pool2d": lambda L: F(L).avg_pool2d(R(L, 1, 2, 6, 6), 2),
    "avg_pool1d": lambda L: F(L).avg_pool1d(R(L, 1, 2, 6), 2),
    "adaptive_avg_pool2d": lambda L: F(L).adaptive_avg_pool2d(R(L, 1, 2, 6, 6), 2),
    "adaptive_avg_pool2d to 1": lambda L: F(L).adaptive_avg_pool2d(R(L, 1, 2, 6, 6), 1),
    "adaptive_max_pool2d": lambda L: F(L).adaptive_max_pool2d(R(L, 1, 2, 6, 6), 2),
    "BatchNorm1d": lambda L: L.nn.BatchNorm1d(3)(R(L, 4, 3)),
    "BatchNorm2d": lambda L: L.nn.BatchNorm2d(2)(R(L, 2, 2, 3, 3)),
    "BatchNorm2d eval": lambda L: L.nn.BatchNorm2d(2).eval()(R(L, 2, 2, 3, 3)),
    "LayerNorm": lambda L: L.nn.LayerNorm(3)(R(L, 4, 3)),
    "GroupNorm": lambda L: L.nn.GroupNorm(2, 4)(R(L, 2, 4, 3)),
    "InstanceNorm2d": lambda L: L.nn.InstanceNorm2d(2)(R(L, 1, 2, 3, 3)),
    "Embedding": lambda L: L.nn.Embedding(5, 3)(L.tensor([1, 4])),
    "EmbeddingBag": lambda L: L.nn.EmbeddingBag(5, 3)(L.tensor([[1, 4]])),
    "Dropout training": lambda L: L.nn.Dropout(0.5)(R(L, 4, 3)),
    "dropout function": lambda L: F(L).dropout(R(L, 4, 3), 0.5),
    "Dropout2d": lambda L: L.nn.Dropout2d(0.5)(R(L, 1, 2, 3, 3)),
    "Flatten": lambda L: L.nn.Flatten()(R(L, 2, 3, 4)),
    "pad": lambda L: F(L).pad(R(L, 2, 3), (1, 1)),
    "interpolate nearest": lambda L: F(L).interpolate(R(L, 1, 1, 2, 2), scale_factor=2),
    "interpolate bilinear": lambda L: F(L).interpolate(R(L, 1, 1, 2, 2), scale_factor=2, mode="bilinear"),
    "one_hot times a weight": lambda L: F(L).one_hot(L.tensor([0, 2]), 3).float() * R(L, 3),
    "RNN": lambda L: L.nn.RNN(3, 2)(R(L, 4, 1, 3))[0],
    "GRU": lambda L: L.nn.GRU(3, 2)(R(L, 4, 1, 3))[0],
    "scaled_dot_product_attention": lambda L: F(L).scaled_dot_product_attention(R(L, 1, 2, 3), R(L, 1, 2, 3),
                                                                                R(L, 1, 2, 3)),
    **_loss_cases(),
}

NAME_CASES.update({  # in-place ops, modules, more indexing, norms and order statistics
    "relu_": lambda L: y(L,3).relu_(),
    "add_": lambda L: y(L,3).add_(1),
    "mul_": lambda L: y(L,3).mul_(2),
    "clamp_": lambda L: y(L,3).clamp_(0, 1),
    "sigmoid_": lambda L: y(L,3).sigmoid_(),
    "setitem": lambda L: (lambda t: (t.__setitem__(0, 5.0), t)[1])(y(L,3)),
    "silu inplace": lambda L: F(L).silu(y(L,3), inplace=True),
    "relu inplace": lambda L: F(L).relu(y(L,3), inplace=True),
    "ReLU inplace": lambda L: L.nn.ReLU(inplace=True)(y(L,3)),
    "reshape non-contiguous": lambda L: R(L,2,3).t().reshape(-1),
    "view_as": lambda L: R(L,2,3).view_as(L.zeros(6)),
    "flatten non-contiguous": lambda L: R(L,2,3).t().flatten(),
    "sum dims keepdim": lambda L: R(L,2,3,4).sum((0,2), keepdim=True),
    "mean dims": lambda L: R(L,2,3,4).mean((0,2)),
    "var unbiased False": lambda L: R(L,4,3).var(unbiased=False),
    "var correction dim": lambda L: R(L,4,3).var(1, correction=0),
    "torch.sigmoid": lambda L: L.sigmoid(R(L,3)),
    "torch.tanh": lambda L: L.tanh(R(L,3)),
    "torch.relu": lambda L: L.relu(R(L,3)),
    "F.sigmoid": lambda L: F(L).sigmoid(R(L,3)),
    "F.tanh": lambda L: F(L).tanh(R(L,3)),
    "Softmax module": lambda L: L.nn.Softmax(dim=1)(R(L,2,3)),
    "LogSoftmax module": lambda L: L.nn.LogSoftmax(dim=1)(R(L,2,3)),
    "Sequential MLP": lambda L: L.nn.Sequential(L.nn.Linear(3,4), L.nn.ReLU(), L.nn.Linear(4,2))(R(L,5,3)),
    "embedding functional": lambda L: F(L).embedding(L.tensor([1,2]), R(L,4,3)),
    "MaxPool2d module": lambda L: L.nn.MaxPool2d(2)(R(L,1,1,4,4)),
    "AvgPool2d module": lambda L: L.nn.AvgPool2d(2)(R(L,1,1,4,4)),
    "AdaptiveAvgPool2d((1,1))": lambda L: L.nn.AdaptiveAvgPool2d((1,1))(R(L,1,2,4,4)),
    "max_pool2d stride padding": lambda L: F(L).max_pool2d(R(L,1,1,5,5), 3, 2, 1),
    "Conv2d stride padding": lambda L: L.nn.Conv2d(1,2,3,stride=2,padding=1)(R(L,1,1,5,5)),
    "Conv2d no bias": lambda L: L.nn.Conv2d(1,2,3,bias=False)(R(L,1,1,5,5)),
    "conv2d functional": lambda L: F(L).conv2d(R(L,1,1,5,5), R(L,2,1,3,3)),
    "BatchNorm1d eval": lambda L: L.nn.BatchNorm1d(3).eval()(R(L,4,3)),
    "layer_norm functional": lambda L: F(L).layer_norm(R(L,4,3), (3,)),
    "LayerNorm no affine": lambda L: L.nn.LayerNorm(3, elementwise_affine=False)(R(L,4,3)),
    "RMSNorm": lambda L: L.nn.RMSNorm(3)(R(L,4,3)),
    "x.exp().sum()": lambda L: R(L,3).exp().sum(),
    "mean of squares": lambda L: ((R(L,3) - L.randn(3)) ** 2).mean(),
    "abs().mean()": lambda L: R(L,3).abs().mean(),
    "x.float() of float64": lambda L: R(L,3).double().float(),
    "type_as": lambda L: R(L,3).type_as(L.zeros(3, dtype=L.float64)),
    "argmax one_hot": lambda L: R(L,3) * F(L).one_hot(L.tensor(1), 3),
    "torch.mean dim": lambda L: L.mean(R(L,3,2), 1),
    "torch.sum": lambda L: L.sum(R(L,3,2)),
    "torch.max two tensors": lambda L: L.max(R(L,3), R(L,3)),
    "min of two via torch.min": lambda L: L.min(R(L,3), R(L,3)),
    "abs_ on nonleaf": lambda L: y(L,3).abs_(),
    "x[None]": lambda L: R(L,3)[None],
    "x[:, None]": lambda L: R(L,3)[:, None],
    "x[..., 0]": lambda L: R(L,3,2)[..., 0],
    "x[0, 1]": lambda L: R(L,3,2)[0, 1],
    "x[-1]": lambda L: R(L,3,2)[-1],
    "x[:2, :1]": lambda L: R(L,3,2)[:2, :1],
    "x[mask 2d]": lambda L: R(L,2,2)[L.tensor([[True, False], [False, True]])],
    "x[x > 0]": lambda L: (lambda t: t[t > 0])(R(L,5)),
    "torch.where(x>0, x, 0)": lambda L: (lambda t: L.where(t > 0, t, 0.0))(R(L,5)),
    "cross_entropy weight": lambda L: F(L).cross_entropy(R(L,4,3), L.tensor([0,2,1,0]), weight=L.tensor([1.0,2.0,3.0])),
    "cross_entropy ignore_index": lambda L: F(L).cross_entropy(R(L,4,3), L.tensor([0,2,-100,0])),
    "cross_entropy 4-D": lambda L: F(L).cross_entropy(R(L,2,3,2,2), L.zeros(2,2,2, dtype=L.int64)),
    "CrossEntropyLoss module": lambda L: L.nn.CrossEntropyLoss()(R(L,4,3), L.tensor([0,2,1,0])),
    "NLLLoss module": lambda L: L.nn.NLLLoss()(R(L,4,3), L.tensor([0,2,1,0])),
    "BCELoss module": lambda L: L.nn.BCELoss()(P(L,4), L.rand(4)),
    "BCEWithLogitsLoss module": lambda L: L.nn.BCEWithLogitsLoss()(R(L,4), L.rand(4)),
    "bce weight": lambda L: F(L).binary_cross_entropy(P(L,4), L.rand(4), weight=L.rand(4)),
    "bce logits weight": lambda L: F(L).binary_cross_entropy_with_logits(R(L,4), L.rand(4), weight=L.rand(4)),
    "huber delta": lambda L: F(L).huber_loss(R(L,4), L.rand(4), delta=0.5),
    "smooth_l1 beta 0": lambda L: F(L).smooth_l1_loss(R(L,4), L.rand(4), beta=0.0),
    "kl_div log_target": lambda L: F(L).kl_div(R(L,4), R(L,4), reduction="sum", log_target=True),
    "cosine_similarity dim0": lambda L: F(L).cosine_similarity(R(L,3), R(L,3), dim=0),
    "linear functional 1-D bias": lambda L: F(L).linear(R(L,3), R(L,2,3), R(L,2)),
    "linear functional 2-D no bias": lambda L: F(L).linear(R(L,4,3), R(L,2,3)),
    "matmul of leaf and weight.T": lambda L: R(L,4,3) @ R(L,2,3).T,
    "x @ w + b": lambda L: R(L,4,3) @ R(L,3,2) + R(L,2),
    "torch.addmm beta alpha": lambda L: L.addmm(R(L,2), R(L,4,3), R(L,3,2), beta=0.5, alpha=2),
    "torch.cat dim1": lambda L: L.cat([R(L,2,3), R(L,2,1)], 1),
    "chunk 3": lambda L: R(L,6).chunk(3)[2],
    "split dim1": lambda L: R(L,2,4).split(2, dim=1)[0],
    "unbind dim1": lambda L: R(L,2,4).unbind(1)[0],
    "movedim": lambda L: R(L,2,3,4).movedim(0, 2),
    "swapaxes": lambda L: R(L,2,3).swapaxes(0, 1),
    "expand -1": lambda L: R(L,3,1).expand(-1, 4),
    "broadcast_to": lambda L: L.broadcast_to(R(L,3), (2,3)),
    "tile": lambda L: R(L,3).tile((2,)),
    "zero-pad constant": lambda L: F(L).pad(R(L,1,1,2,2), (1,1,1,1)),
    "pad reflect": lambda L: F(L).pad(R(L,1,1,3,3), (1,1,1,1), mode="reflect"),
    "pad replicate": lambda L: F(L).pad(R(L,1,1,3,3), (1,1,1,1), mode="replicate"),
    "pixel_shuffle": lambda L: F(L).pixel_shuffle(R(L,1,4,2,2), 2),
    "unfold": lambda L: F(L).unfold(R(L,1,1,3,3), 2),
    "dropout eval keeps": lambda L: F(L).dropout(R(L,3)*1, 0.5, training=False),
    "alpha_dropout": lambda L: F(L).alpha_dropout(R(L,8), 0.5, training=True),
    "LSTM h": lambda L: L.nn.LSTM(3,2)(R(L,4,1,3))[1][0],
    "Transformer encoder layer": lambda L: L.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0)(R(L,3,1,4)),
    "MultiheadAttention": lambda L: L.nn.MultiheadAttention(4, 2)(R(L,3,1,4), R(L,3,1,4), R(L,3,1,4))[0],
    "sum of squares norm p=1": lambda L: R(L,3).norm(p=1),
    "linalg.norm": lambda L: L.linalg.norm(R(L,3)),
    "linalg.vector_norm": lambda L: L.linalg.vector_norm(R(L,3)),
    "dist": lambda L: L.dist(R(L,3), R(L,3)),
    "cdist": lambda L: L.cdist(R(L,2,3), R(L,4,3)),
    "sqrt of sum": lambda L: R(L,3).pow(2).sum().sqrt(),
    "erf": lambda L: L.erf(R(L,3)),
    "sign*x": lambda L: R(L,3).sign() * 1,
    "log2 of exp": lambda L: R(L,3).exp().log2(),
    "log_softmax dim0": lambda L: F(L).log_softmax(R(L,3), dim=0),
    "softmax dtype": lambda L: F(L).softmax(R(L,3), dim=0, dtype=L.float64),
    "std_mean": lambda L: L.std_mean(R(L,4,3))[0],
    "var_mean": lambda L: L.var_mean(R(L,4,3), 0)[1],
    "cumsum dim0": lambda L: L.cumsum(R(L,3), 0),
    "amin": lambda L: R(L,3,2).amin(0),
    "max dim keepdim": lambda L: R(L,3,2).max(dim=0, keepdim=True)[0],
    "mode": lambda L: R(L,5).mode()[0],
    "median dim": lambda L: R(L,3,5).median(1)[0],
    "kthvalue": lambda L: R(L,5).kthvalue(2)[0],
    "quantile": lambda L: L.quantile(R(L,5), 0.5),
    "nll 3-D none": lambda L: F(L).nll_loss(R(L,2,3,4), L.zeros(2,4,dtype=L.int64), reduction="none"),
    "nll 3-D": lambda L: F(L).nll_loss(R(L,2,3,4), L.zeros(2,4,dtype=L.int64)),
    "ce 5-D none": lambda L: F(L).cross_entropy(R(L,2,3,2,2,2), L.zeros(2,2,2,2,dtype=L.int64), reduction="none"),
    "nll 1-D": lambda L: F(L).nll_loss(R(L,3), L.tensor(1)),
    "ce 2-D weight ignore": lambda L: F(L).cross_entropy(R(L,4,3), L.tensor([0,2,-100,0]), weight=L.rand(3)),
    "pixel_unshuffle": lambda L: F(L).pixel_unshuffle(R(L,1,1,4,4), 2),
    "cdist p1": lambda L: L.cdist(R(L,2,3), R(L,4,3), p=1),
    "vector_norm dim": lambda L: L.linalg.vector_norm(R(L,3,2), dim=1),
    "vector_norm inf": lambda L: L.linalg.vector_norm(R(L,3,2), ord=float("inf")),
    "norm p=3 dim": lambda L: R(L,3,2).norm(p=3, dim=0),
    "median all": lambda L: R(L,5).median(),
    "nanmedian dim": lambda L: R(L,3,5).nanmedian(1)[0],
    "reshape contiguous": lambda L: R(L,2,3).reshape(3,2),
    "reshape of expand": lambda L: R(L,3,1).expand(3,4).reshape(-1),
    "contiguous().view": lambda L: R(L,2,3).t().contiguous().view(-1),
})


# Where PyTorch's name comes from its own internal path and matching it would mean another graph (or
# naming a real op of ours after an unrelated one of PyTorch's): left as shenjing's, on purpose.
DIFFERENT_GRAPH = {
    "repeat_interleave": "PyTorch composes it (index_select, then a view: ViewBackward0); shenjing has one "
                         "RepeatInterleave op",
    "diag": "PyTorch's diag of a matrix is its generated diagonal_copy (DiagonalBackward0_copy); shenjing's "
            "is the diagonal view (DiagonalBackward0)",
    "einsum": "PyTorch's node is whatever its contraction plan ends with (here a view of a bmm); shenjing's "
              "einsum is one op",
    "RNN": "PyTorch's CPU path stacks per-step outputs (StackBackward0); shenjing runs the sequence as one "
           "layer-sized op (RNNTanhBackward0), as for LSTM (PyTorch: MkldnnRnnLayerBackward0)",
    "GRU": "as RNN: PyTorch stacks the steps, shenjing's GRU sequence is one op (GRUBackward0)",
    "quantile": "PyTorch's composite ends with a squeeze of its sorted, interpolated values (SqueezeBackward4); "
                "shenjing's ends with a view",
}


def _grad_fn_name(lib, build):
    """The name that printing the result's grad_fn shows (its ``name()``; for PyTorch's C++ nodes, such as
    ``torch::autograd::CopySlices``, the last part, as ``repr`` prints it)."""
    lib.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        node = build(lib).grad_fn
    assert node is not None
    assert _printed(node) == node.name().split("::")[-1]
    return _printed(node)


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(reason=DIFFERENT_GRAPH[c], strict=True))
                                  if c in DIFFERENT_GRAPH else c for c in NAME_CASES])
def test_grad_fn_name_is_torchs(case):
    assert _grad_fn_name(sj, NAME_CASES[case]) == _grad_fn_name(torch, NAME_CASES[case])


def test_the_autograd_tutorials_graph_one_level_down_is_torchs():
    """z = matmul(x, w) + b for x of 5 and w 5x3, then binary_cross_entropy_with_logits(z, y): the nodes and
    their next_functions as PyTorch prints them (AddBackward0 <- SqueezeBackward4, AccumulateGrad; the loss
    <- AddBackward0, None)."""
    def graph(lib):
        lib.manual_seed(0)
        x, y = lib.ones(5), lib.zeros(3)
        w, b = lib.randn(5, 3, requires_grad=True), lib.randn(3, requires_grad=True)
        z = lib.matmul(x, w) + b
        loss = lib.nn.functional.binary_cross_entropy_with_logits(z, y)
        return {name: (_printed(t.grad_fn), [_printed(n) for n, _ in t.grad_fn.next_functions])
                for name, t in (("z", z), ("loss", loss))}
    ours, theirs = graph(sj), graph(torch)
    assert ours == theirs
    assert theirs["loss"] == ("BinaryCrossEntropyWithLogitsBackward0", ["AddBackward0", None])


def test_shown_names_leave_values_and_gradients_alone():
    """A composite op's shown name changes no number: gelu's output and gradient are the composition's."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal(6)
    xs, xt = sj.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ys, yt = sj.nn.functional.gelu(xs), torch.nn.functional.gelu(xt)
    assert ys.grad_fn.name() == yt.grad_fn.name() == "GeluBackward0"
    ys.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(ys.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    assert repr(ys.grad_fn).startswith("<GeluBackward0 object at 0x")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_as_one_node_matches_torch_values_and_gradients(reduction):
    rng = np.random.default_rng(2)
    for dtype in (np.float32, np.float64):
        for shape in [(4, 3), (5,), (0,)]:
            a = (rng.standard_normal(shape) * 4).astype(dtype)
            a.reshape(-1)[:1] = 1000.0  # (large logits stay finite)
            t = rng.random(shape).astype(dtype)
            xs, ts = sj.tensor(a, requires_grad=True), sj.tensor(t, requires_grad=True)
            xt, tt = torch.tensor(a, requires_grad=True), torch.tensor(t, requires_grad=True)
            ls = sj.nn.functional.binary_cross_entropy_with_logits(xs, ts, reduction=reduction)
            lt = torch.nn.functional.binary_cross_entropy_with_logits(xt, tt, reduction=reduction)
            tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(ls.detach().numpy(), lt.detach().numpy(), equal_nan=True, **tolerance)
            assert ls.dtype == getattr(sj, np.dtype(dtype).name)
            upstream = rng.standard_normal(tuple(lt.shape)).astype(dtype)
            ls.backward(sj.tensor(upstream))
            lt.backward(torch.tensor(upstream))
            np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), **tolerance)
            np.testing.assert_allclose(ts.grad.numpy(), tt.grad.numpy(), **tolerance)
    x = sj.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    t = sj.tensor(rng.random((2, 3)), requires_grad=True)
    function = lambda x, t: sj.nn.functional.binary_cross_entropy_with_logits(x, t, reduction=reduction)
    assert sj.autograd.gradcheck(function, (x, t))  # central differences, float64
    assert sj.autograd.gradgradcheck(function, (x, t))

