"""Computational-graph export: DOT that parses and names every op, text trees, rendering with Graphviz."""

import re
import shutil
import subprocess

import numpy as np
import pytest

import shenjing as sj
import shenjing.models as models
from shenjing.cli import main
from shenjing.teach import graph as graph_module
from shenjing.teach.graph import GraphvizNotFound, build_graph, graph_of_build, render, text_tree, to_dot
from shenjing.teach.trace_nets import BP_EXAMPLE, network_builder

HAS_DOT = shutil.which("dot") is not None

_NODE = re.compile(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"(?:, [a-z]+=(?:"[^"]*"|[\w.]+))*\];$')
_EDGE = re.compile(r"^\s*(n\d+) -> (n\d+);$")


def parse_dot(text):
    """A strict little parser for the DOT subset the exporter writes: returns ({id: label}, [(a, b)])."""
    lines = text.strip().splitlines()
    assert lines[0] == "digraph computational_graph {" and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if line.strip() in ("rankdir=LR;",) or line.strip().startswith("node ["):
            continue
        node, edge = _NODE.match(line), _EDGE.match(line)
        assert node or edge, f"unparsable DOT line: {line!r}"
        if node:
            assert node.group(1) not in nodes
            nodes[node.group(1)] = node.group(2).replace("\\n", "\n")
        else:
            edges.append((edge.group(1), edge.group(2)))
    for a, b in edges:
        assert a in nodes and b in nodes
    return nodes, edges


def walk(tensor):
    """Every autograd node behind ``tensor`` and every (input, consumer) edge, found independently."""
    seen, edges, stack = [], [], [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if any(node is s for s in seen):
            continue
        seen.append(node)
        for child, _ in node.next_functions:
            if child is not None:
                edges.append((child, node))
                stack.append(child)
    return seen, edges


def _chain():
    x = sj.tensor(-2.0, requires_grad=True)
    y = sj.tensor(5.0, requires_grad=True)
    z = sj.tensor(-4.0, requires_grad=True)
    return x, y, z, (x + y) * z


def test_dot_of_seed_002_example_parses_with_values_and_gradients():
    x, y, z, f = _chain()
    f.backward(retain_graph=True)
    nodes, edges = parse_dot(to_dot(f, names={"x": x, "y": y, "z": z}))
    labels = list(nodes.values())
    assert any(label.startswith("output = MulBackward0") and "-12" in label for label in labels)
    assert any(label.startswith("AddBackward0") and "\n3" in label for label in labels)  # q = 3 (saved by Mul)
    assert "x (leaf)\nscalar\n-2\ngrad -4" in labels and "z (leaf)\nscalar\n-4\ngrad 3" in labels
    assert len(nodes) == 5 and len(edges) == 4


def test_dot_contains_every_op_of_lenet():
    model = models.LeNet5()
    loss = sj.nn.functional.cross_entropy(model(sj.randn(2, 1, 28, 28)), sj.tensor([1, 2]))
    graph = build_graph(loss, dict(model.named_parameters()))
    nodes, edges = parse_dot(graph.to_dot())
    found, found_edges = walk(loss)
    assert len(nodes) == len(found) and len(edges) == len(found_edges)
    ops = [n.name() for n in found if n.name() != "AccumulateGrad"]  # leaves are drawn as "name (leaf)"
    labels = "\n".join(nodes.values())
    for op in set(ops):
        assert labels.count(op) == ops.count(op), op
    assert labels.count("(leaf)") == len(found) - len(ops) == 10
    for name, p in model.named_parameters():
        assert f"{name} (leaf)" in labels
        assert "×".join(map(str, p.shape)) in labels


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_graphviz_accepts_the_dot_and_draws_every_op(tmp_path):
    model = models.CourseCNN()
    loss = model(sj.randn(1, 3, 32, 32)).sum()
    dot = to_dot(loss, dict(model.named_parameters()))
    done = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for op in {n.name() for n in walk(loss)[0]} - {"AccumulateGrad"}:
        assert op in done.stdout
    assert done.stdout.count("(leaf)") == 6
    png = render(loss, tmp_path / "cnn.png", dict(model.named_parameters()))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000


def test_render_without_graphviz_says_what_to_install(tmp_path, monkeypatch):
    *_, f = _chain()
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    with pytest.raises(GraphvizNotFound, match="apt-get install graphviz"):
        render(f, tmp_path / "f.svg")
    assert parse_dot((tmp_path / "f.dot").read_text())[0]  # the DOT text is written anyway
    assert render(f, tmp_path / "g.dot").read_text().startswith("digraph")


def test_text_tree_shows_the_graph_from_the_output_down():
    x, y, z, f = _chain()
    lines = text_tree(f, names={"x": x, "y": y, "z": z, "f": f}).splitlines()
    assert lines[0].startswith("f = MulBackward0") and "-12" in lines[0]
    assert lines[1].startswith("├── AddBackward0") and lines[4].startswith("└── z (leaf)")
    assert lines[2].startswith("│   ├── x (leaf)") and lines[3].startswith("│   └── y (leaf)")
    a = sj.tensor(1.5, requires_grad=True)
    shared = a * a + sj.exp(a * a)  # one node used twice is shown once
    u = a * a
    tree = text_tree(sj.exp(u) + u, names={"a": a})
    assert tree.count("MulBackward0") == 2 and "(inputs shown above)" in tree
    assert shared.grad_fn is not None


def test_graph_of_the_bp_example_carries_autograd_gradients():
    graph = graph_of_build(network_builder(BP_EXAMPLE))
    by_name = {n.name: n for n in graph.nodes if n.name}
    assert graph.root.name == "E" and float(graph.root.grad) == 1.0
    assert float(by_name["net_o"].value) == pytest.approx(0.3 * by_name["out_h1"].value + 0.9 * by_name["out_h2"].value)
    o = float(by_name["out_o"].value)
    assert float(by_name["out_o"].grad) == pytest.approx(-(0.5 - o))  # ∂E/∂o for E = (t − o)²/2
    assert float(by_name["w1"].grad) == pytest.approx((o - 0.5) * o * (1 - o) * float(by_name["out_h1"].value))
    assert graph.ops().count("SigmoidBackward0") == 3 and graph.ops().count("MulBackward0") == 6


def test_deep_graph_needs_no_recursion():
    x = sj.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    graph = build_graph(y)
    assert len(graph.ops()) == 3000 and len(graph.tree().splitlines()) == 3001


def test_graph_needs_a_graph():
    with pytest.raises(ValueError, match="no graph behind it"):
        build_graph(sj.ones(3))


def test_cli_graph(tmp_path, capsys):
    assert main(["graph", "graph-example"]) == 0
    out = capsys.readouterr().out
    assert "max = MaximumBackward0" in out and "grad [[0.088, 0.176], [0.104, 0.208]]" in out
    path = tmp_path / "bp.dot"
    assert main(["graph", "bp-example", "--out", str(path)]) == 0
    nodes, _ = parse_dot(path.read_text())
    assert any(label.startswith("E = DivBackward0") for label in nodes.values())
    if HAS_DOT:
        assert main(["graph", "lenet", "--out", str(tmp_path / "lenet.svg")]) == 0
        assert (tmp_path / "lenet.svg").read_text().lstrip().startswith("<?xml")
    assert main(["graph", "missing.json"]) == 2


def test_values_of_unnamed_nodes_come_from_saved_tensors():
    w = sj.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    h = sj.sigmoid(w.sum(dim=1))  # sigmoid keeps its output for backward
    out = (h * 2.0).sum()
    graph = build_graph(out)
    sigmoid = next(n for n in graph.nodes if n.op == "SigmoidBackward0")
    np.testing.assert_allclose(sigmoid.value, 1 / (1 + np.exp(-np.array([3.0, 7.0]))))
    assert sigmoid.shape == (2,)
