"""The optimiser base class: parameter groups, per-parameter state, zero_grad, state_dict.

Subclasses implement ``_update(p, grad, state, group)``: one short update of one parameter, on its
NumPy arrays, in place. ``state`` is ``self.state[p]`` (a dict of tensors) and ``group`` is the
parameter's group with its options (``lr``, ...), so per-group options just work. (A subclass may
also override ``_step_group(group)``, the update of a whole group, where that is faster.)
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad

__all__ = ["Optimizer"]


class Optimizer:
    """Holds ``param_groups`` (dicts with 'params' and options) and ``state`` (keyed by parameter)."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        self._scratch_arrays: dict[tuple, np.ndarray] = {}
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got a Tensor")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing options take the defaults)."""
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        seen = {p for group in self.param_groups for p in group["params"]}
        if any(p in seen for p in params) or len(set(params)) != len(params):
            raise ValueError("some parameters appear in more than one parameter group")
        group = {**self.defaults, **param_group, "params": params}
        for name, value in group.items():
            if value is _REQUIRED:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set ``.grad`` to None (default) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = p.grad.detach()
                    p.grad._data[...] = 0

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient. ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            from shenjing.autograd.grad_mode import enable_grad

            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        """Update the parameters of one group that have a gradient (``_update`` one at a time)."""
        maximize = group.get("maximize", False)
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            grad = -grad._data if maximize else grad._data
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {}
            self._update(p._data, grad, state, group)
            p._bump_version()

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    @staticmethod
    def _buffer(state: dict[str, Any], name: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """The array behind ``state[name]``, created (filled with ``fill``) on first use."""
        if name not in state:
            state[name] = Tensor._make(np.full_like(like, fill))
        return state[name]._data

    def _scratch(self, like: np.ndarray) -> np.ndarray:
        """A work array of ``like``'s shape and dtype, reused by every step (not part of the state)."""
        key = (like.shape, like.dtype)
        if key not in self._scratch_arrays:
            self._scratch_arrays[key] = np.empty_like(like)
        return self._scratch_arrays[key]

    @staticmethod
    def _next_step(state: dict[str, Any]) -> float:
        """Increment and return the step count (kept as a 0-d float32 tensor, as in PyTorch)."""
        step = state.get("step")
        count = (float(step.item()) if step is not None else 0.0) + 1.0
        state["step"] = Tensor._make(np.array(count, dtype=np.float32))
        return count

    # -- saving and resuming ------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` as in PyTorch."""
        index_of: dict[Tensor, int] = {}
        groups = []
        for group in self.param_groups:
            indices = []
            for p in group["params"]:
                index_of.setdefault(p, len(index_of))
                indices.append(index_of[p])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": indices})
        state = {index_of[p]: {k: _copy(v) for k, v in s.items()} for p, s in self.state.items() if p in index_of}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from ``state_dict()``: groups must have the same sizes as this optimiser's."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, this optimizer has "
                             f"{len(self.param_groups)}")
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"loaded state dict contains a parameter group {i} of size "
                                 f"{len(saved['params'])} that doesn't match the size of optimizer's group "
                                 f"({len(group['params'])})")
        params_by_index = {}
        for saved, group in zip(saved_groups, self.param_groups):
            params_by_index.update(zip(saved["params"], group["params"]))
            group.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
        self.state = {}
        for index, values in state_dict["state"].items():
            p = params_by_index[int(index)]
            self.state[p] = {k: _as_state_value(v, p) for k, v in values.items()}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


_REQUIRED = _Required()


def _copy(value: Any) -> Any:
    if isinstance(value, Tensor):
        return Tensor._make(value._data.copy())
    return copy.deepcopy(value)


def _as_state_value(value: Any, param: Tensor) -> Any:
    """Loaded state as tensors: step counts stay float32 scalars, buffers take the parameter's dtype."""
    if isinstance(value, np.ndarray):
        value = Tensor._make(value)
    if isinstance(value, Tensor):
        array = np.array(value._data, copy=True)
        if array.shape == param._data.shape:
            array = array.astype(param._data.dtype, copy=False)
        return Tensor._make(array)
    return copy.deepcopy(value)
