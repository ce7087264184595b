"""More of ``torch.Tensor``'s methods (issue 18): the in-place forms of the shape ops, dtype casts, the
in-place samplers, scatter-like writes, strided views, and the small predicates and properties.

``shenjing._tensor`` attaches every function of ``METHODS`` (and the properties of ``PROPERTIES``) to
``Tensor`` under its name; each is a short call into ``shenjing._ops`` or a Tensor method.

In-place shape ops (``squeeze_``, ``t_``, ``transpose_``, ``as_strided_``, ``resize_``, ...) change the
tensor's shape in place: the tensor takes the array of the view (same memory) and, when recorded, the
view's history.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np

from shenjing import _dtype, _ops
from shenjing._tensor import Tensor

__all__ = ["METHODS", "PROPERTIES", "layout", "strided"]


class layout:
    """A tensor's memory layout; shenjing's tensors are all ``strided`` (dense)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"shenjing.{self.name}"


strided = layout("strided")


# -- in-place shape ops ------------------------------------------------------------------------------

def _take_shape_of(self: Tensor, view: Tensor) -> Tensor:
    """Make ``self`` the tensor ``view`` (a view of ``self``): its array and, when recorded, its history."""
    self._check_inplace()
    self._data = view._data
    if view.grad_fn is not None:
        self.grad_fn, self._output_nr = view.grad_fn, view._output_nr
    if self._base is not None:
        self._view_ops = view._view_ops
    self._bump_version()
    return self


def squeeze_(self: Tensor, dim: Any = None) -> Tensor:
    return _take_shape_of(self, _ops.squeeze(self, dim))


def unsqueeze_(self: Tensor, dim: int) -> Tensor:
    return _take_shape_of(self, _ops.unsqueeze(self, dim))


def t_(self: Tensor) -> Tensor:
    return _take_shape_of(self, self.t())


def transpose_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    return _take_shape_of(self, _ops.transpose(self, dim0, dim1))


def swapdims_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    return _take_shape_of(self, _ops.transpose(self, dim0, dim1))


def as_strided_(self: Tensor, size: Any, stride: Any, storage_offset: int | None = None) -> Tensor:
    return _take_shape_of(self, _ops.as_strided(self, size, stride, storage_offset))


def resize_(self: Tensor, *sizes: Any, memory_format: Any = None) -> Tensor:
    """Give the tensor the shape ``sizes``: its first elements (row-major) are kept; new elements are
    zero (PyTorch leaves them uninitialised). Not differentiable, as in PyTorch."""
    from shenjing._ops._util import as_size

    shape = as_size(sizes)
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    count = int(np.prod(shape, dtype=np.int64))
    if count == self._data.size:
        self._data = np.ascontiguousarray(self._data).reshape(shape)
    else:
        values = np.zeros(count, dtype=self._data.dtype)
        kept = min(count, self._data.size)
        values[:kept] = self._data.reshape(-1)[:kept]
        self._data = values.reshape(shape)
    self._bump_version()
    return self


def resize_as_(self: Tensor, the_template: Tensor, *, memory_format: Any = None) -> Tensor:
    return resize_(self, tuple(the_template.shape))


def resize(self: Tensor, *sizes: Any) -> Tensor:
    """The deprecated out-of-place ``resize``: a resized copy."""
    warnings.warn("non-inplace resize is deprecated", UserWarning, stacklevel=2)
    return resize_(self.detach().clone(), *sizes)


def resize_as(self: Tensor, tensor: Tensor) -> Tensor:
    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    return resize_(self.detach().clone(), tuple(tensor.shape))


def set_(self: Tensor, source: Any = None, storage_offset: int = 0, size: Any = None, stride: Any = None) -> Tensor:
    """Make this tensor share ``source``'s memory (and shape); with ``size``/``stride``, as
    ``source.as_strided(size, stride, storage_offset)``; without ``source``, empty."""
    self._check_inplace()
    if source is None:
        self._data = np.zeros(0, dtype=self._data.dtype)
    else:
        source = source if isinstance(source, Tensor) else Tensor._make(np.asarray(source))
        if source.dtype != self.dtype:
            raise RuntimeError(f"Could not set tensor of type {source.dtype} to a tensor of type {self.dtype}")
        view = source if size is None else _ops.as_strided(source.detach(), size, stride, storage_offset)
        self._data = view._data
    self._bump_version()
    return self


def is_set_to(self: Tensor, tensor: Tensor) -> bool:
    """Whether both tensors use the same memory with the same shape and strides."""
    a, b = self._data, tensor._data
    same_start = a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    return bool(same_start and a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype)


def sum_to_size(self: Tensor, *size: Any) -> Tensor:
    """Sum this tensor down to ``size``, to which it must broadcast (the reduction of a broadcast gradient).

    >>> import shenjing
    >>> shenjing.ones(2, 3).sum_to_size(1, 3)
    tensor([[2., 2., 2.]])
    """
    from shenjing._ops._util import as_shape

    shape = as_shape(size)
    try:
        if np.broadcast_shapes(shape, tuple(self.shape)) != tuple(self.shape):
            raise ValueError
    except ValueError:
        raise RuntimeError(f"size {{{', '.join(map(str, shape))}}} is not expandable to size "
                           f"{{{', '.join(map(str, self.shape))}}}.") from None
    lead = self.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and self.shape[lead + i] != 1)
    result = self.sum(dim=dims, keepdim=True) if dims else self
    return result.reshape(shape) if tuple(result.shape) != shape else result


def fill_diagonal_(self: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:
    """Write ``fill_value`` on the main diagonal (all dims equal for n-d; a tall matrix restarts the
    diagonal every n+1 rows with ``wrap``)."""
    if self.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if self.ndim > 2 and len(set(self.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    mask = np.zeros(self._data.shape, dtype=bool)
    if self.ndim == 2:
        rows, cols = self._data.shape
        flat = mask.reshape(-1)
        end = flat.size if wrap and rows > cols + 1 else min(rows, cols) * cols
        flat[:end:cols + 1] = True
    else:
        mask[(np.arange(self.shape[0]),) * self.ndim] = True
    return self.masked_fill_(Tensor._make(mask), fill_value)


# -- casts -----------------------------------------------------------------------------------------

def byte(self: Tensor) -> Tensor:
    return self.to(_dtype.uint8)


def char(self: Tensor) -> Tensor:
    return self.to(_dtype.int8)


def short(self: Tensor) -> Tensor:
    return self.to(_dtype.int16)


def bfloat16(self: Tensor) -> Tensor:
    """NumPy has no bfloat16: shenjing refuses (use float16 or float32)."""
    raise TypeError("bfloat16 is not supported: NumPy has no bfloat16 dtype; use .half() (float16) or .float()")


def new(self: Tensor, *args: Any) -> Tensor:
    """The legacy constructor of this tensor's dtype: ``x.new(2, 3)`` (uninitialised: zeros here),
    ``x.new([1, 2])`` (data) or ``x.new()`` (empty)."""
    from shenjing._tensor import Size

    if len(args) == 1 and isinstance(args[0], Tensor):
        return args[0].to(self.dtype)
    if len(args) == 1 and not isinstance(args[0], (int, Size)):
        return _ops.tensor(args[0], dtype=self.dtype)
    return _ops.zeros(*args, dtype=self.dtype) if args else _ops.zeros(0, dtype=self.dtype)


def new_empty_strided(self: Tensor, size: Any, stride: Any, *, dtype: Any = None, device: Any = None,
                      requires_grad: bool = False) -> Tensor:
    return _ops.empty_strided(size, stride, dtype=dtype or self.dtype, requires_grad=requires_grad)


# -- element-wise Python functions -----------------------------------------------------------------

def apply_(self: Tensor, callable: Callable[[Any], Any]) -> Tensor:
    """Replace every element x by ``callable(x)`` (a Python function on numbers; slow; not differentiable)."""
    if self._requires_grad:
        raise RuntimeError("apply_ is only implemented on CPU tensors that do not require grad")
    flat = self._data.reshape(-1)
    values = [callable(v) for v in flat.tolist()]
    self._data[...] = np.asarray(values, dtype=self._data.dtype).reshape(self._data.shape)
    self._bump_version()
    return self


def map_(self: Tensor, tensor: Tensor, callable: Callable[[Any, Any], Any]) -> Tensor:
    """Replace every element x by ``callable(x, y)``, y the element of ``tensor`` (broadcast) at the same place."""
    if self._requires_grad:
        raise RuntimeError("map_ is only implemented on CPU tensors that do not require grad")
    other = np.broadcast_to(tensor._data, self._data.shape).reshape(-1).tolist()
    values = [callable(x, y) for x, y in zip(self._data.reshape(-1).tolist(), other)]
    self._data[...] = np.asarray(values, dtype=self._data.dtype).reshape(self._data.shape)
    self._bump_version()
    return self


def map2_(self: Tensor, x: Tensor, y: Tensor, callable: Callable[[Any, Any, Any], Any]) -> Tensor:
    """Replace every element a by ``callable(a, b, c)``, b and c the elements of ``x`` and ``y`` (broadcast)."""
    if self._requires_grad:
        raise RuntimeError("map2_ is only implemented on CPU tensors that do not require grad")
    first = np.broadcast_to(x._data, self._data.shape).reshape(-1).tolist()
    second = np.broadcast_to(y._data, self._data.shape).reshape(-1).tolist()
    values = [callable(a, b, c) for a, b, c in zip(self._data.reshape(-1).tolist(), first, second)]
    self._data[...] = np.asarray(values, dtype=self._data.dtype).reshape(self._data.shape)
    self._bump_version()
    return self


# -- in-place samplers (uniform / normal draws of shenjing's generator, transformed) -------------------

def _check_float(self: Tensor, name: str) -> None:
    if not self.is_floating_point():
        raise RuntimeError(f"{name} expects a floating point tensor, got {self.dtype}")


def _uniform_like(self: Tensor, generator: Any) -> np.ndarray:
    return _ops.rand(*self.shape, dtype=_dtype.float64, generator=generator)._data


def _write(self: Tensor, values: np.ndarray) -> Tensor:
    self._check_inplace()
    np.copyto(self._data, values.astype(self._data.dtype), casting="unsafe")
    self._bump_version()
    return self


def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with Cauchy draws: median + sigma * tan(pi (u - 1/2)), u ~ U(0, 1)."""
    _check_float(self, "cauchy_")
    if sigma <= 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _write(self, median + sigma * np.tan(math.pi * (_uniform_like(self, generator) - 0.5)))


def geometric_(self: Tensor, p: float, *, generator: Any = None) -> Tensor:
    """Fill with the number of Bernoulli(p) trials up to the first success (1, 2, ...):
    ceil(log(1 - u) / log(1 - p))."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    u = _uniform_like(self, generator)
    return _write(self, np.maximum(1, np.ceil(np.log1p(-u) / math.log1p(-p))))


def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator: Any = None) -> Tensor:
    """Fill with exp(N(mean, std^2)) draws."""
    _check_float(self, "log_normal_")
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    normal = _ops.randn(*self.shape, dtype=_dtype.float64, generator=generator)._data
    return _write(self, np.exp(mean + std * normal))


def bernoulli(self: Tensor, p: Any = None, *, generator: Any = None) -> Tensor:
    """0/1 draws with probability ``self`` (or the number ``p``), in ``self``'s dtype."""
    return _ops.bernoulli(self, p, generator=generator)


def multinomial(self: Tensor, num_samples: int, replacement: bool = False, *, generator: Any = None) -> Tensor:
    return _ops.multinomial(self, num_samples, replacement, generator=generator)


# -- writes ----------------------------------------------------------------------------------------

def _inplace_of(function: Callable) -> Callable:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return self._inplace(function, *args, **kwargs)
    method.__doc__ = f"In-place ``shenjing.{function.__name__}``: writes the result into this tensor."
    return method


def register_post_accumulate_grad_hook(self: Tensor, hook: Callable[[Tensor], None]) -> Any:
    """Call ``hook(tensor)`` after the gradient has been added to this leaf's ``.grad``."""
    from shenjing._tensor import _RemovableHandle

    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if self._hooks is None:
        self._hooks = []
    marked = _PostAccumulateHook(hook)
    self._hooks.append(marked)
    return _RemovableHandle(self._hooks, marked)


class _PostAccumulateHook:
    """A leaf hook that the engine runs after accumulating ``.grad`` (with the tensor, not the gradient)."""

    post_accumulate = True

    def __init__(self, hook: Callable[[Tensor], None]) -> None:
        self.hook = hook

    def __call__(self, tensor: Tensor) -> None:
        self.hook(tensor)


# -- properties and predicates -----------------------------------------------------------------------

def get_device(self: Tensor) -> int:
    """-1: the CPU (PyTorch's answer for CPU tensors)."""
    return -1


def is_inference(self: Tensor) -> bool:
    """False: shenjing makes no inference tensors (``inference_mode`` is ``no_grad``)."""
    return False


def is_distributed(self: Tensor) -> bool:
    return False


def dim_order(self: Tensor, *, ambiguity_check: Any = False) -> tuple[int, ...]:
    """The dims from outermost to innermost in memory (by decreasing stride).

    >>> import shenjing
    >>> shenjing.zeros(2, 3).t().dim_order()
    (1, 0)
    """
    strides = self.stride()
    return tuple(sorted(range(self.ndim), key=lambda d: -strides[d]))


def as_subclass(self: Tensor, cls: type) -> Tensor:
    """This tensor's data and history as an instance of the Tensor subclass ``cls`` (sharing memory)."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(f"as_subclass: cls must be a subclass of Tensor, got {cls!r}")
    result = cls.__new__(cls)
    result._init(self._data)
    result.grad_fn, result._output_nr, result._requires_grad = self.grad_fn, self._output_nr, self._requires_grad
    result._version_counter = self._version_counter
    return result


def _sgn_(self: Tensor) -> Tensor:
    return self.sign_()


def _take_along_dim(self: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    if dim is None:
        return _ops.take_along_dim(self.reshape(-1), indices.reshape(-1), 0)
    return _ops.take_along_dim(self, indices, dim)


def _tile(self: Tensor, *dims: Any) -> Tensor:
    return _ops.tile(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)


def _moveaxis(self: Tensor, source: Any, destination: Any) -> Tensor:
    return _ops.movedim(self, source, destination)


def _swapdims(self: Tensor, dim0: int, dim1: int) -> Tensor:
    return _ops.transpose(self, dim0, dim1)


def _plain(name: str) -> Callable:
    function = getattr(_ops, name)

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return function(self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = f"``shenjing.{name}(self, ...)``."
    return method


METHODS: dict[str, Callable] = {
    "squeeze_": squeeze_, "unsqueeze_": unsqueeze_, "t_": t_, "transpose_": transpose_, "swapdims_": swapdims_,
    "swapaxes_": swapdims_, "as_strided_": as_strided_, "resize_": resize_, "resize_as_": resize_as_,
    "resize": resize, "resize_as": resize_as, "set_": set_, "is_set_to": is_set_to, "sum_to_size": sum_to_size,
    "fill_diagonal_": fill_diagonal_, "byte": byte, "char": char, "short": short, "bfloat16": bfloat16,
    "new": new, "new_empty_strided": new_empty_strided, "apply_": apply_, "map_": map_, "map2_": map2_,
    "cauchy_": cauchy_, "geometric_": geometric_, "log_normal_": log_normal_,
    "bernoulli": bernoulli, "multinomial": multinomial,
    "register_post_accumulate_grad_hook": register_post_accumulate_grad_hook,
    "get_device": get_device, "is_inference": is_inference, "is_distributed": is_distributed,
    "dim_order": dim_order, "as_subclass": as_subclass, "sgn_": _sgn_, "take_along_dim": _take_along_dim,
    "tile": _tile, "moveaxis": _moveaxis, "swapdims": _swapdims,
    "index_fill_": _inplace_of(_ops.index_fill), "index_copy_": _inplace_of(_ops.index_copy),
    "index_put_": _inplace_of(_ops.index_put), "index_reduce_": _inplace_of(_ops.index_reduce),
    "masked_scatter_": _inplace_of(_ops.masked_scatter), "put_": _inplace_of(_ops.put),
    "scatter_reduce_": _inplace_of(_ops.scatter_reduce),
}
for _name in ("index_fill", "index_copy", "index_put", "index_reduce", "masked_scatter", "put", "scatter_reduce",
              "diagonal_scatter", "select_scatter", "slice_scatter", "as_strided_scatter", "as_strided", "unfold",
              "argwhere", "nonzero_static", "is_nonzero", "is_same_size", "is_signed", "split_with_sizes",
              "unsafe_split", "unsafe_chunk", "unsafe_split_with_sizes", "cross", "vdot", "ger"):
    METHODS[_name] = _plain(_name)
del _name

def _get_grad_dtype(self: Tensor) -> Any:
    if self.grad_fn is not None:
        raise RuntimeError("grad_dtype can only be accessed on leaf tensors.")
    return self.dtype


def _set_grad_dtype(self: Tensor, value: Any) -> None:
    """shenjing's engine always gives a leaf gradients of its own dtype: only that value is accepted."""
    if self.grad_fn is not None:
        raise RuntimeError("grad_dtype can only be set on leaf tensors.")
    if value != self.dtype:
        raise NotImplementedError(f"grad_dtype: shenjing gives a leaf gradients of its own dtype ({self.dtype}); "
                                  f"another grad_dtype ({value}) is not supported")


PROPERTIES: dict[str, property] = {
    "grad_dtype": property(_get_grad_dtype, _set_grad_dtype, doc="The dtype of this leaf's gradients: its dtype."),
    "is_cpu": property(lambda self: True, doc="True: every shenjing tensor is on the CPU."),
    "layout": property(lambda self: strided, doc="``shenjing.strided``: shenjing's tensors are dense."),
}
