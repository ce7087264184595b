"""A pickle reader for data files (CIFAR's batches) that never builds an arbitrary object.

CIFAR's ``data_batch_*`` files are pickled dicts of str, bytes, int, list and one NumPy array. Unpickling a
NumPy array calls the globals ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray`` and ``numpy.dtype``
(``numpy._core...`` when written by NumPy 2; ``_frombuffer`` at protocol 5; ``_codecs.encode`` for bytes written
by Python 3 at protocol 2). ``pickle.Unpickler.find_class`` is where a pickle names a global: here it returns
inert stand-ins for exactly those names, which only record their arguments, and refuses every other global
(``UnsafePickleError``). After loading, each recorded array is rebuilt with ``np.frombuffer`` from its raw bytes,
for plain numeric dtypes only. So nothing from the file is ever called or imported.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

__all__ = ["UnsafePickleError", "load_data_pickle"]

_NUMERIC_DTYPES = {"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8", "b1"}


class UnsafePickleError(pickle.UnpicklingError):
    """A data pickle that names a global other than the few that NumPy arrays need, or a malformed array."""


class _NdarrayMarker:
    """Stands for ``numpy.ndarray`` in a pickle (only ever passed to ``_reconstruct``)."""


class _DtypeStub:
    """Records ``numpy.dtype(spec, align, copy)`` and its state (the byte order)."""

    def __init__(self, spec: Any, align: Any = 0, copy: Any = 1) -> None:
        self.spec, self.byte_order = spec, "|"

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.byte_order = state[1]

    def dtype(self) -> np.dtype:
        spec = self.spec.decode("latin1") if isinstance(self.spec, bytes) else self.spec
        if not isinstance(spec, str) or spec not in _NUMERIC_DTYPES:
            raise UnsafePickleError(f"array of dtype {spec!r}: only plain numeric dtypes are read")
        dtype = np.dtype(spec)
        return dtype.newbyteorder(self.byte_order) if self.byte_order in "<>" else dtype


class _ArrayStub:
    """Records an array's state: (version, shape, dtype, Fortran order, raw bytes)."""

    def __init__(self) -> None:
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def array(self) -> np.ndarray:
        state = self.state
        if not (isinstance(state, tuple) and len(state) == 5):
            raise UnsafePickleError("malformed NumPy array in the pickle")
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _DtypeStub) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise UnsafePickleError("malformed NumPy array in the pickle")
        return _from_bytes(raw, dtype.dtype(), tuple(shape), "F" if fortran else "C")


class _FrombufferStub:
    """Records ``numpy._core.numeric._frombuffer(buffer, dtype, shape, order)`` (protocol 5)."""

    def __init__(self, buffer: Any, dtype: Any, shape: Any, order: Any) -> None:
        self.buffer, self.dtype_stub, self.shape, self.order = buffer, dtype, shape, order

    def array(self) -> np.ndarray:
        if not isinstance(self.dtype_stub, _DtypeStub) or not isinstance(self.shape, tuple):
            raise UnsafePickleError("malformed NumPy array in the pickle")
        return _from_bytes(bytes(self.buffer), self.dtype_stub.dtype(), self.shape, "F" if self.order == "F" else "C")


def _from_bytes(raw: Any, dtype: np.dtype, shape: tuple, order: str) -> np.ndarray:
    if isinstance(raw, str):
        raw = raw.encode("latin1")  # Python 2's str, read with encoding="latin1"
    if not isinstance(raw, (bytes, bytearray)):
        raise UnsafePickleError("malformed NumPy array in the pickle (no raw bytes)")
    count = int(np.prod(shape)) if shape else 1
    if len(raw) != count * dtype.itemsize:
        raise UnsafePickleError(f"NumPy array of shape {shape} needs {count * dtype.itemsize} bytes, the pickle has "
                                f"{len(raw)}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order).astype(dtype.newbyteorder("="))


def _reconstruct(cls: Any, shape: Any, dtype_code: Any) -> _ArrayStub:
    if cls is not _NdarrayMarker:
        raise UnsafePickleError("numpy's _reconstruct called on something other than ndarray")
    return _ArrayStub()


def _codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("_codecs.encode used for something other than bytes")
    return text.encode("latin1")


_ALLOWED = {("numpy.core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy.core.numeric", "_frombuffer"): _FrombufferStub,
            ("numpy._core.numeric", "_frombuffer"): _FrombufferStub,
            ("numpy", "ndarray"): _NdarrayMarker,
            ("numpy", "dtype"): _DtypeStub,
            ("_codecs", "encode"): _codecs_encode}


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise UnsafePickleError(f"the pickle names the global {module}.{name}; data files may hold only str, "
                                f"bytes, numbers, lists, tuples, dicts and NumPy arrays")


def _finish(value: Any) -> Any:
    if isinstance(value, (_ArrayStub, _FrombufferStub)):
        return value.array()
    if isinstance(value, _DtypeStub):
        raise UnsafePickleError("a bare numpy dtype in a data pickle")
    if isinstance(value, dict):
        return {_finish(key): _finish(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finish(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_finish(item) for item in value)
    return value


def load_data_pickle(raw: bytes, name: str) -> Any:
    """Read the pickled data in ``raw`` (see the module docstring); errors name the file ``name``."""
    try:
        return _finish(_DataUnpickler(io.BytesIO(raw), encoding="latin1").load())
    except UnsafePickleError as error:
        raise UnsafePickleError(f"{name}: {error}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError) as error:
        raise UnsafePickleError(f"{name}: not a readable data pickle ({type(error).__name__}: {error}); delete it "
                                f"and download the dataset again") from None
