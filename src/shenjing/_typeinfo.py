"""``finfo`` and ``iinfo``: the numerical limits of a dtype, with PyTorch's fields and printout.

    >>> import shenjing
    >>> shenjing.finfo(shenjing.float32).eps
    1.1920928955078125e-07
    >>> shenjing.iinfo(shenjing.int8).max
    127
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing import _dtype

__all__ = ["finfo", "iinfo"]


class finfo:
    """The limits of a floating-point dtype (the default dtype when none is given): ``bits``, ``eps`` (the gap
    above 1), ``max``, ``min``, ``tiny`` = ``smallest_normal``, ``resolution`` (10^-precision)."""

    def __init__(self, type: Any = None) -> None:
        d = _dtype.get_default_dtype() if type is None else _dtype.as_dtype(type)
        if not d.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type. Use torch.iinfo to handle "
                            f"'{d.name}'")
        info = np.finfo(d.numpy)
        self.dtype = d.name
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """The limits of an integer dtype: ``bits``, ``max``, ``min``."""

    def __init__(self, type: Any) -> None:
        d = _dtype.as_dtype(type)
        if d.is_floating_point:
            raise TypeError(f"torch.iinfo() requires an integer input type. Use torch.finfo to handle '{d.name}'")
        info = np.iinfo(np.uint8 if d.name == "bool" else d.numpy)
        self.dtype = d.name
        self.bits = int(info.bits)
        self.max = int(info.max) if d.name != "bool" else 1
        self.min = int(info.min)

    def __repr__(self) -> str:
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"
