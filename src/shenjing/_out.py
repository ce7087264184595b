"""The ``out=`` argument of ``shenjing.add``, ``shenjing.matmul``, ... as PyTorch has it: the result is written
into a given tensor, which is returned.

PyTorch's rules: no autograd through ``out=`` (an error if an input requires grad while grad mode is on); an
``out`` of another shape is resized (with a warning unless it was empty); the result is cast to ``out``'s dtype
where the cast stays within its kind (float to int is an error); functions that return several tensors take
a tuple. Factory functions (``zeros``, ``arange``, ...) make their result in ``out``'s dtype. Only the
namespace functions are wrapped: the ops that the library calls internally are untouched.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState, no_grad

__all__ = ["accepting_out", "OUT_FUNCTIONS", "FACTORIES"]

OUT_FUNCTIONS = (
    "add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow matmul mm bmm mv dot "
    "outer inner exp exp2 expm1 log log2 log10 log1p sqrt rsqrt abs absolute neg negative sign sin cos tan sinh "
    "cosh tanh asin acos atan atan2 sigmoid erf floor ceil round trunc clamp clip maximum minimum where cat "
    "concat concatenate stack hstack vstack dstack sum mean prod cumsum cumprod amax amin max min argmax argmin "
    "std var logsumexp norm sort topk kthvalue median nansum nanmean tril triu diag cross kron tensordot einsum "
    "lerp addmm addcmul addcdiv square reciprocal logical_and logical_or logical_xor logical_not eq ne lt le gt "
    "ge bitwise_and bitwise_or bitwise_xor bitwise_not gather index_select masked_select take nonzero "
    "inverse det cholesky"
).split()
FACTORIES = "zeros ones full empty arange range linspace logspace eye rand randn randint randperm".split()


def _type_name(dtype: np.dtype) -> str:
    return {"f": "Float", "i": "Long", "u": "Byte", "b": "Bool"}.get(dtype.kind, str(dtype))


def _write(name: str, out: Tensor, result: Tensor) -> None:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    value = result._data
    if not np.can_cast(value.dtype, out._data.dtype, "same_kind") and not (value.dtype.kind in "iub" and
                                                                          out._data.dtype.kind in "iuf"):
        raise RuntimeError(f"result type {_type_name(value.dtype)} can't be cast to the desired output type "
                           f"{_type_name(out._data.dtype)}")
    if out._data.shape != value.shape:
        if out._data.size:
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out._data.shape)}, which does not match the required output shape "
                          f"{list(value.shape)}. This behavior is deprecated, and in a future PyTorch release "
                          f"outputs will not be resized unless they have zero elements. You can explicitly reuse an "
                          f"out tensor t by resizing it, inplace, to zero elements with t.resize_(0).",
                          UserWarning, stacklevel=4)
        if out._base is not None:
            raise RuntimeError(f"{name}(): cannot resize out=, a view of another tensor, from "
                               f"{list(out._data.shape)} to {list(value.shape)}")
        out._data = np.empty(value.shape, out._data.dtype)
    np.copyto(out._data, value, casting="unsafe")
    out._version_counter[0] += 1


def accepting_out(fn: Callable, factory: bool = False) -> Callable:
    """``fn`` with an ``out=`` keyword (see the module's docstring)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        if out is None:
            return fn(*args, **kwargs)
        name = fn.__name__
        if _GradState.enabled and any(isinstance(a, Tensor) and a.requires_grad
                                      for a in list(args) + list(kwargs.values()) +
                                      [t for a in args if isinstance(a, (list, tuple)) for t in a]):
            raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                               f"differentiation, but one of the arguments requires grad.")
        if factory and kwargs.get("dtype") is None and isinstance(out, Tensor):
            kwargs["dtype"] = out.dtype
        with no_grad():
            result = fn(*args, **kwargs)
        if isinstance(result, tuple):
            if not isinstance(out, (tuple, list)) or len(out) != len(result):
                raise TypeError(f"{name}(): argument 'out' must be a tuple of {len(result)} Tensors")
            for target, value in zip(out, result):
                _write(name, target, value)
            return type(result)(*out) if hasattr(result, "_fields") else tuple(out)
        _write(name, out, result)
        return out

    return wrapper
