"""``torch.testing``: ``assert_close`` (with PyTorch's default tolerances and messages) and ``make_tensor``.

    >>> import shenjing
    >>> shenjing.testing.assert_close(shenjing.tensor([1.0, 2.0]), shenjing.tensor([1.0, 2.0 + 1e-7]))
"""

from __future__ import annotations

import collections.abc
import math
from typing import Any

import numpy as np

from shenjing import _dtype
from shenjing._tensor import Tensor

__all__ = ["assert_close", "make_tensor"]

# rtol, atol of each dtype (PyTorch's defaults); integer and bool compare exactly
DEFAULT_TOLERANCES = {"float16": (1e-3, 1e-5), "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}


def _default_tolerances(*dtypes: Any) -> tuple[float, float]:
    pairs = [DEFAULT_TOLERANCES.get(np.dtype(d).name, (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _fail(msg: Any, default: str) -> None:
    raise AssertionError(msg(default) if callable(msg) else (msg if msg is not None else default))


def _array(value: Any) -> np.ndarray | None:
    if isinstance(value, Tensor):
        return value.detach().numpy() if value.requires_grad else value.numpy()
    if isinstance(value, np.ndarray):
        return value
    return None


def _compare_numbers(actual: Any, expected: Any, rtol: float | None, atol: float | None, equal_nan: bool,
                     msg: Any) -> None:
    if rtol is None or atol is None:  # a Python float is a float64, an int compares exactly
        floats = isinstance(actual, float) or isinstance(expected, float)
        rtol, atol = DEFAULT_TOLERANCES["float64"] if floats else (0.0, 0.0)
    if (equal_nan and math.isnan(actual) and math.isnan(expected)) or actual == expected:
        return
    difference = abs(actual - expected)
    if difference <= atol + rtol * abs(expected):
        return
    relative = difference / abs(expected) if expected != 0 else math.inf
    _fail(msg, f"Scalars are not close!\n\nExpected {expected} but got {actual}.\n"
               f"Absolute difference: {difference} (up to {atol} allowed)\n"
               f"Relative difference: {relative} (up to {rtol} allowed)")


def _compare_arrays(actual: np.ndarray, expected: np.ndarray, rtol: float | None, atol: float | None,
                    equal_nan: bool, check_dtype: bool, actual_tensor: Any, expected_tensor: Any, msg: Any) -> None:
    if actual.shape != expected.shape:
        _fail(msg, f"The values for attribute 'shape' do not match: {_size(actual)} != {_size(expected)}.")
    if check_dtype and actual.dtype != expected.dtype:
        _fail(msg, f"The values for attribute 'dtype' do not match: {_dtype_name(actual_tensor, actual)} != "
                   f"{_dtype_name(expected_tensor, expected)}.")
    if rtol is None or atol is None:
        rtol, atol = _default_tolerances(actual.dtype, expected.dtype)
    a, e = actual.astype(np.float64) if actual.dtype.kind == "b" else actual, \
        expected.astype(np.float64) if expected.dtype.kind == "b" else expected
    common = np.result_type(a, e)
    a, e = a.astype(common), e.astype(common)
    close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan) | (a == e)
    if close.all():
        return
    mismatched = int((~close).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        absolute = np.abs(a.astype(np.float64) - e.astype(np.float64))
        absolute[close] = 0
        relative = absolute / np.abs(e.astype(np.float64))
        relative[close] = 0
    where_abs = np.unravel_index(int(np.nanargmax(np.where(np.isnan(absolute), np.inf, absolute))), a.shape)
    where_rel = np.unravel_index(int(np.nanargmax(np.where(np.isnan(relative), np.inf, relative))), a.shape)
    if a.ndim == 0:
        text = (f"Scalars are not close!\n\nExpected {e.item()} but got {a.item()}.\n"
                f"Absolute difference: {absolute.item()} (up to {atol} allowed)\n"
                f"Relative difference: {relative.item()} (up to {rtol} allowed)")
    else:
        text = (f"Tensor-likes are not close!\n\nMismatched elements: {mismatched} / {a.size} "
                f"({100 * mismatched / a.size:.1f}%)\n"
                f"Greatest absolute difference: {absolute[where_abs]} at index {tuple(int(i) for i in where_abs)} "
                f"(up to {atol} allowed)\n"
                f"Greatest relative difference: {relative[where_rel]} at index {tuple(int(i) for i in where_rel)} "
                f"(up to {rtol} allowed)")
    _fail(msg, text)


def _size(array: np.ndarray) -> str:
    return f"torch.Size({list(array.shape)})"


def _dtype_name(tensor: Any, array: np.ndarray) -> str:
    return f"torch.{tensor.dtype.name}" if isinstance(tensor, Tensor) else str(array.dtype)


def assert_close(actual: Any, expected: Any, *, allow_subclasses: bool = True, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, check_device: bool = True,
                 check_dtype: bool = True, check_layout: bool = True, check_stride: bool = False,
                 msg: Any = None) -> None:
    """Raise ``AssertionError`` unless |actual - expected| <= atol + rtol * |expected| elementwise.

    Tensors (and arrays) must agree in shape and, with ``check_dtype``, in dtype; sequences and mappings are
    compared item by item; numbers as numbers. Without ``rtol``/``atol`` PyTorch's defaults for the dtype apply
    (float32: rtol 1.3e-6, atol 1e-5; float64: 1e-7, 1e-7; integers: exact). ``msg`` replaces the message (a
    callable gets the default message)."""
    if (rtol is None) != (atol is None):
        missing = "rtol" if rtol is None else "atol"
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {missing}.")
    a, e = _array(actual), _array(expected)
    if a is not None or e is not None:
        if a is None or e is None:
            other = expected if a is not None else actual
            if isinstance(other, (int, float, bool)) and not isinstance(other, bool):
                _fail(msg, f"None of the inputs matched the comparison: {type(actual).__name__} vs "
                           f"{type(expected).__name__}")
            raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and "
                            f"{type(expected)}.")
        _compare_arrays(a, e, rtol, atol, equal_nan, check_dtype, actual, expected, msg)
        return
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected, collections.abc.Mapping):
        if set(actual) != set(expected):
            _fail(msg, f"The keys of the mappings do not match:\nMissing keys in the actual mapping: "
                       f"{sorted(set(expected) - set(actual), key=str)}\nExtra keys in the actual mapping: "
                       f"{sorted(set(actual) - set(expected), key=str)}")
        for key in expected:
            assert_close(actual[key], expected[key], rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)
        return
    if isinstance(actual, collections.abc.Sequence) and isinstance(expected, collections.abc.Sequence) and \
            not isinstance(actual, str) and not isinstance(expected, str):
        if len(actual) != len(expected):
            _fail(msg, f"The length of the sequences mismatch: {len(actual)} != {len(expected)}")
        for x, y in zip(actual, expected):
            assert_close(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=check_dtype, msg=msg)
        return
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        if check_dtype and type(actual) is not type(expected):
            _fail(msg, f"The values for attribute 'dtype' do not match: {type(actual).__name__} != "
                       f"{type(expected).__name__}.")
        _compare_numbers(actual, expected, rtol, atol, equal_nan, msg)
        return
    if actual is None and expected is None:
        return
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.")


def make_tensor(*shape: Any, dtype: Any, device: Any = None, low: float | None = None, high: float | None = None,
                requires_grad: bool = False, noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format: Any = None) -> Tensor:
    """A tensor of ``shape`` filled with uniform random values in [low, high) (floats: default [-9, 9];
    integers: [-9, 10); bool: False or True), drawn from shenjing's default generator."""
    from shenjing import _random

    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    d = _dtype.as_dtype(dtype)
    rng = _random.rng_of(None)
    if d.name == "bool":
        values = rng.integers(0, 2, shape).astype(bool)
    elif d.is_floating_point:
        lo, hi = -9.0 if low is None else low, 9.0 if high is None else high
        values = rng.uniform(lo, hi, shape)
    else:
        lo, hi = -9 if low is None else int(math.ceil(low)), 10 if high is None else int(math.ceil(high))
        lo = max(lo, 0) if not d.is_signed else lo
        values = rng.integers(lo, hi, shape)
    values = np.asarray(values).astype(d.numpy)
    if exclude_zero:
        values[values == 0] = 1 if not d.is_floating_point else np.finfo(d.numpy).tiny
    result = Tensor._make(values)
    if requires_grad:
        result.requires_grad_()
    return result
