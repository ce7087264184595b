"""Batch normalisation with statistics over the whole batch across ranks (what ``nn.SyncBatchNorm`` runs in
training once ``shenjing.distributed`` is initialised with more than one process).

With n = the number of elements per channel summed over all ranks:

    forward:  mean = (1/n) sum x,  var = (1/n) sum (x - mean)^2,  x_hat = (x - mean) / sqrt(var + eps),
              y = weight * x_hat + bias
    backward: gx = weight / sqrt(var + eps) * (gy - (1/n) sum gy - x_hat * (1/n) sum gy * x_hat)

The sums run over every rank (one allreduce of [sum x, sum x^2, count] forward and one of
[sum gy, sum gy * x_hat] backward); ``gweight`` and ``gbias`` stay local sums, which DistributedDataParallel
then averages like any other gradient. The result equals BatchNorm on the concatenated batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.function import Function
from shenjing.distributed import _collectives as collectives
from shenjing.distributed._process_group import ProcessGroup, default_group

__all__ = ["sync_batch_norm"]


def _channel_view(array: np.ndarray) -> tuple:
    """The axes to reduce over (all but the channel axis 1) and the shape that broadcasts a (C,) vector."""
    axes = (0,) + tuple(range(2, array.ndim))
    shape = (1, array.shape[1]) + (1,) * (array.ndim - 2)
    return axes, shape


class _SyncBatchNormFunction(Function):
    @staticmethod
    def forward(ctx: Any, input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                running_var: Tensor | None, momentum: float, eps: float, group: ProcessGroup) -> Tensor:
        x = input._data
        axes, shape = _channel_view(x)
        channels = x.shape[1]
        stats = np.empty(2 * channels + 1, dtype=np.float64)
        stats[:channels] = x.sum(axis=axes, dtype=np.float64)
        stats[channels:2 * channels] = np.square(x, dtype=np.float64).sum(axis=axes)
        stats[-1] = x.size // channels
        collectives.all_reduce(Tensor._make(stats), group=group)
        count = stats[-1]
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {list(x.shape)} "
                             f"on this rank and {int(count)} values per channel over all ranks")
        mean = stats[:channels] / count
        var = np.maximum(stats[channels:2 * channels] / count - mean * mean, 0.0)
        invstd = 1.0 / np.sqrt(var + eps)
        x_hat = ((x - mean.astype(x.dtype).reshape(shape)) * invstd.astype(x.dtype).reshape(shape))
        y = x_hat if weight is None else x_hat * weight._data.reshape(shape)
        if bias is not None:
            y = y + bias._data.reshape(shape)
        if running_mean is not None and running_var is not None:
            running_mean._data[...] = (1 - momentum) * running_mean._data + momentum * mean
            running_var._data[...] = (1 - momentum) * running_var._data + momentum * var * count / (count - 1)
            running_mean._bump_version()
            running_var._bump_version()
        ctx.x_hat, ctx.invstd, ctx.count, ctx.group = x_hat, invstd.astype(x.dtype), count, group
        ctx.weight = None if weight is None else weight._data
        ctx.has_bias = bias is not None
        return Tensor._make(y.astype(x.dtype, copy=False))

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple:
        weight = ctx.weight
        gy, x_hat = grad_output._data, ctx.x_hat
        axes, shape = _channel_view(gy)
        channels = gy.shape[1]
        local = np.empty(2 * channels, dtype=np.float64)
        local[:channels] = gy.sum(axis=axes, dtype=np.float64)
        local[channels:] = (gy * x_hat).sum(axis=axes, dtype=np.float64)
        gweight = Tensor._make(local[channels:].astype(gy.dtype)) if weight is not None else None
        gbias = Tensor._make(local[:channels].astype(gy.dtype)) if ctx.has_bias else None
        collectives.all_reduce(Tensor._make(local), group=ctx.group)
        mean_gy = (local[:channels] / ctx.count).astype(gy.dtype).reshape(shape)
        mean_gy_xhat = (local[channels:] / ctx.count).astype(gy.dtype).reshape(shape)
        scale = ctx.invstd.reshape(shape) if weight is None else (weight * ctx.invstd).reshape(shape)
        gx = scale * (gy - mean_gy - x_hat * mean_gy_xhat)
        return Tensor._make(gx), gweight, gbias, None, None, None, None, None


def sync_batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                    weight: Tensor | None, bias: Tensor | None, momentum: float, eps: float,
                    group: ProcessGroup | None = None) -> Tensor:
    """Training-mode batch normalisation of (N, C, *) ``input`` with statistics over all ranks of ``group``;
    updates ``running_mean``/``running_var`` (unbiased variance over all n values) in place."""
    return _SyncBatchNormFunction.apply(input, weight, bias, running_mean, running_var, momentum, eps,
                                        default_group(group))
