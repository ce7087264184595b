"""Optimiser paths are the optimisers' parameter trajectories (checked against torch.optim on the
same surfaces), and L1 makes sparse weights where L2 does not (L2 checked against ridge's closed form)."""

import sys

import numpy as np
import pytest
import torch

from shenjing.cli import main
from shenjing.teach import optimizers as op

TORCH_OPTIMIZERS = {"sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "rmsprop": torch.optim.RMSprop,
                    "adam": torch.optim.Adam}


def _torch_path(surface, name, steps):
    point = torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)
    settings = dict(surface.settings[name])
    if name == "momentum":
        settings.setdefault("momentum", 0.9)
    optimizer = TORCH_OPTIMIZERS[name]([point], **settings)
    path = [point.detach().numpy().copy()]
    for _ in range(steps):
        optimizer.zero_grad()
        surface(point[0], point[1]).backward()
        optimizer.step()
        path.append(point.detach().numpy().copy())
    return np.array(path)


@pytest.mark.parametrize("surface", list(op.SURFACES))
@pytest.mark.parametrize("name", op.OPTIMIZERS)
def test_paths_are_torch_optim_trajectories(surface, name):
    chosen = op.SURFACES[surface]
    ours = op.optimizer_path(surface, name, steps=12)
    assert ours.shape == (13, 2) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, _torch_path(chosen, name, 12), rtol=1e-10, atol=1e-12)


def test_first_sgd_step_on_rosenbrock_by_hand():
    # f = (1 - x)^2 + 100 (y - x^2)^2 at (-1.2, 1): df/dx = -2 (1 - x) - 400 x (y - x^2) = -215.6,
    # df/dy = 200 (y - x^2) = -88; one step of lr 0.001 moves by -lr * gradient
    path = op.optimizer_path("rosenbrock", "sgd", steps=1, lr=0.001)
    np.testing.assert_allclose(path[1], [-1.2 + 0.2156, 1.0 + 0.088], rtol=1e-12)


def test_what_the_pictures_show():
    paths = op.optimizer_paths("saddle")
    # at the saddle the gradient in y is tiny: SGD lingers there; RMSprop and Adam rescale it and escape
    assert np.abs(paths["sgd"][-1]).max() < 0.5
    assert abs(paths["rmsprop"][-1, 1]) > 2 and abs(paths["adam"][-1, 1]) > 2
    bowl = op.SURFACES["bowl"]
    for name, points in op.optimizer_paths("bowl").items():
        assert bowl(*points[-1]) < 0.1 * bowl(*bowl.start), name
    # SGD's lr 0.4 on the steep axis (curvature 4) multiplies y by 1 - 0.4 * 4 = -0.6 each step: zig-zag
    y = op.optimizer_path("bowl", "sgd", steps=4)[:, 1]
    np.testing.assert_allclose(y[1:] / y[:-1], -0.6)


def test_l1_gives_sparse_weights_and_l2_is_ridge():
    result = op.regularization_experiment(steps=800)
    assert result.near_zero("L1") > result.near_zero("L2")
    assert result.near_zero("L1") >= 8
    # L2: the minimum of mean((Xw - y)^2) + l2 |w|^2 solves (X^T X / n + l2 I) w = X^T y / n
    x, y, n = result.x, result.y, len(result.y)
    ridge = np.linalg.solve(x.T @ x / n + result.strengths["L2"] * np.eye(x.shape[1]), x.T @ y / n)
    np.testing.assert_allclose(result.weights["L2"], ridge, atol=1e-4)
    # L1 keeps the features that matter
    informative = result.true_weights != 0
    assert np.all(np.abs(result.weights["L1"][informative]) > 0.5)
    with pytest.raises(ValueError, match="informative"):
        op.regularization_experiment(features=3, informative=5)
    with pytest.raises(ValueError, match="samples and steps must be positive"):
        op.regularization_experiment(samples=0)


def test_picture_sizes(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    figure = op.plot_optimizer_paths("bowl", op.optimizer_paths("bowl", steps=5), tmp_path / "bowl.png")
    with Image.open(tmp_path / "bowl.png") as image:
        assert image.size == (1000, 850)  # 2 x 2 panels: (2 x 4.6 + 0.8) x (2 x 4.0 + 0.5) inches at 100 dpi
    assert figure.dpi == 100
    figure = op.plot_regularization(op.regularization_experiment(steps=50), tmp_path / "reg.png")
    with Image.open(tmp_path / "reg.png") as image:
        assert image.size == (round(10.5 * figure.dpi), round((2.3 * 3 + 0.8) * figure.dpi))


def test_without_matplotlib_the_error_names_the_extra(monkeypatch):
    result = op.regularization_experiment(steps=5)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install shenjing\[plot\]"):
        op.plot_optimizer_paths("saddle")
    with pytest.raises(ImportError, match=r"pip install shenjing\[plot\]"):
        op.plot_regularization(result)


def test_cli(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "p.png"
    assert main(["optimizers", "--surface", "bowl", "--steps", "5", "--optimizers", "sgd,adam", "--out", str(out)]) == 0
    assert "sgd      after 5 steps" in capsys.readouterr().out and out.exists()
    assert main(["regularization", "--steps", "100", "--out", str(out)]) == 0
    assert "L1  :" in capsys.readouterr().out
    assert main(["optimizers", "--surface", "himmelblau"]) == 2
    assert "rosenbrock, saddle, bowl" in capsys.readouterr().err
    assert main(["optimizers", "--optimizers", "lbfgs"]) == 2
    assert main(["regularization", "--features", "2", "--informative", "3"]) == 2


def test_cli_without_matplotlib_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["optimizers", "--surface", "bowl", "--steps", "2"]) == 2
    assert "pip install shenjing[plot]" in capsys.readouterr().err


def test_matplotlib_is_imported_only_to_draw():
    import subprocess

    code = ("import sys; import shenjing.cli; shenjing.cli.build_parser(); "
            "from shenjing.teach import featuremaps, boundary, curves, optimizers, plots_cli; "
            "optimizers.optimizer_path('bowl', 'adam', steps=2); featuremaps.xo_feature_maps(); "
            "print('matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
