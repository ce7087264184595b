"""``torch.distributed``'s API over MPI: process groups and collectives on shenjing tensors.

Start N processes with ``python -m shenjing.distributed.run --nproc-per-node N script.py`` (or
``mpiexec -n N python script.py``); in the script::

    import shenjing.distributed as dist
    dist.init_process_group("mpi")          # rank and world size come from MPI
    t = shenjing.ones(3) * dist.get_rank()
    dist.all_reduce(t, op=dist.ReduceOp.SUM) # in place: every rank now holds 0 + 1 + ... + (N - 1)

The transport is MPI through ``mpi4py`` (optional: ``pip install mpi4py mpich``, or the ``[distributed]``
extra); importing this package never imports it.

>>> import shenjing.distributed as dist
>>> dist.is_initialized()
False
"""

from __future__ import annotations

from shenjing.distributed._collectives import (
    ReduceOp, Work, all_gather, all_gather_into_tensor, all_reduce, barrier, broadcast, gather, reduce,
    reduce_scatter_tensor, scatter)
from shenjing.distributed._process_group import (
    Backend, DistBackendError, DistError, GroupMember, ProcessGroup, destroy_process_group, get_backend,
    get_process_group_ranks, get_rank, get_world_size, group, init_process_group, is_available, is_initialized,
    is_mpi_available, new_group)

__all__ = ["init_process_group", "destroy_process_group", "is_available", "is_initialized", "is_mpi_available",
           "get_rank", "get_world_size", "get_backend", "get_process_group_ranks", "new_group", "group",
           "GroupMember", "ProcessGroup", "Backend", "ReduceOp", "Work", "barrier", "broadcast", "all_reduce",
           "reduce", "all_gather", "all_gather_into_tensor", "gather", "scatter", "reduce_scatter_tensor",
           "DistError", "DistBackendError"]
