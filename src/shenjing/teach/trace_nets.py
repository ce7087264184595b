"""Ready-made backprop traces: small networks written as JSON, the course's worked examples, your models.

A network spec (a dict, or a JSON file for ``shenjing trace FILE.json``) describes a fully connected
network neuron by neuron, the way the notes draw it::

    {
      "title": "my net",                           (optional)
      "inputs": [0.35, 0.9],                       one training example
      "input_names": ["A", "B"],                   (optional; default x1, x2, ...)
      "layers": [
        {"weights": [[0.1, 0.8], [0.4, 0.6]],      one row per unit: the weights of its inputs
         "bias": [0.0, 0.0],                       (optional; leave out for a layer without biases)
         "activation": "sigmoid",                  sigmoid (default), tanh, relu, leaky_relu, softplus, identity
         "units": ["h1", "h2"],                    (optional unit names; default h1, h2, ... and o1, o2, ...)
         "weight_names": [["w3", "w4"], ["w5", "w6"]],   (optional; default w_h1_A, ...)
         "bias_names": ["b1", "b2"]},              (optional; default b_h1, ...)
        {"weights": [[0.3, 0.9]], "units": ["o"], "weight_names": [["w1", "w2"]]}
      ],
      "target": [0.5],                             one value per output unit (a class index for cross_entropy)
      "loss": "half_squared_error",                half_squared_error (default, E = ½Σ(t − o)²), squared_error,
                                                   mse, binary_cross_entropy, cross_entropy
      "lr": 1.0                                    (optional) learning rate of the update step
    }

Each unit j gets two rows: ``net_j`` (the weighted sum) and ``out_j`` (the activation; a unit with the
identity activation has only ``net_j``). Every weight is its own scalar variable, so the backward table
shows each weight's local derivative (the input it multiplies) and gradient.
"""

from __future__ import annotations

import copy
import json
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

import shenjing
from shenjing._tensor import Tensor
from shenjing.teach._table import format_number
from shenjing.teach.trace import BackpropTrace, Tape, trace

__all__ = ["network_trace", "network_builder", "bp_example", "BP_EXAMPLE", "graph_examples",
           "graph_example_builders", "trace_model", "model_builder", "trace_file", "load_build", "TraceSource",
           "check_network_spec", "ACTIVATIONS", "LOSSES"]


def _leaky_relu(x: Tensor, slope: float) -> Tensor:
    from shenjing.nn import functional as F

    return F.leaky_relu(x, slope)


def _softplus(x: Tensor, slope: float) -> Tensor:
    from shenjing.nn import functional as F

    return F.softplus(x)


ACTIVATIONS: dict[str, Callable[[Tensor, float], Tensor] | None] = {
    "sigmoid": lambda x, slope: shenjing.sigmoid(x),
    "tanh": lambda x, slope: shenjing.tanh(x),
    "relu": lambda x, slope: shenjing.relu(x),
    "leaky_relu": _leaky_relu,
    "softplus": _softplus,
    "identity": None,
}

LOSSES = ("half_squared_error", "squared_error", "mse", "binary_cross_entropy", "cross_entropy")

BP_EXAMPLE: dict[str, Any] = {
    "title": "Seed 004, 'BP算法: 简单例子': a 2-2-1 sigmoid network, one update with learning rate 1",
    "inputs": [0.35, 0.9],
    "input_names": ["A", "B"],
    "layers": [
        {"weights": [[0.1, 0.8], [0.4, 0.6]], "activation": "sigmoid", "units": ["h1", "h2"],
         "weight_names": [["w3", "w4"], ["w5", "w6"]]},
        {"weights": [[0.3, 0.9]], "activation": "sigmoid", "units": ["o"], "weight_names": [["w1", "w2"]]},
    ],
    "target": [0.5],
    "loss": "half_squared_error",
    "lr": 1.0,
}


def check_network_spec(spec: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the first thing wrong with a network spec (see the module docstring)."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"a network spec is a JSON object, got {type(spec).__name__}")
    for key in ("inputs", "layers", "target"):
        if key not in spec:
            raise ValueError(f"the network spec has no '{key}'")
    unknown = set(spec) - {"title", "inputs", "input_names", "layers", "target", "loss", "lr"}
    if unknown:
        raise ValueError(f"unknown key(s) in the network spec: {', '.join(sorted(unknown))}")
    n_in = len(_numbers(spec["inputs"], "inputs"))
    if "input_names" in spec and len(spec["input_names"]) != n_in:
        raise ValueError(f"input_names has {len(spec['input_names'])} names for {n_in} inputs")
    if not isinstance(spec["layers"], list) or not spec["layers"]:
        raise ValueError("'layers' must be a non-empty list of layers")
    for k, layer in enumerate(spec["layers"], 1):
        if not isinstance(layer, Mapping) or "weights" not in layer:
            raise ValueError(f"layer {k} must be an object with 'weights' (one row of input weights per unit)")
        extra = set(layer) - {"weights", "bias", "activation", "units", "weight_names", "bias_names",
                              "negative_slope"}
        if extra:
            raise ValueError(f"layer {k}: unknown key(s) {', '.join(sorted(extra))}")
        rows = layer["weights"]
        if not isinstance(rows, list) or not rows:
            raise ValueError(f"layer {k}: 'weights' must be a list with one row per unit")
        for i, row in enumerate(rows, 1):
            if len(_numbers(row, f"layer {k} weights row {i}")) != n_in:
                raise ValueError(f"layer {k}: unit {i} has {len(row)} weights but the layer has {n_in} inputs")
        units = len(rows)
        if layer.get("bias") is not None and len(_numbers(layer["bias"], f"layer {k} bias")) != units:
            raise ValueError(f"layer {k}: 'bias' needs {units} values (one per unit)")
        activation = layer.get("activation", "sigmoid")
        if activation not in ACTIVATIONS:
            raise ValueError(f"layer {k}: unknown activation '{activation}'; expected one of {', '.join(ACTIVATIONS)}")
        for key, count in (("units", units), ("bias_names", units)):
            if key in layer and len(layer[key]) != count:
                raise ValueError(f"layer {k}: '{key}' needs {count} names")
        if "weight_names" in layer and [len(r) for r in layer["weight_names"]] != [n_in] * units:
            raise ValueError(f"layer {k}: 'weight_names' needs {units} rows of {n_in} names")
        n_in = units
    loss = spec.get("loss", "half_squared_error")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss '{loss}'; expected one of {', '.join(LOSSES)}")
    if loss == "cross_entropy":
        target = spec["target"]
        if isinstance(target, list):
            if len(target) != n_in:
                raise ValueError(f"cross_entropy: a one-hot target needs {n_in} values")
        elif not isinstance(target, int) or not 0 <= target < n_in:
            raise ValueError(f"cross_entropy: the target must be a class index 0..{n_in - 1} or a one-hot list")
    elif len(_numbers(spec["target"], "target")) != n_in:
        raise ValueError(f"'target' needs {n_in} values (one per output unit)")


def _numbers(values: Any, what: str) -> list[float]:
    values = values if isinstance(values, list) else [values]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{what}: expected numbers, got {v!r}")
    return [float(v) for v in values]


def network_builder(spec: Mapping[str, Any]) -> Callable[[Tape], Tensor]:
    """``build(tape)`` for a network spec: the function ``trace`` runs (see the module docstring)."""
    check_network_spec(spec)
    inputs = _numbers(spec["inputs"], "inputs")
    input_names = list(spec.get("input_names") or [f"x{i}" for i in range(1, len(inputs) + 1)])
    layers = spec["layers"]
    loss = spec.get("loss", "half_squared_error")

    def unit_names(k: int, layer: Mapping[str, Any]) -> list[str]:
        if "units" in layer:
            return list(layer["units"])
        count = len(layer["weights"])
        if k == len(layers) - 1:
            return ["o"] if count == 1 else [f"o{i}" for i in range(1, count + 1)]
        prefix = "h" if len(layers) == 2 else f"h{k + 1}_"
        return [f"{prefix}{i}" for i in range(1, count + 1)]

    def build(tape: Tape) -> Tensor:
        values = [tape.constant(name, v) for name, v in zip(input_names, inputs)]
        plan = []  # per layer: units, weight names, weights, bias names, biases, activation, slope
        previous = list(input_names)
        for k, layer in enumerate(layers):
            units = unit_names(k, layer)
            wnames = layer.get("weight_names") or [[f"w_{u}_{n}" for n in previous] for u in units]
            weights = [[tape.variable(wnames[i][j], w) for j, w in enumerate(row)]
                       for i, row in enumerate(layer["weights"])]
            bnames, biases = layer.get("bias_names") or [f"b_{u}" for u in units], None
            if layer.get("bias") is not None:
                biases = [tape.variable(bnames[i], b) for i, b in enumerate(layer["bias"])]
            plan.append((units, wnames, weights, bnames, biases, layer.get("activation", "sigmoid"),
                         float(layer.get("negative_slope", 0.01))))
            previous = units
        targets = _targets(tape, spec, len(plan[-1][0]), loss)

        names = list(input_names)
        for units, wnames, weights, bnames, biases, activation, slope in plan:
            outputs, out_names = [], []
            for i, unit in enumerate(units):
                net, terms = None, []
                for j, (w, x) in enumerate(zip(weights[i], values)):
                    net = w * x if net is None else net + w * x
                    terms.append(f"{wnames[i][j]}·{names[j]}")
                if biases is not None:
                    net = net + biases[i]
                    terms.append(bnames[i])
                net = tape.watch(f"net_{unit}", net, " + ".join(terms))
                if ACTIVATIONS[activation] is None:
                    outputs.append(net)
                    out_names.append(f"net_{unit}")
                else:
                    out = ACTIVATIONS[activation](net, slope)
                    outputs.append(tape.watch(f"out_{unit}", out, f"{activation}(net_{unit})"))
                    out_names.append(f"out_{unit}")
            values, names = outputs, out_names
        return _loss(tape, loss, values, names, targets, spec["target"])

    return build


def _targets(tape: Tape, spec: Mapping[str, Any], outputs: int, loss: str) -> list[Tensor]:
    if loss == "cross_entropy":
        return []
    values = _numbers(spec["target"], "target")
    names = ["t"] if outputs == 1 else [f"t{i}" for i in range(1, outputs + 1)]
    return [tape.constant(name, v, "target") for name, v in zip(names, values)]


def _loss(tape: Tape, loss: str, outs: list[Tensor], names: list[str], targets: list[Tensor],
          target_spec: Any) -> Tensor:
    tnames = ["t"] if len(outs) == 1 else [f"t{i}" for i in range(1, len(outs) + 1)]
    if loss == "cross_entropy":
        index = target_spec if isinstance(target_spec, int) else int(np.argmax(target_spec))
        logits = shenjing.stack(outs)
        value = -shenjing.log_softmax(logits, dim=0)[index]
        return tape.watch("E", value, f"−log softmax([{', '.join(names)}])[{index}]")
    if loss == "binary_cross_entropy":
        total = None
        for o, t in zip(outs, targets):
            term = -(t * shenjing.log(o) + (1 - t) * shenjing.log(1 - o))
            total = term if total is None else total + term
        text = " + ".join(f"−[{t}·log {n} + (1−{t})·log(1−{n})]" for n, t in zip(names, tnames))
        if len(outs) > 1:
            total, text = total / len(outs), f"({text})/{len(outs)}"
        return tape.watch("E", total, text)
    total = None
    for o, t in zip(outs, targets):
        term = (t - o) ** 2
        total = term if total is None else total + term
    squares = " + ".join(f"({t} − {n})²" for n, t in zip(names, tnames))
    if loss == "half_squared_error":
        return tape.watch("E", total / 2, f"½({squares})" if len(outs) > 1 else f"½{squares}")
    if loss == "mse":
        return tape.watch("E", total / len(outs), f"({squares})/{len(outs)}")
    return tape.watch("E", total, squares)


def network_trace(spec: Mapping[str, Any], lr: float | None = None, *, dtype: Any = None) -> BackpropTrace:
    """The backprop trace of a small fully connected network given as a spec (see the module docstring).

    ``lr`` overrides the spec's learning rate (without one, no update step is shown).

    >>> t = network_trace({"inputs": [1.0], "layers": [{"weights": [[0.5]], "activation": "identity"}],
    ...                    "target": [2.0], "lr": 0.1})
    >>> t.value("net_o"), t.gradient("w_o_x1"), t.new_value("w_o_x1")
    (0.5, -1.5, 0.65)
    """
    build = network_builder(spec)
    lr = spec.get("lr") if lr is None else lr
    return trace(build, lr=lr, dtype=dtype, title=spec.get("title", "Backpropagation trace"))


def bp_example(lr: float | None = None) -> BackpropTrace:
    """Seed 004's hand calculation ("BP算法: 简单例子"), traced by autograd, with the notes' symbols.

    The notes' error terms are minus the upstream gradients at the units' inputs:
    g = −∂E/∂net_o, e1 = −∂E/∂net_h1, e2 = −∂E/∂net_h2, and the update is w + η·g·o = w − η·∂E/∂w.

    >>> t = bp_example()
    >>> round(t.value("out_o"), 2), round(-t.gradient("net_o"), 4), round(t.new_value("w1"), 3)
    (0.69, -0.0407, 0.272)
    """
    result = network_trace(BP_EXAMPLE, lr)
    g, e1, e2 = (-result.gradient(n) for n in ("net_o", "net_h1", "net_h2"))
    error = abs(result.value("t") - result.value("out_o"))
    n = format_number
    result.remarks = [
        "In the notes' symbols (the notes round every intermediate value, so their last digit can differ):",
        f"  g  = (t − o)(1 − o)o  = −∂E/∂net_o  = {n(g)}   (notes: -0.0406)",
        f"  e1 = g·w1·o1(1 − o1)  = −∂E/∂net_h1 = {n(e1)}  (notes: -2.650e-3)",
        f"  e2 = g·w2·o2(1 − o2)  = −∂E/∂net_h2 = {n(e2)}  (notes: -8.156e-3)",
        "  The notes' update w ← w + η·(error term)·(input) is w ← w − η·∂E/∂w above.",
    ]
    if result.updates:
        after = abs(result.after("t") - result.after("out_o"))
        result.remarks.append(f"  The error |t − o| falls from {n(error)} to {n(after)} after one update "
                              f"(notes: 0.19 -> 0.182).")
    return result


def _chain_rule(tape: Tape) -> Tensor:
    x, y, z = tape.variable("x", -2.0), tape.variable("y", 5.0), tape.variable("z", -4.0)
    q = tape.watch("q", x + y, "x + y")
    return tape.watch("f", q * z, "q · z")


def _max_gate(tape: Tape) -> Tensor:
    z, w = tape.variable("z", 2.0), tape.variable("w", -1.0)
    return tape.watch("max", shenjing.maximum(z, w), "max(z, w)")


def _norm_of_product(tape: Tape) -> Tensor:
    W = tape.variable("W", [[0.1, 0.5], [-0.3, 0.8]])
    x = tape.variable("x", [0.2, 0.4])
    q = tape.watch("q", W @ x, "W · x")
    return tape.watch("f", (q ** 2).sum(), "‖q‖² = q₁² + q₂²")


def graph_example_builders() -> list[tuple[str, Callable[[Tape], Tensor], float | None]]:
    """Seed 002's three examples as (title, build, upstream gradient) for ``trace`` or the graph tools."""
    return [("Seed 002: f(x, y, z) = (x + y)·z at x = −2, y = 5, z = −4", _chain_rule, None),
            ("Seed 002: a max gate that receives an upstream gradient of 2", _max_gate, 2.0),
            ("Seed 002: f(x, W) = ‖W·x‖² with W = [[0.1, 0.5], [−0.3, 0.8]], x = [0.2, 0.4]", _norm_of_product,
             None)]


def graph_examples() -> list[BackpropTrace]:
    """Seed 002's computational-graph examples: f = (x + y)·z at (−2, 5, −4); a max gate receiving an
    upstream gradient of 2; and f = ‖W·x‖² with W = [[0.1, 0.5], [−0.3, 0.8]], x = [0.2, 0.4].

    >>> f, gate, norm = graph_examples()
    >>> f.gradient("x"), gate.gradient("z"), gate.gradient("w")
    (-4.0, 2.0, 0.0)
    """
    return [trace(build, grad_output=grad, title=title) for title, build, grad in graph_example_builders()]


def trace_model(model: Any, inputs: Any, target: Any = None, loss: Callable[[Tensor, Tensor], Tensor] | None = None,
                lr: float | None = None, *, title: str | None = None) -> BackpropTrace:
    """Trace one training step of a model (``nn.Module``), layer by layer.

    Works on a float64 copy of ``model`` (the model itself is not changed). The named values are the
    input, every parameter (its ``named_parameters`` name), the output of every leaf module (forward
    hooks; a module called twice gets ``name#2``) and the loss, ``loss(output, target)`` (default
    E = ½Σ(target − output)²). Without a target the output itself is traced (it must be a scalar).

    >>> from shenjing import nn
    >>> net = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    >>> t = trace_model(net, [[1.0, 2.0]], [[1.0]], lr=0.5)
    >>> [s.name for s in t.forward]
    ['0.weight', '0.bias', 'input', '0', '1', 'target', 'loss']
    """
    build = model_builder(model, inputs, target, loss)
    return trace(build, lr=lr, title=title or f"Backpropagation trace of {type(model).__name__}")


def model_builder(model: Any, inputs: Any, target: Any = None,
                  loss: Callable[[Tensor, Tensor], Tensor] | None = None) -> Callable[[Tape], Tensor]:
    """``build(tape)`` for ``trace_model``: runs a float64 copy of ``model`` with its values named."""
    def default_loss(output: Tensor, t: Tensor) -> Tensor:
        return ((t - output) ** 2).sum() / 2

    loss_fn = loss or default_loss

    def build(tape: Tape) -> Tensor:
        net = copy.deepcopy(model).double()
        for name, p in net.named_parameters():
            tape.watch(name, p)
        x = tape.constant("input", _as_array(inputs))
        calls: dict[str, int] = {}
        handles = []
        for name, module in net.named_modules():
            if name and not list(module.children()):
                handles.append(module.register_forward_hook(_watcher(tape, name, calls)))
        try:
            output = net(x)
        finally:
            for handle in handles:
                handle.remove()
        if target is None:
            return tape.watch("output", output)
        t = tape.constant("target", _as_array(target), "target")
        return tape.watch("loss", loss_fn(output, t), "loss(output, target)")

    return build


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return np.array(value._data, dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


def _watcher(tape: Tape, name: str, calls: dict[str, int]) -> Callable:
    def hook(module: Any, args: Any, output: Any) -> None:
        if isinstance(output, Tensor) and output.requires_grad:
            calls[name] = calls.get(name, 0) + 1
            label = name if calls[name] == 1 else f"{name}#{calls[name]}"
            inputs = [tape.lookup(a) for a in args if isinstance(a, Tensor)]
            described = ", ".join(e.name if e is not None else "·" for e in inputs)
            tape.watch(label, output, f"{type(module).__name__}({described})")
    return hook


@dataclass
class TraceSource:
    """What a trace file describes: the ``build(tape)`` function and its settings."""

    build: Callable[[Tape], Tensor]
    lr: float | None = None
    grad_output: Any = None
    title: str = "Backpropagation trace"


def load_build(path: str | Path) -> TraceSource:
    """Read a trace file: a network spec in JSON, or a Python file that defines either ``build(tape)``
    (returning the output; optional ``lr``, ``grad_output``, ``title``), or ``model`` and ``inputs`` (optional
    ``target``, ``loss``, ``lr``), or ``spec`` (a network spec dict). Raises ``FileNotFoundError``, or
    ``ValueError`` with a message that names the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".json":
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        return _spec_source(spec, path)
    if path.suffix != ".py":
        raise ValueError(f"{path}: expected a network spec (.json) or a Python file (.py)")
    namespace = runpy.run_path(str(path))
    title = namespace.get("title") or f"Backpropagation trace of {path.name}"
    if callable(namespace.get("build")):
        return TraceSource(namespace["build"], namespace.get("lr"), namespace.get("grad_output"), title)
    if "model" in namespace and "inputs" in namespace:
        build = model_builder(namespace["model"], namespace["inputs"], namespace.get("target"), namespace.get("loss"))
        return TraceSource(build, namespace.get("lr"), None, title)
    if isinstance(namespace.get("spec"), Mapping):
        return _spec_source(namespace["spec"], path)
    raise ValueError(f"{path}: define build(tape), or model and inputs (optionally target, loss, lr), "
                     f"or a network spec dict named spec")


def _spec_source(spec: Any, path: Path) -> TraceSource:
    try:
        build = network_builder(spec)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return TraceSource(build, spec.get("lr"), None, spec.get("title", f"Backpropagation trace of {path.name}"))


def trace_file(path: str | Path, lr: float | None = None) -> BackpropTrace:
    """The trace a file describes (see ``load_build``); ``lr`` overrides the file's learning rate."""
    source = load_build(path)
    return trace(source.build, lr=source.lr if lr is None else lr, grad_output=source.grad_output,
                 title=source.title)
