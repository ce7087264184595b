"""``functional_call``: run a module with other parameters and buffers, without changing it (PyTorch's
``torch.nn.utils.stateless`` / ``torch.func.functional_call``), e.g. for meta-learning or per-sample maths.

>>> import shenjing
>>> from shenjing import nn
>>> layer = nn.Linear(2, 1)
>>> weights = {"weight": shenjing.ones(1, 2), "bias": shenjing.zeros(1)}
>>> shenjing.func.functional_call(layer, weights, (shenjing.tensor([[1.0, 2.0]]),))
tensor([[3.]])
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator, Mapping, Sequence

from shenjing._tensor import Tensor

__all__ = ["functional_call"]


def _tied_names(module: Any) -> dict[str, list[str]]:
    """For every parameter or buffer reachable under several names: first name -> the other names."""
    first_name: dict[Any, str] = {}
    tied: dict[str, list[str]] = {}
    for registry in ("_parameters", "_buffers"):
        for prefix, submodule in module.named_modules(remove_duplicate=False):
            for name, value in getattr(submodule, registry).items():
                if value is None:
                    continue
                full = f"{prefix}.{name}" if prefix else name
                if value in first_name:
                    if first_name[value] != full and full not in tied.setdefault(first_name[value], []):
                        tied[first_name[value]].append(full)
                else:
                    first_name[value] = full
    return tied


@contextlib.contextmanager
def _swapped(module: Any, values: Mapping[str, Any]) -> Iterator[None]:
    """Put ``values`` (dotted path -> tensor) in place of the module's own, and restore them afterwards."""
    from shenjing.nn.utils.parametrize import is_parametrized

    saved: list[tuple[Any, str, str, Any]] = []
    try:
        for path, value in values.items():
            owner_path, _, name = path.rpartition(".")
            owner = module.get_submodule(owner_path)
            if is_parametrized(owner, name):  # as PyTorch: the value replaces the parametrized tensor itself
                overrides = owner.__dict__.setdefault("_parametrization_overrides", {})
                saved.append((owner, "_parametrization_overrides", name, overrides.get(name, _ABSENT)))
                overrides[name] = value
                continue
            for registry in ("_parameters", "_buffers"):
                if name in getattr(owner, registry):
                    saved.append((owner, registry, name, getattr(owner, registry)[name]))
                    getattr(owner, registry)[name] = value
                    break
            else:
                saved.append((owner, "__dict__", name, owner.__dict__.get(name, _ABSENT)))
                object.__setattr__(owner, name, value)
        yield
    finally:
        for owner, registry, name, old in reversed(saved):
            if registry == "_parametrization_overrides":
                overrides = owner.__dict__[registry]
                if old is _ABSENT:
                    overrides.pop(name, None)
                else:
                    overrides[name] = old
                if not overrides:
                    del owner.__dict__[registry]
            elif registry == "__dict__":
                if old is _ABSENT:
                    owner.__dict__.pop(name, None)
                else:
                    owner.__dict__[name] = old
            else:
                getattr(owner, registry)[name] = old


_ABSENT = object()


def functional_call(module: Any, parameter_and_buffer_dicts: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                    args: Any = None, kwargs: dict | None = None, *, tie_weights: bool = True,
                    strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` with the parameters and buffers named in ``parameter_and_buffer_dicts``
    (dotted paths, as in ``state_dict``; one dict or a sequence of dicts with distinct keys) replaced by the
    given tensors for this call only. Gradients flow to the given tensors.

    ``tie_weights``: a weight shared under two names, given under one, is replaced under both.
    ``strict``: every parameter and buffer must be given, and nothing else. For a parametrized tensor, a value
    under its own name (``"weight"``) is used as it is (the parametrization is off for the call); under
    ``"parametrizations.weight.original"`` it goes through the parametrization.
    """
    warnings.warn("This API is deprecated as of PyTorch 2.0 and will be removed in a future version of PyTorch. "
                  "Please use torch.func.functional_call instead which is a drop-in replacement.",
                  FutureWarning, stacklevel=2)
    return _functional_call(module, parameter_and_buffer_dicts, args, kwargs, tie_weights=tie_weights,
                            strict=strict)


def _functional_call(module: Any, parameter_and_buffer_dicts: Any, args: Any = None, kwargs: dict | None = None,
                     *, tie_weights: bool = True, strict: bool = False) -> Any:
    if isinstance(parameter_and_buffer_dicts, Mapping):
        values = dict(parameter_and_buffer_dicts)
    elif isinstance(parameter_and_buffer_dicts, Sequence) and all(
            isinstance(d, Mapping) for d in parameter_and_buffer_dicts):
        values = {}
        for mapping in parameter_and_buffer_dicts:
            for key, value in mapping.items():
                if key in values:
                    raise ValueError(f"{key} appeared in multiple dictionaries; behavior of functional call is "
                                     f"ambiguous")
                values[key] = value
    else:
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
                         f"{type(parameter_and_buffer_dicts)}")
    for key, value in values.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"functional_call: the value for '{key}' must be a Tensor, got {type(value).__name__}")
    if tie_weights:
        for first, others in _tied_names(module).items():
            given = [name for name in [first] + others if name in values]
            if given:
                for name in [first] + others:
                    if name in values and values[name] is not values[given[0]]:
                        raise ValueError(f"functional_call got multiple values for keys {given}, which are tied. "
                                         f"Consider using tie_weights=False")
                    values.setdefault(name, values[given[0]])
    if strict:
        expected = [name for name, _ in module.named_parameters(remove_duplicate=False)]
        expected += [name for name, _ in module.named_buffers(remove_duplicate=False)]
        missing = [name for name in expected if name not in values]
        unexpected = [name for name in values if name not in expected]
        if missing or unexpected:
            raise RuntimeError("Error(s) in reparametrizing for " f"{type(module).__name__}:\n\t"
                               + (f"Missing key(s): {', '.join(map(repr, missing))}.\n\t" if missing else "")
                               + (f"Unexpected key(s): {', '.join(map(repr, unexpected))}." if unexpected else ""))
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, values):
        return module(*args, **(kwargs or {}))
