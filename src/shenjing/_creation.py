"""Making tensors: from data (tensor, as_tensor, from_numpy), filled (zeros, ones, full, eye, arange,
linspace, empty), random (rand, randn, randint, randperm) and the ``*_like`` forms.

Every function takes ``dtype`` and ``requires_grad`` (and ``device``, which must be the CPU).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing import _dtype
from shenjing._device import check_device
from shenjing._ops._util import as_size
from shenjing._ops.filled import Constant, Draw, Fill
from shenjing import _random_draws as _draws
from shenjing._random import Generator, generator_or_default
from shenjing._tensor import Tensor

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "eye", "arange", "linspace",
           "logspace", "zeros_like", "ones_like", "full_like", "empty_like", "rand", "randn", "randint", "randperm",
           "rand_like", "randn_like", "randint_like", "bernoulli", "normal", "multinomial"]


def _finish(array: np.ndarray, dtype: Any, requires_grad: bool, device: Any) -> Tensor:
    check_device(device)
    if dtype is not None:
        array = array.astype(_dtype.as_dtype(dtype).numpy, copy=False)
    else:
        _dtype.from_numpy_dtype(array.dtype)
    result = Tensor._make(array)
    if requires_grad:
        result.requires_grad = True
    return result


def _made(op: Any, requires_grad: bool, device: Any) -> Tensor:
    """The new tensor of an op without inputs (``shenjing._ops.filled``); a leaf that requires grad is made
    directly (no op's output can be one)."""
    check_device(device)
    if requires_grad:
        return _finish(op.forward(), None, True, None)
    return op()


def _array_from_data(data: Any, dtype: Any = None) -> np.ndarray:
    """An array from nested Python data, with PyTorch's inference: floats -> float32, ints -> int64."""
    if isinstance(data, Tensor):
        return data._data.copy()
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data)  # a copy that keeps NumPy's dtype (np.float64(2.5) stays float64)
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        return np.array([_array_from_data(x) for x in data])
    try:
        array = np.array(data) if dtype is None else np.array(data, dtype=_dtype.as_dtype(dtype).numpy)
    except ValueError as error:
        raise ValueError(f"tensor(): can't build a tensor from ragged or mixed data ({error})") from None
    if dtype is not None or isinstance(_first_leaf(data), np.generic):
        return array  # NumPy scalars in a list keep their dtype, as in PyTorch
    if array.dtype == np.float64:
        return array.astype(_dtype.get_default_dtype().numpy)
    if array.dtype.kind in "iu" and array.dtype != np.int64:
        return array.astype(np.int64)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"tensor(): can't convert data of type {type(data).__name__} (NumPy dtype "
                        f"{array.dtype}) to a tensor; expected numbers, booleans or nested lists of them")
    return array


def _first_leaf(data: Any) -> Any:
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return data


def tensor(data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (number, nested list, ndarray or tensor).

    >>> tensor([[1, 2], [3, 4]]).dtype
    shenjing.int64
    >>> tensor([1.0, 2.0], requires_grad=True)
    tensor([1., 2.], requires_grad=True)
    """
    array = _array_from_data(data, dtype)
    if not _of_python_numbers(data):
        return _finish(array, dtype, requires_grad, device)
    # numbers written in the code: an op, so that a compiled forward replays them
    return _made(Constant(array if dtype is None else array.astype(_dtype.as_dtype(dtype).numpy, copy=False)),
                 requires_grad, device)


def _of_python_numbers(data: Any) -> bool:
    """Whether ``data`` is a Python number or bool, or nested lists and tuples of them."""
    if isinstance(data, (list, tuple)):
        return all(_of_python_numbers(x) for x in data)
    return isinstance(data, (bool, int, float, complex))


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like ``tensor`` but shares memory with an ndarray or tensor when no conversion is needed."""
    check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        data = np.asarray(data)
        _dtype.from_numpy_dtype(data.dtype)
        target = data.dtype if dtype is None else _dtype.as_dtype(dtype).numpy
        return Tensor._make(data.astype(target, copy=False))
    return tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares memory with ``array`` (changes to one show in the other); keeps its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    _dtype.from_numpy_dtype(array.dtype)
    return Tensor._make(array)


def _float_dtype(dtype: Any) -> np.dtype:
    return (_dtype.as_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()).numpy


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _made(Fill(as_size(size), 0, _float_dtype(dtype)), requires_grad, device)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _made(Fill(as_size(size), 1, _float_dtype(dtype)), requires_grad, device)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (its values are whatever memory held)."""
    return _made(Fill(as_size(size), None, _float_dtype(dtype)), requires_grad, device)


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``; its dtype follows the value (float -> float32)."""
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    if not isinstance(value, (bool, int, float, complex, np.generic)):
        raise TypeError(f"full(): fill_value must be a number or a bool, got {type(value).__name__}")
    if dtype is None:
        dtype = _dtype.result_type(value)
    return _made(Fill(as_size((size,)), value, _dtype.as_dtype(dtype).numpy), requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix (n x m)."""
    return _made(Constant(np.eye(n, m, dtype=_float_dtype(dtype))), requires_grad, device)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` in steps; ints give int64, floats float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        dtype = _dtype.result_type(start, end, step)
    count = int(np.ceil((float(end) - float(start)) / float(step)))
    values = float(start) + np.arange(max(count, 0), dtype=np.float64) * float(step)
    if _dtype.as_dtype(dtype).category != _dtype.FLOATING and all(isinstance(v, int) for v in (start, end, step)):
        values = np.arange(start, end, step, dtype=np.int64)
    return _made(Constant(values.astype(_dtype.as_dtype(dtype).numpy, copy=False)), requires_grad, device)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise RuntimeError("linspace: number of steps must be non-negative")
    return _made(Constant(np.linspace(start, end, steps).astype(_float_dtype(dtype))), requires_grad, device)


def logspace(start: float, end: float, steps: int, base: float = 10.0, *, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    return _made(Constant(np.logspace(start, end, steps, base=base).astype(_float_dtype(dtype))), requires_grad,
                 device)


def _like(input: Tensor, dtype: Any) -> tuple[tuple, Any]:
    return input._data.shape, dtype if dtype is not None else input.dtype


def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dtype = _like(input, dtype)
    return zeros(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dtype = _like(input, dtype)
    return ones(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dtype = _like(input, dtype)
    return empty(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    shape, dtype = _like(input, dtype)
    return full(shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


# -- random ----------------------------------------------------------------------------------------
# Every draw goes through shenjing._random_draws, which reproduces PyTorch's CPU kernels bit for bit.

def rand(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform random numbers in [0, 1) (PyTorch's numbers after the same ``manual_seed``).

    >>> import shenjing
    >>> _ = shenjing.manual_seed(0)
    >>> shenjing.rand(2)  # torch.rand(2) after torch.manual_seed(0) prints the same
    tensor([0.4963, 0.7682])
    """
    return _made(Draw(_draws.uniform, generator_or_default(generator), (as_size(size), _float_dtype(dtype))),
                 requires_grad, device)


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal random numbers (mean 0, standard deviation 1), PyTorch's after the same seed.

    >>> import shenjing
    >>> _ = shenjing.manual_seed(1)
    >>> shenjing.randn(1)  # as torch.randn(1) after torch.manual_seed(1)
    tensor([0.6614])
    """
    return _made(Draw(_draws.normal, generator_or_default(generator), (as_size(size), _float_dtype(dtype))),
                 requires_grad, device)


def randint(*args: Any, size: Any = None, generator: Generator | None = None, dtype: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """Random integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    args = list(args)
    if size is None:
        if not args or not isinstance(args[-1], (tuple, list)) and not hasattr(args[-1], "__len__"):
            raise TypeError("randint() missing the size argument, e.g. randint(10, (3,)) or randint(0, 10, (3,))")
        size = args.pop()
    if len(args) not in (1, 2):
        raise TypeError(f"randint() takes high, or low and high, before the size; got {len(args)} numbers")
    low, high = (0, args[0]) if len(args) == 1 else args
    low, high = int(low), int(high)
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    target = _dtype.as_dtype(dtype if dtype is not None else _dtype.int64).numpy
    return _made(Draw(_draws.integers, generator_or_default(generator), (as_size((size,)), low, high), target),
                 requires_grad, device)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, dtype: Any = None) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(low, high, input._data.shape, dtype=dtype if dtype is not None else input.dtype)


def randperm(n: int, *, generator: Generator | None = None, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1 (PyTorch's after the same seed)."""
    if int(n) < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    values = _draws.permutation(generator_or_default(generator), int(n))
    return _finish(values, dtype if dtype is not None else _dtype.int64, requires_grad, device)


def rand_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dtype = _like(input, dtype)
    return rand(shape, dtype=dtype, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dtype = _like(input, dtype)
    return randn(shape, dtype=dtype, requires_grad=requires_grad)


def bernoulli(input: Tensor, p: float | None = None, *, generator: Generator | None = None) -> Tensor:
    """1 with probability ``input`` (or ``p``) elementwise, else 0; same dtype as ``input``."""
    source = generator_or_default(generator)
    if p is None:
        probabilities = input._data
        if np.any((probabilities < 0) | (probabilities > 1)):
            raise RuntimeError("bernoulli: all elements of input must be in the range 0 <= p <= 1")
        draws = _draws.bernoulli_tensor(source, probabilities)
    else:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        draws = _draws.bernoulli_scalar(source, input._data.shape, p)
    return Tensor._make(draws.astype(input._data.dtype))


def normal(mean: Any, std: Any = 1.0, size: Any = None, *, generator: Generator | None = None,
           dtype: Any = None) -> Tensor:
    """Normal random numbers with the given mean and standard deviation (numbers or tensors).

    As PyTorch: numbers for both draw ``normal_(mean, std)`` into a tensor of ``size``; with a tensor,
    standard normals of the broadcast shape are drawn, then scaled by ``std`` and shifted by ``mean``."""
    source = generator_or_default(generator)
    mean_is_tensor, std_is_tensor = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mean_is_tensor and not std_is_tensor:
        if size is None:
            raise TypeError("normal() with a number mean and std needs a size, e.g. normal(0.0, 1.0, (3,))")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        return Draw(_draws.normal, source, (as_size((size,)), _float_dtype(dtype), float(mean), float(std)))()
    mean_array = mean._data if mean_is_tensor else mean
    std_array = std._data if std_is_tensor else std
    if np.any(np.asarray(std_array) < 0):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    out_dtype = next(x._data.dtype for x in (mean, std) if isinstance(x, Tensor))
    shape = np.broadcast_shapes(np.shape(mean_array), np.shape(std_array))
    if mean_is_tensor and not std_is_tensor:
        values = _draws.normal(source, shape, out_dtype, 0.0, float(std)) + mean_array
    else:
        values = _draws.normal(source, shape, out_dtype) * std_array + mean_array
    return Tensor._make(np.asarray(values).astype(out_dtype, copy=False))


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Draw category indices with probabilities proportional to the rows of ``input`` (1-D or 2-D).

    PyTorch's draws: with replacement a double uniform per sample searched in the row's normalised
    cumulative sum; without replacement the top ``num_samples`` of ``input / q``, q ~ Exp(1)."""
    if input._data.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {input._data.ndim}")
    weights = np.atleast_2d(input._data)
    if not np.issubdtype(weights.dtype, np.floating):
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype}")
    categories = weights.shape[1]
    if num_samples <= 0:
        raise RuntimeError(f"cannot sample n_sample <= 0 samples, got {num_samples}")
    if not replacement and num_samples > categories:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if np.any(weights.sum(axis=1) <= 0):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    result = _draws.multinomial(generator_or_default(generator), weights, int(num_samples), replacement)
    return Tensor._make(result if input._data.ndim == 2 else result[0])
