"""The playground's server side: data, training, the HTTP API and its refusals, the export.

The page itself is tested in a real browser by tests_browser/ (a separate step of .ci/run).
"""

from __future__ import annotations

import http.client
import json
import os
import runpy
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import shenjing
from shenjing.cli import main
from shenjing.teach.playground import data, export, lessons
from shenjing.teach.playground.server import MAX_BODY, make_server
from shenjing.teach.playground.session import Session
from shenjing.teach.playground.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]


# -- data ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", data.CLASSIFICATION + data.REGRESSION)
def test_every_data_set_lies_on_the_plane_and_repeats_for_a_seed(name):
    points, labels = data.make_dataset(name, 200, noise=0.2, seed=3)
    again, _ = data.make_dataset(name, 200, noise=0.2, seed=3)
    other, _ = data.make_dataset(name, 200, noise=0.2, seed=4)
    assert points.shape == (200, 2) and labels.shape == (200,)
    assert np.abs(points).max() <= data.EXTENT
    assert np.array_equal(points, again) and not np.array_equal(points, other)
    if name in data.REGRESSION:
        assert labels.min() >= -1 and labels.max() <= 1
    else:
        assert set(labels.tolist()) == {0.0, 1.0}


def test_circle_and_xor_labels_follow_their_rule_without_noise():
    points, labels = data.make_dataset("circle", 300, noise=0, seed=0)
    assert np.array_equal(labels == 1, np.hypot(points[:, 0], points[:, 1]) < 2.5)
    points, labels = data.make_dataset("xor", 300, noise=0, seed=0)
    assert np.array_equal(labels == 1, points[:, 0] * points[:, 1] > 0)


def test_multiclass_data_sets_hold_every_class():
    _, labels = data.make_dataset("spiral", 300, seed=0, classes=4)
    assert sorted(set(labels.tolist())) == [0, 1, 2, 3]
    with pytest.raises(data.DataError, match="circle data set has 2 classes"):
        data.make_dataset("circle", 10, classes=3)


def test_features_are_their_formulas():
    points = np.array([[0.5, -2.0]])
    names = ["x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY"]
    expected = [0.5, -2.0, 0.25, 4.0, -1.0, np.sin(0.5), np.sin(-2.0)]
    assert np.allclose(data.feature_matrix(points, names)[0], expected)


@pytest.mark.parametrize("text, message", [
    ("x1,x2,label\n1,2,1\n3,4\n", "line 3: expected 3 values"),
    ("1,2,1\n1,abc,0\n", "line 2: x2 is 'abc', not a number"),
    ("1,2,1\n7,0,0\n", "line 2: x1 = 7 is off the plane"),
    ("1,2,1.5\n", "line 1: the label 1.5 is not a class"),
    ("1,2,nan\n", "line 1: label is nan; it must be a finite number"),
    ("x1,x2,label\n", "holds no data rows"),
])
def test_a_malformed_csv_names_its_line(text, message):
    with pytest.raises(data.DataError, match=message):
        data.parse_csv(text)


def test_a_csv_beyond_the_limit_says_so():
    text = "\n".join("1,1,0" for _ in range(6))
    with pytest.raises(data.DataError, match="too many points: at most 5 rows"):
        data.parse_csv(text, limit=5)


def test_csv_labels_minus_one_and_one_are_the_two_classes():
    _, labels = data.parse_csv("0,0,-1\n1,1,1\n")
    assert labels.tolist() == [0.0, 1.0]


# -- settings and training -------------------------------------------------------------------------

@pytest.mark.parametrize("given, message", [
    ({"networkShape": "1,2,3,4,5,6,7,8,9"}, "at most 8 hidden layers, got 9"),
    ({"networkShape": "4,17"}, "at most 16 neurons in a layer, got 17"),
    ({"activation": "softsign"}, "activation: expected one of relu, tanh, sigmoid, linear"),
    ({"learningRate": "0"}, "learningRate: expected a number above 0"),
    ({"batchSize": 1000}, "batchSize: expected a whole number from 1 to 100"),
    ({"x": False, "y": False}, "no input feature is on"),
    ({"dataset": "xor", "classes": 3}, "the xor data set has 2 classes"),
])
def test_settings_out_of_range_are_refused_by_name(given, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_dict(given)


def _trained(epochs: int, **given) -> Session:
    session = Session(Settings.from_dict(given))
    for _ in range(epochs):
        session.train_epoch()
    return session


@pytest.mark.parametrize("dataset", ["circle", "xor"])
def test_training_lowers_the_loss(dataset):
    session = _trained(40, dataset=dataset, learningRate=0.1)
    first_test = session.history[0][2]
    assert session.epoch == 40 and len(session.history) == 41
    assert session.losses()[1] < first_test / 3
    assert session.accuracy("test") > 0.85


def test_the_loss_shown_is_half_the_mean_squared_error_of_the_tanh_output():
    session = _trained(3, dataset="gauss", networkShape="3", activation="relu")
    (w1, b1), (w2, b2) = [(layer["weight"], layer["bias"]) for layer in
                          [{k: np.array(v) for k, v in m.items()} for m in session.weights()]]
    hidden = np.maximum(session.test_points @ w1.T + b1, 0)
    output = np.tanh(hidden @ w2.T + b2)[:, 0]
    target = 2 * session.test_labels - 1
    assert session.losses()[1] == pytest.approx(0.5 * np.mean((output - target) ** 2), abs=1e-3)


def test_many_classes_use_softmax_cross_entropy_and_learn():
    session = _trained(20, dataset="blobs", classes=3, optimizer="adam", networkShape="6")
    assert session.model[-1].out_features == 3
    assert session.history[0][2] > session.losses()[1]
    assert session.accuracy("test") > 0.9


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_each_optimizer_trains(optimizer):
    session = _trained(10, dataset="gauss", optimizer=optimizer, learningRate=0.03)
    assert session.losses()[0] < session.history[0][1]


def test_l2_regularisation_keeps_the_weights_smaller():
    plain = _trained(15, dataset="circle", learningRate=0.1)
    penalised = _trained(15, dataset="circle", learningRate=0.1, regularization="L2", regularizationRate=0.03)
    size = lambda s: sum(np.abs(np.array(m["weight"])).sum() for m in s.weights())  # noqa: E731
    assert size(penalised) < size(plain)


def test_a_diverging_run_stops_with_a_message_and_a_valid_state():
    session = _trained(5, problem="regression", learningRate=10, activation="linear", networkShape="8,8,8")
    assert "the learning rate (10) is probably too large" in session.diverged
    epoch = session.epoch
    session.train_epoch()
    assert session.epoch == epoch  # stays stopped until a reset
    state = json.loads(json.dumps(session.snapshot(), allow_nan=False))
    assert state["warning"] == session.diverged and state["testLoss"] is None
    session.reset()
    assert session.diverged is None and np.isfinite(session.losses()[1])


def test_per_layer_activations_and_dropout_build_that_network():
    session = Session(Settings.from_dict({"networkShape": "3,2", "layerActivations": "relu,sigmoid",
                                          "dropout": "0.2,0"}))
    names = [type(m).__name__ for m in session.model]
    assert names == ["Linear", "ReLU", "Dropout", "Linear", "Sigmoid", "Linear", "Tanh"]


def test_a_clicked_point_joins_the_training_data():
    session = Session()
    count = len(session.train_points)
    session.add_point(1.0, -2.0, 1)
    assert len(session.train_points) == count + 1 and session.settings.dataset == "custom"
    with pytest.raises(data.DataError, match="off the plane"):
        session.add_point(9.0, 0.0, 1)
    with pytest.raises(data.DataError, match="class must be 0 to 1"):
        session.add_point(0.0, 0.0, 2)


def test_clicked_points_stay_training_points_when_a_setting_changes():
    session = Session()
    session.clear_points()
    for x in (1.0, 2.0, 3.0):
        session.add_point(x, x, 1)
    session.add_point(-1.0, -1.0, 0)
    changed = Settings.from_dict({**session.settings.to_dict(), "learningRate": 0.1})
    session.configure(changed)
    assert len(session.train_points) == 4 and len(session.test_points) == 0
    session.configure(Settings.from_dict({**changed.to_dict(), "percTrainData": 50}))
    assert len(session.train_points) == 4  # the same ratio: nothing moves
    session.configure(Settings.from_dict({**changed.to_dict(), "percTrainData": 75}))
    assert len(session.train_points) == 3 and len(session.test_points) == 1  # a new ratio splits them again


def test_a_csv_with_three_classes_sets_three_outputs():
    session = Session()
    rows = "\n".join(f"{x},{y},{k % 3}" for k, (x, y) in enumerate([(-3, -3), (3, 3), (3, -3)] * 4))
    assert session.load_csv("x1,x2,label\n" + rows) == 12
    assert session.settings.dataset == "csv" and session.settings.classes == 3
    assert session.model[-1].out_features == 3


def test_an_edited_weight_is_the_models():
    session = Session()
    session.set_parameter(1, 0, 1, 0.75)
    session.set_parameter(1, 0, None, -0.5)
    assert session.weights()[1]["weight"][0][1] == 0.75 and session.weights()[1]["bias"][0] == -0.5
    with pytest.raises(data.DataError, match="layer must be 0 to 2"):
        session.set_parameter(5, 0, 0, 1.0)


def test_backprop_example_numbers_follow_the_chain_rule():
    session = _trained(2, dataset="xor", networkShape="3")
    result = lessons.backprop_example(session, 1.5, -2.0, 0)
    hidden, output = result["layers"]
    x = np.array(result["inputs"])
    w1, b1 = np.array(hidden["weight"]), np.array(hidden["bias"])
    assert np.allclose(hidden["z"], w1 @ x + b1, atol=1e-5)
    assert np.allclose(hidden["a"], np.tanh(hidden["z"]), atol=1e-5)
    o = np.tanh(output["z"][0])
    assert result["loss"] == pytest.approx(0.5 * (-1 - o) ** 2, abs=1e-5)
    assert output["dE_dz"][0] == pytest.approx((o + 1) * (1 - o ** 2), abs=1e-5)  # ∂E/∂o · tanh'
    assert np.allclose(hidden["dE_dz"], np.array(hidden["dE_da"]) * (1 - np.tanh(hidden["z"]) ** 2), atol=1e-5)
    assert np.allclose(hidden["dE_dw"], np.outer(hidden["dE_dz"], x), atol=1e-5)
    assert np.allclose(hidden["newWeight"], w1 - result["lr"] * np.array(hidden["dE_dw"]), atol=1e-5)
    assert result["lossAfter"] < result["loss"]


def test_a_line_separates_gauss_but_not_xor():
    separable = lessons.linear_boundaries(Session(Settings.from_dict({"dataset": "gauss"})))
    assert separable["perceptron"]["converged"] and separable["svm"]["accuracy"] == 1.0
    crossed = lessons.linear_boundaries(Session(Settings.from_dict({"dataset": "xor"})))
    assert not crossed["perceptron"]["converged"] and crossed["svm"]["accuracy"] < 0.75


def test_the_exported_file_runs_and_prints_the_test_loss(tmp_path, monkeypatch, capsys):
    session = _trained(5, dataset="spiral", classes=3, networkShape="5,4", layerActivations="relu,tanh",
                       dropout="0.1,0", sinX=True)
    (tmp_path / export.SCRIPT_NAME).write_text(export.python_source(session), encoding="utf-8")
    (tmp_path / export.WEIGHTS_NAME).write_bytes(export.weights_bytes(session))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run([sys.executable, export.SCRIPT_NAME], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"test loss: {session.losses()[1]:.4f} on {len(session.test_labels)} test points" in run.stdout
    assert f"test accuracy: {session.accuracy('test'):.2%}" in run.stdout
    # the same file on PyTorch (in this process, where torch is already imported: a new one takes seconds)
    pytest.importorskip("torch")
    monkeypatch.setattr(sys, "argv", [export.SCRIPT_NAME, "--torch"])
    capsys.readouterr()
    script = runpy.run_path(str(tmp_path / export.SCRIPT_NAME), run_name="__main__")
    assert script["torch"].__name__ == "torch" and script["nn"].__name__ == "torch.nn"
    on_torch = capsys.readouterr().out
    assert float(on_torch.split("test loss: ")[1].split()[0]) == pytest.approx(session.losses()[1], abs=2e-4)
    assert "Linear(in_features=3, out_features=5, bias=True)" in on_torch



@pytest.mark.parametrize("given", [
    dict(dataset="spiral", classes=3, networkShape="5,4", layerActivations="relu,tanh", dropout="0.1,0", sinX=True),
    dict(dataset="circle", networkShape="3", xSquared=True),
    dict(problem="regression", regDataset="reg-gauss", networkShape="2"),
])
def test_shenjing_evaluate_reads_the_exported_weights(tmp_path, capsys, given):
    session = _trained(3, **given)
    path = tmp_path / export.WEIGHTS_NAME
    path.write_bytes(export.weights_bytes(session))
    assert main(["evaluate", str(path)]) == 0
    printed = capsys.readouterr().out
    assert float(printed.split("test loss ")[1].split()[0].rstrip(",")) == pytest.approx(session.losses()[1], abs=2e-4)
    assert f"on {len(session.test_labels)} saved test points" in printed
    if session.accuracy("test") is None:
        assert "accuracy" not in printed
    else:
        assert f"accuracy {session.accuracy('test'):.2%}" in printed


def test_shenjing_evaluate_still_refuses_a_file_that_is_neither(tmp_path, capsys):
    path = tmp_path / "other.shenjing"
    shenjing.save({"format": "something-else", "values": shenjing.ones(2)}, str(path))
    assert main(["evaluate", str(path)]) != 0
    assert "is not a shenjing model file" in capsys.readouterr().err

# -- the HTTP API ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.trainer.stop()
    server.server_close()


def request(server, method, path, body=None, headers=None, raw=None):
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = {"Host": f"127.0.0.1:{port}"}
    if body is not None:
        sent["Content-Type"] = "application/json"
        raw = json.dumps(body).encode()
    sent.update(headers or {})
    connection.request(method, path, body=raw, headers=sent)
    response = connection.getresponse()
    content = response.read()
    connection.close()
    kind = response.getheader("Content-Type", "")
    return response.status, (json.loads(content) if kind.startswith("application/json") else content)


def test_the_page_and_its_files_are_served(server):
    status, page = request(server, "GET", "/")
    assert status == 200 and b"<select id=\"activation\"" in page and b"playground.js" in page
    for name in ("/playground.js", "/network.js", "/plane.js", "/playground.css"):
        assert request(server, "GET", name)[0] == 200


@pytest.mark.parametrize("path", ["/../server.py", "/static/../server.py", "/%2e%2e/%2e%2e/pyproject.toml",
                                  "/..%2fserver.py", "/etc/passwd", "//etc/passwd", "/static/index.html",
                                  "/playground.js/../../session.py", "/__init__.py"])
def test_no_file_outside_the_page_is_served(server, path):
    status, answer = request(server, "GET", path)
    assert status == 404 and "not found" in answer["error"]


def test_settings_change_the_network_and_bad_ones_are_refused(server):
    status, state = request(server, "POST", "/api/settings", {"settings": {"dataset": "xor", "networkShape": [3]}})
    assert status == 200 and state["settings"]["dataset"] == "xor" and len(state["weights"]) == 2
    assert state["train"] and len(state["neurons"]) == 2 and state["output"]["size"] == 50
    status, answer = request(server, "POST", "/api/settings", {"settings": {"networkShape": [4, 40]}})
    assert status == 400 and "at most 16 neurons in a layer, got 40" in answer["error"]


def test_play_trains_until_pause(server):
    request(server, "POST", "/api/settings", {"settings": {"dataset": "circle", "learningRate": 0.1}})
    status, state = request(server, "POST", "/api/control", {"action": "play"})
    assert status == 200 and state["playing"]
    deadline = time.monotonic() + 20
    while state["epoch"] < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
        state = request(server, "GET", "/api/state?data=0")[1]
    _, paused = request(server, "POST", "/api/control", {"action": "pause"})
    assert state["epoch"] >= 5 and not paused["playing"]
    epoch = request(server, "GET", "/api/state")[1]["epoch"]
    time.sleep(0.3)
    assert request(server, "GET", "/api/state")[1]["epoch"] == epoch
    assert request(server, "POST", "/api/control", {"action": "step"})[1]["epoch"] == epoch + 1
    assert request(server, "POST", "/api/control", {"action": "reset"})[1]["epoch"] == 0
    status, answer = request(server, "POST", "/api/control", {"action": "jump"})
    assert status == 400 and "play, pause, step or reset" in answer["error"]


def test_a_csv_upload_with_a_mistake_names_its_line(server):
    status, answer = request(server, "POST", "/api/csv", {"text": "x1,x2,label\n1,1,1\n2,two,0\n"})
    assert status == 400 and answer["error"] == "line 3: x2 is 'two', not a number"
    status, state = request(server, "POST", "/api/csv", {"text": "1,1,1\n-1,-1,0\n2,2,1\n-2,-2,0\n"})
    assert status == 200 and state["settings"]["dataset"] == "csv"
    assert len(state["train"]) + len(state["test"]) == 4


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"},
                                     {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"},
                                     {"Host": "evil.example:8000"}])
def test_a_request_from_another_origin_is_refused(server, headers):
    for method, path, body in (("POST", "/api/control", {"action": "play"}), ("GET", "/api/state", None),
                               ("GET", "/", None)):
        status, answer = request(server, method, path, body, headers=headers)
        assert status == 403 and "refused" in answer["error"]
    assert not request(server, "GET", "/api/state")[1]["playing"]


def test_a_link_from_another_site_opens_the_page_but_not_the_api(server):
    link = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    status, page = request(server, "GET", "/", headers=link)
    assert status == 200 and b"playground.js" in page
    status, answer = request(server, "GET", "/api/state", headers=link)
    assert status == 403 and "cross-site" in answer["error"]
    status, _ = request(server, "GET", "/playground.js", headers={"Sec-Fetch-Site": "cross-site",
                                                                  "Sec-Fetch-Mode": "no-cors"})
    assert status == 403


def test_the_pages_own_origin_is_answered(server):
    port = server.server_address[1]
    status, _ = request(server, "POST", "/api/control", {"action": "pause"},
                        headers={"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"})
    assert status == 200


def test_a_post_must_be_json_and_within_the_size_limit(server):
    status, answer = request(server, "POST", "/api/control", raw=b"action=play",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and "must carry JSON" in answer["error"]
    big = json.dumps({"text": "1,1,1\n" * (MAX_BODY // 6 + 10)}).encode()
    status, answer = request(server, "POST", "/api/csv", raw=big, headers={"Content-Type": "application/json"})
    assert status == 413 and "the limit is 2,097,152 bytes" in answer["error"]
    status, answer = request(server, "POST", "/api/point", {"x1": "one", "x2": 0, "label": 1})
    assert status == 400 and "'x1' must be a number" in answer["error"]


def test_the_export_is_downloadable_and_runs(server, tmp_path):
    request(server, "POST", "/api/settings", {"settings": {"dataset": "xor"}})
    for _ in range(3):
        request(server, "POST", "/api/control", {"action": "step"})
    state = request(server, "GET", "/api/state")[1]
    status, script = request(server, "GET", f"/api/export/{export.SCRIPT_NAME}")
    _, weights = request(server, "GET", f"/api/export/{export.WEIGHTS_NAME}")
    assert status == 200
    (tmp_path / export.SCRIPT_NAME).write_bytes(script)
    (tmp_path / export.WEIGHTS_NAME).write_bytes(weights)
    run = subprocess.run([sys.executable, export.SCRIPT_NAME], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"test loss: {state['testLoss']:.4f}" in run.stdout


def test_backprop_and_linear_lines_over_http(server):
    request(server, "POST", "/api/settings", {"settings": {"dataset": "gauss"}})
    status, trace = request(server, "POST", "/api/backprop", {"x1": 1.0, "x2": 2.0, "label": 1})
    assert status == 200 and len(trace["layers"]) == 3
    status, lines = request(server, "POST", "/api/linear", {})
    assert status == 200 and lines["perceptron"]["accuracy"] == 1.0


# -- the command ----------------------------------------------------------------------------------

def test_the_command_is_registered(capsys):
    with pytest.raises(SystemExit):
        main(["playground", "--help"])
    assert "--no-browser" in capsys.readouterr().out


def test_a_port_in_use_is_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["playground", "--port", str(port), "--no-browser"]) == 2
    assert f"port {port} is in use" in capsys.readouterr().err
