"""Tests that start real processes with mpiexec (``python -m pytest tests_distributed``).

They are skipped when mpi4py or mpiexec is missing (``pip install mpi4py mpich``). Each test runs a script
from ``scripts/`` on 2 processes; the script checks its results and rank 0 prints one JSON line
``RESULT {...}`` that the test reads.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def _mpiexec() -> str | None:
    sys.path.insert(0, str(ROOT / "src"))
    from shenjing.distributed.run import find_mpiexec

    try:
        return find_mpiexec()
    except FileNotFoundError:
        return None


MPIEXEC = _mpiexec() if importlib.util.find_spec("mpi4py") is not None else None


def environment(threads: int = 1) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    return env


class Launched:
    def __init__(self, completed: subprocess.CompletedProcess) -> None:
        self.returncode, self.stdout, self.stderr = completed.returncode, completed.stdout, completed.stderr

    def result(self) -> dict:
        lines = [line for line in self.stdout.splitlines() if line.startswith("RESULT ")]
        assert lines, f"no RESULT line; rc={self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture
def mpirun():
    """``mpirun(script, *args, n=2, timeout=120)``: run ``scripts/script`` under mpiexec."""
    if MPIEXEC is None:
        pytest.skip("mpi4py or mpiexec missing: pip install mpi4py mpich")

    def run(script: str, *args: str, n: int = 2, timeout: float = 180, check: bool = True) -> Launched:
        command = [MPIEXEC, "-n", str(n), sys.executable, str(SCRIPTS / script), *args]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment())
        launched = Launched(completed)
        if check:
            assert completed.returncode == 0, (f"rc={completed.returncode}\nstdout:\n{completed.stdout}\n"
                                               f"stderr:\n{completed.stderr}")
        return launched
    return run


@pytest.fixture
def launcher():
    """``launcher(*args, timeout=120)``: run ``python -m shenjing.distributed.run *args``."""
    if MPIEXEC is None:
        pytest.skip("mpi4py or mpiexec missing: pip install mpi4py mpich")

    def run(*args: str, timeout: float = 180) -> Launched:
        command = [sys.executable, "-m", "shenjing.distributed.run", *args]
        return Launched(subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                       env=environment(), cwd=str(ROOT)))
    return run
