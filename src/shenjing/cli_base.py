"""What every command of the ``shenjing`` command line shares, below both ``shenjing.cli`` and
``shenjing.teach``: the one-line user error, reading a model file, and finding a model by its name
or its file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["UserError", "load_model_file", "model_by_name_or_file", "missing_extra"]


class UserError(Exception):
    """A mistake in the command line or its inputs: reported as ``shenjing: error: ...``, exit code 2."""


def load_model_file(path: str) -> tuple[Any, dict]:
    """(model in eval mode, the file's contents) of a file written by ``shenjing train``; UserError if it
    is missing or not a model file."""
    from shenjing.registry import load_model

    try:
        return load_model(path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, not a model file") from None
    except Exception as error:  # any failure to read it means: not a usable model file
        raise UserError(f"{path} is not a shenjing model file ({error})") from None


def model_by_name_or_file(spec: str) -> tuple[Any, Any, str]:
    """(model, its registry entry, its name) for a model name (a fresh model) or a model file."""
    from shenjing.registry import MODELS

    if spec in MODELS:
        entry = MODELS[spec]
        return entry.make(), entry, spec
    if not Path(spec).exists():
        raise UserError(f"'{spec}' is neither a model name ({', '.join(MODELS)}) nor an existing model file")
    model, contents = load_model_file(spec)
    name = contents["model"]
    return model, MODELS[name], name


def missing_extra(error: ImportError) -> UserError | None:
    """The one-line UserError for an ImportError that names an extra to install (matplotlib, pillow),
    or None for any other ImportError."""
    if "pip install" in str(error) and "shenjing[" in str(error):
        return UserError(str(error))
    return None
