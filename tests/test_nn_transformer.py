"""scaled_dot_product_attention, MultiheadAttention and the Transformer layers against PyTorch 2.13:
the same weights in both (loaded from torch's state_dict), outputs, attention weights and gradients of
inputs and parameters in float64, masks of both kinds, reprs and state_dict keys."""

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

RNG = np.random.default_rng(41)


# -- scaled_dot_product_attention -----------------------------------------------------------------

def _bool_mask(shape, keep=0.7):
    mask = RNG.random(shape) < keep
    mask[..., 0] = True  # every query keeps one key
    return mask


@pytest.mark.parametrize("q_shape, k_shape, v_shape", [((2, 3, 4), (2, 5, 4), (2, 5, 3)),
                                                       ((1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4)),
                                                       ((2, 2, 4, 3), (1, 2, 6, 3), (1, 2, 6, 2))])
def test_sdpa_matches_torch(q_shape, k_shape, v_shape):
    q, k, v = RNG.standard_normal(q_shape), RNG.standard_normal(k_shape), RNG.standard_normal(v_shape)
    check_op(F.scaled_dot_product_attention, TF.scaled_dot_product_attention, q, k, v)
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3, is_causal=True),
             lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, scale=0.3, is_causal=True), q, k, v)


def test_sdpa_masks_match_torch():
    q, k, v = RNG.standard_normal((2, 2, 3, 4)), RNG.standard_normal((2, 2, 5, 4)), RNG.standard_normal((2, 2, 5, 3))
    boolean = Const(_bool_mask((3, 5)))
    check_op(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
             lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m), q, k, v, boolean)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(sj.tensor(q), sj.tensor(k), sj.tensor(v), attn_mask=sj.tensor(boolean.array),
                                       is_causal=True)
    additive = RNG.standard_normal((2, 1, 3, 5))  # a float mask is added to the scores (and gets a gradient)
    check_op(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
             lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m), q, k, v, additive)


def test_sdpa_fully_masked_query_gives_zeros_like_torch():
    q, k, v = RNG.standard_normal((1, 3, 4)), RNG.standard_normal((1, 5, 4)), RNG.standard_normal((1, 5, 2))
    mask = _bool_mask((3, 5))
    mask[1] = False
    check_op(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
             lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m), q, k, v, Const(mask))


def test_sdpa_grouped_query_attention_matches_torch():
    q, k, v = RNG.standard_normal((1, 4, 3, 2)), RNG.standard_normal((1, 2, 5, 2)), RNG.standard_normal((1, 2, 5, 2))
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
             lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, enable_gqa=True), q, k, v)


def test_sdpa_dropout_drops_weights():
    sj.manual_seed(0)
    q, k, v = sj.randn(1, 4, 8), sj.randn(1, 6, 8), sj.ones(1, 6, 1)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).flatten().numpy()
    # the weights of a row sum to 1, so with v = 1 the output is (sum of the kept weights) * 2
    assert out.min() >= 0 and not np.allclose(out, 1.0)


# -- MultiheadAttention ---------------------------------------------------------------------------

def _pair(sj_class, torch_class, *args, **kwargs):
    """The same layer in both libraries, in float64, shenjing's with torch's weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch_class(*args, **kwargs).double()
        ours = sj_class(*args, **kwargs).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    return ours, theirs


def _compare(ours, theirs, arrays, masks=None, kwargs=None, atol=1e-10):
    """Run both on the same inputs (floats require grad); compare every output, then the gradients of a
    random weighting of the first output for inputs and parameters."""
    masks, kwargs = masks or {}, kwargs or {}
    sj_in = [sj.tensor(a, requires_grad=True) for a in arrays]
    torch_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    sj_masks = {k: None if v is None else sj.tensor(v) for k, v in masks.items()}
    torch_masks = {k: None if v is None else torch.tensor(v) for k, v in masks.items()}
    out_sj = ours(*sj_in, **sj_masks, **kwargs)
    out_torch = theirs(*torch_in, **torch_masks, **kwargs)
    out_sj = out_sj if isinstance(out_sj, tuple) else (out_sj,)
    out_torch = out_torch if isinstance(out_torch, tuple) else (out_torch,)
    for a, b in zip(out_sj, out_torch):
        if b is None:
            assert a is None
            continue
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-8, atol=atol)
    upstream = RNG.standard_normal(tuple(out_torch[0].shape))
    (out_sj[0] * sj.tensor(upstream)).sum().backward()
    (out_torch[0] * torch.tensor(upstream)).sum().backward()
    for a, b in zip(sj_in, torch_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=atol)
    ours_params = dict(ours.named_parameters())
    for name, param in theirs.named_parameters():
        if param.grad is not None:
            np.testing.assert_allclose(ours_params[name].grad.numpy(), param.grad.numpy(), rtol=1e-8, atol=atol,
                                       err_msg=name)


@pytest.mark.parametrize("kwargs", [{}, {"batch_first": True}, {"bias": False}, {"add_bias_kv": True},
                                    {"add_zero_attn": True}, {"kdim": 3, "vdim": 5}])
def test_multihead_attention_matches_torch(kwargs):
    ours, theirs = _pair(nn.MultiheadAttention, torch.nn.MultiheadAttention, 8, 2, **kwargs)
    kdim, vdim = kwargs.get("kdim", 8), kwargs.get("vdim", 8)
    batch_first = kwargs.get("batch_first", False)
    shape = (lambda length, dim: (3, length, dim)) if batch_first else (lambda length, dim: (length, 3, dim))
    query, key, value = RNG.standard_normal(shape(4, 8)), RNG.standard_normal(shape(6, kdim)), \
        RNG.standard_normal(shape(6, vdim))
    _compare(ours, theirs, [query, key, value])
    _compare(ours, theirs, [query, key, value], kwargs={"need_weights": False})


def test_multihead_attention_masks_match_torch():
    ours, theirs = _pair(nn.MultiheadAttention, torch.nn.MultiheadAttention, 6, 3)
    query, key, value = (RNG.standard_normal((4, 2, 6)), RNG.standard_normal((5, 2, 6)),
                         RNG.standard_normal((5, 2, 6)))
    padding = np.zeros((2, 5), dtype=bool)
    padding[1, 3:] = True  # the second sequence has 3 keys
    attn = ~_bool_mask((4, 5))  # True = may not attend
    float_mask = RNG.standard_normal((6, 4, 5))
    for masks, kwargs in [({"key_padding_mask": padding}, {}), ({"attn_mask": attn}, {}),
                          ({"key_padding_mask": padding, "attn_mask": attn}, {"average_attn_weights": False}),
                          ({"attn_mask": float_mask}, {"need_weights": False}),
                          ({"key_padding_mask": padding}, {"need_weights": False})]:
        _compare(ours, theirs, [query, key, value], masks, kwargs)
    causal = np.triu(np.ones((4, 4), dtype=bool), 1)
    _compare(ours, theirs, [query, query[:, :, :6], query], {"attn_mask": causal},
             {"is_causal": True, "need_weights": False})


def test_multihead_attention_unbatched_and_eval_match_torch():
    ours, theirs = _pair(nn.MultiheadAttention, torch.nn.MultiheadAttention, 4, 2, dropout=0.3)
    ours.eval(), theirs.eval()
    query, key = RNG.standard_normal((3, 4)), RNG.standard_normal((5, 4))
    _compare(ours, theirs, [query, key, key], {"key_padding_mask": np.array([False, False, True, False, True])})


def test_multihead_attention_errors_like_torch():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    attention = nn.MultiheadAttention(4, 2)
    x = sj.randn(3, 2, 4)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        attention(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \[3, 4\], but should be \[3, 3\]"):
        attention(x, x, x, attn_mask=sj.zeros(3, 4))


# -- Transformer layers ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{}, {"norm_first": True}, {"batch_first": True, "activation": "gelu"},
                                    {"bias": False, "layer_norm_eps": 1e-3}])
def test_transformer_encoder_layer_matches_torch(kwargs):
    ours, theirs = _pair(nn.TransformerEncoderLayer, torch.nn.TransformerEncoderLayer, 8, 2, 16, 0.0, **kwargs)
    src = RNG.standard_normal((3, 5, 8))
    padding = np.zeros((3, 5), dtype=bool) if kwargs.get("batch_first") else np.zeros((5, 5), dtype=bool)
    padding[1, 3:] = True
    _compare(ours, theirs, [src])
    _compare(ours, theirs, [src], {"src_key_padding_mask": padding[:, :5] if kwargs.get("batch_first") else None})
    causal = np.triu(np.full((5, 5) if kwargs.get("batch_first") else (3, 3), -np.inf), 1)
    _compare(ours, theirs, [src], {"src_mask": causal}, {"is_causal": True})


def test_transformer_encoder_layer_with_a_module_activation_matches_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.TransformerEncoderLayer(4, 2, 8, 0.0, activation=torch.nn.SiLU()).double()
        ours = nn.TransformerEncoderLayer(4, 2, 8, 0.0, activation=nn.SiLU()).double()
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    _compare(ours, theirs, [RNG.standard_normal((3, 2, 4))])


def test_transformer_encoder_matches_torch_and_warns_like_it():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = nn.TransformerEncoderLayer(8, 2, 16, 0.0)
        nn.TransformerEncoder(layer, 2)
    assert any("enable_nested_tensor is True, but self.use_nested_tensor is False because "
               "encoder_layer.self_attn.batch_first was not True" in str(w.message) for w in caught)
    theirs_layer = torch.nn.TransformerEncoderLayer(8, 2, 16, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.TransformerEncoder(theirs_layer, 2, norm=torch.nn.LayerNorm(8)).double()
        ours = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8)).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    src = RNG.standard_normal((5, 2, 8))
    mask = nn.Transformer.generate_square_subsequent_mask(5).numpy().astype(np.float64)
    _compare(ours, theirs, [src], {"mask": mask})
    padding = np.array([[False] * 5, [False] * 3 + [True] * 2])
    _compare(ours, theirs, [src], {"mask": mask, "src_key_padding_mask": padding})


@pytest.mark.parametrize("kwargs", [{}, {"norm_first": True, "batch_first": True}])
def test_transformer_decoder_layer_matches_torch(kwargs):
    ours, theirs = _pair(nn.TransformerDecoderLayer, torch.nn.TransformerDecoderLayer, 8, 2, 16, 0.0, **kwargs)
    batch_first = kwargs.get("batch_first", False)
    tgt = RNG.standard_normal((2, 4, 8) if batch_first else (4, 2, 8))
    memory = RNG.standard_normal((2, 6, 8) if batch_first else (6, 2, 8))
    causal = np.triu(np.ones((4, 4), dtype=bool), 1)
    memory_padding = np.zeros((2, 6), dtype=bool)
    memory_padding[0, 4:] = True
    _compare(ours, theirs, [tgt, memory])
    _compare(ours, theirs, [tgt, memory], {"tgt_mask": causal, "memory_key_padding_mask": memory_padding})


def test_transformer_matches_torch():
    kwargs = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16, dropout=0.0)
    ours, theirs = _pair(nn.Transformer, torch.nn.Transformer, **kwargs)
    src, tgt = RNG.standard_normal((5, 2, 8)), RNG.standard_normal((4, 2, 8))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(4).numpy().astype(np.float64)
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(4).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    _compare(ours, theirs, [src, tgt], {"tgt_mask": mask})
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        ours(sj.randn(5, 2, 8, dtype=sj.float64), sj.randn(4, 3, 8, dtype=sj.float64))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        ours(sj.randn(5, 2, 6, dtype=sj.float64), sj.randn(4, 2, 6, dtype=sj.float64))


def test_transformer_default_initialisation_is_xavier_uniform():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32)
    weight = model.encoder.layers[0].linear1.weight.detach().numpy()  # (32, 16): bound sqrt(6 / 48)
    assert np.abs(weight).max() <= np.sqrt(6 / 48) and np.abs(weight).max() > 0.8 * np.sqrt(6 / 48)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
