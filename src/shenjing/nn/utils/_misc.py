"""Small names of ``torch.nn.utils``: the deprecated ``clip_grad_norm``, the memory-format converters (shenjing
tensors have one layout, so they return the module as it is) and ``skip_init``."""

from __future__ import annotations

import warnings
from typing import Any

from shenjing.nn.utils.clip_grad import clip_grad_norm_

__all__ = ["clip_grad_norm", "convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format",
           "skip_init"]


def clip_grad_norm(parameters: Any, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Any:
    """Deprecated: ``clip_grad_norm_``."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def convert_conv2d_weight_memory_format(module: Any, memory_format: Any) -> Any:
    """The module itself: shenjing keeps every tensor in one (contiguous, NCHW) layout."""
    return module


def convert_conv3d_weight_memory_format(module: Any, memory_format: Any) -> Any:
    """The module itself: shenjing keeps every tensor in one (contiguous) layout."""
    return module


def skip_init(module_cls: type, *args: Any, **kwargs: Any) -> Any:
    """``module_cls(*args, **kwargs)``. (PyTorch leaves the parameters uninitialised; shenjing initialises
    them as usual, which costs little at the sizes it trains.)"""
    if "device" not in module_cls.__init__.__code__.co_varnames:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    return module_cls(*args, **kwargs)
