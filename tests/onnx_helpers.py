"""Checking an ONNX export three ways: onnxruntime, onnx's pure-Python ReferenceEvaluator, and PyTorch.

``check_export(build, *inputs)`` builds the model with shenjing (``build(shenjing)``: the same code builds
it with ``torch``), exports it, checks the file with ``onnx.checker.check_model(full_check=True)``, runs it
in both runtimes and compares each with shenjing's own output. Where ``torch=True``, it also builds the
model in PyTorch with the same weights, checks that PyTorch computes the same values, exports it with
PyTorch's own (TorchScript) exporter and runs that file in onnxruntime: a third opinion on the same model.
"""

from __future__ import annotations

import io
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import shenjing

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx.reference import ReferenceEvaluator  # noqa: E402

RTOL, ATOL = 1e-5, 1e-5


def randomise_statistics(model: Any, seed: int = 0) -> None:
    """Give BatchNorm's running statistics values other than 0 and 1 (so that eval mode has work to do)."""
    rng = np.random.default_rng(seed)
    for name, buffer in model.named_buffers():
        if name.endswith("running_mean"):
            buffer.copy_(shenjing.tensor(rng.normal(size=buffer.shape).astype(np.float32)))
        elif name.endswith("running_var"):
            buffer.copy_(shenjing.tensor(rng.uniform(0.5, 2.0, size=buffer.shape).astype(np.float32)))


def export_bytes(model: Any, inputs: tuple, **options: Any) -> Any:
    buffer = io.BytesIO()
    shenjing.onnx.export(model, inputs, buffer, **options)
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    return proto


def run_both(proto: Any, feeds: dict[str, np.ndarray], reference: bool = True) -> tuple[list, list | None]:
    """(onnxruntime's outputs, the ReferenceEvaluator's outputs or None when not ``reference``)."""
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds), ReferenceEvaluator(proto).run(None, feeds) if reference else None


def _outputs(result: Any) -> list[np.ndarray]:
    if isinstance(result, (tuple, list)):
        return [a for item in result for a in _outputs(item)]
    return [result.detach().numpy()]


def assert_all_close(actual: list, expected: list, what: str, rtol: float = RTOL, atol: float = ATOL) -> None:
    assert len(actual) == len(expected), f"{what}: {len(actual)} outputs, expected {len(expected)}"
    for k, (a, e) in enumerate(zip(actual, expected)):
        assert np.shape(a) == np.shape(e), f"{what} output {k}: shape {np.shape(a)}, expected {np.shape(e)}"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"{what} output {k}")


def torch_twin(build: Callable, model: Any) -> Any:
    """The model built by ``build(torch)`` holding shenjing's model's weights and statistics."""
    import torch

    twin = build(torch)
    state = {name: torch.from_numpy(np.array(value.numpy())) for name, value in model.state_dict().items()}
    twin.load_state_dict(state)
    return twin.eval()


def check_export(build: Callable, *arrays: np.ndarray, torch: bool = True, reference: bool = True,
                 dynamic_batch: bool = False,
                 other_batch: tuple | None = None, rtol: float = RTOL, atol: float = ATOL, seed: int = 0,
                 opset: int | None = None) -> Any:
    """Export ``build(shenjing)`` on ``arrays`` and compare onnxruntime, the ReferenceEvaluator (and
    PyTorch's export) with shenjing. With ``dynamic_batch``, axis 0 of every input and output is
    symbolic, and ``other_batch`` (arrays of another batch size) is run too. ``reference=False`` where the
    ReferenceEvaluator lacks the op (``torch=False`` where PyTorch's exporter does). Returns the ONNX model."""
    shenjing.manual_seed(seed)
    model = build(shenjing)
    randomise_statistics(model, seed)
    model.eval()
    inputs = tuple(shenjing.tensor(a) for a in arrays)
    with shenjing.no_grad():
        expected = _outputs(model(*inputs))
    input_names = [f"x{k}" for k in range(len(arrays))]
    output_names = [f"y{k}" for k in range(len(expected))]
    axes = {name: {0: "batch"} for name in input_names + output_names} if dynamic_batch else None
    proto = export_bytes(model, inputs, input_names=input_names, output_names=output_names, dynamic_axes=axes,
                         opset_version=opset)
    feeds = dict(zip(input_names, arrays))
    from_ort, from_reference = run_both(proto, feeds, reference)
    assert_all_close(from_ort, expected, "onnxruntime", rtol, atol)
    if reference:
        assert_all_close(from_reference, expected, "ReferenceEvaluator", rtol, atol)
    if other_batch is not None:
        with shenjing.no_grad():
            expected_other = _outputs(model(*(shenjing.tensor(a) for a in other_batch)))
        from_ort, from_reference = run_both(proto, dict(zip(input_names, other_batch)), reference)
        assert_all_close(from_ort, expected_other, "onnxruntime (other batch size)", rtol, atol)
        if reference:
            assert_all_close(from_reference, expected_other, "ReferenceEvaluator (other batch size)", rtol, atol)
    if torch:
        _check_against_torch(build, model, arrays, expected, rtol, atol)
    return proto


def _flat_numpy(result: Any) -> list[np.ndarray]:
    if isinstance(result, (tuple, list)):
        return [a for item in result for a in _flat_numpy(item)]
    return [result.detach().numpy()]


def _check_against_torch(build: Callable, model: Any, arrays: tuple, expected: list, rtol: float,
                         atol: float) -> None:
    import torch

    twin = torch_twin(build, model)
    inputs = tuple(torch.from_numpy(np.array(a)) for a in arrays)
    with torch.no_grad():
        theirs = _flat_numpy(twin(*inputs))
    assert_all_close(theirs, expected, "PyTorch itself", max(rtol, 1e-4), atol)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(twin, inputs, buffer, dynamo=False, opset_version=17)
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    from_torch_file = session.run(None, dict(zip(names, arrays)))
    assert_all_close(from_torch_file, expected, "PyTorch's own ONNX export", max(rtol, 1e-4), atol)
