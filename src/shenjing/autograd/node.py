"""Nodes of the backward graph.

Every tensor made by a recorded operation points at the node that made it (``tensor.grad_fn``). A node
knows where its inputs came from (``next_functions``), keeps what its backward needs
(``save_for_backward``), and turns the gradients of its outputs into gradients of its inputs.

Two kinds of node share this machinery:

* ``Op`` — shenjing's own primitives (in ``shenjing._ops``). ``forward`` works on NumPy arrays and
  ``backward`` on tensors, so that a backward formula is itself differentiable (higher-order gradients).
* ``shenjing.autograd.Function`` — user-defined operations in PyTorch's form (see ``function.py``).

Saved outputs are kept as arrays and re-wrapped on use, so no reference cycle
(output -> node -> output) delays freeing memory.
"""

from __future__ import annotations

import traceback
import weakref
from typing import Any, Sequence

import numpy as np

from shenjing._tensor import Tensor  # defined before shenjing._tensor imports the ops and autograd
from shenjing.autograd.grad_mode import _GradState

__all__ = ["Node", "Op", "AccumulateGrad", "backward_op", "forward_arrays", "shown_as"]

_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they "
    "have already been freed). Saved intermediate values of the graph are freed when you call .backward() "
    "or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time "
    "or if you need to access saved tensors after calling backward.")


class _SavedOutput:
    """An output of the node itself, stored without a reference to the output tensor."""

    __slots__ = ("array", "index", "counter", "version")

    def __init__(self, array: np.ndarray, index: int, counter: list, version: int) -> None:
        self.array, self.index, self.counter, self.version = array, index, counter, version


class Node:
    """A step of the backward graph: gradients of outputs in, gradients of inputs out."""

    __slots__ = ("_edges", "_input_meta", "_saved", "_num_outputs", "_pre_hooks",
                 "_retained", "_released", "_trace", "needs_input_grad", "__weakref__", "__dict__")

    owns_gradients = False  # see ``Op``
    # True where ``_call_backward(grads, free)`` can let go of what it saved while it runs (a node that holds
    # many ops' activations, ``CompiledFunctionBackward``): the engine passes free=True unless retain_graph
    frees_during_backward = False

    # -- bookkeeping used by the engine ---------------------------------------------------------

    def _record(self, inputs: Sequence[Any], outputs: Sequence[Any], to_save: Sequence[Any],
                needs: tuple | None = None) -> None:
        """Connect this node to its inputs and adopt ``outputs`` as its results. ``needs`` (which inputs
        require grad) is worked out here unless the caller knows it."""
        if needs is None:
            needs = tuple(isinstance(x, Tensor) and x._requires_grad for x in inputs)
        edges, meta = [], []
        for x, need in zip(inputs, needs):
            if need:
                edges.append(x if x.grad_fn is None else (x.grad_fn, x._output_nr))
                meta.append((x._data.shape, x._data.dtype))
            else:
                edges.append(None)
                meta.append(None)
        self._edges = edges
        self._input_meta = meta
        self.needs_input_grad = needs
        self._num_outputs = len(outputs)
        self._pre_hooks = self._retained = None
        self._released = False
        self._trace = traceback.format_stack()[:-3] if _GradState.anomaly else None
        for i, out in enumerate(outputs):
            out._requires_grad = True
            out.grad_fn = self
            out._output_nr = i
        self._saved = self._saved_entries(to_save, inputs, outputs) if to_save else ()

    def _saved_entries(self, to_save: Sequence[Any], inputs: Sequence[Any], outputs: Sequence[Any]) -> list:
        """``_saved_entry`` of each value. The usual case first: a value that is the array of the input in
        its own position (ops save x, W, ... in their order), and not the output's (in-place ops)."""
        output = outputs[0]._data if len(outputs) == 1 else None
        entries = []
        for k, value in enumerate(to_save):
            if output is not None and k < len(inputs) and value is not output:
                x = inputs[k]
                if isinstance(x, Tensor) and value is x._data:
                    entries.append((x, x._version_counter[0]))
                    continue
            entries.append(self._saved_entry(value, inputs, outputs))
        return entries

    def _saved_entry(self, value: Any, inputs: Sequence[Any], outputs: Sequence[Any]) -> Any:
        if value is None:
            return (None, None)
        for i, out in enumerate(outputs):
            if value is out or value is out._data:
                return _SavedOutput(out._data, i, out._version_counter, out._version_counter[0])
        for x in inputs:
            if isinstance(x, Tensor) and (value is x or value is x._data):
                return (x, x._version)
        if isinstance(value, np.ndarray):
            return (Tensor._make(value), 0)
        return (value, None)

    @property
    def saved_tensors(self) -> tuple:
        """The values given to ``save_for_backward``, as tensors (checked for in-place changes)."""
        if self._released:
            raise RuntimeError(_FREED_MESSAGE)
        unpacked = []
        for entry in self._saved:
            if type(entry) is _SavedOutput:
                tensor = Tensor._make(entry.array)
                tensor._requires_grad = True
                tensor.grad_fn = self
                tensor._output_nr = entry.index
                self._check_version(tensor, entry.version, entry.counter[0])
            else:
                tensor, version = entry
                if version is not None:
                    self._check_version(tensor, version, tensor._version)
            unpacked.append(tensor)
        return tuple(unpacked)

    @property
    def saved_arrays(self) -> tuple:
        """``saved_tensors`` as NumPy arrays (checked the same way), for a backward that builds no
        graph: it skips wrapping each value in a tensor."""
        if self._released:
            raise RuntimeError(_FREED_MESSAGE)
        arrays = []
        for entry in self._saved:
            if type(entry) is _SavedOutput:
                if entry.version != entry.counter[0]:
                    self._check_version(Tensor._make(entry.array), entry.version, entry.counter[0])
                arrays.append(entry.array)
            else:
                value, version = entry
                if version is not None:
                    if version != value._version:
                        self._check_version(value, version, value._version)
                    value = value._data
                arrays.append(value)
        return tuple(arrays)

    def _check_version(self, tensor: Any, saved_version: int, version_now: int) -> None:
        if saved_version != version_now:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [{tensor.dtype.name} {list(tensor.shape)}] is at version {version_now}; expected "
                f"version {saved_version} instead (it was saved by {self.name()}).")

    def _release(self) -> None:
        """Free what backward needed (after a backward pass without retain_graph)."""
        self._saved = None
        self._released = True

    # -- what users see -------------------------------------------------------------------------

    def name(self) -> str:
        """PyTorch's name for this node, e.g. ``MulBackward0``."""
        return f"{type(self).__name__}Backward0"

    @property
    def next_functions(self) -> tuple:
        """For each input: ``(node, output_index)``; ``(AccumulateGrad, 0)`` for a leaf; ``(None, 0)``."""
        result = []
        for edge in self._edges:
            if edge is None:
                result.append((None, 0))
            elif isinstance(edge, tuple):
                result.append(edge)
            else:
                result.append((AccumulateGrad.of(edge), 0))
        return tuple(result)

    def register_prehook(self, output_index: int, hook: Any) -> None:
        if self._pre_hooks is None:
            self._pre_hooks = {}
        self._pre_hooks.setdefault(output_index, []).append(hook)

    def retain(self, output_index: int, tensor: Any) -> None:
        if self._retained is None:
            self._retained = {}
        self._retained[output_index] = weakref.ref(tensor)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"

    def _call_backward(self, grads: tuple) -> tuple:
        raise NotImplementedError


class Op(Node):
    """A shenjing primitive: ``forward`` on NumPy arrays, ``backward`` on tensors.

    The protocol:

    * ``__init__`` takes the op's non-tensor arguments; the op is used as ``Mul()(x, y)``.
    * ``forward(*arrays)`` computes the result(s) from the inputs' arrays. It may call
      ``self.save_for_backward(...)`` with input or output arrays (they come back as the corresponding
      tensors in ``self.saved_tensors``, checked for in-place changes) or with other arrays (constants).
      ``self.needs_input_grad`` says which inputs need a gradient (all False under ``no_grad``).
    * ``backward(*grads)`` turns the outputs' gradients (tensors) into one gradient per input (``None``
      where there is none), with differentiable ops, so that ``create_graph`` gives higher derivatives.
      Gradients of broadcast inputs are summed back to the input's shape by the engine.
    * ``data_inputs = k``: the last k inputs are data that ``forward`` reads (class targets, ...), not
      differentiable: they get no edge in the graph and ``backward`` returns no gradient for them.
      (Data that depends on a batch is an input, never a constructor argument, so that replaying the
      op's forward on new inputs, as ``shenjing.compile`` does, reads the new batch.)
    * optionally ``backward_arrays(*grads)``: the same on arrays (``self.saved_arrays``), used by the
      engine when nothing is recorded (a first-order backward), where the ops of ``backward`` would
      only cost bookkeeping.
    * ``owns_gradients = True`` where the first-order backward returns arrays made for that call only,
      which nothing else (the op, a cache, another tensor) refers to: a leaf's first gradient from it
      then becomes ``.grad`` without a copy. (The engine still copies one that the op passed through
      or returned twice.)
    """

    __slots__ = ()
    data_inputs = 0
    returns_view = False  # ops whose result may share memory with their first input (reshape, index, ...)

    def save_for_backward(self, *values: Any) -> None:
        self._saved = values

    def __call__(self, *inputs: Any) -> Any:
        # the per-op overhead of every primitive: kept to a few attribute reads per input
        arrays, needs = [], []
        for x in inputs:
            if isinstance(x, Tensor):
                arrays.append(x._data)
                needs.append(x._requires_grad)
            else:
                arrays.append(x)
                needs.append(False)
        recording = _GradState.enabled and True in needs
        # forward reads needs_input_grad to decide what to save; nothing is saved under no_grad
        self.needs_input_grad = needs = tuple(needs) if recording else (False,) * len(inputs)
        self._saved = ()
        try:
            result = self.forward(*arrays)
        except (ValueError, IndexError, TypeError) as error:
            raise _shape_error(self, inputs, error) from None
        if type(result) is tuple:
            outputs = tuple(_wrap(r, self) for r in result)
        elif type(result) is np.ndarray:  # (the usual case of ``_wrap``)
            outputs = (Tensor._make(result),)
        else:
            outputs = (_wrap(result, self),)
        if self.returns_view and isinstance(inputs[0], Tensor):
            source = arrays[0]
            results = result if type(result) is tuple else (result,)
            for index, (out, array) in enumerate(zip(outputs, results)):
                base = getattr(array, "base", None)
                if base is not None and (base is source or base is source.base):
                    out._become_view_of(inputs[0], self, index if len(results) > 1 else None)
        if recording and outputs[0]._data.dtype.kind == "f":
            if self.data_inputs:
                inputs, needs = inputs[:-self.data_inputs], needs[:-self.data_inputs]
            self._record(inputs, outputs, self._saved, needs)
        else:
            self._saved = None
        return outputs if type(result) is tuple else outputs[0]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # an array backward counts unless a subclass overrides ``backward`` below it (then it is not that one's)
        definer = {name: next(k for k in cls.__mro__ if name in k.__dict__) for name in ("backward", "backward_arrays")}
        cls._has_array_backward = (cls.backward_arrays is not Op.backward_arrays
                                   and issubclass(definer["backward_arrays"], definer["backward"]))

    _has_array_backward = False

    def forward(self, *arrays: np.ndarray) -> Any:
        raise NotImplementedError

    def backward(self, *grads: Any) -> Any:
        raise NotImplementedError

    def backward_arrays(self, *grads: np.ndarray | None) -> Any:
        raise NotImplementedError

    def _call_backward(self, grads: tuple) -> tuple:
        if self._has_array_backward and not _GradState.enabled:
            result = self.backward_arrays(*[None if g is None else g._data for g in grads])
            if not isinstance(result, tuple):
                result = (result,)
            return tuple(None if g is None else Tensor._make(g) for g in result)
        result = self.backward(*grads)
        return result if isinstance(result, tuple) else (result,)


def backward_op(op: Op, *inputs: Any) -> Any:
    """``op(*inputs)`` for an op inside a backward formula. Under ``create_graph`` it is recorded like
    any op (so the gradient is differentiable); in a first-order backward, where nothing is recorded,
    its ``forward`` runs straight on the arrays, without the per-op bookkeeping of ``Op.__call__``
    (about 3-5 us a call: a tenth of a LeNet-5 step at batch 1)."""
    if _GradState.enabled:
        return op(*inputs)
    op.needs_input_grad = (False,) * len(inputs)
    op._saved = ()
    result = op.forward(*[x._data if isinstance(x, Tensor) else x for x in inputs])
    op._saved = None
    return _wrap(result, op)


def forward_arrays(op: Op, *arrays: Any) -> Any:
    """``op.forward`` on arrays with nothing recorded or saved: an op used inside another op's array-level
    first-order backward (``Op.backward_arrays``)."""
    op.needs_input_grad = (False,) * len(arrays)
    op._saved = ()
    result = op.forward(*arrays)
    op._saved = None
    return result


def _wrap(result: Any, op: Op) -> Any:
    """An op's result as a tensor; NumPy's scalars from full reductions become 0-d arrays (also where saved)."""
    if not isinstance(result, np.ndarray):
        array = np.asarray(result)
        if op._saved and isinstance(result, np.generic):
            op._saved = tuple(array if s is result else s for s in op._saved)
        result = array
    return Tensor._make(result)


def _shape_error(op: Op, inputs: Sequence[Any], error: Exception) -> Exception:
    """Turn a NumPy error raised inside an op into one that names the op and the input shapes."""
    if isinstance(error, ValueError) and "broadcast" in str(error) and len(inputs) == 2:
        from shenjing._ops.shape import broadcast_error

        return broadcast_error(type(op).__name__.lower(), *inputs)
    described = [f"{list(x.shape)}" if isinstance(x, Tensor) else repr(x) for x in inputs]
    message = f"{type(op).__name__.lower()}: invalid inputs with shapes {', '.join(described)}: {error}"
    if isinstance(error, IndexError):
        return IndexError(message)
    if isinstance(error, TypeError):
        return TypeError(message)
    return RuntimeError(message)


class AccumulateGrad(Node):
    """The node that stands for a leaf tensor in ``next_functions``: it adds gradients to ``.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable: Any) -> None:
        self.variable = variable
        self._edges = []

    @staticmethod
    def of(leaf: Any) -> "AccumulateGrad":
        node = leaf._grad_accumulator() if leaf._grad_accumulator is not None else None
        if node is None:
            node = AccumulateGrad(leaf)
            leaf._grad_accumulator = weakref.ref(node)
        return node

    def name(self) -> str:
        return "AccumulateGrad"


class _ShownName:
    """A node's ``name`` for one op instance: calling it gives the fixed name."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __call__(self) -> str:
        return self.text


def shown_as(result: Any, name: str) -> Any:
    """``result``, whose ``grad_fn`` now shows PyTorch's ``name`` (e.g. ``GeluBackward0``).

    For an op that shenjing composes from smaller ones where PyTorch has one node: its last node takes
    the op's name in ``repr(grad_fn)`` and ``grad_fn.name()``. Only the name changes (an attribute of
    that one node, made by this call): values, gradients and the graph stay as they were. Give it only
    a tensor that the call itself made (never one of its inputs). No grad_fn (nothing recorded): no-op.
    """
    node = getattr(result, "grad_fn", None)
    if node is not None and not isinstance(node, AccumulateGrad):
        node.name = _ShownName(name)
    return result

