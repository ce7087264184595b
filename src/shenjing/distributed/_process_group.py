"""The process group: which processes take part, how they find each other (MPI), and what happens on failure.

shenjing's transport is MPI through ``mpi4py``: the processes are started by ``mpiexec`` (or by
``python -m shenjing.distributed.run``, which runs ``mpiexec``), and MPI already knows each one's rank and
the world size. ``init_process_group`` checks these against ``RANK``/``WORLD_SIZE`` (as torchrun sets them)
and against its arguments, then installs a hook so that a rank which raises ends the whole job (MPI Abort)
instead of leaving the others waiting.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from typing import Any, Sequence

__all__ = ["Backend", "ProcessGroup", "GroupMember", "group", "init_process_group", "destroy_process_group",
           "is_available", "is_initialized", "is_mpi_available", "get_rank", "get_world_size", "get_backend",
           "new_group", "get_process_group_ranks", "DistError", "DistBackendError"]

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)  # PyTorch's default for init_process_group
_INSTALL_HINT = "pip install mpi4py mpich   (or: pip install 'shenjing[distributed]')"
_MPI_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MPI_LOCALRANKID")


class DistError(RuntimeError):
    """An error of the distributed package (PyTorch's ``torch.distributed.DistError``)."""

    __module__ = "shenjing.distributed"


class DistBackendError(DistError):
    """The transport failed or timed out (PyTorch's ``torch.distributed.DistBackendError``)."""

    __module__ = "shenjing.distributed"


class Backend(str):
    """The name of a backend. shenjing has one transport, MPI; ``"gloo"`` is accepted as a name for it so
    that PyTorch CPU code runs unchanged."""

    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"

    def __new__(cls, name: str) -> "Backend":
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        return super().__new__(cls, name.lower())


def _load_mpi() -> Any:
    """mpi4py's MPI module, or an ImportError that names the fix."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(f"shenjing.distributed runs over MPI and needs mpi4py with an MPI library, which "
                          f"could not be imported ({error}). Install them with: {_INSTALL_HINT}") from error
    return MPI


def is_available() -> bool:
    """True if the transport (mpi4py) can be imported; importing shenjing never imports it."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


is_mpi_available = is_available


class ProcessGroup:
    """A set of ranks with its own MPI communicator; ``ranks`` are their global ranks, in group order."""

    def __init__(self, comm: Any, ranks: Sequence[int], backend: str, timeout: float) -> None:
        self.comm, self.ranks, self.backend, self.timeout = comm, list(ranks), backend, timeout

    def rank(self) -> int:
        return self.comm.Get_rank()

    def size(self) -> int:
        return len(self.ranks)

    def group_rank(self, global_rank: int, role: str) -> int:
        """The rank within this group of ``global_rank`` (as ``src``/``dst``), or a ValueError naming it."""
        if global_rank not in self.ranks:
            raise ValueError(f"{role}={global_rank} is not a rank of this process group (ranks {self.ranks})")
        return self.ranks.index(global_rank)

    def __repr__(self) -> str:
        return f"ProcessGroup(backend={self.backend!r}, ranks={self.ranks})"


class _World:
    """The state of this process: its default group, once initialised."""

    default_group: ProcessGroup | None = None
    previous_excepthook: Any = None


class GroupMember:
    """PyTorch's markers: ``GroupMember.WORLD`` (the default group) and ``NON_GROUP_MEMBER``."""

    NON_GROUP_MEMBER = object()

    @property
    def WORLD(self) -> ProcessGroup | None:  # noqa: N802  (PyTorch's name)
        return _World.default_group


class _GroupNamespace:
    """``shenjing.distributed.group.WORLD``: the default process group (None before initialisation)."""

    @property
    def WORLD(self) -> ProcessGroup | None:  # noqa: N802  (PyTorch's name)
        return _World.default_group


group = _GroupNamespace()


def _timeout_seconds(timeout: Any) -> float:
    if isinstance(timeout, datetime.timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        seconds = float(timeout)
    else:
        raise TypeError(f"timeout must be a datetime.timedelta (or seconds), but got {timeout!r}")
    if seconds <= 0:
        raise ValueError(f"timeout must be positive, but got {timeout!r}")
    return seconds


def _env_int(name: str) -> int | None:
    """An integer environment variable as torchrun sets them, or None when unset."""
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, but it is {value!r}") from None


def resolve_rank_and_size(mpi_rank: int, mpi_size: int, rank: int | None, world_size: int | None) -> tuple:
    """This process's (rank, world_size): MPI's, checked against the arguments and RANK/WORLD_SIZE.

    MPI decides who is who; an argument or environment variable that disagrees is an error naming both,
    because it means the processes were not started together by mpiexec (for instance by torchrun).
    """
    sources = [("rank argument", rank), ("RANK environment variable", _env_int("RANK"))]
    sizes = [("world_size argument", world_size), ("WORLD_SIZE environment variable", _env_int("WORLD_SIZE"))]
    for what, value in sizes:
        if value is not None and value != mpi_size:
            raise ValueError(
                f"{what} is {value} but MPI started {mpi_size} process(es). shenjing.distributed runs over MPI: "
                f"start the processes with `python -m shenjing.distributed.run --nproc-per-node {value} script.py` "
                f"or `mpiexec -n {value} python script.py` (torchrun's processes cannot reach each other here)")
    for what, value in sources:
        if value is not None and value != mpi_rank:
            raise ValueError(f"{what} is {value} but MPI gave this process rank {mpi_rank}; leave rank unset "
                             f"(MPI assigns ranks) or start the processes with mpiexec in rank order")
    return mpi_rank, mpi_size


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: datetime.timedelta | float | None = None, world_size: int | None = -1,
                       rank: int | None = -1, store: Any = None, group_name: str = "",
                       pg_options: Any = None, device_id: Any = None) -> None:
    """Join the processes started together by ``mpiexec`` into the default process group.

    ``backend``: ``"mpi"`` (or ``"gloo"``, run over MPI here, or None). ``init_method`` (``"env://"``,
    ``"tcp://..."``) is accepted and not needed: MPI has already connected the processes. ``rank`` and
    ``world_size``, when given (or set in RANK/WORLD_SIZE), must match MPI's. ``timeout`` bounds every
    collective: one that has not finished in time raises ``DistBackendError`` (and ends the job).

    >>> import shenjing.distributed as dist
    >>> dist.is_initialized()
    False
    """
    if _World.default_group is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = Backend(backend or Backend.MPI)
    if name == Backend.NCCL:
        raise ValueError("backend 'nccl' needs CUDA GPUs; shenjing runs on the CPU: use backend='mpi' (or 'gloo')")
    if name not in (Backend.MPI, Backend.GLOO):
        raise ValueError(f"unknown backend {backend!r}: shenjing.distributed supports 'mpi' (and 'gloo' as a name "
                         f"for it)")
    if store is not None:
        raise ValueError("store= is not used by the MPI transport: MPI connects the processes itself")
    seconds = _timeout_seconds(DEFAULT_TIMEOUT if timeout is None else timeout)
    rank = None if rank == -1 else rank  # PyTorch's defaults: -1 means "not given"
    world_size = None if world_size == -1 else world_size
    MPI = _load_mpi()
    world = MPI.COMM_WORLD
    this_rank, size = resolve_rank_and_size(world.Get_rank(), world.Get_size(), rank, world_size)
    comm = world.Dup()
    _World.default_group = ProcessGroup(comm, range(size), str(name), seconds)
    os.environ.setdefault("RANK", str(this_rank))
    os.environ.setdefault("WORLD_SIZE", str(size))
    if size > 1:
        _install_abort_on_exception(world)


def _install_abort_on_exception(world: Any) -> None:
    """An uncaught exception on one rank prints its traceback, then aborts every rank (MPI Abort), so the
    others never wait forever for a rank that has gone (mpi4py's ``python -m mpi4py`` does the same)."""
    if _World.previous_excepthook is not None:
        return
    previous = sys.excepthook

    def abort_on_exception(kind: type, value: BaseException, traceback: Any) -> None:
        previous(kind, value, traceback)
        rank = world.Get_rank()
        sys.stderr.write(f"shenjing.distributed: rank {rank} raised {kind.__name__}; aborting all "
                         f"{world.Get_size()} ranks (MPI Abort)\n")
        abort_job(1)

    _World.previous_excepthook = previous
    sys.excepthook = abort_on_exception


def abort_job(status: int) -> None:
    """End every rank of the job now (MPI Abort on COMM_WORLD), after this rank's output has gone out."""
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(0.25)  # mpiexec forwards output asynchronously: give it what this rank printed before the end
    try:
        _load_mpi().COMM_WORLD.Abort(status)
    finally:
        os._exit(status)  # should Abort return (it may, called from a thread), end this process all the same


def is_initialized() -> bool:
    """True once ``init_process_group`` has run (and ``destroy_process_group`` has not)."""
    return _World.default_group is not None


def default_group(group: ProcessGroup | None = None) -> ProcessGroup:
    """``group``, or the default group; a RuntimeError naming the fix before initialisation."""
    if group is not None and group is not GroupMember.NON_GROUP_MEMBER:
        return group
    if _World.default_group is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return _World.default_group


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (the default group): 0 .. world_size - 1; -1 if not a member."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return default_group(group).rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of processes in ``group`` (the default group); -1 if this process is not a member."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return default_group(group).size()


def get_backend(group: ProcessGroup | None = None) -> str:
    """The backend's name: ``"mpi"`` (or ``"gloo"`` if that is the name the group was made with)."""
    return default_group(group).backend


def get_process_group_ranks(group: ProcessGroup) -> list:
    """The global ranks of ``group``'s members, in group order."""
    return list(default_group(group).ranks)


def new_group(ranks: Sequence[int] | None = None, timeout: datetime.timedelta | float | None = None,
              backend: str | None = None, pg_options: Any = None, use_local_synchronization: bool = False,
              group_desc: str | None = None) -> Any:
    """A process group of the given global ``ranks`` (all ranks by default). Every rank of the default group
    must call it, members or not, as in PyTorch; a non-member gets ``GroupMember.NON_GROUP_MEMBER``."""
    world_group = default_group()
    members = sorted(range(world_group.size()) if ranks is None else ranks)
    for member in members:
        if not 0 <= member < world_group.size():
            raise ValueError(f"new_group: rank {member} is out of range for world size {world_group.size()}")
    if len(set(members)) != len(members):
        raise ValueError(f"new_group: ranks must be distinct, got {list(ranks)}")
    MPI = _load_mpi()
    me = world_group.rank()
    comm = world_group.comm.Split(0 if me in members else MPI.UNDEFINED, me)
    if me not in members:
        return GroupMember.NON_GROUP_MEMBER
    seconds = world_group.timeout if timeout is None else _timeout_seconds(timeout)
    return ProcessGroup(comm, members, backend or world_group.backend, seconds)


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Leave ``group`` (default: the default group, after which ``is_initialized()`` is False again)."""
    target = default_group(group)
    target.comm.Free()
    if group is None or target is _World.default_group:
        _World.default_group = None
        if _World.previous_excepthook is not None:
            sys.excepthook = _World.previous_excepthook
            _World.previous_excepthook = None
