"""The main-process side of ``DataLoader(num_workers>0)``: worker processes, prefetching, order, shutdown.

The main process draws the indices from the sampler and hands task ``k`` to worker ``k mod W`` (skipping
workers whose IterableDataset copy has ended), keeping ``prefetch_factor * W`` tasks outstanding. Results
come back in any order and are yielded in task order, so the batches are those of ``num_workers=0``.

Workers are started with ``multiprocessing`` (``fork`` where the platform has it, else ``spawn``, or the
loader's ``multiprocessing_context``) and stopped when the epoch ends (unless ``persistent_workers``), when
the iterator is garbage-collected (a ``break`` out of the loop, an exception), or at interpreter exit.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import pickle
import queue
import time
import weakref
from typing import Any

from shenjing.utils.data._worker import RESUME, ExceptionWrapper, IterableExhausted, worker_loop

__all__ = ["MultiProcessingIterator"]

_POLL_SECONDS = 0.5
_JOIN_SECONDS = 5.0
_live_iterators: "weakref.WeakSet[MultiProcessingIterator]" = weakref.WeakSet()


def _context(requested: Any) -> Any:
    if requested is None:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        return multiprocessing.get_context(method)
    if isinstance(requested, str):
        return multiprocessing.get_context(requested)
    return requested


class MultiProcessingIterator:
    """Iterates a DataLoader's batches fetched by ``loader.num_workers`` worker processes."""

    def __init__(self, loader: Any, base_seed: int) -> None:
        context = _context(loader.multiprocessing_context)
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor
        self._persistent = loader.persistent_workers
        self._timeout = loader.timeout
        self._shutdown = False
        self._result_queue = context.Queue()
        self._done_event = context.Event()
        self._index_queues, self._workers = [], []
        iterable = loader._is_iterable
        auto_collation = loader.batch_sampler is not None
        try:
            for worker_id in range(self._num_workers):
                index_queue = context.Queue()
                index_queue.cancel_join_thread()
                worker = context.Process(
                    target=worker_loop, name=f"DataLoader worker {worker_id}", daemon=True,
                    args=(loader.dataset, iterable, auto_collation, loader.batch_size, loader.drop_last,
                          loader.collate_fn, index_queue, self._result_queue, self._done_event, base_seed,
                          loader.worker_init_fn, worker_id, self._num_workers))
                worker.start()
                self._index_queues.append(index_queue)
                self._workers.append(worker)
        except BaseException:
            self._shutdown_workers()
            raise
        _live_iterators.add(self)
        self._reset(loader, first=True)

    # -- tasks -------------------------------------------------------------------------------------------

    def _reset(self, loader: Any, first: bool = False) -> None:
        """Start an epoch: a fresh pass over the sampler; persistent workers are told to start over."""
        if self._shutdown:
            raise RuntimeError("this DataLoader iterator's workers have been shut down")
        self._sampler_iter = iter(itertools.repeat(None) if loader._is_iterable else loader._index_sampler)
        self._send_index = self._received_index = 0
        self._tasks: dict[int, tuple] = {}  # task -> (worker,) while outstanding, (worker, data) once here
        self._outstanding = 0
        self._active = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first:  # drop what a previous, interrupted epoch left in flight, up to each worker's answer
            for index_queue in self._index_queues:
                index_queue.put(RESUME)
            waiting = set(range(self._num_workers))
            while waiting:
                number, payload = self._get()
                if number == RESUME:
                    waiting.discard(payload)
        for _ in range(self._prefetch * self._num_workers):
            self._put_task()

    def _put_task(self) -> None:
        if self._outstanding >= self._prefetch * self._num_workers:
            return
        for _ in range(self._num_workers):
            worker = next(self._worker_cycle)
            if self._active[worker]:
                break
        else:
            return
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        self._index_queues[worker].put((self._send_index, index))
        self._tasks[self._send_index] = (worker,)
        self._outstanding += 1
        self._send_index += 1

    def _get(self) -> tuple[Any, Any]:
        """The next message from any worker; errors when a worker died or ``timeout`` passed."""
        started = time.monotonic()
        while True:
            wait = _POLL_SECONDS if self._timeout <= 0 else min(_POLL_SECONDS, self._timeout)
            try:
                return self._result_queue.get(timeout=wait)
            except queue.Empty:
                pass
            dead = [(w.pid, w.exitcode) for w, active in zip(self._workers, self._active)
                    if active and not w.is_alive()]
            if dead:
                self._shutdown_workers()
                pids = ", ".join(f"pid {pid}, exit code {code}" for pid, code in dead)
                raise RuntimeError(f"DataLoader worker ({pids}) exited unexpectedly (killed, or out of "
                                   f"memory?); the batch it was loading is lost")
            if self._timeout > 0 and time.monotonic() - started > self._timeout:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds waiting for a batch "
                                   f"from its workers")

    # -- iteration -----------------------------------------------------------------------------------------

    def __iter__(self) -> "MultiProcessingIterator":
        return self

    def __next__(self) -> Any:
        while True:
            while self._received_index < self._send_index:
                task = self._tasks[self._received_index]
                if len(task) == 2 or self._active[task[0]]:
                    break
                del self._tasks[self._received_index]  # its worker's stream ended before this task
                self._received_index += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            task = self._tasks[self._received_index]
            if len(task) == 2:
                del self._tasks[self._received_index]
                return self._deliver(task[1])
            number, payload = self._get()
            if number == RESUME:
                continue
            self._outstanding -= 1
            data = pickle.loads(payload)
            if isinstance(data, IterableExhausted):
                self._active[data.worker_id] = False
                if not self._persistent:
                    self._index_queues[data.worker_id].put(None)
                self._put_task()
                continue
            if number != self._received_index:
                self._tasks[number] = (self._tasks[number][0], data)
                continue
            del self._tasks[number]
            return self._deliver(data)

    def _deliver(self, data: Any) -> Any:
        self._received_index += 1
        self._put_task()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    # -- shutdown ------------------------------------------------------------------------------------------

    def _shutdown_workers(self) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        try:
            self._done_event.set()
            for index_queue in self._index_queues:
                try:
                    index_queue.put(None)
                except (OSError, ValueError):
                    pass
            deadline = time.monotonic() + _JOIN_SECONDS
            for worker in self._workers:
                worker.join(max(0.0, deadline - time.monotonic()))
            for worker in self._workers:
                if worker.is_alive():
                    worker.terminate()
                    worker.join(1.0)
        finally:
            for channel in [*self._index_queues, self._result_queue]:
                channel.cancel_join_thread()
                channel.close()

    def __del__(self) -> None:
        try:
            self._shutdown_workers()
        except Exception:
            pass


@atexit.register
def _shut_down_all() -> None:
    for iterator in list(_live_iterators):
        iterator._shutdown_workers()
