"""The ``shenjing`` command line (also ``python -m shenjing``).

    shenjing --version
    shenjing train lenet|mlp|course-cnn|xo|rnn|perceptron|xor [--epochs N] [--batch-size B] [--lr LR]
                   [--optimizer sgd|adam|adamw] [--seed S] [--out FILE] [--data-dir DIR] [--download]
    shenjing evaluate MODEL_FILE [--data-dir DIR] [--download]
    shenjing predict MODEL_FILE IMAGE [IMAGE ...]

Mistakes in what the user gave (a missing dataset, an unreadable image, a file that is not a model)
are reported in one line with exit code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Sequence

import shenjing


class UserError(Exception):
    """A mistake in the command line or its inputs: reported in one line, exit code 2."""


def _options(args: argparse.Namespace) -> Any:
    from shenjing.recipes import TrainOptions

    return TrainOptions(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                        seed=args.seed, out=args.out, data_dir=getattr(args, "data_dir", None),
                        download=getattr(args, "download", False), progress=not args.quiet, hidden=args.hidden)


def _train(args: argparse.Namespace) -> int:
    from shenjing.recipes import RECIPES

    if args.model not in RECIPES:
        raise UserError(f"unknown model '{args.model}'; choose one of: {', '.join(RECIPES)}")
    result = _user_data(lambda: RECIPES[args.model].train(_options(args)))
    if args.model == "perceptron":
        for gate, info in result["gates"].items():
            verdict = f"converged in {info['epochs']} epochs" if info["converged"] else \
                f"did not converge in {info['epochs']} epochs (not linearly separable)"
            print(f"{gate.upper():4s} {verdict}: w={[round(w, 3) for w in info['weights']]}, "
                  f"b={info['bias']:.3f}, accuracy {info['accuracy']:.0%}")
        return 0
    if args.model == "xor":
        from shenjing.examples.xor import INPUTS

        run = result["xor"]
        print(f"loss {run.losses[0]:.4f} -> {run.losses[-1]:.4f}")
        for inputs, prediction in zip(INPUTS, run.predictions):
            print(f"  {int(inputs[0])} xor {int(inputs[1])} -> {prediction:.3f}")
        print(f"accuracy: {run.accuracy:.0%}")
        return 0
    metrics = result["metrics"]
    summary = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "accuracy")
    if "accuracy" in metrics:
        print(f"test accuracy: {metrics['accuracy']:.2%} ({summary})")
    else:
        print(f"test {summary}")
    print(f"saved the model to {result['out']}")
    return 0


def _user_data(action: Any) -> Any:
    """Run ``action``; missing or broken user files become one-line errors."""
    from shenjing.recipes import ModelFileError

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


def _load(path: str) -> tuple[Any, dict]:
    from shenjing.recipes import load_model

    try:
        return load_model(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such model file") from None
    except Exception as error:  # any failure to read it means: not a usable model file
        raise UserError(f"{path} is not a shenjing model file ({error})") from None


def _evaluate(args: argparse.Namespace) -> int:
    from shenjing.recipes import TrainOptions, digit_loaders

    model, contents = _load(args.model_file)
    name = contents["model"]
    if name not in ("lenet", "mlp", "course-cnn"):
        print(f"{name}: saved test metrics {contents.get('metrics', {})}")
        return 0
    channels, size = (3, 32) if name == "course-cnn" else (1, 28)
    options = TrainOptions(data_dir=args.data_dir, download=args.download)
    _, test_loader = _user_data(lambda: digit_loaders(options, 500, channels, size, augment=False))
    from shenjing.train import evaluate

    metrics = evaluate(model, test_loader, shenjing.nn.CrossEntropyLoss(), progress=not args.quiet)
    print(f"{name}: test accuracy {metrics['accuracy']:.2%}, loss {metrics['loss']:.4f} "
          f"on {len(test_loader.dataset)} digits")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from shenjing.recipes import load_digit_image

    model, contents = _load(args.model_file)
    name = contents["model"]
    if name not in ("lenet", "mlp", "course-cnn"):
        raise UserError(f"predict works with digit models (lenet, mlp, course-cnn); {args.model_file} holds '{name}'")
    channels, size = (3, 32) if name == "course-cnn" else (1, 28)
    for path in args.images:
        try:
            image = load_digit_image(path, channels, size)
        except FileNotFoundError:
            raise UserError(f"{path}: no such image file") from None
        except (OSError, ValueError) as error:
            raise UserError(f"{path}: cannot read this image ({error})") from None
        with shenjing.no_grad():
            probabilities = shenjing.softmax(model(image.unsqueeze(0)), dim=1)[0]
        digit = int(probabilities.argmax().item())
        listed = "  ".join(f"{d}:{p:.3f}" for d, p in enumerate(probabilities.tolist()))
        print(f"{path}: {digit} (probability {probabilities[digit].item():.3f})\n  {listed}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shenjing", description="shenjing: neural networks on NumPy")
    parser.add_argument("--version", action="version", version=f"shenjing {shenjing.__version__}")
    commands = parser.add_subparsers(dest="command")

    train = commands.add_parser("train", help="train one of the course's models",
                                description="Train a model; `shenjing train lenet` is the main job.")
    train.add_argument("model", help="lenet, mlp, course-cnn, xo, rnn, perceptron or xor")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--optimizer", choices=["sgd", "adam", "adamw"])
    train.add_argument("--hidden", type=int, help="hidden units (mlp, xo, rnn, xor)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", help="where to save the model (default: MODEL.shenjing)")
    train.add_argument("--data-dir", help="a folder with the MNIST files (default: the bundled 5,000 digits)")
    train.add_argument("--download", action="store_true", help="download MNIST into --data-dir if missing")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("evaluate", help="test a saved model on the test digits")
    evaluate.add_argument("model_file")
    evaluate.add_argument("--data-dir")
    evaluate.add_argument("--download", action="store_true")
    evaluate.add_argument("--quiet", action="store_true")
    evaluate.set_defaults(run=_evaluate)

    predict = commands.add_parser("predict", help="read digits in image files (PNG, JPG, any size or colour)")
    predict.add_argument("model_file")
    predict.add_argument("images", nargs="+")
    predict.set_defaults(run=_predict)

    from shenjing.teach.commands import add_commands

    add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except UserError as error:
        print(f"shenjing: error: {error}", file=sys.stderr)
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
