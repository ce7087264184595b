"""Normalisation over groups of channels, single instances and channel neighbourhoods.

* ``group_norm``: the C channels of each sample split into G groups; each group standardised over its
  channels and spatial positions, then a per-channel affine map.
* ``instance_norm``: each (sample, channel) standardised over its spatial positions (group norm with
  G = C, plus optional running statistics as in batch norm).
* ``local_response_norm``: each value divided by a power of the mean square of its neighbours across
  channels (AlexNet).

All three are composed of differentiable ops (``standardize`` of ``shenjing._ops.normalization``), so
their gradients of every order come from the ops they are built of.
"""

from __future__ import annotations

from shenjing._ops._util import check_tensor, float_input
from shenjing._ops.elementwise import rsqrt
from shenjing._ops.normalization import standardize
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.autograd.node import shown_as
from shenjing.nn._functional.padding import pad
from shenjing.nn._functional.pooling import avg_pool2d

__all__ = ["group_norm", "instance_norm", "local_response_norm"]


def _channel_affine(y: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """y * weight[c] + bias[c] for y (N, C, *)."""
    shape = (1, -1) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _check_per_channel(name: str, channels: int, **tensors: Tensor | None) -> None:
    for key, tensor in tensors.items():
        if tensor is not None:
            check_tensor(tensor, f"{name}(): {key}")
            if tensor.numel() != channels:
                raise RuntimeError(f"{name}: expected {key} with {channels} elements (one per channel), got "
                                   f"shape {list(tensor.shape)}")


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Standardise each group of C/G channels of each sample, then scale and shift per channel.

    y = (x - mean_g) / sqrt(var_g + eps) * weight[c] + bias[c], the mean and (biased) variance over the
    channels of group g and all spatial positions. Shapes: input (N, C, *), C divisible by G;
    weight, bias (C,).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.group_norm(shenjing.tensor([[1., 3., 0., 10.]]), 2, eps=0.0)
    tensor([[-1.,  1., -1.,  1.]])
    """
    check_tensor(input, "group_norm(): input")
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected at least 2 dims (N, C, *), got input of shape "
                           f"{list(input.shape)}")
    channels = input.shape[1]
    if num_groups <= 0 or channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input "
                           f"of shape {list(input.shape)} and num_groups={num_groups}")
    _check_per_channel("group_norm", channels, weight=weight, bias=bias)
    x = float_input(input)
    groups = x.reshape(x.shape[0], num_groups, -1)
    x_hat, _ = standardize(groups, (2,), eps)
    return shown_as(_channel_affine(x_hat.reshape(x.shape), weight, bias), "NativeGroupNormBackward0")


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Standardise each channel of each sample over its spatial positions, then scale and shift.

    ``use_input_stats=True``: y = (x - mean_nc) / sqrt(var_nc + eps) * weight[c] + bias[c] with the
    statistics of x[n, c]; given running statistics are updated in place with their batch averages,
    running = (1 - momentum) * running + momentum * mean_n(stat_nc) (the unbiased variance for
    running_var). ``use_input_stats=False``: the running statistics take their place.
    Shapes: input (N, C, *) with at least one spatial dim; the others (C,).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.instance_norm(shenjing.tensor([[[1., 3.], [0., 10.]]]), eps=0.0)
    tensor([[[-1.,  1.],
             [-1.,  1.]]])
    """
    check_tensor(input, "instance_norm(): input")
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input (N, C, *) with at least one spatial dim, got input "
                         f"of shape {list(input.shape)}")
    channels = input.shape[1]
    _check_per_channel("instance_norm", channels, running_mean=running_mean, running_var=running_var,
                       weight=weight, bias=bias)
    x = float_input(input)
    dims = tuple(range(2, x.ndim))
    shape = (1, channels) + (1,) * (x.ndim - 2)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
        x_hat = (x - running_mean.detach().reshape(shape)) * rsqrt(running_var.detach().reshape(shape) + eps)
        return _channel_affine(x_hat, weight, bias)
    count = x.numel() // (x.shape[0] * channels)
    if count <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(input.shape)}")
    x_hat, variance = standardize(x, dims, eps)
    if running_mean is not None or running_var is not None:
        with no_grad():
            if running_mean is not None:
                batch_mean = x.detach().mean(dims).mean(0)
                running_mean.mul_(1.0 - momentum).add_(batch_mean.to(running_mean.dtype) * momentum)
            if running_var is not None:
                unbiased = variance.detach().reshape(x.shape[0], channels).mean(0) * (count / (count - 1))
                running_var.mul_(1.0 - momentum).add_(unbiased.to(running_var.dtype) * momentum)
    return shown_as(_channel_affine(x_hat, weight, bias), "ViewBackward0")  # (PyTorch: a batch norm, viewed)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Divide each value by a power of the mean square of ``size`` neighbouring channels.

    y[n, c] = x[n, c] / (k + alpha * mean_{c' in window(c)} x[n, c']^2) ** beta, the window running
    from c - size//2 to c + (size-1)//2 (channels beyond the edges count as zeros, the divisor stays
    ``size``). Shapes: input (N, C, *), at least 3 dims.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.local_response_norm(shenjing.tensor([[[2.], [0.]]]), 1, alpha=1.0, beta=1.0, k=1.0)
    tensor([[[0.4000],
             [0.0000]]])
    """
    check_tensor(input, "local_response_norm(): input")
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions): "
                         f"local_response_norm expects (N, C, *), got input of shape {list(input.shape)}")
    if input.numel() == 0:
        return input
    x = float_input(input)
    n, c = x.shape[:2]
    squares = (x * x).reshape(n, 1, c, -1)  # channels as the height of a one-channel image
    squares = pad(squares, (0, 0, size // 2, (size - 1) // 2))
    mean_square = avg_pool2d(squares, (size, 1), stride=1).reshape(x.shape)
    return x / (mean_square * alpha + k) ** beta
