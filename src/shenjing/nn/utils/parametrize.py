"""Parametrizations (PyTorch's ``torch.nn.utils.parametrize``): a tensor of a module computed from others.

``register_parametrization(module, "weight", P)`` removes the parameter ``weight`` and keeps it, as
``module.parametrizations.weight.original``; reading ``module.weight`` then returns ``P(original)``, freshly
computed (so gradients flow to ``original``). Parametrizations stack (``P2(P1(original))``); assigning
``module.weight = value`` stores ``P.right_inverse(value)`` into ``original``. The state_dict holds
``parametrizations.weight.original`` (or ``original0``, ``original1``, ... when ``right_inverse`` returns
several tensors), and the parametrization modules' own buffers (``parametrizations.weight.0.<name>``).

As in PyTorch, the module's class is swapped for a subclass ``Parametrized<Name>`` that holds one property per
parametrized tensor; ``remove_parametrizations`` puts the plain class back.

>>> import shenjing
>>> from shenjing import nn
>>> class Symmetric(nn.Module):
...     def forward(self, X):
...         return X.triu() + X.triu(1).transpose(0, 1)
>>> layer = nn.Linear(3, 3)
>>> _ = register_parametrization(layer, "weight", Symmetric())
>>> shenjing.equal(layer.weight, layer.weight.T), type(layer).__name__
(True, 'ParametrizedLinear')
>>> list(layer.state_dict())
['bias', 'parametrizations.weight.original']
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.nn.modules.container import ModuleDict, ModuleList
from shenjing.nn.modules.module import Module
from shenjing.nn.parameter import Parameter

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "type_before_parametrizations", "ParametrizationList"]

_cache_enabled = 0
_cache: dict[tuple[Module, str], Tensor] = {}  # (module, tensor name) -> value, only inside ``cached()``


@contextlib.contextmanager
def cached() -> Iterator[None]:
    """Inside this block each parametrized tensor is computed once, on first access, and then reused (e.g.
    a weight read at every step of an RNN); the cache is emptied on leaving the outermost block."""
    global _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache.clear()


def _register_parameter_or_buffer(module: Module, name: str, value: Tensor) -> None:
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


def _check_like(what: str, new: Any, old: Tensor) -> None:
    if not isinstance(new, Tensor):
        raise ValueError(f"{what} must return a tensor. Got {type(new).__name__}.")
    if new.dtype != old.dtype:
        raise ValueError(f"{what} may not change the dtype of the tensor, unless `unsafe` flag is enabled.\n"
                         f"unparametrized dtype: {old.dtype}\nparametrized dtype: {new.dtype}")
    if new.shape != old.shape:
        raise ValueError(f"{what} may not change the shape of the tensor, unless `unsafe` flag is enabled.\n"
                         f"unparametrized shape: {old.shape}\nparametrized shape: {new.shape}")


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the tensor(s) they start from: ``original``,
    or ``original0``, ``original1``, ... when the first parametrization's ``right_inverse`` returns a
    sequence. Created by ``register_parametrization``."""

    def __init__(self, modules: Sequence[Module], original: Tensor, unsafe: bool = False) -> None:
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        new = original
        if hasattr(first, "right_inverse"):
            try:
                with no_grad():
                    new = first.right_inverse(original)
            except NotImplementedError:  # as PyTorch: then right_inverse is taken as the identity
                pass
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if not unsafe and (new.dtype != original.dtype or new.shape != original.shape):
                _check_like("When `right_inverse` outputs one tensor, it", new, original)
            if new is not original:
                with no_grad():
                    original.data = new.detach().clone()  # the same object: optimisers holding it still see it
            _register_parameter_or_buffer(self, "original", original)
        else:
            if not all(isinstance(t, Tensor) for t in new):
                raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                                 f"Got {type(new).__name__}")
            for i, value in enumerate(new):
                value = value.detach().clone()
                if isinstance(original, Parameter):
                    value = Parameter(value, original.requires_grad)
                _register_parameter_or_buffer(self, f"original{i}", value)
        if not unsafe:
            value = self()
            _check_like("A parametrization", value, original)

    def right_inverse(self, value: Tensor) -> None:
        """Store ``value`` as the parametrized tensor: the right inverses, last parametrization first, give
        the new original(s)."""
        with no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not implement right_inverse.")
                value = module.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got {type(value).__name__}")
                if not self.unsafe:
                    _check_like("The tensor returned by `right_inverse`", value, self.original)
                self.original.data = value.detach().clone()
            else:
                if not isinstance(value, (list, tuple)) or len(value) != self.ntensors:
                    raise ValueError(f"'right_inverse' must return a sequence of {self.ntensors} tensors.")
                for i, tensor in enumerate(value):
                    getattr(self, f"original{i}").data = tensor.detach().clone()

    def forward(self) -> Tensor:
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _parametrized_value(module: Module, name: str) -> Tensor:
    overrides = module.__dict__.get("_parametrization_overrides")
    if overrides and name in overrides:  # functional_call given the tensor itself: the parametrization is off
        return overrides[name]
    if _cache_enabled:
        key = (module, name)
        if key not in _cache:
            _cache[key] = module.parametrizations[name]()
        return _cache[key]
    return module.parametrizations[name]()


def _inject_property(module: Module, name: str) -> None:
    def getter(self: Module) -> Tensor:
        return _parametrized_value(self, name)

    def setter(self: Module, value: Tensor) -> None:
        self.parametrizations[name].right_inverse(value)

    setattr(type(module), name, property(getter, setter))


def _refuse_pickle(self: Module) -> None:
    raise RuntimeError("Serialization of parametrized modules is only supported through state_dict().")


def _deepcopy(self: Module, memo: dict) -> Module:
    """``copy.deepcopy`` stays allowed (pickling is refused): a new object of the same class, its dict copied."""
    import copy

    replica = type(self).__new__(type(self))
    memo[id(self)] = replica
    replica.__dict__.update(copy.deepcopy(self.__dict__, memo))
    return replica


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Make ``module.<tensor_name>`` the output of ``parametrization`` applied to the stored original.

    The first parametrization of a tensor calls ``parametrization.right_inverse(weight)`` (if it has one) to
    initialise the original; a second one is applied on top of the first. Unless ``unsafe``, the output must
    keep the tensor's shape and dtype. Returns ``module``.
    """
    if not isinstance(parametrization, Module):
        raise TypeError(f"parametrization must be an nn.Module, got {type(parametrization).__name__}")
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            current = getattr(module, tensor_name)
            value = parametrization(current)
            _check_like("Registering a parametrization", value, current)
            if hasattr(parametrization, "right_inverse"):
                back = parametrization.right_inverse(value)
                if not isinstance(back, Tensor):
                    raise ValueError(f"parametrization.right_inverse must return a tensor. Got: "
                                     f"{type(back).__name__}")
                _check_like("right_inverse", back, current)
        module.parametrizations[tensor_name].append(parametrization)
        module.parametrizations[tensor_name].unsafe |= unsafe
        return module
    if tensor_name in module._parameters or tensor_name in module._buffers:
        original = getattr(module, tensor_name)
        if original is None:
            raise ValueError(f"Module '{module}' has no parameter or buffer with name '{tensor_name}'")
        parametrizations = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            cls = type(module)
            namespace: dict[str, Any] = {"__getstate__": _refuse_pickle}
            if not hasattr(cls, "__deepcopy__"):
                namespace["__deepcopy__"] = _deepcopy
            module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), namespace)
            module.parametrizations = ModuleDict()
        module.parametrizations[tensor_name] = parametrizations
        _inject_property(module, tensor_name)
        return module
    raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element with name "
                     f"'{tensor_name}'")


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has a parametrization (on ``tensor_name``, if given)."""
    parametrizations = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(parametrizations, ModuleDict):
        return False
    return len(parametrizations) > 0 if tensor_name is None else tensor_name in parametrizations


def type_before_parametrizations(module: Module) -> type:
    """The class of ``module`` as it was before its parametrizations (its own class if it has none)."""
    return type(module).__bases__[0] if is_parametrized(module) else type(module)


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Put a plain parameter (or buffer) ``tensor_name`` back: with ``leave_parametrized`` its current
    parametrized value (in the same original ``Parameter`` object, so an optimiser keeps working), else the
    unparametrized original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    parametrizations = module.parametrizations[tensor_name]
    if parametrizations.is_tensor:
        original = parametrizations.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
            if value.dtype != original.dtype:
                raise RuntimeError("Calling remove_parametrizations() with leave_parametrized=True for a parameter "
                                   "that is an instance of a tensor subclass requires set_() to be implemented "
                                   "correctly for the tensor subclass.")
            original.data = value.detach().clone()
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized "
                             "in terms of a sequence of tensors.")
        with no_grad():
            value = getattr(module, tensor_name)
        requires_grad = parametrizations.original0.requires_grad
        original = Parameter(value.detach().clone(), requires_grad) if isinstance(
            parametrizations.original0, Parameter) else value.detach().clone()
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = type(module).__bases__[0]
    return module
