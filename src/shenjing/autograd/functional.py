"""``torch.autograd.functional``: derivatives of a function of tensors, computed with reverse mode.

    jacobian(f, x)[i..., j...] = d f(x)[i...] / d x[j...]       (one backward pass per output element)
    hessian(f, x) = jacobian(jacobian(f))(x) for a scalar f     (double backward)
    vjp(f, x, v) = (f(x), v^T J)      jvp(f, x, v) = (f(x), J v)      (J v from two reverse passes)
    vhp(f, x, v) = (f(x), v^T H)      hvp(f, x, v) = (f(x), H v)

``inputs`` may be one tensor or a tuple; the results follow the same structure as PyTorch's (a tuple
where the inputs or outputs are tuples). ``create_graph=True`` keeps the results differentiable.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd import grad as _grad
from shenjing.autograd.grad_mode import enable_grad

__all__ = ["jacobian", "hessian", "vjp", "jvp", "vhp", "hvp"]


def _as_tuple(value: Any, name: str) -> tuple[bool, tuple]:
    is_tuple = isinstance(value, (tuple, list))
    items = tuple(value) if is_tuple else (value,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            raise TypeError(f"The {name} given to the function must be either a Tensor or a tuple of Tensors but "
                            f"the value at index {i} has type {type(item).__name__}.")
    return is_tuple, items


def _leaves(inputs: tuple, create_graph: bool) -> tuple:
    return tuple(x if create_graph and x.requires_grad else x.detach().requires_grad_() for x in inputs)


def _grads(outputs: tuple, inputs: tuple, grad_outputs: tuple, create_graph: bool) -> tuple:
    """d(sum_k <outputs_k, grad_outputs_k>)/d inputs, zeros where an input is not used."""
    pairs = [(y, g) for y, g in zip(outputs, grad_outputs) if y.requires_grad]
    if not pairs:
        return tuple(Tensor._make(np.zeros(x._data.shape, x._data.dtype)) for x in inputs)
    found = _grad([y for y, _ in pairs], inputs, [g for _, g in pairs], retain_graph=True,
                  create_graph=create_graph, allow_unused=True)
    return tuple(Tensor._make(np.zeros(x._data.shape, x._data.dtype)) if g is None else g
                 for g, x in zip(found, inputs))


def _shape_back(is_tuple: bool, items: tuple) -> Any:
    return items if is_tuple else items[0]


def _vectors(v: Any, like: tuple, message: str) -> tuple:
    """``v`` as a tuple; when None, ones shaped like ``like``, allowed only where each has one element."""
    if v is not None:
        return _as_tuple(v, "v")[1]
    if any(t.numel() != 1 for t in like):
        raise RuntimeError(message)
    return tuple(Tensor._make(np.ones(t._data.shape, t._data.dtype)) for t in like)


def _kept(create_graph: bool, tensors: tuple) -> tuple:
    """The results as returned: differentiable with ``create_graph``, else detached."""
    return tensors if create_graph else tuple(t.detach() for t in tensors)


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), v^T J): the vector-Jacobian product, one reverse pass. ``v`` may be omitted for a scalar
    output."""
    inputs_tuple, xs = _as_tuple(inputs, "inputs")
    with enable_grad():
        xs = _leaves(xs, create_graph)
        outputs = func(*xs)
        outputs_tuple, ys = _as_tuple(outputs, "outputs of the user-provided function")
        vs = _vectors(v, ys, "The vector v can only be None if the user-provided function returns a single "
                             "Tensor with a single element.")
        result = _grads(ys, xs, vs, create_graph)
    return _shape_back(outputs_tuple, _kept(create_graph, ys)), _shape_back(inputs_tuple, _kept(create_graph, result))


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), J v): the Jacobian-vector product, by the double-backward trick (J v = d/du (u^T J v)
    with u^T J from a first reverse pass that is linear in u)."""
    inputs_tuple, xs = _as_tuple(inputs, "inputs")
    with enable_grad():
        xs = _leaves(xs, create_graph)
        outputs = func(*xs)
        outputs_tuple, ys = _as_tuple(outputs, "outputs of the user-provided function")
        vs = _vectors(v, xs, "The vector v can only be None if the input to the user-provided function is a "
                             "single Tensor with a single element.")
        us = tuple(Tensor._make(np.zeros(y._data.shape, y._data.dtype)).requires_grad_() for y in ys)
        ut_j = _grads(ys, xs, us, True)
        result = _grads(ut_j, us, vs, create_graph)
    return _shape_back(outputs_tuple, _kept(create_graph, ys)), _shape_back(outputs_tuple, _kept(create_graph, result))


def jacobian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian d func(inputs) / d inputs, shape output.shape + input.shape (nested tuples for tuples of
    outputs and inputs, as in PyTorch)."""
    inputs_tuple, xs = _as_tuple(inputs, "inputs")
    with enable_grad():
        xs = _leaves(xs, create_graph)
        outputs = func(*xs)
        outputs_tuple, ys = _as_tuple(outputs, "outputs of the user-provided function")
        blocks = []
        for y in ys:
            rows = [[] for _ in xs]
            for k in range(y.numel()):
                seed = np.zeros(y._data.size, y._data.dtype)
                seed[k] = 1
                grads = _grads((y,), xs, (Tensor._make(seed.reshape(y._data.shape)),), create_graph)
                for i, g in enumerate(grads):
                    rows[i].append(g if create_graph else g.detach())
            per_input = []
            for i, x in enumerate(xs):
                if rows[i]:
                    from shenjing._ops.shape import stack

                    per_input.append(stack(rows[i], 0).reshape(*y._data.shape, *x._data.shape))
                else:
                    per_input.append(Tensor._make(np.zeros(y._data.shape + x._data.shape, x._data.dtype)))
            blocks.append(_shape_back(inputs_tuple, tuple(per_input)))
    return _shape_back(outputs_tuple, tuple(blocks))


def hessian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar function: shape input.shape + input.shape (nested tuples for several inputs)."""
    inputs_tuple, xs = _as_tuple(inputs, "inputs")

    def gradient(*args: Tensor) -> Any:
        out = func(*args)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor with a single element")
        found = _grads((out,), args, (Tensor._make(np.ones(out._data.shape, out._data.dtype)),), True)
        return _shape_back(inputs_tuple, found)

    return jacobian(gradient, inputs if inputs_tuple else xs[0], create_graph=create_graph)


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), v^T H) for a scalar function."""
    inputs_tuple, xs = _as_tuple(inputs, "inputs")
    vs = _as_tuple(v, "v")[1] if v is not None else tuple(Tensor._make(np.ones(x._data.shape, x._data.dtype))
                                                          for x in xs)
    with enable_grad():
        xs = _leaves(xs, create_graph)
        out = func(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hvp should contain a single element")
        first = _grads((out,), xs, (Tensor._make(np.ones(out._data.shape, out._data.dtype)),), True)
        result = _grads(first, xs, vs, create_graph)
    return _kept(create_graph, (out,))[0], _shape_back(inputs_tuple, _kept(create_graph, result))


def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False) -> tuple:
    """(func(inputs), H v) for a scalar function (H is symmetric, so H v = (v^T H)^T)."""
    return vhp(func, inputs, v, create_graph, strict)
