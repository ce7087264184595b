"""Command-line commands of the teaching tools that show numbers:

    shenjing trace bp-example|graph-example|SPEC.json|FILE.py [--lr LR] [--format text|markdown|html]
                   [--digits N] [--out FILE]
    shenjing summary lenet|course-cnn|mlp|xo|rnn|xor|perceptron|MODEL_FILE [--input-size 1 28 28]
                     [--batch-size N] [--format text|markdown|html]
    shenjing explain conv --n 32 --f 5 [--p 0] [--s 1] [--d 1]
    shenjing explain pool --n 28 --f 2 [--s F] [--p 0] [--d 1] [--ceil-mode]
    shenjing graph bp-example|graph-example|SPEC.json|FILE.py|MODEL [--out graph.dot|.svg|.png]
    shenjing gradcheck lenet|course-cnn|mlp|xo|rnn|xor|MODEL_FILE [--elements N] [--batch-size N] [--seed S]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_commands"]

FORMATS = ("text", "markdown", "html")


def _model(spec: str) -> tuple[Any, Any, str]:
    """A model by name, or from a model file written by ``shenjing train``: (model, registry entry, name)."""
    from shenjing.cli_base import model_by_name_or_file

    return model_by_name_or_file(spec)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    suffix = Path(args.out).suffix.lower() if getattr(args, "out", None) else ""
    return {".md": "markdown", ".html": "html", ".htm": "html"}.get(suffix, "text")


def _emit(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(f"wrote {out}")
    else:
        print(text)


# -- trace --------------------------------------------------------------------------------------------

def _traces(what: str, lr: float | None) -> list[Any]:
    from shenjing.cli_base import UserError
    from shenjing.teach import trace_nets

    if what == "bp-example":
        return [trace_nets.bp_example(lr)]
    if what == "graph-example":
        return trace_nets.graph_examples()
    try:
        return [trace_nets.trace_file(what, lr)]
    except FileNotFoundError:
        raise UserError(f"'{what}': no such file (use bp-example, graph-example, a .json network spec or "
                        f"a .py file)") from None
    except ValueError as error:
        if what in str(error):
            raise UserError(str(error)) from None
        raise


def _trace(args: argparse.Namespace) -> int:
    from shenjing.cli_base import UserError

    if args.digits < 1 or args.digits > 15:
        raise UserError(f"--digits must be between 1 and 15, got {args.digits}")
    traces = _traces(args.what, args.lr)
    fmt = _format(args)
    if fmt == "html" and len(traces) > 1:
        from shenjing.teach._table import render_tables

        tables = []
        for t in traces:
            tables += [_titled(table, t.title) if i == 0 else table for i, table in enumerate(t.tables(args.digits))]
        text = render_tables("Seed 002: computational graphs", tables, "html")
    else:
        text = "\n\n".join(t.render(fmt, args.digits) for t in traces)
    _emit(text, args.out)
    return 0


def _titled(table: Any, title: str) -> Any:
    table.title = f"{title} — {table.title}"
    return table


# -- summary and explain --------------------------------------------------------------------------------

def _summary(args: argparse.Namespace) -> int:
    from shenjing.cli_base import UserError
    from shenjing.teach.summary import summary

    model, entry, _ = _model(args.model)
    size = tuple(args.input_size) if args.input_size else entry.input_size
    if any(v <= 0 for v in size) or args.batch_size <= 0:
        raise UserError("--input-size and --batch-size must be positive")
    try:
        result = summary(model, size, batch_size=args.batch_size, verbose=False)
    except (RuntimeError, ValueError) as error:
        raise UserError(f"{args.model} cannot take an input of size {list(size)}: {error}") from None
    _emit(result.render(_format(args)), args.out)
    return 0


def _explain(args: argparse.Namespace) -> int:
    from shenjing.cli_base import UserError
    from shenjing.teach.summary import explain_conv, explain_pool

    try:
        if args.layer == "conv":
            result = explain_conv(args.n, args.f, p=args.p, s=args.s if args.s is not None else 1, d=args.d)
        else:
            result = explain_pool(args.n, args.f, s=args.s, p=args.p, d=args.d, ceil_mode=args.ceil_mode)
    except ValueError as error:
        raise UserError(str(error)) from None
    print(result.explain())
    return 0


# -- graph ----------------------------------------------------------------------------------------------

def _graphs(what: str) -> list[tuple[str, Any]]:
    """(title, Graph) pairs for a built-in example, a trace file or a model."""
    from shenjing.cli_base import UserError
    from shenjing.teach import trace_nets
    from shenjing.teach.graph import build_graph, graph_of_build

    if what == "bp-example":
        return [("bp-example", graph_of_build(trace_nets.network_builder(trace_nets.BP_EXAMPLE)))]
    if what == "graph-example":
        return [(title, graph_of_build(build, grad)) for title, build, grad in trace_nets.graph_example_builders()]
    if what.endswith((".json", ".py")):
        try:
            source = trace_nets.load_build(what)
        except FileNotFoundError:
            raise UserError(f"'{what}': no such file") from None
        except ValueError as error:
            raise UserError(str(error)) from None
        return [(Path(what).stem, graph_of_build(source.build, source.grad_output))]
    import shenjing

    model, entry, name = _model(what)
    shenjing.manual_seed(0)
    x = shenjing.randn(2, *entry.input_size)
    loss = (model(x) ** 2).sum() / 2
    if not loss.requires_grad:
        raise UserError(f"{name}'s output is not differentiable (no computational graph behind it)")
    loss.backward(retain_graph=True)
    return [(name, build_graph(loss, dict(model.named_parameters())))]


def _graph(args: argparse.Namespace) -> int:
    from shenjing.cli_base import UserError
    from shenjing.teach.graph import GraphvizNotFound

    graphs = _graphs(args.what)
    if not args.out:
        for title, graph in graphs:
            if len(graphs) > 1:
                print(f"{title}\n")
            print(graph.tree() + ("\n" if len(graphs) > 1 else ""))
        return 0
    out = Path(args.out)
    for k, (title, graph) in enumerate(graphs, 1):
        path = out if len(graphs) == 1 else out.with_name(f"{out.stem}-{k}{out.suffix}")
        try:
            graph.render(path)
        except GraphvizNotFound as error:
            raise UserError(str(error)) from None
        print(f"wrote {path} ({len(graph.nodes)} nodes)")
    return 0


# -- gradcheck -----------------------------------------------------------------------------------------

def _gradcheck(args: argparse.Namespace) -> int:
    import numpy as np

    import shenjing
    from shenjing.cli_base import UserError
    from shenjing.teach.gradcheck import check_model_gradients

    shenjing.manual_seed(args.seed)  # the same random weights every time
    model, entry, name = _model(args.model)
    if name == "perceptron":
        raise UserError("the perceptron learns by its mistake-driven rule, not by gradients: nothing to check")
    if args.batch_size <= 0 or (args.elements is not None and args.elements <= 0):
        raise UserError("--batch-size and --elements must be positive")
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.batch_size, *entry.input_size))
    with shenjing.no_grad():
        out_shape = tuple(model(shenjing.tensor(x, dtype=shenjing.float32)).shape)
    if entry.classes:
        target = rng.integers(0, entry.classes, size=args.batch_size)
    else:
        target = rng.standard_normal(out_shape)
    report = check_model_gradients(model, x, target, eps=args.eps, max_elements=args.elements, seed=args.seed,
                                   verbose=False)
    report.model = name
    print(report)
    return 0 if report.ok else 1


# -- the parsers ------------------------------------------------------------------------------------------

def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``trace``, ``summary``, ``explain``, ``graph`` and ``gradcheck``; each returns an exit code."""
    trace = commands.add_parser(
        "trace", help="backpropagation step by step, with the numbers",
        description="A forward and backward pass as tables: each node's value, local derivative, upstream and "
                    "downstream gradient, and each weight's update. WHAT is bp-example (seed 004's hand "
                    "calculation), graph-example (seed 002's graphs), a network spec in JSON or a Python file "
                    "(see docs/learn-numbers.md).")
    trace.add_argument("what", metavar="WHAT", help="bp-example, graph-example, SPEC.json or FILE.py")
    trace.add_argument("--lr", type=float, help="learning rate of the update step (overrides the spec's)")
    trace.add_argument("--format", choices=FORMATS, help="text (default), markdown or html")
    trace.add_argument("--digits", type=int, default=4, help="significant digits (default 4)")
    trace.add_argument("--out", help="write to this file (.md/.html choose the format)")
    trace.set_defaults(run=_trace)

    summary = commands.add_parser("summary", help="layers, output shapes, parameters, MACs and conv/pool formulas")
    summary.add_argument("model", metavar="MODEL", help="lenet, course-cnn, mlp, xo, rnn, xor, perceptron or a "
                                                        "model file")
    summary.add_argument("--input-size", type=int, nargs="+", metavar="N",
                         help="input size without the batch dimension, e.g. 1 28 28")
    summary.add_argument("--batch-size", type=int, default=1)
    summary.add_argument("--format", choices=FORMATS)
    summary.add_argument("--out", help="write to this file")
    summary.set_defaults(run=_summary)

    explain = commands.add_parser("explain", help="the output-size arithmetic of a convolution or pooling layer",
                                  description="⌊(n + 2p − f)/s⌋ + 1 with your numbers, step by step.")
    explain.add_argument("layer", choices=["conv", "pool"])
    explain.add_argument("--n", type=int, required=True, help="input size (height or width)")
    explain.add_argument("--f", type=int, required=True, help="filter / window size")
    explain.add_argument("--p", type=int, default=0, help="padding on each side (default 0)")
    explain.add_argument("--s", type=int, help="stride (default 1 for conv, f for pool)")
    explain.add_argument("--d", type=int, default=1, help="dilation (default 1)")
    explain.add_argument("--ceil-mode", action="store_true", help="pooling: round up")
    explain.set_defaults(run=_explain)

    graph = commands.add_parser("graph", help="the computational graph as a text tree, DOT, SVG or PNG")
    graph.add_argument("what", metavar="WHAT", help="bp-example, graph-example, SPEC.json, FILE.py or a model")
    graph.add_argument("--out", help="graph.dot (text), or .svg/.png/.pdf (needs Graphviz); default: print a tree")
    graph.set_defaults(run=_graph)

    gradcheck = commands.add_parser("gradcheck", help="check a model's gradients against central differences")
    gradcheck.add_argument("model", metavar="MODEL", help="lenet, course-cnn, mlp, xo, rnn, xor or a model file")
    gradcheck.add_argument("--elements", type=int, default=20,
                           help="elements checked per parameter tensor (default 20)")
    gradcheck.add_argument("--batch-size", type=int, default=2)
    gradcheck.add_argument("--seed", type=int, default=0)
    gradcheck.add_argument("--eps", type=float, default=1e-6)
    gradcheck.set_defaults(run=_gradcheck)
