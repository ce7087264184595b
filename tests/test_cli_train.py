"""`shenjing train` as a user runs it (in a subprocess): every flag checked before any work, one-line
errors with exit code 2, --out checked first, the optimisers' usual learning rates, a diverging run
stopped without touching the saved model, the history saved with the model, Ctrl-C and --resume."""

import hashlib
import inspect
import os
import signal
import subprocess
import sys
import time

import pytest

import shenjing as sj
from shenjing.train import History, fit


def shenjing_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "shenjing", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def one_error_line(result, code=2):
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("shenjing: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def xo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("trained") / "xo.shenjing"
    result = shenjing_cli("train", "xo", "--epochs", "3", "--quiet", "--out", str(path))
    assert result.returncode == 0, result.stderr
    return path


BAD_FLAGS = [
    (["lenet", "--epochs", "0"], "--epochs"),
    (["lenet", "--epochs", "-1"], "--epochs"),
    (["xor", "--epochs", "-1"], "--epochs"),
    (["lenet", "--batch-size", "0"], "--batch-size"),
    (["lenet", "--batch-size", "-5"], "--batch-size"),
    (["mlp", "--hidden", "0"], "--hidden"),
    (["lenet", "--lr", "-0.1"], "--lr"),
    (["lenet", "--lr", "0"], "--lr"),
    (["lenet", "--lr", "nan"], "--lr"),
    (["lenet", "--lr", "inf"], "--lr"),
    (["lenet", "--epochs", "two"], "--epochs"),
    (["lenet", "--seed", "-3"], "--seed"),
    (["lenet", "--optimizer", "lbfgs"], "--optimizer"),
    (["perceptron", "--out", "p.shenjing"], "--out"),
    (["perceptron", "--optimizer", "adam"], "--optimizer"),
    (["xor", "--optimizer", "adam"], "--optimizer"),
    (["xor", "--batch-size", "2"], "--batch-size"),
    (["lenet", "--hidden", "10"], "--hidden"),
    (["xo", "--data-dir", "."], "--data-dir"),
    (["lenet", "--download"], "--download"),
    (["resnet"], "unknown model"),
]


@pytest.mark.parametrize("flags, named", BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_a_bad_flag_is_one_line_exit_2_before_any_work(flags, named, tmp_path):
    result = shenjing_cli("train", *flags, cwd=tmp_path)
    line = one_error_line(result)
    assert named in line
    assert result.stdout == "" and list(tmp_path.iterdir()) == []  # nothing trained, nothing written


def test_out_is_checked_before_training(tmp_path):
    result = shenjing_cli("train", "lenet", "--out", str(tmp_path / "no" / "such" / "dir" / "x.shenjing"))
    line = one_error_line(result)
    assert "does not exist" in line and str(tmp_path / "no" / "such" / "dir") in line and ".tmp" not in line
    assert result.stdout == ""
    line = one_error_line(shenjing_cli("train", "lenet", "--out", str(tmp_path)))
    assert "is a folder" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_out_in_a_read_only_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert "cannot write" in one_error_line(shenjing_cli("train", "xo", "--out", str(locked / "xo.shenjing")))
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("optimizer, torch_class", [("sgd", "SGD"), ("adamw", "AdamW")])
def test_another_optimizer_gets_its_own_default_learning_rate(optimizer, torch_class, tmp_path):
    torch = pytest.importorskip("torch")
    expected = inspect.signature(getattr(torch.optim, torch_class)).parameters["lr"].default
    out = tmp_path / "xo.shenjing"
    result = shenjing_cli("train", "xo", "--optimizer", optimizer, "--epochs", "1", "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"{torch_class} with learning rate {expected:g} ({torch_class}'s default)" in result.stdout
    assert sj.load(out)["history"]["epochs"][0]["lr"] == pytest.approx(expected)  # what the optimiser used
    result = shenjing_cli("train", "xo", "--optimizer", optimizer, "--lr", "0.02", "--epochs", "1", "--quiet",
                          "--out", str(out))
    assert "learning rate 0.02 (--lr)" in result.stdout
    assert sj.load(out)["history"]["epochs"][0]["lr"] == pytest.approx(0.02)


def test_a_diverging_run_stops_with_exit_1_and_keeps_the_saved_model(xo_file, tmp_path):
    before = digest(xo_file)
    # SGD at 1e9 overflows in the first batches: the loss becomes nan
    result = shenjing_cli("train", "mlp", "--optimizer", "sgd", "--lr", "1e9", "--epochs", "3", "--quiet",
                          "--out", str(xo_file))
    line = one_error_line(result, code=1)
    assert "nan" in line and "nothing was saved" in line and "--lr" in line
    assert digest(xo_file) == before
    assert sorted(p.name for p in xo_file.parent.iterdir()) == ["xo.shenjing"]  # no checkpoint left behind


def test_the_history_is_saved_with_the_model_for_curves(xo_file, tmp_path):
    history = History.from_dict(sj.load(xo_file)["history"])
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3]
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    result = shenjing_cli("curves", str(xo_file), "--out", str(png))
    assert result.returncode == 0, result.stderr
    assert png.stat().st_size > 1000 and result.stdout.count("epoch ") == 3


def _interrupt_after_first_checkpoint(args, checkpoint):
    child = subprocess.Popen([sys.executable, "-m", "shenjing", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    return child.returncode, out, err


def test_ctrl_c_keeps_a_checkpoint_and_resume_finishes_the_same_run(tmp_path):
    settings = ["--epochs", "120", "--seed", "3", "--quiet"]
    whole = tmp_path / "whole.shenjing"
    assert shenjing_cli("train", "xo", *settings, "--out", str(whole)).returncode == 0

    out = tmp_path / "xo.shenjing"
    checkpoint = tmp_path / "xo.checkpoint"
    code, _, err = _interrupt_after_first_checkpoint(["train", "xo", *settings, "--out", str(out)], checkpoint)
    assert code == 130, err
    assert f"shenjing train xo --resume {checkpoint}" in err and "Traceback" not in err
    assert checkpoint.exists() and not out.exists()

    # --resume keeps the run's own settings: other flags are refused, and so is another model
    assert "drop --epochs" in one_error_line(shenjing_cli("train", "xo", "--resume", str(checkpoint),
                                                          "--epochs", "5"))
    assert "checkpoint of 'xo'" in one_error_line(shenjing_cli("train", "lenet", "--resume", str(checkpoint)))
    assert "cannot be resumed" in one_error_line(shenjing_cli("train", "xo", "--resume", str(whole)))

    result = shenjing_cli("train", "xo", "--resume", str(checkpoint), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "resuming xo" in result.stdout and not checkpoint.exists()
    resumed, uninterrupted = sj.load(out), sj.load(whole)
    assert len(resumed["history"]["epochs"]) == 120
    for key, value in uninterrupted["state_dict"].items():
        assert sj.equal(resumed["state_dict"][key], value), key


def test_history_prints_as_a_short_table():
    sj.manual_seed(0)
    model = sj.nn.Linear(2, 2)
    data = [(sj.randn(8, 2), sj.randint(0, 2, (8,)))]
    history = fit(model, data, sj.nn.CrossEntropyLoss(), sj.optim.SGD(model.parameters(), lr=0.1), 12,
                  progress=False)
    lines = str(history).splitlines()
    assert lines[0] == "History of 12 epochs"
    assert lines[1].split() == ["epoch", "loss", "accuracy", "lr", "seconds"]
    assert [line.split()[0] for line in lines[2:]] == ["1", "2", "3", "...", "11", "12"]
    assert max(map(len, lines)) < 100 and repr(history) == str(history)
    assert float(lines[-1].split()[1]) == pytest.approx(history["loss"][-1], rel=1e-3)
