"""Training curves and gradient health.

*Training curves*: ``plot_history`` draws the loss (and accuracy) of every epoch of a ``fit``
``History``, training and validation, and marks the epoch that early stopping kept (seed 004's 早停:
stop when the validation loss stops falling).

*Gradient health*: backpropagation multiplies, layer by layer, the upstream gradient by each layer's
local derivative. The sigmoid's derivative is at most 1/4, so in a deep sigmoid network the gradient
that reaches the first layers is a product of many numbers below 1/4: it *vanishes*, and those layers
hardly learn. ReLU's derivative is 1 where the unit is active, so the gradient keeps its size (seed 001,
seed 004). ``layer_gradient_norms`` measures the gradient of each layer's weights after a backward
pass; ``gradient_health`` records them over training and ``GradientHealth.warnings`` flags layers
whose gradient vanished or exploded; ``GradientMonitor`` records ||dL/da|| for each layer's output at
every backward pass of any training loop, ``fit`` included. ``rnn_state_gradients`` does the same
through the time steps of the Elman RNN: the size of the gradient with respect to each step's hidden state.

>>> health = gradient_health("sigmoid", depth=8, steps=2)
>>> health.warnings()[0].split(":")[0]
'vanishing'
>>> health.vanishing_layers(0)          # layers 1 to 3 of 9 (0 = next to the input)
[0, 1, 2]
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from shenjing import _creation, _random
from shenjing._tensor import Tensor
from shenjing.models import MLP, ElmanRNN
from shenjing.nn.modules.module import Module
from shenjing.teach._plotting import PALETTE, new_figure, save_figure
from shenjing.train import History

__all__ = ["plot_history", "overfitting_demo", "layer_gradient_norms", "GradientHealth", "GradientMonitor",
           "deep_mlp", "gradient_health", "plot_gradient_health", "rnn_state_gradients", "rnn_gradient_curves",
           "plot_rnn_gradients"]


# -- training curves -------------------------------------------------------------------------------

def _epochs(history: History | Mapping[str, Any] | Sequence[Mapping[str, float]]) -> tuple[list[dict], Any]:
    if isinstance(history, History):
        return history.epochs, history.best_epoch
    if isinstance(history, Mapping) and "epochs" in history:
        return list(history["epochs"]), history.get("best_epoch")
    if isinstance(history, Sequence) and all(isinstance(e, Mapping) for e in history):
        return [dict(e) for e in history], None
    raise TypeError("expected a History, its to_dict(), or a list of per-epoch dicts; "
                    f"got {type(history).__name__}")


def plot_history(history: History | Mapping[str, Any] | Sequence[Mapping[str, float]],
                 path: str | os.PathLike | None = None, *, title: str = "training curves") -> Any:
    """The loss of every epoch, training and validation, and beside it each other metric
    (``accuracy`` and ``val_accuracy``) and the learning rate when it changes; a dashed line marks
    the best epoch that early stopping kept. Returns the Figure; saves it when ``path``.

    ``history`` is what ``shenjing.train.fit`` returns, its ``to_dict()``, or a list of per-epoch dicts.

    >>> figure = plot_history([{"epoch": 1, "loss": 0.9, "val_loss": 1.0},
    ...                        {"epoch": 2, "loss": 0.5, "val_loss": 0.7}])
    """
    epochs, best_epoch = _epochs(history)
    if not epochs:
        raise ValueError("the history has no epochs to plot")
    numbers = [e.get("epoch", i + 1) for i, e in enumerate(epochs)]
    keys = [k for k in epochs[0] if k not in ("epoch", "seconds", "lr") and not k.startswith("val_")]
    metrics = [k for k in keys if k != "loss"]
    rates = [e["lr"] for e in epochs if "lr" in e]
    panels = ["loss"] * ("loss" in keys) + metrics + (["lr"] if len(set(rates)) > 1 else [])
    figure = new_figure(4.2 * len(panels), 3.6, what="plotting training curves")
    axes_list = figure.subplots(1, len(panels), squeeze=False)[0]
    for axes, name in zip(axes_list, panels):
        if name == "lr":
            axes.plot(numbers[:len(rates)], rates, color=PALETTE[2], marker=".")
            axes.set_ylabel("learning rate")
        else:
            for key, colour, label in ((name, PALETTE[0], "training"), (f"val_{name}", PALETTE[1], "validation")):
                values = [e.get(key, math.nan) for e in epochs]
                if not all(math.isnan(v) for v in values):
                    axes.plot(numbers, values, color=colour, marker="o", markersize=3, label=label)
            axes.set_ylabel(name)
        if best_epoch is not None:
            axes.axvline(best_epoch, color="#555555", linestyle="--", linewidth=1,
                         label=f"best epoch ({best_epoch})")
        axes.set_xlabel("epoch")
        axes.set_title(name if name != "lr" else "learning rate", fontsize=10)
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=8)
    stopped = isinstance(history, History) and history.stopped_early or \
        isinstance(history, Mapping) and bool(history.get("stopped_early"))
    figure.suptitle(title + (f" (early stopping ended training after epoch {numbers[-1]})" if stopped else ""),
                    fontsize=11)
    save_figure(figure, path)
    return figure


def overfitting_demo(epochs: int = 300, patience: int = 40, seed: int = 0) -> History:
    """Early stopping at work (seed 004's 早停): a 2-64-64-2 ReLU MLP has far more weights than its
    60 noisy training points (moons, noise 0.35) need, so after a few epochs the training loss keeps
    falling while the loss on 300 fresh validation points rises: the network memorises noise.
    ``fit`` with ``EarlyStopping(patience)`` stops ``patience`` epochs after the best validation loss
    and restores that epoch's weights. Returns the ``History`` (about a second on a laptop).

    >>> history = overfitting_demo(epochs=5)
    >>> len(history)
    5
    """
    from shenjing import nn
    from shenjing.data import make_moons
    from shenjing.optim import Adam
    from shenjing.train import EarlyStopping, fit
    from shenjing.utils.data import DataLoader, TensorDataset

    _random.manual_seed(seed)
    x_train, y_train = make_moons(60, noise=0.35, seed=seed + 1)
    x_val, y_val = make_moons(300, noise=0.35, seed=seed + 2)
    model = MLP([2, 64, 64, 2])
    generator = _random.Generator().manual_seed(seed)
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=20, shuffle=True, generator=generator)
    val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=300)
    return fit(model, train_loader, nn.CrossEntropyLoss(), Adam(model.parameters(), lr=0.01), epochs,
               val_data=val_loader, early_stopping=EarlyStopping(patience=patience), progress=False)


# -- gradient norms per layer ----------------------------------------------------------------------

def layer_gradient_norms(model: Module) -> "OrderedDict[str, float]":
    """The Euclidean (Frobenius) norm of the gradient of each layer's ``weight``, in the order of
    ``named_modules``, read after ``loss.backward()``: ``{layer name: ||dL/dW||}``. Layers whose
    weight has no gradient are left out.

    >>> import shenjing
    >>> from shenjing import nn
    >>> layer = nn.Linear(2, 1)
    >>> layer(shenjing.tensor([[3.0, 4.0]])).sum().backward()   # dL/dW = x = [3, 4]
    >>> dict(layer_gradient_norms(layer))
    {'': 5.0}
    """
    norms: "OrderedDict[str, float]" = OrderedDict()
    for name, module in model.named_modules():
        weight = module._parameters.get("weight") if hasattr(module, "_parameters") else None
        if weight is not None and weight.grad is not None:
            gradient = weight.grad.numpy().astype(np.float64)
            norms[name] = float(np.sqrt(np.sum(gradient * gradient)))
    return norms


@dataclass
class GradientHealth:
    """Per-layer weight-gradient norms recorded over training steps by ``gradient_health``.

    ``norms[layer][k]`` is that layer's norm at step ``steps[k]`` (before that step's update);
    ``losses[k]`` the loss at that step. Layers are listed from the input to the output.
    ``quantity`` names what was measured: the weights' gradient ‖∂L/∂W‖, or ‖∂L/∂a‖ for a layer's
    output.
    """

    label: str
    layers: list[str]
    steps: list[int] = field(default_factory=list)
    norms: dict[str, list[float]] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    quantity: str = "‖∂L/∂W‖"

    def at(self, index: int = 0) -> list[float]:
        """Each layer's norm at the ``index``-th recorded step (0: the untrained network)."""
        return [self.norms[layer][index] for layer in self.layers]

    def mean(self) -> list[float]:
        """Each layer's norm averaged over the recorded steps."""
        return [float(np.mean(self.norms[layer])) for layer in self.layers]

    def vanishing_layers(self, index: int = 0, vanishing: float = 1e-3) -> list[int]:
        """Positions (0 = next to the input) of the layers whose norm at the ``index``-th step is
        below ``vanishing`` times the largest layer's at that step."""
        norms = np.array(self.at(index))
        return [i for i, norm in enumerate(norms) if norm < vanishing * norms.max()]

    def warnings(self, vanishing: float = 1e-3, exploding: float = 1e3, stalled: float = 1e-4) -> list[str]:
        """What looks unhealthy, one line each:

        ``vanishing``: a layer's gradient norm fell below ``vanishing`` times the largest layer's at
        the same step (the gradient shrank a thousandfold on its way back to that layer);
        ``exploding``: a norm above ``exploding``, or not finite;
        ``diverged``: the loss became infinite or NaN;
        ``stalled``: at the last step even the largest norm is below ``stalled`` (nothing learns).
        """
        table = np.array([self.norms[layer] for layer in self.layers])  # (layers, steps)
        largest = np.where(np.isfinite(table), table, -np.inf).max(axis=0)
        messages = []
        for index, layer in enumerate(self.layers):
            row = table[index]
            bad = ~np.isfinite(row) | (row > exploding)
            if bad.any():
                first = int(np.argmax(bad))
                messages.append(f"exploding: layer {index + 1} ({layer}) has gradient norm {row[first]:.2e} at "
                                f"step {self.steps[first]} (> {exploding:g}); {int(bad.sum())} of {len(row)} steps")
                continue
            ratio = row / np.maximum(largest, 1e-300)
            small = ratio < vanishing
            if small.any():
                worst = int(np.argmin(ratio))
                messages.append(f"vanishing: layer {index + 1} ({layer}) gets a gradient {1 / ratio[worst]:.1e} times "
                                f"smaller than the largest layer's (norm {row[worst]:.2e} at step "
                                f"{self.steps[worst]}); {int(small.sum())} of {len(row)} steps")
        broken = [step for step, loss in zip(self.steps, self.losses) if not math.isfinite(loss)]
        if broken:
            messages.append(f"diverged: the loss became {self.losses[self.steps.index(broken[0])]} at step "
                            f"{broken[0]}: the updates are too large (lower the learning rate or the initial weights)")
        if len(largest) and np.isfinite(largest[-1]) and largest[-1] < stalled:
            loss = f" and the loss is {self.losses[-1]:.4f}" if self.losses else ""
            messages.append(f"stalled: at the last step the largest layer gradient norm is {largest[-1]:.2e} "
                            f"(< {stalled:g}){loss}: the network has stopped learning")
        return messages


class GradientMonitor:
    """Record, at every backward pass, the norm of the gradient of the loss with respect to each
    layer's *output*, ||dL/da||, while any training loop runs (``shenjing.train.fit`` included).

    A forward hook on each layer puts a tensor hook (``register_hook``) on the layer's output; the
    tensor hook receives dL/da when backpropagation reaches it. ``layers`` are names from
    ``named_modules``; by default every ``Linear``, ``Conv2d`` and recurrent layer. Use it as a
    context manager (the hooks are removed on exit) and read ``norms`` or ``health()``.

    >>> import shenjing
    >>> from shenjing import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1))
    >>> with GradientMonitor(model) as monitor:
    ...     model(shenjing.randn(4, 2)).sum().backward()
    >>> list(monitor.norms), len(monitor.norms["2"])
    (['0', '2'], 1)
    """

    def __init__(self, model: Module, layers: Sequence[str] | None = None) -> None:
        from shenjing import nn

        kinds = (nn.Linear, nn.Conv2d, nn.RNNBase)
        modules = dict(model.named_modules())
        if layers is None:
            layers = [name for name, module in modules.items() if isinstance(module, kinds)]
        unknown = [name for name in layers if name not in modules]
        if unknown:
            raise ValueError(f"{type(model).__name__} has no layer {', '.join(map(repr, unknown))}")
        self.layers = list(layers)
        self.norms: dict[str, list[float]] = {name: [] for name in self.layers}
        self._handles = [modules[name].register_forward_hook(self._watcher(name)) for name in self.layers]

    def _watcher(self, name: str) -> Any:
        def record(gradient: Tensor) -> None:
            values = gradient.numpy().astype(np.float64)
            self.norms[name].append(float(np.sqrt(np.sum(values * values))))

        def forward_hook(module: Module, args: Any, output: Any) -> None:
            first = output[0] if isinstance(output, tuple) else output  # recurrent layers: (output, h_n)
            if isinstance(first, Tensor) and first.requires_grad:
                first.register_hook(record)
        return forward_hook

    def remove(self) -> None:
        """Remove the hooks; the recorded norms stay."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> "GradientMonitor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    def health(self, label: str = "monitored") -> GradientHealth:
        """The recording as a ``GradientHealth`` (one step per backward pass), for ``warnings()``
        and ``plot_gradient_health``."""
        steps = min((len(v) for v in self.norms.values()), default=0)
        return GradientHealth(label, list(self.layers), list(range(steps)),
                              {name: values[:steps] for name, values in self.norms.items()}, quantity="‖∂L/∂a‖")


def deep_mlp(activation: str = "sigmoid", depth: int = 8, width: int = 32, init: str = "xavier",
             weight_scale: float = 1.0, in_features: int = 2, classes: int = 2, seed: int = 0) -> MLP:
    """An MLP with ``depth`` hidden layers of ``width`` units and one ``activation``, initialised
    with ``init``: ``xavier`` (Glorot normal, the same for every activation, so that only the
    activation differs), ``kaiming`` (He normal, made for ReLU) or ``default`` (PyTorch's), weights
    then multiplied by ``weight_scale`` (> 1 to make gradients explode); biases zero."""
    from shenjing import nn
    from shenjing.autograd.grad_mode import no_grad

    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be positive, got {depth} and {width}")
    if init not in ("xavier", "kaiming", "default"):
        raise ValueError(f"unknown init '{init}'; expected xavier, kaiming or default")
    _random.manual_seed(seed)
    model = MLP([in_features] + [width] * depth + [classes], activation=activation)
    for module in model.modules():
        if isinstance(module, nn.Linear) and init != "default":
            if init == "xavier":
                nn.init.xavier_normal_(module.weight)
            else:
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Linear) and weight_scale != 1.0:
            with no_grad():
                module.weight.mul_(weight_scale)
    return model


def gradient_health(activation: str = "sigmoid", depth: int = 8, width: int = 32, steps: int = 100,
                    lr: float = 0.1, init: str = "xavier", weight_scale: float = 1.0, data: str = "moons",
                    seed: int = 0) -> GradientHealth:
    """Train ``deep_mlp(activation, depth, width, init)`` with plain SGD (full batch, ``lr``) on a
    2-D data set (``moons``, ``circles``, ``spirals`` or ``xor``) for ``steps`` steps, recording
    every layer's weight-gradient norm and the loss at every step.

    >>> health = gradient_health("relu", depth=4, steps=3)
    >>> len(health.layers), len(health.steps)
    (5, 3)
    """
    from shenjing import nn
    from shenjing.optim import SGD
    from shenjing.teach.boundary import load_2d_data

    x, y = load_2d_data(data, seed=seed)
    model = deep_mlp(activation, depth, width, init, weight_scale, classes=int(y.max().item()) + 1, seed=seed)
    loss_function = nn.CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=lr)
    health: GradientHealth | None = None
    for step in range(steps):
        optimizer.zero_grad()
        with np.errstate(over="ignore", invalid="ignore"):  # exploding runs overflow; warnings() says so
            loss = loss_function(model(x), y)
            loss.backward()
        norms = layer_gradient_norms(model)
        if health is None:
            health = GradientHealth(f"{activation}, {depth} hidden layers", list(norms),
                                    norms={layer: [] for layer in norms})
        health.steps.append(step)
        health.losses.append(float(loss.item()))
        for layer, norm in norms.items():
            health.norms[layer].append(norm)
        with np.errstate(over="ignore", invalid="ignore"):
            optimizer.step()
    if health is None:
        raise ValueError(f"steps must be positive, got {steps}")
    return health


def plot_gradient_health(results: GradientHealth | Mapping[str, GradientHealth],
                         path: str | os.PathLike | None = None, *, title: str | None = None) -> Any:
    """Gradient health as pictures: each layer's gradient norm (log scale) from the input layer to
    the output layer, one line per network, with vanishing layers marked; the norms of each layer
    over the training steps; and the loss. Returns the Figure; saves it when ``path``.

    >>> figure = plot_gradient_health({"sigmoid": gradient_health("sigmoid", 4, steps=2),
    ...                                "relu": gradient_health("relu", 4, steps=2)})
    """
    runs = {results.label: results} if isinstance(results, GradientHealth) else dict(results)
    rows = 1 + math.ceil(len(runs) / 2)
    figure = new_figure(10.0, 3.6 * rows, what="plotting gradient health")
    from matplotlib import colormaps

    grid = figure.subplots(rows, 2, squeeze=False)
    by_layer, loss_axes = grid[0, 0], grid[0, 1]
    for axes in grid.flat[2 + len(runs):]:
        axes.axis("off")
    marked = False
    for index, (name, health) in enumerate(runs.items()):
        colour = PALETTE[index % len(PALETTE)]
        positions = np.arange(1, len(health.layers) + 1)
        start = np.array(health.at(0))
        by_layer.plot(positions, start, marker="o", color=colour, label=name)
        flagged = health.vanishing_layers(0)
        if flagged:
            by_layer.scatter(positions[flagged], start[flagged], s=90, facecolors="none", edgecolors="#C00000",
                             linewidths=1.5, zorder=3, label=None if marked else "vanishing (warning)")
            marked = True
        if health.losses:
            loss_axes.plot(health.steps, health.losses, color=colour, label=name)

        over_steps = grid.flat[2 + index]
        shades = colormaps["viridis"](np.linspace(0, 0.9, len(health.layers)))
        for layer_index, layer in enumerate(health.layers):
            over_steps.plot(health.steps, health.norms[layer], color=shades[layer_index],
                            label=f"layer {layer_index + 1}" if layer_index in (0, len(health.layers) - 1) else None)
        over_steps.set_yscale("log")
        over_steps.set_xlabel("training step")
        over_steps.set_ylabel(f"{health.quantity} (log scale)")
        over_steps.set_title(f"{name}: each layer over training", fontsize=10)
        over_steps.grid(alpha=0.3, which="both")
        over_steps.legend(fontsize=8, title="dark = input side", title_fontsize=7)
    by_layer.set_yscale("log")
    by_layer.set_xlabel("layer (1 = next to the input)")
    by_layer.set_ylabel(f"{next(iter(runs.values())).quantity} (log scale)")
    by_layer.set_title("gradient norm of each layer at the first step", fontsize=10)
    by_layer.grid(alpha=0.3, which="both")
    by_layer.legend(fontsize=8)
    loss_axes.set_xlabel("training step")
    loss_axes.set_ylabel("loss")
    loss_axes.set_title("training loss", fontsize=10)
    loss_axes.grid(alpha=0.3)
    if loss_axes.get_legend_handles_labels()[0]:
        loss_axes.legend(fontsize=8)
    else:
        loss_axes.text(0.5, 0.5, "no losses recorded", ha="center", va="center", transform=loss_axes.transAxes)
    figure.suptitle(title or "Gradient health: how much gradient reaches each layer", fontsize=11)
    save_figure(figure, path)
    return figure


# -- through the time steps of the Elman RNN -------------------------------------------------------

def rnn_state_gradients(model: ElmanRNN, x: Tensor, target: Tensor, loss: Any = None) -> np.ndarray:
    """``||dL/dh_t||`` for every time step t of a one-layer ``ElmanRNN`` on a batch ``x`` (N, T, I):
    the norm (over the batch and the hidden units) of the gradient of the loss with respect to the
    hidden state h_t, all paths through later steps included (backpropagation through time).

    The network is unrolled step by step with its own weights, h_t = tanh(W_ih x_t + b_ih + W_hh
    h_(t-1) + b_hh) (ReLU for ``nonlinearity='relu'``), so that every h_t is a tensor of its own
    whose ``.grad`` autograd fills in. ``loss`` defaults to the mean squared error. Returns (T,).

    >>> import shenjing
    >>> model = ElmanRNN(hidden_size=8)
    >>> rnn_state_gradients(model, shenjing.randn(4, 10, 1), shenjing.randn(4, 1)).shape
    (10,)
    """
    from shenjing import nn

    rnn = model.rnn
    if x.ndim != 3 or x.shape[1] == 0:
        raise ValueError(f"expected a batch of sequences (N, T, input_size) with T >= 1, got shape {list(x.shape)}")
    if rnn.num_layers != 1 or rnn.bidirectional or not rnn.batch_first:
        raise ValueError("rnn_state_gradients unrolls a one-layer, one-direction, batch-first ElmanRNN")
    if not model.many_to_one:
        raise ValueError("rnn_state_gradients expects a many-to-one ElmanRNN (one output per sequence)")
    activation = Tensor.tanh if rnn.nonlinearity == "tanh" else Tensor.relu
    h = _creation.zeros(x.shape[0], rnn.hidden_size, dtype=x.dtype)
    states = []
    for t in range(x.shape[1]):
        h = activation(x[:, t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T + rnn.bias_hh_l0)
        h.retain_grad()
        states.append(h)
    value = (loss or nn.MSELoss())(model.fc(h), target)
    model.zero_grad()
    value.backward()
    return np.array([float(np.sqrt(np.sum(s.grad.numpy().astype(np.float64) ** 2))) for s in states])


def rnn_gradient_curves(scales: Sequence[float] = (1.0, 2.0, 4.0), steps: int = 40, hidden_size: int = 32,
                        nonlinearity: str = "tanh", batch: int = 64, seed: int = 0) -> "OrderedDict[str, np.ndarray]":
    """``rnn_state_gradients`` of untrained ``ElmanRNN`` sine-wave predictors (windows of ``steps``
    values) whose recurrent weights W_hh are PyTorch's default multiplied by each of ``scales``:
    the gradient flowing back through time is multiplied by W_hh and the activation's derivative at
    every step, so small recurrent weights make it vanish and large ones make it explode.
    Returns ``{"tanh, W_hh x scale": (steps,) norms}``.
    """
    from shenjing.autograd.grad_mode import no_grad
    from shenjing.recipes import sine_windows

    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    x, y = sine_windows(batch, steps=steps, seed=seed)
    curves: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for scale in scales:
        _random.manual_seed(seed)
        model = ElmanRNN(hidden_size=hidden_size, nonlinearity=nonlinearity)
        with no_grad():
            model.rnn.weight_hh_l0.mul_(scale)
        default = " (PyTorch's default)" if scale == 1 else ""
        curves[f"{nonlinearity}, W_hh x {scale:g}{default}"] = rnn_state_gradients(model, x, y)
    return curves


def plot_rnn_gradients(curves: Mapping[str, np.ndarray], path: str | os.PathLike | None = None, *,
                       title: str = "Elman RNN: how much gradient reaches each time step") -> Any:
    """``||dL/dh_t||`` against the time step t (log scale), one line per network; the loss is
    computed from the last step, so the gradient starts there and fades (or grows) going back in
    time. Returns the Figure; saves it when ``path``.

    >>> import shenjing
    >>> curve = rnn_state_gradients(ElmanRNN(hidden_size=8), shenjing.randn(4, 10, 1), shenjing.randn(4, 1))
    >>> figure = plot_rnn_gradients({"tanh": curve})
    """
    figure = new_figure(6.4, 4.0, what="plotting RNN gradients")
    axes = figure.subplots()
    for index, (name, curve) in enumerate(curves.items()):
        steps = np.arange(1, len(curve) + 1)
        axes.plot(steps, curve, marker="o", markersize=3, color=PALETTE[index % len(PALETTE)], label=name)
    axes.set_yscale("log")
    axes.set_xlabel("time step t (the loss reads the last step)")
    axes.set_ylabel("‖∂L/∂h_t‖ (log scale)")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=8)
    save_figure(figure, path)
    return figure
