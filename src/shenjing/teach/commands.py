"""The teaching tools' command-line commands, added to ``shenjing``'s parser by ``shenjing.cli``.

Each group of tools registers its own subcommands in its own module.
"""

from __future__ import annotations

import argparse


def add_commands(commands: argparse._SubParsersAction) -> None:
    from shenjing.teach import numbers_cli, plots_cli

    numbers_cli.add_commands(commands)
    plots_cli.add_commands(commands)

    from shenjing.teach.playground import cli as playground_cli

    playground_cli.add_commands(commands)
