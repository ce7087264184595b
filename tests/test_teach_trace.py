"""The backprop trace: seed 004's hand calculation, seed 002's graphs, and agreement with PyTorch's autograd."""

import json
import math

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import nn
from shenjing.cli import main
from shenjing.teach.trace import Tape, trace
from shenjing.teach.trace_nets import (BP_EXAMPLE, bp_example, graph_examples, network_trace, trace_file,
                                       trace_model)


@pytest.fixture(scope="module")
def bp():
    return bp_example()


# -- seed 004, "BP算法: 简单例子" -------------------------------------------------------------------------
#
# The notes round every intermediate value and reuse the rounded value in the next step, so each printed
# number is compared with a tolerance that covers both its own printed precision and the error carried in
# from the rounded inputs it was computed from:
#   * 0.68 and 0.69 are printed with 2 decimals: tolerance 0.005;
#   * 0.6637 (4 decimals) is computed from exact inputs: 5e-5;
#   * net_o = 0.3·0.68 + 0.9·0.6637 = 0.80133 uses the rounded 0.68 (exact 0.68027): 0.3 · 2.7e-4 ≈ 8e-5,
#     plus the print rounding -> 1.5e-4 (exact 0.80144);
#   * g = (0.5 − 0.69)(1 − 0.69)·0.69 = −0.04064 uses o rounded to 0.69 (exact −0.04068): 1e-4;
#   * e1, e2 use g = −0.0406 (0.2% below the exact 0.04068): relative 3e-3 (exact e1 = −2.6545e-3,
#     e2 = −8.1716e-3 against the printed −2.650e-3 and −8.156e-3);
#   * updated weights w + g·o: g's rounding (8e-5) times o ≤ 0.7, plus o's rounding times g, plus the
#     4-decimal print: 1.5e-4 for w1, w2 (exact 0.27233 and 0.87300, printed 0.2724 and 0.8731);
#     1e-4 for w3..w6 (their error terms are ~10x smaller; exact w6 = 0.59265, printed 0.5927);
#   * the second forward pass uses the rounded updated weights: 1.5e-4;
#   * the error |t − o|: 0.19 (2 decimals) and 0.182 (3 decimals).

def test_forward_pass_matches_the_notes(bp):
    assert bp.value("net_h1") == pytest.approx(0.35 * 0.1 + 0.9 * 0.8, abs=1e-12)  # "0.755"
    assert bp.value("net_h1") == pytest.approx(0.755, abs=1e-12)
    assert bp.value("out_h1") == pytest.approx(0.68, abs=0.005)
    assert bp.value("net_h2") == pytest.approx(0.68, abs=1e-12)
    assert bp.value("out_h2") == pytest.approx(0.6637, abs=5e-5)
    assert bp.value("net_o") == pytest.approx(0.80133, abs=1.5e-4)
    assert bp.value("out_o") == pytest.approx(0.69, abs=0.005)
    assert bp.value("out_h1") == pytest.approx(1 / (1 + math.exp(-0.755)), abs=1e-12)


def test_error_terms_match_the_notes(bp):
    g, e1, e2 = (-bp.gradient(name) for name in ("net_o", "net_h1", "net_h2"))
    assert g == pytest.approx(-0.0406, abs=1e-4)
    assert e1 == pytest.approx(-2.650e-3, rel=3e-3)
    assert e2 == pytest.approx(-8.156e-3, rel=3e-3)


def test_updated_weights_match_the_notes(bp):
    assert bp.lr == 1.0
    for name, printed, tolerance in [("w1", 0.2724, 1.5e-4), ("w2", 0.8731, 1.5e-4), ("w3", 0.0991, 1e-4),
                                     ("w4", 0.7976, 1e-4), ("w5", 0.3971, 1e-4), ("w6", 0.5927, 1e-4)]:
        assert bp.new_value(name) == pytest.approx(printed, abs=tolerance), name


def test_second_forward_pass_and_error_match_the_notes(bp):
    for name, printed in [("net_h1", 0.7525), ("out_h1", 0.6797), ("net_h2", 0.6724), ("out_h2", 0.6620),
                          ("net_o", 0.7631), ("out_o", 0.6820)]:
        assert bp.after(name) == pytest.approx(printed, abs=1.5e-4), name
    assert abs(0.5 - bp.value("out_o")) == pytest.approx(0.19, abs=0.005)
    assert abs(0.5 - bp.after("out_o")) == pytest.approx(0.182, abs=5e-4)
    assert bp.after("E") < bp.value("E")


def test_bp_example_equals_the_exact_hand_formulas(bp):
    # the notes' formulas without rounding: g = (t − o)(1 − o)o, e_h = g·w_h·o_h(1 − o_h), w += η·g·input
    sigmoid = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    A, B, t = 0.35, 0.9, 0.5
    o1, o2 = sigmoid(0.1 * A + 0.8 * B), sigmoid(0.4 * A + 0.6 * B)
    o = sigmoid(0.3 * o1 + 0.9 * o2)
    g = (t - o) * (1 - o) * o
    e1, e2 = g * 0.3 * o1 * (1 - o1), g * 0.9 * o2 * (1 - o2)
    assert -bp.gradient("net_o") == pytest.approx(g, rel=1e-12)
    assert -bp.gradient("net_h1") == pytest.approx(e1, rel=1e-12)
    assert -bp.gradient("net_h2") == pytest.approx(e2, rel=1e-12)
    expected = {"w1": 0.3 + g * o1, "w2": 0.9 + g * o2, "w3": 0.1 + e1 * A, "w4": 0.8 + e1 * B,
                "w5": 0.4 + e2 * A, "w6": 0.6 + e2 * B}
    for name, value in expected.items():
        assert bp.new_value(name) == pytest.approx(value, rel=1e-12), name
    # local derivatives: a weight's is the input it multiplies; a sigmoid's is o(1 − o)
    assert bp.local("net_h1", "w3") == pytest.approx(A)
    assert bp.local("net_o", "w2") == pytest.approx(o2)
    assert bp.local("out_o", "net_o") == pytest.approx(o * (1 - o))
    assert bp.local("E", "out_o") == pytest.approx(-(t - o))


def test_bp_example_equals_torch_autograd(bp):
    A, B, t = torch.tensor(0.35, dtype=torch.float64), torch.tensor(0.9, dtype=torch.float64), 0.5
    w = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for k, v in dict(w1=0.3, w2=0.9, w3=0.1, w4=0.8, w5=0.4, w6=0.6).items()}
    values = {}
    values["net_h1"] = w["w3"] * A + w["w4"] * B
    values["out_h1"] = torch.sigmoid(values["net_h1"])
    values["net_h2"] = w["w5"] * A + w["w6"] * B
    values["out_h2"] = torch.sigmoid(values["net_h2"])
    values["net_o"] = w["w1"] * values["out_h1"] + w["w2"] * values["out_h2"]
    values["out_o"] = torch.sigmoid(values["net_o"])
    values["E"] = (t - values["out_o"]) ** 2 / 2
    for v in values.values():
        v.retain_grad()
    values["E"].backward()
    for name, v in values.items():
        assert bp.value(name) == pytest.approx(v.item(), rel=1e-12), name
        assert bp.gradient(name) == pytest.approx(v.grad.item(), rel=1e-12), name
    for name, p in w.items():
        assert bp.gradient(name) == pytest.approx(p.grad.item(), rel=1e-12), name
        assert bp.new_value(name) == pytest.approx(p.item() - p.grad.item(), rel=1e-12), name


def _consumers_sum(result, name):
    return sum(np.asarray(local.downstream) for step in result.backward for local in step.inputs
               if local.input == name)


def test_every_upstream_gradient_is_the_sum_of_what_its_consumers_pass_down(bp):
    for step in bp.forward:
        if step.name in bp.gradients and step.name != "E":
            assert _consumers_sum(bp, step.name) == pytest.approx(bp.gradient(step.name), rel=1e-12)
    for step in bp.backward:  # and for scalars: downstream = upstream × local
        for local in step.inputs:
            assert float(local.downstream) == pytest.approx(float(step.upstream) * float(local.local), rel=1e-12)


def test_trace_table_shows_the_steps(bp):
    text = bp.text()
    assert "Forward pass" in text and "Backward pass" in text and "Gradients and updates" in text
    assert "w3·A + w4·B" in text and "0.755" in text and "0.7525" in text
    assert "−∂E/∂net_o" in text and "notes: -0.0406" in text
    markdown = bp.markdown()
    assert "| 10 | net_h1 | w3·A + w4·B | 0.755 | 0.7525 |" in markdown
    page = bp.html()
    assert page.startswith("<!DOCTYPE html>") and page.count("<table>") == 3 and "net_h1" in page


# -- seed 002: computational graphs ----------------------------------------------------------------------

def test_seed_002_chain_rule_example():
    f, _, _ = graph_examples()
    assert f.value("q") == 3.0 and f.value("f") == -12.0
    assert (f.gradient("x"), f.gradient("y"), f.gradient("z")) == (-4.0, -4.0, 3.0)
    assert f.local("f", "q") == -4.0 and f.local("f", "z") == 3.0  # ∂f/∂q = z, ∂f/∂z = q
    assert f.local("q", "x") == 1.0 and f.local("q", "y") == 1.0
    assert f.downstream("q", "x") == -4.0 and f.gradient("q") == -4.0


def test_seed_002_max_gate_routes_the_gradient_to_the_larger_input():
    _, gate, _ = graph_examples()
    assert gate.value("max") == 2.0 and gate.gradient("max") == 2.0
    assert gate.gradient("z") == 2.0 and gate.gradient("w") == 0.0
    assert gate.local("max", "z") == 1.0 and gate.local("max", "w") == 0.0


def test_seed_002_vector_example():
    _, _, norm = graph_examples()
    W, x = np.array([[0.1, 0.5], [-0.3, 0.8]]), np.array([0.2, 0.4])
    q = W @ x
    np.testing.assert_allclose(norm.value("q"), [0.22, 0.26], atol=1e-12)
    assert norm.value("f") == pytest.approx(0.116)
    np.testing.assert_allclose(norm.gradient("W"), [[0.088, 0.176], [0.104, 0.208]], atol=1e-12)
    np.testing.assert_allclose(norm.gradient("x"), [-0.112, 0.636], atol=1e-12)
    np.testing.assert_allclose(norm.gradient("q"), 2 * q, atol=1e-12)
    np.testing.assert_allclose(norm.local("q", "x"), W, atol=1e-12)  # the Jacobian of W·x is W
    expected = np.zeros((2, 2, 2))  # ∂q_i/∂W_jk = δ_ij x_k
    expected[0, 0], expected[1, 1] = x, x
    np.testing.assert_allclose(norm.local("q", "W"), expected, atol=1e-12)


# -- local derivatives hold the other named values fixed --------------------------------------------------

def test_local_derivative_is_partial_not_total():
    def build(tape):
        a = tape.variable("a", 2.0)
        b = tape.watch("b", a * 3.0)
        return tape.watch("c", a * b)

    t = trace(build)
    assert t.local("c", "a") == 6.0  # ∂(a·b)/∂a with b fixed = b
    assert t.local("c", "b") == 2.0
    assert t.local("b", "a") == 3.0
    assert t.gradient("a") == 12.0  # total: d(3a²)/da = 6a
    assert t.downstream("c", "a") + t.downstream("b", "a") == t.gradient("a")


def test_trace_of_unnamed_leaves_and_non_scalar_output():
    w = sj.tensor([1.0, -2.0], dtype=sj.float64, requires_grad=True)

    def build(tape):
        return w * 3.0

    with pytest.raises(ValueError, match="grad_output"):
        trace(build)
    t = trace(build, grad_output=[1.0, 1.0])
    assert t.forward[0].name == "leaf1" and t.forward[-1].name == "output"
    np.testing.assert_allclose(t.gradient("leaf1"), [3.0, 3.0])


def test_tape_rejects_reused_names_and_keeps_the_first_name():
    tape = Tape()
    x = tape.variable("x", 1.0)
    assert tape.watch("again", x) is x and [e.name for e in tape.entries] == ["x"]
    with pytest.raises(ValueError, match="already used"):
        tape.constant("x", 2.0)
    with pytest.raises(ValueError, match="does not depend"):
        trace(lambda tp: tp.constant("c", 1.0))


# -- networks from a spec, against PyTorch ------------------------------------------------------------------

def _torch_network(spec):
    x = torch.tensor(spec["inputs"], dtype=torch.float64)
    params, h = [], x
    for layer in spec["layers"]:
        W = torch.tensor(layer["weights"], dtype=torch.float64, requires_grad=True)
        b = torch.tensor(layer["bias"], dtype=torch.float64, requires_grad=True) if layer.get("bias") else None
        params.append((W, b))
        h = W @ h + (b if b is not None else 0)
        act = layer.get("activation", "sigmoid")
        h = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "identity": lambda v: v,
             "leaky_relu": lambda v: torch.nn.functional.leaky_relu(v, layer.get("negative_slope", 0.01)),
             "softplus": torch.nn.functional.softplus}[act](h)
    loss = spec.get("loss", "half_squared_error")
    if loss == "cross_entropy":
        E = torch.nn.functional.cross_entropy(h[None], torch.tensor([spec["target"]]))
    else:
        t = torch.tensor(spec["target"], dtype=torch.float64)
        E = {"half_squared_error": lambda: ((t - h) ** 2).sum() / 2, "squared_error": lambda: ((t - h) ** 2).sum(),
             "mse": lambda: ((t - h) ** 2).mean(),
             "binary_cross_entropy": lambda: torch.nn.functional.binary_cross_entropy(h, t)}[loss]()
    E.backward()
    return E, params


@pytest.mark.parametrize("loss, acts, target", [
    ("half_squared_error", ("tanh", "sigmoid"), [0.2, 0.9]),
    ("mse", ("relu", "identity"), [1.0, -1.0]),
    ("squared_error", ("leaky_relu", "softplus"), [0.3, 0.1]),
    ("binary_cross_entropy", ("tanh", "sigmoid"), [1.0, 0.0]),
    ("cross_entropy", ("sigmoid", "identity"), 1),
])
def test_network_spec_equals_torch(loss, acts, target):
    spec = {"inputs": [0.5, -1.0, 2.0],
            "layers": [{"weights": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.2]], "bias": [0.1, -0.1, 0.2],
                        "activation": acts[0], "negative_slope": 0.1},
                       {"weights": [[0.3, -0.5, 0.2], [0.6, 0.1, -0.4]], "bias": [0.05, -0.05], "activation": acts[1]}],
            "target": target, "loss": loss, "lr": 0.1}
    result = network_trace(spec)
    E, params = _torch_network(spec)
    assert result.value("E") == pytest.approx(E.item(), rel=1e-12)
    layer_units = [["h1", "h2", "h3"], ["o1", "o2"]]
    inputs = [["x1", "x2", "x3"], ["h1", "h2", "h3"]]
    for (W, b), units, names in zip(params, layer_units, inputs):
        for i, unit in enumerate(units):
            assert result.gradient(f"b_{unit}") == pytest.approx(b.grad[i].item(), rel=1e-9, abs=1e-14)
            for j, name in enumerate(names):
                weight = f"w_{unit}_{name}"
                assert result.gradient(weight) == pytest.approx(W.grad[i, j].item(), rel=1e-9, abs=1e-14)
                assert result.new_value(weight) == pytest.approx(W[i, j].item() - 0.1 * W.grad[i, j].item(), rel=1e-12)


def test_network_spec_errors_name_the_problem():
    base = json.loads(json.dumps(BP_EXAMPLE))
    base["layers"][0]["weights"][1] = [0.4]
    with pytest.raises(ValueError, match="layer 1: unit 2 has 1 weights but the layer has 2 inputs"):
        network_trace(base)
    for change, message in [({"loss": "hinge"}, "unknown loss"), ({"target": [0.5, 0.1]}, "'target' needs 1"),
                            ({"colour": 1}, "unknown key"), ({"inputs": ["a", 1]}, "expected numbers")]:
        spec = {**BP_EXAMPLE, **change}
        with pytest.raises(ValueError, match=message):
            network_trace(spec)
    spec = json.loads(json.dumps(BP_EXAMPLE))
    spec["layers"][1]["activation"] = "swish"
    with pytest.raises(ValueError, match="layer 2: unknown activation 'swish'"):
        network_trace(spec)


# -- models and files ---------------------------------------------------------------------------------------

def _seed_004_model():
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Sigmoid(), nn.Linear(2, 1, bias=False), nn.Sigmoid())
    with sj.no_grad():
        model[0].weight.copy_(sj.tensor([[0.1, 0.8], [0.4, 0.6]]))
        model[2].weight.copy_(sj.tensor([[0.3, 0.9]]))
    return model


def test_trace_model_reproduces_the_bp_example_layer_by_layer(bp):
    model = _seed_004_model()
    before = model[0].weight.detach().clone()
    result = trace_model(model, [0.35, 0.9], [0.5], lr=1.0)
    np.testing.assert_allclose(result.gradient("0.weight"),
                               [[bp.gradient("w3"), bp.gradient("w4")], [bp.gradient("w5"), bp.gradient("w6")]],
                               rtol=1e-6)  # the model's float32 weights, traced in float64
    np.testing.assert_allclose(result.new_value("2.weight"), [[bp.new_value("w1"), bp.new_value("w2")]], rtol=1e-6)
    assert result.value("3") == pytest.approx(bp.value("out_o"), rel=1e-6)
    assert result.after("loss") < result.value("loss")
    assert [s.name for s in result.backward] == ["loss", "3", "2", "1", "0"]
    assert sj.equal(model[0].weight, before) and model[0].weight.dtype == sj.float32  # the model is untouched


def test_trace_file_json_and_python(tmp_path):
    spec_path = tmp_path / "net.json"
    spec_path.write_text(json.dumps(BP_EXAMPLE))
    assert trace_file(spec_path).new_value("w1") == pytest.approx(bp_example().new_value("w1"))
    assert trace_file(spec_path, lr=0.5).lr == 0.5
    build_path = tmp_path / "expr.py"
    build_path.write_text("def build(tape):\n    x = tape.variable('x', 3.0)\n    return tape.watch('y', x * x)\n"
                          "lr = 0.1\n")
    result = trace_file(build_path)
    assert result.gradient("x") == 6.0 and result.new_value("x") == pytest.approx(2.4)
    model_path = tmp_path / "model.py"
    model_path.write_text("from shenjing import nn\nmodel = nn.Linear(2, 1)\ninputs = [[1.0, 2.0]]\n"
                          "target = [[0.0]]\n")
    assert [s.name for s in trace_file(model_path).forward][:2] == ["weight", "bias"]
    bad = tmp_path / "nothing.py"
    bad.write_text("x = 1\n")
    with pytest.raises(ValueError, match="define build"):
        trace_file(bad)


# -- the command line -----------------------------------------------------------------------------------------

def test_cli_trace_bp_example(capsys):
    assert main(["trace", "bp-example"]) == 0
    out = capsys.readouterr().out
    assert "net_h1" in out and "0.2723" in out and "falls from 0.1903 to 0.182" in out


def test_cli_trace_formats_and_files(tmp_path, capsys):
    assert main(["trace", "bp-example", "--format", "markdown", "--digits", "3"]) == 0
    assert "| net_h1 |" in capsys.readouterr().out
    out = tmp_path / "trace.html"
    assert main(["trace", "graph-example", "--out", str(out)]) == 0
    page = out.read_text()
    assert page.count("<table>") == 9 and "max(z, w)" in page  # 3 traces × (forward, backward, gradients)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"inputs": [1.0], "layers": [{"weights": [[2.0]], "activation": "identity"}],
                                "target": [0.0]}))
    assert main(["trace", str(spec), "--lr", "0.25"]) == 0
    assert "1.5" in capsys.readouterr().out  # w = 2 − 0.25·(∂E/∂w = 2·1) = 1.5


def test_cli_trace_user_errors(tmp_path, capsys):
    assert main(["trace", str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["trace", str(broken)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"inputs": [1.0], "layers": []}))
    assert main(["trace", str(wrong)]) == 2
    assert "wrong.json" in capsys.readouterr().err


def test_softmax_homework_jacobian_and_log_softmax_gradient():
    # seed 004, homework 5.1: the gradients of softmax and log-softmax with respect to x
    def build(tape):
        x = tape.variable("x", [1.0, 2.0, 0.5])
        p = tape.watch("p", sj.softmax(x, dim=0), "softmax(x)")
        return tape.watch("log_p2", sj.log(p[1]), "log p₂")

    t = trace(build)
    x = np.array([1.0, 2.0, 0.5])
    p = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(t.local("p", "x"), np.diag(p) - np.outer(p, p), atol=1e-12)  # ∂p_i/∂x_j
    np.testing.assert_allclose(t.gradient("x"), np.eye(3)[1] - p, atol=1e-12)  # ∇ log p₂ = e₂ − p
