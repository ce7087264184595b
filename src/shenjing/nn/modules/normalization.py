"""Normalisation layers: ``BatchNorm1d`` / ``BatchNorm2d`` / ``BatchNorm3d``, ``SyncBatchNorm`` (statistics
across ranks with ``shenjing.distributed``), ``LayerNorm`` and ``RMSNorm``."""

from __future__ import annotations

from typing import Any, Sequence

from shenjing._creation import ones, tensor, zeros
from shenjing._dtype import int64
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.nn._functional.normalization import batch_norm, layer_norm
from shenjing.nn._functional.rms_norm import rms_norm
from shenjing.nn.modules.module import Module
from shenjing.nn.parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LayerNorm", "RMSNorm"]


class _NormBase(Module):
    """What batch and instance normalisation share (PyTorch's ``_NormBase``): the affine weight and bias,
    the running statistics and their resets."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features <= 0:
            raise ValueError(f"{name}: num_features must be a positive integer, got {num_features!r}")
        if eps <= 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None (cumulative average), got {momentum!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype))
            if bias:
                self.bias = Parameter(zeros(num_features, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1.0)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Running statistics reset; weight 1 and bias 0."""
        self.reset_running_stats()
        with no_grad():
            if self.weight is not None:
                self.weight.fill_(1.0)
            if self.bias is not None:
                self.bias.zero_()


class _BatchNorm(_NormBase):
    """Shared by BatchNorm1d/2d/3d, which differ only in the input dims they accept."""

    _allowed_dims: tuple[int, ...] = ()
    _layout = ""

    def _check_input(self, input: Tensor) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self!r} expects a Tensor input, got {type(input).__name__}")
        if input.ndim not in self._allowed_dims:
            dims = " or ".join(f"{d}D" for d in self._allowed_dims)
            raise ValueError(f"expected {dims} input (got {input.ndim}D input): {self!r} expects input "
                             f"{self._layout.format(C=self.num_features)}, got {list(input.shape)}")
        if input.shape[1] != self.num_features:
            raise RuntimeError(f"{self!r} expects input {self._layout.format(C=self.num_features)} "
                               f"with {self.num_features} channels in dim 1, got {list(input.shape)}")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        # PyTorch's rules: in training the batch statistics are used (and the running ones updated
        # if tracked); in eval the running statistics, unless there are none.
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average over all batches so far
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                          self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C.

    Training: y = (x - mean_B) / sqrt(var_B + eps) * weight + bias over the batch (and L), and the
    buffers are updated: running = (1 - momentum) * running + momentum * batch statistic (unbiased
    variance for running_var; momentum=None: the cumulative average of all batches).
    Evaluation (``.eval()``): the running statistics are used instead. Parameters ``weight`` (ones),
    ``bias`` (zeros); buffers ``running_mean``, ``running_var``, ``num_batches_tracked`` (int64).

    >>> import shenjing
    >>> from shenjing import nn
    >>> bn = nn.BatchNorm1d(3)
    >>> bn(shenjing.randn(8, 3)).shape
    shenjing.Size([8, 3])
    >>> bn.num_batches_tracked
    tensor(1)
    """

    _allowed_dims = (2, 3)
    _layout = "[N, {C}] or [N, {C}, L]"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel C, over N, H and W (see BatchNorm1d).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.BatchNorm2d(6)
    BatchNorm2d(6, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    _allowed_dims = (4,)
    _layout = "[N, {C}, H, W]"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) input, per channel C (see BatchNorm1d).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.BatchNorm3d(2)(shenjing.randn(3, 2, 2, 2, 2)).shape
    shenjing.Size([3, 2, 2, 2, 2])
    """

    _allowed_dims = (5,)
    _layout = "[N, {C}, D, H, W]"


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation synchronised across processes: in training, with ``shenjing.distributed``
    initialised on several ranks, the mean and variance are those of the whole batch over all ranks (and so
    are the gradients), which equals BatchNorm on the concatenated batch. In one process it is batch
    normalisation of any (N, C, *) input.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.SyncBatchNorm(3)(shenjing.randn(4, 3, 2, 2)).shape
    shenjing.Size([4, 3, 2, 2])
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group: Any = None, device: Any = None, dtype: Any = None,
                 *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self.process_group = process_group

    def _check_input(self, input: Tensor) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self!r} expects a Tensor input, got {type(input).__name__}")
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")
        if input.shape[1] != self.num_features:
            raise RuntimeError(f"{self!r} expects input [N, {self.num_features}, *] with {self.num_features} "
                               f"channels in dim 1, got {list(input.shape)}")

    def forward(self, input: Tensor) -> Tensor:
        # across processes only in training, with shenjing.distributed initialised and more than one rank
        # (the statistics and their gradients are summed over all ranks: nn/parallel/sync_batch_norm.py)
        from shenjing import distributed

        if not (self.training and distributed.is_initialized()
                and distributed.get_world_size(self.process_group) > 1):
            return super().forward(input)
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        from shenjing.nn.parallel.sync_batch_norm import sync_batch_norm

        track = self.track_running_stats
        return sync_batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                               self.weight, self.bias, factor, self.eps, self.process_group)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with every BatchNorm1d/2d/3d layer in it replaced by a SyncBatchNorm holding the same
        parameters and buffers (a BatchNorm itself is returned as a new SyncBatchNorm)."""
        converted = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group, bias=module.bias is not None)
            if module.affine:
                converted.weight, converted.bias = module.weight, module.bias
            converted.running_mean, converted.running_var = module.running_mean, module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted


class LayerNorm(Module):
    """Normalise each sample over its trailing ``normalized_shape`` dims, then scale and shift.

    y = (x - mean) / sqrt(var + eps) * weight + bias. Parameters ``weight`` (ones) and ``bias``
    (zeros), of shape ``normalized_shape``, when ``elementwise_affine``. The same in train and eval.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.LayerNorm(4)
    LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive integers, got {normalized_shape!r}")
        if eps <= 0:
            raise ValueError(f"LayerNorm: eps must be positive, got {eps!r}")
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(shape, dtype=dtype))
            if bias:
                self.bias = Parameter(zeros(shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input: Tensor) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dims:
    y = x / sqrt(mean(x^2) + eps) * weight (``eps=None``: the dtype's machine epsilon). Parameter
    ``weight`` (ones), of shape ``normalized_shape``, when ``elementwise_affine``.

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.RMSNorm(4)
    RMSNorm((4,), eps=None, elementwise_affine=True)
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        """Weight 1."""
        if self.weight is not None:
            with no_grad():
                self.weight.fill_(1.0)

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
