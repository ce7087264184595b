"""Check analytical gradients against central differences: (f(x + eps) - f(x - eps)) / 2 eps.

Use float64 inputs: in float32 the differences are dominated by rounding.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["gradcheck", "gradgradcheck"]


class GradcheckError(RuntimeError):
    """The analytical and numerical Jacobians disagree."""


def _as_tuple(value: Any) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _outputs(fn: Callable, inputs: Sequence[Any]) -> list:
    from shenjing._tensor import Tensor

    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor) and o._data.dtype.kind == "f"]


def _numerical_jacobian(fn: Callable, inputs: Sequence[Any], index: int, eps: float) -> list[np.ndarray]:
    """One (input numel x output numel) matrix per output, by central differences."""
    x = inputs[index]._data
    flat = x.reshape(-1)
    columns: list[list[np.ndarray]] = []
    for i in range(flat.size):
        saved = flat[i].copy()
        flat[i] = saved + eps
        plus = [o._data.astype(np.float64).reshape(-1).copy() for o in _outputs(fn, inputs)]
        flat[i] = saved - eps
        minus = [o._data.astype(np.float64).reshape(-1).copy() for o in _outputs(fn, inputs)]
        flat[i] = saved
        columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
    if not columns:
        return [np.zeros((0, o._data.size)) for o in _outputs(fn, inputs)]
    return [np.stack([c[k] for c in columns]) for k in range(len(columns[0]))]


def _analytical_jacobian(fn: Callable, inputs: Sequence[Any], index: int) -> list[np.ndarray]:
    from shenjing._tensor import Tensor
    from shenjing.autograd import grad

    outputs = _outputs(fn, inputs)
    target = inputs[index]
    jacobians = []
    for out in outputs:
        matrix = np.zeros((target._data.size, out._data.size))
        for j in range(out._data.size):
            seed = np.zeros(out._data.size, dtype=out._data.dtype)
            seed[j] = 1
            (g,) = grad([out], [target], [Tensor._make(seed.reshape(out._data.shape))], retain_graph=True,
                        allow_unused=True)
            if g is not None:
                matrix[:, j] = g._data.reshape(-1)
        jacobians.append(matrix)
    return jacobians


def gradcheck(fn: Callable, inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """True if ``fn``'s backward agrees with central differences at ``inputs`` (those requiring grad).

    >>> import shenjing
    >>> x = shenjing.randn(3, dtype=shenjing.float64, requires_grad=True)
    >>> gradcheck(shenjing.sigmoid, (x,))
    True
    """
    from shenjing._tensor import Tensor

    inputs = _as_tuple(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i in checked:
        if inputs[i]._data.dtype != np.float64:
            message = (f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 inputs "
                       f"(central differences are too imprecise in lower precision)")
            if raise_exception:
                raise GradcheckError(message)
            return False
    for i in checked:
        numerical = _numerical_jacobian(fn, inputs, i, eps)
        analytical = _analytical_jacobian(fn, inputs, i)
        for k, (a, n) in enumerate(zip(analytical, numerical)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                worst = np.unravel_index(np.argmax(np.abs(a - n)), a.shape) if a.size else (0, 0)
                message = (f"Jacobian mismatch for output {k} with respect to input {i}:\n"
                           f"numerical:\n{n}\nanalytical:\n{a}\n"
                           f"largest difference at (input element {worst[0]}, output element {worst[1]})")
                if raise_exception:
                    raise GradcheckError(message)
                return False
    return True


def gradgradcheck(fn: Callable, inputs: Any, grad_outputs: Any = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) -> d(v . fn(inputs))/d(inputs)."""
    from shenjing._creation import randn
    from shenjing.autograd import grad

    inputs = _as_tuple(inputs)
    outputs = _outputs(fn, inputs)
    if grad_outputs is None:
        grad_outputs = [randn(o.shape, dtype=o.dtype, requires_grad=True) for o in outputs]
    grad_outputs = list(_as_tuple(grad_outputs))
    differentiable = [x for x in inputs if getattr(x, "requires_grad", False)]
    count = len(inputs)

    def first_derivatives(*args: Any) -> tuple:
        xs, vs = args[:count], args[count:]
        outs = _outputs(fn, xs)
        wanted = [x for x in xs if getattr(x, "requires_grad", False)]
        grads = grad(outs, wanted, list(vs), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    if not differentiable:
        return True
    return gradcheck(first_derivatives, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
