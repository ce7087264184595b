"""Weight normalisation (Salimans and Kingma, 2016) in PyTorch's original form: ``weight_norm(module)``
replaces ``weight`` by two parameters, ``weight_g`` (the norms) and ``weight_v`` (the directions), and
recomputes weight = g v / ||v|| before every forward (the norm over every dim but ``dim``);
``remove_weight_norm`` folds them back into one ``weight``.

    layer = shenjing.nn.utils.weight_norm(shenjing.nn.Linear(3, 2))   # parameters: bias, weight_g, weight_v
"""

from __future__ import annotations

import warnings
from typing import Any

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.nn.parameter import Parameter

__all__ = ["weight_norm", "remove_weight_norm"]


def _norm_except(v: Tensor, dim: int | None) -> Tensor:
    """||v|| over every dim but ``dim`` (kept as size 1 there); over everything when ``dim`` is None or -1
    (PyTorch's norm_except_dim reads -1 as "no dim")."""
    if dim is None or dim == -1:
        return (v * v).sum().sqrt()
    dim = dim % v.dim()
    others = tuple(d for d in range(v.dim()) if d != dim)
    return (v * v).sum(others, keepdim=True).sqrt()


class _WeightNorm:
    """The forward pre-hook that recomputes ``name`` from ``name_g`` and ``name_v``."""

    def __init__(self, name: str, dim: int | None) -> None:
        self.name, self.dim = name, dim

    def compute(self, module: Any) -> Tensor:
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / _norm_except(v, self.dim))

    def __call__(self, module: Any, inputs: Any) -> None:
        object.__setattr__(module, self.name, self.compute(module))


def weight_norm(module: Any, name: str = "weight", dim: int | None = 0) -> Any:
    """Reparameterise ``module.<name>`` as g v / ||v|| (g: the norms over every dim but ``dim``; None: one norm)."""
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _WeightNorm) and hook.name == name:
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
    weight = getattr(module, name)
    hook = _WeightNorm(name, dim)
    del module._parameters[name]
    with no_grad():
        g = _norm_except(weight, dim)
    module.register_parameter(name + "_g", Parameter(g.detach().clone()))
    module.register_parameter(name + "_v", Parameter(weight.detach().clone()))
    object.__setattr__(module, name, hook.compute(module))
    handle = module.register_forward_pre_hook(hook)
    hook.handle = handle
    return module


def remove_weight_norm(module: Any, name: str = "weight") -> Any:
    """Undo ``weight_norm``: one parameter ``name`` again, with the current value g v / ||v||."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, _WeightNorm) and hook.name == name:
            with no_grad():
                weight = hook.compute(module)
            hook.handle.remove()
            del module._parameters[name + "_g"], module._parameters[name + "_v"]
            module.__dict__.pop(name, None)
            module.register_parameter(name, Parameter(weight.detach().clone()))
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
