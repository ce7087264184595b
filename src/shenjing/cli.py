"""The ``shenjing`` command line (also ``python -m shenjing``).

    shenjing --version
    shenjing train lenet|mlp|course-cnn|xo|rnn|perceptron|xor [--epochs N] [--batch-size B] [--lr LR]
                   [--optimizer sgd|adam|adamw] [--hidden H] [--seed S] [--out FILE] [--data-dir DIR]
                   [--download] [--resume CHECKPOINT] [--quiet]
    shenjing evaluate MODEL_FILE [--data-dir DIR] [--download]
    shenjing predict MODEL_FILE IMAGE [IMAGE ...]
    shenjing export MODEL_FILE OUT.onnx [--opset N]

and the teaching tools (``shenjing.teach``). Mistakes in what the user gave (a bad flag, a missing
dataset, an unreadable image, a file that is not a model, a missing optional library) are reported
in one line, ``shenjing: error: ...``, with exit code 2 and no traceback; a training run whose loss
stops being finite exits with 1, an interrupted one with 130.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
from typing import Any, NoReturn, Sequence

import numpy as np

import shenjing
from shenjing.cli_base import UserError, load_model_file, missing_extra

__all__ = ["main", "build_parser", "UserError"]


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in the command line's one-line form (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"shenjing: error: {message} (see `{self.prog} --help`)\n")


def _whole_number_above_zero(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, got {text}")
    return value


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got '{text}'") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**32 - 1, got {text}")
    return value


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


# -- train ---------------------------------------------------------------------------------------------

def _train_options(args: argparse.Namespace) -> Any:
    """The TrainOptions of this command line, after checking every flag against the model."""
    from shenjing.recipes import RECIPES, TrainOptions, read_resume_file
    from shenjing.registry import MODELS, TRAIN_FLAGS

    if args.model not in RECIPES:
        raise UserError(f"unknown model '{args.model}'; choose one of: {', '.join(RECIPES)}")
    entry = MODELS[args.model]
    given = [dest for dest in TRAIN_FLAGS if getattr(args, dest) not in (None, False)]
    unused = [dest for dest in given if dest not in entry.train_flags]
    if unused:
        uses = ", ".join(_flag(d) for d in TRAIN_FLAGS if d in entry.train_flags)
        raise UserError(f"`train {args.model}` does not use {', '.join(map(_flag, unused))}; it uses {uses}")
    if args.download and not args.data_dir:
        raise UserError("--download needs --data-dir (the folder to download MNIST into)")
    progress = not args.quiet
    if args.resume is None:
        options = TrainOptions(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                               seed=0 if args.seed is None else args.seed, out=args.out, data_dir=args.data_dir,
                               download=args.download, progress=progress, hidden=args.hidden,
                               compile=not args.no_compile)
    else:
        others = [d for d in given if d not in ("resume", "out")]
        if others:
            raise UserError(f"--resume continues the interrupted run with its own settings; drop "
                            f"{', '.join(map(_flag, others))}")
        try:
            state = read_resume_file(args.resume)
        except FileNotFoundError:
            raise UserError(f"{args.resume}: no such checkpoint") from None
        except Exception as error:  # any failure to read it means: not a resumable checkpoint
            raise UserError(f"{args.resume} cannot be resumed ({error})") from None
        run = state["run"]
        if run["model"] != args.model:
            raise UserError(f"{args.resume} is a checkpoint of '{run['model']}', not '{args.model}': "
                            f"`shenjing train {run['model']} --resume {args.resume}`")
        settings = dict(run["settings"])
        settings["out"] = args.out or settings["out"] or f"{args.model}.shenjing"
        options = TrainOptions(**settings, progress=progress, resume=args.resume, compile=not args.no_compile)
        epochs = options.epochs or RECIPES[args.model].epochs
        print(f"resuming {args.model} from {args.resume} after epoch {int(state['epoch'])} of {epochs}")
    if entry.saved:
        options.out = options.out or f"{args.model}.shenjing"
        _check_writable(options.out)
    return options


def _check_writable(path: str) -> None:
    """UserError unless a file can be written at ``path`` (its folder exists and takes new files)."""
    if os.path.isdir(path):
        raise UserError(f"--out {path} is a folder; give a file name, such as {os.path.join(path, 'model.shenjing')}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"--out {path}: the folder {folder} does not exist")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UserError(f"--out {path}: cannot write in {folder} ({error.strerror})") from None
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UserError(f"--out {path}: the file exists and cannot be overwritten")


def _plan(name: str, options: Any) -> str:
    from shenjing.recipes import OPTIMIZERS, RECIPES, learning_rate

    recipe = RECIPES[name]
    lr, source = learning_rate(options, recipe)
    optimizer = OPTIMIZERS[options.optimizer or recipe.optimizer]
    epochs = options.epochs or recipe.epochs
    return (f"training {name}: {epochs} epoch{'s' * (epochs != 1)}, batch size "
            f"{options.batch_size or recipe.batch_size}, {optimizer} with learning rate {lr:g} ({source})")


# -- `shenjing train MODEL --nproc N`: N processes under python -m shenjing.distributed.run -------------------
_DISTRIBUTED_MODELS = ("lenet", "mlp", "course-cnn")
_WORKER_VARIABLE = "SHENJING_TRAIN_WORKER"  # set in the processes the launcher starts


def _check_nproc(args: argparse.Namespace) -> None:
    from shenjing.recipes import RECIPES

    if args.model not in _DISTRIBUTED_MODELS:
        raise UserError(f"--nproc trains {', '.join(_DISTRIBUTED_MODELS)} across processes; not '{args.model}'")
    if args.resume:
        raise UserError("--resume continues a run in one process; drop --nproc")
    batch = args.batch_size or RECIPES[args.model].batch_size
    if batch % args.nproc:
        raise UserError(f"the batch size {batch} is split over the {args.nproc} processes: give a --batch-size "
                        f"divisible by {args.nproc}")


def _launch_training(args: argparse.Namespace) -> int:
    """Run this same command in ``args.nproc`` processes (rank 0 shows progress and saves)."""
    import subprocess

    from shenjing.distributed import is_available

    if not is_available():
        raise UserError("--nproc needs MPI for Python: pip install mpi4py mpich")
    command = [sys.executable, "-m", "shenjing.distributed.run", "--nproc-per-node", str(args.nproc), "-m",
               "shenjing", *args.argv]
    return subprocess.run(command, env=dict(os.environ, **{_WORKER_VARIABLE: "1"})).returncode


def _train(args: argparse.Namespace) -> int:
    from shenjing.recipes import RECIPES, NonFiniteLoss, TrainingInterrupted

    distributed = (args.nproc or 1) > 1
    if distributed:
        _check_nproc(args)
        if not os.environ.get(_WORKER_VARIABLE):
            _train_options(args)  # every flag checked once, here, before the processes start
            return _launch_training(args)
    leader = not distributed or os.environ.get("RANK", "0") == "0"  # the rank that reports and saves
    options = _train_options(args)
    options.nproc = args.nproc or 1
    options.progress = options.progress and leader
    name = args.model
    recipe = RECIPES[name]
    if not leader:
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            recipe.train(options)
        return 0
    if recipe.optimizer is not None and not options.resume:
        print(_plan(name, options) + (f", on {options.nproc} processes" if distributed else ""))
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported below, in one line
            result = _user_data(lambda: recipe.train(options))
    except NonFiniteLoss as error:
        kept = f"; {options.out} was left as it was" if options.out and os.path.exists(options.out) else ""
        print(f"shenjing: error: {error}: training stopped and nothing was saved{kept}. The learning rate is "
              f"probably too large: try a smaller --lr", file=sys.stderr)
        return 1
    except TrainingInterrupted as stop:
        if stop.checkpoint is None:
            print("shenjing: interrupted before the first epoch ended; nothing was saved", file=sys.stderr)
        else:
            print(f"shenjing: interrupted; the {stop.epochs_done} finished epoch(s) are saved in {stop.checkpoint}. "
                  f"Continue with: shenjing train {name} --resume {stop.checkpoint}", file=sys.stderr)
        return 130
    if name == "perceptron":
        _report_perceptron(result)
        return 0
    if name == "xor":
        print(f"loss {result['first_loss']:.4f} -> {result['metrics']['loss']:.4f}")
        _print_truth_table(result["inputs"], result["predictions"])
    else:
        metrics = result["metrics"]
        if "accuracy" in metrics:
            print(f"test accuracy: {metrics['accuracy']:.2%} (loss {metrics['loss']:.4f}, training loss "
                  f"{metrics['train_loss']:.4f})")
        else:
            print(f"test mean squared error: {metrics['loss']:.4f} (training {metrics['train_loss']:.4f})")
    print(f"saved the model and its training history to {result['out']} "
          f"(shenjing evaluate {result['out']}; shenjing curves {result['out']})")
    return 0


def _report_perceptron(result: dict) -> None:
    for gate, info in result["gates"].items():
        verdict = f"converged in {info['epochs']} epochs" if info["converged"] else \
            f"did not converge within {result['epochs']} epochs"
        print(f"{gate.upper():4s} {verdict}: w={[round(w, 3) for w in info['weights']]}, "
              f"b={info['bias']:.3f}, accuracy {info['accuracy']:.0%}")
    if not result["gates"]["xor"]["converged"]:
        print("XOR is not linearly separable: no line puts (0,1) and (1,0) on one side and (0,0) and (1,1) on the "
              "other, so the rule can never finish an epoch without mistakes (seed 004)")


def _print_truth_table(inputs: Sequence[Sequence[float]], predictions: Sequence[float]) -> None:
    for pair, prediction in zip(inputs, predictions):
        print(f"  {int(pair[0])} xor {int(pair[1])} -> {prediction:.3f}")
    correct = sum((p > 0.5) == (int(a) != int(b)) for (a, b), p in zip(inputs, predictions))
    print(f"accuracy: {correct / len(inputs):.0%}")


def _user_data(action: Any) -> Any:
    """Run ``action``; missing or broken user files become one-line errors."""
    from shenjing.registry import ModelFileError

    try:
        return action()
    except FileNotFoundError as error:
        raise UserError(str(error)) from None
    except ModelFileError as error:
        raise UserError(str(error)) from None
    except (OSError, ValueError) as error:
        if _names_a_file(error):
            raise UserError(str(error)) from None
        raise


def _names_a_file(error: BaseException) -> bool:
    text = str(error)
    return "/" in text or "\\" in text or ".gz" in text or "ubyte" in text or "checkpoint" in text


# -- evaluate and predict ----------------------------------------------------------------------------------

def _evaluate(args: argparse.Namespace) -> int:
    from shenjing.registry import MODELS

    try:
        model, contents = load_model_file(args.model_file)
    except UserError:
        from shenjing.teach.playground.export import evaluate_export, read_export

        exported = read_export(args.model_file)
        if exported is None:
            raise
        model, metrics = evaluate_export(exported)
        accuracy = "" if metrics["accuracy"] is None else f", accuracy {metrics['accuracy']:.2%}"
        print(f"playground network {exported['settings'].get('networkShape', '')!r} on "
              f"{', '.join(exported['features'])}: test loss {metrics['loss']:.4f}{accuracy} on "
              f"{metrics['points']} saved test points")
        return 0
    name = contents["model"]
    entry = MODELS[name]
    if name == "xor":
        from shenjing.examples.xor import INPUTS

        with shenjing.no_grad():
            predictions = model(shenjing.tensor(INPUTS)).reshape(-1).tolist()
        print(f"{name}: the network's output for each input pair")
        _print_truth_table(INPUTS, predictions)
        return 0
    if entry.image is None:
        print(f"{name}: {entry.describe(contents.get('metrics', {}))} (measured on its test data when it was "
              f"trained)")
        return 0
    if args.download and not args.data_dir:
        raise UserError("--download needs --data-dir (the folder to download MNIST into)")
    from shenjing.recipes import TrainOptions, digit_loaders
    from shenjing.train import evaluate

    channels, size = entry.image
    options = TrainOptions(data_dir=args.data_dir, download=args.download)
    _, test_loader = _user_data(lambda: digit_loaders(options, 500, channels, size, augment=False))
    metrics = evaluate(model, test_loader, shenjing.nn.CrossEntropyLoss(), progress=not args.quiet)
    print(f"{name}: {entry.describe(metrics)} on {len(test_loader.dataset)} test digits")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from shenjing.digit_data import NoDigitError, load_digit_image
    from shenjing.registry import MODELS

    model, contents = load_model_file(args.model_file)
    name = contents["model"]
    digit_models = [n for n, e in MODELS.items() if e.image is not None]
    if MODELS[name].image is None:
        raise UserError(f"predict works with digit models ({', '.join(digit_models)}); {args.model_file} "
                        f"holds '{name}'")
    channels, size = MODELS[name].image
    for path in args.images:
        try:
            image = load_digit_image(path, channels, size)
        except FileNotFoundError:
            raise UserError(f"{path}: no such image file") from None
        except NoDigitError as error:
            raise UserError(f"{path} {error}") from None
        except (OSError, ValueError) as error:
            raise UserError(f"{path}: cannot read this image ({error})") from None
        with shenjing.no_grad():
            probabilities = shenjing.softmax(model(image.unsqueeze(0)), dim=1)[0]
        digit = int(probabilities.argmax().item())
        listed = "  ".join(f"{d}:{p:.3f}" for d, p in enumerate(probabilities.tolist()))
        print(f"{path}: {digit} (probability {probabilities[digit].item():.3f})\n  {listed}")
    return 0


# -- export ----------------------------------------------------------------------------------------------

def _export(args: argparse.Namespace) -> int:
    """A model file as ONNX: input ``input`` [batch, *the model's input size], output ``output``."""
    from shenjing.registry import MODELS

    model, contents = load_model_file(args.model_file)
    name = contents["model"]
    if os.path.isdir(args.out):
        raise UserError(f"{args.out} is a folder; give a file name, such as {os.path.join(args.out, name + '.onnx')}")
    example = shenjing.zeros((1, *MODELS[name].input_size))
    axes = {"input": {0: "batch"}, "output": {0: "batch"}}
    try:
        shenjing.onnx.export(model, example, args.out, input_names=["input"], output_names=["output"],
                             dynamic_axes=axes, opset_version=args.opset)
    except (ValueError, shenjing.onnx.ExportError) as error:
        raise UserError(str(error)) from None
    except OSError as error:
        raise UserError(f"{args.out}: cannot write it ({error.strerror or error})") from None
    shape = ", ".join(["batch", *map(str, MODELS[name].input_size)])
    print(f"{name}: wrote {args.out} (ONNX opset {args.opset or shenjing.onnx.DEFAULT_OPSET}, input [{shape}])")
    return 0


# -- the parser ------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from shenjing.registry import MODELS

    parser = _Parser(prog="shenjing", description="shenjing: neural networks on NumPy, with PyTorch's API")
    parser.add_argument("--version", action="version", version=f"shenjing {shenjing.__version__}")
    commands = parser.add_subparsers(dest="command")

    models = "; ".join(f"{name}: {entry.description}" for name, entry in MODELS.items())
    train = commands.add_parser("train", help="train one of the course's models",
                                description=f"Train a model; `shenjing train lenet` is the main job. {models}.")
    train.add_argument("model", help=", ".join(MODELS))
    train.add_argument("--epochs", type=_whole_number_above_zero)
    train.add_argument("--batch-size", type=_whole_number_above_zero)
    train.add_argument("--lr", type=_learning_rate,
                       help="learning rate (default: the recipe's for its optimiser, else the optimiser's default)")
    train.add_argument("--optimizer", choices=["sgd", "adam", "adamw"])
    train.add_argument("--hidden", type=_whole_number_above_zero, help="hidden units (mlp, xo, rnn, xor)")
    train.add_argument("--seed", type=_seed, help="random seed (default 0)")
    train.add_argument("--out", help="where to save the model (default: MODEL.shenjing)")
    train.add_argument("--data-dir", help="a folder with the MNIST files (default: the bundled 5,000 digits)")
    train.add_argument("--download", action="store_true", help="download MNIST into --data-dir if missing")
    train.add_argument("--resume", metavar="CHECKPOINT", help="continue an interrupted run from its checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.add_argument("--no-compile", action="store_true",
                       help="run the model eagerly (default: shenjing.compile, the same numbers, faster)")
    train.add_argument("--nproc", type=_whole_number_above_zero,
                       help="train on N processes with DistributedDataParallel over MPI (lenet, mlp, course-cnn; "
                            "needs pip install mpi4py mpich)")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("evaluate", help="test a saved model (digit models: on the test digits)")
    evaluate.add_argument("model_file")
    evaluate.add_argument("--data-dir")
    evaluate.add_argument("--download", action="store_true")
    evaluate.add_argument("--quiet", action="store_true")
    evaluate.set_defaults(run=_evaluate)

    predict = commands.add_parser("predict", help="read digits in image files (PNG, JPG, any size or colour)")
    predict.add_argument("model_file")
    predict.add_argument("images", nargs="+")
    predict.set_defaults(run=_predict)

    export = commands.add_parser("export", help="write a saved model as an ONNX file (needs shenjing[onnx])")
    export.add_argument("model_file")
    export.add_argument("out", help="the ONNX file to write, such as lenet.onnx")
    export.add_argument("--opset", type=_whole_number_above_zero, help="ONNX opset (default 17)")
    export.set_defaults(run=_export)

    from shenjing.teach.commands import add_commands

    add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.run(args)
    except UserError as error:
        print(f"shenjing: error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        friendly = missing_extra(error)
        if friendly is None:
            raise
        print(f"shenjing: error: {friendly}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("shenjing: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (`shenjing trace ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
