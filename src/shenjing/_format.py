"""Printing tensors the way PyTorch does: ``tensor([[1., 2.]], requires_grad=True)``.

Floats that are all whole numbers print as ``1.``; otherwise with 4 decimals, or in scientific
notation when the magnitudes span more than 1e3 or leave [1e-4, 1e8). Rows wrap at 80 columns and
tensors with more than 1,000 elements are summarised with ``...``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["format_tensor"]

LINE_WIDTH = 81  # NumPy counts the trailing separator; 81 here wraps where PyTorch's 80 does
THRESHOLD = 1000
EDGE_ITEMS = 3


def _float_formatter(array: np.ndarray):
    finite = array[np.isfinite(array)].astype(np.float64)
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.4f}"
    magnitudes = np.abs(finite[finite != 0])
    wide_range = magnitudes.size > 0 and (magnitudes.max() / magnitudes.min() > 1000.0 or magnitudes.max() > 1e8)
    if np.all(finite == np.round(finite)) and not wide_range:
        width = max(len(f"{v:.0f}.") for v in finite)
        return lambda v: (_special(v) or f"{v:.0f}.").rjust(width)
    scientific = wide_range or (magnitudes.size > 0 and magnitudes.min() < 1e-4)
    fmt = "{:.4e}" if scientific else "{:.4f}"
    width = max(len(fmt.format(v)) for v in finite)
    return lambda v: (_special(v) or fmt.format(v)).rjust(width)


def _bool_formatter(array: np.ndarray):
    width = 5 if not array.all() else 4
    return lambda v: str(bool(v)).rjust(width)


def _special(value: float) -> str | None:
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return None


def format_tensor(array: np.ndarray, extras: list[str]) -> str:
    """``tensor(<values>, <extras>)`` with PyTorch's number formatting and line wrapping."""
    prefix = "tensor("
    if array.size == 0:
        body = "[]" if array.ndim <= 1 else f"[], size={tuple(array.shape)}".replace(",)", ")")
    elif array.dtype.kind == "f":
        shown = array if array.size <= THRESHOLD else _edges(array)
        formatter = _float_formatter(shown)
        body = np.array2string(array, separator=", ", prefix=prefix, max_line_width=LINE_WIDTH,
                               threshold=THRESHOLD, edgeitems=EDGE_ITEMS,
                               formatter={"float_kind": formatter})
    elif array.dtype.kind == "b":
        body = np.array2string(array, separator=", ", prefix=prefix, max_line_width=LINE_WIDTH,
                               threshold=THRESHOLD, edgeitems=EDGE_ITEMS,
                               formatter={"bool": _bool_formatter(array)})
        if array.ndim == 0:
            body = body.strip()
    else:
        body = np.array2string(array, separator=", ", prefix=prefix, max_line_width=LINE_WIDTH,
                               threshold=THRESHOLD, edgeitems=EDGE_ITEMS)
    body = body.replace(", ...,", ",  ...,")  # PyTorch pads the summary ellipsis by one space
    parts = [body] + extras
    return prefix + ", ".join(parts) + ")"


def _edges(array: np.ndarray) -> np.ndarray:
    """The elements that a summarised print shows (first and last EDGE_ITEMS along each axis)."""
    for axis in range(array.ndim):
        if array.shape[axis] > 2 * EDGE_ITEMS:
            head = np.take(array, range(EDGE_ITEMS), axis=axis)
            tail = np.take(array, range(array.shape[axis] - EDGE_ITEMS, array.shape[axis]), axis=axis)
            array = np.concatenate([head, tail], axis=axis)
    return array
