"""Feature maps and filters: what a convolution layer sees in an image, and the kernels it learned.

A convolution layer slides each of its kernels over the image; at every position it multiplies the
kernel with the pixels under it and adds the products up. The result for one kernel is one *feature
map*: large where the image looks like the kernel. ``feature_maps`` catches a layer's output with a
forward hook while the whole model runs, so it works for any conv layer of any model.

Seed 003 does this by hand for the letter X: three 3x3 kernels (a diagonal, a cross, an
anti-diagonal) slide over a 9x9 image of +1 ink on -1 paper; each feature-map value is the *mean* of
the nine products (the sum divided by 9), so a perfect match gives 1.00. ``xo_feature_maps()``
reproduces the notes' tables; ``plot_xo_demo`` draws them.

>>> maps = xo_feature_maps()
>>> tuple(maps.shape)
(3, 7, 7)
>>> notes_rounding(maps[0, 0, :4]).tolist()     # first row of the diagonal kernel's map in the notes
[0.77, -0.11, 0.11, 0.33]
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from shenjing import _creation
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.nn.modules.container import Sequential
from shenjing.nn.modules.conv import Conv2d
from shenjing.nn.modules.module import Module
from shenjing.teach._plotting import new_figure, save_figure

__all__ = ["XO_IMAGE", "XO_KERNELS", "conv_layer_names", "capture_outputs", "feature_maps", "layer_kernels",
           "xo_demo_model", "xo_feature_maps", "notes_rounding", "plot_feature_maps", "plot_kernels",
           "plot_layer", "plot_xo_demo"]


def _x_image() -> np.ndarray:
    image = -np.ones((9, 9), np.float32)
    for i in range(1, 8):
        image[i, i] = image[i, 8 - i] = 1.0
    return image


XO_IMAGE: np.ndarray = _x_image()
"""Seed 003's letter X: 9x9 pixels, +1 on the two diagonals (rows and columns 1 to 7), -1 elsewhere."""

XO_KERNELS: "OrderedDict[str, np.ndarray]" = OrderedDict([
    ("diagonal", np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]], np.float32)),
    ("cross", np.array([[1, -1, 1], [-1, 1, -1], [1, -1, 1]], np.float32)),
    ("anti-diagonal", np.array([[-1, -1, 1], [-1, 1, -1], [1, -1, -1]], np.float32)),
])
"""Seed 003's three features (卷积核), in the notes' order: each picks out one local piece of an X."""


# -- catching a layer's output ---------------------------------------------------------------------

def conv_layer_names(model: Module) -> list[str]:
    """The names (as in ``named_modules``) of the model's ``Conv2d`` layers, in order.

    >>> from shenjing.models import LeNet5
    >>> conv_layer_names(LeNet5())
    ['conv1', 'conv2']
    """
    return [name for name, module in model.named_modules() if isinstance(module, Conv2d)]


def _named_layer(model: Module, layer: str) -> Module:
    modules = dict(model.named_modules())
    if layer not in modules or layer == "":
        known = ", ".join(name for name in modules if name) or "none"
        raise ValueError(f"{type(model).__name__} has no layer '{layer}'; its layers: {known}")
    return modules[layer]


def capture_outputs(model: Module, inputs: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
    """Run ``model(inputs)`` once without gradients and return the outputs of the named layers,
    caught by forward hooks (removed again afterwards).

    >>> import shenjing
    >>> from shenjing.models import LeNet5
    >>> out = capture_outputs(LeNet5(), shenjing.zeros(1, 1, 28, 28), ["conv1", "pool2"])
    >>> {name: tuple(t.shape) for name, t in out.items()}
    {'conv1': (1, 6, 28, 28), 'pool2': (1, 16, 5, 5)}
    """
    caught: dict[str, Tensor] = {}
    handles = []

    def catcher(name: str) -> Any:
        def hook(module: Module, args: Any, output: Tensor) -> None:
            caught[name] = output.detach()
        return hook

    for name in layers:
        handles.append(_named_layer(model, name).register_forward_hook(catcher(name)))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(inputs)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return {name: caught[name] for name in layers}


def _batch_of_one(image: Tensor | np.ndarray) -> Tensor:
    image = image if isinstance(image, Tensor) else _creation.tensor(np.asarray(image, np.float32))
    if image.ndim == 2:
        return image.reshape(1, 1, *image.shape)
    if image.ndim == 3:
        return image.unsqueeze(0)
    if image.ndim == 4 and image.shape[0] == 1:
        return image
    raise ValueError(f"expected one image (H, W), (C, H, W) or (1, C, H, W), got shape {list(image.shape)}")


def feature_maps(model: Module, image: Tensor | np.ndarray, layer: str) -> Tensor:
    """The feature maps that layer ``layer`` computes for one image: (C_out, OH, OW).

    ``image`` is (H, W), (C, H, W) or (1, C, H, W), prepared as the model expects (normalised).
    For a ``Conv2d`` these are its outputs before the activation that follows it.

    >>> import shenjing
    >>> from shenjing.models import LeNet5
    >>> tuple(feature_maps(LeNet5(), shenjing.zeros(1, 28, 28), "conv1").shape)
    (6, 28, 28)
    """
    return capture_outputs(model, _batch_of_one(image), [layer])[layer][0]


def layer_kernels(model: Module, layer: str) -> Tensor:
    """The kernels of conv layer ``layer``: its weight, (C_out, C_in / groups, KH, KW), detached."""
    module = _named_layer(model, layer)
    if not isinstance(module, Conv2d):
        raise ValueError(f"layer '{layer}' is a {type(module).__name__}, not a Conv2d; conv layers: "
                         f"{', '.join(conv_layer_names(model)) or 'none'}")
    return module.weight.detach()


# -- seed 003's X ----------------------------------------------------------------------------------

def xo_demo_model() -> Module:
    """Seed 003's feature detector as a layer: ``Conv2d(1, 3, 3, bias=False)`` named ``conv``
    whose kernels are the notes' three features divided by 9, so that each output is the mean of
    the nine products, as the notes compute it."""
    conv = Conv2d(1, len(XO_KERNELS), 3, bias=False)
    with no_grad():
        conv.weight.copy_(_creation.tensor(np.stack(list(XO_KERNELS.values()))[:, None] / 9.0))
    return Sequential(OrderedDict([("conv", conv)]))


def xo_feature_maps() -> Tensor:
    """The three 7x7 feature maps of seed 003's X: (3, 7, 7), kernels in the order of ``XO_KERNELS``."""
    return feature_maps(xo_demo_model(), XO_IMAGE, "conv")


def notes_rounding(values: Tensor | np.ndarray) -> np.ndarray:
    """Values cut to two decimals the way the notes print them: truncated towards zero
    (7/9 = 0.777... is printed 0.77), not rounded.

    >>> notes_rounding(np.array([7 / 9, -1 / 9, 1.0])).tolist()
    [0.77, -0.11, 1.0]
    """
    array = values.detach().numpy() if isinstance(values, Tensor) else np.asarray(values)
    return np.trunc(np.round(array.astype(np.float64) * 100, 6)) / 100


# -- pictures --------------------------------------------------------------------------------------

def _grid(count: int) -> tuple[int, int]:
    columns = math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


def _limit(values: np.ndarray) -> float:
    largest = float(np.abs(values).max()) if values.size else 1.0
    return largest if largest > 0 else 1.0


def _annotate(axes: Any, values: np.ndarray, limit: float, integers: bool = False) -> None:
    for (row, column), value in np.ndenumerate(values):
        colour = "white" if abs(value) > 0.6 * limit else "black"
        text = f"{value:+.0f}" if integers else f"{notes_rounding(np.array(value)):.2f}".replace("-0.00", "0.00")
        axes.text(column, row, text, ha="center", va="center", fontsize=6.5 if not integers else 8, color=colour)


def _show(axes: Any, array: np.ndarray, limit: float, title: str | None, annotate: bool,
          cmap: str = "RdBu_r") -> Any:
    image = axes.imshow(array, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])
    if title:
        axes.set_title(title, fontsize=8)
    if annotate:
        _annotate(axes, array, limit, integers=bool(np.all(array == np.round(array))))
    return image


def _draw_grid(figure: Any, arrays: Sequence[np.ndarray], titles: Sequence[str], rows: int, columns: int,
               heading: str, annotate: bool) -> None:
    """``arrays`` in a rows x columns grid on one colour scale (0 is white), with one colour bar."""
    limit = _limit(np.stack(arrays)) if arrays else 1.0
    axes_grid = figure.subplots(rows, columns, squeeze=False)
    image = None
    for index, axes in enumerate(axes_grid.flat):
        if index >= len(arrays):
            axes.axis("off")
            continue
        image = _show(axes, arrays[index], limit, titles[index], annotate)
    figure.suptitle(heading, fontsize=10)
    if image is not None:
        figure.colorbar(image, ax=axes_grid, shrink=0.8, aspect=30)


def _tiled(kernels: np.ndarray) -> np.ndarray:
    """(O, I, KH, KW) kernels as one (O*(KH+1)-1, I*(KW+1)-1) mosaic, NaN (drawn white) between them."""
    out_channels, in_channels, height, width = kernels.shape
    mosaic = np.full((out_channels * (height + 1) - 1, in_channels * (width + 1) - 1), np.nan)
    for o in range(out_channels):
        for i in range(in_channels):
            mosaic[o * (height + 1):o * (height + 1) + height, i * (width + 1):i * (width + 1) + width] = kernels[o, i]
    return mosaic


def _kernel_grid(figure: Any, kernels: np.ndarray, heading: str, names: Sequence[str] | None,
                 annotate: bool) -> None:
    out_channels, in_channels, height, width = kernels.shape
    if in_channels == 1:
        rows, columns = _grid(out_channels)
        titles = list(names) if names is not None else [f"kernel {c}" for c in range(out_channels)]
        _draw_grid(figure, [k[0] for k in kernels], titles, rows, columns, heading, annotate)
        return
    # many kernels (one per output and input channel): one mosaic, rows = outputs, columns = inputs
    from matplotlib import colormaps

    axes = figure.subplots()
    limit = _limit(kernels)
    cmap = colormaps["RdBu_r"].with_extremes(bad="white")
    image = axes.imshow(_tiled(kernels), cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    axes.set_xticks([i * (width + 1) + (width - 1) / 2 for i in range(in_channels)],
                    [f"in {i}" for i in range(in_channels)], fontsize=7)
    axes.set_yticks([o * (height + 1) + (height - 1) / 2 for o in range(out_channels)],
                    [f"out {o}" for o in range(out_channels)], fontsize=7)
    axes.tick_params(length=0)
    for side in axes.spines.values():
        side.set_visible(False)
    figure.suptitle(heading, fontsize=10)
    figure.colorbar(image, ax=axes, shrink=0.8, aspect=30)


def plot_kernels(weight: Tensor | np.ndarray, path: str | os.PathLike | None = None, *,
                 title: str = "kernels", names: Sequence[str] | None = None, annotate: bool = False) -> Any:
    """A grid of a conv layer's kernels, red for positive weights and blue for negative.

    ``weight`` is (C_out, C_in, KH, KW): one row per output channel and one column per input
    channel (a single grid when C_in is 1). Returns the matplotlib Figure; saves it when ``path``.

    >>> from shenjing.models import LeNet5
    >>> figure = plot_kernels(LeNet5().conv1.weight, title="LeNet-5 conv1 (untrained)")
    """
    kernels = weight.detach().numpy() if isinstance(weight, Tensor) else np.asarray(weight)
    if kernels.ndim != 4:
        raise ValueError(f"expected kernels (C_out, C_in, KH, KW), got shape {list(kernels.shape)}")
    out_channels, in_channels = kernels.shape[:2]
    if in_channels == 1:
        rows, columns = _grid(out_channels)
        size = (1.6 * columns + 1.0, 1.6 * rows + 0.6)
    else:
        size = (0.7 * in_channels + 1.6, 0.7 * out_channels + 0.6)
    figure = new_figure(*size, what="plotting kernels")
    _kernel_grid(figure, kernels, title, names, annotate)
    save_figure(figure, path)
    return figure


def plot_feature_maps(maps: Tensor | np.ndarray, path: str | os.PathLike | None = None, *,
                      title: str = "feature maps", names: Sequence[str] | None = None,
                      annotate: bool = False) -> Any:
    """A grid of feature maps (C, H, W), one panel per channel, on one shared colour scale.

    ``annotate`` writes each value in its cell (for small maps such as seed 003's 7x7).
    Returns the matplotlib Figure; saves it when ``path``.

    >>> figure = plot_feature_maps(xo_feature_maps(), annotate=True)
    """
    array = maps.detach().numpy() if isinstance(maps, Tensor) else np.asarray(maps)
    if array.ndim != 3:
        raise ValueError(f"expected feature maps (C, H, W), got shape {list(array.shape)}")
    rows, columns = _grid(array.shape[0])
    titles = list(names) if names is not None else [f"map {c}" for c in range(array.shape[0])]
    figure = new_figure(2.0 * columns + 1.0, 2.0 * rows + 0.6, what="plotting feature maps")
    _draw_grid(figure, list(array), titles, rows, columns, title, annotate)
    save_figure(figure, path)
    return figure


def _show_input(axes: Any, image: np.ndarray, title: str) -> None:
    shown = image[0] if image.ndim == 3 else image
    axes.imshow(shown, cmap="gray", interpolation="nearest")
    axes.set_title(f"{title}\n{shown.shape[0]}x{shown.shape[1]}", fontsize=9)
    axes.set_xticks([])
    axes.set_yticks([])


def _paired_figure(image: np.ndarray, kernels: np.ndarray, maps: np.ndarray, heading: str,
                   kernel_names: Sequence[str], annotate: bool, input_title: str) -> Any:
    """Few single-channel kernels: the input on the left, then one column per kernel with the
    kernel on top and its feature map under it."""
    count = kernels.shape[0]
    cell = 2.3 if annotate else 1.6
    figure = new_figure(cell * (count + 1.4) + 0.8, 2 * cell + 0.9, what="plotting feature maps")
    mosaic = [["input"] + [f"k{c}" for c in range(count)], ["input"] + [f"m{c}" for c in range(count)]]
    axes = figure.subplot_mosaic(mosaic, width_ratios=[1.4] + [1] * count)
    _show_input(axes["input"], image, input_title)
    kernel_limit, map_limit = _limit(kernels), _limit(maps)
    kernel_image = map_image = None
    for c in range(count):
        kernel_image = _show(axes[f"k{c}"], kernels[c, 0], kernel_limit, kernel_names[c], annotate)
        map_image = _show(axes[f"m{c}"], maps[c], map_limit, f"its map {maps.shape[1]}x{maps.shape[2]}", annotate)
    figure.colorbar(kernel_image, ax=[axes[f"k{c}"] for c in range(count)], shrink=0.8, aspect=20)
    figure.colorbar(map_image, ax=[axes[f"m{c}"] for c in range(count)], shrink=0.8, aspect=20)
    figure.suptitle(heading, fontsize=11, fontweight="bold")
    return figure


def _layer_figure(image: np.ndarray, kernels: np.ndarray, maps: np.ndarray, heading: str,
                  kernel_names: Sequence[str] | None, annotate: bool, input_title: str = "input") -> Any:
    """One picture: the input image, the layer's kernels and its feature maps."""
    out_channels, in_channels = kernels.shape[:2]
    names = list(kernel_names) if kernel_names is not None else [f"kernel {c}" for c in range(out_channels)]
    if in_channels == 1 and out_channels <= 8:
        return _paired_figure(image, kernels, maps, heading, names, annotate, input_title)
    map_rows, map_columns = _grid(maps.shape[0])
    if in_channels == 1:
        kernel_rows, kernel_columns, kernel_cell = map_rows, map_columns, 1.5
    else:
        kernel_rows, kernel_columns = out_channels, in_channels
        kernel_cell = min(0.7, 9.0 / kernel_rows)
    widths = [2.4, kernel_cell * kernel_columns + 1.4, 1.8 * map_columns + 0.8]
    height = max(2.6, kernel_cell * kernel_rows + 0.6, 1.8 * map_rows + 0.6) + 0.5
    figure = new_figure(sum(widths), height, what="plotting feature maps")
    left, middle, right = figure.subfigures(1, 3, width_ratios=widths)
    _show_input(left.subplots(), image, input_title)
    _kernel_grid(middle, kernels, f"{out_channels} kernels {kernels.shape[2]}x{kernels.shape[3]}"
                 + (f", {in_channels} input channels each" if in_channels > 1 else ""), kernel_names, annotate)
    _draw_grid(right, list(maps), [f"map {c}" for c in range(maps.shape[0])], map_rows, map_columns,
               f"{maps.shape[0]} feature maps {maps.shape[1]}x{maps.shape[2]}", annotate)
    figure.suptitle(heading, fontsize=11, fontweight="bold")
    return figure


def plot_layer(model: Module, image: Tensor | np.ndarray, layer: str, path: str | os.PathLike | None = None, *,
               title: str | None = None) -> Any:
    """The picture of one conv layer at work: the input image, the layer's kernels and the feature
    maps they make of that image (caught by a forward hook). Returns the Figure; saves it when ``path``.

    >>> import shenjing
    >>> from shenjing.models import LeNet5
    >>> figure = plot_layer(LeNet5(), shenjing.randn(1, 28, 28), "conv1")
    """
    kernels = layer_kernels(model, layer).numpy()
    maps = feature_maps(model, image, layer).numpy()
    shown = _batch_of_one(image)[0].detach().numpy()
    heading = title or f"{type(model).__name__} layer '{layer}': kernels and feature maps (before the activation)"
    first = conv_layer_names(model)[:1] == [layer]
    input_title = "model input" if first else "model input\n(the layer sees what\nearlier layers made of it)"
    figure = _layer_figure(shown, kernels, maps, heading, None, annotate=False, input_title=input_title)
    save_figure(figure, path)
    return figure


def plot_xo_demo(path: str | os.PathLike | None = None) -> Any:
    """Seed 003's example: the 9x9 X, the three 3x3 kernels (diagonal, cross, anti-diagonal) and
    their 7x7 feature maps, each value written in its cell the way the notes print it
    (mean of the nine products, truncated to two decimals). Returns the Figure; saves it when ``path``.

    >>> figure = plot_xo_demo()
    """
    kernels = np.stack(list(XO_KERNELS.values()))[:, None]
    figure = _layer_figure(XO_IMAGE, kernels, xo_feature_maps().numpy(),
                           "Seed 003: three features slide over the X (feature map = mean of the 9 products)",
                           [f"kernel: {name}" for name in XO_KERNELS], annotate=True,
                           input_title="input: the X\n(white +1, black -1)")
    save_figure(figure, path)
    return figure
