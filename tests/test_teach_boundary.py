"""Decision boundaries: the grid holds the model's own predictions, training records one grid per
chosen epoch, and the GIF has one frame per recorded epoch."""

import sys

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing.cli import main
from shenjing.data import logic_gate
from shenjing.models import MLP, Perceptron, XorNet
from shenjing.teach import boundary as bd


def test_perceptron_grid_is_the_step_of_its_line():
    model = Perceptron(2)
    with sj.no_grad():
        model.weight.copy_(sj.tensor([1.0, -2.0]))
        model.bias.copy_(sj.tensor(0.5))
    x = sj.tensor([[-1.0, -1.0], [2.0, 1.5]])
    xs, ys, labels = bd.decision_grid(model, x, resolution=41, margin=0.0)
    np.testing.assert_allclose(xs, np.linspace(-1, 2, 41))
    np.testing.assert_allclose(ys, np.linspace(-1, 1.5, 41))
    grid_x, grid_y = np.meshgrid(xs.astype(np.float32), ys.astype(np.float32))
    z = 1.0 * grid_x - 2.0 * grid_y + 0.5
    decided = np.abs(z) > 1e-5  # leave out points within rounding of the line itself
    np.testing.assert_array_equal(labels[decided], (z >= 0)[decided].astype(np.int64))
    assert 0 < labels.mean() < 1


def test_xor_net_grid_is_the_notes_formula():
    x, _ = logic_gate("xor")
    xs, ys, labels = bd.decision_grid(XorNet(), x, resolution=60)
    grid_x, grid_y = np.meshgrid(xs, ys)
    s = grid_x + grid_y  # the notes: h = relu(x1 + x2, x1 + x2 - 1), y = h1 - 2 h2 - 0.5
    y = np.maximum(s, 0) - 2 * np.maximum(s - 1, 0) - 0.5
    decided = np.abs(y) > 1e-5
    np.testing.assert_array_equal(labels[decided], (y > 0)[decided].astype(np.int64))
    assert bd.predict_classes(XorNet(), x).tolist() == [0, 1, 1, 0]


def test_mlp_grid_equals_torch_predictions():
    sj.manual_seed(0)
    model = MLP([2, 8, 3], activation="tanh")
    x, _ = bd.load_2d_data("blobs")
    xs, ys, labels = bd.decision_grid(model, x, resolution=50)
    linear = [m for m in model.modules() if isinstance(m, sj.nn.Linear)]
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for ours, theirs in zip(linear, [net[0], net[2]]):
            theirs.weight.copy_(torch.tensor(ours.weight.detach().numpy()))
            theirs.bias.copy_(torch.tensor(ours.bias.detach().numpy()))
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = torch.tensor(np.stack([grid_x.ravel(), grid_y.ravel()], 1), dtype=torch.float32)
    scores = net(points).detach().numpy()
    top2 = np.sort(scores, 1)[:, -2:]
    decided = (top2[:, 1] - top2[:, 0]) > 1e-4
    np.testing.assert_array_equal(labels.ravel()[decided], scores.argmax(1)[decided])
    assert len(np.unique(labels)) == 3


def test_training_records_the_chosen_epochs():
    x, y = bd.load_2d_data("moons", n=60)
    run = bd.train_boundary("mlp", x, y, epochs=7, record_every=3, hidden=8)
    assert run.epochs == [0, 3, 6, 7] and len(run.grids) == 4 and len(run.losses) == 7
    np.testing.assert_array_equal(run.grids[-1], run.grid()[2])  # the last grid is the final model's
    assert run.grids[0].shape == (run.resolution, run.resolution)


def test_perceptron_rule_stops_when_converged():
    x, y = bd.load_2d_data("and")
    run = bd.train_boundary("perceptron", x, y, epochs=50, record_every=1)
    assert run.losses[-1] == 0 and len(run.losses) < 50  # an epoch without mistakes ends it
    assert run.accuracy == 1.0 and run.epochs == list(range(len(run.losses) + 1))
    with pytest.raises(ValueError, match="two classes"):
        bd.train_boundary("perceptron", *bd.load_2d_data("blobs"), epochs=1)


def test_linear_models_cannot_learn_xor_but_the_xor_net_can():
    x, y = bd.load_2d_data("xor", n=120)
    assert bd.train_boundary("svm", x, y, epochs=30).accuracy < 0.8  # no line splits XOR's four clouds
    assert bd.train_boundary("xor", x, y, epochs=60, hidden=4).accuracy > 0.95
    blobs = bd.load_2d_data("blobs", n=120)
    assert bd.train_boundary("svm", *blobs, epochs=20).accuracy > 0.95


def test_svm_loss_is_hinge_plus_l2():
    model = sj.nn.Linear(2, 3)
    loss = bd._loss_function("svm", model, 0.5)
    out, target = sj.tensor([[2.0, 1.5, -1.0]]), sj.tensor([0])
    hinge = (max(0, 1 - 2.0 + 1.5) + max(0, 1 - 2.0 - 1.0)) / 3  # PyTorch's MultiMarginLoss divides by C
    expected = hinge + 0.5 * float((model.weight.detach().numpy() ** 2).sum())
    assert loss(out, target).item() == pytest.approx(expected, rel=1e-6)


def test_gif_has_one_frame_per_recorded_epoch(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    run = bd.train_boundary("perceptron", *bd.load_2d_data("or"), epochs=4, record_every=1)
    frames = bd.animate_boundary(run, tmp_path / "b.gif", size=3.0, dpi=60)
    with Image.open(tmp_path / "b.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == frames == len(run.epochs)
        assert gif.size == (198, 189)  # 3.3 x 3.15 inches at 60 dots per inch


def test_boundary_png_size(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    x, y = bd.load_2d_data("xor")
    figure = bd.plot_boundary(XorNet(), x, y, tmp_path / "xor.png")
    with Image.open(tmp_path / "xor.png") as image:
        assert image.size == tuple(round(v) for v in figure.get_size_inches() * figure.dpi)


def test_without_matplotlib_the_error_names_the_extra(monkeypatch, tmp_path):
    run = bd.train_boundary("perceptron", *bd.load_2d_data("and"), epochs=2)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install shenjing\[plot\]"):
        bd.plot_boundary(run)
    with pytest.raises(ImportError, match=r"pip install shenjing\[plot\]"):
        bd.animate_boundary(run, tmp_path / "b.gif")


def test_cli_boundary(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png, gif = tmp_path / "b.png", tmp_path / "b.gif"
    assert main(["boundary", "perceptron", "--data", "and", "--out", str(png), "--gif", str(gif)]) == 0
    printed = capsys.readouterr().out
    assert "training accuracy 100.0%" in printed and png.exists() and gif.exists()
    assert main(["boundary", "xor", "--notes-weights", "--out", str(png)]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_cli_boundary_mistakes(capsys):
    assert main(["boundary", "tree"]) == 2
    assert "perceptron, svm, mlp, xor" in capsys.readouterr().err
    assert main(["boundary", "mlp", "--data", "iris"]) == 2
    assert "unknown data" in capsys.readouterr().err
    assert main(["boundary", "perceptron", "--data", "blobs"]) == 2
    assert "two classes" in capsys.readouterr().err
    assert main(["boundary", "mlp", "--points", "2"]) == 2
    assert main(["boundary", "mlp", "--notes-weights"]) == 2
    assert main(["boundary", "xor", "--notes-weights", "--gif", "x.gif"]) == 2
    assert "nothing to animate" in capsys.readouterr().err
