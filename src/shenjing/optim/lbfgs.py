"""L-BFGS: a quasi-Newton method that rebuilds the inverse Hessian from the last ``history_size`` steps.

One ``step(closure)`` runs up to ``max_iter`` iterations, each: the search direction d = -H g from the
two-loop recursion over the stored pairs (s = step taken, y = change of gradient, kept when y.s > 1e-10),
with H's diagonal scaled by y.s / y.y; a step of length t along d, either fixed (t = lr, and
min(1, 1 / |g|_1) lr on the very first iteration) or found by a strong-Wolfe line search (bracketing,
then zooming with cubic interpolation). It stops at ``max_iter`` iterations, ``max_eval`` evaluations of
the closure, max |g| <= tolerance_grad, or a change of the weights or the loss below tolerance_change.
The vectors are flat NumPy arrays of all the parameters, in the parameters' order; the arithmetic keeps
the parameters' dtype (0-d values such as y.s stay in it, as PyTorch's 0-d tensors do).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import enable_grad, no_grad
from shenjing.optim.optimizer import Optimizer, check_non_negative

__all__ = ["LBFGS"]

_VECTORS = ("d", "prev_flat_grad")  # state entries that are flat vectors; 'old_dirs', 'old_stps' are lists of them


class LBFGS(Optimizer):
    """L-BFGS (Nocedal, 1980; the minFunc variant PyTorch follows). One parameter group only; ``step``
    needs a closure that clears the gradients, computes the loss, calls ``backward`` and returns the loss.
    State (of the first parameter, as in PyTorch): 'func_evals', 'n_iter', 'd', 't', 'old_dirs',
    'old_stps', 'ro', 'H_diag', 'prev_flat_grad', 'prev_loss', 'al'.

    >>> import shenjing
    >>> w = shenjing.tensor([3.0, -2.0], requires_grad=True)
    >>> opt = LBFGS([w], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = ((w - 1) ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> [round(value, 4) for value in w.tolist()]
    [1.0, 1.0]
    """

    def __init__(self, params: Iterable[Any], lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        check_non_negative("learning rate", lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # -- flat views of the parameters -------------------------------------------------------------

    def _flat_grad(self) -> np.ndarray:
        return np.concatenate([np.zeros(p._data.size, p._data.dtype) if p.grad is None else p.grad._data.ravel()
                               for p in self._params])

    def _add_to_params(self, step_size: Any, direction: np.ndarray) -> None:
        """w <- w + step_size * direction, the step size in each parameter's dtype first."""
        offset = 0
        for p in self._params:
            size = p._data.size
            p._data += np.asarray(step_size, p._data.dtype) * direction[offset:offset + size].reshape(p._data.shape)
            offset += size
        for p in self._params:
            p._bump_version()

    def _copy_params(self) -> list[np.ndarray]:
        return [p._data.copy() for p in self._params]

    def _set_params(self, values: list[np.ndarray]) -> None:
        for p, value in zip(self._params, values):
            p._data[...] = value
            p._bump_version()

    def _evaluate_along(self, closure: Callable[[], Any], start: list[np.ndarray], t: Any,
                        direction: np.ndarray) -> tuple[float, np.ndarray]:
        """The loss and flat gradient at start + t * direction; the parameters are put back to ``start``."""
        self._add_to_params(t, direction)
        with enable_grad():
            loss = float(closure())
        flat_grad = self._flat_grad()
        self._set_params(start)
        return loss, flat_grad

    # -- the step ---------------------------------------------------------------------------------

    @no_grad()
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Up to ``max_iter`` L-BFGS iterations; returns the closure's first loss."""
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            first_loss = closure()
        loss = float(first_loss)
        evaluations = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return first_loss

        memory = _Memory.from_state(state)
        d, t, prev_flat_grad, prev_loss = memory.d, memory.t, memory.prev_flat_grad, memory.prev_loss
        iteration = 0
        while iteration < max_iter:
            iteration += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                memory.old_dirs, memory.old_stps, memory.ro, memory.H_diag = [], [], [], 1
            else:
                memory.remember(flat_grad - prev_flat_grad, d * t, history_size)
                if memory.al is None:
                    memory.al = [None] * history_size
                    state["al"] = None  # (its place among the state's entries, as in PyTorch)
                d = memory.direction(flat_grad)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = np.dot(flat_grad, d)
            if gtd > -tolerance_change:
                break

            used = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                start = self._copy_params()
                loss, flat_grad, t, used = strong_wolfe(
                    lambda x, step, direction: self._evaluate_along(closure, x, step, direction),
                    start, t, d, loss, flat_grad, gtd, max_ls=max_eval - evaluations)
                self._add_to_params(t, d)
                converged = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_to_params(t, d)
                converged = False
                if iteration != max_iter:
                    with enable_grad():
                        loss = float(closure())
                    flat_grad = self._flat_grad()
                    converged = np.abs(flat_grad).max() <= tolerance_grad
                    used = 1
            evaluations += used
            state["func_evals"] += used

            if iteration == max_iter or evaluations >= max_eval or converged:
                break
            if np.abs(d * t).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        memory.d, memory.t, memory.prev_flat_grad, memory.prev_loss = d, t, prev_flat_grad, prev_loss
        memory.to_state(state)
        return first_loss

    # -- saving and resuming ----------------------------------------------------------------------

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from ``state_dict()``: the group as any optimiser's; the state (flat vectors, not shaped
        like a parameter) belongs to the first parameter."""
        saved_state = state_dict["state"]
        first = state_dict["param_groups"][0]["params"][0] if state_dict["param_groups"] else None
        for index in saved_state:
            if index != first:
                raise ValueError(f"loaded state dict has state for parameter index {index!r}; LBFGS keeps its "
                                 f"state under its first parameter's index ({first!r})")
        size = sum(p._data.size for p in self._params)
        values = {name: _loaded_value(name, value, size) for name, value in saved_state.get(first, {}).items()}
        super().load_state_dict({**state_dict, "state": {}})
        if values:
            self.state[self._params[0]] = values


class _Memory:
    """The iteration's memory between steps, as NumPy arrays: the stored pairs and the last step."""

    def __init__(self) -> None:
        self.d = self.t = self.prev_flat_grad = self.prev_loss = self.al = None
        self.old_dirs: list[np.ndarray] | None = None
        self.old_stps: list[np.ndarray] | None = None
        self.ro: list[Any] | None = None
        self.H_diag: Any = None

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "_Memory":
        memory = cls()
        for name in ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss", "al"):
            setattr(memory, name, _unwrap(state.get(name)))
        return memory

    def to_state(self, state: dict[str, Any]) -> None:
        for name in ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss"):
            state[name] = _wrap(getattr(self, name))
        if self.al is not None:
            state["al"] = _wrap(self.al)

    def remember(self, y: np.ndarray, s: np.ndarray, history_size: int) -> None:
        """Keep the pair (s, y) when the curvature y.s is positive enough, dropping the oldest."""
        ys = np.dot(y, s)
        if ys > 1e-10:
            if len(self.old_dirs) == history_size:
                self.old_dirs.pop(0)
                self.old_stps.pop(0)
                self.ro.pop(0)
            self.old_dirs.append(y)
            self.old_stps.append(s)
            self.ro.append(1.0 / ys)
            self.H_diag = ys / np.dot(y, y)

    def direction(self, flat_grad: np.ndarray) -> np.ndarray:
        """-H g by the two-loop recursion."""
        al, count = self.al, len(self.old_dirs)
        q = -flat_grad
        for i in range(count - 1, -1, -1):
            al[i] = np.dot(self.old_stps[i], q) * self.ro[i]
            q += np.asarray(-al[i], q.dtype) * self.old_dirs[i]
        r = q * np.asarray(self.H_diag, q.dtype)
        for i in range(count):
            be_i = np.dot(self.old_dirs[i], r) * self.ro[i]
            r += np.asarray(al[i] - be_i, r.dtype) * self.old_stps[i]
        return r


def cubic_interpolate(x1: Any, f1: Any, g1: Any, x2: Any, f2: Any, g2: Any,
                      bounds: tuple[Any, Any] | None = None) -> Any:
    """The minimiser, within ``bounds`` (default: between x1 and x2), of the cubic through (x1, f1) and
    (x2, f2) with slopes g1, g2; the middle of the bounds where the cubic has no minimum."""
    low, high = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, low), high)
    return (low + high) / 2.0


def strong_wolfe(evaluate: Callable[[Any, Any, np.ndarray], tuple[float, np.ndarray]], x: Any, t: Any,
                 d: np.ndarray, f: float, g: np.ndarray, gtd: Any, c1: float = 1e-4, c2: float = 0.9,
                 tolerance_change: float = 1e-9, max_ls: int = 25) -> tuple[float, np.ndarray, Any, int]:
    """A step length t along d meeting the strong Wolfe conditions: sufficient decrease
    f(t) <= f + c1 t gtd and |f'(t)| <= -c2 gtd (Nocedal & Wright, algorithms 3.5 and 3.6).
    Returns (f(t), g(t), t, evaluations)."""
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = evaluate(x, t, d)
    evaluations = 1
    gtd_new = np.dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    # bracket an interval that holds a point meeting the conditions
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], \
                [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], \
                [gtd_prev, gtd_new]
            break
        # extrapolate
        min_step, max_step = t + 0.01 * (t - t_prev), t * 10
        previous = t
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = previous, f_new, g_new.copy(), gtd_new
        f_new, g_new = evaluate(x, t, d)
        evaluations += 1
        gtd_new = np.dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom in on the bracket
    insufficient_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # keep t away from the bracket's ends (it must make progress)
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = evaluate(x, t, d)
        evaluations += 1
        gtd_new = np.dot(g_new, d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], evaluations


def _wrap(value: Any) -> Any:
    """A state value as PyTorch keeps it: arrays and NumPy scalars as tensors, lists element-wise."""
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return Tensor._make(np.array(value))
    return value


def _unwrap(value: Any) -> Any:
    """The inverse of ``_wrap``: tensors as arrays (0-d ones as NumPy scalars of their dtype)."""
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, Tensor):
        data = value._data
        return data[()] if data.ndim == 0 else data.copy()
    return value


def _loaded_value(name: str, value: Any, size: int) -> Any:
    """One loaded LBFGS state value (shenjing's or PyTorch's tensors) as this optimiser keeps it."""
    if isinstance(value, list):
        return [_loaded_value(name, v, size) for v in value]
    if isinstance(value, Tensor):
        value = value._data
    elif not isinstance(value, np.ndarray) and hasattr(value, "__array__"):
        value = np.asarray(value)  # another library's tensor
    if isinstance(value, np.ndarray):
        if value.ndim not in (0, 1) or (value.ndim == 1 and value.size != size):
            raise ValueError(f"loaded state dict has a '{name}' of shape {tuple(value.shape)}; expected a number "
                             f"or a vector of the {size} parameter values")
        return Tensor._make(np.array(value))
    return value
