"""The command line's one table of models: each entry's input shape and classes are what its model takes
and gives, every command that takes a model name takes every name in it, and the teaching tools do not
need the command line's module to run."""

import subprocess
import sys

import pytest

import shenjing as sj
from shenjing.cli import main
from shenjing.registry import MODELS, build_model


@pytest.mark.parametrize("name", list(MODELS))
def test_an_entry_describes_its_model(name):
    entry = MODELS[name]
    sj.manual_seed(0)
    model = entry.make()
    output = model(sj.randn(3, *entry.input_size))
    if entry.classes is not None:
        assert tuple(output.shape) == (3, entry.classes)
    assert type(build_model(name, {})) is type(model)


def test_train_summary_graph_and_gradcheck_know_every_model(capsys):
    for name in MODELS:
        assert main(["summary", name]) == 0, name
        assert main(["graph", name]) == (0 if name != "perceptron" else 2), name
        if name != "perceptron":  # the perceptron rule is not gradient descent: gradcheck says so
            assert main(["gradcheck", name, "--elements", "2"]) == 0, name
    assert main(["gradcheck", "perceptron"]) == 2
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    listed = capsys.readouterr().out
    assert all(name in listed for name in MODELS)


def test_the_teaching_tools_do_not_import_the_command_line_module():
    code = ("import sys; from shenjing.teach import numbers_cli, plots_cli, commands; "
            "import argparse; p = argparse.ArgumentParser(); commands.add_commands(p.add_subparsers()); "
            "print('shenjing.cli' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_an_unknown_name_is_a_one_line_error(capsys):
    assert main(["summary", "resnet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shenjing: error: 'resnet' is neither a model name (lenet, mlp") and err.count("\n") == 1
