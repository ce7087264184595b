"""``rms_norm``: root-mean-square normalisation over the trailing dims (no centring, no bias)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from shenjing._ops._util import check_tensor, float_input
from shenjing._ops.elementwise import rsqrt
from shenjing._tensor import Tensor

__all__ = ["rms_norm"]


def rms_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """y = x / sqrt(mean(x^2) + eps) * weight, the mean over the last len(normalized_shape) dims;
    ``eps`` defaults to the machine epsilon of the input's dtype.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.rms_norm(shenjing.tensor([[3., 4.]]), (2,), eps=0.0)
    tensor([[0.8485, 1.1314]])
    """
    check_tensor(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    count = len(shape)
    if count == 0 or input.ndim < count or tuple(input.shape[input.ndim - count:]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*{', '.join(str(s) for s in shape)}], but got input of size{list(input.shape)}")
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(f"rms_norm: expected weight of shape {list(shape)}, got {list(weight.shape)}")
    x = float_input(input)
    if eps is None:
        eps = float(np.finfo(x._data.dtype).eps)
    dims = tuple(range(x.ndim - count, x.ndim))
    y = x * rsqrt((x * x).mean(dims, keepdim=True) + eps)
    return y if weight is None else y * weight
