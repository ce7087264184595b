"""Model summaries and the conv/pool output-size arithmetic, checked against PyTorch and the notes."""

import itertools

import pytest
import torch

import shenjing as sj
import shenjing.models as models
from shenjing import nn
from shenjing.cli import main
from shenjing.teach.summary import explain_conv, explain_pool, output_size, summary


def _torch_lenet():
    t = torch.nn
    return t.Sequential(t.Conv2d(1, 6, 5, padding=2), t.ReLU(), t.MaxPool2d(2), t.Conv2d(6, 16, 5), t.ReLU(),
                        t.MaxPool2d(2), t.Flatten(), t.Linear(400, 120), t.ReLU(), t.Linear(120, 84), t.ReLU(),
                        t.Linear(84, 10))


def _torch_shapes(model, x):
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append((type(m).__name__, tuple(o.shape))))
             for m in model if not isinstance(m, torch.nn.Flatten)]
    model(x)
    for h in hooks:
        h.remove()
    return shapes


def test_lenet_summary_matches_torch_shapes_and_parameter_counts():
    model = models.LeNet5()
    info = summary(model, (1, 28, 28), batch_size=2, verbose=False)
    reference = _torch_lenet()
    assert [(layer.type, layer.output_shape[0]) for layer in info.layers] == \
        _torch_shapes(reference, torch.zeros(2, 1, 28, 28))
    assert info.total_params == sum(p.numel() for p in model.parameters())
    assert info.total_params == sum(p.numel() for p in reference.parameters()) == 61706
    assert sum(layer.params for layer in info.layers) == info.total_params
    assert info.trainable_params == info.total_params


def test_course_cnn_summary_has_the_notes_numbers():
    info = summary(models.CourseCNN(), (3, 32, 32), verbose=False)
    conv1, _, pool1 = info.layers[:3]
    assert conv1.params == 3 * 5 * 5 * 6 + 6 == 456  # seed 000: (3·5·5 + 1)·6
    assert conv1.output_shape == [(1, 6, 28, 28)] and pool1.output_shape == [(1, 6, 14, 14)]
    assert conv1.macs == 6 * 28 * 28 * (3 * 5 * 5)  # one 75-term dot product per output value
    assert conv1.formula == "⌊(32 + 2·0 − 5)/1⌋ + 1 = 28"
    assert pool1.formula == "⌊(28 + 2·0 − 2)/2⌋ + 1 = 14"
    assert info.layers[-1].macs == 400 * 10
    assert info.total_macs == sum(layer.macs for layer in info.layers)


def test_mlp_and_rnn_counts():
    mlp = models.MLP([784, 256, 128, 10])
    info = summary(mlp, (1, 28, 28), verbose=False)
    assert info.total_params == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    assert info.total_macs == 784 * 256 + 256 * 128 + 128 * 10
    rnn = models.ElmanRNN(input_size=1, hidden_size=8)
    info = summary(rnn, (20, 1), batch_size=3, verbose=False)
    assert info.layers[0].type == "RNN"
    assert info.layers[0].macs == 3 * 20 * (1 * 8 + 8 * 8)  # every step: W_ih·x and W_hh·h for each sample
    assert info.total_params == sum(p.numel() for p in rnn.parameters())


def test_shared_and_direct_parameters_are_counted_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 4)
            self.b.weight = self.a.weight  # one weight, two layers
            self.scale = nn.Parameter(sj.ones(4))  # a parameter of the container itself

        def forward(self, x):
            return self.b(self.a(x)) * self.scale

    model = Tied()
    info = summary(model, (4,), verbose=False)
    assert info.total_params == 16 + 4 + 4 + 4 == sum(p.numel() for p in model.parameters())
    assert sum(layer.params for layer in info.layers) == info.total_params
    assert [layer.name for layer in info.layers] == ["a", "b", "Tied"]


def test_summary_leaves_the_model_as_it_was():
    model = models.LeNet5()
    model.train()
    summary(model, (1, 28, 28), verbose=False)
    assert model.training and all(p.grad is None for p in model.parameters())


def test_summary_prints_a_table(capsys):
    summary(models.CourseCNN(), (3, 32, 32))
    out = capsys.readouterr().out
    assert "conv1 (Conv2d)" in out and "Total params: 6,882" in out and "⌊(32 + 2·0 − 5)/1⌋ + 1 = 28" in out


@pytest.mark.parametrize("n, f, p, s, d", [
    (n, f, p, s, d) for n, f, p, s, d in itertools.product((7, 8, 28), (1, 2, 3, 5), (0, 1, 2), (1, 2, 3), (1, 2))
    if n + 2 * p >= d * (f - 1) + 1])
def test_output_size_formula_equals_torch_conv(n, f, p, s, d):
    out = torch.nn.functional.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, f), stride=s, padding=p, dilation=d)
    assert explain_conv(n, f, p, s, d).output == out.shape[-1] == output_size(n, f, p, s, d)


@pytest.mark.parametrize("n, f, s, p, ceil", [
    (n, f, s, p, c) for n, f, s, p, c in itertools.product((5, 7, 8), (2, 3), (1, 2, 3), (0, 1), (False, True))
    if p <= f // 2])
def test_pool_output_size_equals_torch(n, f, s, p, ceil):
    out = torch.nn.functional.max_pool1d(torch.zeros(1, 1, n), f, stride=s, padding=p, ceil_mode=ceil)
    assert explain_pool(n, f, s=s, p=p, ceil_mode=ceil).output == out.shape[-1]


def test_explain_conv_spells_out_the_arithmetic():
    text = str(explain_conv(32, 5, p=0, s=1))
    assert "⌊(32 + 2·0 − 5)/1⌋ + 1 = ⌊27/1⌋ + 1 = 27 + 1 = 28" in text
    assert "n = 32" in text and "f = 5" in text and "28×28" in text
    dilated = explain_conv(28, 3, p=0, s=1, d=2)
    assert dilated.formula == "⌊(28 + 2·0 − 2·(3−1) − 1)/1⌋ + 1 = 24" and "spans d(f−1) + 1 = 5" in str(dilated)
    strided = explain_conv(8, 3, p=0, s=2)  # (8 − 3)/2 = 2.5: one column is left over
    assert strided.output == 3 and "never covered" in str(strided)
    assert explain_pool(28, 2).s == 2 and explain_pool(28, 2).output == 14


def test_explain_rejects_impossible_sizes():
    with pytest.raises(ValueError, match="padded input is only"):
        explain_conv(3, 5)
    with pytest.raises(ValueError, match="s must be"):
        explain_conv(32, 5, s=0)


def test_conv_layer_with_dilation_and_non_square_input():
    model = nn.Sequential(nn.Conv2d(1, 2, (3, 5), stride=(1, 2), padding=(1, 0), dilation=2), nn.AvgPool2d(2))
    info = summary(model, (1, 20, 30), verbose=False)
    conv, pool = info.layers
    ref = torch.nn.Conv2d(1, 2, (3, 5), stride=(1, 2), padding=(1, 0), dilation=2)(torch.zeros(1, 1, 20, 30))
    assert conv.output_shape == [tuple(ref.shape)]
    assert [a.output for _, a in conv.arithmetic] == list(ref.shape[2:])
    assert conv.formula.startswith("H: ⌊(20 + 2·1 − 2·(3−1) − 1)/1⌋ + 1 = 18; W: ")
    assert [a.output for _, a in pool.arithmetic] == list(pool.output_shape[0][2:])


def test_cli_summary_and_explain(capsys, tmp_path):
    assert main(["summary", "lenet"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 61,706" in out and "⌊(28 + 2·2 − 5)/1⌋ + 1 = 28" in out
    assert main(["summary", "course-cnn", "--format", "markdown"]) == 0
    assert "| conv1 (Conv2d) | [1, 6, 28, 28] | 456 |" in capsys.readouterr().out
    assert main(["summary", "lenet", "--input-size", "1", "32", "32"]) == 2  # 16·6·6 = 576 ≠ 400 inputs to fc1
    assert "cannot take an input of size [1, 32, 32]" in capsys.readouterr().err
    from shenjing.recipes import save_model

    path = tmp_path / "xo.shenjing"
    save_model(str(path), "xo", {"hidden": 8}, _xo(), {})
    assert main(["summary", str(path)]) == 0
    assert "⌊(9 + 2·0 − 3)/1⌋ + 1 = 7" in capsys.readouterr().out
    assert main(["explain", "conv", "--n", "32", "--f", "5", "--p", "0", "--s", "1"]) == 0
    assert "= 28" in capsys.readouterr().out
    assert main(["explain", "pool", "--n", "28", "--f", "2"]) == 0
    assert "⌊(28 + 2·0 − 2)/2⌋ + 1 = ⌊26/2⌋ + 1 = 13 + 1 = 14" in capsys.readouterr().out
    assert main(["explain", "conv", "--n", "2", "--f", "5"]) == 2
    assert main(["summary", "no-such-model"]) == 2


def _xo():
    from shenjing.recipes import build_model

    return build_model("xo", {"hidden": 8})
