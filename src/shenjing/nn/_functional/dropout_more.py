"""More dropout: ``dropout3d`` (whole channels of volumes) and the self-normalising ``alpha_dropout`` /
``feature_alpha_dropout``, built on the masks of ``shenjing.nn._functional.dropout``.

Alpha dropout keeps SELU activations at zero mean and unit variance: a dropped element becomes the
SELU's negative saturation value -alpha' (alpha' = 1.7581) rather than 0, and the result is rescaled:
y = a * (x * m + (1 - m) * (-alpha')) + c, i.e. y = x * (a m) + b with b = a alpha' (p - (1 - m)),
a = 1 / sqrt((alpha'^2 p + 1)(1 - p)), m ~ Bernoulli(1 - p).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from shenjing._ops._util import check_tensor, float_input
from shenjing import _random_draws
from shenjing._random import default_generator
from shenjing._tensor import Tensor
from shenjing.nn._functional.dropout import Dropout, _channel_dropout, _check_p

__all__ = ["dropout3d", "alpha_dropout", "feature_alpha_dropout"]

_SELU_SATURATION = 1.7580993408473766  # -SELU(-inf) = scale * alpha


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``; scale the rest
    by 1/(1-p). Other inputs warn (as PyTorch does) and are taken as unbatched: one draw per index of dim 0.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> y = F.dropout3d(shenjing.ones(2, 8, 2, 2, 2))
    >>> bool(((y == 0).all(dim=(2, 3, 4)) | (y == 2).all(dim=(2, 3, 4))).all())
    True
    """
    check_tensor(input)
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is deprecated and will result "
                      f"in an error in a future release. To retain the behavior and silence this warning, please use "
                      f"dropout instead. Note that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      f"spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 4D or 5D "
                      f"inputs).", stacklevel=2)
        if input.ndim == 0:
            return input if not training or p == 0.0 else _channel_dropout("dropout3d", input.reshape(1), p, training,
                                                                           False, 0).reshape(())
        return _channel_dropout("dropout3d", input, p, training, inplace, input.ndim - 1)  # (taken as unbatched)
    return _channel_dropout("dropout3d", input, p, training, inplace, 3)


def _alpha(input: Tensor, p: float, training: bool, inplace: bool, mask_shape: tuple[int, ...]) -> Tensor:
    if not training or p == 0.0 or input.numel() == 0:
        return input
    x = float_input(input)
    dtype = x._data.dtype
    if p == 1.0:
        op = Dropout(np.zeros(mask_shape, dtype=dtype))
        return x._inplace(op) if inplace else op(x)
    # PyTorch's: noise.bernoulli_(1 - p); b = (noise - 1) * (alpha a) + alpha a p; noise *= a (in x's dtype)
    keep = _random_draws.bernoulli_scalar(default_generator, mask_shape, 1.0 - p).astype(dtype)
    a = 1.0 / math.sqrt((_SELU_SATURATION ** 2 * p + 1) * (1 - p))
    shift = Tensor._make((keep - dtype.type(1)) * dtype.type(_SELU_SATURATION * a) + dtype.type(_SELU_SATURATION * a * p))
    op = Dropout(keep * dtype.type(a))
    if inplace:
        return x._inplace(op).add_(shift)
    return op(x) + shift


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout of each element (see the module docstring); the identity when not training.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> _ = shenjing.manual_seed(0)
    >>> y = F.alpha_dropout(shenjing.randn(100000), 0.2, training=True)
    >>> abs(y.mean().item()) < 0.02, abs(y.std().item() - 1) < 0.02   # zero mean, unit variance kept
    (True, True)
    """
    check_tensor(input)
    _check_p(p)
    return _alpha(input, p, training, inplace, tuple(input.shape))


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels of (N, C, *) input: one draw per (sample, channel).

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> y = F.feature_alpha_dropout(shenjing.zeros(4, 6, 3), 0.5, training=True)
    >>> bool((y == y[:, :, :1]).all())
    True
    """
    check_tensor(input)
    _check_p(p)
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return _alpha(input, p, training, inplace, tuple(input.shape[:2]) + (1,) * (input.ndim - 2))
