"""Feature maps and kernels: hooks catch exactly what the conv layers compute, seed 003's X-vs-O
tables come out as the notes print them, and the pictures are written with the right sizes."""

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
from shenjing.cli import main
from shenjing.models import LeNet5
from shenjing.teach import featuremaps as fm

# Seed 003, "对图像运用该卷积核, 产生的结果": the diagonal kernel's feature map of the X, as printed
# (mean of the nine products, cut to two decimals).
NOTES_DIAGONAL_MAP = [
    [0.77, -0.11, 0.11, 0.33, 0.55, -0.11, 0.33],
    [-0.11, 1.00, -0.11, 0.33, -0.11, 0.11, -0.11],
    [0.11, -0.11, 1.00, -0.33, 0.11, -0.11, 0.55],
    [0.33, 0.33, -0.33, 0.55, -0.33, 0.33, 0.33],
    [0.55, -0.11, 0.11, -0.33, 1.00, -0.11, 0.11],
    [-0.11, 0.11, -0.11, 0.33, -0.11, 1.00, -0.11],
    [0.33, -0.11, 0.55, 0.33, 0.11, -0.11, 0.77],
]


def test_xo_image_and_kernels_are_the_notes():
    x = fm.XO_IMAGE
    assert x.shape == (9, 9) and set(np.unique(x)) == {-1.0, 1.0}
    assert all(x[i, i] == 1 and x[i, 8 - i] == 1 for i in range(1, 8))
    assert (x == 1).sum() == 13  # two diagonals of seven pixels sharing the centre
    np.testing.assert_array_equal(fm.XO_KERNELS["diagonal"], [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
    np.testing.assert_array_equal(fm.XO_KERNELS["cross"], [[1, -1, 1], [-1, 1, -1], [1, -1, 1]])
    np.testing.assert_array_equal(fm.XO_KERNELS["anti-diagonal"], [[-1, -1, 1], [-1, 1, -1], [1, -1, -1]])


def test_xo_diagonal_map_is_the_notes_table():
    maps = fm.xo_feature_maps()
    assert maps.shape == (3, 7, 7)
    np.testing.assert_allclose(fm.notes_rounding(maps[0]), NOTES_DIAGONAL_MAP, atol=1e-9)


def test_xo_maps_are_means_of_products():
    maps = fm.xo_feature_maps().numpy()
    for k, kernel in enumerate(fm.XO_KERNELS.values()):
        expected = np.array([[np.mean(fm.XO_IMAGE[i:i + 3, j:j + 3] * kernel) for j in range(7)] for i in range(7)])
        np.testing.assert_allclose(maps[k], expected, atol=1e-6)
    # a perfect match gives 1: the X's centre under the cross, its top-left stroke under the diagonal
    assert maps[1, 3, 3] == pytest.approx(1.0) and maps[0, 1, 1] == pytest.approx(1.0)


def test_notes_rounding_truncates():
    np.testing.assert_allclose(fm.notes_rounding(np.array([7 / 9, 5 / 9, -1 / 9, -3 / 9, 1.0, 0.0])),
                               [0.77, 0.55, -0.11, -0.33, 1.0, 0.0])


def test_feature_maps_equal_conv_outputs_computed_directly():
    sj.manual_seed(3)
    model = LeNet5()
    image = np.random.default_rng(0).normal(size=(1, 28, 28)).astype(np.float32)
    conv1 = fm.feature_maps(model, sj.tensor(image), "conv1").numpy()
    conv2 = fm.feature_maps(model, sj.tensor(image), "conv2").numpy()

    def weights(layer):
        return torch.tensor(layer.weight.detach().numpy()), torch.tensor(layer.bias.detach().numpy())

    x = torch.tensor(image)[None]
    w1, b1 = weights(model.conv1)
    w2, b2 = weights(model.conv2)
    expected1 = TF.conv2d(x, w1, b1, padding=2)
    expected2 = TF.conv2d(TF.max_pool2d(TF.relu(expected1), 2), w2, b2)
    assert conv1.shape == (6, 28, 28) and conv2.shape == (16, 10, 10)
    np.testing.assert_allclose(conv1, expected1[0].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(conv2, expected2[0].numpy(), rtol=1e-5, atol=1e-5)


def test_capture_removes_its_hooks_and_keeps_the_mode():
    model = LeNet5()
    model.train()
    out = fm.capture_outputs(model, sj.zeros(2, 1, 28, 28), ["conv1", "pool1"])
    assert tuple(out["conv1"].shape) == (2, 6, 28, 28) and tuple(out["pool1"].shape) == (2, 6, 14, 14)
    assert all(len(m._forward_hooks) == 0 for m in model.modules())
    assert model.training


def test_layer_kernels_and_errors():
    model = LeNet5()
    np.testing.assert_array_equal(fm.layer_kernels(model, "conv2").numpy(), model.conv2.weight.detach().numpy())
    assert fm.conv_layer_names(model) == ["conv1", "conv2"]
    with pytest.raises(ValueError, match="not a Conv2d"):
        fm.layer_kernels(model, "fc1")
    with pytest.raises(ValueError, match="no layer 'conv9'.*conv1"):
        fm.feature_maps(model, sj.zeros(1, 28, 28), "conv9")
    with pytest.raises(ValueError, match="one image"):
        fm.feature_maps(model, sj.zeros(2, 1, 28, 28), "conv1")


def _png_size(path):
    from PIL import Image

    with Image.open(path) as image:
        return image.format, image.size


def test_pictures_have_the_figure_size(tmp_path):
    pytest.importorskip("matplotlib")
    figure = fm.plot_xo_demo(tmp_path / "xo.png")
    width, height = figure.get_size_inches() * figure.dpi
    assert _png_size(tmp_path / "xo.png") == ("PNG", (round(width), round(height)))
    figure = fm.plot_kernels(LeNet5().conv2.weight, tmp_path / "k.png")
    width, height = figure.get_size_inches() * figure.dpi
    assert _png_size(tmp_path / "k.png") == ("PNG", (round(width), round(height)))
    fm.plot_feature_maps(fm.xo_feature_maps(), tmp_path / "m.png", annotate=True)
    fm.plot_layer(LeNet5(), sj.randn(1, 28, 28), "conv1", tmp_path / "layer.png")
    assert _png_size(tmp_path / "m.png")[0] == _png_size(tmp_path / "layer.png")[0] == "PNG"


def test_without_matplotlib_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    for draw in (fm.plot_xo_demo, lambda: fm.plot_kernels(LeNet5().conv1.weight),
                 lambda: fm.plot_feature_maps(fm.xo_feature_maps()),
                 lambda: fm.plot_layer(LeNet5(), sj.zeros(1, 28, 28), "conv1")):
        with pytest.raises(ImportError, match=r"pip install shenjing\[plot\]"):
            draw()
    assert fm.xo_feature_maps().shape == (3, 7, 7)  # the numbers need no matplotlib


def test_cli_xo_demo(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "xo.png"
    assert main(["featuremaps", "xo-demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert " 0.77 -0.11  0.11  0.33  0.55 -0.11  0.33" in printed and out.exists()


@pytest.fixture(scope="module")
def lenet_file(tmp_path_factory):
    from shenjing.recipes import save_model

    path = tmp_path_factory.mktemp("models") / "lenet.shenjing"
    save_model(str(path), "lenet", {}, LeNet5(), {})
    return path


def test_cli_featuremaps_of_a_model_file(tmp_path, capsys, lenet_file):
    pytest.importorskip("matplotlib")
    from PIL import Image

    digit = np.zeros((40, 30), np.uint8)
    digit[5:35, 13:17] = 255  # a "1"
    Image.fromarray(digit).save(tmp_path / "one.png")
    out = tmp_path / "maps.png"
    assert main(["featuremaps", str(lenet_file), str(tmp_path / "one.png"), "--layer", "conv1", "--out", str(out)]) == 0
    assert "6 feature maps of 28x28" in capsys.readouterr().out
    assert _png_size(out)[0] == "PNG"


def test_cli_featuremaps_mistakes(tmp_path, capsys, lenet_file):
    from shenjing.models import MLP
    from shenjing.recipes import save_model

    assert main(["featuremaps", str(lenet_file), "--layer", "fc1", "--out", str(tmp_path / "x.png")]) == 2
    assert "conv layers: conv1, conv2" in capsys.readouterr().err
    assert main(["featuremaps", str(lenet_file), str(tmp_path / "missing.png")]) == 2
    assert "no such image file" in capsys.readouterr().err
    save_model(str(tmp_path / "mlp.shenjing"), "mlp", {"sizes": [784, 10]}, MLP([784, 10]), {})
    assert main(["featuremaps", str(tmp_path / "mlp.shenjing")]) == 2
    assert "no convolution layers" in capsys.readouterr().err
