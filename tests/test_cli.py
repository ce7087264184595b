"""The command line with tiny settings: training, evaluation, prediction, and one-line user errors."""

import gzip
import subprocess
import sys

import numpy as np
import pytest

import shenjing as sj
from shenjing.cli import main


def test_version_and_help(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert sj.__version__ in capsys.readouterr().out
    assert main([]) == 0
    assert "train" in capsys.readouterr().out


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "shenjing", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "shenjing" in result.stdout


def test_train_perceptron_reports_xor_failure(capsys):
    assert main(["train", "perceptron"]) == 0
    out = capsys.readouterr().out
    assert "AND  converged" in out and "OR   converged" in out and "NOT  converged" in out
    assert "XOR  did not converge" in out


def test_train_xor(capsys):
    assert main(["train", "xor", "--quiet"]) == 0
    assert "accuracy: 100%" in capsys.readouterr().out


def test_train_xo_saves_a_model_that_evaluates(tmp_path, capsys):
    out = tmp_path / "xo.shenjing"
    assert main(["train", "xo", "--epochs", "8", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    accuracy = float(printed.split("test accuracy: ")[1].split("%")[0])
    assert accuracy >= 90.0
    contents = sj.load(out)
    assert contents["format"] == "shenjing-model" and contents["model"] == "xo"


def test_train_rnn(tmp_path, capsys):
    assert main(["train", "rnn", "--epochs", "3", "--quiet", "--out", str(tmp_path / "rnn.shenjing")]) == 0
    printed = capsys.readouterr().out
    mse = float(printed.split("loss ")[1].split()[0].rstrip(","))
    assert mse < 0.1  # a sine wave's variance is 0.5: predicting the mean would give ~0.5


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "mlp.shenjing"
    assert main(["train", "mlp", "--epochs", "1", "--quiet", "--out", str(path)]) == 0
    return path


def test_train_mlp_evaluate_and_predict(mlp_file, tmp_path, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(mlp_file), "--quiet"]) == 0
    accuracy = float(capsys.readouterr().out.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 85.0
    pil = pytest.importorskip("PIL.Image")
    from shenjing.vision.datasets import MNIST

    test = MNIST(None, train=False)
    digit, label = test.data[0].numpy(), int(test.targets[0].item())
    # a photo-like version: dark ink on white paper, larger, in colour
    big = np.kron(255 - digit, np.ones((3, 3), np.uint8))
    path = tmp_path / "digit.png"
    pil.fromarray(np.stack([big] * 3, -1)).save(path)
    assert main(["predict", str(mlp_file), str(path)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{path}: ") and "0:" in printed and "9:" in printed
    assert int(printed.split(": ")[1].split()[0]) == label


def test_user_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    missing = tmp_path / "nothing-here"
    missing.mkdir()
    assert main(["train", "mlp", "--epochs", "1", "--quiet", "--data-dir", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "download" in err and len(err.strip().splitlines()) == 1

    broken = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(broken, "wb") as f:
        f.write(b"\x00\x00\x08\x03" + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 100)
    assert main(["train", "mlp", "--epochs", "1", "--quiet", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and len(err.strip().splitlines()) == 1

    not_a_model = tmp_path / "model.shenjing"
    not_a_model.write_text("hello")
    assert main(["evaluate", str(not_a_model)]) == 2
    assert "not a shenjing model file" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "absent.shenjing")]) == 2
    assert "no such model file" in capsys.readouterr().err

    assert main(["train", "resnet"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_unreadable_image(mlp_file, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert main(["predict", str(mlp_file), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cannot read this image" in err and len(err.strip().splitlines()) == 1
    assert main(["predict", str(mlp_file), str(tmp_path / "absent.png")]) == 2
    assert "no such image file" in capsys.readouterr().err
