"""The computational graph behind a tensor, drawn: Graphviz DOT (and SVG/PNG when Graphviz is installed)
or a tree of text in the terminal.

The graph is autograd's own: starting at ``output.grad_fn`` it follows ``next_functions`` down to the
leaves (``AccumulateGrad`` nodes). Each op node shows its name (``MulBackward0``), the shape of the value
it made, the value itself when small and known, and its gradient when available. Values are known for
the output, for tensors you name (``names``), for leaves, and for whatever the ops saved for backward;
gradients for leaves that have ``.grad``, retained tensors, and those you pass in ``gradients``.

>>> import shenjing
>>> x = shenjing.tensor(-2.0, requires_grad=True)
>>> y = shenjing.tensor(5.0, requires_grad=True)
>>> z = shenjing.tensor(-4.0, requires_grad=True)
>>> f = (x + y) * z
>>> print(text_tree(f, names={"x": x, "y": y, "z": z}))
output = MulBackward0  scalar  -12
├── AddBackward0  scalar  3
│   ├── x (leaf)  scalar  -2
│   └── y (leaf)  scalar  5
└── z (leaf)  scalar  -4
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from shenjing._tensor import Tensor
from shenjing.teach._table import format_array
from shenjing.teach.trace import output_index

__all__ = ["Graph", "GraphNode", "build_graph", "to_dot", "text_tree", "render", "graph_of_build",
           "GraphvizNotFound"]


class GraphvizNotFound(RuntimeError):
    """Rendering SVG/PNG needs Graphviz's ``dot`` program, which is not installed."""


@dataclass
class GraphNode:
    """An autograd node (``kind`` 'op') or a leaf tensor (``kind`` 'leaf'); ``inputs`` are node ids."""

    id: str
    kind: str
    op: str
    name: str | None
    shape: tuple[int, ...] | None
    value: np.ndarray | None
    grad: np.ndarray | None
    inputs: list[str] = field(default_factory=list)

    def describe(self, digits: int = 4, max_items: int = 8) -> list[str]:
        """The label's parts: title, shape, value, gradient (those that are known)."""
        title = f"{self.name} (leaf)" if self.kind == "leaf" else (f"{self.name} = {self.op}" if self.name
                                                                   else self.op)
        parts = [title]
        if self.shape is not None:
            parts.append("scalar" if self.shape == () else "×".join(map(str, self.shape)))
        if self.value is not None and self.value.size <= max_items:
            parts.append(format_array(self.value, digits, max_items))
        if self.grad is not None and self.grad.size <= max_items:
            parts.append(f"grad {format_array(self.grad, digits, max_items)}")
        return parts


@dataclass
class Graph:
    """The graph behind one tensor: nodes from the output down (``nodes[0]`` is the output's node)."""

    nodes: list[GraphNode]

    @property
    def root(self) -> GraphNode:
        return self.nodes[0]

    def ops(self) -> list[str]:
        """The op names in the graph (one per op node, e.g. ``['MulBackward0', 'AddBackward0']``)."""
        return [n.op for n in self.nodes if n.kind == "op"]

    def node(self, id: str) -> GraphNode:
        """The node with this id (``n0`` is the output's)."""
        index = int(id[1:]) if id[:1] == "n" and id[1:].isdigit() else -1
        if 0 <= index < len(self.nodes) and self.nodes[index].id == id:
            return self.nodes[index]
        for n in self.nodes:
            if n.id == id:
                return n
        raise KeyError(id)

    def to_dot(self, digits: int = 4, max_items: int = 8) -> str:
        """Graphviz DOT text: data flows left to right, from the leaves (blue) to the output (green)."""
        lines = ["digraph computational_graph {", "  rankdir=LR;",
                 '  node [fontname="Helvetica", fontsize=11, style=filled];']
        ordered = self._inputs_first()
        for n in ordered:
            label = "\\n".join(_dot_escape(p) for p in n.describe(digits, max_items))
            if n.kind == "leaf":
                style = 'shape=box, fillcolor="lightblue"'
            elif n is self.root:
                style = 'shape=box, fillcolor="darkolivegreen1", peripheries=2'
            else:
                style = 'shape=box, style="rounded,filled", fillcolor="lightgrey"'
            lines.append(f'  {n.id} [label="{label}", {style}];')
        for n in ordered:
            for source in n.inputs:
                lines.append(f"  {source} -> {n.id};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _inputs_first(self) -> list[GraphNode]:
        """Depth-first post-order, first argument first: Graphviz then draws inputs in argument order."""
        order: list[GraphNode] = []
        done: dict[str, bool] = {}
        stack: list[tuple[str, bool]] = [(self.root.id, False)]
        while stack:
            node_id, expanded = stack.pop()
            if node_id in done:
                continue
            if expanded:
                done[node_id] = True
                order.append(self.node(node_id))
                continue
            stack.append((node_id, True))
            stack.extend((c, False) for c in reversed(self.node(node_id).inputs) if c not in done)
        return order

    def tree(self, digits: int = 4, max_items: int = 8) -> str:
        """The graph as indented text, output first; a node reached twice is shown once."""
        lines: list[str] = []
        shown: dict[str, bool] = {}
        # iterative depth-first walk: (node id, prefix for this line, prefix for its children, connector)
        stack = [(self.root.id, "", "", "")]
        while stack:
            node_id, prefix, child_prefix, connector = stack.pop()
            n = self.node(node_id)
            text = "  ".join(n.describe(digits, max_items))
            if node_id in shown and n.inputs:
                lines.append(f"{prefix}{connector}{text}  (inputs shown above)")
                continue
            shown[node_id] = True
            lines.append(f"{prefix}{connector}{text}")
            children = n.inputs
            for k in reversed(range(len(children))):
                last = k == len(children) - 1
                stack.append((children[k], child_prefix, child_prefix + ("    " if last else "│   "),
                              "└── " if last else "├── "))
        return "\n".join(lines)

    def render(self, path: str | Path, format: str | None = None) -> Path:
        """Write the graph to ``path``: ``.dot``/``.gv`` as DOT text; ``.svg``, ``.png``, ``.pdf`` through
        Graphviz's ``dot``. Without Graphviz, raises ``GraphvizNotFound`` (saying how to install it) after
        writing the DOT text next to ``path``."""
        path = Path(path)
        format = (format or path.suffix.lstrip(".") or "dot").lower()
        if format in ("dot", "gv"):
            path.write_text(self.to_dot(), encoding="utf-8")
            return path
        program = shutil.which("dot")
        if program is None:
            dot_path = path.with_suffix(".dot")
            dot_path.write_text(self.to_dot(), encoding="utf-8")
            raise GraphvizNotFound(
                f"drawing {path.name} needs Graphviz's `dot` program, which is not installed (Debian/Ubuntu: "
                f"apt-get install graphviz; macOS: brew install graphviz; Windows: winget install graphviz). "
                f"The graph was written as DOT text to {dot_path}; `dot -T{format} {dot_path} -o {path}` "
                f"draws it once Graphviz is there.")
        done = subprocess.run([program, f"-T{format}", "-o", str(path)], input=self.to_dot().encode("utf-8"),
                              capture_output=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"dot failed to draw {path}: {done.stderr.decode(errors='replace').strip()}")
        return path

    def __str__(self) -> str:
        return self.tree()


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _saved_values(node: Any) -> list[Tensor]:
    try:
        return [t for t in node.saved_tensors if isinstance(t, Tensor)]
    except (RuntimeError, AttributeError, TypeError):  # freed after backward, or changed in place
        return []


def build_graph(output: Tensor, names: Mapping[str, Tensor] | None = None,
                gradients: Mapping[str, Any] | None = None) -> Graph:
    """Walk autograd's graph from ``output`` down to the leaves.

    ``names`` labels tensors (leaves such as parameters, or intermediate values); ``gradients`` gives
    gradients by those names (e.g. from a backprop trace). The output is named ``output`` unless named.
    """
    if not isinstance(output, Tensor):
        raise TypeError(f"build_graph expects a Tensor, got {type(output).__name__}")
    if output.grad_fn is None:
        raise ValueError("this tensor has no graph behind it (grad_fn is None): compute it from tensors with "
                         "requires_grad=True, outside no_grad()")
    names = dict(names or {})
    gradients = dict(gradients or {})
    leaf_names = {t: n for n, t in names.items() if isinstance(t, Tensor) and t.grad_fn is None}
    value_names = {(t.grad_fn, output_index(t)): (n, t) for n, t in names.items()
                   if isinstance(t, Tensor) and t.grad_fn is not None}
    if (output.grad_fn, output_index(output)) not in value_names:
        value_names[(output.grad_fn, output_index(output))] = ("output", output)

    ids: dict[Any, str] = {}
    order: list[Any] = []
    stack = [output.grad_fn]
    ids[output.grad_fn] = "n0"
    order.append(output.grad_fn)
    known: dict[tuple, np.ndarray] = {}
    shapes: dict[Any, tuple] = {}
    while stack:
        node = stack.pop()
        for t in _saved_values(node):  # values the op kept for backward reveal other nodes' outputs
            if t.grad_fn is not None:
                known.setdefault((t.grad_fn, output_index(t)), np.array(t._data))
        meta = getattr(node, "_input_meta", None) or []
        for k, (child, _) in enumerate(node.next_functions):
            if child is None:
                continue
            if k < len(meta) and meta[k] is not None:
                shapes.setdefault(child, tuple(meta[k][0]))
            if child not in ids:
                ids[child] = f"n{len(ids)}"
                order.append(child)
                if getattr(child, "variable", None) is None:
                    stack.append(child)

    nodes = []
    for node in order:
        variable = getattr(node, "variable", None)
        inputs = [ids[c] for c, _ in node.next_functions if c is not None]
        if variable is not None:
            name = leaf_names.get(variable, "leaf")
            grad = gradients.get(name, variable.grad._data if variable.grad is not None else None)
            nodes.append(GraphNode(ids[node], "leaf", "AccumulateGrad", name, tuple(variable.shape),
                                   np.array(variable._data), _array(grad), []))
            continue
        named = value_names.get((node, 0))
        name, tensor = named if named else (None, None)
        value = np.array(tensor._data) if tensor is not None else known.get((node, 0))
        grad = gradients.get(name) if name else None
        if grad is None and tensor is not None and tensor.grad is not None:
            grad = tensor.grad._data
        shape = tuple(value.shape) if value is not None else shapes.get(node)
        nodes.append(GraphNode(ids[node], "op", node.name(), name, shape, value, _array(grad), inputs))
    return Graph(nodes)


def _array(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, Tensor):
        return np.array(value._data)
    return np.asarray(value)


def to_dot(output: Tensor, names: Mapping[str, Tensor] | None = None,
           gradients: Mapping[str, Any] | None = None) -> str:
    """The graph behind ``output`` as Graphviz DOT text (see ``build_graph``)."""
    return build_graph(output, names, gradients).to_dot()


def text_tree(output: Tensor, names: Mapping[str, Tensor] | None = None,
              gradients: Mapping[str, Any] | None = None) -> str:
    """The graph behind ``output`` as an indented tree of text, output first."""
    return build_graph(output, names, gradients).tree()


def render(output: Tensor, path: str | Path, names: Mapping[str, Tensor] | None = None,
           gradients: Mapping[str, Any] | None = None, format: str | None = None) -> Path:
    """Draw the graph behind ``output`` into ``path`` (.dot, or .svg/.png/.pdf with Graphviz installed)."""
    return build_graph(output, names, gradients).render(path, format)


def graph_of_build(build: Callable[[Any], Tensor], grad_output: Any = None) -> Graph:
    """The graph of a traced computation (``build(tape)`` as for ``shenjing.teach.trace``), with every named
    value and the gradient of the output with respect to each named tensor (from autograd).

    >>> def build(tape):
    ...     x, y = tape.variable("x", 3.0), tape.variable("y", 4.0)
    ...     return tape.watch("f", x * y)
    >>> graph = graph_of_build(build)
    >>> graph.ops(), graph.root.name, [float(n.grad) for n in graph.nodes if n.kind == "leaf"]
    (['MulBackward0'], 'f', [4.0, 3.0])
    """
    import shenjing
    from shenjing import autograd
    from shenjing.teach.trace import Tape

    tape = Tape()
    output = build(tape)
    named = {e.name: e.tensor for e in tape.entries}
    if tape.lookup(output) is None:
        named["output"] = output
    wanted = [(n, t) for n, t in named.items() if t.requires_grad and t is not output]
    if grad_output is None:
        seed = shenjing.ones_like(output)
    else:
        seed = shenjing.tensor(np.broadcast_to(np.asarray(grad_output, dtype=np.float64), tuple(output.shape)),
                               dtype=output.dtype)
    grads = autograd.grad([output], [t for _, t in wanted], [seed], retain_graph=True, allow_unused=True)
    gradients = {n: np.array(g._data) for (n, _), g in zip(wanted, grads) if g is not None}
    out_name = tape.lookup(output).name if tape.lookup(output) else "output"
    gradients[out_name] = np.array(seed._data)
    return build_graph(output, named, gradients)
