"""Datasets, samplers and the DataLoader, with PyTorch's names (``torch.utils.data``).

A ``Dataset`` answers ``dataset[i]`` and ``len(dataset)``; a sampler chooses the order of the indices; a
``DataLoader`` groups samples into mini-batches and stacks them with ``default_collate``.

>>> import shenjing
>>> from shenjing.utils.data import DataLoader, TensorDataset
>>> dataset = TensorDataset(shenjing.arange(10.0).reshape(5, 2), shenjing.tensor([0, 1, 0, 1, 0]))
>>> [tuple(x.shape) for x, y in DataLoader(dataset, batch_size=2)]
[(2, 2), (2, 2), (1, 2)]
"""

from shenjing.utils.data.collate import default_collate, default_convert
from shenjing.utils.data.dataloader import DataLoader, get_worker_info
from shenjing.utils.data.dataset import (
    ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split)
from shenjing.utils.data.sampler import (
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler)
from shenjing.utils.data.dataset import StackDataset  # noqa: E402
from shenjing.utils.data.distributed import DistributedSampler  # noqa: E402

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "ChainDataset", "Subset",
           "random_split", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DataLoader", "default_collate", "default_convert",
           "get_worker_info", "StackDataset", "DistributedSampler"]
