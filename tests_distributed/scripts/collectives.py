"""Every collective on every rank against the same computation in NumPy (each rank knows all ranks' inputs)."""

import json
import time

import numpy as np

import shenjing
import shenjing.distributed as dist
from shenjing.distributed import ReduceOp


def inputs(rank, dtype=np.float32, shape=(3, 4)):
    """Rank ``rank``'s input: reproducible, so every rank can compute the expected result."""
    return np.random.default_rng(rank).uniform(0.5, 1.5, size=shape).astype(dtype)


def check(name, got, expected, checked, exact=False):
    got = got.numpy() if hasattr(got, "numpy") else got
    if exact:
        assert np.array_equal(got, expected), f"{name}: {got} != {expected}"
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0, err_msg=name)
    checked.append(name)


def main():
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    everyone = np.stack([inputs(r) for r in range(world)])
    checked = []
    reductions = {ReduceOp.SUM: everyone.sum(0), ReduceOp.AVG: everyone.sum(0) / world,
                  ReduceOp.MAX: everyone.max(0), ReduceOp.MIN: everyone.min(0), ReduceOp.PRODUCT: everyone.prod(0)}
    for op, expected in reductions.items():
        t = shenjing.tensor(inputs(rank))
        assert dist.all_reduce(t, op=op) is None
        check(f"all_reduce {op.name}", t, expected, checked)
    # float64 and int64, a non-contiguous view (written back into the base), and async_op
    t64 = shenjing.tensor(inputs(rank, np.float64))
    dist.all_reduce(t64)
    check("all_reduce float64", t64, np.stack([inputs(r, np.float64) for r in range(world)]).sum(0), checked)
    ints = shenjing.tensor(np.arange(6, dtype=np.int64) * (rank + 1))
    dist.all_reduce(ints, op=ReduceOp.MAX)
    check("all_reduce int64 MAX", ints, np.arange(6) * world, checked, exact=True)
    base = shenjing.tensor(inputs(rank))
    column = base[:, 1]
    dist.all_reduce(column)
    check("all_reduce of a strided view", base[:, 1], everyone[:, :, 1].sum(0), checked)
    check("all_reduce leaves the rest of the base", base[:, 0], inputs(rank)[:, 0], checked, exact=True)
    t = shenjing.tensor(inputs(rank))
    work = dist.all_reduce(t, async_op=True)
    assert work.wait() is True and work.is_completed()
    check("all_reduce async_op", t, everyone.sum(0), checked)
    for src in range(world):
        t = shenjing.tensor(inputs(rank))
        dist.broadcast(t, src=src)
        check(f"broadcast from {src}", t, inputs(src), checked, exact=True)
    t = shenjing.tensor(inputs(rank))
    dist.reduce(t, dst=1, op=ReduceOp.SUM)
    check("reduce to 1", t, everyone.sum(0) if rank == 1 else inputs(rank), checked)
    gathered = [shenjing.zeros(3, 4) for _ in range(world)]
    dist.all_gather(gathered, shenjing.tensor(inputs(rank)))
    check("all_gather", shenjing.stack(gathered), everyone, checked, exact=True)
    out = shenjing.zeros(world * 3, 4)
    dist.all_gather_into_tensor(out, shenjing.tensor(inputs(rank)))
    check("all_gather_into_tensor", out, everyone.reshape(world * 3, 4), checked, exact=True)
    dst_list = [shenjing.zeros(3, 4) for _ in range(world)] if rank == 0 else None
    dist.gather(shenjing.tensor(inputs(rank)), dst_list, dst=0)
    if rank == 0:
        check("gather", shenjing.stack(dst_list), everyone, checked, exact=True)
    received = shenjing.zeros(3, 4)
    pieces = [shenjing.tensor(inputs(100 + r)) for r in range(world)] if rank == world - 1 else None
    dist.scatter(received, pieces, src=world - 1)
    check("scatter", received, inputs(100 + rank), checked, exact=True)
    chunk = shenjing.zeros(2, 4)
    full = np.concatenate([inputs(r, shape=(2 * world, 4)) for r in range(world)])
    dist.reduce_scatter_tensor(chunk, shenjing.tensor(inputs(rank, shape=(2 * world, 4))))
    check("reduce_scatter_tensor", chunk, full.reshape(world, 2 * world, 4).sum(0)[2 * rank:2 * rank + 2], checked)
    # barrier: no rank passes before the slowest has arrived
    if rank == 0:
        time.sleep(0.3)
    stamp = shenjing.tensor([time.time()], dtype=shenjing.float64)
    dist.barrier()
    after = shenjing.tensor([time.time()], dtype=shenjing.float64)
    arrivals = [shenjing.zeros(1, dtype=shenjing.float64) for _ in range(world)]
    dist.all_gather(arrivals, stamp)
    assert float(after) >= max(float(a) for a in arrivals) - 1e-3, "a rank left the barrier early"
    checked.append("barrier")
    # a subgroup: ranks {1} only (every rank calls new_group)
    sub = dist.new_group([world - 1])
    if rank == world - 1:
        t = shenjing.tensor(inputs(rank))
        dist.all_reduce(t, group=sub)
        check("all_reduce in a one-rank group", t, inputs(rank), checked, exact=True)
        assert dist.get_rank(sub) == 0 and dist.get_world_size(sub) == 1
    else:
        assert dist.get_rank(sub) == -1
    # bad input: a clear error, before anything is sent
    try:
        dist.all_reduce(shenjing.tensor([1, 2]), op=ReduceOp.AVG)
    except ValueError as error:
        assert "floating-point" in str(error)
        checked.append("AVG on integers raises")
    if rank == 0:
        print("RESULT " + json.dumps({"world": world, "checked": checked}), flush=True)
    dist.destroy_process_group()
    assert not dist.is_initialized()


if __name__ == "__main__":
    main()
