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

import math
import zlib
from pathlib import Path

import numpy as np

from shenjing._files import open_regular_file

__all__ = ["IDXFormatError", "load_idx", "read_idx", "read_regular_file", "IMAGES_MAGIC", "LABELS_MAGIC"]

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


# deflate cannot expand data more than about 1032 times (258 bytes per 2-bit code at best)
_MAX_DEFLATE_RATIO = 1032


class _Gunzip:
    """Decompresses gzip data (one or more members) on demand: ``read(n)`` gives at most ``n`` more bytes."""

    def __init__(self, raw: bytes, name: str) -> None:
        self.name = name
        self.pending = raw
        self.decompressor = zlib.decompressobj(wbits=31)

    def _corrupt(self, reason: str) -> IDXFormatError:
        return IDXFormatError(f"{self.name}: corrupt or truncated gzip data ({reason}); delete the file and "
                              f"download it again")

    def read(self, n: int) -> bytes:
        out = bytearray()
        try:
            while len(out) < n:
                if self.decompressor.eof:
                    rest = self.decompressor.unused_data
                    if rest[:2] != _GZIP_MAGIC:  # the end, or padding after the last member
                        if rest.strip(b"\x00"):
                            raise self._corrupt("bytes after the end of the gzip stream")
                        break
                    self.decompressor, self.pending = zlib.decompressobj(wbits=31), rest
                chunk = self.decompressor.decompress(self.pending, n - len(out))
                self.pending = self.decompressor.unconsumed_tail
                out += chunk
                if not chunk and not self.pending and not self.decompressor.eof:
                    raise self._corrupt("the compressed data ends before the end-of-stream marker")
        except zlib.error as error:
            raise self._corrupt(str(error)) from None
        return bytes(out)


class _Plain:
    def __init__(self, raw: bytes) -> None:
        self.raw, self.position = raw, 0

    def read(self, n: int) -> bytes:
        chunk = self.raw[self.position:self.position + n]
        self.position += len(chunk)
        return chunk


def load_idx(raw: bytes, name: str, expected_magic: int | None = None) -> np.ndarray:
    """Parse the bytes of an IDX file (gzip-compressed or not) into a native-byte-order ndarray.

    ``name`` is used in error messages; ``expected_magic`` (e.g. ``IMAGES_MAGIC``) rejects other kinds of file.
    A ``.gz`` file is decompressed only as far as its header says: the header first, then the values it
    declares (one byte more shows a file that is too long), so a small file cannot inflate to gigabytes.

    >>> raw = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    >>> load_idx(raw, "example")
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    compressed = raw[:2] == _GZIP_MAGIC or (name.endswith(".gz") and raw[:2] != b"\x00\x00")
    reader = _Gunzip(raw, name) if compressed else _Plain(raw)  # a .gz file that starts like IDX is not gzip
    head = reader.read(4)
    if len(head) < 4:
        raise IDXFormatError(f"{name}: {len(head)} bytes is too short for an IDX file, which starts with a "
                             f"4-byte magic number")
    magic = int.from_bytes(head, "big")
    if head[0] != 0 or head[1] != 0 or head[2] not in _TYPES:
        raise IDXFormatError(f"{name}: not an IDX file: magic number 0x{magic:08X}; an IDX file starts with "
                             f"0x0000TTDD (TT the value type: 08, 09, 0B, 0C, 0D or 0E; DD the number of "
                             f"dimensions)")
    if expected_magic is not None and magic != expected_magic:
        raise IDXFormatError(f"{name}: wrong magic number {_describe(magic)}; expected "
                             f"{_describe(expected_magic)}. Is it the right file?")
    ndim, dtype = head[3], _TYPES[head[2]]
    header_size = 4 + 4 * ndim
    head += reader.read(header_size - 4)
    if len(head) < header_size:
        raise IDXFormatError(f"{name}: truncated header: {ndim} dimensions need a {header_size}-byte header, "
                             f"but the file has {len(head)} bytes")
    shape = tuple(int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    value_bytes = math.prod(shape) * dtype.itemsize
    expected_size = header_size + value_bytes
    described = f"{' x '.join(map(str, shape))} {dtype.name} values, {expected_size} bytes with the header"
    if compressed and expected_size > _MAX_DEFLATE_RATIO * len(raw) + 1024:
        raise IDXFormatError(f"{name}: its header describes {described}, more than a gzip file of "
                             f"{len(raw):,} bytes can hold: the file is truncated or corrupt")
    try:
        values = reader.read(value_bytes + 1)
    except MemoryError:
        raise MemoryError(f"{name}: its header describes {described}, more than the memory available") from None
    if len(values) != value_bytes:
        problem = "truncated" if len(values) < value_bytes else "too long"
        if not compressed:
            size = f"{len(raw)} bytes"
        else:
            size = f"{header_size + len(values)} bytes" if problem == "truncated" else "more (not decompressed)"
        raise IDXFormatError(f"{name}: file is {problem}: its header describes {described}, but it has {size}"
                             f"{' (decompressed)' if compressed else ''}")
    array = np.frombuffer(values, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def read_idx(path: str | Path, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or not) from disk; errors name the file."""
    return load_idx(read_regular_file(path, "IDX file"), str(path), expected_magic)


def read_regular_file(path: str | Path, what: str) -> bytes:
    """The bytes of ``path``; an ``IDXFormatError`` naming it if it is a FIFO or device (which could hang)."""
    with open_regular_file(path, what, IDXFormatError) as stream:
        return stream.read()
