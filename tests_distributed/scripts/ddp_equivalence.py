"""DDP on every rank's share of each batch against one process on the whole batch, for ``steps`` SGD steps.

argv: model name (mlp, cnn_bn, lstm), steps. Rank 0 prints RESULT with the largest differences.
"""

import json
import sys

import numpy as np

import shenjing
import shenjing.distributed as dist
from shenjing import nn

BATCH_PER_RANK = 8


def build(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 32), nn.Tanh(),
                             nn.Linear(32, 10)), (1, 28, 28)
    if name == "cnn_bn":
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)), (3, 16, 16)
    if name == "lstm":
        class RowLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(12, 24, batch_first=True)
                self.fc = nn.Linear(24, 10)

            def forward(self, x):
                out, _ = self.lstm(x)
                return self.fc(out[:, -1, :])
        return RowLSTM(), (10, 12)
    raise SystemExit(f"unknown model {name}")


def main():
    name, steps = sys.argv[1], int(sys.argv[2])
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    shenjing.manual_seed(100 + rank)  # different initial weights on each rank: DDP must broadcast rank 0's
    model, shape = build(name)
    if name == "cnn_bn":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = nn.parallel.DistributedDataParallel(model)
    reference, _ = build(name)
    reference.load_state_dict(ddp.module.state_dict())
    optimizer = shenjing.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    reference_optimizer = shenjing.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)  # the same batches on every rank
    for _ in range(steps):
        x = rng.standard_normal((world * BATCH_PER_RANK,) + shape).astype(np.float32)
        y = rng.integers(0, 10, world * BATCH_PER_RANK)
        mine = slice(rank * BATCH_PER_RANK, (rank + 1) * BATCH_PER_RANK)
        optimizer.zero_grad()
        nn.functional.cross_entropy(ddp(shenjing.tensor(x[mine])), shenjing.tensor(y[mine])).backward()
        optimizer.step()
        reference_optimizer.zero_grad()
        nn.functional.cross_entropy(reference(shenjing.tensor(x)), shenjing.tensor(y)).backward()
        reference_optimizer.step()
    ours, theirs = ddp.module.state_dict(), reference.state_dict()
    parameter_names = [n for n, _ in reference.named_parameters()]
    param_diff = max(float(np.abs(ours[n].numpy() - theirs[n].numpy()).max()) for n in parameter_names)
    buffer_diff = max([float(np.abs(ours[n].numpy().astype(np.float64) - theirs[n].numpy()).max())
                       for n in theirs if n not in parameter_names] or [0.0])
    scale = max(float(np.abs(theirs[n].numpy()).max()) for n in parameter_names)
    # the replicas must stay identical: compare every rank's parameters with rank 0's
    flat = shenjing.cat([p.detach().reshape(-1) for p in ddp.parameters()])
    rank0 = flat.clone()
    dist.broadcast(rank0, src=0)
    spread = shenjing.tensor([float((flat - rank0).abs().max())])
    dist.all_reduce(spread, op=dist.ReduceOp.MAX)
    if rank == 0:
        print("RESULT " + json.dumps({"model": name, "steps": steps, "max_param_diff": param_diff,
                                      "max_buffer_diff": buffer_diff, "param_scale": scale,
                                      "rank_spread": float(spread)}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
