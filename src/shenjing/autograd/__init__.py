"""Reverse-mode automatic differentiation: ``backward``, ``grad``, ``Function``, ``gradcheck``,
grad-mode switches and anomaly detection."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from shenjing.autograd.engine import run_backward
from shenjing.autograd.function import Function, FunctionCtx
from shenjing.autograd.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from shenjing.autograd.gradcheck import gradcheck, gradgradcheck
from shenjing.autograd.node import AccumulateGrad, Node

__all__ = ["backward", "grad", "Function", "FunctionCtx", "gradcheck", "gradgradcheck", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode", "detect_anomaly",
           "set_detect_anomaly", "is_anomaly_enabled", "Node", "AccumulateGrad", "Variable", "functional"]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _make_output_grads(outputs: list, grad_outputs: list) -> list:
    """The gradients to start from: given ones, or 1 for scalar outputs (else explain what to pass)."""
    if grad_outputs and len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one gradient per output: got {len(grad_outputs)} gradients for "
                           f"{len(outputs)} outputs")
    result = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"backward: output {i} is a {type(out).__name__}, not a Tensor")
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn "
                               f"(did you set requires_grad=True on the inputs, or compute it under no_grad?)")
        given = grad_outputs[i] if grad_outputs else None
        if given is None:
            if out._data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; this output has "
                                   f"shape {list(out.shape)}. Pass gradient=<tensor of that shape> (e.g. "
                                   f"shenjing.ones_like(out)), or reduce it first, e.g. out.sum().backward()")
            given = Tensor._make(np.ones(out._data.shape, dtype=out._data.dtype))
        elif not isinstance(given, Tensor):
            given = Tensor._make(np.asarray(given, dtype=out._data.dtype))
        if given._data.shape != out._data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {list(given.shape)} and "
                               f"output[{i}] has a shape of {list(out.shape)}.")
        result.append(given)
    return result


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None) -> None:
    """Accumulate the gradients of ``tensors`` with respect to the graph's leaves into their ``.grad``."""
    outputs = _as_list(tensors)
    grads = _make_output_grads(outputs, _as_list(grad_tensors))
    retain = create_graph if retain_graph is None else retain_graph
    run_backward(outputs, grads, retain, create_graph, inputs=_as_list(inputs) or None, accumulate=True)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned instead of stored in ``.grad``.

    With ``create_graph=True`` the result is itself differentiable (higher-order derivatives).

    >>> import shenjing
    >>> x = shenjing.tensor(2.0, requires_grad=True)
    >>> (dy,) = grad(x ** 3, x, create_graph=True)
    >>> (d2y,) = grad(dy, x)
    >>> dy.item(), d2y.item()
    (12.0, 12.0)
    """
    outputs = _as_list(outputs)
    inputs_list = _as_list(inputs)
    for i, x in enumerate(inputs_list):
        if not getattr(x, "requires_grad", False):
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require grad")
    grads = _make_output_grads(outputs, _as_list(grad_outputs))
    retain = create_graph if retain_graph is None else retain_graph
    results = run_backward(outputs, grads, retain, create_graph, inputs=inputs_list, accumulate=False)
    for i, value in enumerate(results):
        if value is None:
            if materialize_grads:
                from shenjing._creation import zeros_like

                results[i] = zeros_like(inputs_list[i])
            elif not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears to not have been used "
                                   f"in the graph. Set allow_unused=True if this is the desired behavior.")
    return tuple(results)


from shenjing._legacy import Variable  # noqa: E402  (PyTorch < 0.4's name; still accepted)
from shenjing.autograd import functional  # noqa: E402,F401
