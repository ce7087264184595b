"""Command-line commands of one group of teaching tools (filled in by the teaching-tools work)."""

from __future__ import annotations

import argparse


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add this group's subcommands; each sets ``run=handler`` and returns an exit code."""
