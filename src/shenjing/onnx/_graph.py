"""The ONNX graph being built from a trace: value names, constants, nodes, and folding of constant nodes.

A traced tensor is known by its array (``tensor._data``): each op's outputs get fresh value names, an
in-place write re-binds its tensor's array to the new value. A tensor the trace never produced is a model
input, a parameter or buffer (an initializer named by its ``state_dict`` key, as ``torch.onnx.export``
names them) or a constant made inside ``forward`` (stored as an initializer ``const_N``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from shenjing._tensor import Tensor

__all__ = ["Graph", "ExportError"]


class ExportError(RuntimeError):
    """The model uses something that cannot be written as ONNX (the message names the op and module)."""


def _fold_reshape(x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    target = [x.shape[i] if s == 0 else int(s) for i, s in enumerate(shape)]
    return x.reshape(target)


_FOLDERS: dict[str, Callable[..., np.ndarray]] = {
    "Transpose": lambda x, perm=None: np.transpose(x, perm),
    "Reshape": _fold_reshape,
    "Unsqueeze": lambda x, axes: np.expand_dims(x, tuple(int(a) for a in axes)),
    "Squeeze": lambda x, axes: np.squeeze(x, tuple(int(a) for a in axes)),
    "Concat": lambda *xs, axis: np.concatenate(xs, axis=axis),
    "Gather": lambda x, i, axis=0: np.take(x, i, axis=axis),
    "Identity": lambda x: x,
    "Add": lambda a, b: a + b,
    "Mul": lambda a, b: a * b,
}


class Graph:
    """Nodes, initializers and the names of the values of one export."""

    def __init__(self, opset: int, fold_constants: bool, parameter_names: dict[int, str],
                 parameters_as_inputs: bool) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.opset = opset
        self.fold_constants = fold_constants
        self.parameter_names = parameter_names  # id(array) -> state_dict key
        self.parameters_as_inputs = parameters_as_inputs
        self.names: dict[int, str] = {}  # id(array) -> value name
        self.constants: dict[str, np.ndarray] = {}  # initializers (and parameters), by name
        self.parameter_inputs: list[tuple[str, np.ndarray]] = []
        self.nodes: list[Any] = []
        self.module_path = ""
        self.dynamic = False  # dynamic axes asked for: shapes that keep a dim copy it (Reshape's 0)
        self._counter = 0

    # -- names ------------------------------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}_{self._counter}"

    def bind(self, tensor: Tensor, name: str) -> None:
        self.names[id(tensor._data)] = name

    def knows(self, array: np.ndarray) -> bool:
        return id(array) in self.names

    def value(self, x: Any, dtype: Any = None) -> str:
        """The name of ``x``: a traced tensor's value, or a parameter, buffer or constant (made here);
        a Python number becomes a constant of ``dtype`` (the op's dtype, as PyTorch promotes scalars)."""
        if x is None:
            return ""
        if isinstance(x, Tensor):
            return self.array_value(x._data)
        if isinstance(x, np.ndarray):
            return self.array_value(x)
        return self.constant(np.asarray(x, dtype=dtype if dtype is not None else np.asarray(x).dtype))

    def array_value(self, array: np.ndarray) -> str:
        key = id(array)
        if key in self.names:
            return self.names[key]
        if key in self.parameter_names:
            name = self.parameter_names[key]
            if self.parameters_as_inputs:
                self.parameter_inputs.append((name, array))
            else:
                self.constants[name] = np.ascontiguousarray(array)
        else:
            name = self.fresh("const")
            self.constants[name] = np.array(array)
        self.names[key] = name
        return name

    def constant(self, array: Any, hint: str = "const") -> str:
        name = self.fresh(hint)
        self.constants[name] = np.array(array)
        return name

    def ints(self, values: Any) -> str:
        """An int64 1-d constant (shapes, axes, pads)."""
        return self.constant(np.asarray(list(values), dtype=np.int64), "ints")

    def dtype_of(self, x: Any) -> np.dtype:
        return x._data.dtype if isinstance(x, Tensor) else np.asarray(x).dtype

    # -- nodes ------------------------------------------------------------------------------------

    def node(self, op_type: str, inputs: list[str], outputs: int | list[str] = 1, **attributes: Any) -> Any:
        """Add a node; returns its output name (or the list of names when it has several)."""
        names = outputs if isinstance(outputs, list) else [self.fresh(op_type) for _ in range(outputs)]
        folder = _FOLDERS.get(op_type)
        if (self.fold_constants and folder is not None and len(names) == 1 and inputs
                and all(name in self.constants for name in inputs)):
            self.constants[names[0]] = np.asarray(folder(*[self.constants[n] for n in inputs], **attributes))
            return names[0]
        path = self.module_path.replace(".", "/")
        self.nodes.append(self.helper.make_node(op_type, inputs, names, name=f"/{path}/{op_type}_{self._counter}",
                                                **attributes))
        return names[0] if len(names) == 1 and not isinstance(outputs, list) else names

    def reduce(self, op_type: str, x: str, axes: Any, keepdims: bool) -> str:
        """``ReduceSum``/``ReduceMean``/... over ``axes`` (None: all): axes are an input from opset 18 (13 for
        ReduceSum), an attribute before."""
        axes = None if axes is None else [int(a) for a in axes]
        as_input = self.opset >= 18 or op_type == "ReduceSum"
        if axes is None:
            return self.node(op_type, [x], keepdims=int(keepdims))
        if as_input:
            return self.node(op_type, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.node(op_type, [x], axes=axes, keepdims=int(keepdims))
