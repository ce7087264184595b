"""Folding a BatchNorm into the convolution or linear layer before it, for inference (PyTorch's
``fuse_conv_bn_eval`` and friends): with the running statistics mu, var and the affine gamma, beta,

    BN(W x + b) = (W x + b - mu) gamma / sqrt(var + eps) + beta = W' x + b',
    W' = W * s (one s per output channel),   b' = (b - mu) s + beta,   s = gamma / sqrt(var + eps).
"""

from __future__ import annotations

import copy
from typing import Any

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.nn.parameter import Parameter

__all__ = ["fuse_conv_bn_weights", "fuse_conv_bn_eval", "fuse_linear_bn_weights", "fuse_linear_bn_eval"]


def _scale(bn_rm: Tensor, bn_rv: Tensor, bn_eps: float, bn_w: Tensor | None) -> Tensor:
    inverse_std = (bn_rv + bn_eps).rsqrt()
    return inverse_std if bn_w is None else bn_w * inverse_std


def fuse_conv_bn_weights(conv_w: Tensor, conv_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                         bn_w: Tensor | None, bn_b: Tensor | None, transpose: bool = False) -> tuple[Parameter, Parameter]:
    """(W', b') of the formula above for a convolution weight (O, C, ...) (or (C, O, ...) with ``transpose``)."""
    with no_grad():
        scale = _scale(bn_rm, bn_rv, bn_eps, bn_w)
        shape = [1] * conv_w.dim()
        shape[1 if transpose else 0] = -1
        weight = conv_w * scale.reshape(*shape).to(conv_w.dtype)
        bias = conv_b if conv_b is not None else bn_rm * 0
        bias = (bias - bn_rm) * scale + (bn_b if bn_b is not None else 0)
    return Parameter(weight, conv_w.requires_grad), Parameter(bias.to(conv_w.dtype), conv_w.requires_grad)


def fuse_linear_bn_weights(linear_w: Tensor, linear_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                           bn_w: Tensor, bn_b: Tensor) -> tuple[Parameter, Parameter]:
    """(W', b') of the formula above for a linear weight (out, in)."""
    with no_grad():
        scale = _scale(bn_rm, bn_rv, bn_eps, bn_w)
        weight = linear_w * scale.unsqueeze(-1)
        bias = linear_b if linear_b is not None else bn_rm * 0
        bias = (bias - bn_rm) * scale + bn_b
    return Parameter(weight, linear_w.requires_grad), Parameter(bias, linear_w.requires_grad)


def _check_eval(*modules: Any) -> None:
    if any(m.training for m in modules):
        raise AssertionError("Fusion only for eval!")


def fuse_conv_bn_eval(conv: Any, bn: Any, transpose: bool = False) -> Any:
    """A copy of ``conv`` (in eval mode, as ``bn``) computing conv followed by bn."""
    _check_eval(conv, bn)
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias, transpose)
    return fused


def fuse_linear_bn_eval(linear: Any, bn: Any) -> Any:
    """A copy of ``linear`` (in eval mode, as ``bn``) computing linear followed by bn."""
    _check_eval(linear, bn)
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise AssertionError("To fuse, linear.out_features must equal bn.num_features or bn.num_features must be 1")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused
