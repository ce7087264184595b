"""Decision boundaries: where a 2-D classifier draws the line between classes, and how the line
moves while it learns.

A classifier with two inputs divides the plane into regions, one per class; the *decision boundary*
is where the regions meet. A perceptron or a linear SVM can only draw a straight line (seed 004: AND
and OR yes, XOR no); a multi-layer perceptron bends it (the XOR network, moons, circles, spirals).

``decision_grid`` evaluates any model on a grid of points; ``plot_boundary`` draws the regions with
the data; ``train_boundary`` trains one of the course's 2-D classifiers while recording the grid
every few epochs, and ``animate_boundary`` turns the recording into an animated GIF.

>>> from shenjing.data import logic_gate
>>> from shenjing.models import XorNet
>>> x, y = logic_gate("xor")
>>> xs, ys, labels = decision_grid(XorNet(), x, resolution=5)
>>> labels.shape
(5, 5)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from shenjing import _creation, _random
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.models import MLP, Perceptron, XorNet
from shenjing.nn.modules.linear import Linear
from shenjing.nn.modules.module import Module
from shenjing.teach._plotting import PALETTE, figure_to_image, new_figure, save_figure

__all__ = ["DATASETS", "MODELS", "load_2d_data", "xor_points", "predict_classes", "decision_grid", "BoundaryRun",
           "train_boundary", "plot_boundary", "animate_boundary"]

MODELS = ("perceptron", "svm", "mlp", "xor")
"""The classifiers ``train_boundary`` knows: the perceptron rule, a linear SVM (hinge loss), an MLP,
and seed 004's XOR network (2 -> hidden ReLU -> 1)."""

DATASETS = ("moons", "circles", "spirals", "xor", "blobs", "and", "or", "watermelon")


# -- data ------------------------------------------------------------------------------------------

def xor_points(n: int = 200, noise: float = 0.15, seed: int = 0) -> tuple[Tensor, Tensor]:
    """XOR as point clouds: ``n`` points scattered (Gaussian, std ``noise``) around the four corners
    (0,0), (0,1), (1,0), (1,1) of the truth table, labelled x1 XOR x2. Inputs (n, 2), labels (n,) int64.

    >>> x, y = xor_points(8, noise=0.0)
    >>> y.tolist()
    [0, 1, 1, 0, 0, 1, 1, 0]
    """
    rng = np.random.default_rng(seed)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
    which = np.arange(n) % 4
    points = corners[which] + rng.normal(0.0, noise, (n, 2))
    labels = (corners[which, 0] != corners[which, 1]).astype(np.int64)
    return _creation.tensor(points.astype(np.float32)), _creation.tensor(labels)


def load_2d_data(name: str, n: int = 200, seed: int = 0) -> tuple[Tensor, Tensor]:
    """One of ``DATASETS`` as (inputs (n, 2) float32, labels (n,) int64).

    ``and``/``or`` are the four rows of the truth table; ``watermelon`` is the 17 melons
    (density, sugar) of the watermelon data set 3.0α; the others are generated with ``seed``.
    """
    from shenjing import data

    key = name.lower()
    if key == "moons":
        return data.make_moons(n, noise=0.15, seed=seed)
    if key == "circles":
        return data.make_circles(n, noise=0.08, factor=0.5, seed=seed)
    if key == "spirals":
        return data.make_spirals(n, classes=2, noise=0.15, seed=seed)
    if key == "xor":
        return xor_points(n, seed=seed)
    if key == "blobs":
        return data.make_blobs(n, centers=3, std=0.6, seed=seed)
    if key in ("and", "or"):
        x, y = data.logic_gate(key)
        return x, y.long()
    if key == "watermelon":
        x, y = data.watermelon()
        return x, y.long()
    raise ValueError(f"unknown data set '{name}'; expected one of {', '.join(DATASETS)}")


# -- predictions on a grid -------------------------------------------------------------------------

def predict_classes(model: Module | Callable[[Tensor], Tensor], points: Tensor) -> np.ndarray:
    """Class labels (M,) int64 for points (M, 2), from the model's outputs without gradients:
    the arg-max for several outputs per point; ``output > 0`` for one output (a score, a logit,
    or the perceptron's 0/1).

    >>> import shenjing
    >>> from shenjing.models import XorNet
    >>> predict_classes(XorNet(), shenjing.tensor([[0.0, 0.0], [0.0, 1.0]])).tolist()
    [0, 1]
    """
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.eval()
    try:
        with no_grad():
            outputs = model(points).numpy()
    finally:
        if was_training is not None:
            model.train(was_training)
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        return outputs.argmax(1).astype(np.int64)
    return (outputs.reshape(len(points)) > 0).astype(np.int64)


def _extent(x: Tensor, margin: float | None = None) -> tuple[float, float, float, float]:
    points = x.detach().numpy()
    if margin is None:  # a truth table's four corners need more room around them than a cloud of points
        margin = 0.4 if len(points) <= 20 else 0.15
    low, high = points.min(0), points.max(0)
    pad = margin * np.maximum(high - low, 1e-6)
    return float(low[0] - pad[0]), float(high[0] + pad[0]), float(low[1] - pad[1]), float(high[1] + pad[1])


def decision_grid(model: Module | Callable[[Tensor], Tensor], x: Tensor, resolution: int = 200,
                  margin: float | None = None, extent: tuple[float, float, float, float] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's class at every point of a ``resolution`` x ``resolution`` grid covering the data
    ``x`` (N, 2) plus ``margin`` of its range on each side (default 0.15, or 0.4 for 20 points or
    fewer) or ``extent`` = (x_min, x_max, y_min, y_max).

    Returns ``(xs, ys, labels)``: the grid's coordinates along each axis, (R,) and (R,), and the
    classes (R, R), ``labels[i, j]`` being the class of the point ``(xs[j], ys[i])``.
    """
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"decision boundaries are drawn for 2-D inputs (N, 2), got shape {list(x.shape)}")
    x_min, x_max, y_min, y_max = extent if extent is not None else _extent(x, margin)
    xs = np.linspace(x_min, x_max, resolution)
    ys = np.linspace(y_min, y_max, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = _creation.tensor(np.stack([grid_x.ravel(), grid_y.ravel()], 1).astype(np.float32))
    return xs, ys, predict_classes(model, points).reshape(resolution, resolution)


# -- training while recording ----------------------------------------------------------------------

@dataclass
class BoundaryRun:
    """A classifier trained by ``train_boundary``, with its decision grid recorded over training.

    ``epochs[k]`` is the epoch after which ``grids[k]`` was recorded (0: before training);
    ``losses`` has one value per epoch (the perceptron's: its mistakes in that epoch).
    """

    kind: str
    model: Module
    x: Tensor
    y: Tensor
    extent: tuple[float, float, float, float]
    resolution: int
    epochs: list[int] = field(default_factory=list)
    grids: list[np.ndarray] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    data_name: str = ""

    @property
    def accuracy(self) -> float:
        """Training accuracy of the final model."""
        return float((predict_classes(self.model, self.x) == self.y.numpy()).mean())

    def grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``decision_grid`` of the final model on this run's extent and resolution."""
        return decision_grid(self.model, self.x, self.resolution, extent=self.extent)


def _build(kind: str, classes: int, hidden: int, activation: str, depth: int) -> Module:
    if kind == "perceptron":
        return Perceptron(2)
    if kind == "svm":
        return Linear(2, classes)
    if kind == "mlp":
        return MLP([2] + [hidden] * depth + [classes], activation=activation)
    if kind == "xor":
        return XorNet(pretrained=False, hidden=hidden)
    raise ValueError(f"unknown model '{kind}'; expected one of {', '.join(MODELS)}")


def _loss_function(kind: str, model: Module, regularization: float) -> Callable[[Tensor, Tensor], Tensor]:
    from shenjing import nn
    from shenjing.nn.utils import l2_penalty

    if kind == "svm":
        hinge = nn.MultiMarginLoss()
        return lambda out, y: hinge(out, y) + regularization * l2_penalty(model.weight)
    if kind == "xor":
        bce = nn.BCEWithLogitsLoss()
        return lambda out, y: bce(out, y.float())
    cross_entropy = nn.CrossEntropyLoss()
    return lambda out, y: cross_entropy(out, y)


def train_boundary(kind: str, x: Tensor, y: Tensor, epochs: int = 200, record_every: int = 5, lr: float | None = None,
                   hidden: int = 16, depth: int = 2, activation: str = "tanh", batch_size: int = 32,
                   regularization: float = 1e-3, resolution: int = 150, seed: int = 0,
                   data_name: str = "") -> BoundaryRun:
    """Train a 2-D classifier on (``x``, ``y``) and record its decision grid after epoch 0 (before
    training), every ``record_every`` epochs, and the last epoch.

    ``kind``: ``perceptron`` (the perceptron rule, one pass over the samples per epoch),
    ``svm`` (a linear layer with the multiclass hinge loss ``MultiMarginLoss`` plus
    ``regularization`` x L2 penalty, SGD), ``mlp`` (``depth`` hidden layers of ``hidden`` units with
    ``activation``, cross-entropy, Adam) or ``xor`` (seed 004's 2 -> ``hidden`` ReLU -> 1 network from a
    random start, binary cross-entropy, Adam). Mini-batches of ``batch_size``, shuffled with ``seed``.

    >>> run = train_boundary("perceptron", *load_2d_data("and"), epochs=10)
    >>> run.accuracy
    1.0
    """
    from shenjing.optim import SGD, Adam

    labels = y.long()
    classes = int(labels.max().item()) + 1
    if kind in ("perceptron", "xor") and classes > 2:
        raise ValueError(f"the {kind} separates two classes; this data has {classes}")
    if record_every <= 0 or epochs < 0:
        raise ValueError(f"need epochs >= 0 and record_every > 0, got {epochs} and {record_every}")
    _random.manual_seed(seed)
    model = _build(kind, classes, hidden, activation, depth)
    run = BoundaryRun(kind, model, x, labels, _extent(x), resolution, data_name=data_name)

    def record(epoch: int) -> None:
        run.epochs.append(epoch)
        run.grids.append(decision_grid(model, x, resolution, extent=run.extent)[2])
        run.accuracies.append(float((predict_classes(model, x) == labels.numpy()).mean()))

    record(0)
    if kind == "perceptron":
        targets = labels.float()
        for epoch in range(1, epochs + 1):
            history = model.fit(x, targets, lr=lr or 1.0, epochs=1)
            run.losses.append(float(history.mistakes[0]))
            if epoch % record_every == 0 or epoch == epochs or history.converged:
                record(epoch)
            if history.converged:  # an epoch without mistakes: the rule changes nothing any more
                break
        return run

    loss_function = _loss_function(kind, model, regularization)
    if kind == "svm":
        optimizer: Any = SGD(model.parameters(), lr=lr or 0.1)
    else:
        optimizer = Adam(model.parameters(), lr=lr or 0.02)
    rng = np.random.default_rng(seed)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(order), batch_size):
            index = _creation.tensor(order[start:start + batch_size])
            loss = loss_function(model(x[index]), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.item()) * len(index)
        run.losses.append(total / len(order))
        if epoch % record_every == 0 or epoch == epochs:
            record(epoch)
    return run


# -- pictures --------------------------------------------------------------------------------------

def _light(colour: str, amount: float = 0.72) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    red, green, blue = to_rgb(colour)
    return (red + (1 - red) * amount, green + (1 - green) * amount, blue + (1 - blue) * amount)


def _draw(axes: Any, xs: np.ndarray, ys: np.ndarray, labels: np.ndarray, x: Tensor, y: Tensor, title: str) -> None:
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D

    points, classes = x.detach().numpy(), y.detach().numpy().astype(np.int64)
    count = int(max(classes.max(), labels.max())) + 1
    colours = [PALETTE[c % len(PALETTE)] for c in range(count)]
    axes.pcolormesh(xs, ys, labels, cmap=ListedColormap([_light(c) for c in colours]), vmin=-0.5,
                    vmax=count - 0.5, shading="nearest", rasterized=True)
    if labels.min() != labels.max():
        axes.contour(xs, ys, labels, levels=np.arange(count - 1) + 0.5, colors="#222222", linewidths=1.4)
    for c in range(count):
        chosen = classes == c
        axes.scatter(points[chosen, 0], points[chosen, 1], s=22 if len(points) > 50 else 70, c=colours[c],
                     edgecolors="white", linewidths=0.6, label=f"class {c}", zorder=3)
    handles, names = axes.get_legend_handles_labels()
    handles.append(Line2D([], [], color="#222222", linewidth=1.4))
    names.append("decision boundary")
    axes.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=len(names), fontsize=7,
                frameon=False, handletextpad=0.3, columnspacing=1.0)
    axes.set_xlim(xs[0], xs[-1])
    axes.set_ylim(ys[0], ys[-1])
    axes.set_xlabel("$x_1$")
    axes.set_ylabel("$x_2$")
    axes.set_title(title, fontsize=10)


def plot_boundary(model: Module | BoundaryRun, x: Tensor | None = None, y: Tensor | None = None,
                  path: str | os.PathLike | None = None, *, title: str | None = None, resolution: int = 200) -> Any:
    """The model's class regions (light colours), its decision boundary (dark line) and the data.

    ``model`` is any classifier of 2-D points (with ``x`` (N, 2) and labels ``y`` (N,)), or a
    ``BoundaryRun``, whose model and data are used. Returns the Figure; saves it when ``path``.

    >>> from shenjing.models import XorNet
    >>> x, y = load_2d_data("xor")
    >>> figure = plot_boundary(XorNet(), x, y, title="seed 004's XOR network")
    """
    if isinstance(model, BoundaryRun):
        run = model
        xs, ys, labels = run.grid()
        x, y = run.x, run.y
        title = title or f"{run.kind} on {run.data_name or 'the data'}: {len(run.losses)} epochs, " \
                         f"training accuracy {run.accuracy:.1%}"
    else:
        if x is None or y is None:
            raise ValueError("plot_boundary needs the data x and y with a model")
        xs, ys, labels = decision_grid(model, x, resolution)
        accuracy = float((predict_classes(model, x) == y.numpy()).mean())
        title = title or f"{type(model).__name__}: training accuracy {accuracy:.1%}"
    figure = new_figure(5.2, 4.9, what="plotting a decision boundary")
    _draw(figure.subplots(), xs, ys, labels, x, y, title)
    save_figure(figure, path)
    return figure


def animate_boundary(run: BoundaryRun, path: str | os.PathLike, *, frame_ms: int = 150, last_frame_ms: int = 1500,
                     size: float = 4.0, dpi: int = 72) -> int:
    """Write the recorded grids of ``run`` as an animated GIF at ``path``: one frame per recorded
    epoch, titled with the epoch, the loss and the accuracy. Returns the number of frames.

    >>> import os, tempfile
    >>> run = train_boundary("svm", *load_2d_data("blobs"), epochs=4, record_every=2)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     animate_boundary(run, os.path.join(folder, "svm.gif"))
    3
    """
    if not run.grids:
        raise ValueError("this run recorded no epochs")
    xs = np.linspace(run.extent[0], run.extent[1], run.resolution)
    ys = np.linspace(run.extent[2], run.extent[3], run.resolution)
    loss_name = "mistakes" if run.kind == "perceptron" else "loss"
    frames = []
    for epoch, grid, accuracy in zip(run.epochs, run.grids, run.accuracies):
        figure = new_figure(size * 1.1, size * 1.05, what="animating a decision boundary", dpi=dpi)
        loss = f", {loss_name} {run.losses[epoch - 1]:.3g}" if epoch > 0 else " (untrained)"
        title = f"{run.kind}, epoch {epoch}{loss}, accuracy {accuracy:.1%}"
        _draw(figure.subplots(), xs, ys, grid, run.x, run.y, title)
        frames.append(figure_to_image(figure).quantize(colors=64))
    durations = [frame_ms] * (len(frames) - 1) + [last_frame_ms]
    frames[0].save(os.fspath(path), save_all=True, append_images=frames[1:], duration=durations, loop=0,
                   optimize=True)
    return len(frames)
