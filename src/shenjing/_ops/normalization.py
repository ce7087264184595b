"""Batch norm and layer norm as single ops, each with its backward in closed form.

Both standardise x to x_hat = (x - mean) / sqrt(var + eps) (biased variance) and apply
y = x_hat * gamma + beta; batch norm takes the statistics per channel over (N, *), layer norm per
sample over the trailing dims. With M values per statistic, the gradient of the whole chain is

    gx = gamma * inv_std / M * (M * gy - sum(gy) - x_hat * sum(gy * x_hat)),
    dgamma = sum(gy * x_hat),   dbeta = sum(gy),

the sums over the same M values (for dgamma, dbeta: over everything but the channel). The ops work on
x viewed as (N, C, L) (batch norm) or (R, D) (layer norm). ``standardize`` is the same computation
composed of differentiable ops: the readable reference, and what a backward under ``create_graph``
uses, so that higher derivatives exist.
"""

from __future__ import annotations

import numpy as np

from shenjing._ops.elementwise import rsqrt
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op

__all__ = ["BatchNorm", "BatchNormEval", "LayerNorm", "standardize"]


def standardize(x: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor]:
    """(x - mean) / sqrt(var + eps) over ``dims`` and the biased variance (kept dims), composed of ops."""
    centred = x - x.mean(dims, keepdim=True)
    variance = (centred * centred).mean(dims, keepdim=True)
    return centred * rsqrt(variance + eps), variance


def _channel_dims(ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The dims batch norm reduces over, (0, 2, 3, ...), and the shape (1, -1, 1, ...) of a per-channel value."""
    return (0,) + tuple(range(2, ndim)), (1, -1) + (1,) * (ndim - 2)


def _affine(x_hat: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
            shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """x_hat (R, D) and y = x_hat * weight + bias (weight, bias (D,) or None), both in ``shape``
    (y is x_hat itself without weight and bias)."""
    y = x_hat if weight is None else x_hat * weight
    if bias is not None:
        y = y + bias if y is x_hat else np.add(y, bias, out=y)
    return x_hat.reshape(shape), y.reshape(shape)


class BatchNorm(Op):
    """Training batch norm of x (N, C, *) with the batch statistics; weight, bias (C,) or None.

    ``running_mean`` and ``running_var`` (C,) (data inputs, or None) are updated in place by the
    forward: running = (1 - momentum) * running + momentum * batch statistic, with the unbiased
    variance var_B * M / (M - 1), M = elements per channel (PyTorch's rule).
    """

    data_inputs = 2

    def __init__(self, eps: float, momentum: float = 0.1) -> None:
        self.eps, self.momentum = eps, momentum

    def name(self) -> str:
        return "NativeBatchNormBackward0"

    def forward(self, x, weight, bias, running_mean=None, running_var=None):
        N, C = x.shape[:2]
        x3 = x.reshape(N, C, -1)
        M = x3.shape[0] * x3.shape[2]
        self.mean = np.einsum("ncl->c", x3) / M
        centred = np.subtract(x3, self.mean[:, None])  # x_hat = centred * inv_std, never formed
        self.var = np.einsum("ncl,ncl->c", centred, centred) / M
        if running_mean is not None:
            momentum = self.momentum
            np.multiply(running_mean, 1.0 - momentum, out=running_mean)
            np.add(running_mean, self.mean * momentum, out=running_mean, casting="same_kind")
            np.multiply(running_var, 1.0 - momentum, out=running_var)
            np.add(running_var, self.var * (momentum * M / (M - 1)), out=running_var, casting="same_kind")
        self.inv_std = 1.0 / np.sqrt(self.var + self.eps)
        y = np.multiply(centred, (self.inv_std if weight is None else self.inv_std * weight)[:, None])
        if bias is not None:
            y += bias[:, None]
        self.save_for_backward(x, weight, centred)
        return y.reshape(x.shape)

    def backward(self, gy):
        needs_x, needs_weight, needs_bias = self.needs_input_grad
        if _GradState.enabled:  # create_graph: the same formula on tensors, x_hat recomputed from x
            x, weight, _ = self.saved_tensors
            dims, shape = _channel_dims(x.ndim)
            x_hat, variance = standardize(x, dims, self.eps)
            sum_gy, sum_gyx = gy.sum(dims, keepdim=True), (gy * x_hat).sum(dims, keepdim=True)
            gx = None
            if needs_x:
                M = x.numel() // x.shape[1]
                scale = rsqrt(variance + self.eps)
                scale = scale if weight is None else scale * weight.reshape(shape)
                gx = scale * (gy - sum_gy / M - x_hat * (sum_gyx / M))
            return (gx, sum_gyx.reshape(-1) if needs_weight else None, sum_gy.reshape(-1) if needs_bias else None)
        x, weight, centred = self.saved_arrays
        gy3 = gy._data.reshape(centred.shape)  # (N, C, L)
        inv_std = self.inv_std
        sum_gy, sum_gyx = np.einsum("ncl->c", gy3), np.einsum("ncl,ncl->c", gy3, centred) * inv_std
        gx = None
        if needs_x:
            M = centred.shape[0] * centred.shape[2]
            scale = inv_std if weight is None else inv_std * weight
            gx = np.multiply(centred, (inv_std * sum_gyx / M)[:, None])  # x_hat * sum(gy x_hat) / M
            np.subtract(gy3, gx, out=gx)
            gx -= (sum_gy / M)[:, None]
            gx *= scale[:, None]
            gx = Tensor._make(gx.reshape(x.shape))
        return (gx, Tensor._make(sum_gyx) if needs_weight else None, Tensor._make(sum_gy) if needs_bias else None)


class BatchNormEval(Op):
    """Evaluation batch norm: y = x * scale + shift per channel, scale = weight / sqrt(running_var + eps),
    shift = bias - running_mean * scale. Inputs x (N, C, *), weight, bias (C,) or None, running_mean,
    running_var (C,); the running statistics are constants (no gradient), as in PyTorch."""

    def __init__(self, eps: float) -> None:
        self.eps = eps

    def name(self) -> str:
        return "NativeBatchNormBackward0"

    def forward(self, x, weight, bias, running_mean, running_var):
        N, C = x.shape[:2]
        inv_std = 1.0 / np.sqrt(running_var + self.eps)
        scale = inv_std if weight is None else inv_std * weight
        shift = -running_mean * scale if bias is None else bias - running_mean * scale
        y = np.multiply(x.reshape(N, C, -1), scale[:, None])
        y += shift[:, None]
        self.save_for_backward(x, weight, None, running_mean, running_var)
        return y.reshape(x.shape)

    def backward(self, gy):
        needs_x, needs_weight, needs_bias = self.needs_input_grad[:3]
        if _GradState.enabled:
            x, weight, _, running_mean, running_var = self.saved_tensors
            dims, shape = _channel_dims(x.ndim)
            inv_std = rsqrt(running_var.detach().reshape(shape) + self.eps)
            gx = gw = gb = None
            if needs_x:
                gx = gy * (inv_std if weight is None else inv_std * weight.reshape(shape))
            if needs_weight:
                gw = (gy * ((x - running_mean.detach().reshape(shape)) * inv_std)).sum(dims)
            if needs_bias:
                gb = gy.sum(dims)
            return gx, gw, gb, None, None
        x, weight, _, running_mean, running_var = self.saved_arrays
        N, C = x.shape[:2]
        gy3 = gy._data.reshape(N, C, -1)
        inv_std = 1.0 / np.sqrt(running_var + self.eps)
        gx = gw = gb = None
        if needs_x:
            scale = inv_std if weight is None else inv_std * weight
            gx = Tensor._make(np.multiply(gy3, scale[:, None]).reshape(x.shape))
        if needs_weight:
            x_hat = np.subtract(x.reshape(N, C, -1), running_mean[:, None])
            gw = Tensor._make(np.einsum("ncl,ncl->c", gy3, x_hat) * inv_std)
        if needs_bias:
            gb = Tensor._make(np.einsum("ncl->c", gy3))
        return gx, gw, gb, None, None


class LayerNorm(Op):
    """Layer norm of x (*, D1, ..., Dk) over its last ``k`` dims; weight, bias (D1, ..., Dk) or None."""

    def __init__(self, k: int, eps: float) -> None:
        self.k, self.eps = k, eps

    def name(self) -> str:
        return "NativeLayerNormBackward0"

    def forward(self, x, weight, bias):
        D = int(np.prod(x.shape[x.ndim - self.k:]))
        x2 = x.reshape(-1, D)
        mean = np.einsum("rd->r", x2) / D
        x_hat = np.subtract(x2, mean[:, None])
        var = np.einsum("rd,rd->r", x_hat, x_hat) / D
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat *= self.inv_std[:, None]
        x_hat, y = _affine(x_hat, None if weight is None else weight.reshape(D),
                           None if bias is None else bias.reshape(D), x.shape)
        self.save_for_backward(x, weight, x_hat)
        return y

    def backward(self, gy):
        needs_x, needs_weight, needs_bias = self.needs_input_grad
        if _GradState.enabled:
            x, weight, _ = self.saved_tensors
            dims = tuple(range(x.ndim - self.k, x.ndim))
            outer = tuple(range(x.ndim - self.k))
            x_hat, variance = standardize(x, dims, self.eps)
            gx = gw = gb = None
            if needs_x:
                g = gy if weight is None else gy * weight
                D = int(np.prod(x.shape[x.ndim - self.k:]))
                gx = rsqrt(variance + self.eps) * (g - g.mean(dims, keepdim=True)
                                                   - x_hat * (g * x_hat).sum(dims, keepdim=True) / D)
            if needs_weight:
                gw = (gy * x_hat).sum(outer) if outer else gy * x_hat
            if needs_bias:
                gb = gy.sum(outer) if outer else gy
            return gx, gw, gb
        x, weight, x_hat = self.saved_arrays
        D = int(np.prod(x.shape[x.ndim - self.k:]))
        gy2, xh2 = gy._data.reshape(-1, D), x_hat.reshape(-1, D)
        gx = gw = gb = None
        if needs_x:
            g = gy2 if weight is None else gy2 * weight.reshape(D)
            sum_g, sum_gx = np.einsum("rd->r", g), np.einsum("rd,rd->r", g, xh2)
            gx = np.multiply(xh2, (sum_gx / D)[:, None])
            np.subtract(g, gx, out=gx)
            gx -= (sum_g / D)[:, None]
            gx *= self.inv_std[:, None]
            gx = Tensor._make(gx.reshape(x.shape))
        if needs_weight or needs_bias:
            sum_gy, sum_gyx = np.einsum("rd->d", gy2), np.einsum("rd,rd->d", gy2, xh2)
            shape = x.shape[x.ndim - self.k:]
            gw = Tensor._make(sum_gyx.reshape(shape)) if needs_weight else None
            gb = Tensor._make(sum_gy.reshape(shape)) if needs_bias else None
        return gx, gw, gb
