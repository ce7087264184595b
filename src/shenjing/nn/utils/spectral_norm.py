"""Spectral normalisation (Miyato et al., 2018) in PyTorch's original form: ``spectral_norm(module)`` keeps
the weight as ``weight_orig`` and recomputes weight = weight_orig / sigma before every forward, sigma = u^T W v
the largest singular value of the weight seen as a matrix, estimated by power iteration. ``u`` and ``v`` are
the buffers ``weight_u`` / ``weight_v``, updated in place at each forward in training mode.
``remove_spectral_norm`` folds the normalised value back into one ``weight``. (The newer form is
``nn.utils.parametrizations.spectral_norm``.)

    layer = shenjing.nn.utils.spectral_norm(shenjing.nn.Linear(4, 3))   # weight_orig, weight_u, weight_v
"""

from __future__ import annotations

from typing import Any

import shenjing
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.nn import functional as F
from shenjing.nn.parameter import Parameter

__all__ = ["spectral_norm", "remove_spectral_norm"]


class _SpectralNormHook:
    """The forward pre-hook that sets ``module.<name>`` from ``<name>_orig``, ``<name>_u``, ``<name>_v``."""

    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float) -> None:
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module: Any, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with no_grad():
                matrix = weight_mat.detach()
                for _ in range(self.n_power_iterations):
                    v.copy_(F.normalize(shenjing.mv(matrix.T, u), dim=0, eps=self.eps))
                    u.copy_(F.normalize(shenjing.mv(matrix, v), dim=0, eps=self.eps))
            u, v = u.clone(), v.clone()
        sigma = shenjing.dot(u, shenjing.mv(weight_mat, v))
        return weight / sigma

    def __call__(self, module: Any, inputs: Any) -> None:
        object.__setattr__(module, self.name, self.compute_weight(module, do_power_iteration=module.training))


def spectral_norm(module: Any, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Any:
    """Divide ``module.<name>`` by its spectral norm before every forward (see the module docstring).

    ``dim``: the dim of the weight that becomes the rows of the matrix (default 1 for transposed
    convolutions, else 0). u and v start as normalised standard-normal vectors from shenjing's generator.
    """
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
    if dim is None:
        transposed = tuple(getattr(shenjing.nn, n) for n in ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
                           if hasattr(shenjing.nn, n))
        dim = 1 if isinstance(module, transposed) else 0
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
    hook = _SpectralNormHook(name, n_power_iterations, dim, eps)
    with no_grad():
        height, width = hook.reshape_weight_to_matrix(weight.detach()).shape
        u = F.normalize(shenjing.randn(height, dtype=weight.dtype), dim=0, eps=eps)
        v = F.normalize(shenjing.randn(width, dtype=weight.dtype), dim=0, eps=eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    object.__setattr__(module, name, weight.detach())  # a plain attribute until the first forward
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    hook.handle = module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module: Any, name: str = "weight") -> Any:
    """Undo ``spectral_norm``: one parameter ``name`` again, holding the current normalised weight."""
    for hook in list(module._forward_pre_hooks.values()):
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            with no_grad():
                weight = hook.compute_weight(module, do_power_iteration=False)
            hook.handle.remove()
            module.__dict__.pop(name, None)
            del module._parameters[name + "_orig"], module._buffers[name + "_u"], module._buffers[name + "_v"]
            module.register_parameter(name, Parameter(weight.detach().clone()))
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
