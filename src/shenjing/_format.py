"""Printing tensors the way PyTorch does: ``tensor([[1., 2.]], requires_grad=True)``.

Floats that are all whole numbers print as ``1.``; otherwise with 4 decimals, or in scientific
notation when the magnitudes span more than 1e3 or leave [1e-4, 1e8). Rows wrap at 80 columns and
tensors with more than 1,000 elements are summarised with ``...``. ``set_printoptions`` changes these
numbers as PyTorch's does (precision, threshold, edgeitems, linewidth, profile, sci_mode).
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["format_tensor", "set_printoptions", "get_printoptions"]

PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
            "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
            "full": dict(precision=4, threshold=sys.maxsize, edgeitems=3, linewidth=80)}
OPTIONS: dict = dict(PROFILES["default"], sci_mode=None)


def set_printoptions(precision: int | None = None, threshold: float | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None, sci_mode: bool | None = None) -> None:
    """How tensors print: ``precision`` (decimals, 4), ``threshold`` (elements above which a print is summarised,
    1000), ``edgeitems`` (shown at each end of a summarised dim, 3), ``linewidth`` (80), ``profile`` ("default",
    "short" or "full": all three at once) and ``sci_mode`` (True/False forces or forbids scientific notation;
    None decides per tensor)."""
    if profile is not None:
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
        OPTIONS.update(PROFILES[profile])
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            OPTIONS[name] = int(min(value, sys.maxsize))
    OPTIONS["sci_mode"] = sci_mode


def get_printoptions() -> dict:
    """The current print options (see ``set_printoptions``)."""
    return dict(OPTIONS)


def _line_width() -> int:
    return OPTIONS["linewidth"] + 1  # NumPy counts the trailing separator; +1 wraps where PyTorch does


def _float_formatter(array: np.ndarray):
    finite = array[np.isfinite(array)].astype(np.float64)
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.{OPTIONS['precision']}f}"
    magnitudes = np.abs(finite[finite != 0])
    wide_range = magnitudes.size > 0 and (magnitudes.max() / magnitudes.min() > 1000.0 or magnitudes.max() > 1e8)
    sci_mode, precision = OPTIONS["sci_mode"], OPTIONS["precision"]
    if np.all(finite == np.round(finite)) and not wide_range and not sci_mode:
        width = max(len(f"{v:.0f}.") for v in finite)
        return lambda v: (_special(v) or f"{v:.0f}.").rjust(width)
    scientific = (wide_range or (magnitudes.size > 0 and magnitudes.min() < 1e-4)) if sci_mode is None else sci_mode
    fmt = f"{{:.{precision}e}}" if scientific else f"{{:.{precision}f}}"
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
        shown = array if array.size <= OPTIONS["threshold"] else _edges(array)
        formatter = _float_formatter(shown)
        body = np.array2string(array, separator=", ", prefix=prefix, max_line_width=_line_width(),
                               threshold=OPTIONS["threshold"], edgeitems=OPTIONS["edgeitems"],
                               formatter={"float_kind": formatter})
    elif array.dtype.kind == "b":
        body = np.array2string(array, separator=", ", prefix=prefix, max_line_width=_line_width(),
                               threshold=OPTIONS["threshold"], edgeitems=OPTIONS["edgeitems"],
                               formatter={"bool": _bool_formatter(array)})
        if array.ndim == 0:
            body = body.strip()
    else:
        body = np.array2string(array, separator=", ", prefix=prefix, max_line_width=_line_width(),
                               threshold=OPTIONS["threshold"], edgeitems=OPTIONS["edgeitems"])
    body = body.replace(", ...,", ",  ...,")  # PyTorch pads the summary ellipsis by one space
    parts = [body] + extras
    return prefix + ", ".join(parts) + ")"


def _edges(array: np.ndarray) -> np.ndarray:
    """The elements that a summarised print shows (the first and last ``edgeitems`` along each axis)."""
    edge = OPTIONS["edgeitems"]
    for axis in range(array.ndim):
        if array.shape[axis] > 2 * edge:
            head = np.take(array, range(edge), axis=axis)
            tail = np.take(array, range(array.shape[axis] - edge, array.shape[axis]), axis=axis)
            array = np.concatenate([head, tail], axis=axis)
    return array
