"""shenjing.compile: a compiled model computes what the eager one does, and re-captures when it must.

Expected values come from the same model run eagerly (the specification of a compiled call) and,
for the training runs, from PyTorch through the same seeds where the weights are copied. Replays
run the same ops on the same arrays, so compiled and eager agree bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import shenjing
from shenjing import nn
import shenjing.nn.functional as F


def _lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


class _FunctionalNet(nn.Module):
    """A tutorial-style model: functional calls, a view computed from the input's size, dropout."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc1 = nn.Linear(4 * 13 * 13, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        x = x.view(x.size(0), -1)
        x = F.dropout(F.relu(self.fc1(x)), 0.3, self.training)
        return F.log_softmax(self.fc2(x), dim=1)


class _RowLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 16, batch_first=True)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        out, _ = self.lstm(x.view(-1, 28, 28))
        return self.fc(out[:, -1, :])


def _bn_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


MODELS = {
    "lenet": (_lenet, "sgd", F.cross_entropy),
    "functional net with dropout": (_FunctionalNet, "adam", F.nll_loss),
    "lstm": (_RowLSTM, "adam", F.cross_entropy),
    "batchnorm cnn": (_bn_cnn, "adam", F.cross_entropy),
    "mnist example net (fused conv + pool)": (
        lambda: nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Dropout(0.25), nn.Flatten(), nn.Linear(16 * 12 * 12, 10)),
        "adam", F.cross_entropy),
    "mlp": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.Tanh(), nn.Linear(64, 10)), "sgd",
            F.cross_entropy),
}


def _batches(count=4, batch=8, seed=0):
    rng = np.random.default_rng(seed)
    return [(shenjing.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)),
             shenjing.tensor(rng.integers(0, 10, batch))) for _ in range(count)]


def _train(build, optimizer, loss_fn, compiled, steps=20, batches=None):
    shenjing.manual_seed(0)
    model = build()
    run = shenjing.compile(model) if compiled else model
    opt = (shenjing.optim.SGD(model.parameters(), lr=0.05, momentum=0.9) if optimizer == "sgd"
           else shenjing.optim.Adam(model.parameters(), lr=1e-3))
    batches = batches or _batches()
    losses = []
    for step in range(steps):
        x, y = batches[step % len(batches)]
        opt.zero_grad()
        loss = loss_fn(run(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, {k: v.numpy().copy() for k, v in model.state_dict().items()}, run


@pytest.mark.parametrize("name", list(MODELS))
def test_twenty_training_steps_compiled_equal_eager_bit_for_bit(name):
    build, optimizer, loss_fn = MODELS[name]
    eager_losses, eager_state, _ = _train(build, optimizer, loss_fn, compiled=False)
    losses, state, run = _train(build, optimizer, loss_fn, compiled=True)
    assert losses == eager_losses
    assert state.keys() == eager_state.keys()
    for key in state:  # parameters, and BatchNorm's running statistics and counter
        np.testing.assert_array_equal(state[key], eager_state[key], err_msg=key)
    assert "replayed as one graph" in run.explain() and "eagerly" not in run.explain()
    if "fused" in name:
        assert "(convolution, max-pool) -> one op" in run.explain()


def test_the_compiled_graph_is_one_node_whose_gradients_are_eager_ones():
    shenjing.manual_seed(0)
    model = _lenet()
    compiled = shenjing.compile(model)
    x = shenjing.randn(2, 1, 28, 28, requires_grad=True)
    compiled(x)  # (the capture: an eager call)
    out = compiled(x)
    assert out.grad_fn.name() == "CompiledFunctionBackward"
    out.pow(2).sum().backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()] + [x.grad.numpy().copy()]
    model.zero_grad()
    x.grad = None
    model(x).pow(2).sum().backward()
    for ours, expected in zip(grads, [p.grad.numpy() for p in model.parameters()] + [x.grad.numpy()]):
        np.testing.assert_array_equal(ours, expected)


def test_compiled_training_matches_pytorch_from_the_same_weights():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.ReLU(),
                                    torch.nn.Linear(32, 10))
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    model.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    compiled = shenjing.compile(model)
    opt = shenjing.optim.SGD(model.parameters(), lr=0.1)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    for x, y in _batches(count=6):
        opt.zero_grad()
        loss = F.cross_entropy(compiled(x), y)
        loss.backward()
        opt.step()
        ref_opt.zero_grad()
        ref_loss = torch.nn.functional.cross_entropy(reference(torch.from_numpy(x.numpy())),
                                                     torch.from_numpy(y.numpy()))
        ref_loss.backward()
        ref_opt.step()
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-5)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(["linear", "relu", "tanh", "sigmoid", "layernorm", "dropout", "gelu"]),
                min_size=1, max_size=6), st.integers(1, 5))
def test_random_sequential_stacks_compiled_equal_eager(layers, batch):
    def build():
        modules, width = [], 6
        for kind in layers:
            if kind == "linear":
                modules.append(nn.Linear(width, 5))
                width = 5
            else:
                modules.append({"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}[kind]()
                               if kind in ("relu", "tanh", "sigmoid", "gelu")
                               else nn.LayerNorm(width) if kind == "layernorm" else nn.Dropout(0.2))
        return nn.Sequential(*modules, nn.Linear(width, 3))

    rng = np.random.default_rng(batch)
    batches = [(shenjing.tensor(rng.standard_normal((batch, 6)).astype(np.float32)),
                shenjing.tensor(rng.integers(0, 3, batch))) for _ in range(3)]
    eager, eager_state, _ = _train(build, "sgd", F.cross_entropy, False, steps=6, batches=batches)
    compiled, state, _ = _train(build, "sgd", F.cross_entropy, True, steps=6, batches=batches)
    assert compiled == eager
    for key in state:
        np.testing.assert_array_equal(state[key], eager_state[key])


@settings(max_examples=12, deadline=None)
@given(st.lists(st.sampled_from(["conv3", "conv1-stride2", "conv3-padded", "batchnorm", "relu", "maxpool",
                                 "avgpool", "dropout2d", "leaky-relu"]), min_size=1, max_size=6),
       st.integers(1, 3))
def test_random_convolution_stacks_compiled_equal_eager(layers, batch):
    """Convolution stacks drawn at random (convolutions of three geometries, BatchNorm2d, ReLU, LeakyReLU,
    max- and average-pooling and Dropout2d, in any order the sizes allow), trained
    compiled and eagerly from the same seed: the same losses, weights and running statistics, to the bit
    (4 channels: patches of 36 rows for a 3x3 kernel, so the row-window convolutions and the fused
    convolution + max-pool are drawn too, wherever a stack puts a convolution before a max-pool)."""
    def build():
        modules, channels, size = [], 4, 12
        for kind in layers:
            if kind.startswith("conv"):
                stride, padding, kernel = (2, 0, 1) if kind == "conv1-stride2" else (1, int("padded" in kind), 3)
                if size + 2 * padding < kernel:
                    continue
                modules.append(nn.Conv2d(channels, 4, kernel, stride=stride, padding=padding))
                channels, size = 4, (size + 2 * padding - kernel) // stride + 1
            elif kind in ("maxpool", "avgpool"):
                if size >= 2:
                    modules.append(nn.MaxPool2d(2) if kind == "maxpool" else nn.AvgPool2d(2))
                    size //= 2
            else:
                modules.append({"batchnorm": lambda: nn.BatchNorm2d(channels), "relu": nn.ReLU,
                                "dropout2d": lambda: nn.Dropout2d(0.3),
                                "leaky-relu": lambda: nn.LeakyReLU(0.1)}[kind]())
        return nn.Sequential(*modules, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 3))

    rng = np.random.default_rng(batch)
    batches = [(shenjing.tensor(rng.standard_normal((batch + 1, 4, 12, 12)).astype(np.float32)),
                shenjing.tensor(rng.integers(0, 3, batch + 1))) for _ in range(3)]
    eager, eager_state, _ = _train(build, "adam", F.cross_entropy, False, steps=5, batches=batches)
    compiled, state, run = _train(build, "adam", F.cross_entropy, True, steps=5, batches=batches)
    assert compiled == eager
    assert state.keys() == eager_state.keys()
    for key in state:
        np.testing.assert_array_equal(state[key], eager_state[key], err_msg=key)
    assert "replayed as one graph" in run.explain()


# -- guards: when a capture no longer applies -------------------------------------------------------

def test_a_new_input_shape_is_a_new_capture():
    shenjing.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    compiled = shenjing.compile(model)
    for batch in (2, 5, 2):
        x = shenjing.randn(batch, 3)
        np.testing.assert_array_equal(compiled(x).detach().numpy(), model(x).detach().numpy())
    assert compiled.explain().count("replayed") == 2


def test_train_and_eval_switch_between_captures():
    shenjing.manual_seed(0)
    model = _bn_cnn()
    compiled = shenjing.compile(model)
    x = shenjing.randn(4, 1, 28, 28)
    compiled(x), compiled(x)
    compiled.eval()
    assert not model.training
    with shenjing.no_grad():
        ours = compiled(x).numpy()
        expected = model(x).numpy()
    np.testing.assert_array_equal(ours, expected)  # eval: the running statistics, not the batch's
    compiled.train()
    assert model.training and len(compiled.explain().splitlines()) == 2


def test_changing_an_attribute_after_compiling_is_seen():
    """The stale-geometry case: a pool's kernel size set after the first calls takes effect."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Flatten())
    compiled = shenjing.compile(model)
    x = shenjing.randn(1, 1, 12, 12)
    assert compiled(x).shape == compiled(x).shape == (1, 2 * 5 * 5)
    model[1].kernel_size = 5  # (stride stays 2): 10x10 -> 3x3
    assert compiled(x).shape == model(x).shape == (1, 2 * 3 * 3)


def test_a_hook_added_after_compiling_runs():
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
    compiled = shenjing.compile(model)
    x = shenjing.randn(2, 3)
    compiled(x), compiled(x)
    seen = []
    handle = model[0].register_forward_hook(lambda module, args, output: seen.append(output.shape))
    compiled(x)
    assert seen == [shenjing.Size([2, 3])]
    handle.remove()
    compiled(x)
    assert len(seen) == 1


def test_a_replaced_parameter_is_used():
    model = nn.Sequential(nn.Linear(3, 2))
    compiled = shenjing.compile(model)
    x = shenjing.ones(1, 3)
    compiled(x), compiled(x)
    model[0].weight = nn.Parameter(shenjing.zeros(2, 3))
    model[0].bias = nn.Parameter(shenjing.tensor([1.0, 2.0]))
    assert compiled(x).tolist() == [[1.0, 2.0]]


def test_requires_grad_switched_off_on_a_layer():
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1))
    compiled = shenjing.compile(model)
    x = shenjing.randn(4, 3)
    compiled(x).sum().backward()
    model[0].requires_grad_(False)
    model.zero_grad()
    compiled(x).sum().backward()
    assert model[0].weight.grad is None and model[2].weight.grad is not None


def test_an_in_place_change_before_backward_is_caught_as_in_eager():
    model = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1))
    compiled = shenjing.compile(model)
    x = shenjing.randn(2, 3)
    compiled(x)
    out = compiled(x)
    with shenjing.no_grad():
        model[2].weight.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_backward_twice_needs_retain_graph_as_in_eager():
    compiled = shenjing.compile(nn.Linear(2, 1))
    x = shenjing.randn(3, 2)
    compiled(x)
    out = compiled(x).sum()
    out.backward(retain_graph=True)
    out.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.backward()


def test_create_graph_through_a_compiled_call_says_so():
    compiled = shenjing.compile(nn.Sequential(nn.Linear(2, 2), nn.Tanh()))
    x = shenjing.randn(3, 2, requires_grad=True)
    compiled(x)
    out = compiled(x).sum()
    with pytest.raises(RuntimeError, match="first-order gradients only"):
        shenjing.autograd.grad(out, x, create_graph=True)


# -- what cannot be captured runs eagerly ----------------------------------------------------------

class _DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        y = self.fc(x)
        return y * 2 if y.sum().item() > 0 else y - 1


def test_a_value_read_into_python_runs_eagerly_and_explains_why():
    shenjing.manual_seed(0)
    model = _DataDependent()
    compiled = shenjing.compile(model)
    for sign in (1.0, -1.0, 1.0):
        x = shenjing.full((2, 3), sign * 10.0)
        np.testing.assert_array_equal(compiled(x).detach().numpy(), model(x).detach().numpy())
    assert "`item` reads a tensor's value into Python" in compiled.explain()


def test_fullgraph_raises_naming_the_break():
    compiled = shenjing.compile(_DataDependent(), fullgraph=True)
    with pytest.raises(RuntimeError, match="fullgraph=True.*item"):
        compiled(shenjing.ones(1, 3))


def test_values_fixed_outside_the_ops_are_found_by_the_check():
    """Weighted cross-entropy picks the class weights outside its op: the check sees that a replay on other
    targets would reuse the first batch's, and that call runs eagerly (so every batch is right)."""
    weight = shenjing.tensor([1.0, 2.0, 3.0])
    loss = shenjing.compile(lambda out, y: F.cross_entropy(out, y, weight=weight))
    out = shenjing.randn(4, 3)
    for y in ([0, 1, 2, 0], [2, 2, 1, 0], [1, 0, 0, 0]):
        target = shenjing.tensor(y)
        assert loss(out, target).item() == F.cross_entropy(out, target, weight=weight).item()


def test_a_function_is_compiled_and_keeps_its_name():
    def affine(x, w):
        return (x @ w).relu()

    compiled = shenjing.compile(affine)
    assert compiled.__name__ == "affine"
    x, w = shenjing.randn(3, 2), shenjing.randn(2, 2, requires_grad=True)
    compiled(x, w)
    out = compiled(x, w)
    out.sum().backward()
    expected = shenjing.autograd.grad(affine(x, w).sum(), w)[0]
    np.testing.assert_array_equal(w.grad.numpy(), expected.numpy())


def test_decorator_forms_and_options():
    @shenjing.compile
    def double(x):
        return x * 2

    @shenjing.compile(fullgraph=True, mode="reduce-overhead", dynamic=False)
    def triple(x):
        return x * 3

    assert double(shenjing.ones(1)).item() == 2.0 and triple(shenjing.ones(1)).item() == 3.0
    with pytest.raises(RuntimeError, match="Unrecognized mode"):
        shenjing.compile(double, mode="fastest")
    with pytest.raises(TypeError, match="nn.Module or a function"):
        shenjing.compile(3)


def test_the_compiled_module_is_the_module():
    model = _lenet()
    compiled = shenjing.compile(model)
    assert [p is q for p, q in zip(compiled.parameters(), model.parameters())] == [True] * 10
    assert list(compiled.state_dict()) == ["_orig_mod." + k for k in model.state_dict()]  # as PyTorch's
    assert getattr(compiled, "0") is model[0] and compiled._orig_mod is model
    assert isinstance(compiled, nn.Module) and type(compiled).__name__ == "OptimizedModule"
    with pytest.raises(TypeError, match="not subscriptable"):  # (PyTorch's OptimizedModule too)
        compiled[0]
    compiled.eval()
    assert not model[0].training


def test_disable_runs_eagerly():
    compiled = shenjing.compile(nn.Linear(2, 2), disable=True)
    x = shenjing.randn(1, 2)
    compiled(x)
    assert compiled(x).grad_fn.name() == "AddmmBackward0"


class _Tied(nn.Module):
    """One layer applied twice, and its output used twice: gradients from several paths add up."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        h = self.fc(x)
        return self.fc(h) + h


def test_gradients_accumulate_over_calls_and_shared_layers_as_in_eager():
    shenjing.manual_seed(0)
    model = _Tied()
    compiled = shenjing.compile(model)
    x = shenjing.randn(4, 3)
    for _ in range(3):  # no zero_grad: .grad accumulates
        compiled(x).pow(2).sum().backward()
    ours = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}
    model.zero_grad()
    for _ in range(3):
        model(x).pow(2).sum().backward()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(ours[name], p.grad.numpy(), rtol=1e-6, err_msg=name)


class _GRUClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(28, 12, num_layers=2, batch_first=True)
        self.rnn = nn.RNN(12, 8, batch_first=True)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        out, _ = self.gru(x.view(-1, 28, 28))
        out, _ = self.rnn(out)
        return self.fc(out[:, -1])


def test_gru_and_rnn_training_compiled_equal_eager():
    eager, eager_state, _ = _train(_GRUClassifier, "adam", F.cross_entropy, False, steps=8)
    compiled, state, run = _train(_GRUClassifier, "adam", F.cross_entropy, True, steps=8)
    assert compiled == eager and "eagerly" not in run.explain()
    for key in state:
        np.testing.assert_array_equal(state[key], eager_state[key], err_msg=key)


class _LSTMWithInitialState(nn.Module):
    """The tutorials' RNN classifier: zero initial states made in forward for the batch at hand, plus a
    position bias from ``arange`` and a buffer filled and written to in place."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 12, num_layers=2, batch_first=True)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        x = x.view(-1, 28, 28)
        h0 = shenjing.zeros(2, x.size(0), 12)
        c0 = shenjing.full((2, x.size(0), 12), 0.5)
        out, _ = self.lstm(x, (h0, c0))
        scale = shenjing.ones_like(out[:, -1])
        scale += 1  # (in place: each call must start again from a new array of ones)
        return self.fc(out[:, -1] * scale) + shenjing.arange(10) * 0.01


def test_tensors_made_in_forward_are_captured_and_made_anew_by_each_replay():
    eager, eager_state, _ = _train(_LSTMWithInitialState, "adam", F.cross_entropy, False, steps=6)
    compiled, state, run = _train(_LSTMWithInitialState, "adam", F.cross_entropy, True, steps=6)
    assert compiled == eager
    assert "replayed as one graph" in run.explain() and "eagerly" not in run.explain()
    for key in state:
        np.testing.assert_array_equal(state[key], eager_state[key], err_msg=key)


class _NoisyAutoencoder(nn.Module):
    """A VAE's reparameterisation: noise drawn in forward with ``randn_like``, and ``rand`` for a mask."""

    def __init__(self):
        super().__init__()
        self.encode, self.decode = nn.Linear(784, 16), nn.Linear(8, 10)

    def forward(self, x):
        h = self.encode(x.view(-1, 784))
        mu, log_var = h[:, :8], h[:, 8:]
        z = mu + shenjing.randn_like(mu) * shenjing.exp(0.5 * log_var)
        return self.decode(z * (shenjing.rand(z.shape) > 0.1))


def test_random_numbers_drawn_in_forward_are_replayed_from_the_same_stream_as_eager():
    eager, eager_state, _ = _train(_NoisyAutoencoder, "adam", F.cross_entropy, False, steps=6)
    compiled, state, run = _train(_NoisyAutoencoder, "adam", F.cross_entropy, True, steps=6)
    assert compiled == eager and len(set(eager)) == 6
    assert "replayed as one graph" in run.explain() and "eagerly" not in run.explain()
    for key in state:
        np.testing.assert_array_equal(state[key], eager_state[key], err_msg=key)


class _TinyAttention(nn.Module):
    """A causal self-attention over token embeddings, as a tutorial writes it: positions from ``arange``, a
    mask from ``triu(ones)``, ``masked_fill``, numbers from ``tensor``, and a one-hot target term."""

    def __init__(self):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(20, 8), nn.Embedding(6, 8)
        self.qkv, self.out = nn.Linear(8, 24), nn.Linear(8, 20)

    def forward(self, idx):
        length = idx.size(1)
        x = self.tokens(idx) + self.positions(shenjing.arange(length).unsqueeze(0))
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        scores = (q @ k.transpose(-2, -1)) * shenjing.tensor(8 ** -0.5)
        mask = shenjing.triu(shenjing.ones(length, length), diagonal=1).bool()
        logits = self.out(F.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v)
        return logits + 0.1 * F.one_hot(idx, 20).float()


def test_embedding_lookups_and_masks_follow_each_call_and_bad_indices_raise_in_a_replay():
    shenjing.manual_seed(0)
    model = _TinyAttention()
    compiled = shenjing.compile(model)
    rng = np.random.default_rng(5)
    for _ in range(4):
        idx = shenjing.tensor(rng.integers(0, 20, (3, 6)))
        ours, eager = compiled(idx), model(idx)
        np.testing.assert_array_equal(ours.detach().numpy(), eager.detach().numpy())
        grads = []
        for out in (ours, eager):
            model.zero_grad()
            out.square().mean().backward()
            grads.append({name: p.grad.numpy().copy() for name, p in model.named_parameters()})
        for name in grads[1]:
            np.testing.assert_array_equal(grads[0][name], grads[1][name], err_msg=name)
    assert "replayed as one graph" in compiled.explain() and "eagerly" not in compiled.explain()
    with pytest.raises(IndexError, match="index out of range"):
        compiled(shenjing.tensor(rng.integers(0, 20, (3, 6)) + 20))


class _MaskedHead(nn.Module):
    """Comparisons and tests in forward: a leaky ReLU written with ``where``, the predicted classes, a
    flag telling whether any output is NaN, and counts of outputs above zero and near zero."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = self.fc(x)
        y = shenjing.where(y > 0, y, 0.1 * y)
        return (y, y.argmax(1), shenjing.isnan(y).any(), (y <= 0).all(dim=1), shenjing.count_nonzero(y > 0, dim=1),
                shenjing.isclose(y, shenjing.zeros_like(y), atol=0.05))


def _both(model, compiled, x):
    """(the compiled model's output, the eager model's) on the array x."""
    return compiled(shenjing.tensor(x)), model(shenjing.tensor(x))


def test_comparisons_argmax_and_any_are_captured_and_follow_new_values():
    model = _MaskedHead()
    compiled = shenjing.compile(model)
    batches = np.random.default_rng(3).standard_normal((4, 6, 8)).astype(np.float32)
    batches[3, 2, 0] = np.nan  # the flag must be computed from this batch, not kept from the capture
    for step, x in enumerate(batches):
        ours, eager = _both(model, compiled, x)
        for got, expected in zip(ours, eager):
            assert got.requires_grad == expected.requires_grad
            np.testing.assert_array_equal(got.detach().numpy(), expected.detach().numpy())
        assert bool(ours[2]) == (step == 3)
    assert "replayed as one graph" in compiled.explain() and "eagerly" not in compiled.explain()


class _Ranked(nn.Module):
    """max along a dim, topk and sort in forward: indices that depend on the values, gathered values that
    carry the gradient."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 6)

    def forward(self, x):
        y = self.fc(x)
        best, where = y.max(dim=1)
        top, which = y.topk(2)
        ordered, order = y.sort(dim=1, descending=True)
        return best.sum() + top.sum() + (ordered[:, :3] * 2).sum(), where, which, order


def test_max_along_a_dim_topk_and_sort_are_captured_with_their_gradients():
    model = _Ranked()
    compiled = shenjing.compile(model)
    for x in np.random.default_rng(4).standard_normal((3, 5, 8)).astype(np.float32):
        ours, eager = _both(model, compiled, x)
        for got, expected in zip(ours[1:], eager[1:]):
            np.testing.assert_array_equal(got.numpy(), expected.numpy())
        grads = []
        for loss in (ours[0], eager[0]):
            model.zero_grad()
            loss.backward()
            grads.append(model.fc.weight.grad.numpy().copy())
        np.testing.assert_array_equal(ours[0].item(), eager[0].item())
        np.testing.assert_array_equal(grads[0], grads[1])
    assert "replayed as one graph" in compiled.explain() and "eagerly" not in compiled.explain()


class _Switchable(nn.Module):
    """Python control flow on a plain attribute: part of the guard, so a switch is a new capture."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.skip = False

    def forward(self, x):
        y = self.fc(x).tanh()
        return y + x if self.skip else y


def test_python_control_flow_on_an_attribute_is_guarded():
    model = _Switchable()
    compiled = shenjing.compile(model)
    x = shenjing.randn(2, 3)
    compiled(x), compiled(x)
    model.skip = True
    np.testing.assert_array_equal(compiled(x).detach().numpy(), (model.fc(x).tanh() + x).detach().numpy())
    assert compiled.explain().count("replayed") == 2


def test_autograd_grad_with_respect_to_the_input_of_a_compiled_call():
    shenjing.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 1))
    compiled = shenjing.compile(model)
    x = shenjing.randn(3, 4, requires_grad=True)
    compiled(x)
    (ours,) = shenjing.autograd.grad(compiled(x).sum(), x)
    (expected,) = shenjing.autograd.grad(model(x).sum(), x)
    np.testing.assert_array_equal(ours.numpy(), expected.numpy())
    assert model[0].weight.grad is None  # (autograd.grad stores nothing)


class _InPlace(nn.Module):
    """In-place activations and updates, as many tutorial CNNs write them."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)
        self.act = nn.ReLU(inplace=True)
        self.fc = nn.Linear(3 * 26 * 26, 10)

    def forward(self, x):
        h = self.act(self.conv(x))
        h += 0.5
        h.mul_(2.0)
        return self.fc(h.flatten(1))


def test_in_place_ops_on_activations_are_captured_and_train_as_eager():
    eager, eager_state, _ = _train(_InPlace, "sgd", F.cross_entropy, False, steps=6)
    compiled, state, run = _train(_InPlace, "sgd", F.cross_entropy, True, steps=6)
    assert compiled == eager and "eagerly" not in run.explain()
    for key in state:
        np.testing.assert_array_equal(state[key], eager_state[key], err_msg=key)


def test_an_in_place_write_through_a_view_runs_eagerly():
    class ThroughView(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            h = self.fc(x)
            first = h[:, :2]
            first.mul_(3.0)  # changes h too
            return h

    model = ThroughView()
    compiled = shenjing.compile(model)
    x = shenjing.randn(2, 4)
    for _ in range(2):
        np.testing.assert_array_equal(compiled(x).detach().numpy(), model(x).detach().numpy())
    assert "a view or has views" in compiled.explain()


def test_the_same_tensor_passed_twice_is_a_key_of_its_own():
    compiled = shenjing.compile(lambda a, b: a * 2 + b)
    x, y = shenjing.ones(2), shenjing.full((2,), 5.0)
    compiled(x, x), compiled(x, x)
    assert compiled(x, y).tolist() == [7.0, 7.0]
    assert compiled(y, y).tolist() == [15.0, 15.0]


def test_relu_then_max_pool_is_rewritten_and_exact_on_ties_zeros_and_negative_windows():
    model = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))
    compiled = shenjing.compile(model)
    windows = np.array([[-1.0, -2.0], [0.0, -3.0]]), np.array([[2.0, 2.0], [-1.0, 0.0]]), \
        np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([[-0.5, 1.5], [1.5, -4.0]])
    image = np.block([[windows[0], windows[1]], [windows[2], windows[3]]]).astype(np.float32)[None, None]
    results = []
    for run in (compiled, compiled, model):
        x = shenjing.tensor(image, requires_grad=True)
        out = run(x)
        (out * shenjing.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])).sum().backward()
        results.append((out.detach().numpy(), x.grad.numpy()))
    assert "(ReLU, max-pool) -> (max-pool, ReLU)" in compiled.explain()
    for values, grad in results[1:]:
        np.testing.assert_array_equal(values, results[2][0])
        np.testing.assert_array_equal(grad, results[2][1])


def _train_with_step_function(compiled, steps=12):
    shenjing.manual_seed(0)
    model = _bn_cnn()
    opt = shenjing.optim.Adam(model.parameters(), lr=1e-3)

    def train_step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    step = shenjing.compile(train_step) if compiled else train_step
    batches = _batches()
    losses = [step(*batches[i % len(batches)]).item() for i in range(steps)]
    return losses, {k: v.numpy().copy() for k, v in model.state_dict().items()}, step


def test_a_compiled_training_step_function_replays_its_model_and_trains_as_eager():
    eager_losses, eager_state, _ = _train_with_step_function(compiled=False)
    losses, state, step = _train_with_step_function(compiled=True)
    assert losses == eager_losses
    for key in state:
        np.testing.assert_array_equal(state[key], eager_state[key], err_msg=key)
    explained = step.explain()
    assert "runs eagerly, because a backward pass inside the call" in explained
    assert "module Sequential called by the function, compiled:" in explained
    assert explained.count("replayed as one graph") == 1  # the model (train mode, one input shape)
    assert step.__name__ == "train_step"


def _peak_traced_bytes(run, model, batches):
    import tracemalloc

    opt = shenjing.optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        opt.zero_grad()
        F.cross_entropy(run(x), y).backward()
        opt.step()

    for x, y in batches:  # (the capture and its check happen here, outside the measurement)
        step(x, y)
    tracemalloc.start()
    try:
        for x, y in batches:
            step(x, y)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_compiled_step_holds_no_more_memory_than_an_eager_one():
    """NumPy's arrays are traced by tracemalloc: the peak of two training steps of a BatchNorm CNN, compiled
    (values let go after their last use, each op's saved arrays freed as backward passes it) against eager."""
    batches = _batches(count=2, batch=32)
    shenjing.manual_seed(0)
    model = _bn_cnn()
    eager = _peak_traced_bytes(model, model, batches)
    shenjing.manual_seed(0)
    model = _bn_cnn()
    compiled = _peak_traced_bytes(shenjing.compile(model), model, batches)
    assert compiled <= eager * 1.02, (compiled, eager)


def test_a_step_function_that_raises_leaves_modules_as_they_were():
    model = nn.Linear(3, 2)
    call = nn.Module.__call__
    calls = []

    @shenjing.compile
    def step(x):
        calls.append(1)
        loss = model(x).sum()
        loss.backward()
        if len(calls) == 3:
            raise ValueError("stop")
        return loss

    step(shenjing.ones(4, 3))  # the capture (a backward inside: the function runs eagerly)
    step(shenjing.ones(4, 3))  # eagerly, the module compiled
    with pytest.raises(ValueError, match="stop"):
        step(shenjing.ones(4, 3))
    assert nn.Module.__call__ is call
    assert "module Linear called by the function, compiled" in step.explain()
