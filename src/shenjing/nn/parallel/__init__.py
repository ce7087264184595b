"""Parallel training: ``DistributedDataParallel`` over ``shenjing.distributed`` (PyTorch's ``torch.nn.parallel``)."""

from shenjing.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
