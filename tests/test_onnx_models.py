"""shenjing.onnx.export of whole models: the course's models, three models of the tutorials' shapes (an MLP,
a CNN with BatchNorm and Dropout, an LSTM classifier), tensor ops written in forward, dynamic batch sizes,
the options, the errors, and `shenjing export` on the command line."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from onnx_helpers import check_export, export_bytes, onnx, ort, run_both

import shenjing
import shenjing.models

rng = np.random.default_rng(1)


def data(*shape: int) -> np.ndarray:
    return rng.normal(size=shape).astype(np.float32)


# -- the course's models ---------------------------------------------------------------------------------

def _perceptron(t):
    model = shenjing.models.Perceptron(3)
    model.weight.copy_(shenjing.tensor([0.5, -1.0, 0.25]))
    model.bias.copy_(shenjing.tensor(0.1))
    return model


COURSE = {
    "LeNet5": (lambda t: shenjing.models.LeNet5(), data(2, 1, 28, 28)),
    "LeNet5 on 32x32": (lambda t: shenjing.models.LeNet5(input_size=32), data(2, 1, 32, 32)),
    "CourseCNN": (lambda t: shenjing.models.CourseCNN(), data(2, 3, 32, 32)),
    "MLP": (lambda t: shenjing.models.MLP([784, 32, 16, 10]), data(3, 1, 28, 28)),
    "MLP sigmoid dropout": (lambda t: shenjing.models.MLP([6, 5, 2], activation="sigmoid", dropout=0.3), data(3, 6)),
    "ElmanRNN": (lambda t: shenjing.models.ElmanRNN(hidden_size=8), data(2, 20, 1)),
    "ElmanRNN sequence out": (lambda t: shenjing.models.ElmanRNN(hidden_size=4, num_layers=2, many_to_one=False),
                              data(2, 7, 1)),
    "XorNet": (lambda t: shenjing.models.XorNet(), np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)),
    "Perceptron": (_perceptron, data(5, 3)),
}


@pytest.mark.parametrize("name", list(COURSE))
def test_course_model(name: str) -> None:
    build, x = COURSE[name]
    check_export(build, x, torch=False)


# -- models of the tutorials' shapes -----------------------------------------------------------------------

def tutorial_mlp(t):
    nn = t.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10))


def tutorial_cnn(t):
    nn = t.nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.25), nn.Flatten(), nn.Linear(16 * 7 * 7, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))


def tutorial_lstm_classifier(t):
    nn = t.nn

    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(50, 12)
            self.lstm = nn.LSTM(12, 16, batch_first=True, num_layers=2)
            self.dropout = nn.Dropout(0.3)
            self.fc = nn.Linear(16, 4)

        def forward(self, tokens):
            embedded = self.embedding(tokens)
            _, (h, _) = self.lstm(embedded)
            return t.log_softmax(self.fc(self.dropout(h[-1])), dim=1)

    return LSTMClassifier()


def test_tutorial_mlp_with_dynamic_batch() -> None:
    check_export(tutorial_mlp, data(4, 1, 28, 28), dynamic_batch=True, other_batch=(data(7, 1, 28, 28),))


def test_tutorial_cnn_with_batch_norm_and_dropout_with_dynamic_batch() -> None:
    check_export(tutorial_cnn, data(3, 1, 28, 28), dynamic_batch=True, other_batch=(data(5, 1, 28, 28),))


def test_tutorial_lstm_classifier_with_dynamic_batch() -> None:
    tokens = rng.integers(0, 50, size=(3, 9)).astype(np.int64)
    more = rng.integers(0, 50, size=(6, 9)).astype(np.int64)
    check_export(tutorial_lstm_classifier, tokens, dynamic_batch=True, other_batch=(more,))


# -- tensor ops written in forward -----------------------------------------------------------------------

def tensor_ops(t):
    class TensorOps(t.nn.Module):
        def forward(self, x):  # x: (N, 3, 4, 5)
            flat = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
            joined = t.cat([flat[:, :10], flat[:, -10:] * 2.0], dim=1)
            sliced = x[:, 1:, ::2, 1].flatten(1)
            arithmetic = (x.exp() - 1).abs().sqrt() / (1 + x ** 2) - 0.5 * x.sin() + x.cos() * x.tanh()
            shapes = t.stack([x[:, 0], x[:, 2]], 1).transpose(1, 2).unsqueeze(1).squeeze(1).reshape(x.shape[0], -1)
            first, second = x.split([3, 2], dim=3)
            chunks = t.cat(x.chunk(2, dim=2), dim=3)
            reductions = t.cat([x.sum(1).flatten(1), x.mean((2, 3)), x.amax(-1).flatten(1), x.amin(1).flatten(1),
                                x.var(2).flatten(1), x.std(1, keepdim=True).flatten(1), x.logsumexp(1).flatten(1),
                                x.norm(dim=3).flatten(1), x.abs().prod(3).flatten(1)], dim=1)
            others = t.maximum(x.clamp(-0.5, 0.7), x.flip(3)) + t.minimum(x, x.mean()) + x.clamp(min=0.1)
            return (joined, sliced, arithmetic, shapes, first * second.sum(3, keepdim=True), chunks, reductions,
                    others, x.max(), x.sum(), t.where(x > 0.2, x, -x).log1p())

    return TensorOps()


def test_tensor_ops_in_forward() -> None:
    check_export(tensor_ops, data(2, 3, 4, 5))


@pytest.mark.parametrize("opset", [18, 20])
def test_tensor_ops_in_newer_opsets(opset: int) -> None:
    proto = check_export(tensor_ops, data(2, 3, 4, 5), torch=False, opset=opset)
    assert proto.opset_import[0].version == opset


def test_tensor_ops_with_dynamic_batch() -> None:
    check_export(tensor_ops, data(2, 3, 4, 5), torch=False, dynamic_batch=True, other_batch=(data(4, 3, 4, 5),))


def extremes(t):
    class Extremes(t.nn.Module):
        def forward(self, x):  # x: (N, 6, 7)
            values, indices = x.max(dim=2)
            low, where_low = x.min(1, keepdim=True)
            return values, indices, low, where_low, x.argmax(1), x.argmin(), x.argmax(2, keepdim=True)

    return Extremes()


def test_max_min_and_argmax_along_dims_follow_the_input() -> None:
    check_export(extremes, data(3, 6, 7), dynamic_batch=True, other_batch=(data(5, 6, 7),), torch=False)
    check_export(extremes, data(3, 6, 7))


def value_tests(t):
    class Tests(t.nn.Module):
        def forward(self, x):  # x: (N, 6, 7), with an inf and a NaN in it
            big = x.abs() > 1
            return (t.isnan(x), t.isfinite(x), t.isinf(x), t.logical_not(big), big.any(1), big.all(2, keepdim=True),
                    (x != x).any(), (x <= 0.5) & (x >= -0.5), (x == 0).all())

    return Tests()


def test_comparisons_tests_any_and_all_follow_the_input() -> None:
    x = data(3, 6, 7)
    x[0, 1, 2], x[2, 0, 0] = np.inf, np.nan
    other = data(5, 6, 7)
    other[4, 5, 6] = -np.inf
    check_export(value_tests, x, dynamic_batch=True, other_batch=(other,), torch=False)
    check_export(value_tests, x)


def closeness_tests(t):
    class Tests(t.nn.Module):
        def forward(self, x):  # x: (N, 6, 7), with infinities and a NaN in it
            return (t.isclose(x, x * 1.05, rtol=0.04), t.isclose(x, x.flip(0), atol=0.3, equal_nan=True),
                    t.isclose(x, x.flip(1)), t.count_nonzero(x.abs() > 1, dim=(0, 2)), t.count_nonzero(x.round()))

    return Tests()


def test_isclose_and_count_nonzero_follow_the_input_as_in_pytorch() -> None:
    # (PyTorch's exporter has no isclose: its eager values are the check)
    x = data(3, 6, 7)
    x[0, 1, 2], x[2, 1, 2], x[1, 4, 4], x[2, 0, 0], x[0, 0, 0] = np.inf, np.inf, -np.inf, np.nan, np.nan
    check_export(closeness_tests, x, dynamic_batch=True, other_batch=(data(5, 6, 7),), torch=False)
    expected = closeness_tests(torch)(torch.tensor(x))
    with shenjing.no_grad():
        ours = closeness_tests(shenjing)(shenjing.tensor(x))
    for got, wanted in zip(ours, expected):
        assert got.dtype == getattr(shenjing, str(wanted.dtype).split(".")[-1])
        np.testing.assert_array_equal(got.numpy(), wanted.numpy())


def made_in_forward(t):
    class Made(t.nn.Module):
        def forward(self, x):  # x: (2, 5)
            return x * t.arange(5) + t.ones(2, 5) + t.full_like(x, 0.5) * t.eye(2, 5) + t.linspace(0, 1, 5)

    return Made()


def test_tensors_made_in_forward_are_constants() -> None:
    check_export(made_in_forward, data(2, 5))


def one_hot_classes(t):
    class Classes(t.nn.Module):
        def forward(self, y):  # y: (N,) class indices
            return t.nn.functional.one_hot(y, 7) * 2 + 1

    return Classes()


def test_one_hot_follows_the_indices() -> None:
    check_export(one_hot_classes, np.array([3, 0, 6, 3]), dynamic_batch=True, other_batch=(np.array([1, 2]),))


def scalar_result(t):
    class Total(t.nn.Module):
        def forward(self, x):
            return x.sum() * 2 + 1

    return Total()


def test_a_scalar_result_keeps_no_dims() -> None:
    proto = check_export(scalar_result, data(3, 4))
    assert len(proto.graph.output[0].type.tensor_type.shape.dim) == 0


class _Noisy(shenjing.nn.Module):
    def forward(self, x):
        return x + 1, shenjing.randn(3, 4) * 2 + 5, shenjing.rand(2, 50)


def test_random_numbers_made_in_forward_are_drawn_by_the_runtime() -> None:
    # onnxruntime draws its own numbers: their shape, dtype and range are what can be checked
    x = data(2, 3)
    proto = export_bytes(_Noisy(), (shenjing.tensor(x),), input_names=["x"], output_names=["y", "normal", "uniform"])
    shifted, normal, uniform = ort.InferenceSession(proto.SerializeToString()).run(None, {"x": x})
    np.testing.assert_allclose(shifted, x + 1, rtol=1e-6)
    assert normal.shape == (3, 4) and normal.dtype == np.float32 and len(np.unique(normal)) == 12
    assert uniform.shape == (2, 50) and uniform.dtype == np.float32 and 0 <= uniform.min() and uniform.max() < 1
    assert {node.op_type for node in proto.graph.node} >= {"RandomNormal", "RandomUniform"}


def test_lenet_with_dynamic_batch() -> None:
    proto = check_export(lambda t: shenjing.models.LeNet5(), data(2, 1, 28, 28), torch=False, dynamic_batch=True,
                         other_batch=(data(9, 1, 28, 28),))
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "batch"


# -- options -----------------------------------------------------------------------------------------------

def test_file_names_parameters_and_opset(tmp_path: Path) -> None:
    model = shenjing.models.LeNet5().eval()
    x = shenjing.tensor(data(1, 1, 28, 28))
    path = tmp_path / "lenet.onnx"
    shenjing.onnx.export(model, (x,), str(path), input_names=["image"], output_names=["logits"], opset_version=18)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == 18
    assert [i.name for i in proto.graph.input] == ["image"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert set(model.state_dict()) <= {i.name for i in proto.graph.initializer}  # named as torch names them
    with shenjing.no_grad():
        expected = model(x).numpy()
    from_ort, from_reference = run_both(proto, {"image": x.numpy()})
    np.testing.assert_allclose(from_ort[0], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(from_reference[0], expected, rtol=1e-5, atol=1e-5)


def test_export_params_false_makes_the_parameters_inputs() -> None:
    model = shenjing.nn.Sequential(shenjing.nn.Linear(3, 4), shenjing.nn.Tanh(), shenjing.nn.Linear(4, 2))
    x = shenjing.tensor(data(5, 3))
    proto = export_bytes(model, (x,), export_params=False)
    assert len(proto.graph.initializer) == 0
    assert [i.name for i in proto.graph.input] == ["input", "0.weight", "0.bias", "2.weight", "2.bias"]
    feeds = {"input": x.numpy(), **{name: value.numpy() for name, value in model.state_dict().items()}}
    with shenjing.no_grad():
        expected = model(x).numpy()
    from_ort, from_reference = run_both(proto, feeds)
    np.testing.assert_allclose(from_ort[0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(from_reference[0], expected, rtol=1e-5, atol=1e-6)


def test_constant_folding_off_still_gives_the_same_values() -> None:
    model = shenjing.nn.GRU(3, 4, batch_first=True)
    x = shenjing.tensor(data(2, 5, 3))
    folded = export_bytes(model, (x,))
    unfolded = export_bytes(model, (x,), do_constant_folding=False)
    assert len(unfolded.graph.node) > len(folded.graph.node)
    with shenjing.no_grad():
        expected = [t.numpy() for t in model(x)]
    for proto in (folded, unfolded):
        from_ort, _ = run_both(proto, {"input": x.numpy()}, reference=False)
        for actual, wanted in zip(from_ort, expected):
            np.testing.assert_allclose(actual, wanted, rtol=1e-5, atol=1e-6)


def test_export_runs_in_eval_mode_and_restores_training_mode() -> None:
    model = shenjing.nn.Sequential(shenjing.nn.Linear(3, 3), shenjing.nn.Dropout(0.9), shenjing.nn.BatchNorm1d(3))
    model.train()
    x = shenjing.tensor(data(4, 3))
    proto = export_bytes(model, (x,))
    assert model.training and all(m.training for m in model.modules())
    assert "Dropout" not in [n.op_type for n in proto.graph.node]
    model.eval()
    with shenjing.no_grad():
        expected = model(x).numpy()
    from_ort, _ = run_both(proto, {"input": x.numpy()}, reference=False)
    np.testing.assert_allclose(from_ort[0], expected, rtol=1e-5, atol=1e-6)


# -- errors ------------------------------------------------------------------------------------------------

class _Cholesky(shenjing.nn.Module):
    def forward(self, x):
        return shenjing.linalg.cholesky(x.transpose(-1, -2) @ x + shenjing.eye(x.shape[-1]))


class _Blocks(shenjing.nn.Module):
    def __init__(self):
        super().__init__()
        self.block = shenjing.nn.Sequential(shenjing.nn.Linear(4, 4), shenjing.nn.ReLU(), _Cholesky())

    def forward(self, x):
        return self.block(x)


def test_an_op_without_onnx_form_is_named_with_its_module_path() -> None:
    with pytest.raises(shenjing.onnx.ExportError, match=r"cannot export op 'Cholesky' \(in model\.block\.2\)"):
        shenjing.onnx.export(_Blocks(), shenjing.randn(2, 4), io.BytesIO())


def test_a_user_defined_function_is_named() -> None:
    class Cube(shenjing.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            return grad

    class UsesCube(shenjing.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = shenjing.nn.Linear(2, 2)

        def forward(self, x):
            return Cube.apply(self.fc(x))

    with pytest.raises(shenjing.onnx.ExportError, match=r"cannot export op 'Cube' \(in model\)"):
        shenjing.onnx.export(UsesCube(), shenjing.randn(2, 2), io.BytesIO())


def test_bad_arguments_are_named() -> None:
    model, x = shenjing.nn.Linear(2, 2), shenjing.randn(1, 2)
    with pytest.raises(ValueError, match="opset_version=9 is not supported"):
        shenjing.onnx.export(model, x, io.BytesIO(), opset_version=9)
    with pytest.raises(ValueError, match="dynamic_axes names 'images'"):
        shenjing.onnx.export(model, x, io.BytesIO(), dynamic_axes={"images": {0: "batch"}})
    with pytest.raises(ValueError, match="input_names has 2 names for 1 inputs"):
        shenjing.onnx.export(model, x, io.BytesIO(), input_names=["a", "b"])
    with pytest.raises(TypeError, match="args\\[0\\] is list"):
        shenjing.onnx.export(model, ([1.0, 2.0],), io.BytesIO())


def test_without_onnx_installed_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # what `import onnx` meets when onnx is not installed
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'shenjing\[onnx\]'"):
        shenjing.onnx.export(shenjing.nn.Linear(2, 2), shenjing.randn(1, 2), io.BytesIO())


# -- the command line --------------------------------------------------------------------------------------

def test_shenjing_export_writes_a_model_file_as_onnx(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from shenjing.cli import main
    from shenjing.registry import load_model, save_model

    shenjing.manual_seed(3)
    model_file, onnx_file = tmp_path / "lenet.shenjing", tmp_path / "lenet.onnx"
    save_model(str(model_file), "lenet", {}, shenjing.models.LeNet5(), {"accuracy": 0.0})
    assert main(["export", str(model_file), str(onnx_file)]) == 0
    assert "input [batch, 1, 28, 28]" in capsys.readouterr().out
    proto = onnx.load(str(onnx_file))
    onnx.checker.check_model(proto, full_check=True)
    model, _ = load_model(str(model_file))
    x = data(3, 1, 28, 28)
    with shenjing.no_grad():
        expected = model(shenjing.tensor(x)).numpy()
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], expected, rtol=1e-5, atol=1e-5)


def test_shenjing_export_reports_a_missing_file_and_a_bad_opset(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    from shenjing.cli import main
    from shenjing.registry import save_model

    assert main(["export", str(tmp_path / "none.shenjing"), str(tmp_path / "out.onnx")]) == 2
    assert "no such model file" in capsys.readouterr().err
    save_model(str(tmp_path / "mlp.shenjing"), "mlp", {"sizes": [784, 8, 10]}, shenjing.models.MLP([784, 8, 10]), {})
    assert main(["export", str(tmp_path / "mlp.shenjing"), str(tmp_path / "out.onnx"), "--opset", "9"]) == 2
    assert "opset_version=9 is not supported" in capsys.readouterr().err
    assert not (tmp_path / "out.onnx").exists()


def negative_indices(t):
    class NegativeIndices(t.nn.Module):
        def forward(self, x):  # x: (N, 5, 6)
            return x[-1], x[-2:], x[:-1, ::-2], x[::2, -1, 1:-1], x[:, None, 2], x[..., -3]

    return NegativeIndices()


def test_negative_indices_hold_for_another_batch_size() -> None:
    check_export(negative_indices, data(4, 5, 6), dynamic_batch=True, other_batch=(data(7, 5, 6),), torch=False)
