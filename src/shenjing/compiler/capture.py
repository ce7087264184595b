"""Capturing one call: the ops it ran, in order, and where each op's inputs came from.

While a ``Capture`` is active, every ``Op`` call is recorded as a ``Step``: the op's type and its
attributes before ``forward`` (its constructor arguments), a ``Ref`` per input, and one value slot
per output. An input is a ``VALUE`` (the output of an earlier step), an ``EXTERNAL`` tensor (an
argument, a parameter or buffer, or a tensor made outside the ops) or a ``CONSTANT`` (any other
Python value). In-place writes (``x.add_(1)``, BatchNorm's counter) are ``ADOPT`` steps, and
``detach()`` an ``ALIAS`` step.

What the ops cannot show is a *graph break*: reading a value into Python (``.item()``, ``bool(x)``,
``.tolist()``, ``.numpy()``), a backward pass or a hook inside the call, an in-place write on an input,
a parameter or a view that requires grad. The capture still runs the call eagerly, to the end; it only notes the reason,
and the compiled wrapper then runs that call eagerly.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from shenjing import autograd as _autograd
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op

__all__ = ["Capture", "Step", "VALUE", "EXTERNAL", "CONSTANT", "OP", "ADOPT", "ALIAS"]

VALUE, EXTERNAL, CONSTANT = 0, 1, 2  # the kinds of a Ref: (kind, slot / external index / value)
OP, ADOPT, ALIAS = 0, 1, 2  # the kinds of a Step

# reading a tensor's value into Python: the call's control flow or numbers may depend on it
_VALUE_READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__", "__array__")


@dataclass
class Step:
    """One recorded step. ``kind`` OP: ``op_type(**state)`` applied to ``inputs`` gives ``outputs``
    (slots); ``needs`` says which inputs needed a gradient, ``recorded`` whether the op joined the
    graph. ADOPT: ``inputs[1]``'s value is written into ``inputs[0]``. ALIAS: ``outputs[0]`` is
    ``inputs[0]``'s array, detached."""

    kind: int
    inputs: tuple
    outputs: tuple
    op_type: type | None = None
    state: dict = field(default_factory=dict)
    multiple: bool = False
    needs: tuple = ()
    recorded: bool = False
    meta: tuple = ()  # (shape, dtype) of each tensor input, None for the others
    out_meta: tuple = ()  # (shape, dtype) of each output


class Capture:
    """Record the ops of the calls made inside ``with capture:``.

    >>> import shenjing
    >>> x = shenjing.ones(2, requires_grad=True)
    >>> with Capture() as capture:
    ...     y = (x * 2).sum()
    >>> [step.op_type.__name__ for step in capture.steps], capture.breaks
    (['Mul', 'Sum'], [])
    """

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.externals: list[Tensor] = []
        self.breaks: list[str] = []
        self.slots = 0
        self._slot_of: dict[int, int] = {}
        self._external_of: dict[int, int] = {}
        self._watched: dict[int, weakref.ref] = {}  # id -> a weak reference that forgets the id when the tensor goes
        self._depth = 0
        self._shared: set[int] = set()  # slots whose memory another slot shares (views, detached aliases)
        self._saved: dict[str, Any] = {}

    # -- references -------------------------------------------------------------------------------

    def ref(self, value: Any) -> tuple:
        """Where ``value`` comes from, as (kind, slot / external index / the value itself)."""
        if isinstance(value, Tensor):
            slot = self._slot_of.get(id(value))
            if slot is not None:
                return (VALUE, slot)
            index = self._external_of.get(id(value))
            if index is None:
                index = self._external_of[id(value)] = len(self.externals)
                self.externals.append(value)  # (kept alive: its id stays its own)
            return (EXTERNAL, index)
        return (CONSTANT, value)

    def _new_slot(self, tensor: Tensor) -> int:
        slot = self.slots
        self.slots += 1
        self._slot_of[id(tensor)] = slot
        self._watch(tensor)
        return slot

    def _watch(self, tensor: Tensor) -> None:
        """Forget ``tensor``'s slot when it is freed (as eager mode frees it): its id may then be reused."""
        key = id(tensor)
        if key not in self._watched:
            self._watched[key] = weakref.ref(tensor, lambda ref, key=key: self._forget(key, ref))

    def _forget(self, key: int, ref: weakref.ref) -> None:
        if self._watched.get(key) is ref:
            del self._watched[key]
            self._slot_of.pop(key, None)

    def slot_of(self, tensor: Tensor) -> int | None:
        return self._slot_of.get(id(tensor))

    def graph_break(self, reason: str) -> None:
        if reason not in self.breaks:
            self.breaks.append(reason)

    # -- what the patched methods call ------------------------------------------------------------

    def _call_op(self, original: Callable, op: Op, inputs: tuple) -> Any:
        if self._depth or threading.get_ident() != self._thread:  # (another thread's ops are not this call's)
            return original(op, *inputs)
        state = dict(op.__dict__)
        self._depth += 1
        try:
            result = original(op, *inputs)
        finally:
            self._depth -= 1
        refs = tuple(self.ref(x) for x in inputs)
        outputs = result if type(result) is tuple else (result,)
        slots = tuple(self._new_slot(out) for out in outputs)
        if op.returns_view and refs and refs[0][0] == VALUE:
            self._shared.update((refs[0][1],) + slots)
        recorded = outputs[0].grad_fn is op
        needs = tuple(isinstance(x, Tensor) and x._requires_grad for x in inputs) if recorded \
            else (False,) * len(inputs)
        meta = tuple((x._data.shape, x._data.dtype) if isinstance(x, Tensor) else None for x in inputs)
        out_meta = tuple((out._data.shape, out._data.dtype) for out in outputs)
        self.steps.append(Step(OP, refs, slots, type(op), state, type(result) is tuple, needs, recorded, meta,
                               out_meta))
        return result

    def _inplace(self, original: Callable, tensor: Tensor, op: Callable, args: tuple, kwargs: dict) -> Tensor:
        recording = _GradState.enabled and (tensor._requires_grad or any(
            isinstance(a, Tensor) and a._requires_grad for a in args))
        if self._depth or threading.get_ident() != self._thread:
            return original(tensor, op, *args, **kwargs)
        if recording:
            return self._recorded_inplace(original, tensor, op, args, kwargs)
        target = self.ref(tensor)
        tensor._check_inplace()
        result = op(tensor, *args, **kwargs)
        tensor._adopt(result)
        self.steps.append(Step(ADOPT, (target, self.ref(result)), ()))
        return tensor

    def _recorded_inplace(self, original: Callable, tensor: Tensor, op: Callable, args: tuple,
                          kwargs: dict) -> Tensor:
        """An in-place op on an activation that requires grad (``nn.ReLU(inplace=True)``, ``x += y``):
        captured as the out-of-place op, the tensor's later uses reading its result. That is the same
        value unless another tensor shares the memory (a view), which eager mode would also change: then
        the call runs eagerly."""
        slot = self._slot_of.get(id(tensor))
        if slot is None or slot in self._shared or tensor._base is not None:
            name = getattr(op, "__name__", type(op).__name__)
            self.graph_break(f"an in-place write ({name}) on a tensor that requires grad and is "
                             f"{'an input or parameter' if slot is None else 'a view or has views'}")
            return original(tensor, op, *args, **kwargs)
        tensor._check_inplace()
        source = Tensor._make(tensor._data.copy())  # (what eager mode does: the op sees the old value)
        source.grad_fn, source._output_nr, source._requires_grad = tensor.grad_fn, tensor._output_nr, True
        self._slot_of[id(source)] = slot
        self._watch(source)
        result = op(source, *args, **kwargs)
        tensor._adopt(result)
        result_slot = self._slot_of.get(id(result))
        if result_slot is None:
            self.graph_break("an in-place write whose result does not come from an op")
        else:
            self._slot_of[id(tensor)] = result_slot
        return tensor

    def _detach(self, original: Callable, tensor: Tensor) -> Tensor:
        result = original(tensor)
        if not self._depth and threading.get_ident() == self._thread:
            source = self.ref(tensor)
            slot = self._new_slot(result)
            self.steps.append(Step(ALIAS, (source,), (slot,)))
            if source[0] == VALUE:
                self._shared.update((source[1], slot))
        return result

    # -- patching -----------------------------------------------------------------------------------

    def __enter__(self) -> "Capture":
        if _Active.capture is not None:
            raise RuntimeError("shenjing.compile: a capture is already running (compiled code called from "
                               "inside a compiled call runs eagerly)")
        _Active.capture = self
        self._thread = threading.get_ident()
        saved = self._saved
        saved["Op.__call__"] = original_call = Op.__call__
        Op.__call__ = lambda op, *inputs: self._call_op(original_call, op, inputs)
        saved["_inplace"] = original_inplace = Tensor._inplace
        Tensor._inplace = lambda t, op, *a, **k: self._inplace(original_inplace, t, op, a, k)
        saved["detach"] = original_detach = Tensor.detach
        Tensor.detach = lambda t: self._detach(original_detach, t)
        for name in _VALUE_READS:
            saved[name] = getattr(Tensor, name)
            setattr(Tensor, name, _breaking(self, saved[name], f"`{name}` reads a tensor's value into Python"))
        for name, reason in (("backward", "a backward pass inside the call"),
                             ("register_hook", "a tensor hook registered inside the call"),
                             ("retain_grad", "retain_grad() inside the call")):
            saved[name] = getattr(Tensor, name)
            setattr(Tensor, name, _breaking(self, saved[name], reason))
        for name in ("backward", "grad"):
            saved["autograd." + name] = getattr(_autograd, name)
            setattr(_autograd, name, _breaking(self, saved["autograd." + name], f"autograd.{name}() inside the call"))
        return self

    def __exit__(self, *exc: Any) -> None:
        saved = self._saved
        Op.__call__ = saved.pop("Op.__call__")
        Tensor._inplace = saved.pop("_inplace")
        Tensor.detach = saved.pop("detach")
        for name in ("backward", "grad"):
            setattr(_autograd, name, saved.pop("autograd." + name))
        for name, method in saved.items():
            setattr(Tensor, name, method)
        saved.clear()
        _Active.capture = None

    def release(self) -> None:
        """Let go of the tensors seen (the call's activations), once the graph is built from the steps."""
        self._watched.clear()
        self._slot_of.clear()
        self._external_of.clear()


class _Active:
    capture: Capture | None = None


def is_capturing() -> bool:
    """True while a call is being captured (``shenjing.compiler.is_compiling``)."""
    return _Active.capture is not None


def _breaking(capture: Capture, method: Callable, reason: str) -> Callable:
    def call(*args: Any, **kwargs: Any) -> Any:
        if not capture._depth and threading.get_ident() == capture._thread:
            capture.graph_break(reason)
        return method(*args, **kwargs)

    call.__name__ = getattr(method, "__name__", "call")
    return call


def array_constants(step: Step) -> list[str]:
    """The names of an op's constructor arguments that are arrays (data fixed at capture)."""
    return [name for name, value in step.state.items() if isinstance(value, np.ndarray) and value.size > 1]
