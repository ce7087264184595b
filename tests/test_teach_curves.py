"""Training curves and gradient health: the norms are those of autograd's gradients (checked against
PyTorch), a deep sigmoid network's first layer gets far less gradient than a ReLU network's, and the
gradient through the Elman RNN's time steps is backpropagation through time."""

import json
import sys

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing.cli import main
from shenjing.models import ElmanRNN
from shenjing.teach import curves
from shenjing.teach.boundary import load_2d_data
from shenjing.train import History, fit


def _torch_mlp(model, activation):
    layers = []
    for module in model.modules():
        if isinstance(module, sj.nn.Linear):
            linear = torch.nn.Linear(module.in_features, module.out_features)
            with torch.no_grad():
                linear.weight.copy_(torch.tensor(module.weight.detach().numpy()))
                linear.bias.copy_(torch.tensor(module.bias.detach().numpy()))
            layers += [linear, activation()]
    return torch.nn.Sequential(*layers[:-1])


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_layer_norms_are_norms_of_torch_gradients(activation):
    model = curves.deep_mlp(activation, depth=5, width=16)
    x, y = load_2d_data("moons", n=64)
    sj.nn.CrossEntropyLoss()(model(x), y).backward()
    norms = curves.layer_gradient_norms(model)

    net = _torch_mlp(model, torch.nn.Sigmoid if activation == "sigmoid" else torch.nn.ReLU)
    torch.nn.CrossEntropyLoss()(net(torch.tensor(x.numpy())), torch.tensor(y.numpy())).backward()
    expected = [layer.weight.grad.norm().item() for layer in net if isinstance(layer, torch.nn.Linear)]
    assert len(norms) == 6
    np.testing.assert_allclose(list(norms.values()), expected, rtol=1e-4)


def test_gradient_health_first_step_matches_a_fresh_backward():
    health = curves.gradient_health("sigmoid", depth=4, width=8, steps=3)
    model = curves.deep_mlp("sigmoid", depth=4, width=8)  # same seed: the same starting weights
    x, y = load_2d_data("moons")
    sj.nn.CrossEntropyLoss()(model(x), y).backward()
    np.testing.assert_allclose(health.at(0), list(curves.layer_gradient_norms(model).values()), rtol=1e-6)
    assert health.steps == [0, 1, 2] and len(health.losses) == 3


def test_sigmoid_gradients_vanish_where_relu_gradients_do_not():
    sigmoid = curves.gradient_health("sigmoid", depth=8, steps=2)
    relu = curves.gradient_health("relu", depth=8, steps=2)
    # the sigmoid's derivative is at most 1/4: eight of them shrink the first layer's gradient
    assert sigmoid.at(0)[0] < 1e-2 * relu.at(0)[0]
    assert sigmoid.at(0)[0] < 1e-3 * sigmoid.at(0)[-1]
    assert relu.at(0)[0] > 0.1 * relu.at(0)[-1]
    assert sigmoid.vanishing_layers(0)[0] == 0 and relu.vanishing_layers(0) == []
    assert any(w.startswith("vanishing: layer 1 ") for w in sigmoid.warnings())
    assert not relu.warnings()


def test_warning_rules():
    health = curves.GradientHealth("made up", ["a", "b", "c"], steps=[0, 1], losses=[1.0, 0.9],
                                   norms={"a": [1e-6, 1e-6], "b": [0.5, 2e3], "c": [1.0, float("nan")]})
    messages = health.warnings()
    assert messages[0].startswith("vanishing: layer 1 (a)") and "2 of 2 steps" in messages[0]
    assert messages[1].startswith("exploding: layer 2 (b)") and "at step 1" in messages[1]
    assert messages[2].startswith("exploding: layer 3 (c)")
    quiet = curves.GradientHealth("still", ["a"], steps=[0], losses=[0.69], norms={"a": [1e-6]})
    stalled = quiet.warnings()
    assert len(stalled) == 1 and stalled[0].startswith("stalled") and "0.6900" in stalled[0]
    exploding = curves.gradient_health("relu", depth=6, steps=3, init="kaiming", weight_scale=4.0)
    assert any(w.startswith("exploding") for w in exploding.warnings())
    assert exploding.warnings()[-1].startswith("diverged: the loss became nan at step 2")


def test_monitor_records_output_gradients_as_torch_computes_them():
    model = curves.deep_mlp("sigmoid", depth=3, width=8)
    x, y = load_2d_data("moons", n=32)
    with curves.GradientMonitor(model) as monitor:
        sj.nn.CrossEntropyLoss()(model(x), y).backward()
    assert all(len(m._forward_hooks) == 0 for m in model.modules())

    net = _torch_mlp(model, torch.nn.Sigmoid)
    outputs, h = [], torch.tensor(x.numpy())
    for layer in net:
        h = layer(h)
        if isinstance(layer, torch.nn.Linear):
            h.retain_grad()
            outputs.append(h)
    torch.nn.CrossEntropyLoss()(h, torch.tensor(y.numpy())).backward()
    expected = [o.grad.norm().item() for o in outputs]
    assert list(monitor.norms) == ["layers.1", "layers.3", "layers.5", "layers.7"]
    np.testing.assert_allclose([v[0] for v in monitor.norms.values()], expected, rtol=1e-4)


def test_monitor_during_fit_records_every_batch():
    sj.manual_seed(0)
    x, y = load_2d_data("moons", n=40)
    batches = [(x[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10)]
    model = curves.deep_mlp("relu", depth=2, width=8)
    with curves.GradientMonitor(model, ["layers.1"]) as monitor:
        fit(model, batches, sj.nn.CrossEntropyLoss(), sj.optim.SGD(model.parameters(), lr=0.1), 3,
            val_data=batches, progress=False)  # validation runs without gradients: nothing recorded
    assert len(monitor.norms["layers.1"]) == 3 * 4
    health = monitor.health()
    assert health.steps == list(range(12)) and health.warnings() == []
    with pytest.raises(ValueError, match="no layer 'conv1'"):
        curves.GradientMonitor(model, ["conv1"])


def test_rnn_state_gradients_are_backpropagation_through_time():
    sj.manual_seed(0)
    model = ElmanRNN(hidden_size=6)
    rng = np.random.default_rng(0)
    x, target = rng.normal(size=(3, 7, 1)).astype(np.float32), rng.normal(size=(3, 1)).astype(np.float32)
    ours = curves.rnn_state_gradients(model, sj.tensor(x), sj.tensor(target))

    rnn = torch.nn.RNN(1, 6, batch_first=True)
    fc = torch.nn.Linear(6, 1)
    with torch.no_grad():
        for name, value in model.state_dict().items():
            module, attribute = (rnn, name[4:]) if name.startswith("rnn.") else (fc, name[3:])
            getattr(module, attribute).copy_(torch.tensor(value.numpy()))
    h = torch.zeros(3, 6)
    states = []
    for t in range(7):  # PyTorch's nn.RNN, one step at a time
        h = torch.tanh(torch.tensor(x[:, t]) @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T
                       + rnn.bias_hh_l0)
        h.retain_grad()
        states.append(h)
    full, _ = rnn(torch.tensor(x))
    torch.testing.assert_close(full[:, -1], states[-1])  # the unrolled steps are nn.RNN's
    torch.nn.MSELoss()(fc(h), torch.tensor(target)).backward()
    expected = [s.grad.norm().item() for s in states]
    np.testing.assert_allclose(ours, expected, rtol=1e-4)
    # the last state's gradient is fc's weight times dL/dy, dL/dy = 2 (y - target) / N
    y = fc(states[-1]).detach().numpy()
    last = (2 * (y - target) / 3) @ fc.weight.detach().numpy()
    assert ours[-1] == pytest.approx(np.linalg.norm(last), rel=1e-4)


def test_rnn_gradients_vanish_or_explode_with_the_recurrent_weights():
    results = list(curves.rnn_gradient_curves(scales=(1.0, 4.0), steps=20, hidden_size=16, batch=8).values())
    small, large = results
    assert small[0] < 1e-3 * small[-1]  # fades going back in time
    assert large[0] > 10 * large[-1]  # grows going back in time


def _history():
    sj.manual_seed(0)
    x, y = load_2d_data("moons", n=40)
    data = [(x[:20], y[:20]), (x[20:], y[20:])]
    model = sj.nn.Linear(2, 2)
    return fit(model, data, sj.nn.CrossEntropyLoss(), sj.optim.SGD(model.parameters(), lr=0.5), 3,
               val_data=data, progress=False)


def test_plot_history_size_and_inputs(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    history = _history()
    figure = curves.plot_history(history, tmp_path / "h.png")
    assert len(figure.axes) == 2  # loss, accuracy (the learning rate is constant)
    with Image.open(tmp_path / "h.png") as image:
        assert image.size == (round(2 * 4.2 * figure.dpi), round(3.6 * figure.dpi))
    assert len(curves.plot_history(history.to_dict()).axes) == 2
    assert len(curves.plot_history([{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}]).axes) == 1
    with pytest.raises(ValueError, match="no epochs"):
        curves.plot_history(History())


def test_overfitting_demo_stops_early():
    history = curves.overfitting_demo(patience=10)
    assert history.stopped_early and history.best_epoch < len(history)
    val = history["val_loss"]
    assert val[history.best_epoch - 1] == min(val) and val[-1] > min(val)
    assert history["loss"][-1] < history["loss"][history.best_epoch - 1]  # training loss still falls


def test_without_matplotlib_the_error_names_the_extra(monkeypatch):
    health = curves.gradient_health("relu", depth=2, steps=1)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    for draw in (lambda: curves.plot_history([{"loss": 1.0}]), lambda: curves.plot_gradient_health(health),
                 lambda: curves.plot_rnn_gradients({"a": np.ones(3)})):
        with pytest.raises(ImportError, match=r"pip install shenjing\[plot\]"):
            draw()


def test_cli_curves_from_a_checkpoint_and_json(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    x, y = load_2d_data("moons", n=20)
    model = sj.nn.Linear(2, 2)
    fit(model, [(x, y)], sj.nn.CrossEntropyLoss(), sj.optim.SGD(model.parameters(), lr=0.1), 2, progress=False,
        checkpoint=tmp_path / "run.ckpt")
    assert main(["curves", str(tmp_path / "run.ckpt"), "--out", str(tmp_path / "c.png")]) == 0
    assert "epoch 2" in capsys.readouterr().out and (tmp_path / "c.png").exists()
    (tmp_path / "h.json").write_text(json.dumps(_history().to_dict()))
    assert main(["curves", str(tmp_path / "h.json"), "--out", str(tmp_path / "j.png")]) == 0
    assert main(["curves", str(tmp_path / "missing.ckpt")]) == 2
    sj.save({"weights": sj.zeros(2)}, tmp_path / "other.ckpt")
    assert main(["curves", str(tmp_path / "other.ckpt")]) == 2
    assert "holds no training history" in capsys.readouterr().err


def test_cli_gradients(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "g.png"
    assert main(["gradients", "--depth", "6", "--steps", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "warning: vanishing: layer 1 " in printed and out.exists()
    assert main(["gradients", "rnn", "--time-steps", "8", "--scales", "1,3", "--out", str(out)]) == 0
    assert "W_hh x 3" in capsys.readouterr().out
    assert main(["gradients", "rnn", "--scales", "one"]) == 2
    assert main(["gradients", "rnn", "--time-steps", "0"]) == 2
    assert main(["gradients", "cnn"]) == 2
