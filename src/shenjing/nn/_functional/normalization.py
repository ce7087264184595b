"""Normalisation: batch norm, layer norm and ``normalize``.

Both norms standardise x to x_hat = (x - mean) / sqrt(var + eps) (biased variance) and then apply
a learnt affine map y = x_hat * weight + b; they differ in the dims the statistics are taken over:
batch norm over the batch and spatial dims for each channel, layer norm over the trailing
``normalized_shape`` dims for each sample. Each runs as one op with its backward in closed form
(``shenjing._ops.normalization``); ``batch_norm_reference`` and ``layer_norm_reference`` are the same
maps composed of differentiable ops, the readable specification the ops are tested against.
"""

from __future__ import annotations

from typing import Sequence

from shenjing._ops._util import check_tensor, float_input
from shenjing._ops.elementwise import rsqrt
from shenjing._ops.normalization import BatchNorm, BatchNormEval, LayerNorm, standardize
from shenjing._ops.reduce import norm
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad

__all__ = ["batch_norm", "layer_norm", "normalize"]


def _affine(x_hat: Tensor, weight: Tensor | None, bias: Tensor | None, shape: tuple[int, ...]) -> Tensor:
    if weight is not None:
        x_hat = x_hat * weight.reshape(shape)
    if bias is not None:
        x_hat = x_hat + bias.reshape(shape)
    return x_hat


def _per_channel(tensor: Tensor | None, channels: int) -> Tensor | None:
    """A per-channel tensor as shape (C,) (a reshape only where it is another shape of C values)."""
    return tensor if tensor is None or tuple(tensor.shape) == (channels,) else tensor.reshape(channels)


def _check_batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                      weight: Tensor | None, bias: Tensor | None, training: bool) -> int:
    """The channel count C of a valid call; a clear error otherwise."""
    check_tensor(input)
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected 2D or higher input (N, C, *), got {input.ndim}D input of shape "
                         f"{list(input.shape)}")
    channels = input.shape[1]
    for name, tensor in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                         ("bias", bias)):
        if tensor is not None:
            check_tensor(tensor, f"batch_norm(): {name}")
            if tensor.numel() != channels:
                raise RuntimeError(f"{name} should contain {channels} elements not {tensor.numel()} "
                                   f"(input shape {list(input.shape)}, channels in dim 1)")
    if training and input.numel() // channels <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{list(input.shape)}")
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode "
                           "(training=False)")
    return channels


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) over the batch and spatial dims, then scale and shift.

    Training: y = (x - mean_B) / sqrt(var_B + eps) * weight + bias with the batch statistics
    (biased variance); if running stats are given they are updated in place:
    running = (1 - momentum) * running + momentum * batch_stat, where the variance fed to
    ``running_var`` is the unbiased one, var_B * n / (n - 1), n = elements per channel.
    Evaluation (training=False): the running statistics take the place of the batch ones.

    Shapes: input (N, C) or (N, C, *); running_mean, running_var, weight, bias (C,).

    >>> import shenjing
    >>> x = shenjing.tensor([[1.0], [3.0]])
    >>> mean, var = shenjing.zeros(1), shenjing.ones(1)
    >>> batch_norm(x, mean, var, training=True, eps=0.0)
    tensor([[-1.],
            [ 1.]])
    >>> mean, var     # 0.9 * 0 + 0.1 * 2 and 0.9 * 1 + 0.1 * 2 (unbiased variance of [1, 3])
    (tensor([0.2000]), tensor([1.1000]))
    """
    channels = _check_batch_norm(input, running_mean, running_var, weight, bias, training)
    input = float_input(input)
    weight, bias = _per_channel(weight, channels), _per_channel(bias, channels)
    if not training:
        return BatchNormEval(eps)(input, weight, bias, _per_channel(running_mean.detach(), channels),
                                  _per_channel(running_var.detach(), channels))
    if running_mean is None or running_var is None:
        return BatchNorm(eps, momentum)(input, weight, bias, None, None)
    for running in (running_mean, running_var):
        running._check_inplace()
    output = BatchNorm(eps, momentum)(input, weight, bias, running_mean, running_var)
    running_mean._bump_version()
    running_var._bump_version()
    return output


def batch_norm_reference(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                         weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
                         momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """``batch_norm`` composed of differentiable ops: the specification of the fused op."""
    channels = _check_batch_norm(input, running_mean, running_var, weight, bias, training)
    dims, shape = (0,) + tuple(range(2, input.ndim)), (1, channels) + (1,) * (input.ndim - 2)
    if not training:
        x_hat = (input - running_mean.reshape(shape)) * rsqrt(running_var.reshape(shape) + eps)
        return _affine(x_hat, weight, bias, shape)
    x_hat, variance = standardize(input, dims, eps)
    if running_mean is not None and running_var is not None:
        count = input.numel() // channels
        with no_grad():
            unbiased = variance.detach().reshape(channels) * (count / (count - 1))
            running_mean.mul_(1.0 - momentum).add_(input.detach().mean(dims) * momentum)
            running_var.mul_(1.0 - momentum).add_(unbiased * momentum)
    return _affine(x_hat, weight, bias, shape)


def _check_layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None,
                      bias: Tensor | None) -> tuple[int, ...]:
    """``normalized_shape`` as a tuple for a valid call; a clear error otherwise."""
    check_tensor(input)
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    count = len(normalized_shape)
    if count == 0 or input.ndim < count or tuple(input.shape[input.ndim - count:]) != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size "
                           f"{list(input.shape)}")
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and tuple(tensor.shape) != normalized_shape:
            raise RuntimeError(f"layer_norm: expected {name} of shape {list(normalized_shape)}, got "
                               f"{list(tensor.shape)}")
    return normalized_shape


def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample over its trailing ``normalized_shape`` dims, then scale and shift.

    y = (x - mean) / sqrt(var + eps) * weight + bias, mean and (biased) var over the last
    len(normalized_shape) dims. Shapes: input (*, *normalized_shape); weight, bias normalized_shape.

    >>> import shenjing
    >>> layer_norm(shenjing.tensor([[1.0, 3.0], [0.0, 10.0]]), (2,), eps=0.0)
    tensor([[-1.,  1.],
            [-1.,  1.]])
    """
    count = len(_check_layer_norm(input, normalized_shape, weight, bias))
    return LayerNorm(count, eps)(float_input(input), weight, bias)


def layer_norm_reference(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
                         bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """``layer_norm`` composed of differentiable ops: the specification of the fused op."""
    count = len(_check_layer_norm(input, normalized_shape, weight, bias))
    x_hat, _ = standardize(input, tuple(range(input.ndim - count, input.ndim)), eps)
    return _affine(x_hat, weight, bias, tuple(input.shape[input.ndim - count:]))


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps) along ``dim``: unit p-norm vectors (zero vectors stay zero).

    >>> import shenjing
    >>> normalize(shenjing.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    """
    check_tensor(input)
    denominator = norm(input, p, dim, keepdim=True).clamp(min=eps)
    return input / denominator
