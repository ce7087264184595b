"""``DataLoader(num_workers>0)``: real worker processes with PyTorch's semantics, checked against PyTorch
where the behaviour is observable in both (batch order of IterableDatasets, prefetching, error types), and
against ``num_workers=0`` for the batches. Also ``RandomSampler`` drawing lazily, in chunks, as PyTorch."""

from __future__ import annotations

import gc
import os
import time
import tracemalloc

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import shenjing as sj
import shenjing.utils.data as sjd

LONG = os.environ.get("SHENJING_LONG_TESTS") == "1"
pytestmark = pytest.mark.skipif(os.name == "nt", reason="worker tests use fork")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pids, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.02)
    return [pid for pid in pids if _alive(pid)]


class Probe(sjd.Dataset):
    """Item i: (i, pid, worker id, worker seed, a number from shenjing's default generator)."""

    def __init__(self, n=12, fail_at=None, exit_at=None, sleep=0.0):
        self.n, self.fail_at, self.exit_at, self.sleep = n, fail_at, exit_at, sleep

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"item {i} is broken")
        if i == self.exit_at:
            if sjd.get_worker_info() is None and tud.get_worker_info() is None:
                raise AssertionError("loading in the main process: no worker to kill")
            os._exit(3)
        time.sleep(self.sleep)
        info = sjd.get_worker_info()
        return (i, os.getpid(), -1 if info is None else info.id, -1 if info is None else info.seed,
                float(sj.rand(1)))


def _rows(loader):
    return [tuple(int(v) if k < 4 else float(v) for k, v in enumerate(column)) for batch in loader
            for column in zip(*[b.tolist() for b in batch])]


@pytest.mark.parametrize("workers,batch_size,drop_last", [(2, 3, False), (3, 4, True), (1, 5, False)])
def test_batches_and_their_order_are_those_of_num_workers_0(workers, batch_size, drop_last):
    data = sjd.TensorDataset(sj.arange(23), sj.arange(23) * 10)
    batches = {}
    for count in (0, workers):
        loader = sjd.DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=drop_last,
                                generator=sj.Generator().manual_seed(4), num_workers=count)
        batches[count] = [[t.tolist() for t in batch] for _ in range(2) for batch in loader]  # two epochs
    assert batches[workers] == batches[0]
    assert len(batches[0]) == 2 * (23 // batch_size if drop_last else -(-23 // batch_size))


def test_workers_are_separate_processes_seeded_as_pytorch_describes():
    def run():
        loader = sjd.DataLoader(Probe(), batch_size=2, num_workers=2, generator=sj.Generator().manual_seed(9))
        return [_rows(loader) for _ in range(2)]

    first, again = run(), run()
    without_pids = lambda epochs: [[row[:1] + row[2:] for row in epoch] for epoch in epochs]  # noqa: E731
    assert without_pids(first) == without_pids(again)  # repeatable: seeds come from the loader's generator
    epoch = first[0]
    assert [row[0] for row in epoch] == list(range(12))
    assert {row[2] for row in epoch} == {0, 1}
    # batch k is loaded by worker k mod 2, in its own process
    assert [row[2] for row in epoch] == [(i // 2) % 2 for i in range(12)]
    pids = {row[1] for row in epoch}
    assert len(pids) == 2 and os.getpid() not in pids
    seeds = {row[2]: row[3] for row in epoch}
    assert seeds[1] == seeds[0] + 1  # seed = base_seed + worker_id
    assert {row[3] for row in first[1]} != set(seeds.values())  # a new base seed each epoch
    numbers = [row[4] for row in epoch]
    assert len(set(numbers)) == len(numbers)  # the workers' default generators differ
    assert sjd.get_worker_info() is None


def _init_log(path):
    def init(worker_id):
        info = sjd.get_worker_info()
        with open(path, "a") as log:
            log.write(f"{worker_id} {info.id} {info.num_workers} {os.getpid()} {type(info.dataset).__name__}\n")

    return init


def test_worker_init_fn_and_persistent_workers(tmp_path):
    log = tmp_path / "init.log"
    loader = sjd.DataLoader(Probe(8), batch_size=2, num_workers=2, worker_init_fn=_init_log(log),
                            persistent_workers=True)
    epochs = [_rows(loader) for _ in range(3)]
    calls = sorted(line.split() for line in log.read_text().splitlines())
    assert [call[:3] for call in calls] == [["0", "0", "2"], ["1", "1", "2"]]  # once per worker
    assert all(call[4] == "Probe" for call in calls)
    pids = [{row[1] for row in epoch} for epoch in epochs]
    assert pids[0] == pids[1] == pids[2] == {int(call[3]) for call in calls}
    interrupted = iter(loader)
    next(interrupted)  # break mid-epoch: the next epoch must not see this one's prefetched batches
    assert [row[0] for row in _rows(loader)] == list(range(8))
    workers = list(pids[0])
    del loader, interrupted, epochs
    gc.collect()
    assert _wait_gone(workers) == []

    log.unlink()
    loader = sjd.DataLoader(Probe(8), batch_size=2, num_workers=2, worker_init_fn=_init_log(log))
    fresh = [{row[1] for row in _rows(loader)} for _ in range(2)]
    assert not fresh[0] & fresh[1]  # without persistent_workers: new processes each epoch
    assert len(log.read_text().splitlines()) == 4


class Stream(tud.IterableDataset):
    """Yields 0..n-1, split between workers when split=True; the same class serves shenjing and torch."""

    def __init__(self, n, split, info):
        self.n, self.split, self.info = n, split, info

    def __iter__(self):
        info = self.info()
        if info is None or not self.split:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


class SjStream(sjd.IterableDataset):
    def __init__(self, n, split):
        self.stream = Stream(n, split, sjd.get_worker_info)

    def __iter__(self):
        return iter(self.stream)


@pytest.mark.parametrize("n,split,batch_size,drop_last", [(11, True, 2, False), (7, False, 3, False),
                                                          (9, True, 4, True), (5, True, None, False)])
def test_iterable_dataset_batches_in_pytorch_order(n, split, batch_size, drop_last):
    torch_loader = tud.DataLoader(Stream(n, split, tud.get_worker_info), batch_size=batch_size, num_workers=2,
                                  drop_last=drop_last)
    expected = [batch.tolist() if hasattr(batch, "tolist") else batch for batch in torch_loader]
    loader = sjd.DataLoader(SjStream(n, split), batch_size=batch_size, num_workers=2, drop_last=drop_last)
    assert [batch.tolist() if hasattr(batch, "tolist") else batch for batch in loader] == expected


class Logged(tud.Dataset):
    def __init__(self, path, n=20):
        self.path, self.n = path, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        with open(self.path, "a") as log:
            log.write(f"{i}\n")
        return i


@pytest.mark.parametrize("prefetch_factor", [1, 3])
def test_prefetching_loads_as_many_batches_ahead_as_pytorch(tmp_path, prefetch_factor):
    counts = {}
    for library, module in [("torch", tud), ("sj", sjd)]:
        log = tmp_path / f"{library}.log"
        log.touch()
        iterator = iter(module.DataLoader(Logged(log), batch_size=1, num_workers=2,
                                          prefetch_factor=prefetch_factor))
        next(iterator)
        expected = 2 * prefetch_factor + 1  # W * prefetch_factor tasks at the start, one more per batch taken
        deadline = time.monotonic() + 3
        while len(log.read_text().split()) < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # and no more than that arrive
        counts[library] = len(log.read_text().split())
        del iterator
    assert counts["sj"] == counts["torch"] == expected


def test_workers_stop_on_break_exception_and_garbage_collection():
    def workers_of(loader):
        iterator = iter(loader)
        return iterator, {row[1] for row in _rows([next(iterator), next(iterator)])}

    loader = sjd.DataLoader(Probe(40), batch_size=2, num_workers=2)
    for batch in loader:  # break
        pids = {int(p) for p in batch[1].tolist()}
        break
    gc.collect()
    iterator, more = workers_of(loader)
    pids |= more
    del iterator  # garbage collection of a half-used iterator
    with pytest.raises(KeyError):
        for batch in loader:  # an exception in the loop body
            pids |= {int(p) for p in batch[1].tolist()}
            raise KeyError("stop")
    gc.collect()
    for _ in loader:  # a full epoch
        pass
    assert len(pids) >= 4
    assert _wait_gone(pids) == []


def test_worker_errors_are_reraised_naming_the_worker_as_pytorch():
    torch_loader = tud.DataLoader(Probe(12, fail_at=5), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as torch_error:
        list(torch_loader)
    loader = sjd.DataLoader(Probe(12, fail_at=5), batch_size=2, num_workers=2)
    iterator = iter(loader)
    assert [row[0] for row in _rows([next(iterator), next(iterator)])] == [0, 1, 2, 3]
    with pytest.raises(ValueError) as error:
        next(iterator)
    for message in (str(torch_error.value), str(error.value)):
        assert "Caught ValueError in DataLoader worker process 0" in message and "item 5 is broken" in message
    del iterator

    def broken_init(worker_id):
        raise ZeroDivisionError("no init")

    with pytest.raises(ZeroDivisionError, match="(?s)worker process 0.*no init"):
        list(sjd.DataLoader(Probe(4), batch_size=2, num_workers=2, worker_init_fn=broken_init))


def test_a_worker_that_dies_gives_an_error_naming_it():
    loader = sjd.DataLoader(Probe(12, exit_at=3), batch_size=2, num_workers=2)
    with pytest.raises(RuntimeError, match="DataLoader worker .*exited unexpectedly"):
        list(loader)


def test_timeout_and_option_errors_as_pytorch():
    for module in (tud, sjd):
        with pytest.raises(RuntimeError, match="timed out"):
            list(module.DataLoader(Probe(1, sleep=0.6), batch_size=1, num_workers=1, timeout=0.2))
    for kwargs, fragment in [(dict(prefetch_factor=2), "prefetch_factor"),
                             (dict(persistent_workers=True), "persistent_workers")]:
        with pytest.raises(ValueError, match=fragment):
            tud.DataLoader(Probe(), **kwargs)
        with pytest.raises(ValueError, match=fragment):
            sjd.DataLoader(Probe(), **kwargs)


@pytest.mark.skipif(not LONG, reason="spawn start-up takes seconds; SHENJING_LONG_TESTS=1 runs it")
def test_spawn_context_gives_the_same_batches():
    data = sjd.TensorDataset(sj.arange(10.0))
    plain = [b.tolist() for (b,) in sjd.DataLoader(data, batch_size=3)]
    spawned = sjd.DataLoader(data, batch_size=3, num_workers=2, multiprocessing_context="spawn")
    assert [b.tolist() for (b,) in spawned] == plain


# -- RandomSampler draws lazily --------------------------------------------------------------------------


def test_random_sampler_with_replacement_draws_lazily_in_bounded_memory():
    sampler = sjd.RandomSampler(range(1000), replacement=True, num_samples=10 ** 10,
                                generator=sj.Generator().manual_seed(0))
    assert len(sampler) == 10 ** 10
    tracemalloc.start()
    try:
        iterator = iter(sampler)
        first = [next(iterator) for _ in range(10_000)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20 and all(0 <= i < 1000 for i in first)
    loader = sjd.DataLoader(sjd.TensorDataset(sj.arange(1000)), batch_size=64, sampler=sampler)
    assert len(loader) == -(-10 ** 10 // 64)
    assert next(iter(loader))[0].shape == (64,)


def test_random_sampler_consumes_its_generator_in_chunks_of_32_as_pytorch():
    # PyTorch's algorithm: num_samples // 32 draws of 32 indices, then one of num_samples % 32; taking the
    # first index has drawn the first chunk, and not more
    generator = sj.Generator().manual_seed(3)
    reference = sj.Generator().manual_seed(3)
    iterator = iter(sjd.RandomSampler(range(10), replacement=True, num_samples=70, generator=generator))
    next(iterator)
    chunk = sj.randint(0, 10, (32,), generator=reference)
    assert generator.get_state().tolist() == reference.get_state().tolist()
    rest = [next(iterator) for _ in range(69)]
    assert rest[:31] == chunk[1:].tolist()
    with pytest.raises(StopIteration):
        next(iterator)
    # and torch's sampler draws the same indices (PyTorch's generator and randint), 32 + 32 + 6
    torch_sampler = tud.RandomSampler(range(10), replacement=True, num_samples=70,
                                      generator=torch.Generator().manual_seed(3))
    assert list(torch_sampler) == [int(chunk[0])] + rest


def test_random_sampler_without_replacement_chains_permutations_lazily():
    sampler = sjd.RandomSampler(range(5), num_samples=10 ** 12, generator=sj.Generator().manual_seed(1))
    iterator = iter(sampler)
    rounds = [sorted(next(iterator) for _ in range(5)) for _ in range(3)]
    assert rounds == [list(range(5))] * 3
    np.testing.assert_equal(len(sampler), 10 ** 12)
