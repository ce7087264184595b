"""``swap_in_optimizer_params_and_state``: run an optimiser on other parameters and another state for a while."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Any, Iterator

from shenjing._tensor import Tensor
from shenjing.optim.optimizer import Optimizer

__all__ = ["swap_in_optimizer_params_and_state"]


@contextlib.contextmanager
def swap_in_optimizer_params_and_state(optimizer: Optimizer, swapin_parameters: dict[str, Tensor],
                                       swapin_optim_state: dict[str, Any]) -> Iterator[None]:
    """Inside the ``with`` block, ``optimizer`` works on ``swapin_parameters`` (in the order of its own
    parameters) with the state and group options of ``swapin_optim_state`` (an ``optimizer.state_dict()``
    layout); on exit its own parameters, options and state come back. In-place updates of the swapped-in
    state's tensors stay in ``swapin_optim_state``; other changes to it are dropped.

    >>> import shenjing
    >>> w = shenjing.ones(2, requires_grad=True)
    >>> opt = shenjing.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad = shenjing.ones(2); opt.step()
    >>> other = shenjing.zeros(2, requires_grad=True); other.grad = shenjing.ones(2)
    >>> with swap_in_optimizer_params_and_state(opt, {"w": other}, opt.state_dict()):
    ...     opt.step()
    >>> other, w
    (tensor([-0.1900, -0.1900], requires_grad=True), tensor([0.9000, 0.9000], requires_grad=True))
    """
    state, swaps = _prepare(optimizer, swapin_parameters, swapin_optim_state)
    original_state = optimizer.state
    snapshots = [dict(group) for group in optimizer.param_groups]
    try:
        swapped: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for group, saved_group, params in swaps:
            group["params"] = params
            group.update({key: value for key, value in saved_group.items() if key != "params"})
            for param, index in zip(params, saved_group["params"]):
                swapped[param] = dict(state.get(index, {}))
        optimizer.state = swapped
        yield
    finally:
        for group, snapshot in zip(optimizer.param_groups, snapshots):
            group.clear()
            group.update(snapshot)
        optimizer.state = original_state


def _prepare(optimizer: Optimizer, swapin_parameters: dict[str, Tensor],
             swapin_optim_state: Any) -> tuple[dict[Any, Any], list[tuple[dict, dict, list[Tensor]]]]:
    """PyTorch's checks, with its messages; the saved state and, per group, (live group, saved group, params)."""
    name = "swap_in_optimizer_params_and_state"
    if not optimizer.state:
        raise RuntimeError(f"{name} requires initialized optimizer state.")
    if not isinstance(swapin_optim_state, dict):
        raise RuntimeError(f"{name} requires a DCP-style optimizer state_dict.")
    state = swapin_optim_state.get("state")
    if not isinstance(state, dict):
        raise RuntimeError(f"{name} requires swapin_optim_state['state'] to be a dict mapping packed parameter ids "
                           f"to per-param state dicts, got {type(state).__name__}.")
    if any(isinstance(key, Tensor) for key in state):
        raise RuntimeError(f"{name} requires optimizer.state_dict()-style state keyed by packed parameter ids.")
    if any(isinstance(key, int) and not isinstance(value, dict) for key, value in state.items()):
        raise RuntimeError(f"{name} requires per-parameter optimizer state entries to be dictionaries.")
    saved_groups = swapin_optim_state.get("param_groups")
    if not isinstance(saved_groups, list):
        raise RuntimeError(f"{name} requires swapin_optim_state['param_groups'] to be a list of param-group dicts, "
                           f"got {type(saved_groups).__name__}.")
    if len(saved_groups) != len(optimizer.param_groups):
        raise RuntimeError("swapin_optim_state has a different number of parameter groups than the live optimizer.")
    parameters = list(swapin_parameters.values())
    offset, seen, swaps = 0, set(), []
    for i, (group, saved) in enumerate(zip(optimizer.param_groups, saved_groups)):
        if not isinstance(saved, dict):
            raise RuntimeError(f"{name} requires each optimizer param group to be a dictionary.")
        indices = saved.get("params")
        if not isinstance(indices, list) or not all(isinstance(index, int) for index in indices):
            raise RuntimeError(f"{name} requires optimizer.state_dict()-style param_groups[*]['params'] entries "
                               f"keyed by packed parameter ids.")
        if len(group["params"]) != len(indices):
            raise RuntimeError(f"swapin_optim_state param group {i} has a different number of params than the live "
                               f"optimizer param group.")
        saved_only = [key for key in saved if key not in group]
        live_only = [key for key in group if key not in saved]
        if saved_only or live_only:
            raise RuntimeError(f"{name} requires optimizer.state_dict()-style param group keys to exactly match the "
                               f"live optimizer group keys for group {i}. Keys only in swap-in: {saved_only}. Keys "
                               f"only in live: {live_only}.")
        seen.update(indices)
        if offset + len(indices) > len(parameters):
            raise RuntimeError(f"{name} requires the explicit parameter state to match optimizer.param_groups "
                               f"ordering.")
        swaps.append((group, saved, parameters[offset:offset + len(indices)]))
        offset += len(indices)
    extra = [key for key in state if key not in seen]
    if extra:
        raise RuntimeError(f"{name} requires swapin_optim_state['state'] to be keyed only by packed parameter ids "
                           f"from param_groups[*]['params']; got extra keys {extra!r}.")
    return state, swaps
