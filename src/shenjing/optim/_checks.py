"""Option checks shared by the optimisers: betas, and PyTorch's device and autograd flags on a CPU.

- ``capturable`` (CUDA graphs): accepted at construction, and ``step()`` fails as PyTorch's does for CPU
  parameters, with its AssertionError.
- ``differentiable`` (autograd through the update): accepted; shenjing's updates run on arrays outside
  autograd, so ``step()`` with a parameter that requires grad fails as PyTorch's does for a leaf (its
  in-place update of a leaf that requires grad is refused); for parameters that don't require grad the
  update is the plain one.
- ``fused`` (one kernel per group): accepted where PyTorch has it (SGD, Adam, AdamW, Adagrad), with its
  checks; the update is the multi-tensor one (the same arithmetic).
"""

from __future__ import annotations

from typing import Any, Callable

from shenjing.optim.optimizer import Optimizer, check_in_range

_CAPTURABLE_DEVICES = "['cuda', 'xpu', 'hpu', 'privateuseone', 'xla']"


class FlaggedOptimizer(Optimizer):
    """An optimiser whose groups may carry ``capturable`` / ``differentiable``: ``step()`` checks them first."""

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        for group in self.param_groups:
            check_step_flags(group)
        return super().step(closure)


def check_step_flags(group: dict[str, Any]) -> None:
    """Raise as PyTorch's step does on a CPU for ``capturable=True``, and for ``differentiable=True``
    with a parameter that requires grad."""
    if not (group.get("capturable") or group.get("differentiable")):
        return
    with_grad = [p for p in group["params"] if p.grad is not None]
    if not with_grad:
        return
    if group.get("capturable"):
        raise AssertionError(f"If capturable=True, params and state_steps must be on supported devices: "
                             f"{_CAPTURABLE_DEVICES}.")
    if group.get("differentiable") and any(p.requires_grad for p in with_grad):
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


def check_fused(fused: bool | None, foreach: bool | None, differentiable: bool) -> None:
    """PyTorch's construction checks of ``fused``."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def check_flags(options: dict[str, Any], *names: str) -> None:
    """ValueError unless each named option is a bool (``fused`` may also be None)."""
    for name in names:
        value = options.get(name)
        if not (isinstance(value, bool) or (name == "fused" and value is None)):
            raise ValueError(f"Invalid {name} value: {value!r} (expected True or False)")


def check_betas(betas: Any) -> None:
    """ValueError unless ``betas`` is a pair of numbers in [0, 1) (PyTorch's messages)."""
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ValueError(f"Invalid betas: {betas!r} (expected a pair (beta1, beta2))")
    for i, beta in enumerate(betas):
        check_in_range(f"beta parameter at index {i}", beta, 0.0, 1.0, high_included=False)

