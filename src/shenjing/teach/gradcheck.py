"""Gradient check for a whole model: is backpropagation computing the right gradients?

For every parameter tensor, autograd's gradient of the loss is compared with central differences,
(L(θ + ε) − L(θ − ε)) / 2ε, element by element, on a float64 copy of the model (in float32 the
differences are dominated by rounding). The relative error of a tensor is ‖a − n‖ / max(‖a‖, ‖n‖)
over the checked elements (a: analytic, n: numerical). Rule of thumb (CS231n): below 1e-7 the gradient
is right; up to 1e-4 it is fine for functions with kinks (ReLU, max-pooling); above 1e-2 it is wrong.

>>> from shenjing import nn
>>> report = check_model_gradients(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)),
...                                [[0.1, -0.2, 0.3]], verbose=False)
>>> report.ok, [c.name for c in report.checks]
(True, ['0.weight', '0.bias', '2.weight', '2.bias'])
>>> report.worst.relative_error < 1e-7
True
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import shenjing
from shenjing import autograd
from shenjing._tensor import Tensor
from shenjing.teach._table import Table, format_number, render_tables

__all__ = ["check_model_gradients", "GradcheckReport", "TensorCheck", "verdict"]


def verdict(relative_error: float) -> str:
    """CS231n's reading of a relative error in float64."""
    if relative_error < 1e-7:
        return "correct"
    if relative_error < 1e-4:
        return "fine if the model has kinks (ReLU, max)"
    if relative_error < 1e-2:
        return "suspicious"
    return "WRONG"


@dataclass
class TensorCheck:
    """One parameter tensor: how many elements were checked and how far autograd is from the differences."""

    name: str
    shape: tuple[int, ...]
    checked: int
    max_abs_error: float
    relative_error: float
    analytic: np.ndarray  # the checked elements' gradients, autograd's
    numerical: np.ndarray  # and the central differences'

    @property
    def verdict(self) -> str:
        return verdict(self.relative_error)


@dataclass
class GradcheckReport:
    """``check_model_gradients``'s result: one ``TensorCheck`` per parameter tensor."""

    model: str
    checks: list[TensorCheck]
    loss: float
    eps: float
    tolerance: float

    @property
    def worst(self) -> TensorCheck:
        return max(self.checks, key=lambda c: c.relative_error)

    @property
    def ok(self) -> bool:
        """True when every tensor's relative error is below ``tolerance``."""
        return all(c.relative_error < self.tolerance for c in self.checks)

    def table(self) -> Table:
        table = Table(["parameter", "shape", "elements checked", "max |a − n|", "relative error", "verdict"],
                      align_right=(2, 3, 4))
        for c in self.checks:
            total = int(np.prod(c.shape)) if c.shape else 1
            checked = f"{c.checked:,}" if c.checked == total else f"{c.checked:,} of {total:,}"
            table.add(c.name, str(list(c.shape)), checked, format_number(c.max_abs_error, 3),
                      format_number(c.relative_error, 3), c.verdict)
        worst = self.worst
        table.notes = [f"loss {format_number(self.loss, 6)}; central differences with ε = {self.eps:g} in float64; "
                       f"relative error ‖a − n‖/max(‖a‖, ‖n‖).",
                       f"{'PASSED' if self.ok else 'FAILED'}: largest relative error {format_number(worst.relative_error, 3)} "
                       f"({worst.name}); tolerance {self.tolerance:g}."]
        return table

    def render(self, format: str = "text") -> str:
        return render_tables(f"Gradient check of {self.model}", [self.table()], format)

    def __str__(self) -> str:
        return self.render()


def _default_loss(output: Tensor, target: Tensor | None) -> Tensor:
    if target is None:
        return (output ** 2).sum() / 2
    if target.dtype == shenjing.int64:
        return shenjing.nn.functional.cross_entropy(output, target)
    return shenjing.nn.functional.mse_loss(output, target)


def _as_input(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach().to(shenjing.float64) if value.dtype.is_floating_point else value.detach()
    array = np.asarray(value)
    dtype = shenjing.float64 if array.dtype.kind == "f" else shenjing.int64
    return shenjing.tensor(array, dtype=dtype)


def check_model_gradients(model: Any, inputs: Any, target: Any = None,
                          loss_fn: Callable[[Tensor, Any], Tensor] | None = None, *, eps: float = 1e-6,
                          max_elements: int | None = None, seed: int = 0, tolerance: float = 1e-5,
                          verbose: bool = True) -> GradcheckReport:
    """Compare autograd's gradient of ``loss_fn(model(inputs), target)`` with central differences, for
    every parameter tensor of ``model``, on a float64 copy in eval mode (``model`` is not changed).

    ``loss_fn`` defaults to cross-entropy for integer targets, mean squared error for float targets and
    ½Σ output² without a target. ``max_elements`` checks at most that many randomly chosen elements per
    tensor (two forward passes each; ``None`` checks all). ``ok`` is True when every relative error is
    below ``tolerance``. Prints the table unless ``verbose=False``.
    """
    net = copy.deepcopy(model).double()
    net.eval()
    x = _as_input(inputs)
    t = None if target is None else _as_input(target)
    loss_of = loss_fn or _default_loss

    def loss() -> Tensor:
        return loss_of(net(x), t)

    params = [(name, p) for name, p in net.named_parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no parameters that require grad: nothing to check")
    value = loss()
    if value.numel() != 1:
        raise ValueError(f"the loss must be a scalar; got shape {list(value.shape)} (pass a loss_fn that reduces)")
    grads = autograd.grad([value], [p for _, p in params], allow_unused=True)
    rng = np.random.default_rng(seed)
    checks = []
    with shenjing.no_grad():
        for (name, p), g in zip(params, grads):
            analytic_all = np.zeros(p.numel()) if g is None else np.array(g._data, dtype=np.float64).reshape(-1)
            n = p.numel()
            chosen = np.arange(n) if max_elements is None or n <= max_elements else \
                np.sort(rng.choice(n, size=max_elements, replace=False))
            numerical = np.empty(len(chosen))
            original = np.array(p._data, dtype=np.float64).reshape(-1)
            for k, i in enumerate(chosen):
                index = tuple(int(j) for j in np.unravel_index(i, tuple(p.shape)))
                saved = float(original[i])
                p[index] = saved + eps  # an in-place write: the parameter's version changes as it should
                plus = loss().item()
                p[index] = saved - eps
                minus = loss().item()
                p[index] = saved
                numerical[k] = (plus - minus) / (2 * eps)
            analytic = analytic_all[chosen]
            checks.append(_compare(name, tuple(p.shape), analytic, numerical))
    report = GradcheckReport(type(model).__name__, checks, float(value.item()), eps, tolerance)
    if verbose:
        print(report)
    return report


def _compare(name: str, shape: tuple[int, ...], analytic: np.ndarray, numerical: np.ndarray) -> TensorCheck:
    difference = np.linalg.norm(analytic - numerical)
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numerical))
    relative = 0.0 if scale == 0 else float(difference / scale)
    max_abs = float(np.max(np.abs(analytic - numerical))) if analytic.size else 0.0
    return TensorCheck(name, shape, int(analytic.size), max_abs, relative, analytic, numerical)
