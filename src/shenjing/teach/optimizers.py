"""Optimisers and regularisation as pictures (the optimisation and regularisation lectures of seed 002).

*Optimiser paths*: put the two numbers (x, y) into one parameter, let a loss surface f(x, y) be the
loss, and run an optimiser from ``shenjing.optim`` on it; the points it visits are its path.
Plain SGD follows the steepest slope and zig-zags across a narrow valley; momentum remembers the
previous steps and rolls through; RMSprop and Adam divide each coordinate's step by the size of its
recent gradients, so flat directions get steps as large as steep ones (which is how they leave a
saddle point quickly). ``SURFACES`` holds three classic surfaces: Rosenbrock's banana valley, a
saddle, and an elongated bowl.

*Regularisation*: L2 (``sum w^2``) pulls every weight towards zero in proportion to its size, so
weights get small but stay non-zero; L1 (``sum |w|``) pulls every weight by the same amount, so the
weights of features that do not help are driven to zero: a sparse model. ``regularization_experiment``
fits one linear model three times (no penalty, L2, L1) to data where only a few features matter.

>>> path = optimizer_path("bowl", "sgd", steps=3)
>>> path.shape
(4, 2)
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from shenjing import _creation
from shenjing._dtype import float64
from shenjing.nn.parameter import Parameter
from shenjing.teach._plotting import PALETTE, new_figure, save_figure

__all__ = ["Surface", "SURFACES", "OPTIMIZERS", "make_optimizer", "optimizer_path", "optimizer_paths",
           "plot_optimizer_paths", "RegularizationResult", "regularization_experiment", "plot_regularization"]


@dataclass(frozen=True)
class Surface:
    """A 2-D loss surface: ``function(x, y)`` written with arithmetic operators only, so that it
    works on NumPy arrays (to draw contours) and on tensors (for autograd); where to start; the
    region to draw; where its minimum is (``None`` when it has none); and the learning rates and
    number of steps that give each optimiser an instructive path."""

    name: str
    formula: str
    function: Callable[[Any, Any], Any]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minimum: tuple[float, float] | None
    settings: Mapping[str, Mapping[str, float]]
    steps: int
    log_levels: bool = False

    def __call__(self, x: Any, y: Any) -> Any:
        return self.function(x, y)


SURFACES: "OrderedDict[str, Surface]" = OrderedDict([
    ("rosenbrock", Surface(
        "rosenbrock", "f(x, y) = (1 − x)² + 100 (y − x²)²", lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2,
        start=(-1.2, 1.0), xlim=(-2.0, 2.0), ylim=(-1.0, 3.0), minimum=(1.0, 1.0),
        settings={"sgd": {"lr": 1.5e-3}, "momentum": {"lr": 1.5e-3, "momentum": 0.9},
                  "rmsprop": {"lr": 1e-2}, "adam": {"lr": 5e-2}},
        steps=600, log_levels=True)),
    ("saddle", Surface(
        "saddle", "f(x, y) = x² − y²", lambda x, y: x * x - y * y,
        start=(-1.5, 1e-3), xlim=(-2.0, 2.0), ylim=(-2.0, 2.0), minimum=None,
        settings={"sgd": {"lr": 0.05}, "momentum": {"lr": 0.02, "momentum": 0.9},
                  "rmsprop": {"lr": 0.05}, "adam": {"lr": 0.05}},
        steps=50)),
    ("bowl", Surface(
        "bowl", "f(x, y) = 0.1 x² + 2 y²", lambda x, y: 0.1 * x * x + 2 * y * y,
        start=(-5.0, -2.0), xlim=(-6.0, 2.0), ylim=(-3.0, 3.0), minimum=(0.0, 0.0),
        settings={"sgd": {"lr": 0.4}, "momentum": {"lr": 0.1, "momentum": 0.8},
                  "rmsprop": {"lr": 0.3}, "adam": {"lr": 0.6}},
        steps=40)),
])

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
"""The optimisers drawn: SGD, SGD with momentum, RMSprop and Adam, all from ``shenjing.optim``."""

_LABELS = {"sgd": "SGD", "momentum": "SGD + momentum", "rmsprop": "RMSprop", "adam": "Adam"}


def _surface(surface: str | Surface) -> Surface:
    if isinstance(surface, Surface):
        return surface
    if surface not in SURFACES:
        raise ValueError(f"unknown surface '{surface}'; expected one of {', '.join(SURFACES)}")
    return SURFACES[surface]


def make_optimizer(name: str, params: Any, **settings: float) -> Any:
    """The optimiser called ``name`` (one of ``OPTIMIZERS``) from ``shenjing.optim`` over ``params``;
    ``momentum`` is ``SGD`` with ``momentum=0.9`` unless ``settings`` say otherwise."""
    from shenjing.optim import SGD, Adam, RMSprop

    if name == "sgd":
        return SGD(params, **settings)
    if name == "momentum":
        return SGD(params, **{"momentum": 0.9, **settings})
    if name == "rmsprop":
        return RMSprop(params, **settings)
    if name == "adam":
        return Adam(params, **settings)
    raise ValueError(f"unknown optimizer '{name}'; expected one of {', '.join(OPTIMIZERS)}")


def optimizer_path(surface: str | Surface, optimizer: str, steps: int | None = None,
                   start: tuple[float, float] | None = None, **settings: float) -> np.ndarray:
    """The points an optimiser visits on a surface: (steps + 1, 2), the start first.

    The point is one float64 parameter p = (x, y); each step computes f(p), backpropagates and
    calls ``optimizer.step()``. ``settings`` (``lr``, ``momentum``, ``betas``, ...) override the
    surface's defaults for that optimiser.

    >>> path = optimizer_path("bowl", "sgd", steps=1, lr=0.25)   # gradient (0.2 x, 4 y) at (-5, -2)
    >>> path[1].tolist()
    [-4.75, 0.0]
    """
    chosen = _surface(surface)
    steps = chosen.steps if steps is None else steps
    point = Parameter(_creation.tensor(list(start or chosen.start), dtype=float64))
    options = {**chosen.settings.get(optimizer, {}), **settings}
    opt = make_optimizer(optimizer, [point], **options)
    path = [point.detach().numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        chosen(point[0], point[1]).backward()
        opt.step()
        path.append(point.detach().numpy().copy())
    return np.array(path, np.float64)


def optimizer_paths(surface: str | Surface, optimizers: tuple[str, ...] = OPTIMIZERS,
                    steps: int | None = None) -> "OrderedDict[str, np.ndarray]":
    """``optimizer_path`` of each optimiser on one surface with the surface's settings."""
    return OrderedDict((name, optimizer_path(surface, name, steps)) for name in optimizers)


def plot_optimizer_paths(surface: str | Surface, paths: Mapping[str, np.ndarray] | None = None,
                         path: str | os.PathLike | None = None, *, title: str | None = None) -> Any:
    """One panel per optimiser: the surface's contour lines with the optimiser's path drawn on
    them (a dot per step), the start (black square) and the minimum (red star), titled with the
    loss where the path ends. Returns the Figure; saves it when ``path``.

    >>> figure = plot_optimizer_paths("saddle", optimizer_paths("saddle", steps=10))
    """
    chosen = _surface(surface)
    paths = optimizer_paths(chosen) if paths is None else paths
    columns = 2 if len(paths) > 1 else 1
    rows = -(-len(paths) // columns)
    figure = new_figure(4.6 * columns + 0.8, 4.0 * rows + 0.5, what="plotting optimiser paths")
    grid = figure.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    xs = np.linspace(*chosen.xlim, 200)
    ys = np.linspace(*chosen.ylim, 200)
    grid_x, grid_y = np.meshgrid(xs, ys)
    values = chosen(grid_x, grid_y)
    if chosen.log_levels:  # Rosenbrock's valley floor is flat and its walls steep: draw log10 f
        shown, label = np.log10(values + 1e-3), "log₁₀ f(x, y)"
    else:
        shown, label = values, "f(x, y)"
    filled = None
    for index, axes in enumerate(grid.flat):
        if index >= len(paths):
            axes.axis("off")
            continue
        name, points = list(paths.items())[index]
        filled = axes.contourf(grid_x, grid_y, shown, levels=20, cmap="Greys", alpha=0.5)
        axes.contour(grid_x, grid_y, shown, levels=20, colors="#999999", linewidths=0.4)
        axes.plot(points[:, 0], points[:, 1], color=PALETTE[index % len(PALETTE)], marker="o", markersize=2.2,
                  linewidth=1.4)
        axes.plot(*chosen.start, marker="s", color="black", markersize=7, linestyle="none")
        if chosen.minimum is not None:
            axes.plot(*chosen.minimum, marker="*", color="#C00000", markersize=14, linestyle="none")
        settings = ", ".join(f"{k} {v:g}" for k, v in chosen.settings.get(name, {}).items())
        final = chosen(points[-1, 0], points[-1, 1])
        axes.set_title(f"{_LABELS.get(name, name)} ({settings})\nf = {final:.2g} after {len(points) - 1} steps",
                       fontsize=9.5, color=PALETTE[index % len(PALETTE)])
        axes.set_xlim(*chosen.xlim)
        axes.set_ylim(*chosen.ylim)
        if index % columns == 0:
            axes.set_ylabel("y")
        if index // columns == rows - 1:
            axes.set_xlabel("x")
    if filled is not None:
        figure.colorbar(filled, ax=grid, label=label, shrink=0.6)
    extra = " (black square: start, red star: minimum)" if chosen.minimum is not None else " (black square: start)"
    figure.suptitle((title or f"{chosen.name}: {chosen.formula}") + extra, fontsize=11)
    save_figure(figure, path)
    return figure


# -- L1 versus L2 ----------------------------------------------------------------------------------

@dataclass
class RegularizationResult:
    """What ``regularization_experiment`` fitted: the true weights and the weights learned with
    each penalty (``"none"``, ``"L2"``, ``"L1"``), and the penalty strengths."""

    true_weights: np.ndarray
    weights: "OrderedDict[str, np.ndarray]"
    strengths: dict[str, float]
    x: np.ndarray
    y: np.ndarray

    def near_zero(self, name: str, tolerance: float = 1e-2) -> int:
        """How many of the weights learned with penalty ``name`` are within ``tolerance`` of zero."""
        return int(np.sum(np.abs(self.weights[name]) < tolerance))


def regularization_experiment(features: int = 20, informative: int = 4, samples: int = 30, l1: float = 0.1,
                              l2: float = 0.1, steps: int = 2000, lr: float = 0.05, noise: float = 0.5,
                              seed: int = 0) -> RegularizationResult:
    """Fit y = X w (no bias) by full-batch gradient descent (``SGD``, ``lr``, ``steps``) three times:
    minimising ``mean((X w - y)^2)``, then that plus ``l2 * l2_penalty(w)``, then plus
    ``l1 * l1_penalty(w)`` (``shenjing.nn.utils``). The data: ``samples`` rows of ``features``
    standard-normal inputs, of which only the first ``informative`` enter the true w, plus
    Gaussian noise of std ``noise``.

    >>> result = regularization_experiment(steps=300)
    >>> result.near_zero("L1") > result.near_zero("L2")
    True
    """
    from shenjing.nn.utils import l1_penalty, l2_penalty
    from shenjing.optim import SGD

    if not 0 < informative <= features:
        raise ValueError(f"need 0 < informative <= features, got {informative} and {features}")
    if samples < 1 or steps < 1:
        raise ValueError(f"samples and steps must be positive, got {samples} and {steps}")
    rng = np.random.default_rng(seed)
    true_weights = np.zeros(features)
    true_weights[:informative] = rng.choice([-1.0, 1.0], informative) * rng.uniform(1.0, 3.0, informative)
    x = rng.normal(size=(samples, features))
    y = x @ true_weights + rng.normal(0.0, noise, samples)
    inputs, targets = _creation.tensor(x, dtype=float64), _creation.tensor(y, dtype=float64)
    penalties: dict[str, Callable[[Any], Any]] = {"none": lambda w: 0.0, "L2": lambda w: l2 * l2_penalty(w),
                                                  "L1": lambda w: l1 * l1_penalty(w)}
    weights: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for name, penalty in penalties.items():
        w = Parameter(_creation.zeros(features, dtype=float64))
        opt = SGD([w], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            loss = ((inputs @ w - targets) ** 2).mean() + penalty(w)
            loss.backward()
            opt.step()
        weights[name] = w.detach().numpy().copy()
    return RegularizationResult(true_weights, weights, {"L1": l1, "L2": l2}, x, y)


def plot_regularization(result: RegularizationResult | None = None, path: str | os.PathLike | None = None, *,
                        tolerance: float = 1e-2) -> Any:
    """The weights learned without a penalty, with L2 and with L1: one bar per weight (the true
    weights as black outlines), and beside them a zoom on the weights of the features that do not
    matter, with the band within ``tolerance`` of zero shaded: L1 puts them in the band (sparsity),
    L2 only makes them small. Returns the Figure; saves it when ``path``.

    >>> figure = plot_regularization(regularization_experiment(steps=200))
    """
    result = result or regularization_experiment()
    names = list(result.weights)
    figure = new_figure(10.5, 2.3 * len(names) + 0.8, what="plotting regularisation")
    grid = figure.subplots(len(names), 2, width_ratios=[1.6, 1], squeeze=False)
    positions = np.arange(len(result.true_weights))
    unused = result.true_weights == 0
    limit = 1.1 * max(np.abs(result.true_weights).max(), *(np.abs(w).max() for w in result.weights.values()))
    zoom = 1.2 * max(tolerance, *(np.abs(w[unused]).max() for w in result.weights.values() if unused.any()))
    for row, name in enumerate(names):
        weights = result.weights[name]
        colour = PALETTE[row % len(PALETTE)]
        strength = f", λ = {result.strengths[name]:g}" if name in result.strengths else ""
        bars, close = grid[row]
        bars.bar(positions, weights, color=colour, width=0.7, label="learned weight")
        bars.bar(positions, result.true_weights, fill=False, edgecolor="black", width=0.7, linewidth=0.8,
                 label="true weight")
        bars.axhline(0, color="black", linewidth=0.6)
        bars.set_ylim(-limit, limit)
        bars.set_xticks(positions)
        bars.tick_params(axis="x", labelsize=7)
        bars.set_ylabel("weight")
        penalty = {"none": "no penalty", "L2": "L2 penalty λ Σ w²", "L1": "L1 penalty λ Σ |w|"}.get(name, name)
        bars.set_title(f"{penalty}{strength}: {result.near_zero(name, tolerance)} of {len(weights)} weights "
                       f"within {tolerance:g} of 0", fontsize=9.5)
        bars.grid(alpha=0.3, axis="y")
        close.axhspan(-tolerance, tolerance, color="#BBBBBB", alpha=0.5, label=f"within {tolerance:g} of 0")
        close.bar(positions[unused], weights[unused], color=colour, width=0.7)
        close.axhline(0, color="black", linewidth=0.6)
        close.set_ylim(-zoom, zoom)
        close.set_xticks(positions[unused])
        close.tick_params(axis="x", labelsize=7)
        close.set_title(f"zoom: the {int(unused.sum())} weights that should be 0", fontsize=9)
        if row == 0:
            bars.legend(fontsize=7.5, loc="upper right")
            close.legend(fontsize=7.5, loc="upper right")
    grid[-1, 0].set_xlabel("feature (only the first ones matter)")
    grid[-1, 1].set_xlabel("feature")
    figure.suptitle("Regularisation: the same linear model fitted three times", fontsize=11)
    save_figure(figure, path)
    return figure
