"""A rank that fails in DDP training (argv[1]: raise, kill, hang, exit) while the other goes on training.

The job must end within seconds with a clear message, never hang: the test that runs this bounds it.
"""

import datetime
import os
import signal
import sys
import time

import shenjing
import shenjing.distributed as dist
from shenjing import nn


def main():
    mode = sys.argv[1]
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=float(os.environ.get("FAULT_TIMEOUT", "3"))))
    rank = dist.get_rank()
    ddp = nn.parallel.DistributedDataParallel(nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1)))
    optimizer = shenjing.optim.SGD(ddp.parameters(), lr=0.01)
    for step in range(1000):
        if rank == 1 and step == 3:
            print(f"rank 1 fails now ({mode})", flush=True)
            if mode == "raise":
                raise ValueError("rank 1 could not read its batch")
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if mode == "hang":
                time.sleep(600)
            if mode == "exit":
                sys.exit(2)
        optimizer.zero_grad()
        ddp(shenjing.randn(4, 8)).pow(2).mean().backward()
        optimizer.step()
    print(f"rank {rank} finished all steps", flush=True)


if __name__ == "__main__":
    main()
