"""Helpers to test an op (or a layer) two ways: against PyTorch, and against central differences.

``check_op(fn_sj, fn_torch, *args)`` runs the same op on shenjing and on PyTorch 2.13 and compares
the forward value and the gradient of every floating-point input, for float32 and float64; then it
checks shenjing's gradient against central differences in float64. Arguments that are NumPy float
arrays become tensors that require grad; anything else (ints, shapes, index arrays wrapped in
``Const``) is passed through unchanged to both sides.
"""

from __future__ import annotations

import numpy as np
import torch

import shenjing as sj

TOLERANCES = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-7, atol=1e-9)}


class Const:
    """An argument given to both frameworks as a tensor that does not require grad (indices, masks)."""

    def __init__(self, array):
        self.array = np.asarray(array)


def _to_sj(arg, dtype, requires_grad):
    if isinstance(arg, Const):
        return sj.tensor(arg.array)
    if isinstance(arg, np.ndarray) and arg.dtype.kind == "f":
        return sj.tensor(arg.astype(dtype), requires_grad=requires_grad)
    return arg


def _to_torch(arg, dtype, requires_grad):
    if isinstance(arg, Const):
        return torch.tensor(arg.array)
    if isinstance(arg, np.ndarray) and arg.dtype.kind == "f":
        return torch.tensor(arg.astype(dtype), requires_grad=requires_grad)
    return arg


def _first(out):
    """Ops such as max(dim) return (values, indices): the values are the differentiable output."""
    return out[0] if isinstance(out, (tuple, list)) else out


def assert_close(actual, expected, dtype=np.float64, what="value"):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, err_msg=what, equal_nan=True, **TOLERANCES[dtype])


def numerical_gradient(fn, args, index, upstream, eps=1e-6):
    """Central differences of sum(upstream * fn(args)) with respect to args[index] (float64)."""
    base = args[index]
    grad = np.zeros_like(base)
    flat = base.reshape(-1)
    grad_flat = grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = _first(fn(*[_to_sj(a, np.float64, False) for a in args])).numpy()
        flat[i] = saved - eps
        minus = _first(fn(*[_to_sj(a, np.float64, False) for a in args])).numpy()
        flat[i] = saved
        grad_flat[i] = np.sum(upstream * (plus - minus)) / (2 * eps)
    return grad


def check_op(fn_sj, fn_torch, *args, grad=True, numeric=True, dtypes=(np.float32, np.float64), seed=0):
    """Compare ``fn_sj(*args)`` with ``fn_torch(*args)``: value and gradients, then central differences."""
    rng = np.random.default_rng(seed)
    float_positions = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    for dtype in dtypes:
        sj_args = [_to_sj(a, dtype, grad) for a in args]
        torch_args = [_to_torch(a, dtype, grad) for a in args]
        out_sj = _first(fn_sj(*sj_args))
        out_torch = _first(fn_torch(*torch_args))
        assert tuple(out_sj.shape) == tuple(out_torch.shape), f"shape {out_sj.shape} vs torch {out_torch.shape}"
        assert str(out_sj.dtype).split(".")[-1] == str(out_torch.dtype).split(".")[-1], (
            f"dtype {out_sj.dtype} vs torch {out_torch.dtype}")
        assert_close(out_sj.detach().numpy(), out_torch.detach().numpy(), dtype, "forward")
        if not grad or not out_torch.requires_grad:
            continue
        upstream = rng.standard_normal(tuple(out_torch.shape)).astype(dtype)
        out_sj.backward(sj.tensor(upstream))
        out_torch.backward(torch.tensor(upstream))
        for i in float_positions:
            expected = torch_args[i].grad
            actual = sj_args[i].grad
            if expected is None:
                assert actual is None or np.all(actual.numpy() == 0), f"input {i}: torch has no gradient"
                continue
            assert actual is not None, f"input {i}: no gradient"
            assert actual.dtype == sj_args[i].dtype, f"input {i}: grad dtype {actual.dtype}"
            assert_close(actual.numpy(), expected.numpy(), dtype, f"gradient of input {i} ({dtype.__name__})")
        if numeric and dtype is np.float64:
            args64 = [a.astype(np.float64).copy() if i in float_positions else a for i, a in enumerate(args)]
            for i in float_positions:
                expected = numerical_gradient(fn_sj, args64, i, upstream)
                actual = sj_args[i].grad.numpy() if sj_args[i].grad is not None else np.zeros_like(expected)
                np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6,
                                           err_msg=f"central differences, input {i}")


# -- layers -----------------------------------------------------------------------------------------

SJ_DTYPES = {np.float32: sj.float32, np.float64: sj.float64}
TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


def _as_inputs(arrays, dtype):
    sj_inputs, torch_inputs = [], []
    for a in arrays:
        a = np.asarray(a)
        floating = a.dtype.kind == "f"
        value = a.astype(dtype) if floating else a
        sj_inputs.append(sj.tensor(value, requires_grad=floating))
        torch_inputs.append(torch.tensor(value, requires_grad=floating))
    return sj_inputs, torch_inputs


def check_module(sj_module, torch_module, *arrays, dtype=np.float64, steps=1, seed=0):
    """Give the shenjing layer the PyTorch layer's parameters and buffers, run both on the same inputs
    ``steps`` times (forward + backward with the same random upstream gradient), and compare outputs,
    the gradients of the floating inputs and of every parameter, and finally every buffer."""
    rng = np.random.default_rng(seed)
    torch_module = torch_module.to(TORCH_DTYPES[dtype])
    sj_module.to(SJ_DTYPES[dtype])
    sj_module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})
    sj_module.train(torch_module.training)
    for step in range(steps):
        # each step sees shifted floating inputs (so running statistics move); indices stay as they are
        shifted = [a + 0.1 * step if np.asarray(a).dtype.kind == "f" else a for a in arrays]
        sj_inputs, torch_inputs = _as_inputs(shifted, dtype)
        out_sj, out_torch = sj_module(*sj_inputs), torch_module(*torch_inputs)
        assert_close(out_sj.detach().numpy(), out_torch.detach().numpy(), dtype, f"forward, step {step}")
        assert out_sj.dtype == SJ_DTYPES[dtype]
        if out_torch.requires_grad:
            upstream = rng.standard_normal(tuple(out_torch.shape)).astype(dtype)
            sj_module.zero_grad()
            torch_module.zero_grad()
            out_sj.backward(sj.tensor(upstream))
            out_torch.backward(torch.tensor(upstream))
            for i, (a, b) in enumerate(zip(sj_inputs, torch_inputs)):
                if b.grad is not None:
                    assert_close(a.grad.numpy(), b.grad.numpy(), dtype, f"gradient of input {i}, step {step}")
            sj_params = dict(sj_module.named_parameters())
            for name, param in torch_module.named_parameters():
                if param.grad is None:
                    assert sj_params[name].grad is None or not sj_params[name].grad.numpy().any(), name
                    continue
                assert sj_params[name].grad is not None, f"no gradient for parameter {name}"
                assert_close(sj_params[name].grad.numpy(), param.grad.numpy(), dtype, f"gradient of {name}")
    sj_state = sj_module.state_dict()
    for name, value in torch_module.state_dict().items():
        assert_close(sj_state[name].numpy(), value.numpy(), dtype if value.is_floating_point() else np.float64,
                     f"buffer/parameter {name} after {steps} steps")
        assert str(sj_state[name].dtype).split(".")[-1] == str(value.dtype).split(".")[-1], name
    return sj_module
