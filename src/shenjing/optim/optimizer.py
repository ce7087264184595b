"""The optimiser base class: parameter groups, per-parameter state, zero_grad, state_dict.

An algorithm subclasses ``Optimizer`` and writes its update twice, in PyTorch's layout:

- ``_single_tensor(param, grad, state, group)``: the specification, one parameter's update on its NumPy
  arrays, in place, as plain array expressions. ``state`` is ``self.state[p]`` (PyTorch's names:
  'step', 'exp_avg', 'momentum_buffer', ...) and ``group`` the parameter's group with its options.
- ``_multi_tensor(params, grads, states, group)``: the same arithmetic in the same order, so the same
  numbers to the bit, for the parameters of a group that share a dtype (PyTorch's ``foreach``): the
  group's scalars are computed once (as 0-d arrays of the dtype, see ``scalars``), and every array
  operation writes in place (``out=``) into the state or into ``self._scratch``, so a step allocates
  nothing.

``step()`` takes, in each group, the parameters whose ``.grad`` is not None, creates their state on
first use (``_init_state``) and runs the specification where the group's ``foreach`` option is False,
the multi-tensor update where it is True or None (the default: the two give the same numbers, and the
multi-tensor update does the same array operations without temporaries or per-call scalar
conversions, so it is the faster for every group). Options are checked, without state, wherever a group
comes in: at construction, in ``add_param_group`` and in ``load_state_dict`` (``_check_options``, with
PyTorch's messages).
"""

from __future__ import annotations

import copy
import numbers
import warnings
from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import enable_grad, no_grad

__all__ = ["Optimizer"]


class Optimizer:
    """Holds ``param_groups`` (dicts with 'params' and options) and ``state`` (keyed by parameter).

    ``_scalar_state`` names the per-parameter state entries besides 'step' that are numbers, kept as 0-d
    float32 tensors as PyTorch keeps them (NAdam's 'mu_product', ASGD's 'eta' and 'mu'); ``load_state_dict``
    loads them that way."""

    _scalar_state: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self._check_options(defaults)
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._scratch = Scratch()
        self._has_duplicates = False  # a parameter twice in a group (PyTorch warns, and updates it twice)
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
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        in_groups = {p: None for group in self.param_groups for p in group["params"]}
        if any(p in in_groups for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        if len(dict.fromkeys(params)) != len(params):  # PyTorch warns, keeps both and updates such a one twice
            warnings.warn("optimizer contains a parameter group with duplicate parameters; each copy is updated "
                          "(the parameter moves twice per step). Pass each parameter once.", UserWarning,
                          stacklevel=3)
            self._has_duplicates = True
        group = {**self.defaults, **param_group, "params": params}
        for name, value in group.items():
            if value is _REQUIRED:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
        self._check_options(group)
        self.param_groups.append(group)

    # -- what an algorithm defines ----------------------------------------------------------------

    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        """Raise ValueError naming the first bad option (called for the defaults and for every group)."""

    def _uses_state(self, group: dict[str, Any]) -> bool:
        """Whether the update keeps per-parameter state (plain SGD keeps none, as in PyTorch)."""
        return True

    def _init_state(self, state: dict[str, Any], param: np.ndarray, group: dict[str, Any]) -> None:
        """Fill the empty ``state`` of a parameter before its first update."""

    def _single_tensor(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                       group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _multi_tensor(self, params: list[np.ndarray], grads: list[np.ndarray], states: list[dict[str, Any]],
                      group: dict[str, Any]) -> None:
        """The update of ``group``'s parameters that have a gradient, all of one dtype."""
        raise NotImplementedError

    # -- the step ---------------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set ``.grad`` to None (default) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad = p.grad.detach()
                    p.grad._data[...] = 0

    @no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient. ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            with_grad = [p for p in group["params"] if p.grad is not None]
            if not with_grad:
                continue
            params = [p._data for p in with_grad]
            grads = [p.grad._data for p in with_grad]
            if self._uses_state(group):
                states = [self.state[p] for p in with_grad]
                if not all(states):
                    for state, param in zip(states, params):
                        if not state:
                            self._init_state(state, param, group)
            else:
                states = [None] * len(with_grad)
            if group.get("foreach") is False:
                for param, grad, state in zip(params, grads, states):
                    self._single_tensor(param, grad, state, group)
            else:
                for same_dtype in _by_dtype(params, grads, states):
                    self._multi_tensor(*same_dtype, group)
            for p in with_grad:
                p._bump_version()
        return loss

    # -- saving and resuming ----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` as in PyTorch
        (a parameter's index is its position among all groups' parameters); the arrays are copies."""
        index_of: dict[Tensor, int] = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index_of.setdefault(p, len(index_of))
            groups.append({**{k: v for k, v in group.items() if k != "params"},
                           "params": [index_of[p] for p in group["params"]]})
        state = {index_of[p]: {k: _copy(v) for k, v in s.items()} for p, s in self.state.items() if p in index_of}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from ``state_dict()`` (this optimiser's or PyTorch's, with arrays or tensors): the groups
        must have the same sizes, every state index must name a parameter and every buffer must have its
        parameter's shape. Nothing changes when a check fails."""
        saved_groups = state_dict["param_groups"]
        kind = type(self).__name__
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, this optimizer has "
                             f"{len(self.param_groups)}")
        params_by_index: dict[int, Tensor] = {}
        options = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"loaded state dict contains a parameter group {i} of size "
                                 f"{len(saved['params'])} that doesn't match the size of optimizer's group "
                                 f"({len(group['params'])})")
            params_by_index.update(zip(saved["params"], group["params"]))
            missing = [name for name in self.defaults if name not in saved and name not in _OPTIONAL_OPTIONS]
            if missing:
                present = ", ".join(repr(k) for k in saved if k != "params")
                raise KeyError(f"loaded state dict is not {kind}'s: its parameter group {i} has no "
                               f"{', '.join(map(repr, missing))} (it has {present}); was it saved by another optimizer?")
            options.append({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
            self._check_options({**group, **options[-1]})
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for index, values in state_dict["state"].items():
            if index not in params_by_index:
                raise ValueError(f"loaded state dict has state for parameter index {index!r}, which is in none of "
                                 f"its parameter groups (their indices: {sorted(params_by_index)})")
            p = params_by_index[index]
            if values:
                group = next(g for g in self.param_groups if any(q is p for q in g["params"]))
                self._check_state_names(values, index, {**group, **options[self.param_groups.index(group)]})
            state[p] = {name: _loaded(name, value, p, index, self._scalar_state) for name, value in values.items()}
        for group, loaded in zip(self.param_groups, options):
            group.update(loaded)
        self.state = state

    def _check_state_names(self, values: dict[str, Any], index: Any, group: dict[str, Any]) -> None:
        """KeyError unless a loaded parameter state has every entry this optimiser creates for a parameter
        (as PyTorch's Adam raises ``KeyError: 'step'`` for SGD's state), naming what is missing."""
        expected: dict[str, Any] = {}
        self._init_state(expected, np.zeros(()), group)
        missing = [name for name in expected if name not in values]
        if missing:
            raise KeyError(f"loaded state dict is not {type(self).__name__}'s: the state of parameter {index!r} has "
                           f"no {', '.join(map(repr, missing))} (it has {', '.join(map(repr, values))}); was it "
                           f"saved by another optimizer?")

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"


class Scratch:
    """Work memory for the multi-tensor updates: ``get(i, like)`` is an array of ``like``'s shape and
    dtype, a view of the ``i``-th flat buffer of that dtype, which grows to the largest parameter seen
    (so the work memory is a few times the largest parameter, not the model). Two parameters' work arrays
    share memory: an update finishes with one parameter before it takes the next. The contents mean
    nothing between two calls: it holds no state, and results never depend on it."""

    def __init__(self) -> None:
        self._flat: dict[tuple[int, np.dtype], np.ndarray] = {}
        self._views: dict[tuple[int, tuple[int, ...], np.dtype], np.ndarray] = {}

    def get(self, i: int, like: np.ndarray) -> np.ndarray:
        key = (i, like.shape, like.dtype)
        view = self._views.get(key)
        if view is None:
            flat = self._flat.get((i, like.dtype))
            if flat is None or flat.size < like.size:
                flat = self._flat[i, like.dtype] = np.empty(like.size, like.dtype)
                self._views = {k: v for k, v in self._views.items() if k[0] != i or k[2] != like.dtype}
            view = self._views[key] = flat[:like.size].reshape(like.shape)
        return view


def _by_dtype(params: list[np.ndarray], grads: list[np.ndarray], states: list[Any]) -> list[tuple[list, list, list]]:
    """The parameters (with their gradients and states) in runs of one dtype, in order of first appearance."""
    dtypes = [param.dtype for param in params]
    if dtypes.count(dtypes[0]) == len(dtypes):
        return [(params, grads, states)]
    runs: dict[np.dtype, tuple[list, list, list]] = {}
    for param, grad, state in zip(params, grads, states):
        run = runs.setdefault(param.dtype, ([], [], []))
        run[0].append(param)
        run[1].append(grad)
        run[2].append(state)
    return list(runs.values())


def scalars(dtype: np.dtype, *values: float) -> list[np.ndarray]:
    """``values`` as 0-d arrays of ``dtype``: an array operation with one computes what it computes with
    the Python float (which NumPy casts to the array's dtype), without converting it on every call."""
    return [np.array(value, dtype) for value in values]


def check_non_negative(what: str, value: Any) -> None:
    """ValueError 'Invalid {what}: {value}' (PyTorch's message) unless ``value`` is a real number >= 0;
    TypeError where it is not a number at all (None, a string), as PyTorch raises."""
    _check_number(what, value, ">= 0")
    if not value >= 0.0:
        raise ValueError(f"Invalid {what}: {value}")


def check_real(what: str, value: Any) -> None:
    """TypeError 'Invalid {what}: {value}' unless ``value`` is a real number."""
    _check_number(what, value, "")


def check_in_range(what: str, value: Any, low: float, high: float, *, high_included: bool) -> None:
    """ValueError 'Invalid {what}: {value}' unless ``low <= value < high`` (``<= high`` if included);
    TypeError where it is not a number."""
    bound = f"in [{low}, {high}" + ("]" if high_included else ")")
    _check_number(what, value, bound)
    if not (low <= value and (value <= high if high_included else value < high)):
        raise ValueError(f"Invalid {what}: {value}")


def check_foreach(options: dict[str, Any]) -> None:
    """TypeError unless ``options["foreach"]`` is True, False or None (absent)."""
    foreach = options.get("foreach")
    if foreach is not None and not isinstance(foreach, bool):
        raise TypeError(f"Invalid foreach value: {foreach!r} (expected True, False or None)")


def _check_number(what: str, value: Any, bound: str) -> None:
    """TypeError naming the option, the value and what was expected, unless ``value`` is a real number
    (PyTorch raises TypeError for these too, from comparing the value with a float)."""
    if not isinstance(value, numbers.Real):
        expected = f"a real number {bound}".rstrip()
        raise TypeError(f"Invalid {what}: {value!r} (expected {expected})")


def next_step(state: dict[str, Any]) -> float:
    """Add one to ``state['step']`` (a 0-d float32 tensor, as PyTorch keeps it) and return the count."""
    step = state["step"]._data
    count = float(step) + 1.0
    step[...] = count
    return count


def lerp_(start: np.ndarray, end: np.ndarray, weight: float, work: np.ndarray | None = None) -> None:
    """start <- start + weight (end - start), in place (PyTorch's ``lerp_``). ``work``: an array like
    ``start`` to hold the difference (the multi-tensor updates pass one; without it, a new array)."""
    difference = np.subtract(end, start, out=work)
    difference *= weight
    start += difference


def effective_grad(grad: np.ndarray, param: np.ndarray, weight_decay: np.ndarray | float, maximize: bool,
                   work: np.ndarray) -> np.ndarray:
    """(-grad if maximize else grad) + weight_decay * param in ``work``, to the bit as the
    specifications compute it, for the multi-tensor updates (where maximize or weight_decay is set)."""
    if weight_decay == 0:
        return np.negative(grad, out=work)
    np.multiply(param, weight_decay, out=work)
    if maximize:
        return np.subtract(work, grad, out=work)  # -grad + weight_decay * param, to the bit
    return np.add(grad, work, out=work)


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


_REQUIRED = _Required()

# options a saved parameter group may lack (flags that PyTorch added over time; they keep this
# optimiser's value); every other option of the optimiser's defaults must be in a loaded group
_OPTIONAL_OPTIONS = frozenset({"foreach", "maximize", "differentiable", "capturable", "fused",
                               "decoupled_weight_decay"})


def _copy(value: Any) -> Any:
    if isinstance(value, Tensor):
        return Tensor._make(value._data.copy())
    return copy.deepcopy(value)


def _loaded(name: str, value: Any, param: Tensor, index: Any, scalars: tuple[str, ...] = ()) -> Any:
    """One loaded state value as this optimiser keeps it: 'step' (and the optimiser's other ``scalars``) a 0-d
    float32 tensor, a buffer a copy in the parameter's dtype (it must have the parameter's shape); other
    values (None, numbers) as given."""
    if isinstance(value, Tensor):
        value = value._data
    elif not isinstance(value, np.ndarray) and hasattr(value, "__array__"):
        value = np.asarray(value)  # another library's tensor
    if name == "step" or name in scalars:
        if np.ndim(value) != 0:
            raise ValueError(f"loaded state dict has a '{name}' of shape {np.shape(value)} for parameter {index!r}; "
                             f"expected a number")
        return Tensor._make(np.array(value, dtype=np.float32))
    if not isinstance(value, np.ndarray):
        return copy.deepcopy(value)
    if value.shape != param._data.shape:
        raise ValueError(f"loaded state dict has a '{name}' of shape {tuple(value.shape)} for parameter {index!r}, "
                         f"whose shape is {tuple(param._data.shape)}")
    return Tensor._make(np.array(value, dtype=param._data.dtype))
