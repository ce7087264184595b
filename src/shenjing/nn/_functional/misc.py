"""Functional odds and ends with PyTorch's names: ``gumbel_softmax`` (differentiable sampling of one-hot
vectors) and ``conv_tbc`` (1-D convolution in time-batch-channel layout)."""

from __future__ import annotations

import warnings

import numpy as np

from shenjing._ops._util import check_tensor, float_input, normalize_dim
from shenjing._ops.activation import softmax
from shenjing import _random_draws
from shenjing._random import default_generator
from shenjing._tensor import Tensor
from shenjing.nn._functional.conv import conv1d

__all__ = ["gumbel_softmax", "conv_tbc"]


def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1) -> Tensor:
    """softmax((logits + g) / tau) along ``dim`` with g ~ Gumbel(0, 1) noise: a relaxed sample of the
    categorical distribution softmax(logits). ``hard=True`` returns the one-hot of the sample's argmax in
    the forward pass with the relaxed sample's gradient (the straight-through estimator).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> sample = F.gumbel_softmax(shenjing.zeros(2, 5), hard=True)
    >>> sample.sum(-1)
    tensor([1., 1.])
    """
    check_tensor(logits, "gumbel_softmax(): logits")
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    logits = float_input(logits)
    dtype = logits._data.dtype  # PyTorch's: -empty_like(logits).exponential_().log()
    noise = -np.log(_random_draws.exponential(default_generator, tuple(logits.shape), dtype))
    y_soft = softmax((logits + Tensor._make(noise)) / tau, dim)
    if not hard:
        return y_soft
    axis = normalize_dim(dim, logits.ndim)
    winner = np.argmax(y_soft._data, axis=axis)
    y_hard = np.zeros(y_soft.shape, dtype=y_soft._data.dtype)
    np.put_along_axis(y_hard, np.expand_dims(winner, axis), 1.0, axis=axis)
    return Tensor._make(y_hard) - y_soft.detach() + y_soft


def conv_tbc(input: Tensor, weight: Tensor, bias: Tensor, pad: int = 0) -> Tensor:
    """1-D convolution of sequences laid out (time, batch, channels): input (T, B, C_in), weight
    (K, C_in, C_out), bias (C_out,) -> (T + 2*pad - K + 1, B, C_out).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.conv_tbc(shenjing.ones(4, 1, 1), shenjing.ones(2, 1, 1), shenjing.zeros(1)).flatten()
    tensor([2., 2., 2.])
    """
    for name, tensor in (("input", input), ("weight", weight), ("bias", bias)):
        check_tensor(tensor, f"conv_tbc(): {name}")
    if input.ndim != 3 or weight.ndim != 3 or bias.ndim != 1:
        raise RuntimeError(f"conv_tbc: expected input (T, B, C_in), weight (K, C_in, C_out) and bias (C_out,), got "
                           f"{list(input.shape)}, {list(weight.shape)} and {list(bias.shape)}")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError(f"Input dim 2 (input channels) is not == dim 1 in the weight tensor: input "
                           f"{list(input.shape)}, weight {list(weight.shape)}")
    if weight.shape[2] != bias.shape[0]:
        raise RuntimeError(f"Bias size must equal dim 2 in the weight tensor (output channels): weight "
                           f"{list(weight.shape)}, bias {list(bias.shape)}")
    y = conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)  # (B, C_out, T')
    return y.permute(2, 0, 1)
