"""shenjing.save / shenjing.load: round trips, the documented format, atomic writes, and clear errors for
files that are not (intact) checkpoints."""

from __future__ import annotations

import io
import json
import math
import os
import pathlib
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import nn
from shenjing import serialization
from shenjing.serialization import CheckpointError


@pytest.fixture
def path(tmp_path):
    return tmp_path / "checkpoint.pt"


def _same_tensor(a, b):
    assert type(a) is type(b)
    assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


# -- round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [sj.float16, sj.float32, sj.float64, sj.int8, sj.int16, sj.int32, sj.int64,
                                   sj.uint8, sj.bool])
def test_tensor_dtypes_round_trip(path, dtype):
    values = sj.tensor(np.arange(-3, 3).reshape(2, 3)).to(dtype)
    sj.save(values, path)
    _same_tensor(sj.load(path), values)


def test_nested_structure_round_trip_keeps_types_order_and_values(path):
    obj = OrderedDict([
        ("zeta", sj.tensor(3.5)),
        ("alpha", {"empty": sj.zeros(0, 4), "grad": sj.ones(2, requires_grad=True), 7: "seven",
                   (1, "a"): None, 2.5: True}),
        ("list", [1, -2, 3.25, "ünïcode ✓", False, None, (4, [5.0, {"x": []}]), ()]),
        ("specials", [math.inf, -math.inf, 2 ** 62, sj.float64, sj.int64]),
        ("array", np.arange(6, dtype=np.int16).reshape(2, 3)),
        ("param", nn.Parameter(sj.ones(2, 2))),
        ("frozen", nn.Parameter(sj.zeros(1), requires_grad=False)),
    ])
    sj.save(obj, path)
    loaded = sj.load(path)
    assert type(loaded) is OrderedDict and list(loaded) == list(obj)
    assert type(loaded["alpha"]) is dict and list(loaded["alpha"]) == ["empty", "grad", 7, (1, "a"), 2.5]
    _same_tensor(loaded["zeta"], obj["zeta"])
    _same_tensor(loaded["alpha"]["empty"], obj["alpha"]["empty"])
    _same_tensor(loaded["alpha"]["grad"], obj["alpha"]["grad"])
    assert loaded["alpha"][7] == "seven" and loaded["alpha"][(1, "a")] is None and loaded["alpha"][2.5] is True
    assert loaded["list"] == obj["list"]
    assert type(loaded["list"][6]) is tuple and type(loaded["list"][6][1]) is list
    assert loaded["specials"] == obj["specials"]
    assert isinstance(loaded["array"], np.ndarray) and loaded["array"].dtype == np.int16
    np.testing.assert_array_equal(loaded["array"], obj["array"])
    _same_tensor(loaded["param"], obj["param"])
    _same_tensor(loaded["frozen"], obj["frozen"])


def test_nan_and_numpy_scalars(path):
    sj.save({"nan": math.nan, "i": np.int64(5), "f": np.float32(0.5), "b": np.bool_(True)}, path)
    loaded = sj.load(path)
    assert math.isnan(loaded["nan"])
    assert loaded["i"] == 5 and type(loaded["i"]) is int
    assert loaded["f"] == 0.5 and type(loaded["b"]) is bool


def test_non_contiguous_and_shared_tensors(path):
    base = sj.arange(12.0).reshape(3, 4)
    view = base.T
    sj.save({"a": view, "b": view, "base": base}, path)
    loaded = sj.load(path)
    np.testing.assert_array_equal(loaded["a"].numpy(), base.numpy().T)
    assert loaded["a"] is loaded["b"]  # one tensor saved twice loads as one object
    loaded["a"]._data[0, 0] = -1.0  # and it is writable, independent of the original
    assert base[0, 0].item() == 0.0


def test_file_objects_and_pathlike(tmp_path):
    buffer = io.BytesIO()
    sj.save({"w": sj.ones(3)}, buffer)
    buffer.seek(0)
    assert sj.load(buffer)["w"].tolist() == [1.0, 1.0, 1.0]

    class Unseekable(io.RawIOBase):
        def __init__(self, data):
            self._stream = io.BytesIO(data)

        def readable(self):
            return True

        def seekable(self):
            return False

        def readinto(self, b):
            return self._stream.readinto(b)

    assert sj.load(Unseekable(buffer.getvalue()))["w"].shape == (3,)
    target = pathlib.Path(tmp_path) / "model.weights"
    sj.save([1, 2], target)
    assert os.listdir(tmp_path) == ["model.weights"]  # exactly that name, no '.npz' added
    assert sj.load(str(target)) == [1, 2]


def test_map_location_and_weights_only_are_accepted(path):
    sj.save({"x": sj.ones(1)}, path)
    assert sj.load(path, map_location="cpu", weights_only=True)["x"].item() == 1.0
    assert sj.load(path, map_location=lambda storage, loc: storage, weights_only=False)["x"].item() == 1.0


def test_model_state_dict_round_trip_gives_identical_outputs(path):
    sj.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    sj.save(model.state_dict(), path)
    sj.manual_seed(1)
    fresh = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = sj.randn(5, 4)
    assert not np.array_equal(model(x).detach().numpy(), fresh(x).detach().numpy())
    state = sj.load(path)
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(model(x).detach().numpy(), fresh(x).detach().numpy())


def test_training_checkpoint_with_optimizer_state(path):
    checkpoint = {
        "epoch": 12, "best_accuracy": 0.9875,
        "optimizer": {"state": {0: {"step": sj.tensor(30.0), "exp_avg": sj.zeros(2, 2)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-08, "params": [0, 1],
                                        "amsgrad": False, "foreach": None}]},
        "rng": sj.get_rng_state(),
    }
    sj.save(checkpoint, path)
    loaded = sj.load(path)
    assert loaded["optimizer"]["param_groups"] == checkpoint["optimizer"]["param_groups"]
    assert list(loaded["optimizer"]["state"]) == [0]
    _same_tensor(loaded["optimizer"]["state"][0]["exp_avg"], checkpoint["optimizer"]["state"][0]["exp_avg"])
    _same_tensor(loaded["rng"], checkpoint["rng"])
    sj.set_rng_state(loaded["rng"])


# -- format ---------------------------------------------------------------------------------------------


def test_file_is_a_plain_npz_with_a_json_description(path):
    sj.save({"w": sj.ones(2, dtype=sj.float64), "n": 3}, path)
    with np.load(path, allow_pickle=False) as archive:
        description = json.loads(archive["__shenjing__"].tobytes().decode("utf-8"))
        assert description["format"] == "shenjing-checkpoint" and description["version"] == 1
        root = description["root"]
        assert root["type"] == "dict"
        (key_w, node_w), (key_n, node_n) = root["items"]
        assert key_w == {"type": "str", "value": "w"} and node_n == {"type": "int", "value": 3}
        assert node_w["type"] == "tensor" and node_w["dtype"] == "float64"
        np.testing.assert_array_equal(archive[node_w["key"]], [1.0, 1.0])
    with zipfile.ZipFile(path) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())
        assert not any(b"pickle" in archive.read(name)[:128] for name in archive.namelist())


def test_unsupported_objects_are_refused_with_their_location(path):
    with pytest.raises(TypeError, match=r"function.*at obj\['model'\]\['hook'\]"):
        sj.save({"model": {"hook": print}}, path)
    with pytest.raises(TypeError, match="dtype object"):
        sj.save({"a": np.array([object()])}, path)
    with pytest.raises(TypeError, match="dict key"):
        sj.save({sj.float32: 1}, path)
    cyclic = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="contains itself"):
        sj.save(cyclic, path)
    assert not path.exists()


# -- atomic writes -------------------------------------------------------------------------------------


def _write_old(path):
    sj.save({"version": "old"}, path)
    return path.read_bytes()


def test_failure_while_writing_keeps_the_old_file_and_leaves_no_temp_files(path, monkeypatch):
    old = _write_old(path)

    def crash_midway(stream, *args, **kwargs):
        stream.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(serialization.np, "savez", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        sj.save({"version": "new"}, path)
    assert path.read_bytes() == old
    assert os.listdir(path.parent) == [path.name]
    monkeypatch.undo()
    assert sj.load(path) == {"version": "old"}


def test_failure_at_rename_or_interrupt_keeps_the_old_file(path, monkeypatch):
    old = _write_old(path)
    monkeypatch.setattr(serialization.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("rename failed")))
    with pytest.raises(OSError, match="rename failed"):
        sj.save({"version": "new"}, path)
    assert path.read_bytes() == old and os.listdir(path.parent) == [path.name]
    monkeypatch.undo()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sj.save({"version": "new"}, path)
    assert path.read_bytes() == old and os.listdir(path.parent) == [path.name]


def test_save_fsyncs_before_renaming(path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(serialization.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(serialization.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    sj.save({"x": 1}, path)
    assert events[:2] == ["fsync", "replace"]
    assert sj.load(path) == {"x": 1}


def test_saved_file_gets_normal_permissions(path):
    sj.save(1, path)
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


# -- bad files -----------------------------------------------------------------------------------------


def test_checkpoint_error_is_value_and_runtime_error():
    assert issubclass(CheckpointError, ValueError) and issubclass(CheckpointError, RuntimeError)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        sj.load(tmp_path / "nope.pt")


def _expect_error(path, *fragments):
    with pytest.raises(CheckpointError) as info:
        sj.load(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_truncated_files_raise_checkpoint_error(path):
    sj.save({"w": sj.randn(50, 50), "b": sj.zeros(50), "meta": {"epoch": 3}}, path)
    data = path.read_bytes()
    for cut in [0, 3, 10, 100, len(data) // 3, len(data) // 2, len(data) - 200, len(data) - 22, len(data) - 1]:
        path.write_bytes(data[:cut])
        _expect_error(path)


def test_corrupted_payload_raises_checkpoint_error(path):
    sj.save({"w": sj.randn(50, 50)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the tensor's bytes: caught by the ZIP CRC
    path.write_bytes(bytes(data))
    _expect_error(path, "corrupted")


def test_foreign_files_raise_checkpoint_error(path, tmp_path):
    path.write_text("epoch,loss\n1,0.5\n")
    _expect_error(path, "not a shenjing checkpoint")
    path.write_bytes(b"")
    _expect_error(path, "empty file")
    npy = tmp_path / "array.npy"
    np.save(npy, np.ones(3))
    _expect_error(npy, "not a shenjing checkpoint")
    npz = tmp_path / "data.npz"
    np.savez(npz, images=np.zeros((2, 2)))
    _expect_error(npz, "not a shenjing checkpoint", "__shenjing__")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    _expect_error(path, "not a shenjing checkpoint")


def test_pytorch_checkpoint_is_refused_without_unpickling(path):
    torch.save({"w": torch.ones(2)}, path)
    _expect_error(path, "PyTorch", "torch.load")


def _forge(path, description, **arrays):
    text = json.dumps(description).encode()
    np.savez(open(path, "wb"), __shenjing__=np.frombuffer(text, dtype=np.uint8), **arrays)


@pytest.mark.parametrize("description,arrays,fragment", [
    ({"format": "other", "version": 1, "root": {"type": "none"}}, {}, "not a shenjing checkpoint description"),
    ({"format": "shenjing-checkpoint", "version": 99, "root": {"type": "none"}}, {}, "version 99"),
    ({"format": "shenjing-checkpoint", "version": 1, "root": {"type": "eval", "value": "1"}}, {},
     "unknown node type 'eval'"),
    ({"format": "shenjing-checkpoint", "version": 1,
      "root": {"type": "tensor", "key": "t9", "dtype": "float32"}}, {}, "missing array entry 't9'"),
    ({"format": "shenjing-checkpoint", "version": 1,
      "root": {"type": "tensor", "key": "t0", "dtype": "float32"}}, {"t0": np.zeros(2, np.int64)}, "dtype int64"),
    ({"format": "shenjing-checkpoint", "version": 1, "root": {"type": "int", "value": "3"}}, {}, "int node"),
    ({"format": "shenjing-checkpoint", "version": 1,
      "root": {"type": "dict", "items": [[{"type": "list", "items": []}, {"type": "none"}]]}}, {}, "unhashable"),
    ({"format": "shenjing-checkpoint", "version": 1, "root": {"type": "list"}}, {}, "no item list"),
])
def test_forged_descriptions_raise_checkpoint_error(path, description, arrays, fragment):
    _forge(path, description, **arrays)
    _expect_error(path, fragment)


def test_description_that_is_not_json(path):
    np.savez(open(path, "wb"), __shenjing__=np.frombuffer(b"{not json", dtype=np.uint8))
    _expect_error(path, "corrupted")
