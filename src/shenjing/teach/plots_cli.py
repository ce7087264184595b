"""Command-line commands of the teaching tools that draw pictures (they need the ``plot`` extra):

    shenjing featuremaps MODEL_FILE [IMAGE] [--layer conv1] [--digit N] [--out maps.png]
    shenjing featuremaps xo-demo [--out xo.png]
    shenjing boundary perceptron|svm|mlp|xor [--data moons|circles|spirals|xor|blobs|and|or|watermelon]
                      [--epochs N] [--out b.png] [--gif b.gif] [--hidden H] [--depth D] [--activation A]
                      [--lr LR] [--record-every K] [--notes-weights] [--seed S]
    shenjing curves CHECKPOINT|HISTORY.json|demo [--out curves.png]
    shenjing gradients [mlp] [--activation sigmoid|relu|both] [--depth 8] [--width 32] [--steps 100]
                       [--lr 0.1] [--init xavier|kaiming|default] [--weight-scale 1] [--out gradients.png]
    shenjing gradients rnn [--time-steps 40] [--scales 1,2,4] [--nonlinearity tanh|relu] [--out rnn.png]
    shenjing optimizers [--surface rosenbrock|saddle|bowl] [--optimizers sgd,momentum,rmsprop,adam]
                        [--steps N] [--out paths.png]
    shenjing regularization [--l1 0.1] [--l2 0.1] [--samples 30] [--steps 2000] [--out reg.png]

Each prints what it computed and the files it wrote.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from typing import Any, Callable

__all__ = ["add_commands"]


def _user_error(message: str) -> Exception:
    from shenjing.cli_base import UserError

    return UserError(message)


def _friendly(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Missing optional libraries and unwritable output files become one-line errors (exit 2)."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ImportError as error:
            from shenjing.cli_base import missing_extra

            friendly = missing_extra(error)
            if friendly is not None:
                raise friendly from None
            raise
        except (FileNotFoundError, PermissionError, IsADirectoryError) as error:
            raise _user_error(f"cannot write or read {error.filename or 'a file'}: {error.strerror}") from None

    return run


def _wrote(*paths: str | None) -> None:
    for path in paths:
        if path:
            print(f"wrote {path} ({os.path.getsize(path):,} bytes)")


# -- featuremaps -----------------------------------------------------------------------------------

def _read_xo_image(path: str) -> Any:
    """An image file as seed 003's 9x9 picture: greyscale, resized, ink (the darker colour when the
    paper is light) +1 and paper -1."""
    import numpy as np

    from shenjing.vision._pil import require_pil

    Image = require_pil("reading an image file")
    with Image.open(path) as opened:
        pixels = np.asarray(opened.convert("L").resize((9, 9), Image.BILINEAR), np.float32)
    ink = pixels < 128 if pixels.mean() > 127 else pixels >= 128
    return np.where(ink, 1.0, -1.0).astype(np.float32)[None]


def _featuremaps(args: argparse.Namespace) -> int:
    from shenjing.teach import featuremaps as fm

    if args.model == "xo-demo":
        out = args.out or "xo-featuremaps.png"
        maps = fm.xo_feature_maps()
        for name, values in zip(fm.XO_KERNELS, fm.notes_rounding(maps)):
            print(f"feature map of the {name} kernel (mean of the 9 products, cut to 2 decimals as the notes print):")
            for row in values:
                print("  " + " ".join(f"{v:5.2f}" for v in row))
        fm.plot_xo_demo(out)
        _wrote(out)
        return 0

    from shenjing.cli_base import load_model_file

    model, contents = load_model_file(args.model)
    name = contents["model"]
    layers = fm.conv_layer_names(model)
    if not layers:
        raise _user_error(f"{args.model} holds a '{name}' model, which has no convolution layers; "
                          f"feature maps need a CNN (shenjing train lenet, course-cnn or xo)")
    layer = args.layer or layers[0]
    if layer not in layers:
        raise _user_error(f"'{layer}' is not a conv layer of this {name} model; its conv layers: {', '.join(layers)}")
    image, label = _image_for(args, name)
    out = args.out or "featuremaps.png"
    maps = fm.feature_maps(model, image, layer)
    print(f"{name} layer '{layer}': {maps.shape[0]} feature maps of {maps.shape[1]}x{maps.shape[2]} for {label}")
    fm.plot_layer(model, image, layer, out, title=f"{name} '{layer}' on {label}: kernels and feature maps "
                                                  f"(before the activation)")
    _wrote(out)
    return 0


def _image_for(args: argparse.Namespace, name: str) -> tuple[Any, str]:
    from shenjing.teach.featuremaps import XO_IMAGE

    if name == "xo":
        if args.image is None:
            return XO_IMAGE[None], "seed 003's X"
        return _guard_image(args.image, lambda: _read_xo_image(args.image)), args.image
    from shenjing.registry import MODELS

    if MODELS[name].image is None:
        raise _user_error(f"featuremaps knows the images of digit models and xo; {args.model} holds '{name}'")
    channels, size = MODELS[name].image
    if args.image is None:
        from shenjing.digit_data import digit_transform
        from shenjing.vision.datasets import MNIST

        test = MNIST(None, train=False, transform=digit_transform(channels, size))
        if not 0 <= args.digit < len(test):
            raise _user_error(f"--digit must be between 0 and {len(test) - 1}, got {args.digit}")
        image, digit = test[args.digit]
        return image, f"test digit #{args.digit} (a {int(digit)})"
    from shenjing.digit_data import load_digit_image

    return _guard_image(args.image, lambda: load_digit_image(args.image, channels, size)), args.image


def _guard_image(path: str, read: Callable[[], Any]) -> Any:
    try:
        return read()
    except FileNotFoundError:
        raise _user_error(f"{path}: no such image file") from None
    except (OSError, ValueError) as error:
        raise _user_error(f"{path}: cannot read this image ({error})") from None


# -- boundary --------------------------------------------------------------------------------------

_BOUNDARY_DEFAULTS = {"perceptron": ("and", 20), "svm": ("blobs", 60), "mlp": ("moons", 150), "xor": ("xor", 100)}


def _boundary(args: argparse.Namespace) -> int:
    from shenjing.teach import boundary as bd

    if args.model not in bd.MODELS:
        raise _user_error(f"unknown model '{args.model}'; choose one of: {', '.join(bd.MODELS)}")
    if args.points < 4:
        raise _user_error(f"--points must be at least 4, got {args.points}")
    data_name, epochs = _BOUNDARY_DEFAULTS[args.model]
    data_name = args.data or data_name
    if data_name not in bd.DATASETS:
        raise _user_error(f"unknown data '{data_name}'; choose one of: {', '.join(bd.DATASETS)}")
    x, y = bd.load_2d_data(data_name, n=args.points, seed=args.seed)
    out = args.out or "boundary.png"
    if args.notes_weights:
        if args.model != "xor":
            raise _user_error("--notes-weights goes with the xor model (seed 004's network with the notes' weights)")
        if args.gif:
            raise _user_error("the notes' weights are given, not trained: there is nothing to animate; drop --gif")
        from shenjing.models import XorNet

        model = XorNet()
        accuracy = float((bd.predict_classes(model, x) == y.numpy()).mean())
        print(f"seed 004's XOR network with the notes' weights on {data_name}: accuracy {accuracy:.1%}")
        title = f"seed 004's XOR network (the notes' weights): accuracy {accuracy:.1%}"
        bd.plot_boundary(model, x, y, out, title=title)
        _wrote(out)
        return 0
    epochs = args.epochs or epochs
    record_every = args.record_every or max(1, epochs // 40)
    hidden = args.hidden or (4 if args.model == "xor" else 16)
    try:
        run = bd.train_boundary(args.model, x, y, epochs=epochs, record_every=record_every, lr=args.lr, hidden=hidden,
                                depth=args.depth, activation=args.activation, seed=args.seed, data_name=data_name)
    except ValueError as error:
        raise _user_error(str(error)) from None
    measure = "mistakes" if args.model == "perceptron" else "loss"
    print(f"{args.model} on {data_name} ({len(x)} points): {len(run.losses)} epochs, last epoch's {measure} "
          f"{run.losses[-1]:.4g}, training accuracy {run.accuracy:.1%}")
    bd.plot_boundary(run, path=out)
    _wrote(out)
    if args.gif:
        frames = bd.animate_boundary(run, args.gif)
        print(f"{frames} frames, one per recorded epoch: {', '.join(map(str, run.epochs))}")
        _wrote(args.gif)
    return 0


# -- curves and gradients --------------------------------------------------------------------------

def _read_history(path: str) -> tuple[Any, str]:
    """(the history, a title for its picture) from a JSON history, a fit checkpoint or a model file."""
    if not os.path.exists(path):
        raise _user_error(f"{path}: no such file")
    if path.endswith(".json"):
        try:
            with open(path, encoding="utf-8") as file:
                return json.load(file), f"training curves of {os.path.basename(path)}"
        except (OSError, ValueError) as error:
            raise _user_error(f"{path}: not a JSON history ({error})") from None
    import shenjing

    try:
        state = shenjing.load(path)
    except Exception as error:  # any failure to read it means: not a checkpoint
        raise _user_error(f"{path} is not a shenjing checkpoint ({error})") from None
    if not isinstance(state, dict) or "history" not in state:
        written_by = "; a model file written by `shenjing train` before it saved the history: train it again" \
            if isinstance(state, dict) and state.get("format") == "shenjing-model" else ""
        raise _user_error(f"{path} holds no training history{written_by}; curves reads the model files "
                          f"`shenjing train` writes, the checkpoint that fit(..., checkpoint=FILE) writes, or a "
                          f"JSON file of History.to_dict()")
    return state["history"], _model_title(state, path)


def _model_title(state: dict, path: str) -> str:
    """The picture's title: the model's description for a model file, else the file's name."""
    from shenjing.registry import MODELS

    entry = MODELS.get(state.get("model")) if state.get("format") == "shenjing-model" else None
    if entry is None:
        return f"training curves of {os.path.basename(path)}"
    return f"{os.path.basename(path)}: {entry.description}"


def _curves(args: argparse.Namespace) -> int:
    from shenjing.teach import curves

    if args.source == "demo":
        history: Any = curves.overfitting_demo()
        title = "early stopping: 60 noisy points, a 2-64-64-2 MLP"
    else:
        history, title = _read_history(args.source)
    epochs = history.epochs if hasattr(history, "epochs") else history.get("epochs", history)
    try:
        for entry in epochs:
            print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in entry.items()))
        out = args.out or "curves.png"
        curves.plot_history(history, out, title=title)
    except (TypeError, ValueError, AttributeError) as error:
        raise _user_error(f"cannot plot this history: {error}") from None
    _wrote(out)
    return 0


def _gradients(args: argparse.Namespace) -> int:
    from shenjing.teach import curves

    if args.model == "rnn":
        try:
            scales = [float(s) for s in args.scales.split(",")]
        except ValueError:
            raise _user_error(f"--scales takes numbers separated by commas, got '{args.scales}'") from None
        try:
            results = curves.rnn_gradient_curves(scales, steps=args.time_steps, nonlinearity=args.nonlinearity,
                                                 seed=args.seed)
        except ValueError as error:
            raise _user_error(str(error)) from None
        print(f"||dL/dh_t|| of an Elman RNN, loss at the last of {args.time_steps} steps:")
        for name, values in results.items():
            print(f"  {name}: t=1 {values[0]:.2e}   t={len(values) // 2} {values[len(values) // 2 - 1]:.2e}   "
                  f"t={len(values)} {values[-1]:.2e}")
        out = args.out or "rnn-gradients.png"
        curves.plot_rnn_gradients(results, out)
        _wrote(out)
        return 0
    if args.model != "mlp":
        raise _user_error(f"gradients shows 'mlp' or 'rnn', got '{args.model}'")
    activations = ["sigmoid", "relu"] if args.activation == "both" else [args.activation]
    try:
        runs = {a: curves.gradient_health(a, depth=args.depth, width=args.width, steps=args.steps, lr=args.lr,
                                          init=args.init, weight_scale=args.weight_scale, data=args.data,
                                          seed=args.seed) for a in activations}
    except ValueError as error:
        raise _user_error(str(error)) from None
    for name, health in runs.items():
        print(f"{name}, {args.depth} hidden layers of {args.width}, {args.init} init: gradient norm of each layer "
              f"(1 = next to the input) before training; loss {health.losses[0]:.4f} -> {health.losses[-1]:.4f}")
        print("  " + "  ".join(f"{i + 1}:{v:.1e}" for i, v in enumerate(health.at(0))))
        for warning in health.warnings():
            print(f"  warning: {warning}")
    out = args.out or "gradients.png"
    curves.plot_gradient_health(runs, out)
    _wrote(out)
    return 0


# -- optimisers and regularisation -----------------------------------------------------------------

def _optimizers(args: argparse.Namespace) -> int:
    from shenjing.teach import optimizers as op

    if args.surface not in op.SURFACES:
        raise _user_error(f"unknown surface '{args.surface}'; choose one of: {', '.join(op.SURFACES)}")
    names = tuple(n.strip() for n in args.optimizers.split(",") if n.strip())
    unknown = [n for n in names if n not in op.OPTIMIZERS]
    if unknown or not names:
        raise _user_error(f"unknown optimizer {', '.join(unknown) or '(none given)'}; "
                          f"choose from: {', '.join(op.OPTIMIZERS)}")
    if args.steps is not None and args.steps <= 0:
        raise _user_error(f"--steps must be positive, got {args.steps}")
    surface = op.SURFACES[args.surface]
    paths = op.optimizer_paths(surface, names, args.steps)
    print(f"{surface.name}: {surface.formula}, start {surface.start}")
    for name, points in paths.items():
        x, y = points[-1]
        print(f"  {name:8s} after {len(points) - 1} steps: ({x:.4f}, {y:.4f}), f = {surface(x, y):.4g}")
    out = args.out or f"{surface.name}.png"
    op.plot_optimizer_paths(surface, paths, out)
    _wrote(out)
    return 0


def _regularization(args: argparse.Namespace) -> int:
    from shenjing.teach import optimizers as op

    try:
        result = op.regularization_experiment(features=args.features, informative=args.informative,
                                              samples=args.samples, l1=args.l1, l2=args.l2, steps=args.steps,
                                              seed=args.seed)
    except ValueError as error:
        raise _user_error(str(error)) from None
    print(f"true weights: {' '.join(f'{w:.2f}' for w in result.true_weights)}")
    for name, weights in result.weights.items():
        print(f"{name:4s}: {result.near_zero(name)} of {len(weights)} weights within 0.01 of 0: "
              f"{' '.join(f'{w:.2f}' for w in weights)}")
    out = args.out or "regularization.png"
    op.plot_regularization(result, out)
    _wrote(out)
    return 0


# -- the parser ------------------------------------------------------------------------------------

def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add this group's subcommands; each sets ``run=handler`` and returns an exit code."""
    maps = commands.add_parser("featuremaps", help="feature maps and kernels of a conv layer (PNG)",
                               description="Draw a conv layer's kernels and the feature maps they make of an "
                                           "image; `featuremaps xo-demo` is seed 003's X with its three kernels.")
    maps.add_argument("model", help="a model file from `shenjing train lenet|course-cnn|xo`, or xo-demo")
    maps.add_argument("image", nargs="?", help="an image file (default: a digit of the bundled test set)")
    maps.add_argument("--layer", help="the conv layer (default: the first)")
    maps.add_argument("--digit", type=int, default=0, help="which bundled test digit, without IMAGE (default 0)")
    maps.add_argument("--out", help="the PNG to write (default featuremaps.png)")
    maps.set_defaults(run=_friendly(_featuremaps))

    boundary = commands.add_parser("boundary", help="decision boundary of a 2-D classifier (PNG, animated GIF)",
                                   description="Train a 2-D classifier and draw its decision boundary with the "
                                               "data; --gif also writes how the boundary moved during training.")
    boundary.add_argument("model", help="perceptron, svm, mlp or xor")
    boundary.add_argument("--data", help="moons, circles, spirals, xor, blobs, and, or, watermelon "
                                         "(default: and, blobs, moons, xor for the four models)")
    boundary.add_argument("--points", type=int, default=200, help="points in generated data sets (default 200)")
    boundary.add_argument("--epochs", type=int)
    boundary.add_argument("--lr", type=float)
    boundary.add_argument("--hidden", type=int, help="hidden units (mlp: 16 per layer, xor: 4)")
    boundary.add_argument("--depth", type=int, default=2, help="hidden layers of the mlp (default 2)")
    boundary.add_argument("--activation", default="tanh", help="the mlp's activation (default tanh)")
    boundary.add_argument("--record-every", type=int, help="epochs between GIF frames (default: about 40 frames)")
    boundary.add_argument("--notes-weights", action="store_true", help="xor: seed 004's weights, no training")
    boundary.add_argument("--seed", type=int, default=0)
    boundary.add_argument("--out", help="the PNG to write (default boundary.png)")
    boundary.add_argument("--gif", help="also write an animated GIF of the training")
    boundary.set_defaults(run=_friendly(_boundary))

    curves = commands.add_parser("curves", help="loss and accuracy curves of a training run (PNG)",
                                 description="Plot the per-epoch history saved in a fit checkpoint "
                                             "(fit(..., checkpoint=FILE)) or a JSON of History.to_dict(); "
                                             "`curves demo` trains a small net that overfits, with early stopping.")
    curves.add_argument("source", help="CHECKPOINT, HISTORY.json or demo")
    curves.add_argument("--out", help="the PNG to write (default curves.png)")
    curves.set_defaults(run=_friendly(_curves))

    gradients = commands.add_parser("gradients", help="gradient health: per-layer gradient norms (PNG)",
                                    description="Train a deep MLP and record each layer's gradient norm, with "
                                                "vanishing/exploding warnings; `gradients rnn` shows the gradient "
                                                "through the time steps of the Elman RNN.")
    gradients.add_argument("model", nargs="?", default="mlp", help="mlp (default) or rnn")
    gradients.add_argument("--activation", default="both", choices=["sigmoid", "relu", "tanh", "both"])
    gradients.add_argument("--depth", type=int, default=8, help="hidden layers (default 8)")
    gradients.add_argument("--width", type=int, default=32, help="units per hidden layer (default 32)")
    gradients.add_argument("--steps", type=int, default=150, help="training steps (default 150)")
    gradients.add_argument("--lr", type=float, default=0.1)
    gradients.add_argument("--init", default="xavier", choices=["xavier", "kaiming", "default"])
    gradients.add_argument("--weight-scale", type=float, default=1.0, help="multiply the initial weights")
    gradients.add_argument("--data", default="moons", choices=["moons", "circles", "spirals", "xor"])
    gradients.add_argument("--time-steps", type=int, default=40, help="rnn: sequence length (default 40)")
    gradients.add_argument("--scales", default="1,2,4", help="rnn: factors for the recurrent weights (default 1,2,4)")
    gradients.add_argument("--nonlinearity", default="tanh", choices=["tanh", "relu"], help="rnn: activation")
    gradients.add_argument("--seed", type=int, default=0)
    gradients.add_argument("--out", help="the PNG to write (default gradients.png or rnn-gradients.png)")
    gradients.set_defaults(run=_friendly(_gradients))

    paths = commands.add_parser("optimizers", help="SGD, momentum, RMSprop and Adam paths on a loss surface (PNG)",
                                description="Run each optimiser of shenjing.optim on a 2-D loss surface and "
                                            "draw the points it visits.")
    paths.add_argument("--surface", default="rosenbrock", help="rosenbrock (default), saddle or bowl")
    paths.add_argument("--optimizers", default="sgd,momentum,rmsprop,adam", help="comma-separated")
    paths.add_argument("--steps", type=int, help="steps (default: the surface's)")
    paths.add_argument("--out", help="the PNG to write (default SURFACE.png)")
    paths.set_defaults(run=_friendly(_optimizers))

    regularization = commands.add_parser("regularization", help="L1 versus L2: weights learned with each (PNG)",
                                         description="Fit one linear model without a penalty, with L2 and with "
                                                     "L1, on data where only a few features matter.")
    regularization.add_argument("--l1", type=float, default=0.1, help="L1 strength λ (default 0.1)")
    regularization.add_argument("--l2", type=float, default=0.1, help="L2 strength λ (default 0.1)")
    regularization.add_argument("--features", type=int, default=20)
    regularization.add_argument("--informative", type=int, default=4)
    regularization.add_argument("--samples", type=int, default=30)
    regularization.add_argument("--steps", type=int, default=2000)
    regularization.add_argument("--seed", type=int, default=0)
    regularization.add_argument("--out", help="the PNG to write (default regularization.png)")
    regularization.set_defaults(run=_friendly(_regularization))
