"""Dropout: zero random elements (or whole channels) while training, as inverted dropout.

Each kept element is scaled by 1 / (1 - p), so the expected value of the output equals the input
and nothing needs rescaling at evaluation time, where dropout is the identity. The masks come from
shenjing's default generator: after ``shenjing.manual_seed(s)`` the same masks are drawn again.
"""

from __future__ import annotations

import warnings

import numpy as np

from shenjing._ops._util import check_tensor, float_input
from shenjing import _random_draws
from shenjing._random import default_generator
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op, backward_op

__all__ = ["dropout", "dropout1d", "dropout2d"]


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


class Dropout(Op):
    """y = x * mask with a fixed mask (the scaled keep-mask, in x's dtype, broadcast to x): linear in x,
    so gx = gy * mask is its own backward (and higher derivatives are the same op again)."""

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = mask

    def name(self) -> str:
        return "MulBackward0"  # (PyTorch's name for dropout's node on the CPU)

    def forward(self, x):
        return np.multiply(x, self.mask)

    def backward(self, gy):
        return backward_op(Dropout(self.mask), gy)


class RandomDropout(Op):
    """y = x * mask / (1 - p), the mask of keeps (probability 1 - p) drawn in ``forward`` from the
    default generator with ``mask_shape`` (broadcast to x): each call draws a new one, a compiled replay
    included. Backward: gx = gy * mask / (1 - p), the fixed-mask ``Dropout``."""

    def __init__(self, p: float, mask_shape: tuple[int, ...]) -> None:
        self.p, self.mask_shape = p, mask_shape

    def name(self) -> str:
        return "MulBackward0"

    def forward(self, x):
        self.mask = _scaled_mask(self.p, self.mask_shape, x.dtype)
        return np.multiply(x, self.mask)

    def backward(self, gy):
        return backward_op(Dropout(self.mask), gy)


def _scaled_mask(p: float, mask_shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """mask[i] = 1/(1-p) with probability 1-p else 0, in ``dtype``: PyTorch's draw, noise.bernoulli_(1 - p)
    (a double uniform below 1 - p keeps), then noise.div_(1 - p)."""
    if p == 1.0:
        return np.zeros(mask_shape, dtype=dtype)
    keep = _random_draws.bernoulli_scalar(default_generator, mask_shape, 1.0 - p)
    return np.divide(keep.astype(dtype), dtype.type(1.0 - p), dtype=dtype)


def _masked(input: Tensor, p: float, mask_shape: tuple[int, ...], inplace: bool) -> Tensor:
    """input * mask, mask[i] = 1/(1-p) with probability 1-p else 0, broadcast from ``mask_shape``."""
    op = RandomDropout(p, mask_shape)
    return input._inplace(op) if inplace else op(input)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (identity if not training).

    y_i = x_i * m_i / (1 - p), m_i ~ Bernoulli(1 - p). Shape: any -> same.

    >>> import shenjing
    >>> _ = shenjing.manual_seed(0)
    >>> y = dropout(shenjing.ones(1000), p=0.5)
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    >>> dropout(shenjing.ones(3), p=0.5, training=False)
    tensor([1., 1., 1.])
    """
    check_tensor(input)
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _masked(float_input(input), p, input.shape, inplace)


def _channel_dropout(name: str, input: Tensor, p: float, training: bool, inplace: bool,
                     feature_dims: int) -> Tensor:
    """Drop whole channels: one draw per (sample, channel), broadcast over the ``feature_dims`` last dims."""
    check_tensor(input)
    _check_p(p)
    batched = feature_dims + 2
    if input.ndim not in (batched - 1, batched):
        raise RuntimeError(f"{name}: expected {batched - 1}-D or {batched}-D input (got {input.ndim}-D input "
                           f"of shape {list(input.shape)})")
    if not training or p == 0.0:
        return input
    channel_dims = input.ndim - feature_dims
    mask_shape = tuple(input.shape[:channel_dims]) + (1,) * feature_dims
    return _masked(float_input(input), p, mask_shape, inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``; scale the rest by 1/(1-p).

    >>> import shenjing
    >>> y = dropout1d(shenjing.ones(2, 8, 5), p=0.5)
    >>> bool(((y == 0).all(dim=2) | (y == 2).all(dim=2)).all())
    True
    """
    return _channel_dropout("dropout1d", input, p, training, inplace, 1)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels (feature maps) of (N, C, H, W) or (C, H, W) input with probability ``p``.

    Kept channels are scaled by 1/(1-p). Neighbouring pixels of a feature map are strongly correlated,
    so dropping single pixels regularises little; dropping a whole map does.
    As in PyTorch 2.x, a 3-D input is taken as (N, C, L) (channel-wise 1-D dropout), with a warning.

    >>> import shenjing
    >>> y = dropout2d(shenjing.ones(2, 8, 3, 3), p=0.5)
    >>> bool(((y == 0).all(dim=(2, 3)) | (y == 2).all(dim=(2, 3))).all())
    True
    """
    check_tensor(input)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input and assuming that channel-wise 1D dropout behavior is "
                      "desired - input is interpreted as shape (N, C, L). Use dropout1d for that, or give "
                      "a 4-D (N, C, H, W) input.", UserWarning, stacklevel=2)
        return _channel_dropout("dropout2d", input, p, training, inplace, 1)
    return _channel_dropout("dropout2d", input, p, training, inplace, 2)
