"""Recurrent layers as whole-sequence ops (one node per layer and direction), against PyTorch 2.13.

Every mode (LSTM, GRU, RNN tanh and ReLU) over the grid {1, 2 layers} x {uni, bidirectional} x
{batch_first} x {bias} in float32 and float64: outputs, h_n, c_n and the gradient of the input, the
initial states and every weight and bias; losses on h_n only and on the output only; central
differences and second derivatives (create_graph) in float64; the op against its step-by-step
reference; dropout between layers; the graph's shape; errors.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import nn
from shenjing._ops import recurrent as R
from shenjing.nn._functional.dropout import dropout as sj_dropout

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}
T, N, I, H = 4, 3, 2, 3
MODES = {"LSTM": ("LSTM", {}), "GRU": ("GRU", {}), "RNN_TANH": ("RNN", {}),
         "RNN_RELU": ("RNN", {"nonlinearity": "relu"})}


def close(actual, expected, dtype, what):
    actual = actual.detach().numpy() if isinstance(actual, sj.Tensor) else np.asarray(actual)
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != torch {expected.shape}"
    np.testing.assert_allclose(actual, expected, err_msg=what, **TOL[dtype])


def pair(mode, dtype, **kwargs):
    """The same layer in both libraries: torch's initial parameters copied into shenjing by name."""
    kind, extra = MODES[mode]
    torch.manual_seed(0)
    layer_torch = getattr(torch.nn, kind)(I, H, **extra, **kwargs).to(
        torch.float64 if dtype is np.float64 else torch.float32)
    layer_sj = getattr(nn, kind)(I, H, **extra, **kwargs)
    params = dict(layer_sj.named_parameters())
    for name, p in layer_torch.named_parameters():
        params[name].data = sj.tensor(p.detach().numpy().astype(dtype))
    return layer_sj, layer_torch


def both(array, dtype):
    a = array.astype(dtype)
    return sj.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def states(result):
    """(output, h) or (output, (h, c)) -> [output, h, (c)]."""
    output, state = result
    return [output] + (list(state) if isinstance(state, tuple) else [state])


def compare(mode, dtype, layer_kwargs, given, which=(0, 1, 2), seed=0):
    """Forward both layers; backprop random upstreams into the results picked by ``which`` (0 the
    output, 1 h_n, 2 c_n); compare results and every gradient."""
    rng = np.random.default_rng(seed)
    layer_sj, layer_torch = pair(mode, dtype, **layer_kwargs)
    D = 2 if layer_kwargs.get("bidirectional") else 1
    L = layer_kwargs.get("num_layers", 1)
    x_sj, x_torch = both(rng.standard_normal((N, T, I) if layer_kwargs.get("batch_first") else (T, N, I)), dtype)
    hx_sj = hx_torch = None
    if given:
        pairs = [both(rng.standard_normal((L * D, N, H)), dtype) for _ in range(2 if mode == "LSTM" else 1)]
        hx_sj, hx_torch = [p[0] for p in pairs], [p[1] for p in pairs]
    arg_sj = None if hx_sj is None else tuple(hx_sj) if mode == "LSTM" else hx_sj[0]
    arg_torch = None if hx_torch is None else tuple(hx_torch) if mode == "LSTM" else hx_torch[0]
    results_sj, results_torch = states(layer_sj(x_sj, arg_sj)), states(layer_torch(x_torch, arg_torch))
    loss_sj, loss_torch = 0, 0
    for k, (a, b) in enumerate(zip(results_sj, results_torch)):
        close(a, b, dtype, f"result {k}")
        if k in which:
            upstream = rng.standard_normal(tuple(b.shape)).astype(dtype)
            loss_sj = loss_sj + (a * sj.tensor(upstream)).sum()
            loss_torch = loss_torch + (b * torch.tensor(upstream)).sum()
    loss_sj.backward()
    loss_torch.backward()
    close(x_sj.grad, x_torch.grad, dtype, "gradient of the input")
    for k, (a, b) in enumerate(zip(hx_sj or [], hx_torch or [])):
        close(a.grad, b.grad, dtype, f"gradient of initial state {k}")
    params_sj = dict(layer_sj.named_parameters())
    for name, p in layer_torch.named_parameters():
        close(params_sj[name].grad, p.grad, dtype, f"gradient of {name}")


GRID = list(itertools.product([1, 2], [False, True], [False, True], [True, False]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("layers, bidirectional, batch_first, bias", GRID)
@pytest.mark.parametrize("mode", list(MODES))
def test_sequence_matches_torch(mode, layers, bidirectional, batch_first, bias, dtype):
    kwargs = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    compare(mode, dtype, kwargs, given=(layers + bidirectional + batch_first) % 2 == 0)


@pytest.mark.parametrize("which", [(1,), (0,), (2,), (1, 2)], ids=["h_n", "output", "c_n", "h_n+c_n"])
@pytest.mark.parametrize("mode", list(MODES))
def test_loss_on_some_results_matches_torch(mode, which):
    if mode != "LSTM" and 2 in which:
        pytest.skip("only the LSTM has c_n")
    compare(mode, np.float64, dict(num_layers=2, bidirectional=True), given=True, which=which)
    compare(mode, np.float32, dict(batch_first=True), given=False, which=which)


def test_benchmark_shape_lstm_last_step_matches_torch():
    """The issue's workload in small: LSTM(batch_first), the last step's output -> a loss."""
    rng = np.random.default_rng(3)
    layer_sj, layer_torch = pair("LSTM", np.float32, batch_first=True)
    x_sj, x_torch = both(rng.standard_normal((5, 7, I)), np.float32)
    out_sj, out_torch = layer_sj(x_sj)[0][:, -1, :], layer_torch(x_torch)[0][:, -1, :]
    close(out_sj, out_torch, np.float32, "last step")
    (out_sj * out_sj).sum().backward()
    (out_torch * out_torch).sum().backward()
    close(x_sj.grad, x_torch.grad, np.float32, "gradient of the input")
    for name, p in layer_torch.named_parameters():
        close(dict(layer_sj.named_parameters())[name].grad, p.grad, np.float32, name)


# -- the op against its reference, central differences, second derivatives --------------------------


def op_inputs(mode, rng, bias=True, given=True, steps=T, batch=N):
    G = R.GATES[mode]
    x = sj.tensor(rng.standard_normal((steps, batch, I)), requires_grad=True)
    initial = [sj.tensor(rng.standard_normal((batch, H)), requires_grad=True) if given else None
               for _ in range(2 if mode == "LSTM" else 1)]
    weights = [sj.tensor(rng.standard_normal(shape) * 0.5, requires_grad=True)
               for shape in [(G * H, I), (G * H, H), (G * H,), (G * H,)]]
    return x, initial, weights if bias else weights[:2] + [None, None]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mode", list(MODES))
def test_op_matches_its_step_by_step_reference(mode, reverse):
    rng = np.random.default_rng(4)
    x, initial, weights = op_inputs(mode, rng)
    inputs = [x, *initial, *weights]
    fused = R.SEQUENCE_OPS[mode](reverse)(*inputs)
    reference = R.reference_sequence(mode, x, initial, weights, reverse)
    upstreams = [sj.tensor(rng.standard_normal(tuple(y.shape))) for y in fused]
    grads_fused = sj.autograd.grad(list(fused), inputs, upstreams)
    grads_reference = sj.autograd.grad(list(reference), inputs, upstreams)
    for a, b in zip(fused, reference):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-13)
    for a, b in zip(grads_fused, grads_reference):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("mode", list(MODES))
def test_gradcheck_float64(mode):
    rng = np.random.default_rng(5)
    x, initial, weights = op_inputs(mode, rng)
    layer = R.SEQUENCE_OPS[mode]

    def fn(*inputs):
        return layer(True, False)(*inputs)

    assert sj.autograd.gradcheck(fn, (x, *initial, *weights))


@pytest.mark.parametrize("mode", list(MODES))
def test_second_derivative_matches_torch(mode):
    """d/dparams of |d loss / d x|^2 (create_graph), through a two-layer bidirectional layer."""
    rng = np.random.default_rng(6)
    layer_sj, layer_torch = pair(mode, np.float64, num_layers=2, bidirectional=True)
    x_sj, x_torch = both(rng.standard_normal((T, N, I)), np.float64)
    u = rng.standard_normal((T, N, 2 * H))
    v = rng.standard_normal((4, N, H))

    def penalty(lib, layer, x):
        output, state = layer(x)
        h_n = state[0] if isinstance(state, tuple) else state
        loss = (output * lib.tensor(u)).sum() + (h_n * lib.tensor(v)).sum()
        (gx,) = lib.autograd.grad(loss, x, create_graph=True)
        return (gx * gx).sum()

    penalty(sj, layer_sj, x_sj).backward()
    penalty(torch, layer_torch, x_torch).backward()
    # (where the gradient's graph does not reach a tensor, as x and the biases through ReLU's mask,
    # shenjing leaves .grad None and torch gives zeros)
    params_sj = dict(layer_sj.named_parameters())
    for what, a, b in [("input", x_sj, x_torch)] + [(name, params_sj[name], p)
                                                    for name, p in layer_torch.named_parameters()]:
        close(a.grad if a.grad is not None else np.zeros(a.shape), b.grad, np.float64, f"second derivative: {what}")


@pytest.mark.parametrize("mode", ["LSTM"])
def test_gradgradcheck_float64(mode):
    rng = np.random.default_rng(7)
    x, initial, weights = op_inputs(mode, rng, given=False, steps=2, batch=1)

    def fn(x, w_ih, w_hh, b_ih, b_hh):
        return R.SEQUENCE_OPS[mode](False, False)(x, *initial, w_ih, w_hh, b_ih, b_hh)[0]

    assert sj.autograd.gradgradcheck(fn, (x, *weights))


# -- the graph ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, label", [("LSTM", "LSTM"), ("GRU", "GRU"), ("RNN_TANH", "RNNTanh"),
                                         ("RNN_RELU", "RNNRelu")])
def test_one_node_per_layer_and_direction(mode, label):
    layer, _ = pair(mode, np.float32, num_layers=2)
    names = []
    for _ in range(10):  # the same graph on the first and the tenth call
        output, _ = layer(sj.randn(T, N, I, requires_grad=True))
        node = output.grad_fn
        first_layer = node.next_functions[0][0]
        names.append((node.name(), first_layer.name(), first_layer.next_functions[0][0].name()))
    assert names == [(f"{label}Backward0", f"{label}Backward0", "AccumulateGrad")] * 10


def test_no_grad_records_nothing():
    layer, _ = pair("LSTM", np.float32)
    with sj.no_grad():
        output, (h_n, c_n) = layer(sj.randn(T, N, I, requires_grad=True))
    assert output.grad_fn is None and not output.requires_grad and h_n.grad_fn is None


def test_output_changed_in_place_is_caught():
    layer, _ = pair("GRU", np.float32)
    output, _ = layer(sj.randn(T, N, I))
    loss = output.sum()
    with sj.no_grad():
        output.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_backward_twice_needs_retain_graph():
    layer, _ = pair("LSTM", np.float32)
    output, _ = layer(sj.randn(T, N, I))
    loss = output.sum()
    loss.backward(retain_graph=True)
    first = layer.weight_hh_l0.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(layer.weight_hh_l0.grad.numpy(), 2 * first, rtol=1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_bias_gradients_are_separate_arrays():
    """b_ih and b_hh get equal gradients; accumulating into one must not change the other."""
    layer, _ = pair("LSTM", np.float32)
    layer(sj.randn(T, N, I))[0].sum().backward()
    before = layer.bias_hh_l0.grad.numpy().copy()
    layer.bias_ih_l0.grad.add_(1.0)
    np.testing.assert_array_equal(layer.bias_hh_l0.grad.numpy(), before)


@pytest.mark.parametrize("frozen", ["bias_ih_l0", "bias_hh_l0", "weight_ih_l0", "weight_hh_l0"])
@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_frozen_parameter_gets_no_gradient_and_the_others_torchs(mode, frozen):
    rng = np.random.default_rng(13)
    layer_sj, layer_torch = pair(mode, np.float64)
    getattr(layer_sj, frozen).requires_grad_(False)
    getattr(layer_torch, frozen).requires_grad_(False)
    x_sj, x_torch = both(rng.standard_normal((T, N, I)), np.float64)
    layer_sj(x_sj)[0].sum().backward()
    layer_torch(x_torch)[0].sum().backward()
    close(x_sj.grad, x_torch.grad, np.float64, "gradient of the input")
    for name, p in layer_torch.named_parameters():
        if name == frozen:
            assert getattr(layer_sj, name).grad is None
        else:
            close(getattr(layer_sj, name).grad, p.grad, np.float64, f"gradient of {name}")


# -- dropout between layers --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(MODES))
def test_dropout_in_eval_is_the_identity(mode):
    layer, _ = pair(mode, np.float32, num_layers=2, dropout=0.5)
    plain, _ = pair(mode, np.float32, num_layers=2)
    layer.eval()
    x = sj.randn(T, N, I)
    np.testing.assert_array_equal(layer(x)[0].detach().numpy(), plain(x)[0].detach().numpy())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_dropout_in_training_is_layer_one_dropped_then_layer_two(mode, batch_first):
    """Training: the outputs of layer 1, through dropout with a mask drawn in (T, N, F) order from
    shenjing's generator, feed layer 2; the last layer's outputs are not dropped."""
    rng = np.random.default_rng(8)
    layer, _ = pair(mode, np.float64, num_layers=2, dropout=0.4, bidirectional=True, batch_first=batch_first)
    x_tm = rng.standard_normal((T, N, I))
    x = sj.tensor(x_tm.transpose(1, 0, 2) if batch_first else x_tm, requires_grad=True)
    sj.manual_seed(11)
    output = layer(x)[0]
    output_tm = output.transpose(0, 1) if batch_first else output
    weights = layer._layer_weights()
    sj.manual_seed(11)
    first = [R.reference_sequence(mode, sj.tensor(x_tm), [None, None], weights[k], k == 1)[0] for k in (0, 1)]
    dropped = sj_dropout(sj.cat(first, dim=2), 0.4, True)
    second = [R.reference_sequence(mode, dropped, [None, None], weights[k], k == 3)[0] for k in (2, 3)]
    np.testing.assert_allclose(output_tm.detach().numpy(), sj.cat(second, dim=2).detach().numpy(), rtol=1e-12)
    output.sum().backward()  # and the gradient flows through the mask
    assert np.all(np.isfinite(x.grad.numpy())) and np.any(x.grad.numpy() != 0)


# -- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_empty_sequence_raises_like_torch(kind):
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0"):
        getattr(nn, kind)(I, H)(sj.randn(0, N, I))
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0"):
        getattr(nn, kind)(I, H, batch_first=True)(sj.randn(N, 0, I))


def test_empty_batch_gives_empty_results():
    output, (h_n, c_n) = nn.LSTM(I, H)(sj.randn(T, 0, I))
    assert tuple(output.shape) == (T, 0, H) and tuple(h_n.shape) == (1, 0, H) == tuple(c_n.shape)


@pytest.mark.parametrize("mode", list(MODES))
def test_hidden_64_batch_70_matches_torch(mode):
    """A size where each step's product is large enough for BLAS to run it on several threads: the
    results and gradients are still torch's."""
    rng = np.random.default_rng(12)
    kind, extra = MODES[mode]
    torch.manual_seed(0)
    layer_torch = getattr(torch.nn, kind)(5, 64, **extra)
    layer_sj = getattr(nn, kind)(5, 64, **extra)
    layer_sj.load_state_dict({k: sj.tensor(v.detach().numpy()) for k, v in layer_torch.state_dict().items()})
    x_sj, x_torch = both(rng.standard_normal((2, 70, 5)), np.float32)
    out_sj, out_torch = layer_sj(x_sj)[0], layer_torch(x_torch)[0]
    close(out_sj, out_torch, np.float32, "output")
    upstream = rng.standard_normal(tuple(out_torch.shape)).astype(np.float32)
    (out_sj * sj.tensor(upstream)).sum().backward()
    (out_torch * torch.tensor(upstream)).sum().backward()
    close(x_sj.grad, x_torch.grad, np.float32, "gradient of the input")
    params_sj = dict(layer_sj.named_parameters())
    for name, p in layer_torch.named_parameters():
        close(params_sj[name].grad, p.grad, np.float32, f"gradient of {name}")
