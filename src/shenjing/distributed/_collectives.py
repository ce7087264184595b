"""Collective operations on shenjing tensors, in place as in PyTorch, over MPI's non-blocking collectives.

Every operation starts an MPI non-blocking call (``Iallreduce``, ``Ibcast``, ...) and returns a ``Work``
handle (``async_op=True``) or waits on it at once. A wait that outlives the group's timeout (a rank that
never arrives) ends the job with a message naming the operation, instead of hanging. Results are written into the tensors' own arrays; a tensor whose array is not contiguous goes
through a contiguous copy that is written back when the operation completes.
"""

from __future__ import annotations

import contextlib
import enum
import sys
import threading
import time
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from shenjing._tensor import Tensor
from shenjing.distributed._process_group import ProcessGroup, _load_mpi, abort_job, default_group

__all__ = ["ReduceOp", "Work", "barrier", "broadcast", "all_reduce", "reduce", "all_gather",
           "all_gather_into_tensor", "gather", "scatter", "reduce_scatter_tensor"]


class ReduceOp:
    """How ``all_reduce``/``reduce`` combine the ranks' tensors: ``ReduceOp.SUM``, ``AVG``, ``PRODUCT``, ``MIN``,
    ``MAX``, ``BAND``, ``BOR``, ``BXOR`` (PyTorch's names).

    >>> ReduceOp.SUM
    <RedOpType.SUM: 0>
    """

    class RedOpType(enum.Enum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7

    SUM, AVG, PRODUCT = RedOpType.SUM, RedOpType.AVG, RedOpType.PRODUCT
    MIN, MAX = RedOpType.MIN, RedOpType.MAX
    BAND, BOR, BXOR = RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR


def _mpi_op(op: Any, array: np.ndarray) -> Any:
    """The MPI operation for ``op``; AVG is a SUM followed by a division (floating point only)."""
    if not isinstance(op, ReduceOp.RedOpType):
        raise ValueError(f"op must be a shenjing.distributed.ReduceOp (e.g. ReduceOp.SUM), but got {op!r}")
    if op is ReduceOp.AVG and array.dtype.kind not in "fc":
        raise ValueError(f"ReduceOp.AVG needs a floating-point tensor, but got dtype {array.dtype}")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and array.dtype.kind not in "iub":
        raise ValueError(f"{op.name} needs an integer or bool tensor, but got dtype {array.dtype}")
    MPI = _load_mpi()
    return {"SUM": MPI.SUM, "AVG": MPI.SUM, "PRODUCT": MPI.PROD, "MIN": MPI.MIN, "MAX": MPI.MAX,
            "BAND": MPI.BAND, "BOR": MPI.BOR, "BXOR": MPI.BXOR}[op.name]


def wait_for(request: Any, timeout: float, what: str) -> None:
    """Block until ``request`` completes; past ``timeout`` seconds the watchdog ends the job with a message
    naming ``what`` (MPI's own blocking wait does the waiting: it is the fastest way to make progress)."""
    if request.Test():
        return
    with _WATCHDOG.watching(timeout, what):
        request.Wait()


class _Watchdog:
    """One daemon thread per process that aborts the whole job (MPI Abort) when a wait outlives its deadline.

    A blocking MPI wait cannot be interrupted from Python, so a rank whose peer has stopped would wait
    forever; PyTorch's NCCL watchdog ends the process in the same way.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._deadline: float | None = None
        self._message = ""
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watching(self, timeout: float, what: str) -> Iterator[None]:
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="shenjing-distributed-watchdog",
                                                daemon=True)
                self._thread.start()
            self._deadline = time.monotonic() + timeout
            self._message = (f"{what} did not complete within the timeout of {timeout:g} s: another rank has "
                             f"stopped, crashed or is not calling the same collective (set timeout= in "
                             f"init_process_group)")
            self._condition.notify()
        try:
            yield
        finally:
            with self._condition:
                self._deadline = None

    def _watch(self) -> None:
        with self._condition:
            while True:
                if self._deadline is None:
                    self._condition.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._condition.wait(min(remaining, 1.0))
                    continue
                self._deadline = None
                sys.stderr.write(f"shenjing.distributed: DistBackendError: {self._message}; aborting the job "
                                 f"(MPI Abort)\n")
                abort_job(1)


_WATCHDOG = _Watchdog()


class Work:
    """A running collective: ``wait()`` blocks until it is done (then the tensors hold the result),
    ``is_completed()`` asks without blocking."""

    def __init__(self, request: Any, group: ProcessGroup, what: str,
                 finish: Callable[[], None] | None = None, keep: Sequence[Any] = ()) -> None:
        self._request, self._group, self._what, self._finish = request, group, what, finish
        self._keep = keep  # the arrays MPI reads or writes must outlive the request
        self._done = False

    def wait(self, timeout: Any = None) -> bool:
        if not self._done:
            seconds = self._group.timeout if timeout is None else _seconds(timeout)
            wait_for(self._request, seconds, f"{self._what} on rank {self._group.ranks[self._group.rank()]}")
            self._complete()
        return True

    def is_completed(self) -> bool:
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed()

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            self._finish()
        self._keep = ()


def _seconds(timeout: Any) -> float:
    return timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout)


def _check_tensor(tensor: Any, name: str) -> np.ndarray:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name} must be a shenjing Tensor, but got {type(tensor).__name__}")
    return tensor._data


def _working_array(tensor: Tensor) -> np.ndarray:
    """The tensor's own array when MPI can write into it, else a contiguous copy (written back later)."""
    array = tensor._data
    if array.flags.c_contiguous and array.flags.writeable:
        return array
    return np.ascontiguousarray(array)


def _writer(tensor: Tensor, array: np.ndarray, scale: float | None = None) -> Callable[[], None]:
    """What to do once ``array`` holds the result: divide for AVG, copy into the tensor if it is a copy."""
    def finish() -> None:
        if scale is not None:
            np.multiply(array, array.dtype.type(scale), out=array, casting="unsafe")
        if array is not tensor._data:
            tensor._data[...] = array
        tensor._bump_version()
    return finish


def _run(request: Any, group: ProcessGroup, what: str, async_op: bool, finish: Callable[[], None] | None,
         keep: Sequence[Any]) -> Work | None:
    work = Work(request, group, what, finish, keep)
    if async_op:
        return work
    work.wait()
    return None


def _group_of(group: ProcessGroup | None, what: str) -> ProcessGroup:
    target = default_group(group)
    if target is not None and not isinstance(target, ProcessGroup):
        raise ValueError(f"{what}: this process is not a member of the given group")
    return target


def barrier(group: ProcessGroup | None = None, async_op: bool = False, device_ids: Any = None) -> Work | None:
    """Wait until every rank of ``group`` has called ``barrier``."""
    target = _group_of(group, "barrier")
    return _run(target.comm.Ibarrier(), target, "barrier", async_op, None, ())


def broadcast(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, async_op: bool = False,
              group_src: int | None = None) -> Work | None:
    """Copy ``tensor`` from rank ``src`` into the same-shaped ``tensor`` of every other rank (in place)."""
    _check_tensor(tensor, "tensor")
    target = _group_of(group, "broadcast")
    root = _root(target, src, group_src, "src")
    array = _working_array(tensor)
    request = target.comm.Ibcast(array, root=root)
    return _run(request, target, f"broadcast from rank {target.ranks[root]}", async_op, _writer(tensor, array), (array,))


def all_reduce(tensor: Tensor, op: Any = ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Combine ``tensor`` across ranks with ``op`` (sum by default); every rank's ``tensor`` gets the result.

    With ranks holding a_0 .. a_{W-1}: SUM gives sum_r a_r, AVG (1/W) sum_r a_r, MAX the elementwise maximum.
    """
    _check_tensor(tensor, "tensor")
    target = _group_of(group, "all_reduce")
    array = _working_array(tensor)
    MPI = _load_mpi()
    request = target.comm.Iallreduce(MPI.IN_PLACE, array, _mpi_op(op, array))
    scale = 1.0 / target.size() if op is ReduceOp.AVG else None
    return _run(request, target, f"all_reduce({op.name})", async_op, _writer(tensor, array, scale), (array,))


def reduce(tensor: Tensor, dst: int | None = None, op: Any = ReduceOp.SUM, group: ProcessGroup | None = None,
           async_op: bool = False, group_dst: int | None = None) -> Work | None:
    """Combine ``tensor`` across ranks with ``op`` into rank ``dst``'s ``tensor``; the others keep theirs."""
    _check_tensor(tensor, "tensor")
    target = _group_of(group, "reduce")
    root = _root(target, dst, group_dst, "dst")
    array = _working_array(tensor)
    MPI = _load_mpi()
    mpi_op = _mpi_op(op, array)
    if target.rank() == root:
        request = target.comm.Ireduce(MPI.IN_PLACE, array, mpi_op, root=root)
        scale = 1.0 / target.size() if op is ReduceOp.AVG else None
        finish = _writer(tensor, array, scale)
    else:
        request, finish = target.comm.Ireduce(array, None, mpi_op, root=root), None
    return _run(request, target, f"reduce({op.name}) to rank {target.ranks[root]}", async_op, finish, (array,))


def all_gather(tensor_list: list, tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` on every rank (one tensor per rank, same shapes)."""
    array = _check_tensor(tensor, "tensor")
    target = _group_of(group, "all_gather")
    _check_list(tensor_list, target.size(), array, "tensor_list")
    received = np.empty((target.size(),) + array.shape, dtype=array.dtype)
    request = target.comm.Iallgather(np.ascontiguousarray(array), received)
    return _run(request, target, "all_gather", async_op, _spreader(tensor_list, received), (received, array))


def _check_world_sized(whole: np.ndarray, part: np.ndarray, target: Any, what: str, part_name: str) -> None:
    """``whole`` must hold world_size x ``part``'s elements, in ``part``'s dtype (``what`` names it)."""
    if whole.size != part.size * target.size() or whole.dtype != part.dtype:
        raise ValueError(f"{what} must hold world_size ({target.size()}) x the {part_name}'s {part.size} elements of "
                         f"dtype {part.dtype}, but got shape {list(whole.shape)} and dtype {whole.dtype}")


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group: ProcessGroup | None = None,
                           async_op: bool = False) -> Work | None:
    """Concatenate every rank's ``input_tensor`` along dim 0 (or stack, if ``output_tensor`` has one more
    dim) into ``output_tensor`` on every rank."""
    output, array = _check_tensor(output_tensor, "output_tensor"), _check_tensor(input_tensor, "input_tensor")
    target = _group_of(group, "all_gather_into_tensor")
    _check_world_sized(output, array, target, "all_gather_into_tensor: output_tensor", "input")
    received = _working_array(output_tensor)
    request = target.comm.Iallgather(np.ascontiguousarray(array), received)
    return _run(request, target, "all_gather_into_tensor", async_op, _writer(output_tensor, received),
                (received, array))


def gather(tensor: Tensor, gather_list: list | None = None, dst: int | None = None,
           group: ProcessGroup | None = None, async_op: bool = False, group_dst: int | None = None) -> Work | None:
    """Collect every rank's ``tensor`` into ``gather_list`` on rank ``dst`` (``gather_list`` only there)."""
    array = _check_tensor(tensor, "tensor")
    target = _group_of(group, "gather")
    root = _root(target, dst, group_dst, "dst", default=0)
    if target.rank() == root:
        _check_list(gather_list, target.size(), array, "gather_list")
        received = np.empty((target.size(),) + array.shape, dtype=array.dtype)
        request = target.comm.Igather(np.ascontiguousarray(array), received, root=root)
        finish, keep = _spreader(gather_list, received), (received, array)
    else:
        if gather_list:
            raise ValueError("gather: gather_list must be given only on the destination rank "
                             f"(dst={target.ranks[root]})")
        request, finish, keep = target.comm.Igather(np.ascontiguousarray(array), None, root=root), None, (array,)
    return _run(request, target, f"gather to rank {target.ranks[root]}", async_op, finish, keep)


def scatter(tensor: Tensor, scatter_list: list | None = None, src: int | None = None,
            group: ProcessGroup | None = None, async_op: bool = False, group_src: int | None = None) -> Work | None:
    """Rank ``src`` sends ``scatter_list[r]`` to rank r, which receives it into ``tensor``."""
    array = _check_tensor(tensor, "tensor")
    target = _group_of(group, "scatter")
    root = _root(target, src, group_src, "src", default=0)
    received = _working_array(tensor)
    if target.rank() == root:
        _check_list(scatter_list, target.size(), array, "scatter_list")
        outgoing = np.stack([np.asarray(t._data, dtype=array.dtype) for t in scatter_list])
    else:
        if scatter_list:
            raise ValueError("scatter: scatter_list must be given only on the source rank "
                             f"(src={target.ranks[root]})")
        outgoing = None
    request = target.comm.Iscatter(outgoing, received, root=root)
    return _run(request, target, f"scatter from rank {target.ranks[root]}", async_op, _writer(tensor, received),
                (received, outgoing))


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: Any = ReduceOp.SUM, group: ProcessGroup | None = None,
                          async_op: bool = False) -> Work | None:
    """Reduce ``input`` (world_size equal chunks along dim 0) across ranks; rank r receives chunk r."""
    out_array, array = _check_tensor(output, "output"), _check_tensor(input, "input")
    target = _group_of(group, "reduce_scatter_tensor")
    _check_world_sized(array, out_array, target, "reduce_scatter_tensor: input", "output")
    received = _working_array(output)
    request = target.comm.Ireduce_scatter_block(np.ascontiguousarray(array), received, _mpi_op(op, array))
    scale = 1.0 / target.size() if op is ReduceOp.AVG else None
    return _run(request, target, f"reduce_scatter_tensor({op.name})", async_op,
                _writer(output, received, scale), (received, array))


def _root(target: ProcessGroup, global_rank: int | None, group_rank: int | None, role: str,
          default: int | None = None) -> int:
    """The root's rank within ``target``, from a global rank (``src``/``dst``) or a group rank."""
    if global_rank is None and group_rank is None:
        if default is not None:
            return default  # gather and scatter default to rank 0, as in PyTorch
        raise ValueError(f"{role} must be given: the global rank of the "
                         f"{'source' if role == 'src' else 'destination'} (or group_{role})")
    if global_rank is not None and group_rank is not None:
        raise ValueError(f"give either {role} or group_{role}, not both")
    if group_rank is not None:
        if not 0 <= group_rank < target.size():
            raise ValueError(f"group_{role}={group_rank} is out of range for a group of size {target.size()}")
        return group_rank
    return target.group_rank(global_rank, role)


def _check_list(tensors: Any, count: int, array: np.ndarray, name: str) -> None:
    if not isinstance(tensors, (list, tuple)) or len(tensors) != count:
        got = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{name} must be a list of world_size ({count}) tensors, but got {got}")
    for index, item in enumerate(tensors):
        if not isinstance(item, Tensor) or item._data.shape != array.shape:
            shape = list(item.shape) if isinstance(item, Tensor) else type(item).__name__
            raise ValueError(f"{name}[{index}] must be a tensor of shape {list(array.shape)} like the input, "
                             f"but got {shape}")


def _spreader(tensors: Sequence[Tensor], received: np.ndarray) -> Callable[[], None]:
    def finish() -> None:
        for item, part in zip(tensors, received):
            item._data[...] = part
            item._bump_version()
    return finish
