"""DistributedDataParallel's behaviours on 2 ranks, one per argv[1]: no_sync, unused, buffers, mismatch, misuse."""

import json
import sys

import numpy as np

import shenjing
import shenjing.distributed as dist
from shenjing import nn
from shenjing.nn.parallel import DistributedDataParallel as DDP


def batch(rank, step, shape=(4, 6)):
    rng = np.random.default_rng(1000 * step + rank)
    return shenjing.tensor(rng.standard_normal(shape).astype(np.float32))


def mlp():
    return nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))


def worst(value):
    """The largest of every rank's ``value`` (each rank checks its own replica)."""
    t = shenjing.tensor([float(value)], dtype=shenjing.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t)


def gradients(model):
    return [p.grad.numpy().copy() for p in model.parameters()]


def no_sync(rank, world):
    """Two micro-batches: the first backward under no_sync stays local, the second averages the sum."""
    shenjing.manual_seed(0)
    ddp = DDP(mlp())
    reference = mlp()
    reference.load_state_dict(ddp.module.state_dict())
    with ddp.no_sync():
        ddp(batch(rank, 0)).pow(2).mean().backward()
    reference(batch(rank, 0)).pow(2).mean().backward()
    local_after_first = max(float(np.abs(a - b).max()) for a, b in zip(gradients(ddp.module), gradients(reference)))
    ddp(batch(rank, 1)).pow(2).mean().backward()
    # expected: (1/W) sum over ranks of the gradients of both micro-batches
    reference.zero_grad()
    for r in range(world):
        loss = (reference(batch(r, 0)).pow(2).mean() + reference(batch(r, 1)).pow(2).mean()) / world
        loss.backward()
    averaged = max(float(np.abs(a - b).max()) for a, b in zip(gradients(ddp.module), gradients(reference)))
    return {"local_after_no_sync": worst(local_after_first), "averaged_after_sync": worst(averaged)}


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(6, 5)
        self.head_a = nn.Linear(5, 2)
        self.head_b = nn.Linear(5, 2)
        self.never = nn.Linear(5, 2)

    def forward(self, x, use_b):
        h = self.body(x).relu()
        return self.head_a(h).sum() + (self.head_b(h).sum() if use_b else 0.0)


def unused(rank, world):
    """head_b is used on rank 0 only, ``never`` on no rank: find_unused_parameters averages b's gradient with
    zeros from the ranks that did not use it and leaves ``never`` without a gradient."""
    shenjing.manual_seed(0)
    ddp = DDP(TwoHeads(), find_unused_parameters=True)
    reference = TwoHeads()
    reference.load_state_dict(ddp.module.state_dict())
    ddp(batch(rank, 0), use_b=rank == 0).backward()
    for r in range(world):
        (reference(batch(r, 0), use_b=r == 0) / world).backward()
    names = [n for n, _ in reference.named_parameters() if not n.startswith("never")]
    ours, theirs = dict(ddp.module.named_parameters()), dict(reference.named_parameters())
    difference = max(float(np.abs(ours[n].grad.numpy() - theirs[n].grad.numpy()).max()) for n in names)
    return {"max_grad_diff": worst(difference), "never_grad_is_none": ddp.module.never.weight.grad is None}


def unused_without_flag(rank, world):
    ddp = DDP(TwoHeads())
    try:
        ddp(batch(rank, 0), use_b=True).backward()
    except RuntimeError as error:
        return {"error": str(error)}
    return {"error": None}


def buffers(rank, world):
    """BatchNorm buffers: local after a training forward, rank 0's at the start of the next forward."""
    shenjing.manual_seed(0)
    results = {}
    for broadcast in (True, False):
        ddp = DDP(nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4)), broadcast_buffers=broadcast)
        ddp(batch(rank, 0)).sum().backward()
        mine = ddp.module[1].running_mean.clone()
        rank0 = mine.clone()
        dist.broadcast(rank0, src=0)
        differ_after_first = float((mine - rank0).abs().max())
        ddp.eval()
        with shenjing.no_grad():
            ddp(batch(rank, 1))  # eval: running stats unchanged by the forward itself
        after = ddp.module[1].running_mean.clone()
        results[f"broadcast={broadcast}"] = {
            "differ_after_first_forward": worst(differ_after_first),
            "differ_from_rank0_after_second": worst(float((after - rank0).abs().max()))}
    return results


def mismatch(rank, world):
    model = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 3 if rank == 0 else 4))
    try:
        DDP(model)
    except RuntimeError as error:
        return {"error": str(error)}
    return {"error": None}


def misuse(rank, world):
    ddp = DDP(mlp())
    names = list(ddp.state_dict())
    ddp(batch(rank, 0))
    try:
        ddp(batch(rank, 1))
    except RuntimeError as error:
        message = str(error)
    else:
        message = None
    return {"state_dict_keys": names, "second_forward_error": message}


def main():
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    result = globals()[sys.argv[1]](rank, world)
    if rank == 0:
        print("RESULT " + json.dumps(result), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
