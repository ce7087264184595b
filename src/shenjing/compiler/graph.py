"""A captured graph, replayed: the steps' forwards on arrays, and one backward node for all of them.

Eager mode pays, per op, for a Python call into the layer, the op's bookkeeping (wrapping results in
tensors, saving inputs with their versions, linking the graph) and, in backward, the engine's walk
over the nodes. A replay runs only the ops' ``forward`` methods, in the captured order, on arrays,
and joins the autograd graph as one node, ``CompiledFunctionBackward``: its backward runs the ops'
backward methods in reverse order and returns the gradients of the parameters and inputs. The ops
themselves are the same as in eager mode, so replayed values are the same numbers.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Node, Op, _SavedOutput
from shenjing.compiler.capture import ADOPT, ALIAS, EXTERNAL, VALUE, Step

__all__ = ["CapturedGraph", "CompiledFunctionBackward"]

_FIRST_ORDER_ONLY = (
    "shenjing.compile: a compiled call's graph has first-order gradients only (create_graph=True, higher "
    "derivatives); run that model eagerly for them (shenjing.compile(model, disable=True), or the model itself)")


class CapturedGraph:
    """The steps of one capture, with what a replay needs: which externals are call arguments (by
    position among the arguments' tensors) and how the output is put together."""

    def __init__(self, steps: list[Step], slots: int, externals: Sequence[Any], output: Any,
                 grad_slots: set) -> None:
        self.steps, self.slots, self.grad_slots = steps, slots, grad_slots
        self.externals = list(externals)  # ("argument", position) or ("tensor", the tensor)
        self.output = output  # a tree of Refs: tuples, lists and dicts of (kind, ...) leaves
        self.differentiable = [i for i, step in enumerate(steps) if step.kind == 0 and step.recorded]
        self.last_uses = _last_uses(steps, _slots_in(output))

    def run(self, arguments: Sequence[Tensor]) -> Any:
        """Replay on ``arguments`` (the call's tensors, in order): the call's output."""
        externals = [arguments[where] if kind == "argument" else where for kind, where in self.externals]
        values: list = [None] * self.slots
        arrays = [t._data for t in externals]
        recording = _GradState.enabled
        external_of = {id(a): t for a, t in zip(arrays, externals)} if recording else None
        ops: list = [None] * len(self.steps) if recording else None
        for index, step in enumerate(self.steps):
            inputs = [values[where] if kind == VALUE else arrays[where] if kind == EXTERNAL else where
                      for kind, where in step.inputs]
            if step.kind == ALIAS:
                values[step.outputs[0]] = inputs[0]
                continue
            if step.kind == ADOPT:
                np.copyto(inputs[0], inputs[1], casting="same_kind")
                kind, where = step.inputs[0]
                if kind == EXTERNAL:
                    externals[where]._bump_version()
                continue
            op = object.__new__(step.op_type)
            op.__dict__.update(step.state)
            op.needs_input_grad = step.needs
            op._saved = ()
            result = op.forward(*inputs)
            results = result if step.multiple else (result,)
            for slot, array in zip(step.outputs, results):
                if not isinstance(array, np.ndarray):
                    scalar, array = array, np.asarray(array)
                    if op._saved:
                        op._saved = tuple(array if s is scalar else s for s in op._saved)
                values[slot] = array
            if recording and step.recorded:
                ops[index] = op
                op._saved = _saved_entries(op._saved, external_of)
                if op.data_inputs:
                    op.needs_input_grad = step.needs[:-op.data_inputs]
                op._released = False
            for slot in self.last_uses[index]:  # (as in eager mode, a value no later step reads is let go)
                values[slot] = None
        output_tensors: dict = {}
        output = _build(self.output, values, externals, output_tensors)
        if recording:
            needing = [i for i, t in enumerate(externals) if t._requires_grad]
            slots = [slot for slot in output_tensors if slot in self.grad_slots]
            if needing and slots:
                node = CompiledFunctionBackward(self, ops, needing)
                node._record([externals[i] for i in needing], [output_tensors[slot] for slot in slots], ())
                node._output_slots = slots
        return output


def _slots_in(tree: Any) -> set:
    """The value slots that an output tree refers to."""
    if type(tree) is tuple and len(tree) == 2 and type(tree[0]) is int:
        return {tree[1]} if tree[0] == VALUE else set()
    items = tree.values() if isinstance(tree, dict) else tree[1]
    return set().union(*(_slots_in(item) for item in items)) if items else set()


def _last_uses(steps: list[Step], kept: set) -> list[list[int]]:
    """For each step, the value slots that it reads for the last time (none that the output needs)."""
    last: dict = {}
    for index, step in enumerate(steps):
        for kind, where in step.inputs:
            if kind == VALUE:
                last[where] = index
        for slot in step.outputs:  # (a value nothing reads goes right after the step that made it)
            last.setdefault(slot, index)
    uses: list[list[int]] = [[] for _ in steps]
    for slot, index in last.items():
        if slot not in kept:
            uses[index].append(slot)
    return uses


def _saved_entries(saved: Sequence[Any], external_of: dict) -> list:
    """An op's ``save_for_backward`` values in the form ``Node.saved_arrays`` reads: an external
    tensor's own array with its version (so that an in-place change before backward is caught), any
    other array as a value of this graph (which nothing outside it can change)."""
    entries = []
    for value in saved:
        if value is None:
            entries.append((None, None))
        elif isinstance(value, np.ndarray):
            tensor = external_of.get(id(value))
            entries.append((tensor, tensor._version) if tensor is not None else _SavedOutput(value, 0, _UNCHANGED, 0))
        elif isinstance(value, Tensor):
            entries.append((value, value._version))
        else:
            entries.append((value, None))
    return entries


_UNCHANGED = [0]  # the version counter of a graph's own values


def _build(tree: Any, values: list, externals: list, made: dict) -> Any:
    if type(tree) is tuple and len(tree) == 2 and type(tree[0]) is int:
        kind, where = tree
        if kind == VALUE:
            tensor = made.get(where)
            if tensor is None:
                tensor = made[where] = Tensor._make(values[where])
            return tensor
        return externals[where] if kind == EXTERNAL else where
    if isinstance(tree, dict):
        return {key: _build(item, values, externals, made) for key, item in tree.items()}
    kind, items = tree
    built = [_build(item, values, externals, made) for item in items]
    return built if kind == "list" else tuple(built)


class CompiledFunctionBackward(Node):
    """The backward of a replayed graph: the captured ops' backward, in reverse order, as one node."""

    owns_gradients = True  # (``_call_backward`` copies any gradient that it did not make itself)
    frees_during_backward = True  # (each op's saved arrays go once its backward has run, as in eager mode)

    def __init__(self, graph: CapturedGraph, ops: list, needing: list) -> None:
        self._graph, self._ops, self._needing = graph, ops, needing

    def name(self) -> str:
        return "CompiledFunctionBackward"

    def _release(self) -> None:
        super()._release()
        self._ops = None

    def _call_backward(self, grads: tuple, free: bool = False) -> tuple:
        if _GradState.enabled:
            raise RuntimeError(_FIRST_ORDER_ONLY)
        if self._released:
            from shenjing.autograd.node import _FREED_MESSAGE

            raise RuntimeError(_FREED_MESSAGE)
        graph, ops = self._graph, self._ops
        owned: dict = {}  # gradient arrays made in this backward that nothing else refers to, by id (kept alive)
        value_grads: dict = {}
        for slot, grad in zip(self._output_slots, grads):
            if grad is not None:
                _accumulate(value_grads, slot, grad._data, owned)
        external_grads: dict = {}
        for index in reversed(graph.differentiable):
            step, op = graph.steps[index], ops[index]
            output_grads = [value_grads.pop(slot, None) for slot in step.outputs]
            if all(g is None for g in output_grads):
                continue
            if len(output_grads) > 1 and any(g is None for g in output_grads):
                output_grads = _zeros_for_missing(op, output_grads)
            incoming = {id(g) for g in output_grads}
            input_grads = _backward(op, output_grads)
            if free:
                ops[index] = None
            differentiable = len(step.inputs) - op.data_inputs
            for (kind, where), need, meta, grad in zip(step.inputs[:differentiable], step.needs, step.meta,
                                                       input_grads):
                if grad is None or not need:
                    continue
                if grad.shape != meta[0] or grad.dtype != meta[1]:
                    grad = _fit(grad, *meta)
                    owned[id(grad)] = grad
                elif op.owns_gradients and id(grad) not in incoming:
                    owned[id(grad)] = grad
                if kind == VALUE:
                    _accumulate(value_grads, where, grad, owned)
                elif kind == EXTERNAL:
                    _accumulate(external_grads, where, grad, owned)
        # a parameter may adopt its gradient as .grad when this backward made it (the engine still copies one
        # given to two parameters); any other is copied here
        return tuple(None if external_grads.get(index) is None
                     else Tensor._make(_own(external_grads[index], owned)) for index in self._needing)


def _backward(op: Op, output_grads: list) -> tuple:
    """One op's first-order backward on arrays (through its tensor backward where it has no array one)."""
    if op._has_array_backward:
        result = op.backward_arrays(*output_grads)
        result = result if isinstance(result, tuple) else (result,)
        return tuple(None if g is None else np.asarray(g) for g in result)
    result = op.backward(*[None if g is None else Tensor._make(g) for g in output_grads])
    result = result if isinstance(result, tuple) else (result,)
    return tuple(None if g is None else g._data for g in result)


def _fit(grad: np.ndarray, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A broadcast input's gradient summed back to the input's shape, in its dtype (as the engine does)."""
    if grad.shape != shape:
        extra = grad.ndim - len(shape)
        axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
        grad = np.add.reduce(grad, axis=axes).reshape(shape) if axes else grad.reshape(shape)
    return grad if grad.dtype == dtype else grad.astype(dtype)


def _accumulate(grads: dict, key: int, grad: np.ndarray, owned: dict) -> None:
    current = grads.get(key)
    if current is None:
        grads[key] = grad
    else:
        grads[key] = total = np.add(current, grad)
        owned[id(total)] = total


def _own(grad: np.ndarray, owned: dict) -> np.ndarray:
    return grad if id(grad) in owned and grad.flags.writeable and grad.base is None else np.array(grad)


def _zeros_for_missing(op: Op, grads: list) -> list:
    shapes = getattr(op, "_output_shapes", None)
    return [g if g is not None or not shapes else np.zeros(shapes[i][0], shapes[i][1])
            for i, g in enumerate(grads)]
