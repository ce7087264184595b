"""Backpropagation step by step, with the numbers: the tables the course notes draw by hand.

You name the values you want to see while you compute (a ``Tape``); ``trace`` then asks autograd
for everything a hand calculation writes down:

* forward: the value of every named node;
* backward, for every named node V and each named input U that V is computed from:
  the upstream gradient ∂E/∂V (what arrives at V), the local derivative ∂V/∂U, and their product
  ∂E/∂V · ∂V/∂U — the share of the gradient that V passes down to U. A node's upstream gradient is
  the sum of the shares its consumers pass to it (the chain rule, node by node);
* each variable's gradient, its update −lr·∂E/∂w and the new value, and (with a learning rate)
  the forward pass again with the new values, to see the error fall.

Every number is autograd's: upstream gradients come from ``shenjing.autograd.grad``; the graph between
named nodes is found by walking ``grad_fn.next_functions``; local derivatives and shares are autograd
gradients of V with respect to U in which the other named nodes are held fixed (a tensor hook sets
the gradient flowing through each of them to zero). For tensors the local derivative is a Jacobian
of shape ``V.shape + U.shape`` and the share is the vector-Jacobian product.

>>> import shenjing
>>> def build(tape):
...     x, y, z = tape.variable("x", -2.0), tape.variable("y", 5.0), tape.variable("z", -4.0)
...     q = tape.watch("q", x + y, "x + y")
...     return tape.watch("f", q * z, "q · z")
>>> t = trace(build)
>>> t.value("f"), t.gradient("x"), t.gradient("y"), t.gradient("z")
(-12.0, -4.0, -4.0, 3.0)
>>> t.local("f", "q"), t.downstream("q", "x")
(-4.0, -4.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

import shenjing
from shenjing import autograd
from shenjing._tensor import Tensor
from shenjing.teach._table import Table, format_array, render_tables

__all__ = ["Tape", "trace", "BackpropTrace", "ForwardStep", "BackwardStep", "LocalStep", "Update"]


# -- naming values while computing -----------------------------------------------------------------

@dataclass
class _Entry:
    name: str
    tensor: Tensor
    kind: str  # "constant", "variable" or "value"
    formula: str


def output_index(tensor: Tensor) -> int:
    """Which output of its ``grad_fn`` a tensor is (0 for single-output ops)."""
    return getattr(tensor, "output_nr", getattr(tensor, "_output_nr", 0))


class Tape:
    """The named values of one computation, in the order they were made.

    ``constant`` and ``variable`` make leaf tensors (``variable`` ones require grad and are updated by a
    trace with a learning rate); ``watch`` names a tensor you computed (or a model's parameter) and
    returns it, so it can be used inline: ``q = tape.watch("q", x + y)``. A tensor watched twice keeps
    its first name.

    >>> import shenjing
    >>> tape = Tape()
    >>> a = tape.constant("a", 2.0)
    >>> w = tape.variable("w", 0.5)
    >>> y = tape.watch("y", a * w, "a · w")
    >>> [(e.name, e.kind) for e in tape.entries]
    [('a', 'constant'), ('w', 'variable'), ('y', 'value')]
    """

    def __init__(self, dtype: Any = None, overrides: Mapping[str, Any] | None = None) -> None:
        self.dtype = dtype if dtype is not None else shenjing.float64
        self._overrides = dict(overrides or {})
        self.entries: list[_Entry] = []
        self._by_name: dict[str, _Entry] = {}
        self._leaves: dict[Tensor, _Entry] = {}
        self._values: dict[tuple, _Entry] = {}
        self.unnamed_leaves: list[str] = []  # names given by the trace to leaves found in the graph

    def constant(self, name: str, value: Any, formula: str = "input") -> Tensor:
        """A named leaf without gradient (an input, a target)."""
        tensor = shenjing.tensor(np.asarray(value, dtype=np.float64), dtype=self.dtype)
        self._add(name, tensor, "constant", formula)
        return tensor

    def variable(self, name: str, value: Any, formula: str = "variable") -> Tensor:
        """A named leaf that requires grad (a weight); a second pass after an update gets its new value."""
        value = self._overrides.get(name, value)
        tensor = shenjing.tensor(np.asarray(value, dtype=np.float64), dtype=self.dtype, requires_grad=True)
        self._add(name, tensor, "variable", formula)
        return tensor

    def watch(self, name: str, tensor: Tensor, formula: str | None = None) -> Tensor:
        """Name ``tensor`` (a computed value, or a leaf such as a parameter) and return it.

        A leaf that requires grad counts as a variable; in a trace's second pass (after the update) its
        new value is written into it in place.
        """
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Tape.watch('{name}'): expected a Tensor, got {type(tensor).__name__}")
        if self.lookup(tensor) is not None:
            return tensor
        if tensor.grad_fn is None:
            kind = "variable" if tensor.requires_grad else "constant"
            if kind == "variable" and name in self._overrides:
                with shenjing.no_grad():
                    tensor.copy_(shenjing.tensor(np.asarray(self._overrides[name]), dtype=tensor.dtype))
        else:
            kind = "value"
        default = {"variable": "variable", "constant": "input", "value": ""}[kind]
        self._add(name, tensor, kind, default if formula is None else formula)
        return tensor

    def lookup(self, tensor: Tensor) -> _Entry | None:
        """The entry under which ``tensor`` was named, if any."""
        if tensor.grad_fn is None:
            return self._leaves.get(tensor)
        return self._values.get((tensor.grad_fn, output_index(tensor)))

    def lookup_node(self, node: Any, index: int = 0) -> _Entry | None:
        """The entry of the tensor that is output ``index`` of autograd node ``node``, if named."""
        return self._values.get((node, index))

    def __getitem__(self, name: str) -> Tensor:
        return self._by_name[name].tensor

    def _add(self, name: str, tensor: Tensor, kind: str, formula: str) -> None:
        if name in self._by_name:
            raise ValueError(f"Tape: the name '{name}' is already used; give each value its own name")
        entry = _Entry(name, tensor, kind, formula)
        self.entries.append(entry)
        self._by_name[name] = entry
        if tensor.grad_fn is None:
            self._leaves[tensor] = entry
        else:
            self._values[(tensor.grad_fn, output_index(tensor))] = entry


# -- the result --------------------------------------------------------------------------------------

@dataclass
class ForwardStep:
    """One named value of the forward pass (``after``: its value in the pass after the update)."""

    name: str
    kind: str
    formula: str
    value: np.ndarray
    after: np.ndarray | None = None


@dataclass
class LocalStep:
    """What node V passes to one of its inputs U: ``local`` = ∂V/∂U (None when the Jacobian is too big to
    show), ``downstream`` = ∂E/∂V · ∂V/∂U."""

    input: str
    local: np.ndarray | None
    downstream: np.ndarray


@dataclass
class BackwardStep:
    """A named node in the backward pass: the gradient arriving at it and what it passes to each input.
    ``ops`` lists the autograd nodes between it and its named inputs (e.g. ``MulBackward0``)."""

    name: str
    upstream: np.ndarray
    inputs: list[LocalStep]
    ops: list[str] = field(default_factory=list)


@dataclass
class Update:
    """A gradient-descent step for one variable: ``new = value − lr · grad``."""

    name: str
    value: np.ndarray
    grad: np.ndarray
    lr: float
    new_value: np.ndarray


@dataclass
class BackpropTrace:
    """The forward and backward pass of one computation, as numbers; print it or render it as tables.

    ``value(name)``, ``gradient(name)`` (∂E/∂name), ``local(v, u)``, ``downstream(v, u)``,
    ``new_value(name)`` and ``after(name)`` return plain floats for scalars and arrays otherwise.
    """

    output: str
    forward: list[ForwardStep]
    backward: list[BackwardStep]
    gradients: dict[str, np.ndarray]
    updates: list[Update]
    lr: float | None = None
    title: str = "Backpropagation trace"
    remarks: list[str] = field(default_factory=list)

    # -- looking numbers up -----------------------------------------------------------------------

    def value(self, name: str) -> Any:
        return _plain(self._forward_step(name).value)

    def after(self, name: str) -> Any:
        step = self._forward_step(name)
        if step.after is None:
            raise KeyError(f"no value after an update for '{name}' (trace with a learning rate)")
        return _plain(step.after)

    def gradient(self, name: str) -> Any:
        if name not in self.gradients:
            raise KeyError(f"'{name}' has no gradient (a constant, or not used to compute '{self.output}')")
        return _plain(self.gradients[name])

    def local(self, node: str, input: str) -> Any:
        local = self._local_step(node, input).local
        if local is None:
            raise ValueError(f"the Jacobian ∂{node}/∂{input} was too big to keep; raise max_jacobian")
        return _plain(local)

    def downstream(self, node: str, input: str) -> Any:
        return _plain(self._local_step(node, input).downstream)

    def new_value(self, name: str) -> Any:
        for update in self.updates:
            if update.name == name:
                return _plain(update.new_value)
        raise KeyError(f"no update for '{name}' (only variables are updated, and only with a learning rate)")

    def _forward_step(self, name: str) -> ForwardStep:
        for step in self.forward:
            if step.name == name:
                return step
        raise KeyError(f"no value named '{name}'; names: {', '.join(s.name for s in self.forward)}")

    def _local_step(self, node: str, input: str) -> LocalStep:
        for step in self.backward:
            if step.name == node:
                for local in step.inputs:
                    if local.input == input:
                        return local
                raise KeyError(f"'{node}' is not computed directly from '{input}'; its inputs: "
                               f"{', '.join(s.input for s in step.inputs)}")
        raise KeyError(f"no backward step for '{node}'")

    # -- tables -------------------------------------------------------------------------------------

    def tables(self, digits: int = 4) -> list[Table]:
        """The forward table, the backward table and (for variables) the gradients and updates."""
        E = self.output

        def fmt(value: Any) -> str:
            return "" if value is None else format_array(value, digits)

        has_after = any(s.after is not None for s in self.forward)
        forward = Table(["#", "node", "computed as", "value"] + (["after update"] if has_after else []),
                        title="Forward pass", align_right=(3, 4))
        for i, step in enumerate(self.forward, 1):
            forward.add(i, step.name, step.formula, fmt(step.value), *([fmt(step.after)] if has_after else []))

        backward = Table(["node", f"upstream ∂{E}/∂node", "input", "local ∂node/∂input",
                          "downstream = upstream × local"], title="Backward pass", align_right=(1, 3, 4))
        for step in self.backward:
            if not step.inputs:
                backward.add(step.name, fmt(step.upstream), "", "", "")
            for k, local in enumerate(step.inputs):
                local_text = fmt(local.local) if local.local is not None else "(Jacobian too big to show)"
                backward.add(step.name if k == 0 else "", fmt(step.upstream) if k == 0 else "", local.input,
                             local_text, fmt(local.downstream))
        backward.notes = ["A node's upstream gradient is the sum of the downstream values its consumers pass to it;",
                          f"the pass starts at {E} (with 1 for a scalar loss). For tensors 'local' is the Jacobian",
                          "(node's shape + input's shape) and 'downstream' the vector-Jacobian product."]
        tables = [forward, backward]
        variables = [s for s in self.forward if s.kind == "variable" and s.name in self.gradients]
        if variables:
            if self.updates:
                updates = Table(["variable", "value", f"gradient ∂{E}/∂variable", f"update −lr·gradient (lr = {self.lr:g})",
                                 "new value"], title="Gradients and updates", align_right=(1, 2, 3, 4))
                for u in self.updates:
                    updates.add(u.name, fmt(u.value), fmt(u.grad), fmt(-u.lr * u.grad), fmt(u.new_value))
            else:
                updates = Table(["variable", "value", f"gradient ∂{E}/∂variable"], title="Gradients",
                                align_right=(1, 2))
                for s in variables:
                    updates.add(s.name, fmt(s.value), fmt(self.gradients[s.name]))
            tables.append(updates)
        return tables

    def render(self, format: str = "text", digits: int = 4) -> str:
        """The trace as a terminal table (``text``), ``markdown`` or a standalone ``html`` page."""
        return render_tables(self.title, self.tables(digits), format, tail=self.remarks)

    def text(self, digits: int = 4) -> str:
        return self.render("text", digits)

    def markdown(self, digits: int = 4) -> str:
        return self.render("markdown", digits)

    def html(self, digits: int = 4) -> str:
        return self.render("html", digits)

    def __str__(self) -> str:
        return self.text()


def _plain(array: np.ndarray) -> Any:
    return float(array) if np.ndim(array) == 0 else np.array(array)


# -- the trace -----------------------------------------------------------------------------------------

def trace(build: Callable[[Tape], Tensor], lr: float | None = None, grad_output: Any = None, *,
          dtype: Any = None, max_jacobian: int = 64, title: str = "Backpropagation trace") -> BackpropTrace:
    """Run ``build(tape)``, backpropagate from the tensor it returns and record every step.

    ``build`` makes its inputs with ``tape.constant`` / ``tape.variable`` and names the values to show
    with ``tape.watch``; it returns the output E (usually the loss). ``grad_output`` seeds the backward
    pass (default 1 for a scalar E). With a learning rate ``lr`` every variable gets the update
    ``w − lr·∂E/∂w`` and ``build`` runs a second time with the new values (column "after update").
    Jacobians with more than ``max_jacobian`` entries are not kept (shares are always computed).

    >>> def build(tape):
    ...     w = tape.variable("w", 3.0)
    ...     return tape.watch("E", (w - 1.0) ** 2 / 2, "(w − 1)²/2")
    >>> t = trace(build, lr=0.5)
    >>> t.gradient("w"), t.new_value("w"), t.after("E")
    (2.0, 2.0, 0.5)
    """
    tape = Tape(dtype)
    output = build(tape)
    if not isinstance(output, Tensor):
        raise TypeError(f"trace: build(tape) must return a Tensor, got {type(output).__name__}")
    if not output.requires_grad:
        raise ValueError("trace: the output does not depend on any variable (make inputs with tape.variable, "
                         "or watch tensors that require grad)")
    out_entry = tape.lookup(output) or _watched(tape, "output", output)
    seed = _seed(output, grad_output)

    _name_unnamed_leaves(tape, output)
    differentiable = [e for e in tape.entries if e.tensor.requires_grad and e is not out_entry]
    gradients = _total_gradients(output, seed, differentiable)
    gradients[out_entry.name] = np.array(seed._data, dtype=np.float64)

    nodes = [e for e in tape.entries if e.kind == "value" and e.name in gradients]
    direct = {e.name: _direct_inputs(tape, e) for e in nodes}
    backward = []
    for entry in _backward_order(tape, nodes, direct):
        inputs, ops = direct[entry.name]
        steps = [_local_step(tape, entry, u, gradients[entry.name], max_jacobian) for u in inputs]
        backward.append(BackwardStep(entry.name, gradients[entry.name], steps, ops))

    forward = [ForwardStep(e.name, e.kind, e.formula, np.array(e.tensor._data, dtype=np.float64))
               for e in tape.entries]
    result = BackpropTrace(out_entry.name, forward, backward, gradients, [], lr, title)
    if lr is not None:
        _update_and_rerun(result, build, tape, lr, dtype)
    return result


def _watched(tape: Tape, name: str, tensor: Tensor) -> _Entry:
    tape.watch(name, tensor)
    return tape.lookup(tensor)


def _seed(output: Tensor, grad_output: Any) -> Tensor:
    if grad_output is None:
        if output.numel() != 1:
            raise ValueError(f"trace: the output has shape {list(output.shape)}; pass grad_output (the gradient "
                             f"to start from) or return a scalar such as a loss")
        return shenjing.ones_like(output)
    return shenjing.tensor(np.broadcast_to(np.asarray(grad_output, dtype=np.float64), tuple(output.shape)),
                           dtype=output.dtype)


def _name_unnamed_leaves(tape: Tape, output: Tensor) -> None:
    """Leaves that require grad but were not named get names leaf1, leaf2, ... (found in the graph)."""
    seen, stack, count = {}, [output.grad_fn], 0
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen[node] = True
        for child, _ in node.next_functions:
            if child is None:
                continue
            variable = getattr(child, "variable", None)
            if variable is not None:
                if tape.lookup(variable) is None:
                    count += 1
                    tape.watch(f"leaf{count}", variable)
                    tape.unnamed_leaves.append(f"leaf{count}")
            else:
                stack.append(child)
    if count:  # leaves existed before anything was computed from them: list them first
        found = [e for e in tape.entries if e.name in tape.unnamed_leaves]
        tape.entries[:] = found + [e for e in tape.entries if e.name not in tape.unnamed_leaves]


def _total_gradients(output: Tensor, seed: Tensor, entries: Sequence[_Entry]) -> dict[str, np.ndarray]:
    """∂E/∂(each named tensor), from one autograd.grad call; unused ones are left out."""
    if not entries:
        return {}
    grads = autograd.grad([output], [e.tensor for e in entries], [seed], retain_graph=True, allow_unused=True)
    return {e.name: np.array(g._data, dtype=np.float64) for e, g in zip(entries, grads) if g is not None}


def _direct_inputs(tape: Tape, entry: _Entry) -> tuple[list[_Entry], list[str]]:
    """The named tensors ``entry`` is computed from directly (through unnamed nodes only), in argument
    order, and the names of the autograd nodes in between (inputs first)."""
    found: dict[str, _Entry] = {}
    ops: list[str] = []
    seen: dict = {}
    stack: list = [entry.tensor.grad_fn]
    while stack:  # depth first, first argument first
        item = stack.pop()
        if isinstance(item, _Entry):
            found.setdefault(item.name, item)
            continue
        if item in seen:
            continue
        seen[item] = True
        ops.append(item.name())
        children: list = []
        for child, nr in item.next_functions:
            if child is None:
                continue
            variable = getattr(child, "variable", None)
            named = tape.lookup(variable) if variable is not None else tape.lookup_node(child, nr)
            if named is not None:
                children.append(named)
            elif variable is None:
                children.append(child)
        stack.extend(reversed(children))
    return list(found.values()), list(reversed(ops))


def _backward_order(tape: Tape, nodes: list[_Entry], direct: dict) -> list[_Entry]:
    """Reverse topological order of the named nodes (a node comes after all its consumers); among the
    nodes that are ready, the one made first goes first (so unit h1 before unit h2)."""
    position = {e.name: i for i, e in enumerate(tape.entries)}
    consumers = {e.name: 0 for e in nodes}
    for e in nodes:
        for u in direct[e.name][0]:
            if u.name in consumers:
                consumers[u.name] += 1
    ready = [e for e in nodes if consumers[e.name] == 0]
    order = []
    while ready:
        ready.sort(key=lambda e: position[e.name])
        entry = ready.pop(0)
        order.append(entry)
        for u in direct[entry.name][0]:
            if u.name in consumers:
                consumers[u.name] -= 1
                if consumers[u.name] == 0:
                    ready.append(u)
    return order


def _zero(grad: Tensor) -> Tensor:
    return shenjing.zeros_like(grad)


def _local_step(tape: Tape, node: _Entry, input: _Entry, upstream: np.ndarray, max_jacobian: int) -> LocalStep:
    """∂node/∂input with every other named value held fixed, and the share upstream · ∂node/∂input."""
    handles = [e.tensor.register_hook(_zero) for e in tape.entries
               if e.kind == "value" and e is not node and e is not input]
    try:
        v, u = node.tensor, input.tensor
        seed = shenjing.tensor(upstream, dtype=v.dtype)
        (share,) = autograd.grad([v], [u], [seed], retain_graph=True, allow_unused=True)
        downstream = np.zeros(tuple(u.shape)) if share is None else np.array(share._data, dtype=np.float64)
        local = None
        if v.numel() * u.numel() <= max_jacobian:
            rows = []
            for j in range(v.numel()):
                unit = np.zeros(v.numel())
                unit[j] = 1.0
                (row,) = autograd.grad([v], [u], [shenjing.tensor(unit.reshape(tuple(v.shape)), dtype=v.dtype)],
                                       retain_graph=True, allow_unused=True)
                rows.append(np.zeros(tuple(u.shape)) if row is None else np.array(row._data, dtype=np.float64))
            local = np.stack(rows).reshape(tuple(v.shape) + tuple(u.shape))
    finally:
        for handle in handles:
            handle.remove()
    return LocalStep(input.name, local, downstream)


def _update_and_rerun(result: BackpropTrace, build: Callable[[Tape], Tensor], tape: Tape, lr: float,
                      dtype: Any) -> None:
    """Gradient descent on every variable, then the forward pass again with the new values."""
    new_values = {}
    for entry in tape.entries:
        if entry.kind == "variable" and entry.name in result.gradients \
                and entry.name not in tape.unnamed_leaves:
            value = np.array(entry.tensor._data, dtype=np.float64)
            grad = result.gradients[entry.name]
            new = value - lr * grad
            result.updates.append(Update(entry.name, value, grad, lr, new))
            new_values[entry.name] = new
    second = Tape(dtype, overrides=new_values)
    output = build(second)
    if second.lookup(output) is None:
        second.watch(result.output, output)
    after = {e.name: np.array(e.tensor._data, dtype=np.float64) for e in second.entries}
    for step in result.forward:
        step.after = after.get(step.name)
