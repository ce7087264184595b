"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward`` (the computation of
``nn.MultiheadAttention``), composed of differentiable ops (matmul, softmax, dropout, linear).

    attention(Q, K, V) = softmax(Q K^T * scale + bias) V,   scale = 1/sqrt(E) by default,

where ``bias`` is 0 for the pairs that take part and -inf for the masked ones. A query whose every key
is masked gets zero weights (and a zero output), as in PyTorch, instead of the NaN of a softmax over
-inf only.

Masks come in two conventions, as in PyTorch: for ``scaled_dot_product_attention`` a boolean
``attn_mask`` is True where a query MAY attend; for ``multi_head_attention_forward`` (and the layers
built on it) a boolean ``attn_mask`` / ``key_padding_mask`` is True where it may NOT. Float masks are
added to the scores in both.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from shenjing._ops._util import check_tensor
from shenjing._ops.activation import softmax
from shenjing._ops.elementwise import where
from shenjing._ops.shape import cat
from shenjing._tensor import Tensor
from shenjing.nn._functional.dropout import dropout
from shenjing.nn._functional.linear import linear
from shenjing.nn._functional.padding import pad

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def canonical_mask(mask: Tensor | None, mask_name: str, other_type: Any, other_name: str, target_type: Any,
                   check_other: bool = True) -> Tensor | None:
    """A boolean mask (True = masked) as a float one (-inf where True, 0 elsewhere) of ``target_type``;
    float masks pass as they are."""
    if mask is None:
        return None
    check_tensor(mask, mask_name)
    if mask.dtype.name != "bool" and not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both "
                      f"instead.", stacklevel=3)
    if mask.is_floating_point():
        return mask
    return Tensor._make(np.where(mask._data, -np.inf, 0.0).astype(target_type.numpy))


def _masked_softmax(scores: Tensor, bias: Tensor | None) -> Tensor:
    """softmax(scores + bias) over the last dim, with zero weights in rows where bias is -inf throughout."""
    if bias is None:
        return softmax(scores, -1)
    scores = scores + bias
    fully_masked = np.all(np.isneginf(np.broadcast_to(bias._data, scores.shape)), axis=-1, keepdims=True)
    if not fully_masked.any():
        return softmax(scores, -1)
    rows = Tensor._make(fully_masked)
    weights = softmax(scores.masked_fill(rows, 0.0), -1)  # (finite rows: no NaN in the gradient)
    return where(rows, 0.0, weights)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T * scale + mask) V over the last two dims.

    Shapes: query (*, L, E), key (*, S, E), value (*, S, Ev) -> (*, L, Ev); the leading dims broadcast.
    ``attn_mask`` (broadcastable to (*, L, S)): boolean, True where a query may attend a key, or float,
    added to the scores. ``is_causal``: query i attends keys j <= i only (no ``attn_mask`` then).
    ``scale`` defaults to 1/sqrt(E). ``dropout_p`` drops attention weights (always, as in PyTorch:
    pass 0 in evaluation). ``enable_gqa``: key and value have fewer heads (dim -3) than
    query, each shared by a group of query heads.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> q, k = shenjing.ones(1, 2, 4), shenjing.ones(1, 3, 4)
    >>> v = shenjing.tensor([[[1., 0.], [0., 1.], [1., 1.]]])
    >>> F.scaled_dot_product_attention(q, k, v)
    tensor([[[0.6667, 0.6667],
             [0.6667, 0.6667]]])
    >>> F.scaled_dot_product_attention(q, k, v, is_causal=True)
    tensor([[[1.0000, 0.0000],
             [0.5000, 0.5000]]])
    """
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        check_tensor(tensor, f"scaled_dot_product_attention(): {name}")
        if tensor.ndim < 2:
            raise RuntimeError(f"scaled_dot_product_attention: expected {name} with at least 2 dims (*, L, E), got "
                               f"shape {list(tensor.shape)}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: expected query (*, L, E), key (*, S, E) and value "
                           f"(*, S, Ev), got {list(query.shape)}, {list(key.shape)} and {list(value.shape)}")
    if enable_gqa and key.ndim >= 3 and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        groups, remainder = divmod(query.shape[-3], key.shape[-3])
        if remainder:
            raise RuntimeError(f"scaled_dot_product_attention: with enable_gqa the number of query heads "
                               f"({query.shape[-3]}) must be a multiple of the key/value heads ({key.shape[-3]})")
        heads = Tensor._make(np.repeat(np.arange(key.shape[-3]), groups))
        key, value = key.index_select(-3, heads), value.index_select(-3, heads)
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    length, source = query.shape[-2], key.shape[-2]
    scale_factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    bias = None
    if attn_mask is not None:
        check_tensor(attn_mask, "scaled_dot_product_attention(): attn_mask")
        if attn_mask.dtype.name == "bool":
            bias = Tensor._make(np.where(attn_mask._data, 0.0, -np.inf).astype(query._data.dtype))
        else:
            bias = attn_mask
    if is_causal:
        causal = Tensor._make(np.where(np.tri(length, source, dtype=bool), 0.0, -np.inf).astype(query._data.dtype))
        bias = causal
    scores = query.matmul(key.transpose(-2, -1)) * scale_factor
    weights = _masked_softmax(scores, bias)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights.matmul(value)


def _check_mha_shapes(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None,
                      attn_mask: Tensor | None, num_heads: int) -> bool:
    """Whether the input is batched (3-D) or not (2-D), with PyTorch's checks and messages."""
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError(f"For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                                 f"{key.ndim}-D and {value.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise AssertionError(f"For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but "
                                 f"found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
                                 f"found {attn_mask.ndim}-D tensor instead")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                                 f"{key.ndim}-D and {value.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D "
                                 f"but found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise AssertionError(f"For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                                     f"but found {attn_mask.ndim}-D tensor instead")
            if attn_mask.ndim == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                         f"{tuple(attn_mask.shape)}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D query "
                         f"tensor")


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None, bias_v: Tensor | None,
        add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
        training: bool = True, key_padding_mask: Tensor | None = None, need_weights: bool = True,
        attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False, q_proj_weight: Tensor | None = None,
        k_proj_weight: Tensor | None = None, v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
        static_v: Tensor | None = None, average_attn_weights: bool = True,
        is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention on (L, N, E) query and (S, N, E) key / value (or unbatched (L, E), (S, E)).

    Each of the H heads attends with its slice of the projections: Q = query W_q^T + b_q (likewise K, V,
    from ``in_proj_weight`` (3E, E) or the separate ``q/k/v_proj_weight``), split into H heads of E/H
    features; head outputs are concatenated and projected by ``out_proj``. Returns the output (L, N, E)
    and, with ``need_weights``, the attention weights (N, L, S), averaged over the heads unless
    ``average_attn_weights=False`` ((N, H, L, S)).
    """
    is_batched = _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim, remainder = divmod(embed_dim, num_heads)
    if remainder:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k / static_v are not supported")
    key_padding_mask = canonical_mask(key_padding_mask, "key_padding_mask",
                                      None if attn_mask is None else attn_mask.dtype, "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the causal hint alone, in scaled_dot_product_attention
    else:
        attn_mask = canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False
    if use_separate_proj_weight:
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q = linear(query, q_proj_weight, b_q)
        k = linear(key, k_proj_weight, b_k)
        v = linear(value, v_proj_weight, b_v)
    else:
        w_q, w_k, w_v = in_proj_weight.chunk(3)
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {list(attn_mask.shape)}, but should be "
                                   f"{[tgt_len, src_len]}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {list(attn_mask.shape)}, but should be "
                                   f"{[bsz * num_heads, tgt_len, src_len]}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")
    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)  # (N*H, L, E/H)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        zeros = Tensor._make(np.zeros((bsz * num_heads, 1, head_dim), dtype=q._data.dtype))
        k, v = cat([k, zeros], dim=1), cat([v, zeros], dim=1)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                                 f"{tuple(key_padding_mask.shape)}")
        padding = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        padding = padding.reshape(bsz * num_heads, 1, src_len)
        attn_mask = padding if attn_mask is None else attn_mask + padding
    if not training:
        dropout_p = 0.0
    if need_weights:
        scores = (q * math.sqrt(1.0 / head_dim)).matmul(k.transpose(-2, -1))
        weights = _masked_softmax(scores, attn_mask)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        output = weights.matmul(v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        output = linear(output, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not is_batched:
            output, weights = output.squeeze(1), weights.squeeze(0)
        return output, weights
    if attn_mask is not None:
        attn_mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else attn_mask.reshape(bsz, num_heads, -1,
                                                                                              src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    output = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    output = output.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    output = linear(output, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    return (output if is_batched else output.squeeze(1)), None
