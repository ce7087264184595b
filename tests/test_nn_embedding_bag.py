"""EmbeddingBag / F.embedding_bag against PyTorch 2.13: every mode, offsets or 2-D input, per-sample
weights, padding_idx, include_last_offset, empty bags; values and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import Const, check_module, check_op
from shenjing import nn

RNG = np.random.default_rng(71)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag_with_offsets_matches_torch(mode, padding_idx):
    weight = RNG.standard_normal((6, 3))
    indices = Const(np.array([1, 2, 4, 5, 4, 3, 2, 0, 2]))
    offsets = Const(np.array([0, 4, 4, 7]))  # the third bag is empty
    check_op(lambda w, i, o: F.embedding_bag(i, w, o, mode=mode, padding_idx=padding_idx),
             lambda w, i, o: TF.embedding_bag(i, w, o, mode=mode, padding_idx=padding_idx), weight, indices, offsets)
    check_op(lambda w, i, o: F.embedding_bag(i, w, o, mode=mode, include_last_offset=True),
             lambda w, i, o: TF.embedding_bag(i, w, o, mode=mode, include_last_offset=True), weight, indices,
             Const(np.array([0, 4, 4, 7, 9])))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_2d_input_matches_torch(mode):
    weight, indices = RNG.standard_normal((7, 4)), Const(RNG.integers(0, 7, (3, 5)))
    check_op(lambda w, i: F.embedding_bag(i, w, mode=mode), lambda w, i: TF.embedding_bag(i, w, mode=mode),
             weight, indices)


def test_embedding_bag_per_sample_weights_match_torch():
    weight, indices = RNG.standard_normal((6, 3)), Const(np.array([1, 2, 4, 5, 4, 3]))
    check_op(lambda w, i, o, p: F.embedding_bag(i, w, o, mode="sum", per_sample_weights=p),
             lambda w, i, o, p: TF.embedding_bag(i, w, o, mode="sum", per_sample_weights=p), weight, indices,
             Const(np.array([0, 2])), RNG.standard_normal(6))


def test_embedding_bag_layer_matches_torch():
    layer = check_module(nn.EmbeddingBag(10, 3, mode="sum", padding_idx=0),
                         torch.nn.EmbeddingBag(10, 3, mode="sum", padding_idx=0), RNG.integers(0, 10, 8),
                         np.array([0, 3, 5]))
    assert repr(layer) == repr(torch.nn.EmbeddingBag(10, 3, mode="sum", padding_idx=0))
    assert repr(nn.EmbeddingBag(10, 3, max_norm=1.0)) == repr(torch.nn.EmbeddingBag(10, 3, max_norm=1.0))
    assert list(layer.state_dict()) == ["weight"]
    assert not nn.EmbeddingBag(5, 2, padding_idx=1).weight[1].detach().numpy().any()
    pretrained = nn.EmbeddingBag.from_pretrained(sj.ones(4, 2), mode="max")
    assert not pretrained.weight.requires_grad and pretrained(sj.tensor([[0, 1]])).shape == (1, 2)


def test_embedding_bag_errors_like_torch():
    weight = sj.randn(5, 2)
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(sj.tensor([1, 2]), weight)
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        F.embedding_bag(sj.tensor([[1, 2]]), weight, sj.tensor([0]))
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(sj.tensor([[1, 2]]), weight, per_sample_weights=sj.ones(1, 2))
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(sj.tensor([1, 2]), weight, sj.tensor([1]))
