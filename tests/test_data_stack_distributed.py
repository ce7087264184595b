"""utils.data.StackDataset and DistributedSampler against PyTorch's."""

from __future__ import annotations

import pytest
import torch.utils.data as tud

import shenjing as sj
from shenjing.utils import data as sud


def test_stack_dataset_as_torch():
    a, b = list(range(5)), [str(i) for i in range(5)]
    for args, kwargs in (((a, b), {}), ((), {"x": a, "y": b})):
        ours, theirs = sud.StackDataset(*args, **kwargs), tud.StackDataset(*args, **kwargs)
        assert len(ours) == len(theirs) == 5
        assert [ours[i] for i in range(5)] == [theirs[i] for i in range(5)]
        assert ours.__getitems__([3, 1]) == theirs.__getitems__([3, 1])
    for args, kwargs, message in (((a, b[:3]), {}, "Size mismatch"), ((a,), {"y": b}, "both types"),
                                  ((), {}, "At least one")):
        with pytest.raises(ValueError, match=message):
            sud.StackDataset(*args, **kwargs)
        with pytest.raises(ValueError, match=message):
            tud.StackDataset(*args, **kwargs)


def test_stack_dataset_in_a_dataloader():
    dataset = sud.StackDataset(x=sud.TensorDataset(sj.arange(6.0)), y=list(range(6)))
    batch = next(iter(sud.DataLoader(dataset, batch_size=4)))
    assert batch["y"].tolist() == [0, 1, 2, 3] and batch["x"][0].tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 5, False), (12, 4, True),
                                                  (7, 7, False), (1, 3, False)])
def test_distributed_sampler_without_shuffle_matches_torch(n, replicas, drop_last):
    for rank in range(replicas):
        ours = sud.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = tud.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (11, 4, True)])
def test_distributed_sampler_shuffle_partitions_a_seeded_permutation(n, replicas, drop_last):
    shares = [list(sud.DistributedSampler(range(n), replicas, rank, seed=5, drop_last=drop_last))
              for rank in range(replicas)]
    merged = [i for group in zip(*shares) for i in group]  # the padded (or cut) permutation, interleaved back
    expected_length = replicas * (n // replicas if drop_last else -(-n // replicas))
    assert len(merged) == expected_length
    distinct = merged[:n] if not drop_last else merged
    assert len(set(distinct)) == len(distinct) and set(distinct) <= set(range(n))
    if not drop_last:
        assert sorted(merged[:n]) == list(range(n)) and merged[n:] == merged[:len(merged) - n]
    again = sud.DistributedSampler(range(n), replicas, 0, seed=5, drop_last=drop_last)
    assert list(again) == shares[0]
    again.set_epoch(1)
    assert list(again) != shares[0] or n < 4


def test_distributed_sampler_errors():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        sud.DistributedSampler(range(4), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="process group has not been initialized"):  # (as torch)
        sud.DistributedSampler(range(4))
