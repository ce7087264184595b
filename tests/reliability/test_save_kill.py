"""Side effects of ``shenjing.save``: kill -9 mid-save keeps the previous checkpoint and the next save removes
the abandoned temporary file; a re-saved file keeps its mode; a symbolic link is written through, as
``torch.save`` does. The normal run kills two saves; ``SHENJING_LONG_TESTS=1`` kills twenty."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import shenjing as sj

LONG = os.environ.get("SHENJING_LONG_TESTS") == "1"
SOURCE = os.path.join(os.path.dirname(sj.__file__), os.pardir)

SAVER = """
import sys
import shenjing as sj
path, count = sys.argv[1], int(sys.argv[2])
payload = sj.zeros(3_000_000)
print("ready", flush=True)
for step in range(count):
    payload[0] = step
    sj.save({"step": step, "payload": payload}, path)
print("saved", count, flush=True)
"""


def _start_saver(path, count):
    environment = dict(os.environ, PYTHONPATH=os.path.abspath(SOURCE))
    process = subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(count)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=environment)
    assert process.stdout.readline().strip() == "ready", process.stderr.read()
    return process


def _others(directory, name):
    return sorted(entry for entry in os.listdir(directory) if entry != name)


def _kill_mid_save(path) -> list[str]:
    """Kill -9 a process that saves in a loop while one of its temporary files exists; returns what is left."""
    for _ in range(20):
        process = _start_saver(path, 1000)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not _others(path.parent, path.name):
            pass
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        process.stderr.close()
        left = _others(path.parent, path.name)
        if left:
            return left
    pytest.fail("never caught a save in progress")


def test_kill_during_save_keeps_a_checkpoint_and_the_next_save_cleans_up(tmp_path):
    path = tmp_path / "model.ckpt"
    sj.save({"step": -1, "payload": sj.zeros(3)}, path)
    for _ in range(20 if LONG else 2):
        left = _kill_mid_save(path)
        assert all(name.startswith(".model.ckpt.") and name.endswith(".tmp") for name in left), left
        loaded = sj.load(path)  # the previous checkpoint (ours or one the killed process completed), whole
        assert loaded["step"] == -1 or float(loaded["payload"][0]) == loaded["step"]
        sj.save({"step": -1, "payload": sj.zeros(3)}, path)
        assert _others(tmp_path, path.name) == [], "the abandoned temporary file is still there"
        assert sj.load(path)["step"] == -1


def test_a_save_running_in_another_process_is_not_disturbed(tmp_path):
    path = tmp_path / "shared.ckpt"
    process = _start_saver(path, 30)
    for step in range(30):
        sj.save({"step": step, "payload": sj.zeros(3_000_000)}, path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "saved 30" in out, err
    assert _others(tmp_path, path.name) == []
    assert isinstance(sj.load(path)["step"], int)


def _modes_after_save(save, directory, mode):
    path = directory / f"m{mode:o}.ckpt"
    save(path)
    os.chmod(path, mode)
    save(path)
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o664])
def test_resaving_keeps_the_file_mode_as_torch_save_does(tmp_path, mode):
    (tmp_path / "torch").mkdir()
    (tmp_path / "sj").mkdir()
    expected = _modes_after_save(lambda p: torch.save({"w": torch.ones(2)}, p), tmp_path / "torch", mode)
    assert expected == mode
    assert _modes_after_save(lambda p: sj.save({"w": sj.ones(2)}, p), tmp_path / "sj", mode) == expected


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
@pytest.mark.parametrize("dangling", [False, True])
def test_saving_through_a_symlink_writes_through_it_as_torch_save_does(tmp_path, dangling):
    outcomes = {}
    for library, save, load in [("torch", torch.save, lambda p: torch.load(p)["w"].numpy()),
                                ("sj", sj.save, lambda p: sj.load(p)["w"].numpy())]:
        folder = tmp_path / library
        (folder / "real").mkdir(parents=True)
        target = folder / "real" / "checkpoint.pt"
        if not dangling:
            save({"w": (torch if library == "torch" else sj).zeros(2)}, target)
        link = folder / "latest.pt"
        os.symlink(target, link)
        save({"w": (torch if library == "torch" else sj).ones(2)}, link)
        outcomes[library] = (os.path.islink(link), os.readlink(link) == str(target), target.is_file(),
                             load(target).tolist(), sorted(os.listdir(folder / "real")))
    assert outcomes["torch"][:4] == (True, True, True, [1.0, 1.0])
    assert outcomes["sj"] == outcomes["torch"]


def test_a_new_file_gets_the_mode_open_would_give(tmp_path):
    mask = os.umask(0o027)
    try:
        sj.save(1, tmp_path / "a.ckpt")
        torch.save(1, tmp_path / "b.ckpt")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(os.stat(tmp_path / "a.ckpt").st_mode) == stat.S_IMODE(os.stat(tmp_path / "b.ckpt").st_mode)
    np.testing.assert_equal(sj.load(tmp_path / "a.ckpt"), 1)
