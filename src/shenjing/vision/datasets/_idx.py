"""The IDX file format of MNIST, read with every field checked.

An IDX file is a big-endian header followed by the raw values::

    bytes 0-1   0x00 0x00
    byte  2     the type of the values: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     D, the number of dimensions
    4 * D bytes the size of each dimension (uint32)
    the values, row-major: exactly prod(sizes) * itemsize bytes

So MNIST image files start with 0x00000803 (2051: uint8, 3 dimensions N x 28 x 28) and label files with
0x00000801 (2049: uint8, 1 dimension N). Files may be gzip-compressed (``.gz``).
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDXFormatError", "load_idx", "read_idx", "IMAGES_MAGIC", "LABELS_MAGIC"]

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"


class IDXFormatError(ValueError):
    """The bytes of a file do not form a valid IDX file (wrong magic number, truncated, corrupt gzip, ...)."""


def _describe(magic: int) -> str:
    dtype = _TYPES.get((magic >> 8) & 0xFF)
    type_name = "unknown-type" if dtype is None else dtype.name
    return f"{magic} (0x{magic:08X}: {type_name} values in {magic & 0xFF} dimensions)"


def _decompress(raw: bytes, name: str) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise IDXFormatError(f"{name}: corrupt or truncated gzip data ({error}); delete the file and download "
                             f"it again") from None


def load_idx(raw: bytes, name: str, expected_magic: int | None = None) -> np.ndarray:
    """Parse the bytes of an IDX file (gzip-compressed or not) into a native-byte-order ndarray.

    ``name`` is used in error messages; ``expected_magic`` (e.g. ``IMAGES_MAGIC``) rejects other kinds of file.

    >>> raw = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    >>> load_idx(raw, "example")
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    if raw[:2] == _GZIP_MAGIC or (name.endswith(".gz") and raw[:2] != b"\x00\x00"):
        raw = _decompress(raw, name)  # a .gz file that starts like an IDX file was decompressed already
    if len(raw) < 4:
        raise IDXFormatError(f"{name}: {len(raw)} bytes is too short for an IDX file, which starts with a "
                             f"4-byte magic number")
    magic = int.from_bytes(raw[:4], "big")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise IDXFormatError(f"{name}: not an IDX file: magic number 0x{magic:08X}; an IDX file starts with "
                             f"0x0000TTDD (TT the value type: 08, 09, 0B, 0C, 0D or 0E; DD the number of "
                             f"dimensions)")
    if expected_magic is not None and magic != expected_magic:
        raise IDXFormatError(f"{name}: wrong magic number {_describe(magic)}; expected "
                             f"{_describe(expected_magic)}. Is it the right file?")
    ndim, dtype = raw[3], _TYPES[raw[2]]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise IDXFormatError(f"{name}: truncated header: {ndim} dimensions need a {header_size}-byte header, "
                             f"but the file has {len(raw)} bytes")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected_size = header_size + math.prod(shape) * dtype.itemsize
    if len(raw) != expected_size:
        problem = "truncated" if len(raw) < expected_size else "too long"
        raise IDXFormatError(f"{name}: file is {problem}: its header describes {' x '.join(map(str, shape))} "
                             f"{dtype.name} values, {expected_size} bytes with the header, but it has "
                             f"{len(raw)} bytes")
    values = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def read_idx(path: str | Path, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or not) from disk; errors name the file."""
    path = Path(path)
    return load_idx(path.read_bytes(), str(path), expected_magic)
