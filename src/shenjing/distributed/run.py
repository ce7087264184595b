"""``python -m shenjing.distributed.run``: torchrun's command line, starting the processes with ``mpiexec``.

    python -m shenjing.distributed.run --nproc-per-node 2 train.py --epochs 3

runs ``mpiexec -n 2 python -m shenjing.distributed.run --worker train.py --epochs 3``. Each worker sets
the environment variables torchrun sets (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``, ``GROUP_RANK``) from MPI's and runs the script as ``__main__``. If a worker
raises or exits with a non-zero status, the whole job is aborted (MPI Abort), so no rank waits forever
for one that has gone; a worker killed by a signal makes ``mpiexec`` end the others.

Across machines, give an MPICH hostfile: ``--hostfile hosts --nnodes 2 --nproc-per-node 4`` runs
``mpiexec -f hosts -ppn 4 -n 8 ...`` (see docs/distributed.md). ``mpiexec`` is looked for in
``$SHENJING_MPIEXEC``, next to the Python executable (where ``pip install mpich`` puts it), then on PATH.
"""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Sequence

__all__ = ["find_mpiexec", "mpiexec_command", "main"]

_MPI_RANK = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
_MPI_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
_MPI_LOCAL_RANK = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK")
_MPI_LOCAL_SIZE = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE")


def find_mpiexec() -> str:
    """The path of ``mpiexec``, or a FileNotFoundError that names the fix."""
    configured = os.environ.get("SHENJING_MPIEXEC")
    if configured:
        if not Path(configured).is_file():
            raise FileNotFoundError(f"SHENJING_MPIEXEC is {configured!r}, which is not a file")
        return configured
    beside_python = Path(sys.executable).parent / "mpiexec"
    if beside_python.is_file():
        return str(beside_python)
    on_path = shutil.which("mpiexec")
    if on_path:
        return on_path
    raise FileNotFoundError("mpiexec was not found (not beside the Python executable, not on PATH). Install an MPI "
                            "with: pip install mpi4py mpich   (or set SHENJING_MPIEXEC to the mpiexec to use)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shenjing.distributed.run", allow_abbrev=False,
        description="Start N shenjing processes with mpiexec, torchrun-style (RANK, LOCAL_RANK, WORLD_SIZE set).")
    parser.add_argument("--nproc-per-node", "--nproc_per_node", type=int, default=1, metavar="N",
                        help="processes per machine (default 1)")
    parser.add_argument("--nnodes", type=str, default="1", help="number of machines (N or N:N); more than 1 "
                        "needs --hostfile")
    parser.add_argument("--node-rank", "--node_rank", type=int, default=0, help="accepted (MPI places the ranks)")
    parser.add_argument("--master-addr", "--master_addr", default="127.0.0.1",
                        help="exported as MASTER_ADDR (MPI itself does the rendezvous)")
    parser.add_argument("--master-port", "--master_port", type=int, default=29500, help="exported as MASTER_PORT")
    parser.add_argument("--standalone", action="store_true", help="accepted (one machine is the default)")
    for name in ("--rdzv-backend", "--rdzv_backend", "--rdzv-endpoint", "--rdzv_endpoint", "--rdzv-id",
                 "--rdzv_id", "--max-restarts", "--max_restarts"):
        parser.add_argument(name, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--hostfile", default=None, help="an MPICH hostfile (one 'host[:slots]' per line)")
    parser.add_argument("-m", "--module", action="store_true", help="run the script as a module (python -m)")
    parser.add_argument("--no-python", "--no_python", action="store_true",
                        help="run the script as a program, not with python")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("script", help="the training script (or module with -m)")
    parser.add_argument("script_args", nargs=argparse.REMAINDER, help="its arguments")
    return parser


def _parse(arguments: Sequence[str]) -> argparse.Namespace:
    """The launcher's own flags, then the script and everything after it, untouched (``--nproc`` in the
    script's arguments is the script's, not an abbreviation of ``--nproc-per-node``)."""
    parser = _parser()
    takes_value = {option for action in parser._actions if action.nargs is None and action.option_strings
                   for option in action.option_strings}
    arguments, position = list(arguments), 0
    while position < len(arguments) and arguments[position].startswith("-"):
        flag = arguments[position]
        position += 2 if flag in takes_value and "=" not in flag else 1
    options = parser.parse_args(arguments[:position + 1])
    options.script_args = arguments[position + 1:]
    return options


def _node_count(text: str) -> int:
    low, _, high = text.partition(":")
    try:
        low_count, high_count = int(low), int(high or low)
    except ValueError:
        raise SystemExit(f"--nnodes must be N or N:N, got {text!r}") from None
    if low_count != high_count or low_count < 1:
        raise SystemExit(f"--nnodes {text}: elastic ranges are not supported; give one number of machines")
    return low_count


def mpiexec_command(arguments: Sequence[str]) -> list:
    """The ``mpiexec`` command line that ``python -m shenjing.distributed.run ARGUMENTS`` runs."""
    options = _parse(arguments)
    if options.nproc_per_node < 1:
        raise SystemExit(f"--nproc-per-node must be at least 1, got {options.nproc_per_node}")
    nodes = _node_count(options.nnodes)
    if nodes > 1 and not options.hostfile:
        raise SystemExit(f"--nnodes {nodes} needs --hostfile naming the machines (MPI starts the processes on "
                         f"them); see docs/distributed.md")
    command = [find_mpiexec()]
    if options.hostfile:
        command += ["-f", options.hostfile, "-ppn", str(options.nproc_per_node)]
    command += ["-n", str(nodes * options.nproc_per_node)]
    command += [sys.executable, "-m", "shenjing.distributed.run", "--worker"]
    if options.module:
        command.append("--module")
    if options.no_python:
        command.append("--no-python")
    return command + [options.script] + list(options.script_args)


def _first(names: Sequence[str]) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


def _export_torchrun_variables() -> None:
    """RANK, LOCAL_RANK, WORLD_SIZE, ... from the MPI process manager's variables (or from MPI itself)."""
    rank, size = _first(_MPI_RANK), _first(_MPI_SIZE)
    local_rank, local_size = _first(_MPI_LOCAL_RANK), _first(_MPI_LOCAL_SIZE)
    if rank is None or size is None:
        from shenjing.distributed._process_group import _load_mpi

        world = _load_mpi().COMM_WORLD
        rank, size = str(world.Get_rank()), str(world.Get_size())
    os.environ["RANK"], os.environ["WORLD_SIZE"] = rank, size
    os.environ["LOCAL_RANK"] = local_rank if local_rank is not None else rank
    os.environ["LOCAL_WORLD_SIZE"] = local_size if local_size is not None else size
    local_count = int(os.environ["LOCAL_WORLD_SIZE"])
    os.environ["GROUP_RANK"] = str(int(rank) // max(local_count, 1))
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29500")


def _abort(status: int) -> None:
    """End every rank of the job: this one failed."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        from shenjing.distributed._process_group import abort_job

        sys.stderr.write(f"shenjing.distributed.run: rank {os.environ.get('RANK')} failed (exit status {status}); "
                         f"aborting all {os.environ['WORLD_SIZE']} ranks\n")
        abort_job(status)
    raise SystemExit(status)


def _run_worker(options: argparse.Namespace) -> None:
    _export_torchrun_variables()
    if options.no_python:
        completed = subprocess.run([options.script] + list(options.script_args))
        if completed.returncode != 0:
            _abort(completed.returncode if completed.returncode > 0 else 1)
        return
    sys.argv = [options.script] + list(options.script_args)
    try:
        if options.module:
            runpy.run_module(options.script, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, str(Path(options.script).resolve().parent))
            runpy.run_path(options.script, run_name="__main__")
    except SystemExit as stop:
        code = stop.code
        if code not in (None, 0):
            if not isinstance(code, int):
                sys.stderr.write(f"{code}\n")
            _abort(code if isinstance(code, int) and code > 0 else 1)
    except BaseException:
        traceback.print_exc()
        _abort(1)


def main(arguments: Sequence[str] | None = None) -> int:
    """Parse torchrun's flags and run the job under ``mpiexec``; returns its exit status."""
    arguments = sys.argv[1:] if arguments is None else list(arguments)
    options = _parse(arguments)
    if options.worker:
        _run_worker(options)
        return 0
    try:
        command = mpiexec_command(arguments)
    except FileNotFoundError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    environment = dict(os.environ, MASTER_ADDR=options.master_addr, MASTER_PORT=str(options.master_port))
    return subprocess.run(command, env=environment).returncode


if __name__ == "__main__":
    raise SystemExit(main())
