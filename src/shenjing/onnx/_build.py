"""From a model and its example inputs to an ``onnx.ModelProto``: trace, convert each step, name the graph's
inputs and outputs, keep the initializers the nodes use."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

import shenjing
from shenjing._tensor import Tensor
from shenjing.onnx import _convert_layers  # noqa: F401  (registers the layer converters)
from shenjing.onnx._convert_basic import CONVERTERS
from shenjing.onnx._graph import ExportError, Graph
from shenjing.onnx._trace import Step, arrays_of, trace

__all__ = ["build_model"]


def _default_names(count: int, stem: str) -> list[str]:
    return [stem] if count == 1 else [f"{stem}_{i}" for i in range(count)]


def _axes_by_name(dynamic_axes: Mapping | None, names: set[str]) -> dict[str, dict[int, str]]:
    """``dynamic_axes`` with every entry as ``{axis: dim name}``; names must be inputs or outputs."""
    result: dict[str, dict[int, str]] = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in names:
            raise ValueError(f"dynamic_axes names '{name}', which is neither an input nor an output name "
                             f"(those are {', '.join(sorted(names))})")
        if isinstance(axes, Mapping):
            result[name] = {int(axis): str(label) for axis, label in axes.items()}
        else:
            result[name] = {int(axis): f"{name}_dynamic_axes_{k + 1}" for k, axis in enumerate(axes)}
    return result


def _value_info(helper: Any, name: str, array: np.ndarray, axes: dict[int, str]) -> Any:
    ndim = array.ndim
    dims = [axes.get(i, axes.get(i - ndim, int(n))) for i, n in enumerate(array.shape)]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), dims)


def _op_name(step: Step) -> str:
    return step.op.__name__ if step.kind == "function" else step.kind


def _convert(graph: Graph, step: Step) -> None:
    graph.module_path = step.module_path
    if step.kind == "function":
        raise ExportError(f"cannot export op '{_op_name(step)}' (in {step.module_path}): a user-defined "
                          f"autograd.Function has no ONNX form")
    convert = CONVERTERS.get(step.kind)
    if convert is None:
        raise ExportError(f"cannot export op '{step.kind}' (in {step.module_path}): shenjing.onnx has no ONNX "
                          f"conversion for it")
    try:
        names = convert(graph, step)
    except ExportError as error:
        raise ExportError(f"cannot export op '{step.kind}' (in {step.module_path}): {error}") from None
    names = names if isinstance(names, list) else [names]
    for tensor, name in zip(step.outputs, names):
        if isinstance(tensor, Tensor) and name:
            graph.bind(tensor, name)


def _rename_outputs(graph: Graph, internal: list[str], final: list[str], helper: Any) -> None:
    """Give the graph's outputs their final names: rename the producing node's output, or add an Identity
    (an output that is an input, a constant, or the same value twice)."""
    produced = {output: node for node in graph.nodes for output in node.output}
    seen: set[str] = set()
    for old, new in zip(internal, final):
        node = produced.get(old)
        if node is None or old in seen or old == new:
            if old != new:
                graph.nodes.append(helper.make_node("Identity", [old], [new], name=f"/Identity_{new}"))
            seen.add(old)
            continue
        seen.add(old)
        node.output[list(node.output).index(old)] = new
        for other in graph.nodes:
            for k, name in enumerate(other.input):
                if name == old:
                    other.input[k] = new
        produced[new] = node


def build_model(model: Any, inputs: tuple, *, input_names: Sequence[str] | None,
                output_names: Sequence[str] | None, dynamic_axes: Mapping | None, opset: int,
                fold_constants: bool, export_params: bool) -> Any:
    from onnx import helper

    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"args[{k}] is {type(x).__name__}; export needs the example inputs as tensors")
    is_module = isinstance(model, shenjing.nn.Module)
    parameter_names: dict[int, str] = {}
    if is_module:
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            parameter_names.setdefault(id(tensor._data), name)
    was_training = bool(getattr(model, "training", False))
    if is_module:
        model.eval()
    try:
        with shenjing.no_grad(), trace(model if is_module else shenjing.nn.Module()) as recording:
            result = model(*inputs)
    finally:
        if is_module:
            model.train(was_training)
    output_arrays = arrays_of(result)
    input_names = list(input_names) if input_names is not None else _default_names(len(inputs), "input")
    output_names = list(output_names) if output_names is not None else _default_names(len(output_arrays), "output")
    if len(input_names) != len(inputs):
        raise ValueError(f"input_names has {len(input_names)} names for {len(inputs)} inputs")
    if len(output_names) != len(output_arrays):
        raise ValueError(f"output_names has {len(output_names)} names for {len(output_arrays)} outputs")
    axes = _axes_by_name(dynamic_axes, set(input_names) | set(output_names))

    graph = Graph(opset, fold_constants, parameter_names, parameters_as_inputs=not export_params)
    graph.dynamic = bool(axes)
    for x, name in zip(inputs, input_names):
        graph.bind(x, name)
    for step in recording.steps:
        _convert(graph, step)
    internal = [graph.array_value(array) for array in output_arrays]
    _rename_outputs(graph, internal, output_names, helper)

    used = {name for node in graph.nodes for name in node.input} | set(output_names)
    initializers = [graph.numpy_helper.from_array(np.asarray(array, order="C"), name)
                    for name, array in graph.constants.items() if name in used]
    graph_inputs = [_value_info(helper, name, x._data, axes.get(name, {})) for x, name in zip(inputs, input_names)]
    order = {name: k for k, name in enumerate(parameter_names.values())}  # the state_dict's order
    graph_inputs += [_value_info(helper, name, array, {})
                     for name, array in sorted(graph.parameter_inputs, key=lambda item: order[item[0]])]
    graph_outputs = [_value_info(helper, name, array, axes.get(name, {}))
                     for name, array in zip(output_names, output_arrays)]
    name = type(model).__name__ if is_module else getattr(model, "__name__", "model")
    onnx_graph = helper.make_graph(graph.nodes, name, graph_inputs, graph_outputs, initializers)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="shenjing",
                              producer_version=shenjing.__version__)
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    return proto
