"""DistributedSampler with its defaults from the process group: the ranks' shares, gathered on every rank."""

import json

import shenjing
import shenjing.distributed as dist
from shenjing.utils.data import DataLoader, DistributedSampler, TensorDataset


def main():
    dist.init_process_group("gloo")  # PyTorch CPU code says gloo: the same MPI transport here
    rank, world = dist.get_rank(), dist.get_world_size()
    dataset = TensorDataset(shenjing.arange(11))
    sampler = DistributedSampler(dataset, shuffle=True, seed=5)
    epochs = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        mine = shenjing.cat([batch for (batch,) in DataLoader(dataset, batch_size=4, sampler=sampler)])
        shares = [shenjing.zeros(len(sampler), dtype=shenjing.int64) for _ in range(world)]
        dist.all_gather(shares, mine)
        epochs.append([share.tolist() for share in shares])
    if rank == 0:
        print("RESULT " + json.dumps({"world": world, "length": len(sampler), "epochs": epochs,
                                      "env": [int(__import__("os").environ.get(k, -1))
                                              for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE")]}), flush=True)


if __name__ == "__main__":
    main()
