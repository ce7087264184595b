"""Recurrent layers and cells against PyTorch 2.13: values, final states and every gradient.

Each test builds the same layer in both libraries, copies torch's parameters into shenjing by name,
runs both on the same input and initial state, backpropagates the same random upstream gradient
from the output and the final state(s), and compares everything.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import nn

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}
T, N, I, H = 5, 3, 4, 6


def close(actual, expected, dtype, what):
    actual = actual.detach().numpy() if isinstance(actual, sj.Tensor) else np.asarray(actual)
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != torch {expected.shape}"
    np.testing.assert_allclose(actual, expected, err_msg=what, **TOL[dtype])


def copy_params(module_sj, module_torch, dtype):
    """Set every shenjing parameter to torch's value of the same name."""
    params = dict(module_sj.named_parameters())
    for name, p in module_torch.named_parameters():
        params[name].data = sj.tensor(p.detach().numpy().astype(dtype))


def leaves(arrays, dtype):
    """The same values as a shenjing and a torch leaf that require grad (None stays None)."""
    if arrays is None:
        return None, None
    if isinstance(arrays, tuple):
        pairs = [leaves(a, dtype) for a in arrays]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    a = arrays.astype(dtype)
    return sj.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def flat(result):
    """(output, h) or (output, (h, c)) -> [output, h, (c)]."""
    output, state = result
    return [output] + (list(state) if isinstance(state, tuple) else [state])


def run_and_compare(module_sj, module_torch, x, hx, dtype, seed=0):
    """Forward both modules, backprop a random upstream into output and final states, compare all."""
    rng = np.random.default_rng(seed)
    module_torch = module_torch.to(torch.float64 if dtype is np.float64 else torch.float32)
    copy_params(module_sj, module_torch, dtype)
    x_sj, x_torch = leaves(x, dtype)
    hx_sj, hx_torch = leaves(hx, dtype)
    outs_sj = flat(module_sj(x_sj, hx_sj)) if hx is not None else flat(module_sj(x_sj))
    outs_torch = flat(module_torch(x_torch, hx_torch)) if hx is not None else flat(module_torch(x_torch))
    loss_sj, loss_torch = 0, 0
    for k, (a, b) in enumerate(zip(outs_sj, outs_torch)):
        close(a, b, dtype, f"forward result {k}")
        upstream = rng.standard_normal(tuple(b.shape)).astype(dtype)
        loss_sj = loss_sj + (a * sj.tensor(upstream)).sum()
        loss_torch = loss_torch + (b * torch.tensor(upstream)).sum()
    loss_sj.backward()
    loss_torch.backward()
    close(x_sj.grad, x_torch.grad, dtype, "gradient of input")
    if hx is not None:
        pairs = zip(hx_sj, hx_torch) if isinstance(hx, tuple) else [(hx_sj, hx_torch)]
        for k, (a, b) in enumerate(pairs):
            close(a.grad, b.grad, dtype, f"gradient of initial state {k}")
    params_sj = dict(module_sj.named_parameters())
    for name, p in module_torch.named_parameters():
        close(params_sj[name].grad, p.grad, dtype, f"gradient of {name}")


def make_pair(kind, *args, **kwargs):
    """(shenjing layer, torch layer) of the same class and arguments; kind 'RNN_relu' is RNN with relu."""
    if kind.endswith("_relu"):
        kind, kwargs = kind[:-5], dict(kwargs, nonlinearity="relu")
    torch.manual_seed(0)
    return getattr(nn, kind)(*args, **kwargs), getattr(torch.nn, kind)(*args, **kwargs)


def initial_state(kind, shape, rng):
    h = rng.standard_normal(shape)
    return (h, rng.standard_normal(shape)) if kind == "LSTM" else h


LAYERS = ["RNN", "RNN_relu", "LSTM", "GRU"]
CONFIGS = [  # num_layers, batch_first, bidirectional, bias, given initial state
    (1, False, False, True, False),
    (1, True, False, True, True),
    (2, False, False, True, True),
    (2, True, True, True, False),
    (2, False, True, False, True),
    (1, False, True, False, False),
]


# -- layers against torch ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("kind", LAYERS)
def test_layer_matches_torch(kind, config, dtype):
    num_layers, batch_first, bidirectional, bias, given = config
    rng = np.random.default_rng(1)
    layer_sj, layer_torch = make_pair(kind, I, H, num_layers=num_layers, batch_first=batch_first,
                                      bidirectional=bidirectional, bias=bias)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    directions = 2 if bidirectional else 1
    hx = initial_state(kind, (num_layers * directions, N, H), rng) if given else None
    run_and_compare(layer_sj, layer_torch, x, hx, dtype)


@pytest.mark.parametrize("given", [False, True])
@pytest.mark.parametrize("kind", LAYERS)
def test_layer_unbatched_matches_torch(kind, given):
    rng = np.random.default_rng(2)
    layer_sj, layer_torch = make_pair(kind, I, H, num_layers=2, bidirectional=True)
    hx = initial_state(kind, (4, H), rng) if given else None
    run_and_compare(layer_sj, layer_torch, rng.standard_normal((T, I)), hx, np.float64)
    out, _ = layer_sj(sj.randn(T, I, dtype=sj.float64))
    assert tuple(out.shape) == (T, 2 * H)


@pytest.mark.parametrize("kind", LAYERS)
def test_unbatched_batch_first_matches_torch(kind):
    rng = np.random.default_rng(3)
    layer_sj, layer_torch = make_pair(kind, I, H, batch_first=True)
    run_and_compare(layer_sj, layer_torch, rng.standard_normal((T, I)), None, np.float32)


def test_rnn_is_the_elman_network():
    """h_t = tanh(W x_t + U h_{t-1} + b), written out in NumPy, for a one-layer RNN."""
    rng = np.random.default_rng(4)
    rnn = nn.RNN(I, H).double()
    x, h0 = rng.standard_normal((T, 1, I)), rng.standard_normal((1, 1, H))
    W, U = rnn.weight_ih_l0.detach().numpy(), rnn.weight_hh_l0.detach().numpy()
    b = rnn.bias_ih_l0.detach().numpy() + rnn.bias_hh_l0.detach().numpy()
    h, expected = h0[0, 0], []
    for t in range(T):
        h = np.tanh(W @ x[t, 0] + U @ h + b)
        expected.append(h)
    output, h_n = rnn(sj.tensor(x), sj.tensor(h0))
    np.testing.assert_allclose(output.detach().numpy()[:, 0], np.array(expected), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.detach().numpy()[0, 0], expected[-1], rtol=1e-12, atol=1e-12)


def test_load_state_dict_from_torch():
    torch.manual_seed(5)
    layer_torch = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True)
    layer_sj = nn.LSTM(I, H, num_layers=2, bidirectional=True)
    layer_sj.load_state_dict({k: v.numpy() for k, v in layer_torch.state_dict().items()})
    x = np.random.default_rng(5).standard_normal((T, N, I)).astype(np.float32)
    out_sj, (h_sj, c_sj) = layer_sj(sj.tensor(x))
    out_torch, (h_torch, c_torch) = layer_torch(torch.tensor(x))
    for a, b, what in [(out_sj, out_torch, "output"), (h_sj, h_torch, "h_n"), (c_sj, c_torch, "c_n")]:
        close(a, b, np.float32, what)


# -- cells against torch -------------------------------------------------------------------------


class _CellAsLayer:
    """Wraps a cell so that run_and_compare sees (output, state) like a layer."""

    def __init__(self, cell):
        self.cell = cell

    def __call__(self, x, hx=None):
        out = self.cell(x, hx)
        return (out[0], out) if isinstance(out, tuple) else (out, out)

    def named_parameters(self):
        return self.cell.named_parameters()

    def to(self, dtype):
        self.cell.to(dtype)
        return self


CELLS = ["RNNCell", "RNNCell_relu", "LSTMCell", "GRUCell"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(N, I), (I,)], ids=["batched", "unbatched"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("given", [False, True])
@pytest.mark.parametrize("kind", CELLS)
def test_cell_matches_torch(kind, given, bias, shape, dtype):
    rng = np.random.default_rng(6)
    cell_sj, cell_torch = make_pair(kind, I, H, bias=bias)
    state_shape = shape[:-1] + (H,)
    hx = initial_state("LSTM" if kind == "LSTMCell" else kind, state_shape, rng) if given else None
    run_and_compare(_CellAsLayer(cell_sj), _CellAsLayer(cell_torch), rng.standard_normal(shape), hx, dtype)


# -- central differences (float64) ---------------------------------------------------------------


def central_differences(loss_fn, tensors, eps=1e-6):
    """d loss / d t for each tensor t, by (loss(t + eps) - loss(t - eps)) / 2 eps per element."""
    grads = []
    for t in tensors:
        data, grad = t._data, np.zeros(t.shape)
        for i in np.ndindex(*data.shape):
            saved = data[i]
            data[i] = saved + eps
            plus = loss_fn().item()
            data[i] = saved - eps
            minus = loss_fn().item()
            data[i] = saved
            grad[i] = (plus - minus) / (2 * eps)
        grads.append(grad)
    return grads


def check_central_differences(loss_fn, tensors):
    """Backprop ``loss_fn()`` and compare each tensor's .grad with central differences."""
    loss_fn().backward()
    with sj.no_grad():
        expected = central_differences(loss_fn, tensors)
    for t, numeric in zip(tensors, expected):
        np.testing.assert_allclose(t.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_rnn_cell_central_differences():
    rng = np.random.default_rng(7)
    cell = nn.RNNCell(3, 2).double()
    x = sj.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = sj.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    upstream = sj.tensor(rng.standard_normal((2, 2)))
    check_central_differences(lambda: (cell(x, h) * upstream).sum(), [x, h] + list(cell.parameters()))


def test_lstm_central_differences():
    rng = np.random.default_rng(8)
    lstm = nn.LSTM(2, 2, num_layers=2, bidirectional=True).double()
    x = sj.tensor(rng.standard_normal((3, 1, 2)), requires_grad=True)
    h0 = sj.tensor(rng.standard_normal((4, 1, 2)), requires_grad=True)
    c0 = sj.tensor(rng.standard_normal((4, 1, 2)), requires_grad=True)
    w_out, w_h, w_c = (sj.tensor(rng.standard_normal(s)) for s in [(3, 1, 4), (4, 1, 2), (4, 1, 2)])

    def loss():
        output, (h_n, c_n) = lstm(x, (h0, c0))
        return (output * w_out).sum() + (h_n * w_h).sum() + (c_n * w_c).sum()

    check_central_differences(loss, [x, h0, c0] + list(lstm.parameters()))


# -- dropout between layers ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dropout_eval_mode_matches_torch(kind):
    rng = np.random.default_rng(9)
    layer_sj, layer_torch = make_pair(kind, I, H, num_layers=3, dropout=0.5)
    layer_sj.eval()
    layer_torch.eval()
    run_and_compare(layer_sj, layer_torch, rng.standard_normal((T, N, I)), None, np.float32)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dropout_zero_training_matches_torch(kind):
    rng = np.random.default_rng(10)
    layer_sj, layer_torch = make_pair(kind, I, H, num_layers=2, dropout=0.0, bidirectional=True)
    assert layer_sj.training and layer_torch.training
    run_and_compare(layer_sj, layer_torch, rng.standard_normal((T, N, I)), None, np.float32)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dropout_one_training_matches_torch(kind):
    """p = 1 zeroes every input of layer 2 (deterministic), in both libraries."""
    rng = np.random.default_rng(11)
    layer_sj, layer_torch = make_pair(kind, I, H, num_layers=2, dropout=1.0)
    run_and_compare(layer_sj, layer_torch, rng.standard_normal((T, N, I)), None, np.float32)


def test_dropout_acts_between_layers_only_in_training():
    layer = nn.GRU(I, H, num_layers=2, dropout=0.5)
    x = sj.randn(T, N, I)
    layer.eval()
    _, h_eval = layer(x)
    layer.train()
    sj.manual_seed(0)
    _, h_train = layer(x)
    sj.manual_seed(0)
    _, h_again = layer(x)
    np.testing.assert_allclose(h_train.detach().numpy()[0], h_eval.detach().numpy()[0], rtol=1e-6)  # layer 1
    assert not np.allclose(h_train.detach().numpy()[1], h_eval.detach().numpy()[1])  # layer 2 reads dropout
    np.testing.assert_array_equal(h_train.detach().numpy(), h_again.detach().numpy())  # seeded: repeatable


# -- parameters, initialisation, repr ----------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, dict(num_layers=3, bidirectional=True), dict(num_layers=2, bias=False)])
@pytest.mark.parametrize("kind", LAYERS + CELLS)
def test_parameter_names_order_and_shapes_match_torch(kind, kwargs):
    if kind.endswith("Cell") or kind == "RNNCell_relu":
        kwargs = {"bias": kwargs.get("bias", True)}
    layer_sj, layer_torch = make_pair(kind, I, H, **kwargs)
    names_shapes_torch = [(name, tuple(p.shape)) for name, p in layer_torch.named_parameters()]
    assert [(name, tuple(p.shape)) for name, p in layer_sj.named_parameters()] == names_shapes_torch
    assert list(layer_sj.state_dict()) == list(layer_torch.state_dict())
    assert all(p.requires_grad and p.dtype == sj.float32 for p in layer_sj.parameters())


@pytest.mark.parametrize("kind", ["LSTM", "GRUCell"])
def test_default_init_is_uniform_in_bound(kind):
    hidden = 64
    layer = getattr(nn, kind)(32, hidden)
    values = np.concatenate([p.detach().numpy().ravel() for p in layer.parameters()])
    bound = 1 / np.sqrt(hidden)
    assert np.all(np.abs(values) <= bound)
    assert values.min() < -0.95 * bound and values.max() > 0.95 * bound
    assert abs(values.mean()) < 0.03 * bound and abs(values.std() - bound / np.sqrt(3)) < 0.05 * bound


def test_dtype_argument_and_double():
    layer = nn.GRU(I, H, dtype=sj.float64)
    assert all(p.dtype == sj.float64 for p in layer.parameters())
    out, h = nn.LSTM(I, H).double()(sj.randn(T, N, I, dtype=sj.float64))
    assert out.dtype == sj.float64 and h[0].dtype == sj.float64


@pytest.mark.parametrize("args, kwargs", [
    ((10, 20), dict(num_layers=2, batch_first=True)),
    ((10, 20), dict(nonlinearity="relu", bias=False, dropout=0.5, num_layers=3)),
    ((3, 4), dict(bidirectional=True)),
])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_repr_matches_torch(kind, args, kwargs):
    if kind != "RNN":
        kwargs = {k: v for k, v in kwargs.items() if k != "nonlinearity"}
    assert repr(getattr(nn, kind)(*args, **kwargs)) == repr(getattr(torch.nn, kind)(*args, **kwargs))


@pytest.mark.parametrize("kind, kwargs", [("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu", bias=False)),
                                          ("LSTMCell", dict(bias=False)), ("GRUCell", {})])
def test_cell_repr_matches_torch(kind, kwargs):
    assert repr(getattr(nn, kind)(3, 7, **kwargs)) == repr(getattr(torch.nn, kind)(3, 7, **kwargs))


def test_long_sequence_backward():
    layer = nn.GRU(3, 4)
    x = sj.randn(300, 2, 3, requires_grad=True)
    out, h = layer(x)
    out.sum().backward()
    assert x.grad.shape == x.shape and np.all(np.isfinite(x.grad.numpy()))
    assert np.any(x.grad.numpy()[0] != 0)


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_wrong_input_raises_with_shapes(kind):
    layer = getattr(nn, kind)(10, 20, num_layers=2)
    with pytest.raises(RuntimeError, match=rf"{kind}.*Expected 10, got 5.*\[7, 3, 5\]"):
        layer(sj.randn(7, 3, 5))
    with pytest.raises(ValueError, match=rf"{kind}.*2-D.*3-D.*got 4-D.*\[1, 7, 3, 10\]"):
        layer(sj.randn(1, 7, 3, 10))
    with pytest.raises(ValueError, match=rf"{kind}.*float64.*float32"):
        layer(sj.randn(7, 3, 10, dtype=sj.float64))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_wrong_initial_state_raises_with_shapes(kind):
    layer = getattr(nn, kind)(10, 20, num_layers=2)
    bad, good = sj.zeros(1, 3, 20), sj.zeros(2, 3, 20)
    hx = (bad, good) if kind == "LSTM" else bad
    with pytest.raises(RuntimeError, match=rf"{kind}.*h0.*\(2, 3, 20\).*\[1, 3, 20\]"):
        layer(sj.randn(7, 3, 10), hx)
    if kind == "LSTM":
        with pytest.raises(RuntimeError, match=r"LSTM.*c0.*\(2, 3, 20\).*\[2, 4, 20\]"):
            layer(sj.randn(7, 3, 10), (good, sj.zeros(2, 4, 20)))
        with pytest.raises(TypeError, match="tuple"):
            layer(sj.randn(7, 3, 10), good)
    unbatched_hx = (good, good) if kind == "LSTM" else good  # 3-D state for a 2-D input
    with pytest.raises(RuntimeError, match=rf"{kind}.*h0.*\(2, 20\).*\[2, 3, 20\]"):
        layer(sj.randn(7, 10), unbatched_hx)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_wrong_shapes_raise(kind):
    cell = getattr(nn, kind)(10, 20)
    with pytest.raises(RuntimeError, match=rf"{kind}.*expected 10, got 5.*\[3, 5\]"):
        cell(sj.randn(3, 5))
    with pytest.raises(ValueError, match=rf"{kind}.*got 3-D.*\[2, 3, 10\]"):
        cell(sj.randn(2, 3, 10))
    bad = sj.zeros(4, 20)
    with pytest.raises(RuntimeError, match=rf"{kind}.*\(3, 20\).*\[4, 20\]"):
        cell(sj.randn(3, 10), (bad, bad) if kind == "LSTMCell" else bad)


@pytest.mark.parametrize("build, message", [
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), "sigmoid"),
    (lambda: nn.RNNCell(3, 4, nonlinearity="gelu"), "gelu"),
    (lambda: nn.LSTM(3, 0), "hidden_size"),
    (lambda: nn.GRUCell(3, -2), "hidden_size"),
    (lambda: nn.GRU(0, 4), "input_size"),
    (lambda: nn.RNN(3, 4, num_layers=0), "num_layers"),
    (lambda: nn.LSTM(3, 4, num_layers=2, dropout=1.5), "dropout.*1.5"),
    (lambda: nn.GRU(3, 4, num_layers=2, dropout=-0.1), "dropout"),
])
def test_constructor_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)
