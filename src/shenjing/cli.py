"""The ``shenjing`` command line (also ``python -m shenjing``).

    shenjing --version
    shenjing train xor [--epochs N] [--lr LR] [--hidden H] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import shenjing


class UserError(Exception):
    """A mistake in the command line or its inputs: reported in one line, exit code 2."""


def _train(args: argparse.Namespace) -> int:
    if args.model != "xor":
        raise UserError(f"unknown model '{args.model}'; available now: xor")
    from shenjing.examples.xor import INPUTS, train_xor

    result = train_xor(epochs=args.epochs, lr=args.lr, hidden=args.hidden, seed=args.seed,
                       progress=not args.quiet)
    print(f"trained a 2-{args.hidden}-1 sigmoid network on XOR for {args.epochs} epochs: "
          f"loss {result.losses[0]:.4f} -> {result.losses[-1]:.4f}")
    for inputs, prediction in zip(INPUTS, result.predictions):
        print(f"  {int(inputs[0])} xor {int(inputs[1])} -> {prediction:.3f}")
    print(f"accuracy: {result.accuracy:.0%}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shenjing", description="shenjing: neural networks on NumPy")
    parser.add_argument("--version", action="version", version=f"shenjing {shenjing.__version__}")
    commands = parser.add_subparsers(dest="command")
    train = commands.add_parser("train", help="train a model")
    train.add_argument("model", help="which model: xor")
    train.add_argument("--epochs", type=int, default=3000)
    train.add_argument("--hidden", type=int, default=4, help="hidden units (the notes' network has 2)")
    train.add_argument("--lr", type=float, default=2.0)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)
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


if __name__ == "__main__":
    sys.exit(main())
