"""The neural-network ops that PyTorch also exposes at the top level (``torch.conv2d``, ``torch.dropout``,
``torch.batch_norm``, ``torch.kl_div``, ``torch.lstm``, ...), with the top level's signatures.

These are ATen's signatures, not ``torch.nn.functional``'s: arguments are positional and often required
(``torch.dropout(input, p, train)``), the normalisations take ``weight, bias`` before the running
statistics, the losses take ``reduction`` as an int (0 none, 1 mean, 2 sum), and the recurrent ops take
their weights as one flat list. Each function here converts its arguments and calls the
``shenjing.nn.functional`` op, so the maths and the gradients are those of ``nn.functional``.

>>> import shenjing
>>> x = shenjing.ones(1, 1, 4)
>>> shenjing.conv1d(x, shenjing.ones(1, 1, 2))
tensor([[[2., 2., 2.]]])
>>> shenjing.dropout(x, 0.5, False)          # train=False: the identity
tensor([[[1., 1., 1., 1.]]])
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from shenjing._ops._util import check_tensor
from shenjing._tensor import Tensor
from shenjing.nn import functional as F
from shenjing.nn._functional.dropout import _channel_dropout, _check_p
from shenjing.nn._functional.recurrent import recurrent

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "convolution",
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d",
    "dropout", "dropout_", "alpha_dropout", "alpha_dropout_", "feature_dropout", "feature_dropout_",
    "feature_alpha_dropout", "feature_alpha_dropout_",
    "batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm", "norm_except_dim",
    "celu", "celu_", "selu", "selu_", "threshold", "threshold_", "hardshrink", "prelu", "rrelu", "rrelu_",
    "embedding", "embedding_bag", "bilinear", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
    "pdist", "pairwise_distance", "cosine_similarity", "constant_pad_nd", "grid_sampler",
    "kl_div", "binary_cross_entropy_with_logits", "cosine_embedding_loss", "hinge_embedding_loss",
    "margin_ranking_loss", "poisson_nll_loss", "triplet_margin_loss", "ctc_loss",
    "lstm", "gru", "rnn_tanh", "rnn_relu",
]

# -- convolution and pooling: the same signatures as nn.functional's ---------------------------------

conv1d, conv2d, conv3d = F.conv1d, F.conv2d, F.conv3d
conv_transpose1d, conv_transpose2d, conv_transpose3d = F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d
adaptive_avg_pool1d = F.adaptive_avg_pool1d
pixel_shuffle, pixel_unshuffle, channel_shuffle = F.pixel_shuffle, F.pixel_unshuffle, F.channel_shuffle
pdist, pairwise_distance, cosine_similarity = F.pdist, F.pairwise_distance, F.cosine_similarity
bilinear, hardshrink, prelu, rms_norm = F.bilinear, F.hardshrink, F.prelu, F.rms_norm


def convolution(input: Tensor, weight: Tensor, bias: Tensor | None, stride: Sequence[int], padding: Sequence[int],
                dilation: Sequence[int], transposed: bool, output_padding: Sequence[int], groups: int) -> Tensor:
    """The convolution of any dimension (1-3, read from ``weight``), plain or transposed.

    ``weight`` is (C_out, C_in/groups, *kernel), or (C_in, C_out/groups, *kernel) when ``transposed``.
    """
    check_tensor(weight, "convolution(): weight")
    spatial = weight.ndim - 2
    if spatial not in (1, 2, 3):
        raise RuntimeError(f"convolution: expected a 3-D, 4-D or 5-D weight (1 to 3 spatial dims), got "
                           f"weight of shape {list(weight.shape)}")
    if transposed:
        op = (conv_transpose1d, conv_transpose2d, conv_transpose3d)[spatial - 1]
        return op(input, weight, bias, stride, padding, output_padding, groups, dilation)
    return (conv1d, conv2d, conv3d)[spatial - 1](input, weight, bias, stride, padding, dilation, groups)


def _stride(stride: Any) -> Any:
    """ATen's default stride is the empty list, meaning "the kernel size" (nn.functional's None)."""
    return None if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else stride


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False) -> Tensor:
    """Max pooling over (N, C, L) or (C, L); ``stride=()`` means ``kernel_size``."""
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False) -> Tensor:
    """Max pooling over (N, C, H, W) or (C, H, W); ``stride=()`` means ``kernel_size``."""
    return F.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False) -> Tensor:
    """Max pooling over (N, C, D, H, W) or (C, D, H, W); ``stride=()`` means ``kernel_size``."""
    return F.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Average pooling over (N, C, L) or (C, L); ``stride=()`` means ``kernel_size``."""
    return F.avg_pool1d(input, kernel_size, _stride(stride), padding, ceil_mode, count_include_pad)


def adaptive_max_pool1d(input: Tensor, output_size: Any) -> tuple[Tensor, Tensor]:
    """Adaptive max pooling over (N, C, L); returns ``(values, indices)`` as ATen's does."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


# -- dropout: ``train`` is a required positional argument here --------------------------------------

def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) when ``train``."""
    return F.dropout(input, p, train)


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """``dropout`` written into ``input``."""
    return F.dropout(input, p, train, inplace=True)


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Alpha dropout (keeps SELU's zero mean and unit variance) when ``train``."""
    return F.alpha_dropout(input, p, train)


def alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return F.alpha_dropout(input, p, train, inplace=True)


def _feature_dropout(input: Tensor, p: float, train: bool, inplace: bool) -> Tensor:
    check_tensor(input)
    _check_p(p)
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return _channel_dropout("feature_dropout", input, p, train, inplace, input.ndim - 2)


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Zero whole channels of (N, C, *) input: one draw per (sample, channel), scaled by 1/(1-p)."""
    return _feature_dropout(input, p, train, False)


def feature_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return _feature_dropout(input, p, train, True)


def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Alpha dropout of whole channels of (N, C, *) input."""
    return F.feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return F.feature_alpha_dropout(input, p, train, inplace=True)


# -- normalisation: ATen's argument order ------------------------------------------------------------

def batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
               running_var: Tensor | None, training: bool, momentum: float, eps: float,
               cudnn_enabled: bool = True) -> Tensor:
    """``F.batch_norm`` with ATen's order: weight and bias come before the running statistics."""
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                  running_var: Tensor | None, use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool = True) -> Tensor:
    """``F.instance_norm`` with ATen's order: weight and bias come before the running statistics."""
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-05, cudnn_enable: bool = True) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dims (``F.layer_norm``)."""
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-05, cudnn_enabled: bool = True) -> Tensor:
    """Normalise each group of channels of (N, C, *) input (``F.group_norm``)."""
    return F.group_norm(input, num_groups, weight, bias, eps)


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """The ``pow``-norm over every dim but ``dim``, kept with size 1 (weight normalisation's norm);
    ``dim=-1`` gives the norm of the whole tensor.

    >>> import shenjing
    >>> shenjing.norm_except_dim(shenjing.tensor([[3., 4.], [0., 1.]]))
    tensor([[5.],
            [1.]])
    """
    check_tensor(v, "norm_except_dim(): v")
    if dim == -1:
        return v.norm(pow)
    dim = dim % v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    return (v.abs() ** pow).sum(dim=others, keepdim=True) ** (1.0 / pow) if others else v.abs()


# -- activations ---------------------------------------------------------------------------------------

def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return F.celu(input, alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return F.celu_(input, alpha)


def selu(input: Tensor) -> Tensor:
    """scale * (max(0, x) + min(0, alpha * (exp(x) - 1))) with SELU's constants."""
    return F.selu(input)


def selu_(input: Tensor) -> Tensor:
    return F.selu_(input)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    """x where x > threshold, else ``value``."""
    return F.threshold(input, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return F.threshold_(input, threshold, value)


def _no_generator(name: str, generator: Any) -> None:
    if generator is not None:
        raise NotImplementedError(f"{name}: generator= is not supported here; rrelu draws its slopes from the "
                                  f"default generator (seed it with shenjing.manual_seed)")


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          generator: Any = None) -> Tensor:
    """Randomised leaky ReLU: slopes ~ U(lower, upper) when training, (lower + upper) / 2 otherwise."""
    _no_generator("rrelu", generator)
    return F.rrelu(input, lower, upper, training)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
           generator: Any = None) -> Tensor:
    _no_generator("rrelu_", generator)
    return F.rrelu_(input, lower, upper, training)


# -- embeddings, padding, sampling ---------------------------------------------------------------------

def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """``weight[indices]`` (note ATen's order: the table first). ``padding_idx`` < 0 means none; that row
    gets no gradient."""
    return F.embedding(indices, weight, None if padding_idx is None or padding_idx < 0 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


_BAG_MODES = {0: "sum", 1: "mean", 2: "max"}


def embedding_bag(weight: Tensor, indices: Tensor, offsets: Tensor, scale_grad_by_freq: bool = False,
                  mode: int = 0, sparse: bool = False, per_sample_weights: Tensor | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> tuple:
    """``F.embedding_bag`` in ATen's form: the table first, ``mode`` 0 (sum), 1 (mean) or 2 (max); returns
    ``(output, offset2bag, bag_size, max_indices)`` as ATen's CPU kernel does (offset2bag: the bag of each
    index, empty for 'sum'; bag_size: indices per bag, zeros for 'sum'; max_indices: for 'max' the row of
    ``weight`` that gave each maximum, else ``bag_size`` (zeros for 'sum'))."""
    if mode not in _BAG_MODES:
        raise ValueError(f"embedding_bag: mode must be 0 (sum), 1 (mean) or 2 (max), got {mode!r}")
    check_tensor(indices, "embedding_bag(): indices")
    check_tensor(offsets, "embedding_bag(): offsets")
    output = F.embedding_bag(indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq, mode=_BAG_MODES[mode],
                             sparse=sparse, per_sample_weights=per_sample_weights,
                             include_last_offset=include_last_offset, padding_idx=padding_idx)
    flat = indices._data.reshape(-1)
    starts = offsets._data.astype(np.int64)
    bags = len(starts) - 1 if include_last_offset else len(starts)
    bounds = np.append(starts[:bags], len(flat)) if not include_last_offset else starts
    kept = np.ones(len(flat), dtype=bool) if padding_idx is None else flat != padding_idx % weight.shape[0]
    offset2bag = np.repeat(np.arange(bags), np.diff(bounds)).astype(np.int64)
    bag_size = np.array([kept[bounds[b]:bounds[b + 1]].sum() for b in range(bags)], dtype=np.int64)
    if mode == 0:
        empty = np.zeros(bags, dtype=np.int64)
        return output, Tensor._make(np.zeros(0, np.int64)), Tensor._make(empty), Tensor._make(empty.copy())
    if mode == 1:
        return output, Tensor._make(offset2bag), Tensor._make(bag_size), Tensor._make(bag_size.copy())
    table = weight._data
    winners = np.zeros((bags, table.shape[1]), dtype=np.int64)
    for b in range(bags):
        rows = flat[bounds[b]:bounds[b + 1]][kept[bounds[b]:bounds[b + 1]]]
        if len(rows):
            winners[b] = rows[np.argmax(table[rows], axis=0)]
        else:
            winners[b] = -1
    return output, Tensor._make(offset2bag), Tensor._make(bag_size), Tensor._make(winners)


def constant_pad_nd(input: Tensor, pad: Sequence[int], value: float = 0) -> Tensor:
    """Pad with ``value``: ``pad`` holds (before, after) pairs from the last dim backwards (``F.pad``)."""
    return F.pad(input, pad, "constant", value)


_INTERPOLATION = {0: "bilinear", 1: "nearest", 2: "bicubic"}
_PADDING = {0: "zeros", 1: "border", 2: "reflection"}


def grid_sampler(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                 align_corners: bool) -> Tensor:
    """``F.grid_sample`` with ATen's integer modes: interpolation 0 bilinear, 1 nearest, 2 bicubic;
    padding 0 zeros, 1 border, 2 reflection."""
    if interpolation_mode not in _INTERPOLATION or padding_mode not in _PADDING:
        raise ValueError(f"grid_sampler: interpolation_mode must be 0, 1 or 2 and padding_mode 0, 1 or 2, got "
                         f"{interpolation_mode!r} and {padding_mode!r}")
    return F.grid_sample(input, grid, _INTERPOLATION[interpolation_mode], _PADDING[padding_mode], align_corners)


# -- losses: ``reduction`` is ATen's int (0 none, 1 mean, 2 sum) --------------------------------------

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(value: Any) -> str:
    if isinstance(value, (bool, str)) or value not in _REDUCTIONS:
        raise ValueError(f"reduction must be 0 (none), 1 (mean) or 2 (sum) at the top level, got {value!r}")
    return _REDUCTIONS[value]


def kl_div(input: Tensor, target: Tensor, reduction: int = 1, *, log_target: bool = False) -> Tensor:
    """The Kullback-Leibler divergence (``F.kl_div``); note ATen's mean is over every element."""
    return F.kl_div(input, target, reduction=_reduction(reduction), log_target=log_target)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     pos_weight: Tensor | None = None, reduction: int = 1) -> Tensor:
    return F.binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(reduction),
                                              pos_weight=pos_weight)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: int = 1) -> Tensor:
    return F.cosine_embedding_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, reduction: int = 1) -> Tensor:
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: int = 1) -> Tensor:
    return F.margin_ranking_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float,
                     reduction: int) -> Tensor:
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=_reduction(reduction))


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-06, swap: bool = False, reduction: int = 1) -> Tensor:
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction=_reduction(reduction))


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any, blank: int = 0,
             reduction: int = 1, zero_infinity: bool = False) -> Tensor:
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, _reduction(reduction), zero_infinity)


# -- recurrent layers as one call, with the weights in one flat list ---------------------------------

def _layer_weights(params: Sequence[Tensor], has_biases: bool, count: int, name: str) -> list[tuple]:
    per_layer = 4 if has_biases else 2
    if len(params) != per_layer * count:
        raise RuntimeError(f"{name}: expected {per_layer * count} weight tensors ({per_layer} per layer and "
                           f"direction: w_ih, w_hh{', b_ih, b_hh' if has_biases else ''}), got {len(params)}")
    weights = []
    for k in range(count):
        group = list(params[k * per_layer:(k + 1) * per_layer])
        weights.append(tuple(group) if has_biases else (group[0], group[1], None, None))
    return weights


def _run(mode: str, name: str, input: Tensor, hx: Any, params: Sequence[Tensor], has_biases: bool,
         num_layers: int, dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple:
    check_tensor(input)
    if not isinstance(params, (list, tuple)) or isinstance(batch_first, (list, tuple)):
        raise NotImplementedError(f"{name}: the packed form (data, batch_sizes, ...) is not supported; pass a "
                                  f"padded (T, N, I) input or use nn.{name.upper()} with a PackedSequence")
    if input.ndim != 3:
        raise RuntimeError(f"{name}: expected a 3-D input (seq_len, batch, input_size) or (batch, seq_len, "
                           f"input_size) with batch_first, got shape {list(input.shape)}")
    weights = _layer_weights(params, has_biases, num_layers * (2 if bidirectional else 1), name)
    return recurrent(mode, input, hx, weights, num_layers, dropout, train, bidirectional, batch_first)


def lstm(input: Tensor, hx: Sequence[Tensor], params: Sequence[Tensor], has_biases: bool, num_layers: int,
         dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple[Tensor, Tensor, Tensor]:
    """A multi-layer LSTM over ``input``: ``hx = [h0, c0]``, each (L*D, N, H); ``params`` holds, per layer and
    direction, ``w_ih, w_hh`` (and ``b_ih, b_hh`` when ``has_biases``). Returns ``(output, h_n, c_n)``."""
    if len(hx) != 2:
        raise RuntimeError(f"lstm: hx must be [h0, c0], got {len(hx)} tensors")
    output, (h, c) = _run("LSTM", "lstm", input, tuple(hx), params, has_biases, num_layers, dropout, train,
                          bidirectional, batch_first)
    return output, h, c


def gru(input: Tensor, hx: Tensor, params: Sequence[Tensor], has_biases: bool, num_layers: int, dropout: float,
        train: bool, bidirectional: bool, batch_first: bool) -> tuple[Tensor, Tensor]:
    """A multi-layer GRU over ``input``; ``hx`` (L*D, N, H). Returns ``(output, h_n)``."""
    return _run("GRU", "gru", input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                batch_first)


def rnn_tanh(input: Tensor, hx: Tensor, params: Sequence[Tensor], has_biases: bool, num_layers: int,
             dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple[Tensor, Tensor]:
    """A multi-layer Elman RNN with tanh over ``input``; ``hx`` (L*D, N, H). Returns ``(output, h_n)``."""
    return _run("RNN_TANH", "rnn_tanh", input, hx, params, has_biases, num_layers, dropout, train,
                bidirectional, batch_first)


def rnn_relu(input: Tensor, hx: Tensor, params: Sequence[Tensor], has_biases: bool, num_layers: int,
             dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple[Tensor, Tensor]:
    """A multi-layer Elman RNN with ReLU over ``input``; ``hx`` (L*D, N, H). Returns ``(output, h_n)``."""
    return _run("RNN_RELU", "rnn_relu", input, hx, params, has_biases, num_layers, dropout, train,
                bidirectional, batch_first)
