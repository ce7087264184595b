"""``shenjing.compile``: a model (or function) that captures its ops once per guard key and replays them.

A call is looked up by its *guard key*: the model's structure (its modules, parameters, buffers,
plain attributes and train/eval flags: re-read whenever any module attribute changed), grad mode,
and each argument's shape, dtype and requires_grad (other arguments by value). The first call with a
new key runs eagerly while its ops are captured (``capture.py``); the next one first *verifies* it: the model
runs again eagerly on other values (random floats, shuffled integers, moved parameters), the capture
is replayed on the same values, and the two must agree bit for bit, in the outputs, the buffers and
the random generator's state (then restored). A capture that reads values the ops do not show, or
that broke (``.item()``, a backward inside the call, ...), runs eagerly for that key. Later calls
replay (``graph.py``). Hooks on the model's modules and anomaly mode run eagerly.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState, no_grad
from shenjing.compiler.capture import VALUE, Capture, array_constants, is_capturing
from shenjing.compiler.fusion import fuse
from shenjing.compiler.graph import CapturedGraph
from shenjing.nn.modules.module import Module

__all__ = ["OptimizedModule", "CompiledFunction", "compile_target", "CACHE_SIZE_LIMIT"]

CACHE_SIZE_LIMIT = 8  # captures per compiled model; as torch._dynamo.config.cache_size_limit


@dataclass
class Entry:
    """What one guard key gives: a graph to replay, or the reason it runs eagerly."""

    graph: CapturedGraph | None
    reason: str = ""
    steps: int = 0
    grad_guard: list = field(default_factory=list)  # (tensor, requires_grad at capture)
    fused: list = field(default_factory=list)  # the rewrites made (``fusion.py``)
    checked: bool = False  # the graph has passed the check against eager mode (made on its first replay)


class _Compiled:
    """What a compiled model and a compiled function share: the cache, capture and verification."""

    def _setup(self, target: Callable, root: Module | None, fullgraph: bool, disable: bool) -> None:
        set_ = object.__setattr__
        set_(self, "_target", target)
        set_(self, "_root", root)
        set_(self, "_fullgraph", fullgraph)
        set_(self, "_disabled", disable)
        set_(self, "_cache", {})
        set_(self, "_seen_version", -1)
        set_(self, "_structure", None)
        set_(self, "_structure_tokens", {})
        set_(self, "_modules_list", [])
        set_(self, "_warned", False)

    def _call(self, args: tuple, kwargs: dict) -> Any:
        if self._disabled or _GradState.anomaly or is_capturing():
            return self._target(*args, **kwargs)
        if Module._structure_version != self._seen_version:
            self._refresh_structure()
        for module in self._modules_list:
            if module._forward_hooks or module._forward_pre_hooks:
                return self._target(*args, **kwargs)
        tensors: list = []
        key = (self._structure, _GradState.enabled, _key_of(args, tensors), _key_of(kwargs, tensors) if kwargs else None)
        entry = self._cache.get(key)
        if entry is not None:
            for tensor, requires_grad in entry.grad_guard:
                if tensor._requires_grad is not requires_grad:
                    del self._cache[key]
                    entry = None
                    break
        if entry is None:
            if len(self._cache) >= CACHE_SIZE_LIMIT:
                if not self._warned:
                    object.__setattr__(self, "_warned", True)
                    warnings.warn(f"shenjing.compile: {CACHE_SIZE_LIMIT} captures of this model (new input shapes, "
                                  f"modes or structures); further new ones run eagerly", stacklevel=3)
                return self._target(*args, **kwargs)
            return self._capture(key, args, kwargs, tensors)
        if entry.graph is None:
            return self._eager(args, kwargs)
        if not entry.checked and not self._check(key, entry, args, kwargs):
            return self._eager(args, kwargs)
        return entry.graph.run(tensors)

    def _check(self, key: tuple, entry: Entry, args: tuple, kwargs: dict) -> bool:
        """Verify a captured graph before its first replay (not right after the capture, whose own graph and
        activations may still be alive then: the check's eager run would add to the peak memory). False,
        and the key runs eagerly from now on, if it fails."""
        with no_grad():  # (the values do not depend on it; no graphs are built)
            reason = self._verify(entry.graph, args, kwargs)
        if not reason:
            entry.checked = True
            return True
        if self._fullgraph:
            raise RuntimeError(f"shenjing.compile(fullgraph=True): the call cannot be captured as one graph: {reason}")
        self._cache[key] = Entry(None, reason, entry.steps)
        return False

    def _eager(self, args: tuple, kwargs: dict) -> Any:
        """A call whose key could not be captured as one graph."""
        return self._target(*args, **kwargs)

    def _refresh_structure(self) -> None:
        modules = list(self._root.modules()) if self._root is not None else []
        object.__setattr__(self, "_modules_list", modules)
        if self._root is None:  # a function: any change of any module is a new structure
            structure = (Module._structure_version,)
        else:
            structure = tuple(_fingerprint(m) for m in modules)
        tokens = self._structure_tokens
        object.__setattr__(self, "_structure", tokens.setdefault(structure, len(tokens)))
        object.__setattr__(self, "_seen_version", Module._structure_version)

    # -- the first call with a key ----------------------------------------------------------------

    def _capture(self, key: tuple, args: tuple, kwargs: dict, tensors: list) -> Any:
        before = self._python_state()
        with Capture() as capture:
            result = self._target(*args, **kwargs)
        breaks = list(capture.breaks)
        if self._python_state() != before:
            breaks.append("forward changed a plain Python attribute of a module (a side effect a replay "
                          "would not repeat)")
        entry = None
        if not breaks:
            graph, reason = self._graph_of(capture, result, tensors)
        capture.release()
        if not breaks:
            if graph is None:
                breaks.append(reason)
            else:
                guard = [(t, t._requires_grad) for kind, t in graph.externals if kind == "tensor"]
                entry = Entry(graph, "", len(capture.steps), guard, graph.fused)
        if entry is None:
            reason = "; ".join(breaks)
            if self._fullgraph:
                raise RuntimeError(f"shenjing.compile(fullgraph=True): the call cannot be captured as one graph: "
                                   f"{reason}")
            entry = Entry(None, reason, len(capture.steps))
        self._cache[key] = entry
        return result

    def _graph_of(self, capture: Capture, result: Any, tensors: list) -> tuple:
        """The capture as a replayable graph, or None and why not."""
        position = {id(t): i for i, t in enumerate(tensors)}
        grad_slots: set = set()
        try:
            output = _output_tree(result, capture, grad_slots)  # (first: an output made by no op is an external)
        except TypeError as error:
            return None, str(error)
        externals = []
        for tensor in capture.externals:
            where = position.get(id(tensor))
            externals.append(("argument", where) if where is not None else ("tensor", tensor))
        steps, fused = fuse(capture.steps, _value_slots(output))
        graph = CapturedGraph(steps, capture.slots, externals, output, grad_slots)
        graph.fused = fused
        return graph, ""

    def _python_state(self) -> list:
        return [_plain_attributes(m) for m in self._modules_list]

    def _verify(self, graph: CapturedGraph, args: tuple, kwargs: dict) -> str:
        """Run eagerly and replay on other values; '' when both agree bit for bit (state restored)."""
        from shenjing import get_rng_state, set_rng_state

        state = self._state_tensors(graph)
        saved = [(t, t._data.copy()) for t in state]
        rng = get_rng_state()
        try:
            for shift_integers in (True, False):
                generator = np.random.default_rng(20261207)
                moved_args, moved_kwargs = _moved(args, generator, shift_integers), _moved(kwargs, generator, shift_integers)
                _move_state(saved)
                moved_digests = [_digest(t._data) for t in state]  # (not copies: a model's weights may be large)
                try:
                    expected = self._target(*moved_args, **moved_kwargs)
                except Exception:  # (these values may be out of range for the model: try milder ones)
                    for (tensor, array) in saved:
                        np.copyto(tensor._data, array)
                    set_rng_state(rng)
                    continue
                # what the call changed (BatchNorm's statistics), moved back for the replay
                expected_state = [None if _digest(t._data) == d else t._data.copy() for t, d in zip(state, moved_digests)]
                expected_rng = get_rng_state()
                _move_state([pair for pair, changed in zip(saved, expected_state) if changed is not None],
                            [i for i, changed in enumerate(expected_state) if changed is not None])
                set_rng_state(rng)
                moved_tensors: list = []
                _key_of(moved_args, moved_tensors)
                _key_of(moved_kwargs, moved_tensors)
                replayed = graph.run(moved_tensors)
                if not _same(expected, replayed):
                    return ("replaying the captured ops on other values gave another output than running the call "
                            "(forward uses values that do not pass through shenjing's ops: " + _suspects(graph) + ")")
                if not all(_digest(t._data) == d if expected is None else np.array_equal(t._data, expected, equal_nan=True)
                           for t, d, expected in zip(state, moved_digests, expected_state)):
                    return "replaying the captured ops changed the model's buffers differently from running it"
                if not _same(get_rng_state(), expected_rng):
                    return "the call draws random numbers outside shenjing's ops"
                return ""
            return "the call fails on other values, so the capture could not be checked"
        finally:
            for tensor, array in saved:
                np.copyto(tensor._data, array)
            set_rng_state(rng)

    def _state_tensors(self, graph: CapturedGraph) -> list:
        found: dict = {}
        if self._root is not None:
            for tensor in list(self._root.parameters()) + list(self._root.buffers()):
                found[id(tensor)] = tensor
        for kind, where in graph.externals:
            if kind == "tensor":
                found[id(where)] = where
        return list(found.values())

    # -- what users see -----------------------------------------------------------------------------

    def explain(self) -> str:
        """What was captured so far: one line per guard key (replayed ops, or why it runs eagerly)."""
        if not self._cache:
            return "nothing captured yet (call the compiled model first)"
        lines = []
        for number, (key, entry) in enumerate(self._cache.items(), 1):
            mode = "grad" if key[1] else "no_grad"
            shapes = ", ".join(_describe(k) for k in key[2][1:])
            if entry.graph is not None:
                fused = f"; fused: {', '.join(entry.fused)}" if entry.fused else ""
                replay = "replayed as one graph" if entry.checked else "to be checked and replayed from the next call"
                lines.append(f"graph {number} ({mode}; inputs {shapes}): {entry.steps} ops captured, {replay}{fused}")
            else:
                lines.append(f"graph {number} ({mode}; inputs {shapes}): runs eagerly, because {entry.reason}")
        return "\n".join(lines)


class OptimizedModule(Module, _Compiled):
    """``shenjing.compile(module)``: the module, with its calls captured and replayed. Parameters,
    ``state_dict`` (keys under ``_orig_mod.``, as PyTorch's ``OptimizedModule``), ``train()``/``eval()``
    and attributes are the wrapped module's."""

    def __init__(self, module: Module, fullgraph: bool = False, disable: bool = False) -> None:
        super().__init__()
        object.__setattr__(self, "_orig_mod", module)
        self._modules["_orig_mod"] = module
        self._setup(module, module, fullgraph, disable)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._forward_pre_hooks or self._forward_hooks:
            return super().__call__(*args, **kwargs)
        return self._call(args, kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["_orig_mod"], name)

    def __repr__(self) -> str:
        return f"OptimizedModule(\n  (_orig_mod): {repr(self._orig_mod).replace(chr(10), chr(10) + '  ')}\n)"


class CompiledFunction(_Compiled):
    """``shenjing.compile(function)``: the function, with its calls captured and replayed. A call that
    cannot be one graph (a training step: ``loss.backward()`` and ``optimizer.step()`` inside) runs its
    Python code eagerly, and each module that it calls directly runs compiled (``OptimizedModule``),
    so the model's forward and backward are still replayed graphs."""

    def __init__(self, function: Callable, fullgraph: bool = False, disable: bool = False) -> None:
        self._setup(function, None, fullgraph, disable)
        object.__setattr__(self, "_module_calls", _CompiledModuleCalls())
        self.__wrapped__ = function
        for name in ("__name__", "__qualname__", "__doc__", "__module__"):
            try:
                object.__setattr__(self, name, getattr(function, name))
            except AttributeError:
                pass

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(args, kwargs)

    def _eager(self, args: tuple, kwargs: dict) -> Any:
        return self._module_calls.run(self._target, args, kwargs)

    def explain(self) -> str:
        """The function's captures and, where it runs eagerly, the captures of the modules it calls."""
        lines = [super().explain()]
        for module, compiled in self._module_calls.compiled.items():
            inner = compiled.explain().replace("\n", "\n    ")
            lines.append(f"  module {type(module).__name__} called by the function, compiled:\n    {inner}")
        return "\n".join(lines)


class _CompiledModuleCalls:
    """While a compiled function runs eagerly: each module it calls at the top level (not from inside
    another module) goes through a compiled version of itself, made on its first call and kept as long
    as the module lives. ``Module.__call__`` dispatches so while any such function runs (on any thread;
    each thread sees only its own function's modules)."""

    def __init__(self) -> None:
        self.compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.inside = 0

    def run(self, function: Callable, args: tuple, kwargs: dict) -> Any:
        global _running
        with _dispatch_lock:
            if not _running:
                Module.__call__ = _dispatching_call
            _running += 1
        outer = getattr(_this_thread, "calls", None)
        _this_thread.calls = self
        try:
            return function(*args, **kwargs)
        finally:
            _this_thread.calls = outer
            with _dispatch_lock:
                _running -= 1
                if not _running:
                    Module.__call__ = _module_call


_module_call = Module.__call__
_dispatch_lock = threading.Lock()
_running = 0  # compiled functions running eagerly, on all threads
_this_thread = threading.local()  # .calls: the _CompiledModuleCalls of the function running on this thread


def _dispatching_call(module: Module, *args: Any, **kwargs: Any) -> Any:
    calls = getattr(_this_thread, "calls", None)
    if calls is None or calls.inside or is_capturing():
        return _module_call(module, *args, **kwargs)
    compiled = calls.compiled.get(module)
    if compiled is None:
        compiled = calls.compiled[module] = OptimizedModule(module)
    calls.inside += 1
    try:
        return compiled(*args, **kwargs)
    finally:
        calls.inside -= 1


def compile_target(target: Any, fullgraph: bool, disable: bool) -> Any:
    if isinstance(target, Module):
        return OptimizedModule(target, fullgraph, disable)
    if callable(target):
        return CompiledFunction(target, fullgraph, disable)
    raise TypeError(f"shenjing.compile expects an nn.Module or a function, got {type(target).__name__}")


# -- keys, structure and values ---------------------------------------------------------------------

_MODULE_INTERNALS = frozenset({"_parameters", "_buffers", "_modules", "_forward_pre_hooks", "_forward_hooks",
                               "_forward_pre_hooks_with_kwargs", "_forward_hooks_with_kwargs",
                               "_non_persistent_buffers_set"})


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple) and all(v is None or isinstance(v, (bool, int, float, str)) for v in value):
        return value
    return ("object", id(value))


def _plain_attributes(module: Module) -> tuple:
    return tuple((name, _plain(value)) for name, value in module.__dict__.items() if name not in _MODULE_INTERNALS)


def _fingerprint(module: Module) -> tuple:
    return (id(module), type(module), _plain_attributes(module),
            tuple((name, id(p)) for name, p in module._parameters.items()),
            tuple((name, id(b)) for name, b in module._buffers.items()),
            tuple((name, id(m)) for name, m in module._modules.items()))


def _move_state(saved: list, numbers: list | None = None) -> None:
    """Set each saved tensor to its saved value plus 0.1 N(0, 1) noise, the same noise for the same
    position (``numbers``: the positions of ``saved``'s entries in the full list, if it is a part)."""
    for number, (tensor, array) in zip(numbers if numbers is not None else range(len(saved)), saved):
        np.copyto(tensor._data, array)
        if tensor._data.dtype.kind == "f" and tensor._data.size:
            noise = np.random.default_rng((20261207, number)).standard_normal(
                tensor._data.shape, dtype=np.float64 if tensor._data.dtype == np.float64 else np.float32)
            noise *= 0.1
            np.add(tensor._data, noise, out=tensor._data, casting="same_kind")


def _digest(array: np.ndarray) -> bytes:
    """A fingerprint of an array's bytes (whether a call changed it, without keeping a copy)."""
    return hashlib.blake2b(np.ascontiguousarray(array).reshape(-1).view(np.uint8), digest_size=16).digest()


def _key_of(value: Any, tensors: list) -> Any:
    """A hashable description of an argument (tensors: shape, dtype, requires_grad), collecting its tensors."""
    if isinstance(value, Tensor):
        for position, seen in enumerate(tensors):
            if seen is value:  # the same tensor twice (f(x, x)): part of the key
                return ("same as", position)
        tensors.append(value)
        data = value._data
        return (data.shape, data.dtype.str, value._requires_grad)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(_key_of(v, tensors) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple((k, _key_of(v, tensors)) for k, v in value.items())
    try:
        hash(value)
    except TypeError:
        return ("object", id(value))
    return ("value", type(value).__name__, value)


def _describe(key: Any) -> str:
    if type(key) is tuple and len(key) == 3 and isinstance(key[0], tuple):
        return f"{list(key[0])} {np.dtype(key[1]).name}"
    return "..."


def _output_tree(result: Any, capture: Capture, grad_slots: set) -> Any:
    if isinstance(result, Tensor):
        slot = capture.slot_of(result)
        if slot is None:
            return capture.ref(result)
        if result._requires_grad:
            grad_slots.add(slot)
        return (VALUE, slot)
    if isinstance(result, (tuple, list)) and not hasattr(result, "_fields"):
        return ("list" if isinstance(result, list) else "tuple", [_output_tree(r, capture, grad_slots) for r in result])
    if isinstance(result, dict):
        return {k: _output_tree(v, capture, grad_slots) for k, v in result.items()}
    if result is None or isinstance(result, (bool, int, float, str)):
        return (2, result)
    raise TypeError(f"the call returns a {type(result).__name__}, which a replay cannot rebuild")


def _value_slots(tree: Any) -> set:
    """The slots of the graph's values that the output holds."""
    if type(tree) is tuple and len(tree) == 2 and type(tree[0]) is int:
        return {tree[1]} if tree[0] == VALUE else set()
    items = tree.values() if isinstance(tree, dict) else tree[1]
    return set().union(*(_value_slots(item) for item in items)) if items else set()


def _moved(value: Any, generator: np.random.Generator, shift_integers: bool) -> Any:
    """The same structure with other values: floats redrawn, integers shuffled (or moved by one)."""
    if isinstance(value, Tensor):
        data = value._data
        if data.dtype.kind == "f":
            moved = generator.standard_normal(data.shape).astype(data.dtype)
        elif data.dtype.kind in "iub" and data.size:
            moved = generator.permutation(data.reshape(-1)).reshape(data.shape)
            if shift_integers and data.dtype.kind in "iu" and np.array_equal(moved, data):
                moved = np.where(data > 0, data - 1, data + 1).astype(data.dtype)
        else:
            moved = data.copy()
        tensor = Tensor._make(np.ascontiguousarray(moved))
        tensor._requires_grad = value._requires_grad
        return tensor
    if isinstance(value, (tuple, list)):
        return type(value)(_moved(v, generator, shift_integers) for v in value)
    if isinstance(value, dict):
        return {k: _moved(v, generator, shift_integers) for k, v in value.items()}
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (isinstance(a, Tensor) and isinstance(b, Tensor) and a._data.shape == b._data.shape
                and a._data.dtype == b._data.dtype and np.array_equal(a._data, b._data, equal_nan=a._data.dtype.kind == "f"))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _suspects(graph: CapturedGraph) -> str:
    names = []
    for step in graph.steps:
        held = array_constants(step)
        if held and step.op_type is not None:
            names.append(f"{step.op_type.__name__} holds {', '.join(held)}")
    tensors = sum(1 for kind, _ in graph.externals if kind == "tensor")
    found = "; ".join(names[:3]) if names else "no op holds arrays"
    return f"{found}; {tensors} tensors from outside the call"
