"""Whole-module save/load: shenjing's own layers load by default, user classes only when allow-listed (as
PyTorch 2.6+'s weights_only loading), never through pickle, and the rebuilt module computes what it did."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import nn
from shenjing.serialization import UnsafeCheckpointError

INIT_CALLS = []


def double(x):
    return 2 * x


class Net(nn.Module):
    def __init__(self, hidden=5):
        super().__init__()
        INIT_CALLS.append(1)
        self.hidden = hidden
        self.body = nn.Sequential(nn.Linear(3, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 2)
        self.register_buffer("scale", sj.ones(2))
        self.register_buffer("scratch", sj.zeros(1), persistent=False)
        self.post = double

    def forward(self, x):
        return self.post(self.head(self.body(x))) * self.scale


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)


def roundtrip(obj, **load_args):
    buffer = io.BytesIO()
    sj.save(obj, buffer)
    buffer.seek(0)
    return sj.load(buffer, **load_args)


def test_shenjing_layers_load_by_default_and_compute_the_same(tmp_path):
    sj.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    model[1].running_mean.add_(0.5)
    model.eval()
    path = tmp_path / "model.pt"
    sj.save(model, path)
    with zipfile.ZipFile(path) as archive:
        assert not any(b"pickle" in archive.read(name)[:64] for name in archive.namelist())
    loaded = sj.load(path)
    assert type(loaded) is nn.Sequential and type(loaded[0]) is nn.Conv2d and not loaded.training
    assert repr(loaded) == repr(model)
    x = sj.randn(2, 1, 6, 6)
    np.testing.assert_array_equal(loaded(x).detach().numpy(), model(x).detach().numpy())
    assert list(loaded.state_dict()) == list(model.state_dict())
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in loaded.parameters())
    loaded.train()
    loss = loaded(x).sum()
    loss.backward()
    assert loaded[0].weight.grad is not None
    transformer = roundtrip(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16).eval())
    assert transformer.activation is nn.functional.relu


def test_shared_modules_and_tied_weights_stay_shared():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    model.extra = nn.Linear(2, 2)
    model.extra.weight = model[0].weight
    loaded = roundtrip(model)
    assert loaded[0] is loaded[2] and loaded.extra.weight is loaded[0].weight
    assert len(list(loaded.parameters())) == len(list(model.parameters()))


def test_user_class_refused_unless_allowed_and_never_initialised():
    INIT_CALLS.clear()
    model = Net()
    buffer = io.BytesIO()
    sj.save(model, buffer)
    with pytest.raises(UnsafeCheckpointError, match=r"test_serialization_modules.Net.*add_safe_globals\(\[Net\]\)"):
        sj.load(io.BytesIO(buffer.getvalue()))
    with sj.serialization.safe_globals([Net, double]):
        loaded = sj.load(io.BytesIO(buffer.getvalue()))
    assert Net not in sj.serialization.get_safe_globals()
    assert type(loaded) is Net and loaded.hidden == 5 and loaded.post is double and INIT_CALLS == [1]
    assert "scratch" not in loaded.state_dict() and "scratch" in dict(loaded.named_buffers())
    x = sj.randn(4, 3)
    np.testing.assert_array_equal(loaded(x).detach().numpy(), model(x).detach().numpy())
    sj.serialization.add_safe_globals([Net, double])
    try:
        assert type(sj.load(io.BytesIO(buffer.getvalue()))) is Net
    finally:
        sj.serialization.clear_safe_globals()
    trusted = sj.load(io.BytesIO(buffer.getvalue()), weights_only=False)  # as torch.load(weights_only=False)
    assert type(trusted) is Net and trusted.post is double


def test_torch_refuses_the_same_user_class_by_default():
    buffer = io.BytesIO()
    torch.save(TorchNet(), buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="add_safe_globals"):
        torch.load(buffer, weights_only=True)


def test_save_refuses_what_cannot_be_rebuilt():
    class Local(nn.Module):
        pass
    with pytest.raises(TypeError, match="inside a function"):
        sj.save(Local(), io.BytesIO())
    holder = nn.Linear(2, 2)
    holder.act = lambda x: x
    with pytest.raises(TypeError, match="lambda"):
        sj.save(holder, io.BytesIO())
    hooked = nn.Linear(2, 2)
    hooked.register_forward_hook(lambda module, args, out: out)
    with pytest.raises(TypeError, match="hooks"):
        sj.save(hooked, io.BytesIO())
    parametrized = nn.utils.parametrizations.weight_norm(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="parametrized"):
        sj.save(parametrized, io.BytesIO())
    with pytest.raises(TypeError, match="function"):
        sj.save({"hook": print}, io.BytesIO())  # functions only as module attributes


def _forged(root):
    buffer = io.BytesIO()
    structure = json.dumps({"format": "shenjing-checkpoint", "version": 2, "root": root}).encode()
    np.savez(buffer, __shenjing__=np.frombuffer(structure, dtype=np.uint8))
    buffer.seek(0)
    return buffer


def test_forged_checkpoints_name_nothing_outside_the_rules():
    empty_state = {"type": "dict", "ordered": False, "items": []}
    with pytest.raises(UnsafeCheckpointError, match="os.system"):
        sj.load(_forged({"type": "global", "module": "os", "qualname": "system"}), weights_only=False)
    with pytest.raises(UnsafeCheckpointError, match="subprocess.Popen"):
        sj.load(_forged({"type": "module", "id": 0, "module": "subprocess", "qualname": "Popen",
                         "state": empty_state}), weights_only=False)
    with pytest.raises(UnsafeCheckpointError, match="shenjing.serialization.save"):
        sj.load(_forged({"type": "module", "id": 0, "module": "shenjing.serialization", "qualname": "save",
                         "state": empty_state}))
    for script in ("shenjing.__main__", "shenjing.examples.xor"):  # importing these would run them
        with pytest.raises(UnsafeCheckpointError, match=script):
            sj.load(_forged({"type": "module", "id": 0, "module": script, "qualname": "Net", "state": empty_state}))
    with pytest.raises(sj.serialization.CheckpointError, match="not a module's attributes"):
        sj.load(_forged({"type": "module", "id": 0, "module": "shenjing.nn.modules.linear", "qualname": "Linear",
                         "state": empty_state}))
    with pytest.raises(sj.serialization.CheckpointError, match="reference"):
        sj.load(_forged({"type": "ref", "id": 3}))


def test_data_checkpoints_keep_format_version_1():
    buffer = io.BytesIO()
    sj.save({"w": sj.ones(2)}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        description = json.loads(np.load(io.BytesIO(archive.read("__shenjing__.npy"))).tobytes())
    assert description["version"] == 1
