"""Hostile files: decompression bombs, unsupported dtypes, duplicate and non-array entries, FIFOs, symlink
loops. Each is refused with an error naming the file (and the entry), or, where the file is legitimate
(big-endian arrays), loads correctly."""

from __future__ import annotations

import gzip
import io
import json
import os
import threading
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import serialization
from shenjing.serialization import CheckpointError
from shenjing.vision import datasets

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")


def _description(root) -> bytes:
    return json.dumps({"format": "shenjing-checkpoint", "version": 1, "root": root}).encode()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _write_zip(path, entries, compress=zipfile.ZIP_STORED):
    """entries: (name, bytes) pairs, written in order (names may repeat)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", compression=compress) as archive:
            for name, data in entries:
                archive.writestr(name, data)


def _tensor_checkpoint(path, array, node_dtype=None):
    root = {"type": "tensor", "key": "t0", "dtype": node_dtype or str(array.dtype), "requires_grad": False,
            "parameter": False}
    _write_zip(path, [("__shenjing__.npy", _npy_bytes(np.frombuffer(_description(root), np.uint8))),
                      ("t0.npy", _npy_bytes(array))])


def _bomb(path, count_float32: int, junk_name: str | None = None):
    """A real deflate bomb: count float32 zeros compress to ~1/1000 of their size."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False,
                                                 "shape": (count_float32,)})
    root = {"type": "tensor", "key": "t0", "dtype": "float32", "requires_grad": False, "parameter": False}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__shenjing__.npy", _npy_bytes(np.frombuffer(_description(root), np.uint8)))
        with archive.open(junk_name or "t0.npy", "w", force_zip64=True) as entry:
            if junk_name is None:
                entry.write(buffer.getvalue())
            zeros = bytes(1 << 20)
            for _ in range(count_float32 * 4 // len(zeros)):
                entry.write(zeros)
        if junk_name is not None:
            archive.writestr("t0.npy", _npy_bytes(np.zeros(count_float32, np.float32)[:4]))


def _expect(path, *fragments, error=CheckpointError):
    with pytest.raises(error) as info:
        sj.load(path)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# -- decompression bombs ---------------------------------------------------------------------------------


def test_a_deflate_bomb_is_refused_before_it_is_inflated(tmp_path):
    path = tmp_path / "bomb.ckpt"
    _bomb(path, 4 << 20)  # 16 MiB of float32 zeros in a ~17 KB file
    assert path.stat().st_size < 64 << 10
    tracemalloc.start()
    try:
        _expect(path, "decompress", "max_decompression_ratio")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_the_decompression_bound_can_be_raised_per_call_and_per_module(tmp_path, monkeypatch):
    path = tmp_path / "bomb.ckpt"
    _bomb(path, 4 << 20)
    loaded = sj.load(path, max_decompression_ratio=5000)
    assert loaded.shape == (4 << 20,) and not loaded.numpy().any()
    monkeypatch.setattr(serialization, "MAX_DECOMPRESSION_RATIO", 5000.0)  # the documented module setting
    assert sj.load(path).shape == (4 << 20,)
    with pytest.raises(ValueError, match="max_decompression_ratio"):
        sj.load(path, max_decompression_ratio=0)


def test_a_huge_non_array_entry_is_refused(tmp_path):
    path = tmp_path / "junk.ckpt"
    _bomb(path, 4 << 20, junk_name="payload.bin")
    _expect(path, "payload.bin", "not an array")


def test_a_small_non_array_entry_referred_to_as_an_array_is_refused(tmp_path):
    path = tmp_path / "bytes.ckpt"
    root = {"type": "ndarray", "key": "notes.txt"}
    _write_zip(path, [("__shenjing__.npy", _npy_bytes(np.frombuffer(_description(root), np.uint8))),
                      ("notes.txt", b"x" * 1000)])
    _expect(path, "notes.txt", "not an array")


def test_duplicate_entries_are_refused(tmp_path):
    path = tmp_path / "duplicate.ckpt"
    root = {"type": "tensor", "key": "t0", "dtype": "float32", "requires_grad": False, "parameter": False}
    _write_zip(path, [("__shenjing__.npy", _npy_bytes(np.frombuffer(_description(root), np.uint8))),
                      ("t0.npy", _npy_bytes(np.zeros(3, np.float32))),
                      ("t0.npy", _npy_bytes(np.ones(3, np.float32)))])
    _expect(path, "two entries", "t0.npy")


# -- dtypes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [">f4", ">f8", ">i8", ">i4", ">i2", ">f2", "<f4"])
def test_either_byte_order_loads_as_a_working_native_tensor(tmp_path, dtype):
    path = tmp_path / "endian.ckpt"
    values = np.array([[1.5, -2.0, 3.25], [4.0, 0.5, -6.0]]).astype(dtype)
    _tensor_checkpoint(path, values, node_dtype=str(values.dtype))
    tensor = sj.load(path)
    expected = torch.from_numpy(values.astype(values.dtype.newbyteorder("=")))
    assert tensor.dtype == getattr(sj, str(expected.dtype).removeprefix("torch."))
    np.testing.assert_array_equal(tensor.numpy(), expected.numpy())
    np.testing.assert_array_equal((tensor * 2 + 1).sum(0).numpy(), (expected * 2 + 1).sum(0).numpy())


@pytest.mark.parametrize("dtype", ["<c8", "<c16", "<U3", "|S3", "<M8[s]", "<m8[s]", "<u2", "<u4", "<u8",
                                   ">u4", [("a", "<f4"), ("b", "<i4")]])
@pytest.mark.parametrize("node", ["tensor", "ndarray"])
def test_unsupported_dtypes_are_refused_naming_file_and_entry(tmp_path, dtype, node):
    path = tmp_path / "dtype.ckpt"
    array = np.zeros(3, dtype=np.dtype(dtype))
    if node == "tensor":
        _tensor_checkpoint(path, array)
    else:
        root = {"type": "ndarray", "key": "t0"}
        _write_zip(path, [("__shenjing__.npy", _npy_bytes(np.frombuffer(_description(root), np.uint8))),
                          ("t0.npy", _npy_bytes(array))])
    _expect(path, "t0.npy", "dtype")


@pytest.mark.parametrize("dtype", [np.complex64, np.uint32, "<U2", "<M8[s]"])
def test_saving_an_unsupported_dtype_is_refused_at_save(tmp_path, dtype):
    with pytest.raises(TypeError, match="dtype"):
        sj.save({"x": np.zeros(2, dtype=dtype)}, tmp_path / "x.ckpt")
    assert not os.listdir(tmp_path)


# -- FIFOs and other non-regular files --------------------------------------------------------------------


def _run_in_thread(function, seconds=10.0, on_timeout=None):
    """Call function() in a daemon thread: {"value": ...} or {"error": ...}; fail if it runs past seconds."""
    outcome = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if on_timeout is not None:
            on_timeout()
            thread.join(seconds)
        pytest.fail(f"still running after {seconds} s")
    return outcome


def _run_against_fifo(fifo, function):
    """Call function() in a thread; if it blocks on the FIFO, unblock it and fail."""

    def unblock():
        descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # give the blocked reader an end of file
        os.close(descriptor)

    return _run_in_thread(function, on_timeout=unblock)


@needs_fifo
def test_a_fifo_as_checkpoint_gives_an_error_instead_of_hanging(tmp_path):
    fifo = tmp_path / "pipe.ckpt"
    os.mkfifo(fifo)
    outcome = _run_against_fifo(fifo, lambda: sj.load(fifo))
    assert isinstance(outcome.get("error"), CheckpointError), outcome
    assert str(fifo) in str(outcome["error"]) and "FIFO" in str(outcome["error"])


def test_a_directory_as_checkpoint_raises_is_a_directory_error_as_pytorch(tmp_path):
    with pytest.raises(IsADirectoryError):
        torch.load(tmp_path)
    with pytest.raises(IsADirectoryError):
        sj.load(tmp_path)


@needs_fifo
def test_a_fifo_as_image_or_idx_file_gives_an_error_instead_of_hanging(tmp_path):
    pytest.importorskip("PIL")
    root = tmp_path / "images"
    (root / "cat").mkdir(parents=True)
    from PIL import Image

    Image.new("L", (2, 2)).save(root / "cat" / "a.png")
    os.mkfifo(root / "cat" / "b.png")
    dataset = datasets.ImageFolder(root)
    outcome = _run_against_fifo(root / "cat" / "b.png", lambda: dataset[1])
    assert isinstance(outcome.get("error"), OSError) and "FIFO" in str(outcome["error"]), outcome
    assert "b.png" in str(outcome["error"])
    assert dataset[0][1] == 0
    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)
    outcome = _run_against_fifo(fifo, lambda: datasets.read_idx(fifo))
    assert isinstance(outcome.get("error"), datasets.IDXFormatError) and str(fifo) in str(outcome["error"])


# -- MNIST gzip bombs --------------------------------------------------------------------------------------


def _gzip_stream(parts, total_zeros=0) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [compressor.compress(part) for part in parts]
    zeros = bytes(1 << 20)
    for _ in range(total_zeros // len(zeros)):
        out.append(compressor.compress(zeros))
    out.append(compressor.flush())
    return b"".join(out)


def test_an_idx_gzip_bomb_is_decompressed_only_as_far_as_its_header_declares(tmp_path):
    header = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big")  # 10 labels ...
    raw = _gzip_stream([header, bytes(range(10))], total_zeros=64 << 20)  # ... followed by 64 MiB of zeros
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(raw)
    tracemalloc.start()
    try:
        with pytest.raises(datasets.IDXFormatError, match="too long") as info:
            datasets.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert peak < 8 << 20


def test_an_idx_header_declaring_more_than_its_gzip_file_can_hold_is_refused(tmp_path):
    header = bytes([0, 0, 8, 3]) + (1 << 24).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(_gzip_stream([header, bytes(100)]))
    with pytest.raises(datasets.IDXFormatError, match="truncated") as info:
        datasets.read_idx(path)
    assert str(path) in str(info.value)


def test_multi_member_gzip_idx_files_still_load(tmp_path):
    values = np.arange(12, dtype=np.uint8).reshape(3, 4)
    raw = bytes([0, 0, 8, 2]) + (3).to_bytes(4, "big") + (4).to_bytes(4, "big") + values.tobytes()
    path = tmp_path / "x-idx2-ubyte.gz"
    path.write_bytes(gzip.compress(raw[:7]) + gzip.compress(raw[7:]))
    np.testing.assert_array_equal(datasets.read_idx(path), values)


# -- ImageFolder and symlink loops ---------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_image_folder_visits_each_real_folder_once_through_symlink_loops(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image

    root = tmp_path / "root"
    (root / "cat" / "sub").mkdir(parents=True)
    (root / "dog").mkdir()
    for relative in ["cat/a.png", "cat/sub/b.png", "dog/c.png"]:
        Image.new("L", (2, 2)).save(root / relative)
    os.symlink(root / "cat", root / "cat" / "sub" / "loop")   # cat/sub/loop -> cat: a cycle
    os.symlink(root / "cat" / "sub", root / "cat" / "self")    # cat/self -> cat/sub: sub reached twice
    os.symlink(root / "dog", root / "dog" / "again")           # dog/again -> dog
    outcome = _run_in_thread(lambda: datasets.ImageFolder(root), seconds=20)
    assert "value" in outcome, outcome
    dataset = outcome["value"]
    relative = [(os.path.relpath(path, root), label) for path, label in dataset.samples]
    # sorted depth-first walk: cat/a.png, cat/self (-> sub: first visit of that folder), then cat/sub is
    # the same real folder and is skipped
    assert relative == [("cat/a.png", 0), ("cat/self/b.png", 0), ("dog/c.png", 1)]
    assert len({os.path.realpath(path) for path, _ in dataset.samples}) == len(dataset.samples)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_linked_folders_without_loops_are_still_followed(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    Image.new("L", (2, 2)).save(elsewhere / "x.png")
    root = tmp_path / "root"
    (root / "cat").mkdir(parents=True)
    os.symlink(elsewhere, root / "cat" / "linked")
    dataset = datasets.ImageFolder(root)
    assert [os.path.relpath(p, root) for p, _ in dataset.samples] == ["cat/linked/x.png"]
