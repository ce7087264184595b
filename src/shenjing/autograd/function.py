"""User-defined differentiable operations in PyTorch's form.

>>> import shenjing
>>> class Cube(shenjing.autograd.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x ** 3
...     @staticmethod
...     def backward(ctx, grad_output):
...         (x,) = ctx.saved_tensors
...         return grad_output * 3 * x ** 2
>>> x = shenjing.tensor(2.0, requires_grad=True)
>>> Cube.apply(x).backward()
>>> x.grad
tensor(12.)
"""

from __future__ import annotations

from typing import Any

from shenjing.autograd.grad_mode import _GradState, no_grad
from shenjing.autograd.node import Node

__all__ = ["Function", "FunctionCtx"]


class Function(Node):
    """Subclass with ``@staticmethod forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)``;
    call ``YourFunction.apply(*args)``. ``forward`` runs without recording; ``backward`` returns one
    gradient per ``forward`` argument (``None`` for non-tensors or inputs that need none)."""

    def __init__(self) -> None:
        self._saved = ()
        self._non_differentiable: tuple = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors: Any) -> None:
        self._saved = tensors

    def mark_non_differentiable(self, *tensors: Any) -> None:
        self._non_differentiable = tensors

    def mark_dirty(self, *tensors: Any) -> None:
        """Accepted for compatibility; in-place outputs are handled like any other output here."""

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("subclasses of Function must implement a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError("subclasses of Function must implement a static backward(ctx, ...)")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        from shenjing._tensor import Tensor

        ctx = cls()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            result = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(result, tuple)
        results = (result,) if single else result
        outputs = []
        for value in results:
            if isinstance(value, Tensor):
                shared = any(value is a for a in args) or value.grad_fn is not None or value.requires_grad
                value = value.detach() if shared else value
            outputs.append(value)
        tensors = [v for v in outputs if isinstance(v, Tensor)]
        records = _GradState.enabled and any(isinstance(a, Tensor) and a.requires_grad for a in args)
        if records:
            differentiable = [t for t in tensors if t._data.dtype.kind == "f"
                              and not any(t is n for n in ctx._non_differentiable)]
            ctx._output_shapes = [(t._data.shape, t._data.dtype) for t in differentiable]
            ctx._record(args, differentiable, ctx._saved)
        else:
            ctx._saved = None
        return outputs[0] if single else tuple(outputs)

    def _call_backward(self, grads: tuple) -> tuple:
        if self.materialize_grads:
            from shenjing._creation import zeros

            grads = tuple(g if g is not None else zeros(shape, dtype=str(dtype))
                          for g, (shape, dtype) in zip(grads, self._output_shapes))
        result = type(self).backward(self, *grads)
        result = result if isinstance(result, tuple) else (result,)
        # backward may return extra Nones for non-tensor arguments of forward
        return tuple(result[:len(self._edges)]) if len(result) >= len(self._edges) else result

    def name(self) -> str:
        return f"{type(self).__name__}Backward"


FunctionCtx = Function
