"""The margin, embedding and likelihood losses, distances and their layers against PyTorch 2.13, with
every reduction (values, gradients, central differences, errors, reprs)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import Const, check_op
from shenjing import nn

RNG = np.random.default_rng(11)
REDUCTIONS = ["none", "mean", "sum"]


def signs(*shape):
    return Const(np.where(RNG.random(shape) < 0.5, -1.0, 1.0))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_loss(reduction):
    x1, x2, y = RNG.standard_normal(6), RNG.standard_normal(6), signs(6)
    check_op(lambda a, b, y: F.margin_ranking_loss(a, b, y.to(a.dtype), margin=0.3, reduction=reduction),
             lambda a, b, y: TF.margin_ranking_loss(a, b, y.to(a.dtype), margin=0.3, reduction=reduction), x1, x2, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss(reduction):
    x, y = RNG.standard_normal((3, 4)), signs(3, 4)
    check_op(lambda x, y: F.hinge_embedding_loss(x, y.to(x.dtype), margin=0.7, reduction=reduction),
             lambda x, y: TF.hinge_embedding_loss(x, y.to(x.dtype), margin=0.7, reduction=reduction), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss(reduction):
    x, y = RNG.standard_normal((3, 4)) * 3, signs(3, 4)
    check_op(lambda x, y: F.soft_margin_loss(x, y.to(x.dtype), reduction=reduction),
             lambda x, y: TF.soft_margin_loss(x, y.to(x.dtype), reduction=reduction), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("batched", [True, False])
def test_cosine_embedding_loss(reduction, batched):
    shape = (5, 3) if batched else (3,)
    x1, x2 = RNG.standard_normal(shape), RNG.standard_normal(shape)
    y = signs(5) if batched else Const(np.array(-1.0))
    check_op(lambda a, b, y: F.cosine_embedding_loss(a, b, y, margin=-0.2, reduction=reduction),
             lambda a, b, y: TF.cosine_embedding_loss(a, b, y, margin=-0.2, reduction=reduction), x1, x2, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss(reduction):
    x = RNG.standard_normal((3, 5))
    target = Const(np.array([[3, 0, -1, 1, 2], [1, 2, 4, 0, 3], [-1, 2, 0, 0, 0]]))
    check_op(lambda x, t: F.multilabel_margin_loss(x, t, reduction=reduction),
             lambda x, t: TF.multilabel_margin_loss(x, t, reduction=reduction), x, target)
    check_op(lambda x, t: F.multilabel_margin_loss(x, t, reduction=reduction),
             lambda x, t: TF.multilabel_margin_loss(x, t, reduction=reduction), x[0], Const(np.array([4, 1, -1, 0, 0])))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_soft_margin_loss(reduction):
    x, y, w = RNG.standard_normal((4, 3)), Const((RNG.random((4, 3)) < 0.5).astype(np.float64)), RNG.random(3)
    check_op(lambda x, y: F.multilabel_soft_margin_loss(x, y.to(x.dtype), reduction=reduction),
             lambda x, y: TF.multilabel_soft_margin_loss(x, y.to(x.dtype), reduction=reduction), x, y)
    check_op(lambda x, y, w: F.multilabel_soft_margin_loss(x, y.to(x.dtype), w, reduction=reduction),
             lambda x, y, w: TF.multilabel_soft_margin_loss(x, y.to(x.dtype), w, reduction=reduction), x, y, w)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p, swap", [(2.0, False), (1.0, True), (3.0, False)])
def test_triplet_margin_loss(reduction, p, swap):
    a, pos, neg = (RNG.standard_normal((4, 3)) for _ in range(3))
    check_op(lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=2.0, p=p, swap=swap, reduction=reduction),
             lambda a, b, c: TF.triplet_margin_loss(a, b, c, margin=2.0, p=p, swap=swap, reduction=reduction),
             a, pos, neg)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin_with_distance_loss(reduction):
    a, pos, neg = (RNG.standard_normal((4, 3)) for _ in range(3))
    check_op(lambda a, b, c: F.triplet_margin_with_distance_loss(a, b, c, swap=True, reduction=reduction, margin=1.5),
             lambda a, b, c: TF.triplet_margin_with_distance_loss(a, b, c, swap=True, reduction=reduction, margin=1.5),
             a, pos, neg)
    check_op(lambda a, b, c: F.triplet_margin_with_distance_loss(
                 a, b, c, distance_function=lambda x, y: 1 - F.cosine_similarity(x, y), reduction=reduction),
             lambda a, b, c: TF.triplet_margin_with_distance_loss(
                 a, b, c, distance_function=lambda x, y: 1 - TF.cosine_similarity(x, y), reduction=reduction),
             a, pos, neg)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1)])
def test_gaussian_nll_loss(reduction, var_shape):
    x, y, var = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3)), RNG.random(var_shape) + 0.1
    check_op(lambda x, y, v: F.gaussian_nll_loss(x, y, v, reduction=reduction),
             lambda x, y, v: TF.gaussian_nll_loss(x, y, v, reduction=reduction), x, y, var)
    check_op(lambda x, y, v: F.gaussian_nll_loss(x, y, v, full=True, eps=0.3, reduction=reduction),
             lambda x, y, v: TF.gaussian_nll_loss(x, y, v, full=True, eps=0.3, reduction=reduction), x, y, var,
             numeric=False)  # (the clamp is hidden from autograd, so central differences disagree where var < eps)


def test_gaussian_nll_loss_float_var_and_errors():
    x, y = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    check_op(lambda x, y: F.gaussian_nll_loss(x, y, 0.5), lambda x, y: TF.gaussian_nll_loss(x, y, 0.5), x, y)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(sj.randn(4, 3), sj.randn(4, 3), sj.ones(3, 3))
    with pytest.raises(ValueError, match="negative entry"):
        F.gaussian_nll_loss(sj.randn(4, 3), sj.randn(4, 3), -sj.ones(4, 3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input, full", [(True, False), (False, False), (True, True), (False, True)])
def test_poisson_nll_loss(reduction, log_input, full):
    x = RNG.standard_normal((3, 4)) if log_input else RNG.random((3, 4)) + 0.2
    y = Const(RNG.integers(0, 5, (3, 4)).astype(np.float64))
    check_op(lambda x, y: F.poisson_nll_loss(x, y.to(x.dtype), log_input=log_input, full=full, reduction=reduction),
             lambda x, y: TF.poisson_nll_loss(x, y.to(x.dtype), log_input=log_input, full=full, reduction=reduction),
             x, y)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
def test_pairwise_distance_and_pdist(p):
    x1, x2 = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    check_op(lambda a, b: F.pairwise_distance(a, b, p=p), lambda a, b: TF.pairwise_distance(a, b, p=p), x1, x2)
    check_op(lambda a, b: F.pairwise_distance(a, b, p=p, keepdim=True),
             lambda a, b: TF.pairwise_distance(a, b, p=p, keepdim=True), x1, x2[:1])
    check_op(lambda a, b: F.pairwise_distance(a, b, p=p), lambda a, b: TF.pairwise_distance(a, b, p=p), x1[0], x2[0])
    check_op(lambda a: F.pdist(a, p=p), lambda a: TF.pdist(a, p=p), RNG.standard_normal((5, 3)))


@pytest.mark.parametrize("dim, shapes", [(1, ((4, 3), (4, 3))), (0, ((3,), (3,))), (-1, ((2, 1, 3), (4, 3))),
                                         (1, ((2, 3, 2), (2, 3, 2)))])
def test_cosine_similarity(dim, shapes):
    x1, x2 = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])
    check_op(lambda a, b: F.cosine_similarity(a, b, dim=dim), lambda a, b: TF.cosine_similarity(a, b, dim=dim), x1, x2)


def test_cosine_similarity_of_a_zero_vector_like_torch():
    x1, x2 = np.zeros((1, 3)), RNG.standard_normal((1, 3))
    check_op(lambda a, b: F.cosine_similarity(a, b), lambda a, b: TF.cosine_similarity(a, b), x1, x2, numeric=False)


LOSS_LAYERS = [  # (name, kwargs, inputs builder)
    ("MarginRankingLoss", dict(margin=0.5), lambda: (RNG.standard_normal(5), RNG.standard_normal(5), signs(5).array)),
    ("HingeEmbeddingLoss", dict(margin=2.0, reduction="sum"), lambda: (RNG.standard_normal(5), signs(5).array)),
    ("SoftMarginLoss", dict(reduction="none"), lambda: (RNG.standard_normal(5), signs(5).array)),
    ("CosineEmbeddingLoss", dict(margin=0.1), lambda: (RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)),
                                                       signs(3).array)),
    ("MultiLabelMarginLoss", dict(), lambda: (RNG.standard_normal((2, 4)), np.array([[1, 3, -1, 0], [0, 1, 2, 3]]))),
    ("MultiLabelSoftMarginLoss", dict(), lambda: (RNG.standard_normal((2, 4)), (RNG.random((2, 4)) < 0.5) * 1.0)),
    ("TripletMarginLoss", dict(margin=1.5, p=1.0, swap=True),
     lambda: tuple(RNG.standard_normal((3, 4)) for _ in range(3))),
    ("TripletMarginWithDistanceLoss", dict(margin=0.5), lambda: tuple(RNG.standard_normal((3, 4)) for _ in range(3))),
    ("GaussianNLLLoss", dict(full=True), lambda: (RNG.standard_normal((3, 2)), RNG.standard_normal((3, 2)),
                                                  RNG.random((3, 2)) + 0.5)),
    ("PoissonNLLLoss", dict(log_input=False, full=True), lambda: (RNG.random((3, 2)) + 0.5,
                                                                  RNG.integers(0, 4, (3, 2)) * 1.0)),
    ("PairwiseDistance", dict(p=1.0, keepdim=True), lambda: (RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)))),
    ("CosineSimilarity", dict(dim=0), lambda: (RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)))),
]


@pytest.mark.parametrize("name, kwargs, make", LOSS_LAYERS)
def test_loss_layers_match_torch(name, kwargs, make):
    arrays = make()
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    sj_inputs = [sj.tensor(a, requires_grad=a.dtype.kind == "f" and i == 0) for i, a in enumerate(arrays)]
    torch_inputs = [torch.tensor(a, requires_grad=a.dtype.kind == "f" and i == 0) for i, a in enumerate(arrays)]
    out_sj, out_torch = ours(*sj_inputs), theirs(*torch_inputs)
    np.testing.assert_allclose(out_sj.detach().numpy(), out_torch.detach().numpy(), rtol=1e-10, atol=1e-12)
    out_sj.sum().backward()
    out_torch.sum().backward()
    np.testing.assert_allclose(sj_inputs[0].grad.numpy(), torch_inputs[0].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_loss_errors_like_torch():
    with pytest.raises(RuntimeError, match="All input tensors should have same dimension"):
        F.margin_ranking_loss(sj.randn(3), sj.randn(3), sj.ones(1, 3))
    with pytest.raises(RuntimeError, match="1D target tensor expects 2D input tensors"):
        F.cosine_embedding_loss(sj.randn(3), sj.randn(3), sj.ones(3))
    with pytest.raises(RuntimeError, match="same number of dimensions, but got: anchor 2D, positive 1D"):
        F.triplet_margin_loss(sj.randn(2, 3), sj.randn(3), sj.randn(2, 3))
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_loss(sj.randn(2, 3), sj.randn(2, 3), sj.randn(2, 3), margin=0.0)
    with pytest.raises(ValueError, match="expected margin to be greater than 0, got 0 instead"):
        nn.TripletMarginLoss(margin=0)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.soft_margin_loss(sj.randn(2), sj.ones(2), reduction="average")
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 3D"):
        F.pdist(sj.randn(2, 3, 4))


def test_nll_loss_2d_is_deprecated_nll_loss():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = nn.NLLLoss2d()
    assert any(issubclass(w.category, FutureWarning) for w in caught)
    assert isinstance(layer, nn.NLLLoss)
    x, t = RNG.standard_normal((2, 3, 2, 2)), RNG.integers(0, 3, (2, 2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.nn.NLLLoss2d()(torch.tensor(x), torch.tensor(t)).item()
    assert abs(layer(sj.tensor(x), sj.tensor(t)).item() - expected) < 1e-12


# -- CTC ------------------------------------------------------------------------------------------

def _ctc_case(steps=6, batch=3, classes=4, max_target=3, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((steps, batch, classes))
    target_lengths = rng.integers(1, max_target + 1, batch)
    targets = rng.integers(1, classes, (batch, max_target))
    input_lengths = rng.integers(max(target_lengths) * 2, steps + 1, batch)
    return logits, targets, input_lengths, target_lengths


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_loss_matches_torch_through_log_softmax(reduction):
    logits, targets, input_lengths, target_lengths = _ctc_case()
    check_op(lambda z, t, i, l: F.ctc_loss(F.log_softmax(z, 2), t, i, l, reduction=reduction),
             lambda z, t, i, l: TF.ctc_loss(TF.log_softmax(z, 2), t, i, l, reduction=reduction),
             logits, Const(targets), Const(input_lengths), Const(target_lengths))


def test_ctc_loss_gradient_wrt_log_probs_is_torch_s():
    logits, targets, input_lengths, target_lengths = _ctc_case(steps=7, batch=2, classes=5, seed=3)
    log_probs = torch.log_softmax(torch.tensor(logits), 2).numpy()
    check_op(lambda lp, t, i, l: F.ctc_loss(lp, t, i, l), lambda lp, t, i, l: TF.ctc_loss(lp, t, i, l),
             log_probs, Const(targets), Const(input_lengths), Const(target_lengths), numeric=False)


def test_ctc_loss_concatenated_targets_blank_and_repeats_match_torch():
    logits = RNG.standard_normal((8, 2, 4))
    targets = np.array([2, 2, 1, 3, 3])  # sample 0: (2, 2, 1) (a repeat needs a blank between), sample 1: (3, 3)
    for blank in (0, 3):
        labels = np.where(targets == blank, 1, targets) if blank else targets
        check_op(lambda z, t: F.ctc_loss(F.log_softmax(z, 2), t, (8, 7), (3, 2), blank=blank),
                 lambda z, t: TF.ctc_loss(TF.log_softmax(z, 2), t, (8, 7), (3, 2), blank=blank),
                 logits, Const(labels))


def test_ctc_loss_impossible_alignment_and_zero_infinity_like_torch():
    logits = RNG.standard_normal((2, 1, 3))  # 2 steps cannot emit 3 labels
    for zero_infinity in (False, True):
        args = (torch.tensor([[1, 2, 1]]), torch.tensor([2]), torch.tensor([3]))
        expected = TF.ctc_loss(torch.log_softmax(torch.tensor(logits), 2), *args, reduction="sum",
                               zero_infinity=zero_infinity)
        ours = F.ctc_loss(F.log_softmax(sj.tensor(logits), 2), sj.tensor([[1, 2, 1]]), sj.tensor([2]),
                          sj.tensor([3]), reduction="sum", zero_infinity=zero_infinity)
        assert ours.item() == expected.item()


def test_ctc_loss_layer_unbatched_and_errors():
    logits, targets, input_lengths, target_lengths = _ctc_case(seed=5)
    layer = nn.CTCLoss(blank=0, zero_infinity=True)
    assert repr(layer) == repr(torch.nn.CTCLoss(blank=0, zero_infinity=True))
    lp = torch.log_softmax(torch.tensor(logits), 2)
    expected = torch.nn.CTCLoss(zero_infinity=True)(lp, torch.tensor(targets), torch.tensor(input_lengths),
                                                    torch.tensor(target_lengths))
    ours = layer(sj.tensor(lp.numpy()), sj.tensor(targets), sj.tensor(input_lengths), sj.tensor(target_lengths))
    assert abs(ours.item() - expected.item()) < 1e-10
    single = TF.ctc_loss(lp[:, 0], torch.tensor(targets[0]), torch.tensor(input_lengths[0]),
                         torch.tensor(target_lengths[0]), reduction="none")
    ours = F.ctc_loss(sj.tensor(lp[:, 0].numpy()), sj.tensor(targets[0]), sj.tensor(input_lengths[0]),
                      sj.tensor(target_lengths[0]), reduction="none")
    assert ours.shape == single.shape and abs(ours.item() - single.item()) < 1e-10
    with pytest.raises(RuntimeError, match="Expected input_lengths to have value at most 6"):
        F.ctc_loss(sj.tensor(lp.numpy()), sj.tensor(targets), [7, 6, 6], [1, 1, 1])
