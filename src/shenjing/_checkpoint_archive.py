"""Reading the ZIP (``.npz``) archive of a checkpoint with every byte checked.

``read_arrays(stream, name, max_ratio)`` returns ``{entry name without .npy: ndarray}`` or raises
``CheckpointError`` naming the file and the entry. What is checked, before anything is trusted:

- the archive: a readable ZIP directory, no two entries with the same name, only stored or deflated
  entries, only ``.npy`` entries (a shenjing checkpoint holds nothing else);
- the total size of the entries once decompressed: at most ``max_ratio`` times the size of the file (and at
  least 1 MiB is always allowed), so a small file cannot inflate to gigabytes (a "decompression bomb");
- each entry is read whole, so the ZIP's CRC-32 of it is verified (one changed byte anywhere is caught);
- each ``.npy`` header: its shape's element count times the item size must be exactly the bytes that follow
  the header (NumPy would silently read fewer), and its dtype must be one shenjing has (float16/32/64,
  int8/16/32/64, uint8, bool) in either byte order. Big-endian data is converted to the native byte order;
  complex, string, datetime, object, structured and other integer types are refused.
"""

from __future__ import annotations

import io
import math
import warnings
import zipfile
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

__all__ = ["CheckpointError", "read_arrays", "SUPPORTED_DTYPES"]

SUPPORTED_DTYPES = frozenset(np.dtype(name) for name in
                             ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"))
_MIN_ALLOWED_BYTES = 1 << 20
_MAX_HEADER_BYTES = 10_000
_CHUNK = 1 << 22


class CheckpointError(ValueError, RuntimeError):
    """A file that cannot be loaded as a shenjing checkpoint (not one, truncated, or corrupted)."""


def _stream_size(stream: IO[bytes]) -> int:
    position = stream.tell()
    size = stream.seek(0, io.SEEK_END)
    stream.seek(position)
    return size - position


def check_dtype(dtype: np.dtype, where: str) -> np.dtype:
    """The native-byte-order version of ``dtype`` if shenjing supports it; else ``CheckpointError``."""
    if dtype.fields is not None or dtype.subdtype is not None:
        raise CheckpointError(f"{where} has a structured dtype {dtype}, which shenjing cannot load; "
                              f"checkpoints hold plain numeric arrays")
    native = dtype.newbyteorder("=")
    if native not in SUPPORTED_DTYPES:
        kinds = {"c": "complex", "U": "string", "S": "bytes", "M": "datetime", "m": "timedelta", "O": "object",
                 "V": "raw bytes"}
        what = kinds.get(dtype.kind, "unsupported")
        raise CheckpointError(f"{where} has {what} dtype {dtype.str!r} ({dtype}); shenjing loads float16, "
                              f"float32, float64, int8, int16, int32, int64, uint8 and bool arrays")
    return native


class _ArchiveReader:
    def __init__(self, stream: IO[bytes], name: str, max_ratio: float) -> None:
        self.stream, self.name, self.max_ratio = stream, name, max_ratio

    def fail(self, reason: str) -> CheckpointError:
        return CheckpointError(f"{self.name}: {reason}")

    def entries(self, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
        infos = archive.infolist()
        by_name: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if key in by_name:
                raise self.fail(f"the archive has two entries named {info.filename!r}; a checkpoint has each "
                                f"entry once (the file was altered or damaged)")
            by_name[key] = info
        return by_name

    def check_entries(self, entries: dict[str, zipfile.ZipInfo], file_size: int) -> None:
        for key, info in entries.items():
            if not info.filename.endswith(".npy") or info.is_dir():
                raise self.fail(f"entry {info.filename!r} is not an array (.npy) entry; a shenjing checkpoint "
                                f"holds only arrays")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.fail(f"entry {info.filename!r} uses ZIP compression method {info.compress_type}; "
                                f"only stored (0) and deflated (8) entries are read")
        total = sum(info.file_size for info in entries.values())
        allowed = max(self.max_ratio * file_size, _MIN_ALLOWED_BYTES)
        if total > allowed:
            raise self.fail(f"its entries would decompress to {total:,} bytes, more than {self.max_ratio:g} "
                            f"times the file's {file_size:,} bytes (a corrupted file or a decompression bomb); "
                            f"if you trust the file, pass load(..., max_decompression_ratio=...) with a larger "
                            f"ratio")

    @staticmethod
    def _read_header(entry: IO[bytes]) -> tuple:
        version = npy_format.read_magic(entry)
        if version == (1, 0):
            return npy_format.read_array_header_1_0(entry, max_header_size=_MAX_HEADER_BYTES)
        if version in ((2, 0), (3, 0)):
            return npy_format.read_array_header_2_0(entry, max_header_size=_MAX_HEADER_BYTES)
        raise ValueError(f"unsupported .npy format version {version}")

    def read_entry(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
        where = f"entry {info.filename!r}"
        with archive.open(info) as entry:
            try:
                with warnings.catch_warnings():  # a damaged header can hold "\q": not worth a warning
                    warnings.simplefilter("ignore", DeprecationWarning)
                    warnings.simplefilter("ignore", SyntaxWarning)
                    shape, fortran_order, dtype = self._read_header(entry)
            except ValueError as error:
                raise self.fail(f"{where} has a malformed .npy header ({error})") from None
            header_size = entry.tell()
            native = check_dtype(dtype, f"{self.name}: {where}")
            count = math.prod(shape)
            expected = count * dtype.itemsize
            held = info.file_size - header_size
            if expected != held:
                raise self.fail(f"{where}: its header declares shape {shape} of {dtype} ({count:,} elements, "
                                f"{expected:,} bytes) but the entry holds {held:,} bytes after the header "
                                f"(the file was altered or damaged)")
            data = bytearray(expected)
            view, filled = memoryview(data), 0
            while filled < expected:
                got = entry.readinto(view[filled:filled + _CHUNK])
                if not got:
                    raise self.fail(f"{where} is truncated: {filled:,} of {expected:,} bytes")
                filled += got
            if entry.read(1):  # also reaches the end of the entry, where zipfile checks its CRC-32
                raise self.fail(f"{where} holds more bytes than its header and the ZIP directory declare")
        array = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran_order else "C")
        return array if dtype == native else array.astype(native)


def read_arrays(stream: IO[bytes], name: str, max_ratio: float, required: str) -> dict[str, np.ndarray]:
    """Every array of the archive in ``stream`` by entry name (``.npy`` stripped), all checked (see above).

    ``required`` is the entry a shenjing checkpoint must have; an archive without it is refused as "not a
    shenjing checkpoint" before its entries are checked or read.
    """
    reader = _ArchiveReader(stream, name, max_ratio)
    file_size = _stream_size(stream)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as error:
        raise CheckpointError(f"{name} is corrupted or truncated ({type(error).__name__}: {error})") from None
    with archive:
        try:
            entries = reader.entries(archive)
            if any(key.endswith("data.pkl") for key in entries):
                raise CheckpointError(f"{name} is a PyTorch (pickle) checkpoint, which shenjing does not "
                                      f"unpickle; convert it with PyTorch: sd = torch.load(path); shenjing.save("
                                      f"{{k: v.numpy() for k, v in sd.items()}}, new_path)")
            if required not in entries:
                raise CheckpointError(f"{name} is not a shenjing checkpoint: it is a .npz archive without the "
                                      f"'{required}' entry (entries: {sorted(entries)[:10]}); read it with "
                                      f"numpy.load instead")
            reader.check_entries(entries, file_size)
            return {key: reader.read_entry(archive, info) for key, info in entries.items()}
        except CheckpointError:
            raise
        except MemoryError:
            raise CheckpointError(f"{name}: not enough memory to load its arrays") from None
        except Exception as error:  # zipfile's errors for damaged entries: bad CRC, bad local headers, zlib
            raise CheckpointError(f"{name} is corrupted or truncated ({type(error).__name__}: {error})") from None
