"""PyTorch's in-place functions at the top level: ``torch.sqrt_(x)`` is ``x.sqrt_()`` (it writes into ``x``
and returns it)."""

from __future__ import annotations

from typing import Any, Callable

INPLACE_FUNCTIONS = (
    "abs_", "absolute_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
    "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_",
    "cos_", "cosh_", "deg2rad_", "erf_", "erfc_", "erfinv_", "exp2_", "exp_", "expm1_", "fix_", "floor_",
    "frac_", "gcd_", "i0_", "lcm_", "ldexp_", "log10_", "log1p_", "log2_", "log_", "logit_", "nan_to_num_",
    "neg_", "negative_", "rad2deg_", "reciprocal_", "round_", "rsqrt_", "sin_", "sinc_", "sinh_", "sqrt_",
    "square_", "tan_", "tanh_", "trunc_", "xlogy_")

__all__ = list(INPLACE_FUNCTIONS)


def _inplace_function(name: str) -> Callable:
    def function(input: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"In-place ``{name[:-1]}``: ``torch.{name}(x, ...)`` is ``x.{name}(...)``."
    return function


for _name in INPLACE_FUNCTIONS:
    globals()[_name] = _inplace_function(_name)
del _name
