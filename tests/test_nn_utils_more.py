"""weight_norm / remove_weight_norm, the conv/linear + BatchNorm fusion helpers and the small nn.utils names,
against PyTorch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import shenjing as sj

RNG = np.random.default_rng(6)


def _pair(make):
    torch.manual_seed(0)
    theirs = make(torch)
    ours = make(sj)
    ours.load_state_dict({k: sj.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _close(a, b):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make,shape,dim", [
    (lambda L: L.nn.Linear(3, 2).double(), (4, 3), 0),
    (lambda L: L.nn.Linear(3, 2).double(), (4, 3), None),
    (lambda L: L.nn.Conv2d(2, 3, 3).double(), (1, 2, 5, 5), 0),
    (lambda L: L.nn.Conv2d(2, 3, 3).double(), (1, 2, 5, 5), 1),
])
def test_weight_norm_matches_torch(make, shape, dim):
    ours, theirs = _pair(make)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        sj.nn.utils.weight_norm(ours, dim=dim)
        torch.nn.utils.weight_norm(theirs, dim=dim)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    _close(ours.weight_g, theirs.weight_g)
    x = RNG.standard_normal(shape)
    out_s, out_t = ours(sj.tensor(x)), theirs(torch.tensor(x))
    _close(out_s, out_t)
    upstream = RNG.standard_normal(tuple(out_t.shape))
    (out_s * sj.tensor(upstream)).sum().backward()
    (out_t * torch.tensor(upstream)).sum().backward()
    _close(ours.weight_g.grad, theirs.weight_g.grad)
    _close(ours.weight_v.grad, theirs.weight_v.grad)
    sj.nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    assert sorted(n for n, _ in ours.named_parameters()) == sorted(n for n, _ in theirs.named_parameters())
    _close(ours.weight, theirs.weight)
    with pytest.raises(ValueError, match="not found"):
        sj.nn.utils.remove_weight_norm(ours)


def test_weight_norm_warns_as_torch():
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        sj.nn.utils.weight_norm(sj.nn.Linear(2, 2))


def _trained_bn(L, bn):
    bn.train()
    with L.no_grad():
        for _ in range(3):
            bn(L.tensor(RNG.standard_normal((8,) + tuple([bn.num_features] + ([4, 4] if isinstance(bn, L.nn.BatchNorm2d)
                                                                             else [])))))
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.uniform_(-0.5, 0.5)
    return bn.eval()


def test_fusing_conv_and_linear_with_batch_norm_matches_both_layers_and_torch():
    for conv_kind, bn_kind, shape in ((lambda L: L.nn.Conv2d(2, 3, 3).double(), lambda L: L.nn.BatchNorm2d(3).double(),
                                       (2, 2, 6, 6)),
                                      (lambda L: L.nn.Linear(4, 3).double(), lambda L: L.nn.BatchNorm1d(3).double(),
                                       (5, 4))):
        layer_s, layer_t = _pair(conv_kind)
        bn_t = _trained_bn(torch, bn_kind(torch))
        bn_s = bn_kind(sj)
        bn_s.load_state_dict({k: sj.tensor(v.detach().numpy()) for k, v in bn_t.state_dict().items()})
        bn_s.eval()
        layer_s.eval(), layer_t.eval()
        fuse = sj.nn.utils.fuse_conv_bn_eval if shape[1:] != (4,) else sj.nn.utils.fuse_linear_bn_eval
        tfuse = torch.nn.utils.fuse_conv_bn_eval if shape[1:] != (4,) else torch.nn.utils.fuse_linear_bn_eval
        fused_s, fused_t = fuse(layer_s, bn_s), tfuse(layer_t, bn_t)
        _close(fused_s.weight, fused_t.weight)
        _close(fused_s.bias, fused_t.bias)
        x = RNG.standard_normal(shape)
        _close(fused_s(sj.tensor(x)), bn_s(layer_s(sj.tensor(x))))
        with pytest.raises(AssertionError, match="eval"):
            fuse(layer_s.train(), bn_s)


def test_small_names():
    w = sj.ones(3, requires_grad=True)
    (w * 10).sum().backward()
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        total = sj.nn.utils.clip_grad_norm([w], 1.0)
    assert abs(float(total) - np.sqrt(300)) < 1e-4 and abs(float(w.grad.norm()) - 1.0) < 1e-4
    conv = sj.nn.Conv2d(1, 1, 3)
    assert sj.nn.utils.convert_conv2d_weight_memory_format(conv, None) is conv
    layer = sj.nn.utils.skip_init(sj.nn.Linear, 3, 2)
    assert tuple(layer.weight.shape) == (2, 3)
