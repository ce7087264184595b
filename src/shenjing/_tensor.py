"""``Tensor``: a NumPy array with a dtype, a gradient and a link to the node that made it.

The class holds state and the Python protocol (operators, indexing, printing, conversion). The maths
of every method lives in ``shenjing._ops``; methods are one-line calls into it, so ``x.exp()`` and
``shenjing.exp(x)`` are the same code.
"""

from __future__ import annotations

import builtins
from typing import Any, Callable, Iterator

import numpy as np

from shenjing import _dtype
from shenjing._device import device as _device_type, cpu as _cpu, check_device
from shenjing._format import format_tensor

__all__ = ["Tensor", "Size"]


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``shenjing.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"shenjing.Size({list(self)})"

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64))


class _RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Tensor:
    """A multi-dimensional array that can record the operations applied to it for backpropagation.

    Attributes: ``dtype``, ``shape``, ``device``, ``requires_grad``, ``grad`` (the accumulated
    gradient of a leaf), ``grad_fn`` (the node that produced a non-leaf), ``is_leaf``.

    >>> import shenjing
    >>> x = shenjing.tensor([[1.0, 2.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([[2., 4.]])
    """

    __slots__ = ("_data", "_requires_grad", "grad", "grad_fn", "_output_nr", "_version_counter", "_hooks",
                 "_grad_accumulator", "_base", "_view_ops", "__weakref__")
    __array_priority__ = 1000  # make ndarray <op> Tensor defer to Tensor's reflected operators

    def __init__(self, *args: Any) -> None:
        if len(args) == 1 and not isinstance(args[0], int):
            array = np.array(args[0], dtype=_dtype.get_default_dtype().numpy)
        else:
            array = np.zeros(args[0] if len(args) == 1 and isinstance(args[0], tuple) else args,
                             dtype=_dtype.get_default_dtype().numpy)
        self._init(array)

    def _init(self, array: np.ndarray) -> None:
        self._data = array
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._version_counter = [0]
        self._hooks = None
        self._grad_accumulator = None
        self._base = None
        self._view_ops = ()

    @classmethod
    def _make(cls, array: np.ndarray) -> "Tensor":
        """Wrap an array without copying or checking (the ops' fast path)."""
        tensor = cls.__new__(cls)
        tensor._init(array)
        return tensor

    # -- state ----------------------------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self._data.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients; this tensor "
                               f"has dtype {self.dtype} (convert it with .float() first)")
        if not value and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use "
                               "a computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        self._requires_grad = bool(value)

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def output_nr(self) -> int:
        """Which output of its ``grad_fn`` this tensor is (0 for single-output ops)."""
        return self._output_nr

    @property
    def _version(self) -> int:
        return self._version_counter[0]

    def _bump_version(self) -> None:
        self._version_counter[0] += 1

    @property
    def data(self) -> "Tensor":
        """The same values, detached from the graph (shares memory)."""
        return Tensor._make(self._data)

    @data.setter
    def data(self, value: "Tensor") -> None:
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    @property
    def dtype(self) -> _dtype.dtype:
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def device(self) -> _device_type:
        return _cpu

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def size(self, dim: int | None = None) -> Size | int:
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_ops.normalize_dim(dim, self._data.ndim)]

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def stride(self, dim: int | None = None) -> tuple | int:
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_ops.normalize_dim(dim, self._data.ndim)]

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    # -- conversion -----------------------------------------------------------------------------

    def item(self) -> int | float | bool:
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The underlying ndarray (shared memory). Refuses a tensor that requires grad, like PyTorch."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = self.numpy()
        if dtype is not None:
            return array.astype(dtype, copy=bool(copy))
        return array.copy() if copy else array

    def to(self, *args: Any, **kwargs: Any) -> "Tensor":
        """``to(dtype)``, ``to('cpu')``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        target = kwargs.pop("dtype", None)
        for arg in list(args) + [kwargs.pop("device", None)]:
            if isinstance(arg, Tensor):
                target = arg.dtype
            elif isinstance(arg, (str, _device_type)):
                check_device(arg)
            elif arg is not None:
                target = arg
        if target is None:
            return self
        return _ops.cast(self, _dtype.as_dtype(target))

    def cpu(self) -> "Tensor":
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> "Tensor":
        check_device("cuda")
        return self

    def type(self, dtype: Any = None) -> Any:
        if dtype is None:
            return f"shenjing.{_TYPE_NAMES.get(self.dtype.name, self.dtype.name)}"
        return self.to(dtype)

    def float(self) -> "Tensor":
        return self.to(_dtype.float32)

    def double(self) -> "Tensor":
        return self.to(_dtype.float64)

    def half(self) -> "Tensor":
        return self.to(_dtype.float16)

    def long(self) -> "Tensor":
        return self.to(_dtype.int64)

    def int(self) -> "Tensor":
        return self.to(_dtype.int32)

    def bool(self) -> "Tensor":
        return self.to(_dtype.bool_)

    def type_as(self, other: "Tensor") -> "Tensor":
        return self.to(other.dtype)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator["Tensor"]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(_ops.unbind(self, 0))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} values is ambiguous; "
                               f"use .any() or .all()")
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def _scalar(self) -> Any:
        if self._data.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars "
                             f"(this one has shape {list(self.shape)})")
        return self._data.reshape(()).item()

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:  # as PyTorch: a 0-d tensor formats as its number (f"{tensor(6)}" is "6")
            return format(self.item(), spec)
        return format(repr(self), spec)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        extras = []
        implied = (_dtype.get_default_dtype().numpy,) if self._data.size == 0 else \
            (_dtype.get_default_dtype().numpy, np.dtype(np.int64), np.dtype(np.bool_))
        if self._data.dtype not in implied:
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return format_tensor(self._data, extras)

    def __str__(self) -> str:
        return self.__repr__()

    def __reduce_ex__(self, protocol: int) -> Any:
        return (_rebuild_tensor, (self._data, self._requires_grad))

    def __deepcopy__(self, memo: dict) -> "Tensor":
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment. Deep-copy tensor.detach() instead.")
        result = Tensor._make(self._data.copy())
        result._requires_grad = self._requires_grad
        if self.grad is not None:
            result.grad = Tensor._make(self.grad._data.copy())
        memo[id(self)] = result
        return result

    # -- autograd -------------------------------------------------------------------------------

    def backward(self, gradient: "Tensor | None" = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (a vector-Jacobian product).

        For a non-scalar tensor pass ``gradient`` (the upstream gradient, same shape as self).
        """
        _autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> "Tensor":
        """The same values, cut from the graph (shares memory; ``requires_grad`` is False)."""
        result = Tensor._make(self._data)
        result._version_counter = self._version_counter
        return result

    def detach_(self) -> "Tensor":
        self.grad_fn = None
        self._requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        self.grad_fn.retain(self._output_nr, self)

    @property
    def retains_grad(self) -> bool:
        retained = self.grad_fn._retained if self.grad_fn is not None else None
        return bool(retained) and self._output_nr in retained

    def register_hook(self, hook: Callable[["Tensor"], "Tensor | None"]) -> _RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            self.grad_fn.register_prehook(self._output_nr, hook)
            return _RemovableHandle(self.grad_fn._pre_hooks[self._output_nr], hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _RemovableHandle(self._hooks, hook)

    # -- in-place protocol ----------------------------------------------------------------------

    def _check_inplace(self) -> None:
        if self._requires_grad and self.grad_fn is None and _GradState.enabled:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation. "
                               "Wrap the update in `with shenjing.no_grad():` (as optimisers do).")

    def _inplace(self, op: Callable, *args: Any, **kwargs: Any) -> "Tensor":
        """Run ``op(self, ...)`` and write the result into this tensor's memory.

        When the graph is recorded, ``op`` sees a snapshot of the old value with the same history,
        so that what it saves for backward is not overwritten by this very write.
        """
        self._check_inplace()
        source = self
        recording = _GradState.enabled and (self._requires_grad or builtins.any(
            isinstance(a, Tensor) and a._requires_grad for a in args))
        if recording:
            source = Tensor._make(self._data.copy())
            source.grad_fn, source._output_nr = self.grad_fn, self._output_nr
            source._requires_grad = self._requires_grad
            if self._base is not None:
                self._check_view_write()
        self._adopt(op(source, *args, **kwargs))
        if recording and self._base is not None and self._data.flags.writeable:
            self._rebase_after_view_write()
        return self

    def _become_view_of(self, source: "Tensor", op: Any, output_index: int | None = None) -> None:
        """Record that this tensor's memory is a view of ``source``'s, made by ``op``.

        Views share the version counter of their base (writing through one changes the other), and
        remember the view ops, so an in-place change of the view can be replayed on the base's history.
        """
        self._version_counter = source._version_counter
        self._base = source._base if source._base is not None else source
        self._view_ops = source._view_ops + ((op, output_index),)

    def _check_view_write(self) -> None:
        """Writing through a view while recording: the base must accept it, and PyTorch refuses views
        that come from an op with several outputs (split, unbind, chunk)."""
        self._base._check_inplace()
        for op, output_index in self._view_ops:
            if output_index is not None:
                raise RuntimeError(f"Output {output_index} of {type(op).__name__}Backward0 is a view and is being "
                                   f"modified inplace. This view is the output of a function that returns multiple "
                                   f"views. Such functions do not allow the output views to be modified inplace. "
                                   f"You should replace the inplace operation by an out-of-place one (or .clone() "
                                   f"the piece first).")

    def _rebase_after_view_write(self) -> None:
        """After an in-place op on this view, give the base a history that includes the write
        (PyTorch's CopySlices): base_new = base_old with the view's positions replaced."""
        base = self._base
        positions = np.arange(base._data.size).reshape(base._data.shape)
        for op, output_index in self._view_ops:
            positions = op.forward(positions)
            if output_index is not None:
                positions = positions[output_index]
        flat = _ops.reshape(base, -1)
        written = _ops.index.IndexPut((positions.reshape(-1),))(flat, _ops.reshape(self, -1))
        base._adopt(_ops.reshape(written, base._data.shape))

    def _adopt(self, result: "Tensor") -> "Tensor":
        """Finish an in-place op: write ``result`` into this tensor's memory and take over its history."""
        self._check_inplace()
        if result._data.dtype != self._data.dtype and not np.can_cast(result._data.dtype, self._data.dtype,
                                                                       "same_kind"):
            raise RuntimeError(f"result type {result.dtype} can't be cast to the desired output type "
                               f"{self.dtype} of this in-place operation")
        if result._data.shape != self._data.shape:
            raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match the broadcast "
                               f"shape {list(result._data.shape)} of this in-place operation")
        if not self._data.flags.writeable:
            raise RuntimeError("unsupported operation: this tensor is a read-only expanded view (several "
                               "elements share one memory location); call .clone() before writing to it")
        if result._data is not self._data:
            np.copyto(self._data, result._data, casting="same_kind")
        self._bump_version()
        if result.grad_fn is not None:
            self.grad_fn = result.grad_fn
            self._output_nr = result._output_nr
            self._requires_grad = True
        return self

    # -- operators ------------------------------------------------------------------------------

    def __add__(self, other: Any) -> "Tensor":
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> "Tensor":
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> "Tensor":
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> "Tensor":
        return _ops.rsub(self, other)

    def __mul__(self, other: Any) -> "Tensor":
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> "Tensor":
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> "Tensor":
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return _shown_as(_ops.div(other, self), "MulBackward0")  # (PyTorch: other * reciprocal(self))

    def __floordiv__(self, other: Any) -> "Tensor":
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> "Tensor":
        return _ops.floor_divide(other, self)

    def __mod__(self, other: Any) -> "Tensor":
        return _ops.remainder(self, other)

    def __rmod__(self, other: Any) -> "Tensor":
        return _ops.remainder(other, self)

    def __pow__(self, other: Any) -> "Tensor":
        return _ops.pow(self, other)

    def __rpow__(self, other: Any) -> "Tensor":
        return _ops.pow(other, self)

    def __matmul__(self, other: Any) -> "Tensor":
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return _ops.matmul(other, self)

    def __neg__(self) -> "Tensor":
        return _ops.neg(self)

    def __pos__(self) -> "Tensor":
        return self

    def __abs__(self) -> "Tensor":
        return _ops.abs(self)

    def __invert__(self) -> "Tensor":
        return _ops.logical_not(self) if self._data.dtype == np.bool_ else _ops.bitwise_not(self)

    def __and__(self, other: Any) -> "Tensor":
        return _ops.logical_and(self, other)

    __rand__ = __and__

    def __or__(self, other: Any) -> "Tensor":
        return _ops.logical_or(self, other)

    __ror__ = __or__

    def __xor__(self, other: Any) -> "Tensor":
        return _ops.logical_xor(self, other)

    __rxor__ = __xor__

    def __iadd__(self, other: Any) -> "Tensor":
        return self._inplace(_ops.add, other)

    def __isub__(self, other: Any) -> "Tensor":
        return self._inplace(_ops.sub, other)

    def __imul__(self, other: Any) -> "Tensor":
        return self._inplace(_ops.mul, other)

    def __itruediv__(self, other: Any) -> "Tensor":
        return self._inplace(_ops.div, other)

    def __ipow__(self, other: Any) -> "Tensor":
        return self._inplace(_ops.pow, other)

    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return _ops.eq(self, other)

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return _ops.ne(self, other)

    def __lt__(self, other: Any) -> "Tensor":
        return _ops.lt(self, other)

    def __le__(self, other: Any) -> "Tensor":
        return _ops.le(self, other)

    def __gt__(self, other: Any) -> "Tensor":
        return _ops.gt(self, other)

    def __ge__(self, other: Any) -> "Tensor":
        return _ops.ge(self, other)

    def __getitem__(self, index: Any) -> "Tensor":
        return _ops.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        _ops.setitem(self, index, value)

    # -- methods: each is a one-line call into shenjing._ops ------------------------------------

    def clone(self) -> "Tensor":
        return _ops.clone(self)

    def contiguous(self) -> "Tensor":
        return self if self._data.flags.c_contiguous else _ops.clone(self)

    def add(self, other: Any, *, alpha: Any = 1) -> "Tensor":
        return _ops.add(self, other, alpha=alpha)

    def sub(self, other: Any, *, alpha: Any = 1) -> "Tensor":
        return _ops.sub(self, other, alpha=alpha)

    def mul(self, other: Any) -> "Tensor":
        return _ops.mul(self, other)

    def div(self, other: Any, *, rounding_mode: str | None = None) -> "Tensor":
        return _ops.div(self, other, rounding_mode=rounding_mode)

    def pow(self, exponent: Any) -> "Tensor":
        return _ops.pow(self, exponent)

    def matmul(self, other: "Tensor") -> "Tensor":
        return _ops.matmul(self, other)

    def mm(self, other: "Tensor") -> "Tensor":
        return _ops.mm(self, other)

    def bmm(self, other: "Tensor") -> "Tensor":
        return _ops.bmm(self, other)

    # -- matrices: triangles, diagonals, decompositions (shenjing._ops.matrix, shenjing._ops.decomposition)

    def tril(self, diagonal: int = 0) -> "Tensor":
        return _ops.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> "Tensor":
        return _ops.triu(self, diagonal)

    def tril_(self, diagonal: int = 0) -> "Tensor":
        return self._inplace(_ops.tril, diagonal)

    def triu_(self, diagonal: int = 0) -> "Tensor":
        return self._inplace(_ops.triu, diagonal)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> "Tensor":
        return _ops.diagonal(self, offset, dim1, dim2)

    def diag(self, diagonal: int = 0) -> "Tensor":
        return _ops.diag(self, diagonal)

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1) -> "Tensor":
        return _ops.diag_embed(self, offset, dim1, dim2)

    def diagflat(self, offset: int = 0) -> "Tensor":
        return _ops.diagflat(self, offset)

    def trace(self) -> "Tensor":
        return _ops.trace(self)

    def inverse(self) -> "Tensor":
        return _ops.inverse(self)

    def det(self) -> "Tensor":
        return _ops.det(self)

    def logdet(self) -> "Tensor":
        return _ops.logdet(self)

    def slogdet(self) -> tuple:
        return _ops.slogdet(self)

    def cholesky(self, upper: bool = False) -> "Tensor":
        return _ops.cholesky(self, upper)

    def cholesky_solve(self, input2: "Tensor", upper: bool = False) -> "Tensor":
        return _ops.cholesky_solve(self, input2, upper)

    def cholesky_inverse(self, upper: bool = False) -> "Tensor":
        return _ops.cholesky_inverse(self, upper)

    def qr(self, some: bool = True) -> tuple:
        return _ops.qr(self, some)

    def svd(self, some: bool = True, compute_uv: bool = True) -> tuple:
        return _ops.svd(self, some, compute_uv)

    def pinverse(self, rcond: float = 1e-15) -> "Tensor":
        return _ops.pinverse(self, rcond)

    def matrix_power(self, n: int) -> "Tensor":
        return _ops.matrix_power(self, n)

    def matrix_exp(self) -> "Tensor":
        return _ops.matrix_exp(self)

    # -- rearranging (shenjing._ops.arrange) ------------------------------------------------------

    def roll(self, shifts: Any, dims: Any = None) -> "Tensor":
        return _ops.roll(self, shifts, dims)

    def rot90(self, k: int = 1, dims: Any = (0, 1)) -> "Tensor":
        return _ops.rot90(self, k, dims)

    def fliplr(self) -> "Tensor":
        return _ops.fliplr(self)

    def flipud(self) -> "Tensor":
        return _ops.flipud(self)

    def repeat_interleave(self, repeats: Any = None, dim: int | None = None, *,
                          output_size: int | None = None) -> "Tensor":
        return _ops.repeat_interleave(self, repeats, dim, output_size=output_size)

    def tensor_split(self, indices_or_sections: Any, dim: int = 0) -> tuple:
        return _ops.tensor_split(self, indices_or_sections, dim)

    def hsplit(self, indices_or_sections: Any) -> tuple:
        return _ops.hsplit(self, indices_or_sections)

    def vsplit(self, indices_or_sections: Any) -> tuple:
        return _ops.vsplit(self, indices_or_sections)

    def dsplit(self, indices_or_sections: Any) -> tuple:
        return _ops.dsplit(self, indices_or_sections)

    def ravel(self) -> "Tensor":
        return _ops.ravel(self)

    def take(self, index: "Tensor") -> "Tensor":
        return _ops.take(self, index)

    def narrow_copy(self, dim: int, start: int, length: int) -> "Tensor":
        return _ops.narrow_copy(self, dim, start, length)

    def kron(self, other: "Tensor") -> "Tensor":
        return _ops.kron(self, other)

    def mv(self, other: "Tensor") -> "Tensor":
        return _ops.mv(self, other)

    def dot(self, other: "Tensor") -> "Tensor":
        return _ops.dot(self, other)

    def outer(self, other: "Tensor") -> "Tensor":
        return _ops.outer(self, other)

    def neg(self) -> "Tensor":
        return _ops.neg(self)

    def abs(self) -> "Tensor":
        return _ops.abs(self)

    def exp(self) -> "Tensor":
        return _ops.exp(self)

    def log(self) -> "Tensor":
        return _ops.log(self)

    def log1p(self) -> "Tensor":
        return _ops.log1p(self)

    def expm1(self) -> "Tensor":
        return _ops.expm1(self)

    def sqrt(self) -> "Tensor":
        return _ops.sqrt(self)

    def rsqrt(self) -> "Tensor":
        return _ops.rsqrt(self)

    def square(self) -> "Tensor":
        return _ops.square(self)

    def reciprocal(self) -> "Tensor":
        return _ops.reciprocal(self)

    def sin(self) -> "Tensor":
        return _ops.sin(self)

    def cos(self) -> "Tensor":
        return _ops.cos(self)

    def tanh(self) -> "Tensor":
        return _ops.tanh(self)

    def sigmoid(self) -> "Tensor":
        return _ops.sigmoid(self)

    def relu(self) -> "Tensor":
        return _ops.relu(self)

    def sign(self) -> "Tensor":
        return _ops.sign(self)

    def floor(self) -> "Tensor":
        return _ops.floor(self)

    def ceil(self) -> "Tensor":
        return _ops.ceil(self)

    def round(self) -> "Tensor":
        return _ops.round(self)

    def clamp(self, min: Any = None, max: Any = None) -> "Tensor":
        return _ops.clamp(self, min, max)

    clip = clamp

    def maximum(self, other: "Tensor") -> "Tensor":
        return _ops.maximum(self, other)

    def minimum(self, other: "Tensor") -> "Tensor":
        return _ops.minimum(self, other)

    def where(self, condition: "Tensor", other: Any) -> "Tensor":
        return _ops.where(condition, self, other)

    def lerp(self, end: "Tensor", weight: Any) -> "Tensor":
        return _ops.lerp(self, end, weight)

    def eq(self, other: Any) -> "Tensor":
        return _ops.eq(self, other)

    def ne(self, other: Any) -> "Tensor":
        return _ops.ne(self, other)

    def lt(self, other: Any) -> "Tensor":
        return _ops.lt(self, other)

    def le(self, other: Any) -> "Tensor":
        return _ops.le(self, other)

    def gt(self, other: Any) -> "Tensor":
        return _ops.gt(self, other)

    def ge(self, other: Any) -> "Tensor":
        return _ops.ge(self, other)

    def equal(self, other: "Tensor") -> bool:
        return _ops.equal(self, other)

    def allclose(self, other: "Tensor", rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        return _ops.allclose(self, other, rtol, atol, equal_nan)

    def isnan(self) -> "Tensor":
        return _ops.isnan(self)

    def isinf(self) -> "Tensor":
        return _ops.isinf(self)

    def isfinite(self) -> "Tensor":
        return _ops.isfinite(self)

    def logical_not(self) -> "Tensor":
        return _ops.logical_not(self)

    def sum(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> "Tensor":
        return _ops.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> "Tensor":
        return _ops.mean(self, dim, keepdim, dtype=dtype)

    def prod(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> "Tensor":
        return _ops.prod(self, dim, keepdim, dtype=dtype)

    def cumsum(self, dim: int, *, dtype: Any = None) -> "Tensor":
        return _ops.cumsum(self, dim, dtype=dtype)

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        return _ops.max(self, dim, keepdim)

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        return _ops.min(self, dim, keepdim)

    def amax(self, dim: Any = (), keepdim: bool = False) -> "Tensor":
        return _ops.amax(self, dim, keepdim)

    def amin(self, dim: Any = (), keepdim: bool = False) -> "Tensor":
        return _ops.amin(self, dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        return _ops.argmax(self, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        return _ops.argmin(self, dim, keepdim)

    def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: Any = None) -> "Tensor":
        return _ops.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,
            correction: Any = None) -> "Tensor":
        return _ops.std(self, dim, unbiased, keepdim, correction=correction)

    def logsumexp(self, dim: Any, keepdim: bool = False) -> "Tensor":
        return _ops.logsumexp(self, dim, keepdim)

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> "Tensor":
        return _ops.norm(self, p, dim, keepdim)

    def all(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return _ops.all(self, dim, keepdim)

    def any(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return _ops.any(self, dim, keepdim)

    def softmax(self, dim: int, dtype: Any = None) -> "Tensor":
        return _ops.softmax(self, dim, dtype=dtype)

    def log_softmax(self, dim: int, dtype: Any = None) -> "Tensor":
        return _ops.log_softmax(self, dim, dtype=dtype)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        return _ops.sort(self, dim, descending, stable=stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> "Tensor":
        return _ops.argsort(self, dim, descending, stable=stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        return _ops.topk(self, k, dim, largest, sorted)

    def reshape(self, *shape: Any) -> "Tensor":
        return _ops.reshape(self, *shape)

    def view(self, *shape: Any) -> "Tensor":
        return _ops.view(self, *shape)

    def view_as(self, other: "Tensor") -> "Tensor":
        return _ops.view(self, other.shape)

    def reshape_as(self, other: "Tensor") -> "Tensor":
        return _ops.reshape(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        return _ops.flatten(self, start_dim, end_dim)

    def unflatten(self, dim: int, sizes: Any) -> "Tensor":
        return _ops.unflatten(self, dim, sizes)

    def squeeze(self, dim: Any = None) -> "Tensor":
        return _ops.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> "Tensor":
        return _ops.unsqueeze(self, dim)

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        return _ops.transpose(self, dim0, dim1)

    swapaxes = transpose

    def permute(self, *dims: Any) -> "Tensor":
        return _ops.permute(self, *dims)

    def movedim(self, source: Any, destination: Any) -> "Tensor":
        return _ops.movedim(self, source, destination)

    def t(self) -> "Tensor":
        return _ops.t(self)

    @property
    def T(self) -> "Tensor":
        return _ops.permute(self, *range(self._data.ndim - 1, -1, -1))

    @property
    def mT(self) -> "Tensor":
        return _ops.transpose(self, -2, -1)

    def expand(self, *sizes: Any) -> "Tensor":
        return _ops.expand(self, *sizes)

    def expand_as(self, other: "Tensor") -> "Tensor":
        return _ops.expand(self, other.shape)

    def broadcast_to(self, shape: Any) -> "Tensor":
        return _ops.expand(self, shape)

    def repeat(self, *sizes: Any) -> "Tensor":
        return _ops.repeat(self, *sizes)

    def flip(self, dims: Any) -> "Tensor":
        return _ops.flip(self, dims)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple:
        return _ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        return _ops.chunk(self, chunks, dim)

    def unbind(self, dim: int = 0) -> tuple:
        return _ops.unbind(self, dim)

    def narrow(self, dim: int, start: int, length: int) -> "Tensor":
        return _ops.narrow(self, dim, start, length)

    def select(self, dim: int, index: int) -> "Tensor":
        return _ops.select(self, dim, index)

    def gather(self, dim: int, index: "Tensor") -> "Tensor":
        return _ops.gather(self, dim, index)

    def scatter(self, dim: int, index: "Tensor", src: Any = None, *, value: Any = None,
                reduce: str | None = None) -> "Tensor":
        return _ops.scatter(self, dim, index, src if src is not None else value, reduce=reduce)

    def scatter_add(self, dim: int, index: "Tensor", src: "Tensor") -> "Tensor":
        return _ops.scatter_add(self, dim, index, src)

    def index_select(self, dim: int, index: "Tensor") -> "Tensor":
        return _ops.index_select(self, dim, index)

    def index_add(self, dim: int, index: "Tensor", source: "Tensor", *, alpha: Any = 1) -> "Tensor":
        return _ops.index_add(self, dim, index, source, alpha=alpha)

    def masked_fill(self, mask: "Tensor", value: Any) -> "Tensor":
        return _ops.masked_fill(self, mask, value)

    def masked_select(self, mask: "Tensor") -> "Tensor":
        return _ops.masked_select(self, mask)

    def nonzero(self, *, as_tuple: bool = False) -> Any:
        return _ops.nonzero(self, as_tuple=as_tuple)

    def new_tensor(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return _ops.tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_zeros(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return _ops.zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return _ops.ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_full(self, size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return _ops.full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> "Tensor":
        return _ops.empty(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    # -- in-place methods -----------------------------------------------------------------------

    def add_(self, other: Any, *, alpha: Any = 1) -> "Tensor":
        return self._inplace(_ops.add, other, alpha=alpha)

    def sub_(self, other: Any, *, alpha: Any = 1) -> "Tensor":
        return self._inplace(_ops.sub, other, alpha=alpha)

    def mul_(self, other: Any) -> "Tensor":
        return self._inplace(_ops.mul, other)

    def div_(self, other: Any, *, rounding_mode: str | None = None) -> "Tensor":
        return self._inplace(_ops.div, other, rounding_mode=rounding_mode)

    def pow_(self, exponent: Any) -> "Tensor":
        return self._inplace(_ops.pow, exponent)

    def neg_(self) -> "Tensor":
        return self._inplace(_ops.neg)

    def abs_(self) -> "Tensor":
        return self._inplace(_ops.abs)

    def exp_(self) -> "Tensor":
        return self._inplace(_ops.exp)

    def log_(self) -> "Tensor":
        return self._inplace(_ops.log)

    def sqrt_(self) -> "Tensor":
        return self._inplace(_ops.sqrt)

    def sigmoid_(self) -> "Tensor":
        return self._inplace(_ops.sigmoid)

    def tanh_(self) -> "Tensor":
        return self._inplace(_ops.tanh)

    def relu_(self) -> "Tensor":
        return self._inplace(_ops.relu)

    def clamp_(self, min: Any = None, max: Any = None) -> "Tensor":
        return self._inplace(_ops.clamp, min, max)

    clip_ = clamp_

    def masked_fill_(self, mask: "Tensor", value: Any) -> "Tensor":
        return self._inplace(_ops.masked_fill, mask, value)

    def scatter_(self, dim: int, index: "Tensor", src: Any = None, *, value: Any = None,
                 reduce: str | None = None) -> "Tensor":
        return self._inplace(Tensor.scatter, dim, index, src, value=value, reduce=reduce)

    def scatter_add_(self, dim: int, index: "Tensor", src: "Tensor") -> "Tensor":
        return self._inplace(_ops.scatter_add, dim, index, src)

    def index_add_(self, dim: int, index: "Tensor", source: "Tensor", *, alpha: Any = 1) -> "Tensor":
        return self._inplace(_ops.index_add, dim, index, source, alpha=alpha)

    def copy_(self, src: Any) -> "Tensor":
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor."""
        source = src if isinstance(src, Tensor) else _ops.tensor(src)
        return self._inplace(_overwrite, _ops.expand(_ops.cast(source, self.dtype), self.shape))

    def fill_(self, value: Any) -> "Tensor":
        if isinstance(value, Tensor) and value.requires_grad:
            return self.copy_(value)
        return self._inplace(_overwrite, value.item() if isinstance(value, Tensor) else value)

    def zero_(self) -> "Tensor":
        return self.fill_(0)

    # In-place random fills: PyTorch's CPU kernels' numbers (shenjing._random_draws), in place.
    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> "Tensor":
        from shenjing import _random, _random_draws

        values = _random_draws.uniform(_random.generator_or_default(generator), self._data.shape,
                                       self._data.dtype, a, b)
        return self._inplace(_overwrite, Tensor._make(values))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> "Tensor":
        from shenjing import _random, _random_draws

        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        values = _random_draws.normal(_random.generator_or_default(generator), self._data.shape,
                                      self._data.dtype, mean, std)
        return self._inplace(_overwrite, Tensor._make(values))

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> "Tensor":
        from shenjing import _random, _random_draws

        source = _random.generator_or_default(generator)
        if isinstance(p, Tensor):
            mask = _random_draws.bernoulli_tensor(source, np.broadcast_to(p._data, self._data.shape))
        else:
            if not 0 <= p <= 1:
                raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
            mask = _random_draws.bernoulli_scalar(source, self._data.shape, p)
        return self._inplace(_overwrite, Tensor._make(mask.astype(self._data.dtype)))

    def exponential_(self, lambd: float = 1.0, *, generator: Any = None) -> "Tensor":
        from shenjing import _random, _random_draws

        if not lambd > 0:
            raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
        values = _random_draws.exponential(_random.generator_or_default(generator), self._data.shape,
                                           self._data.dtype, lambd)
        return self._inplace(_overwrite, Tensor._make(values))

    def random_(self, low: int = 0, high: int | None = None, *, generator: Any = None) -> "Tensor":
        """Uniform integers in [low, high); ``random_(n)`` means [0, n); ``random_()`` PyTorch's full range."""
        from shenjing import _random, _random_draws

        source = _random.generator_or_default(generator)
        if high is None and low == 0:
            values = _random_draws.full_range_integers(source, self._data.shape, self._data.dtype)
            return self._inplace(_overwrite, Tensor._make(values))
        if high is None:
            low, high = 0, low
        values = _ops.randint(low, high, tuple(self.shape), dtype=self.dtype, generator=generator)
        return self._inplace(_overwrite, values)


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor",
               "int32": "IntTensor", "bool": "BoolTensor", "uint8": "ByteTensor", "float16": "HalfTensor"}


def _overwrite(old: Tensor, value: Any) -> Tensor:
    """``value`` everywhere: the gradient reaching ``old`` is zero, as for PyTorch's fill_ and copy_."""
    return _ops.where(Tensor._make(np.ones(old._data.shape, dtype=bool)), value, old)


def _rebuild_tensor(array: np.ndarray, requires_grad: bool) -> Tensor:
    tensor = Tensor._make(array)
    tensor._requires_grad = requires_grad
    return tensor


# The ops and autograd are built on Tensor, so they are imported after it is defined.
from shenjing import _ops  # noqa: E402
from shenjing.autograd.grad_mode import _GradState  # noqa: E402
from shenjing import autograd as _autograd  # noqa: E402
from shenjing.autograd.node import shown_as as _shown_as  # noqa: E402


# -- the maths of shenjing._ops.special / binary / statistics / scan as methods ----------------------------
# ``x.erf()`` is ``shenjing.erf(x)``; ``x.erf_()`` writes ``shenjing.erf(x)`` into ``x`` (``Tensor._inplace``).

def _method(name: str, function_name: str | None = None) -> Callable:
    function = getattr(_ops, function_name or name)

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return function(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``shenjing.{function.__name__}(self, ...)``."
    return method


def _inplace_method(name: str, function_name: str | None = None) -> Callable:
    function = getattr(_ops, function_name or name[:-1])

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return self._inplace(function, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place ``shenjing.{function.__name__}``: writes the result into this tensor."
    return method


_MATH_METHODS = (
    # unary (shenjing._ops.special and elementwise)
    "absolute", "acos", "arccos", "asin", "arcsin", "atan", "arctan", "cosh", "sinh", "tan", "asinh", "arcsinh",
    "acosh", "arccosh", "atanh", "arctanh", "erf", "erfc", "erfinv", "exp2", "log2", "log10", "lgamma",
    "digamma", "mvlgamma", "i0", "sinc", "logit", "trunc", "fix", "frac", "deg2rad", "rad2deg", "nan_to_num",
    "signbit", "positive", "negative", "isposinf", "isneginf", "isreal", "frexp",
    # binary (shenjing._ops.binary, elementwise and compare)
    "atan2", "arctan2", "hypot", "logaddexp", "logaddexp2", "copysign", "fmod", "remainder", "heaviside",
    "xlogy", "fmax", "fmin", "float_power", "gcd", "lcm", "ldexp", "nextafter", "addcmul", "addcdiv", "addmm",
    "addmv", "addbmm", "baddbmm", "addr", "clamp_min", "clamp_max", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "inner", "divide", "true_divide", "multiply",
    "subtract", "floor_divide", "greater", "greater_equal", "less", "less_equal", "not_equal", "logical_and",
    "logical_or", "logical_xor", "isclose",
    # reductions, statistics and scans (shenjing._ops.statistics, scan, reduce)
    "median", "nanmedian", "mode", "kthvalue", "quantile", "nanquantile", "nanmean", "nansum", "aminmax",
    "histc", "histogram", "bincount", "unique", "unique_consecutive", "cov", "corrcoef", "count_nonzero",
    "cumprod", "cummax", "cummin", "logcumsumexp", "diff", "msort", "renorm", "dist", "igamma", "igammac")

_MATH_INPLACE_METHODS = (
    "absolute_", "acos_", "arccos_", "asin_", "arcsin_", "atan_", "arctan_", "cos_", "sin_", "cosh_", "sinh_",
    "tan_", "asinh_", "arcsinh_", "acosh_", "arccosh_", "atanh_", "arctanh_", "erf_", "erfc_", "erfinv_",
    "exp2_", "expm1_", "log2_", "log10_", "log1p_", "lgamma_", "digamma_", "mvlgamma_", "i0_", "sinc_",
    "logit_", "trunc_", "fix_", "frac_", "deg2rad_", "rad2deg_", "nan_to_num_", "negative_", "reciprocal_",
    "rsqrt_", "square_", "floor_", "ceil_", "round_", "sign_", "atan2_", "arctan2_", "hypot_", "copysign_",
    "fmod_", "remainder_", "heaviside_", "xlogy_", "float_power_", "gcd_", "lcm_", "ldexp_", "nextafter_",
    "lerp_", "addcmul_", "addcdiv_", "addmm_", "addmv_", "addbmm_", "baddbmm_", "addr_", "clamp_min_",
    "clamp_max_", "bitwise_and_", "bitwise_or_", "bitwise_xor_", "bitwise_not_", "bitwise_left_shift_",
    "bitwise_right_shift_", "divide_", "true_divide_", "multiply_", "subtract_", "floor_divide_", "eq_", "ne_",
    "lt_", "le_", "gt_", "ge_", "greater_", "greater_equal_", "less_", "less_equal_", "not_equal_",
    "logical_and_", "logical_or_", "logical_xor_", "logical_not_", "cumsum_", "cumprod_", "renorm_", "igamma_",
    "igammac_")

for _name in _MATH_METHODS:
    setattr(Tensor, _name, _method(_name))
for _name in _MATH_INPLACE_METHODS:
    setattr(Tensor, _name, _inplace_method(_name))
del _name


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    """``shenjing.polygamma(n, self)``."""
    return _ops.polygamma(n, self)


def _polygamma_inplace(self: Tensor, n: int) -> Tensor:
    """In-place ``shenjing.polygamma(n, self)``."""
    return self._inplace(lambda x: _ops.polygamma(n, x))


Tensor.polygamma, Tensor.polygamma_ = _polygamma_method, _polygamma_inplace


# -- more of torch.Tensor's methods (issue 18 breadth): shenjing._tensor_breadth -------------------------
from shenjing._tensor_breadth import METHODS as _BREADTH_METHODS, PROPERTIES as _BREADTH_PROPERTIES  # noqa: E402

for _name, _function in {**_BREADTH_METHODS, **_BREADTH_PROPERTIES}.items():
    setattr(Tensor, _name, _function)
del _name, _function
