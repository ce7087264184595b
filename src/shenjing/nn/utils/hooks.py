"""``RemovableHandle``: what ``Module.register_forward_hook`` and friends return."""

from __future__ import annotations

import itertools
from typing import Any, Callable

__all__ = ["RemovableHandle"]


class RemovableHandle:
    """``remove()`` unregisters the hook; also a context manager that removes it at the end of a
    ``with`` block. Each handle has a unique ``id``, the hook's key in the module's ordered dicts.
    """

    _next_id = itertools.count()

    def __init__(self, hooks: "dict[int, Callable]", *extra: dict) -> None:
        self.id = next(RemovableHandle._next_id)
        self._registries = (hooks, *extra)

    def remove(self) -> None:
        for registry in self._registries:
            registry.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.remove()
