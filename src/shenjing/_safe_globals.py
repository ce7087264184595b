"""Which classes and functions a checkpoint may name (PyTorch's ``torch.serialization.add_safe_globals``).

A whole-module checkpoint stores each module's class by its path (``package.module.QualName``). Loading looks
the path up, never imports a module outside shenjing and never unpickles:

1. the allow-list (``add_safe_globals([Net])``, or ``with safe_globals([Net]):``): the objects themselves,
   keyed by their paths (or by the path given in a ``(obj, "path")`` pair);
2. shenjing's own classes and functions (paths under ``shenjing.``: modules already imported, or modules of
   its library packages, never ``shenjing.__main__`` or a script);
3. with ``load(..., weights_only=False)``: ``nn.Module`` subclasses and functions of modules that are already
   imported (``sys.modules``, e.g. ``__main__``), as PyTorch then loads whole models; still no code runs.

Anything else is refused with an error that names the class and how to allow it.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
from collections import OrderedDict
from typing import Any, Iterator, Sequence

__all__ = ["add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals", "path_of", "resolve"]

_ALLOWED: "OrderedDict[str, Any]" = OrderedDict()


def path_of(obj: Any) -> tuple[str, str]:
    """(module, qualified name) of a class or function; a ``TypeError`` when it cannot be found by name."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        raise TypeError(f"{obj!r} is defined inside a function (or is a lambda), so a checkpoint cannot name it; "
                        f"define it at the top level of a module")
    return module, qualname


def add_safe_globals(safe_globals: Sequence[Any]) -> None:
    """Allow ``load`` to rebuild these classes (and name these functions): each a class or function, or an
    ``(obj, "module.QualName")`` pair."""
    for item in safe_globals:
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[1], str):
                raise TypeError(f"expected a class, a function or an (obj, 'module.name') pair, got {item!r}")
            _ALLOWED[item[1]] = item[0]
        else:
            module, qualname = path_of(item)
            _ALLOWED[f"{module}.{qualname}"] = item


def get_safe_globals() -> list[Any]:
    """The allow-listed objects, in the order they were added."""
    return list(_ALLOWED.values())


def clear_safe_globals() -> None:
    """Empty the allow-list."""
    _ALLOWED.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: Sequence[Any]) -> Iterator[None]:
    """Allow these classes/functions inside the ``with`` block only.

    >>> import shenjing
    >>> with shenjing.serialization.safe_globals([shenjing.nn.Linear]):
    ...     shenjing.nn.Linear in shenjing.serialization.get_safe_globals()
    True
    """
    saved = OrderedDict(_ALLOWED)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        _ALLOWED.clear()
        _ALLOWED.update(saved)


def _attribute_path(root: Any, qualname: str) -> Any:
    value = root
    for part in qualname.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


# shenjing's library packages, whose modules only define things when imported (unlike ``shenjing.__main__``,
# which runs the command line, or the example scripts)
_LIBRARY_PACKAGES = ("nn", "models", "vision", "optim", "utils", "autograd", "linalg", "data", "teach")


def _importable_library_module(module: str) -> bool:
    parts = module.split(".")
    return (len(parts) >= 2 and parts[1] in _LIBRARY_PACKAGES and all(part.isidentifier() for part in parts)
            and "__main__" not in parts and not parts[-1].endswith("_cli"))


def resolve(module: str, qualname: str, *, want_module_class: bool, trust_imported: bool) -> Any:
    """The class or function at ``module.qualname`` if it may be used (see the module docstring), else None.

    ``want_module_class``: the object must be an ``nn.Module`` subclass unless it is allow-listed.
    """
    from shenjing.nn.modules.module import Module

    path = f"{module}.{qualname}"
    if path in _ALLOWED:
        return _ALLOWED[path]

    def fits(value: Any) -> bool:
        if want_module_class:
            return inspect.isclass(value) and issubclass(value, Module)
        return inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value)
    if module == "shenjing" or module.startswith("shenjing."):
        if module not in sys.modules and not _importable_library_module(module):
            return None
        try:
            value = _attribute_path(importlib.import_module(module), qualname)
        except ImportError:
            return None
        if fits(value) and (getattr(value, "__module__", "") or "").startswith("shenjing"):
            return value
        return None
    if trust_imported and module in sys.modules:
        value = _attribute_path(sys.modules[module], qualname)
        if fits(value) and not inspect.isbuiltin(value):
            return value
    return None
