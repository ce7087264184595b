"""Normalisation layers beyond batch and layer norm: ``InstanceNorm1d/2d/3d``, ``GroupNorm``,
``LocalResponseNorm`` and the legacy ``CrossMapLRN2d`` (see ``shenjing.nn._functional.group_norm`` for
the maps, ``shenjing._ops.cross_map_lrn`` for the last)."""

from __future__ import annotations

import warnings
from typing import Any

from shenjing._creation import ones, zeros
from shenjing._ops.cross_map_lrn import CrossMapLrn
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.nn._functional.group_norm import group_norm, instance_norm, local_response_norm
from shenjing.nn.modules.module import Module
from shenjing.nn.modules.normalization import _NormBase
from shenjing.nn.parameter import Parameter

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "GroupNorm", "LocalResponseNorm", "CrossMapLRN2d"]


class _InstanceNorm(_NormBase):
    """Shared by InstanceNorm1d/2d/3d, which differ in the input dims they accept (``_spatial``)."""

    _spatial = 0

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__} expects a Tensor input, got {type(input).__name__}")
        unbatched = self._spatial + 1
        if input.ndim not in (unbatched, unbatched + 1):
            raise ValueError(f"expected {unbatched}D or {unbatched + 1}D input (got {input.ndim}D input)")
        feature_dim = input.ndim - unbatched
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match num_features "
                                 f"({self.num_features}), but got: {input.shape[feature_dim]}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You can silence this "
                          f"warning by not passing in num_features, which is not used because affine=False",
                          stacklevel=2)
        x = input.unsqueeze(0) if input.ndim == unbatched else input
        y = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          self.training or not self.track_running_stats,
                          0.0 if self.momentum is None else self.momentum, self.eps)
        return y.squeeze(0) if input.ndim == unbatched else y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L) input: each channel of each sample standardised
    over L, y = (x - mean) / sqrt(var + eps) * weight + bias (``affine``, default off). With
    ``track_running_stats`` the batch-averaged statistics are kept and used in eval mode.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.InstanceNorm1d(3)
    InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)
    """

    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W) input, over H and W (see InstanceNorm1d).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.InstanceNorm2d(2, affine=True)(shenjing.randn(4, 2, 3, 3)).shape
    shenjing.Size([4, 2, 3, 3])
    """

    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or (C, D, H, W) input (see InstanceNorm1d).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.InstanceNorm3d(2)(shenjing.randn(1, 2, 2, 2, 2)).shape
    shenjing.Size([1, 2, 2, 2, 2])
    """

    _spatial = 3


class GroupNorm(Module):
    """Group normalisation: the channels of each sample split into ``num_groups`` groups, each
    standardised over its channels and positions, then y = x_hat * weight + bias per channel.

    Input (N, C, *); parameters ``weight`` (ones) and ``bias`` (zeros), shape (C,), when ``affine``.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.GroupNorm(2, 6)
    GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        if affine:
            self.weight = Parameter(ones(num_channels, dtype=dtype))
            if bias:
                self.bias = Parameter(zeros(num_channels, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """Weight 1 and bias 0."""
        with no_grad():
            if self.weight is not None:
                self.weight.fill_(1.0)
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, input: Tensor) -> Tensor:
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """y[c] = x[c] / (k + alpha * mean of x^2 over ``size`` neighbouring channels) ** beta (AlexNet).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.LocalResponseNorm(2)
    LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CrossMapLRN2d(Module):
    """Legacy local response normalisation of (N, C, H, W) input across channels, as PyTorch's (Lua Torch's)
    ``CrossMapLRN2d``: y = x * (k + alpha / size * sum of x^2 over a channel window)^-beta.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.CrossMapLRN2d(3)
    CrossMapLRN2d(3, alpha=0.0001, beta=0.75, k=1)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor) or input.ndim != 4:
            shape = getattr(input, "ndim", None)
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {shape}D instead.")
        return CrossMapLrn(self.size, self.alpha, self.beta, self.k)(input)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
