"""One-byte mutations of a real ``fit()`` checkpoint: each either loads exactly the saved data or raises a
``CheckpointError`` naming the file. Never wrong shapes or values, never a raw numpy/zipfile exception.

The normal run tries a few hundred seeded mutations (every byte of every ``.npy`` header's shape field,
and random bytes in the headers, the ZIP structures and anywhere); ``SHENJING_LONG_TESTS=1`` tries every
byte of the file.
"""

from __future__ import annotations

import os
import random
import zipfile

import numpy as np
import pytest

import shenjing as sj
from shenjing import nn
from shenjing.serialization import CheckpointError
from shenjing.train import fit
from shenjing.utils.data import DataLoader, TensorDataset

LONG = os.environ.get("SHENJING_LONG_TESTS") == "1"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    sj.manual_seed(0)
    model = nn.Sequential(nn.Linear(40, 64), nn.ReLU(), nn.Linear(64, 3))
    inputs, targets = sj.randn(32, 40), sj.randint(0, 3, (32,))
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=8, shuffle=True)
    optimizer = sj.optim.Adam(model.parameters(), lr=0.01)
    scheduler = sj.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    path = tmp_path_factory.mktemp("fuzz") / "fit.ckpt"
    fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs=1, scheduler=scheduler,
                 checkpoint=path, progress=False)
    data = path.read_bytes()
    return data, sj.load(path)


def _same(a, b, where="root"):
    """Bit-identical: the same types, dtypes, shapes, flags and bytes, recursively."""
    assert type(a) is type(b), f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, sj.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad, where
        assert a.detach().numpy().tobytes() == b.detach().numpy().tobytes(), where
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and a != a:
        assert b != b, where
    else:
        assert a == b, where


def _regions(data: bytes) -> dict[str, list[int]]:
    """Byte offsets of the interesting parts: .npy headers, their shape fields, local headers, directory."""
    import io

    regions = {"npy_header": [], "shape": [], "zip_local": [], "zip_directory": []}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            start = info.header_offset
            name_length = int.from_bytes(data[start + 26:start + 28], "little")
            extra_length = int.from_bytes(data[start + 28:start + 30], "little")
            regions["zip_local"] += range(start, start + 30 + name_length)
            body = start + 30 + name_length + extra_length
            header_length = int.from_bytes(data[body + 8:body + 10], "little")
            header = data[body:body + 10 + header_length]
            regions["npy_header"] += range(body, body + len(header))
            shape_at = header.find(b"'shape': (")
            shape_end = header.find(b")", shape_at)
            regions["shape"] += range(body + shape_at + 10, body + shape_end)
        directory_start = min(info.header_offset for info in archive.infolist())
    end = data.rfind(b"PK\x05\x06")
    first_central = data.find(b"PK\x01\x02", directory_start)
    regions["zip_directory"] = list(range(first_central, len(data)))
    assert end > first_central > 0
    return regions


def _mutations(data: bytes) -> list[tuple[int, int]]:
    if LONG:
        rng = random.Random(1)
        return [(position, rng.randrange(256)) for position in range(len(data))]
    rng = random.Random(16)
    regions = _regions(data)
    mutations = [(position, ord(digit)) for position in regions["shape"] for digit in "0123456789,( "
                 if data[position] != ord(digit)]
    rng.shuffle(mutations)
    mutations = mutations[:150]
    for name, count in [("npy_header", 80), ("zip_local", 40), ("zip_directory", 60)]:
        mutations += [(rng.choice(regions[name]), rng.randrange(256)) for _ in range(count)]
    mutations += [(rng.randrange(len(data)), rng.randrange(256)) for _ in range(70)]
    return [(position, value) for position, value in mutations if data[position] != value]


def test_one_byte_mutations_load_identically_or_raise_a_clear_error(checkpoint, tmp_path):
    data, original = checkpoint
    path = tmp_path / "mutated.ckpt"
    outcomes = {"identical": 0, "refused": 0}
    mutations = _mutations(data)
    assert len(mutations) >= 300 or LONG
    for position, value in mutations:
        mutated = bytearray(data)
        mutated[position] = value
        path.write_bytes(bytes(mutated))
        try:
            loaded = sj.load(path)
        except CheckpointError as error:
            assert str(path) in str(error), f"byte {position} -> {value}: {error}"
            outcomes["refused"] += 1
            continue
        # anything else raised propagates and fails the test: it would be a raw traceback
        _same(original, loaded, f"byte {position} -> {value}")
        outcomes["identical"] += 1
    assert outcomes["refused"] > len(mutations) // 2, outcomes


def test_every_shape_digit_that_shrinks_a_header_is_refused(checkpoint, tmp_path):
    """The probe's finding: a header declaring fewer elements than its entry holds loaded silently."""
    data, _ = checkpoint
    path = tmp_path / "shrunk.ckpt"
    regions = _regions(data)
    tried = 0
    for position in regions["shape"]:
        if not chr(data[position]).isdigit() or data[position] == ord("0"):
            continue
        mutated = bytearray(data)
        mutated[position] = ord("1") if data[position] != ord("1") else ord("0")
        path.write_bytes(bytes(mutated))
        with pytest.raises(CheckpointError, match="declares|corrupted") as info:
            sj.load(path)
        assert str(path) in str(info.value)
        tried += 1
    assert tried >= 5
