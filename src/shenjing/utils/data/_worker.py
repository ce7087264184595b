"""What runs inside a DataLoader worker process, and ``get_worker_info``.

A worker takes tasks ``(task index, indices)`` from its own index queue, fetches and collates the samples,
and puts ``(task index, pickled batch)`` on the result queue shared by all workers. Errors are caught and
sent as ``ExceptionWrapper`` so the main process re-raises them naming the worker. ``None`` on the index
queue ends the worker; so does the main process disappearing.

Seeds, as PyTorch: worker ``i`` of an epoch whose base seed is ``b`` seeds shenjing's default generator and
Python's ``random`` with ``b + i``, and NumPy's global generator with a seed derived from ``(b, i)``.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import random
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["WorkerInfo", "get_worker_info", "ExceptionWrapper", "IterableExhausted", "RESUME", "worker_loop"]

RESUME = "resume"  # a task asking a persistent worker to start a new epoch; it answers (RESUME, worker_id)
_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed``, ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process: its ``WorkerInfo`` (``id``, ``num_workers``, ``seed``, ``dataset``, the
    worker's own copy); in the main process: ``None``. Use it in an ``IterableDataset`` to split the stream
    between workers, or in ``worker_init_fn``.

    >>> get_worker_info() is None  # the main process
    True
    """
    return _worker_info


@dataclass(frozen=True)
class IterableExhausted:
    """Sent by a worker whose copy of an IterableDataset has no more samples."""

    worker_id: int


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback as text."""

    def __init__(self, error: BaseException, where: str) -> None:
        self.exception_type = type(error)
        self.where = where
        self.text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        try:
            pickle.dumps(self.exception_type)
        except Exception:  # a class pickle cannot name (defined inside a function): re-raised as RuntimeError
            self.exception_type = RuntimeError

    def reraise(self) -> None:
        message = f"Caught {self.exception_type.__name__} {self.where}.\nOriginal {self.text}"
        try:
            error = self.exception_type(message)
        except Exception:
            raise RuntimeError(message) from None
        raise error


def _numpy_seed(base_seed: int, worker_id: int) -> np.ndarray:
    return np.random.SeedSequence([worker_id, base_seed & 0xFFFFFFFFFFFFFFFF]).generate_state(4)


def _seed_everything(base_seed: int, worker_id: int) -> int:
    from shenjing import _random

    seed = base_seed + worker_id
    random.seed(seed)
    _random.manual_seed(seed)
    np.random.seed(_numpy_seed(base_seed, worker_id))
    return seed


class _Fetcher:
    """Turns a task's index (or indices) into a batch; for an IterableDataset, the next batch of the stream."""

    def __init__(self, dataset: Any, iterable: bool, auto_collation: bool, batch_size: int | None,
                 drop_last: bool, collate_fn: Callable) -> None:
        self.dataset, self.iterable, self.auto_collation = dataset, iterable, auto_collation
        self.batch_size, self.drop_last, self.collate_fn = batch_size, drop_last, collate_fn
        self.stream: Any = None
        self.ended = False

    def restart(self) -> None:
        self.stream, self.ended = None, False

    def fetch(self, index: Any) -> Any:
        if not self.iterable:
            if self.auto_collation:
                return self.collate_fn([self.dataset[i] for i in index])
            return self.collate_fn(self.dataset[index])
        if self.ended:
            raise StopIteration
        if self.stream is None:
            self.stream = iter(self.dataset)
        if self.batch_size is None:
            return self.collate_fn(next(self.stream))
        batch = []
        for sample in self.stream:
            batch.append(sample)
            if len(batch) == self.batch_size:
                return self.collate_fn(batch)
        self.ended = True
        if not batch or self.drop_last:
            raise StopIteration
        return self.collate_fn(batch)


def _parent_alive() -> bool:
    parent = multiprocessing.parent_process()
    return parent is None or parent.is_alive()


def _send(result_queue: Any, task: int, data: Any, worker_id: int) -> None:
    try:
        payload = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # a batch that cannot be sent to the main process
        wrapped = ExceptionWrapper(error, f"in DataLoader worker process {worker_id} (sending the batch)")
        payload = pickle.dumps(wrapped)
    result_queue.put((task, payload))


def worker_loop(dataset: Any, iterable: bool, auto_collation: bool, batch_size: int | None, drop_last: bool,
                collate_fn: Callable, index_queue: Any, result_queue: Any, done_event: Any, base_seed: int,
                worker_init_fn: Callable[[int], None] | None, worker_id: int, num_workers: int) -> None:
    """The body of worker process ``worker_id`` (see the module docstring)."""
    global _worker_info
    where = f"in DataLoader worker process {worker_id}"
    try:
        seed = _seed_everything(base_seed, worker_id)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        init_error = None
        if worker_init_fn is not None:
            try:
                worker_init_fn(worker_id)
            except Exception as error:
                init_error = ExceptionWrapper(error, f"{where} (in worker_init_fn)")
        fetcher = _Fetcher(dataset, iterable, auto_collation, batch_size, drop_last, collate_fn)
        exhausted = False
        while True:
            try:
                task = index_queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if done_event.is_set() or not _parent_alive():
                    break
                continue
            if task is None:
                break
            if task == RESUME:
                fetcher.restart()
                exhausted = False
                result_queue.put((RESUME, worker_id))
                continue
            if done_event.is_set() or exhausted:
                continue
            number, index = task
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    data, exhausted = IterableExhausted(worker_id), True
                except Exception as error:
                    data = ExceptionWrapper(error, where)
            _send(result_queue, number, data, worker_id)
            del data
    except KeyboardInterrupt:
        pass
    finally:
        if done_event.is_set() or not _parent_alive():
            result_queue.cancel_join_thread()  # nobody reads what is still buffered: do not wait to flush it
