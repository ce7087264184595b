"""shenjing.utils.data: datasets, samplers, collation and the DataLoader, checked against torch.utils.data."""

from __future__ import annotations

import collections
import doctest
import math

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import shenjing
from shenjing.utils import data as sjd
from shenjing.utils.data import collate as sj_collate, dataloader as sj_dataloader, dataset as sj_dataset
from shenjing.utils.data import sampler as sj_sampler


def plain(value):
    """A structure of tensors from either library as plain Python: tensors become (dtype name, nested list)."""
    if isinstance(value, (shenjing.Tensor, torch.Tensor)):
        return (str(value.dtype).split(".")[-1], value.tolist())
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__,) + tuple(plain(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


class Squares(sjd.Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, index):
        if not 0 <= index < 10:
            raise IndexError(index)
        return index * index


class Stream(sjd.IterableDataset):
    def __init__(self, n, with_len=True):
        self.n, self.with_len = n, with_len

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        if not self.with_len:
            raise TypeError("no length")
        return self.n


# -- datasets ----------------------------------------------------------------------------------------


def test_tensor_dataset_rows_and_length():
    x = shenjing.tensor(np.arange(12.0).reshape(4, 3))
    y = shenjing.tensor([3, 1, 4, 1])
    dataset = sjd.TensorDataset(x, y)
    assert len(dataset) == 4
    row, label = dataset[2]
    assert row.tolist() == [6.0, 7.0, 8.0] and label.item() == 4


def test_tensor_dataset_size_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(4,\)"):
        sjd.TensorDataset(shenjing.zeros(3, 2), shenjing.zeros(4))


def test_subset_concat_and_add():
    part = sjd.Subset(Squares(), [9, 2, 5])
    assert len(part) == 3 and [part[i] for i in range(3)] == [81, 4, 25]
    both = sjd.ConcatDataset([Squares(), [100, 200]])
    assert len(both) == 12 and both.cumulative_sizes == [10, 12]
    assert both[9] == 81 and both[10] == 100 and both[-1] == 200 and both[-12] == 0
    with pytest.raises(IndexError):
        both[12]
    with pytest.raises(IndexError):
        both[-13]
    added = Squares() + Squares()
    assert isinstance(added, sjd.ConcatDataset) and len(added) == 20 and added[13] == 9
    with pytest.raises(ValueError, match="empty"):
        sjd.ConcatDataset([])
    with pytest.raises(TypeError, match="IterableDataset"):
        sjd.ConcatDataset([Stream(3)])


def test_chain_dataset():
    assert list(sjd.ChainDataset([Stream(2), Stream(3)])) == [0, 1, 0, 1, 2]
    assert list(Stream(2) + Stream(1)) == [0, 1, 0]


@pytest.mark.parametrize("n, lengths", [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (10, [0.1] * 10),
                                        (5, [0.2, 0.8]), (11, [0.25, 0.25, 0.5])])
def test_random_split_fraction_lengths_match_torch(n, lengths):
    expected = [len(s) for s in tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))]
    parts = sjd.random_split(range(n), lengths, generator=shenjing.Generator().manual_seed(0))
    assert [len(p) for p in parts] == expected


def test_random_split_is_a_partition_and_repeatable():
    parts = sjd.random_split(range(20), [5, 15], generator=shenjing.Generator().manual_seed(3))
    items = [list(p) for p in parts]
    assert sorted(items[0] + items[1]) == list(range(20))
    again = sjd.random_split(range(20), [5, 15], generator=shenjing.Generator().manual_seed(3))
    assert [list(p) for p in again] == items
    shenjing.manual_seed(11)
    first = [list(p) for p in sjd.random_split(range(20), [10, 10])]
    shenjing.manual_seed(11)
    assert [list(p) for p in sjd.random_split(range(20), [10, 10])] == first
    assert first[0] != list(range(10))  # shuffled, not a plain cut (probability 1/184756 of failing by chance)


@pytest.mark.parametrize("lengths", [[3, 3], [0.5, 0.6], [-1, 11], [0.5, -0.5, 1.0]])
def test_random_split_bad_lengths(lengths):
    with pytest.raises(ValueError, match="random_split"):
        sjd.random_split(range(10), lengths)


# -- samplers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False),
                                                      (2, 5, True), (0, 4, False)])
def test_batch_sampler_matches_torch(n, batch_size, drop_last):
    expected = tud.BatchSampler(tud.SequentialSampler(range(n)), batch_size, drop_last)
    actual = sjd.BatchSampler(sjd.SequentialSampler(range(n)), batch_size, drop_last)
    assert list(actual) == list(expected)
    assert len(actual) == len(expected)


@pytest.mark.parametrize("batch_size", [0, -2, 1.5, True, None])
def test_batch_sampler_rejects_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        sjd.BatchSampler(range(5), batch_size, False)


def test_random_sampler_permutations_each_epoch():
    sampler = sjd.RandomSampler(range(50), generator=shenjing.Generator().manual_seed(0))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second and len(sampler) == 50


def test_random_sampler_num_samples_and_replacement():
    g = shenjing.Generator().manual_seed(1)
    chained = list(sjd.RandomSampler(range(4), num_samples=10, generator=g))
    assert len(chained) == 10
    assert sorted(chained[:4]) == sorted(chained[4:8]) == [0, 1, 2, 3]  # whole permutations, then a part
    drawn = list(sjd.RandomSampler(range(3), replacement=True, num_samples=300, generator=g))
    assert len(drawn) == 300 and set(drawn) == {0, 1, 2}
    with pytest.raises(ValueError, match="num_samples"):
        sjd.RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match="replacement"):
        sjd.RandomSampler(range(3), replacement="yes")


def test_subset_random_sampler():
    g = shenjing.Generator().manual_seed(2)
    sampler = sjd.SubsetRandomSampler([10, 20, 30, 40], generator=g)
    orders = [list(sampler) for _ in range(6)]
    assert all(sorted(order) == [10, 20, 30, 40] for order in orders)
    assert len({tuple(order) for order in orders}) > 1 and len(sampler) == 4


def test_weighted_random_sampler_follows_weights():
    g = shenjing.Generator().manual_seed(4)
    draws = np.array(list(sjd.WeightedRandomSampler([1.0, 0.0, 3.0], 4000, generator=g)))
    counts = np.bincount(draws, minlength=3)
    assert counts[1] == 0
    assert abs(counts[2] / 4000 - 0.75) < 0.03  # ~7 standard deviations of a binomial(4000, 0.75)
    no_repeat = list(sjd.WeightedRandomSampler([1, 1, 1, 0], 3, replacement=False, generator=g))
    assert sorted(no_repeat) == [0, 1, 2]
    with pytest.raises(ValueError, match="num_samples"):
        sjd.WeightedRandomSampler([1, 1, 0], 3, replacement=False)
    with pytest.raises(ValueError, match="weights"):
        sjd.WeightedRandomSampler([1, -1], 2)


# -- collation -------------------------------------------------------------------------------------


Point = collections.namedtuple("Point", "x y")

COLLATE_BATCHES = {
    "floats": [1.5, 2.0, -3.25],
    "ints": [1, 2, 3],
    "bools": [True, False],
    "numpy scalars": [np.float32(1.5), np.float32(2.5)],
    "numpy int scalars": [np.int32(7), np.int32(-1)],
    "arrays": [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((2, 3), dtype=np.float32)],
    "uint8 arrays": [np.array([1, 2], dtype=np.uint8), np.array([3, 4], dtype=np.uint8)],
    "tuples": [(np.zeros(2), 1, 0.5), (np.ones(2), 0, 1.5)],
    "lists": [[1, 2.0], [3, 4.0]],
    "dicts": [{"image": np.zeros((1, 2)), "label": 3}, {"image": np.ones((1, 2)), "label": 4}],
    "nested": [({"a": [1, 2]}, "x"), ({"a": [3, 4]}, "y")],
    "strings": ["cat", "dog"],
    "namedtuples": [Point(1, 2.5), Point(3, 4.5)],
}


@pytest.mark.parametrize("name", list(COLLATE_BATCHES))
def test_default_collate_matches_torch(name):
    batch = COLLATE_BATCHES[name]
    assert plain(sjd.default_collate(batch)) == plain(tud.default_collate(batch))


def test_default_collate_stacks_tensors():
    a, b = shenjing.tensor([[1.0, 2.0]]), shenjing.tensor([[3.0, 4.0]])
    out = sjd.default_collate([(a, 0), (b, 1)])
    assert out[0].shape == (2, 1, 2) and out[0].tolist() == [[[1.0, 2.0]], [[3.0, 4.0]]]
    assert out[1].dtype == shenjing.int64


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="equal size"):
        sjd.default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate"):
        sjd.default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate"):
        sjd.default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(RuntimeError, match="stack"):
        sjd.default_collate([shenjing.zeros(2), shenjing.zeros(3)])


def test_default_convert_matches_torch():
    sample = {"x": np.arange(3), "y": (np.float64(2.5), "text"), "z": [np.ones(2, dtype=np.float32)]}
    assert plain(sjd.default_convert(sample)) == plain(tud.default_convert(sample))


# -- DataLoader ------------------------------------------------------------------------------------


def make_dataset(n=10):
    return sjd.TensorDataset(shenjing.tensor(np.arange(2 * n, dtype=np.float32).reshape(n, 2)),
                             shenjing.arange(n))


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (10, 5, False),
                                                      (10, 5, True), (10, 12, False), (10, 12, True)])
def test_loader_batches_in_order(n, batch_size, drop_last):
    loader = sjd.DataLoader(make_dataset(n), batch_size=batch_size, drop_last=drop_last)
    expected_count = n // batch_size if drop_last else math.ceil(n / batch_size)
    batches = list(loader)
    assert len(loader) == len(batches) == expected_count
    labels = [label.tolist() for _, label in batches]
    flat = sum(labels, [])
    assert flat == list(range(len(flat)))
    assert all(len(b) == batch_size for b in labels[:-1]) if labels else True
    for x, label in batches:
        assert x.dtype == shenjing.float32 and x.shape == (len(label), 2)
        np.testing.assert_array_equal(x.numpy(), np.stack([[2 * i, 2 * i + 1] for i in label.tolist()]))


def test_loader_shuffle_with_generator_is_repeatable_and_changes_per_epoch():
    def epochs(seed, count=3):
        loader = sjd.DataLoader(make_dataset(30), batch_size=4, shuffle=True,
                                generator=shenjing.Generator().manual_seed(seed))
        return [sum((label.tolist() for _, label in loader), []) for _ in range(count)]

    first = epochs(5)
    assert first == epochs(5)                      # same seed -> the same orders, epoch after epoch
    assert all(sorted(order) == list(range(30)) for order in first)
    assert first[0] != first[1] != first[2]       # a new permutation every epoch
    assert first[0] != epochs(6)[0]
    assert first[0] != list(range(30))


def test_loader_shuffle_uses_the_default_generator():
    def one_epoch():
        return sum((label.tolist() for _, label in sjd.DataLoader(make_dataset(20), batch_size=6, shuffle=True)), [])

    shenjing.manual_seed(123)
    first = one_epoch()
    shenjing.manual_seed(123)
    assert one_epoch() == first
    assert sorted(first) == list(range(20)) and first != list(range(20))


def test_loader_with_workers_gives_the_single_process_batches():
    dataset = make_dataset(7)
    plain_batches = [plain(b) for b in sjd.DataLoader(dataset, batch_size=2)]
    loader = sjd.DataLoader(dataset, batch_size=2, num_workers=2, pin_memory=True, persistent_workers=True)
    assert [plain(b) for b in loader] == plain_batches
    assert sjd.get_worker_info() is None


def test_loader_with_sampler_batch_sampler_and_no_batching():
    dataset = make_dataset(6)
    by_sampler = [label.tolist() for _, label in sjd.DataLoader(dataset, batch_size=2, sampler=[5, 4, 3, 2, 1, 0])]
    assert by_sampler == [[5, 4], [3, 2], [1, 0]]
    by_batches = [label.tolist() for _, label in sjd.DataLoader(dataset, batch_sampler=[[0, 5], [1]])]
    assert by_batches == [[0, 5], [1]]
    singles = list(sjd.DataLoader(Squares(), batch_size=None))
    assert singles == [i * i for i in range(10)]
    arrays = list(sjd.DataLoader([np.array([1.5, 2.5])], batch_size=None))
    assert plain(arrays) == [("float64", [1.5, 2.5])]


def test_loader_dict_samples_and_custom_collate():
    samples = [{"x": np.full(2, i, dtype=np.float32), "y": i} for i in range(5)]
    batch = next(iter(sjd.DataLoader(samples, batch_size=5)))
    assert plain(batch) == plain(tud.default_collate(samples))
    sizes = [len(b) for b in sjd.DataLoader(samples, batch_size=2, collate_fn=lambda b: b)]
    assert sizes == [2, 2, 1]


@pytest.mark.parametrize("n, batch_size, drop_last, expected", [
    (7, 3, False, [[0, 1, 2], [3, 4, 5], [6]]), (7, 3, True, [[0, 1, 2], [3, 4, 5]]),
    (6, 3, False, [[0, 1, 2], [3, 4, 5]]), (2, 4, True, [])])
def test_loader_batches_an_iterable_dataset(n, batch_size, drop_last, expected):
    loader = sjd.DataLoader(Stream(n), batch_size=batch_size, drop_last=drop_last)
    assert [b.tolist() for b in loader] == expected
    assert len(loader) == len(expected)
    torch_loader = tud.DataLoader(range(n), batch_size=batch_size, drop_last=drop_last)
    assert [b.tolist() for b in torch_loader] == expected


def test_loader_iterable_dataset_without_length():
    loader = sjd.DataLoader(Stream(4, with_len=False), batch_size=2)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3]]
    with pytest.raises(TypeError):
        len(loader)


BAD_LOADER_ARGS = [
    (dict(batch_size=0), "batch_size"), (dict(batch_size=-1), "batch_size"), (dict(batch_size=1.5), "batch_size"),
    (dict(shuffle=True, sampler=[0, 1]), "sampler"), (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler"),
    (dict(batch_sampler=[[0]], shuffle=True), "batch_sampler"), (dict(batch_sampler=[[0]], drop_last=True),
                                                                   "batch_sampler"),
    (dict(batch_sampler=[[0]], sampler=[0]), "batch_sampler"), (dict(num_workers=-1), "num_workers"),
    (dict(batch_size=None, drop_last=True), "drop_last"),
]


@pytest.mark.parametrize("kwargs, named", BAD_LOADER_ARGS)
def test_loader_rejects_bad_arguments_like_torch(kwargs, named):
    with pytest.raises(ValueError):
        tud.DataLoader(list(range(5)), **kwargs)  # the oracle: PyTorch rejects these too
    with pytest.raises(ValueError, match=named):
        sjd.DataLoader(list(range(5)), **kwargs)


@pytest.mark.parametrize("kwargs, named", [(dict(shuffle=True), "shuffle"), (dict(sampler=[0]), "sampler"),
                                           (dict(batch_sampler=[[0]]), "batch_sampler")])
def test_loader_rejects_order_options_for_iterable_datasets(kwargs, named):
    with pytest.raises(ValueError, match=f"IterableDataset.*{named}"):
        sjd.DataLoader(Stream(3), **kwargs)


def test_doctests_of_the_data_modules():
    for module in (sjd, sj_dataset, sj_sampler, sj_collate, sj_dataloader):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_tensor_dataset_batches_are_what_default_collate_makes_of_the_rows():
    # DataLoader gathers a TensorDataset's batch with one index per tensor: the same as stacking the rows
    from shenjing.utils.data import DataLoader, RandomSampler, TensorDataset, default_collate

    x = shenjing.tensor(np.arange(60, dtype=np.float32).reshape(10, 2, 3))
    y = shenjing.tensor(np.arange(10))
    dataset = TensorDataset(x, y)
    generator = shenjing.Generator().manual_seed(1)
    # the sampler's own generator (each iter(loader) also draws the workers' base seed from the loader's)
    loader = DataLoader(dataset, batch_size=4, sampler=RandomSampler(dataset, generator=generator))
    indices = list(loader.batch_sampler)
    generator.manual_seed(1)  # the same shuffle again for the loader itself
    for batch, chosen in zip(loader, indices):
        expected = default_collate([dataset[i] for i in chosen])
        assert isinstance(batch, list) and len(batch) == 2
        for got, want in zip(batch, expected):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got.numpy(), want.numpy())
