"""Containers: ``Sequential`` (a pipeline), ``ModuleList`` and ``ModuleDict`` (registered collections).

A plain Python list of layers is invisible to ``parameters()`` and ``state_dict()``; these containers
register their items as children named ``'0'``, ``'1'``, ... (or by their dict keys), so the
state_dict keys read ``'0.weight'``, ``'layers.2.bias'``, as in PyTorch.
"""

from __future__ import annotations

import operator
import warnings
from collections import OrderedDict, abc
from itertools import groupby
from typing import Any, Iterable, Iterator, Mapping

from shenjing.nn.modules.module import Module, _indent

__all__ = ["Container", "Sequential", "ModuleList", "ModuleDict"]


class Container(Module):
    """Deprecated (as in PyTorch): a Module whose keyword arguments become its children. Subclass
    ``Module`` instead.

    >>> import warnings
    >>> from shenjing import nn
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     nn.Container(act=nn.ReLU())
    Container(
      (act): ReLU()
    )
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        warnings.warn("`nn.Container` is deprecated. All of its functionality is now implemented in `nn.Module`. "
                      "Subclass that instead.", stacklevel=2)
        for name, module in kwargs.items():
            self.add_module(name, module)


def _absolute_index(index: Any, length: int) -> int:
    """``index`` as a position in ``range(length)``; negative counts from the end."""
    index = operator.index(index)
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range")
    return index + length if index < 0 else index


class Sequential(Module):
    """A chain of modules: ``forward(x)`` feeds ``x`` through each in turn.

    ``Sequential(m0, m1, ...)`` names the children ``'0'``, ``'1'``, ...;
    ``Sequential(OrderedDict([('name', m), ...]))`` keeps the given names.

    >>> from shenjing import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Identity())
    >>> net
    Sequential(
      (0): Flatten(start_dim=1, end_dim=-1)
      (1): Identity()
    )
    >>> len(net), type(net[-1]).__name__, len(net[:1])
    (2, 'Identity', 1)
    """

    def __init__(self, *args: Module) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(args):
                self.add_module(str(index), module)

    def forward(self, input: Any) -> Any:
        for module in self:
            input = module(input)
        return input

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def _key(self, index: Any) -> str:
        return list(self._modules)[_absolute_index(index, len(self))]

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        return self._modules[self._key(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, self._key(index), module)

    def __delitem__(self, index: int | slice) -> None:
        keys = list(self._modules)[index] if isinstance(index, slice) else [self._key(index)]
        for key in keys:
            Module._structure_version += 1  # (compiled models re-check their structure)
            del self._modules[key]
        self._renumber()

    def _renumber(self) -> None:
        """Keep the keys '0', '1', ... consecutive after a deletion (PyTorch does the same)."""
        modules = list(self._modules.values())
        self._modules.clear()
        for index, module in enumerate(modules):
            Module._structure_version += 1  # (compiled models re-check their structure)
            self._modules[str(index)] = module

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        """Insert ``module`` before position ``index``; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: expected a Module, got {type(module).__name__}")
        length = len(self)
        if not -length <= index <= length:
            raise IndexError(f"Index out of range: {index}")
        index = index + length if index < 0 else index
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for position, item in enumerate(modules):
            Module._structure_version += 1  # (compiled models re-check their structure)
            self._modules[str(position)] = item
        return self

    def extend(self, sequential: Iterable[Module]) -> "Sequential":
        """Append every module of ``sequential``; returns self."""
        for module in sequential:
            self.append(module)
        return self

    def pop(self, index: int | slice) -> Module:
        module = self[index]
        del self[index]
        return module

    def __add__(self, other: "Sequential") -> "Sequential":
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but "
                             f"{type(other).__name__} is given.")
        return Sequential(*self, *other)


class ModuleList(Module):
    """A list of modules, registered as children ``'0'``, ``'1'``, ... (it has no ``forward``).

    >>> from shenjing import nn
    >>> layers = nn.ModuleList([nn.Identity() for _ in range(3)])
    >>> layers.append(nn.Flatten())
    ModuleList(
      (0-2): 3 x Identity()
      (3): Flatten(start_dim=1, end_dim=-1)
    )
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[str(_absolute_index(index, len(self)))]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, str(_absolute_index(index, len(self))), module)

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self._modules.values())
        del modules[index if isinstance(index, slice) else _absolute_index(index, len(self))]
        self._modules.clear()
        for position, module in enumerate(modules):
            Module._structure_version += 1  # (compiled models re-check their structure)
            self._modules[str(position)] = module

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> "ModuleList":
        return ModuleList(list(self) + list(other))

    def append(self, module: Module) -> "ModuleList":
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        """Append every module of the iterable ``modules``; returns self."""
        if not isinstance(modules, abc.Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable, but got "
                            f"{type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.insert: expected a Module, got {type(module).__name__}")
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for position, item in enumerate(modules):
            Module._structure_version += 1  # (compiled models re-check their structure)
            self._modules[str(position)] = item

    def pop(self, index: int | slice) -> Module:
        module = self[index]
        del self[index]
        return module

    def __repr__(self) -> str:
        # Runs of children with the same repr print once: "(0-2): 3 x Linear(...)", as in PyTorch.
        lines, start = [], 0
        for text, group in groupby(repr(module) for module in self):
            count = len(list(group))
            label = f"({start}): " if count == 1 else f"({start}-{start + count - 1}): {count} x "
            lines.append(_indent(label + text, 2))
            start += count
        if not lines:
            return self._get_name() + "()"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of modules, registered as children under their keys (it has no ``forward``).

    >>> from shenjing import nn
    >>> heads = nn.ModuleDict({"flat": nn.Flatten(), "same": nn.Identity()})
    >>> list(heads), type(heads["same"]).__name__
    (['flat', 'same'], 'Identity')
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        Module._structure_version += 1  # (compiled models re-check their structure)
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def clear(self) -> None:
        self._modules.clear()

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) entries from a mapping or from an iterable of ``(key, module)`` pairs."""
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        if not isinstance(modules, abc.Iterable):
            raise TypeError(f"ModuleDict.update should be called with an iterable of key/value pairs, but "
                            f"got {type(modules).__name__}")
        for position, pair in enumerate(modules):
            if not isinstance(pair, abc.Iterable) or isinstance(pair, str):
                raise TypeError(f"ModuleDict update sequence element #{position} should be Iterable; is "
                                f"{type(pair).__name__}")
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(f"ModuleDict update sequence element #{position} has length {len(pair)}; "
                                 f"2 is required")
            self[pair[0]] = pair[1]
