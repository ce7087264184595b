"""Recording what a forward call computes: every primitive op it runs, in order, with its inputs and outputs.

While ``trace`` runs, the op-dispatch seam (``Op.__call__``) reports each call to the ``Trace``, with the
path of the module that was running (``model.features.0``), kept by forward hooks on every submodule.
User-defined ``autograd.Function``s are recorded too, so that an export can name them instead of silently
freezing their results as constants.
Everything is restored when the forward call ends, also when it raises.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.function import Function
from shenjing.autograd.node import Op

__all__ = ["Step", "Trace", "trace"]


@dataclass
class Step:
    """One op call: the op object (its attributes are the op's arguments), its inputs as given (tensors,
    numbers, None) and its output tensors; ``kind`` is the op's class name, ``function`` or ``adopt``."""

    kind: str
    op: Any
    inputs: tuple
    outputs: tuple
    module_path: str


@dataclass
class Trace:
    """The steps of one forward call, and every array they touched (kept alive, so identities stay unique)."""

    root_name: str = "model"
    steps: list[Step] = field(default_factory=list)
    module_stack: list[str] = field(default_factory=list)
    _keep: list[Any] = field(default_factory=list)

    def module_path(self) -> str:
        return self.module_stack[-1] if self.module_stack else self.root_name

    def record(self, kind: str, op: Any, inputs: tuple, result: Any) -> None:
        outputs = result if isinstance(result, tuple) else (result,)
        self.steps.append(Step(kind, op, tuple(inputs), tuple(outputs), self.module_path()))
        self._keep.append((inputs, outputs))


@contextlib.contextmanager
def trace(model: Any, root_name: str = "model") -> Iterator[Trace]:
    """Within the block, every op that runs is appended to the yielded ``Trace``."""
    recording = Trace(root_name)
    original_call = Op.__call__
    original_apply = Function.apply.__func__

    depth = [0]  # ops that an op runs inside its own forward are its business, not the model's

    def traced_call(self: Op, *inputs: Any) -> Any:
        depth[0] += 1
        try:
            result = original_call(self, *inputs)
        finally:
            depth[0] -= 1
        if depth[0] == 0:
            recording.record(type(self).__name__, self, inputs, result)
        return result

    def traced_apply(cls: type, *args: Any, **kwargs: Any) -> Any:
        depth[0] += 1
        try:
            result = original_apply(cls, *args, **kwargs)
        finally:
            depth[0] -= 1
        if depth[0] == 0:
            recording.record("function", cls, args, result)
        return result

    original_adopt = Tensor._adopt

    def traced_adopt(self: Tensor, result: Tensor) -> Tensor:
        # an in-place op: this tensor's memory now holds ``result``'s value
        out = original_adopt(self, result)
        if depth[0] == 0:
            recording.record("write_view" if self._base is not None else "adopt", None, (result,), self)
        return out

    handles = []
    for name, module in model.named_modules():
        path = f"{root_name}.{name}" if name else root_name

        def enter(module: Any, args: Any, path: str = path) -> None:
            recording.module_stack.append(path)

        def leave(module: Any, args: Any, output: Any) -> None:
            recording.module_stack.pop()

        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    Op.__call__ = traced_call
    Function.apply = classmethod(traced_apply)
    Tensor._adopt = traced_adopt
    try:
        yield recording
    finally:
        Op.__call__ = original_call
        Function.apply = classmethod(original_apply)
        Tensor._adopt = original_adopt
        for handle in handles:
            handle.remove()


def arrays_of(value: Any) -> list[np.ndarray]:
    """The arrays of the tensors in a (nested) model output."""
    if isinstance(value, Tensor):
        return [value._data]
    if isinstance(value, (tuple, list)):
        return [a for item in value for a in arrays_of(item)]
    raise TypeError(f"the model returned {type(value).__name__}; export needs tensors (or tuples/lists of them)")
