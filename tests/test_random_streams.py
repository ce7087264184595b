"""PyTorch's exact random numbers: after the same seed, shenjing draws what torch 2.13 draws, bit for bit.

Every expected value comes from torch itself (imported here as the oracle), over many seeds, sizes and dtypes;
each check also compares the generator states afterwards (PyTorch's 5056-byte layout), so a draw that uses
the right numbers but the wrong count of words fails too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import shenjing
import shenjing.nn.functional as SF
from shenjing.utils.data import DataLoader as SDataLoader, TensorDataset as STensorDataset

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402
from torch.utils.data import DataLoader as TDataLoader, TensorDataset as TTensorDataset  # noqa: E402

SEEDS = [0, 1, 42, 2 ** 32 - 1, 2 ** 32 + 7, 2 ** 63 + 12345, 2 ** 64 - 1, -5]
SIZES = [1, 2, 15, 16, 17, 100, 1000]


def _same(ours, theirs) -> None:
    ours = ours.numpy() if hasattr(ours, "numpy") else np.asarray(ours)
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    mismatch = np.flatnonzero(~((ours == theirs) | (np.isnan(ours) & np.isnan(theirs))) if ours.dtype.kind == "f"
                              else ours != theirs)
    assert mismatch.size == 0, f"{mismatch.size} of {ours.size} differ, first at {mismatch[:5]}: " \
                               f"{ours.reshape(-1)[mismatch[:3]]} vs {theirs.reshape(-1)[mismatch[:3]]}"


def _same_state() -> None:
    np.testing.assert_array_equal(shenjing.get_rng_state().numpy(), torch.get_rng_state().numpy())


def _seed(seed: int) -> None:
    shenjing.manual_seed(seed)
    torch.manual_seed(seed)


# -- the generator ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_seeding_gives_pytorchs_state_bytes(seed):
    _seed(seed)
    _same_state()
    assert shenjing.initial_seed() == torch.initial_seed()
    _same(shenjing.rand(3), torch.rand(3))
    _same_state()


def test_a_new_generator_starts_from_pytorchs_default_seed():
    ours, theirs = shenjing.Generator(), torch.Generator()
    assert ours.initial_seed() == theirs.initial_seed() == 67280421310721
    np.testing.assert_array_equal(ours.get_state().numpy(), theirs.get_state().numpy())
    _same(shenjing.randn(20, generator=ours), torch.randn(20, generator=theirs))


def test_generator_objects_seed_and_state():
    generator = shenjing.Generator()
    assert generator.manual_seed(7) is generator and generator.initial_seed() == 7
    new_seed = generator.seed()
    assert isinstance(new_seed, int) and generator.initial_seed() == new_seed and 0 <= new_seed < 2 ** 64
    assert shenjing.seed() == shenjing.initial_seed()
    generator.manual_seed(11)
    shenjing.randn(5, generator=generator)  # leaves a cached normal behind (the one-at-a-time path)
    saved = generator.get_state()
    assert saved.dtype == shenjing.uint8 and tuple(saved.shape) == (5056,)
    first = shenjing.randn(37, generator=generator)
    generator.set_state(saved)
    _same(shenjing.randn(37, generator=generator), first)


def test_states_move_between_the_libraries():
    """A state saved by torch restores in shenjing (and back), cached normal included."""
    torch.manual_seed(3)
    torch.randn(3)      # odd count: a spare normal is cached
    torch.rand(700)     # past one twist of the 624 words
    shenjing.set_rng_state(shenjing.tensor(torch.get_rng_state().numpy()))
    _same_state()
    _same(shenjing.randn(5), torch.randn(5))
    torch.set_rng_state(torch.from_numpy(shenjing.get_rng_state().numpy()))
    _same(shenjing.randn(40), torch.randn(40))
    _same_state()


def test_rng_state_round_trip_and_errors():
    shenjing.manual_seed(5)
    shenjing.randn(1)
    state = shenjing.get_rng_state()
    expected = shenjing.randn(3)
    shenjing.rand(100)
    shenjing.set_rng_state(state)
    _same(shenjing.randn(3), expected)
    with pytest.raises(RuntimeError, match="5056"):
        shenjing.set_rng_state(shenjing.zeros(10, dtype=shenjing.uint8))
    with pytest.raises(TypeError, match="ByteTensor"):
        shenjing.set_rng_state(shenjing.zeros(5056))
    with pytest.raises(RuntimeError, match="seed"):
        shenjing.manual_seed(2 ** 64)


# -- tensor factories and in-place fills -------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("size", SIZES)
def test_float_draws(seed, size):
    _seed(seed)
    for dtype in ("float32", "float64"):
        ours_dtype, theirs_dtype = getattr(shenjing, dtype), getattr(torch, dtype)
        _same(shenjing.rand(size, dtype=ours_dtype), torch.rand(size, dtype=theirs_dtype))
        _same(shenjing.randn(size, dtype=ours_dtype), torch.randn(size, dtype=theirs_dtype))
        _same(shenjing.empty(size, dtype=ours_dtype).uniform_(-0.3, 0.7),
              torch.empty(size, dtype=theirs_dtype).uniform_(-0.3, 0.7))
        _same(shenjing.empty(size, dtype=ours_dtype).normal_(0.5, 0.02),
              torch.empty(size, dtype=theirs_dtype).normal_(0.5, 0.02))
        _same(shenjing.empty(size, dtype=ours_dtype).exponential_(2.5),
              torch.empty(size, dtype=theirs_dtype).exponential_(2.5))
        _same(shenjing.empty(size, dtype=ours_dtype).random_(), torch.empty(size, dtype=theirs_dtype).random_())
    _same(shenjing.rand(size, dtype=shenjing.float16), torch.rand(size, dtype=torch.float16))
    _same_state()


def test_float_draws_in_shapes_and_big_sizes():
    _seed(2024)
    _same(shenjing.randn(3, 5, 7), torch.randn(3, 5, 7))
    _same(shenjing.rand(2, 3), torch.rand(2, 3))
    _same(shenjing.randn(100_003), torch.randn(100_003))
    _same(shenjing.randn(20_001, dtype=shenjing.float64), torch.randn(20_001, dtype=torch.float64))
    _same(shenjing.rand_like(shenjing.zeros(4, 4)), torch.rand_like(torch.zeros(4, 4)))
    _same(shenjing.randn_like(shenjing.zeros(4, 5)), torch.randn_like(torch.zeros(4, 5)))
    _same_state()


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_normal_with_tensor_arguments(seed):
    _seed(seed)
    mean = np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6)
    std = np.linspace(0.1, 2, 24, dtype=np.float32).reshape(4, 6)
    _same(shenjing.normal(shenjing.tensor(mean), shenjing.tensor(std)),
          torch.normal(torch.from_numpy(mean), torch.from_numpy(std)))
    _same(shenjing.normal(shenjing.tensor(mean), 0.5), torch.normal(torch.from_numpy(mean), 0.5))
    _same(shenjing.normal(0.25, shenjing.tensor(std)), torch.normal(0.25, torch.from_numpy(std)))
    _same(shenjing.normal(2.0, 3.0, (5, 4)), torch.normal(2.0, 3.0, (5, 4)))
    _same_state()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("size", SIZES)
def test_integer_draws(seed, size):
    _seed(seed)
    _same(shenjing.randint(10, (size,)), torch.randint(10, (size,)))
    _same(shenjing.randint(-7, 3, (size,)), torch.randint(-7, 3, (size,)))
    _same(shenjing.randint(0, 2 ** 40, (size,)), torch.randint(0, 2 ** 40, (size,)))
    _same(shenjing.randint(-2 ** 62, 2 ** 62, (size,)), torch.randint(-2 ** 62, 2 ** 62, (size,)))
    _same(shenjing.randint(0, 5, (size,), dtype=shenjing.int32), torch.randint(0, 5, (size,), dtype=torch.int32))
    _same(shenjing.randperm(size), torch.randperm(size))
    for dtype in ("int64", "int32", "uint8", "bool"):
        _same(shenjing.empty(size, dtype=getattr(shenjing, dtype)).random_(),
              torch.empty(size, dtype=getattr(torch, dtype)).random_())
    _same(shenjing.empty(size).random_(3, 9), torch.empty(size).random_(3, 9))
    _same_state()


def test_big_permutation():
    _seed(17)
    _same(shenjing.randperm(60_000), torch.randperm(60_000))
    _same(shenjing.randperm(0), torch.randperm(0))
    _same_state()


@pytest.mark.parametrize("seed", SEEDS[:5])
@pytest.mark.parametrize("size", [1, 15, 16, 17, 300])
def test_bernoulli(seed, size):
    _seed(seed)
    p32 = np.linspace(0, 1, size, dtype=np.float32)
    _same(shenjing.bernoulli(shenjing.tensor(p32)), torch.bernoulli(torch.from_numpy(p32)))
    _same(shenjing.bernoulli(shenjing.tensor(p32.astype(np.float64))),
          torch.bernoulli(torch.from_numpy(p32.astype(np.float64))))
    _same(shenjing.bernoulli(shenjing.zeros(size), 0.3), torch.bernoulli(torch.zeros(size), 0.3))
    _same(shenjing.empty(size).bernoulli_(0.7), torch.empty(size).bernoulli_(0.7))
    _same(shenjing.empty(size).bernoulli_(shenjing.tensor(p32)), torch.empty(size).bernoulli_(torch.from_numpy(p32)))
    _same_state()


@pytest.mark.parametrize("seed", SEEDS[:5])
@pytest.mark.parametrize("categories", [1, 5, 16, 40])
def test_multinomial(seed, categories):
    _seed(seed)
    weights = np.random.default_rng(categories).random((3, categories)).astype(np.float32)
    weights[:, 0] = 0.0 if categories > 1 else 1.0
    for dtype in (np.float32, np.float64):
        ours, theirs = shenjing.tensor(weights.astype(dtype)), torch.from_numpy(weights.astype(dtype))
        _same(shenjing.multinomial(ours, 7, replacement=True), torch.multinomial(theirs, 7, replacement=True))
        _same(shenjing.multinomial(ours, 1), torch.multinomial(theirs, 1))
        samples = min(3, categories - (categories > 1))
        _same(shenjing.multinomial(ours, samples), torch.multinomial(theirs, samples))
        _same(shenjing.multinomial(ours[0], 4, True), torch.multinomial(theirs[0], 4, True))
    _same_state()


def test_generator_argument_leaves_the_default_alone():
    _seed(8)
    ours, theirs = shenjing.Generator().manual_seed(99), torch.Generator().manual_seed(99)
    _same(shenjing.randn(30, generator=ours), torch.randn(30, generator=theirs))
    _same(shenjing.randperm(30, generator=ours), torch.randperm(30, generator=theirs))
    _same(shenjing.randint(0, 9, (4,), generator=ours), torch.randint(0, 9, (4,), generator=theirs))
    _same(shenjing.bernoulli(shenjing.full((9,), 0.5), generator=ours),
          torch.bernoulli(torch.full((9,), 0.5), generator=theirs))
    _same(shenjing.multinomial(shenjing.ones(6), 3, generator=ours), torch.multinomial(torch.ones(6), 3, generator=theirs))
    np.testing.assert_array_equal(ours.get_state().numpy(), theirs.get_state().numpy())
    _same_state()


# -- nn.init and layers -----------------------------------------------------------------------------------

_INITS = [
    ("uniform_", (), {"a": -2.0, "b": 3.0}), ("normal_", (), {"mean": 1.0, "std": 0.1}),
    ("xavier_uniform_", (), {"gain": 1.5}), ("xavier_normal_", (), {}),
    ("kaiming_uniform_", (), {"a": math.sqrt(5)}), ("kaiming_uniform_", (), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", (), {}), ("kaiming_normal_", (), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("sparse_", (0.3,), {}),
]


@pytest.mark.parametrize("name, args, kwargs", _INITS)
@pytest.mark.parametrize("shape", [(5, 3), (16, 6, 5, 5), (40, 30)])
def test_init_functions(name, args, kwargs, shape):
    if name == "sparse_" and len(shape) != 2:
        return
    _seed(shape[0])
    ours = getattr(shenjing.nn.init, name)(shenjing.empty(*shape), *args, **kwargs)
    theirs = getattr(torch.nn.init, name)(torch.empty(*shape), *args, **kwargs)
    _same(ours, theirs)
    _same_state()


def test_init_functions_with_a_generator():
    ours, theirs = shenjing.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    _same(shenjing.nn.init.kaiming_uniform_(shenjing.empty(8, 9), generator=ours),
          torch.nn.init.kaiming_uniform_(torch.empty(8, 9), generator=theirs))
    _same(shenjing.nn.init.xavier_normal_(shenjing.empty(8, 9), generator=ours),
          torch.nn.init.xavier_normal_(torch.empty(8, 9), generator=theirs))


@pytest.mark.parametrize("kwargs", [{"std": 0.02}, {}, {"mean": 0.5, "a": 0.0, "b": 3.0},
                                    {"std": 1.0, "a": 2.0, "b": 2.5}, {"std": 0.3, "a": -0.1, "b": 0.05}])
def test_trunc_normal(kwargs):
    """PyTorch 2.13's rejection sampler (normal proposals for wide windows, uniform ones for narrow)."""
    _seed(6)
    for shape in [(50, 40), (7,)]:
        _same(shenjing.nn.init.trunc_normal_(shenjing.empty(*shape), **kwargs),
              torch.nn.init.trunc_normal_(torch.empty(*shape), **kwargs))
    _same_state()


def test_orthogonal_draws_pytorchs_numbers():
    """Its draws are PyTorch's; the values go through a QR decomposition (another LAPACK than torch's), so
    they agree to float32 rounding."""
    _seed(6)
    ours = shenjing.nn.init.orthogonal_(shenjing.empty(6, 10), gain=2.0)
    theirs = torch.nn.init.orthogonal_(torch.empty(6, 10), gain=2.0)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5)
    _same_state()


def _layers(lib):
    nn = lib.nn
    return {
        "Linear": lambda: nn.Linear(7, 5), "Linear-nobias": lambda: nn.Linear(300, 2, bias=False),
        "Bilinear": lambda: nn.Bilinear(3, 4, 5),
        "Conv1d": lambda: nn.Conv1d(3, 4, 3), "Conv2d": lambda: nn.Conv2d(3, 6, 5),
        "Conv2d-groups": lambda: nn.Conv2d(4, 8, 3, groups=2), "Conv3d": lambda: nn.Conv3d(2, 3, 2),
        "ConvTranspose1d": lambda: nn.ConvTranspose1d(3, 4, 3),
        "ConvTranspose2d": lambda: nn.ConvTranspose2d(4, 6, 3, groups=2),
        "RNN": lambda: nn.RNN(4, 6, num_layers=2), "LSTM": lambda: nn.LSTM(4, 6, bidirectional=True),
        "GRU": lambda: nn.GRU(3, 5, num_layers=2), "RNNCell": lambda: nn.RNNCell(3, 4),
        "LSTMCell": lambda: nn.LSTMCell(3, 4), "GRUCell": lambda: nn.GRUCell(3, 4),
        "Embedding": lambda: nn.Embedding(10, 20, padding_idx=2), "EmbeddingBag": lambda: nn.EmbeddingBag(10, 4),
        "BatchNorm2d": lambda: nn.BatchNorm2d(3), "LayerNorm": lambda: nn.LayerNorm(4),
        "GroupNorm": lambda: nn.GroupNorm(2, 4), "PReLU": lambda: nn.PReLU(),
        "MultiheadAttention": lambda: nn.MultiheadAttention(8, 2),
        "MultiheadAttention-kv": lambda: nn.MultiheadAttention(8, 2, kdim=5, vdim=3, add_bias_kv=True),
        "TransformerEncoderLayer": lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16),
        "TransformerDecoderLayer": lambda: nn.TransformerDecoderLayer(8, 2, dim_feedforward=16),
        "LeNet-like": lambda: nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                                            nn.Flatten(), nn.Linear(256, 120), nn.Linear(120, 10)),
    }


@pytest.mark.parametrize("name", list(_layers(shenjing)))
def test_default_layer_initialisation(name):
    _seed(3)
    ours, theirs = _layers(shenjing)[name]().state_dict(), _layers(torch)[name]().state_dict()
    assert list(ours) == list(theirs)
    for key in ours:
        _same(ours[key], theirs[key])
    _same_state()


# -- dropout ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_masks(p):
    _seed(int(p * 10))
    x = np.random.default_rng(0).standard_normal((4, 6, 5, 5)).astype(np.float32)
    ours, theirs = shenjing.tensor(x), torch.from_numpy(x)
    _same(SF.dropout(ours, p), TF.dropout(theirs, p))
    _same(shenjing.nn.Dropout(p)(ours), torch.nn.Dropout(p)(theirs))
    _same(SF.dropout2d(ours, p), TF.dropout2d(theirs, p))
    _same(SF.dropout1d(ours[0], p), TF.dropout1d(theirs[0], p))
    _same(SF.dropout3d(ours[None], p), TF.dropout3d(theirs[None], p))
    _same(SF.alpha_dropout(ours, p, training=True), TF.alpha_dropout(theirs, p, training=True))
    _same(SF.feature_alpha_dropout(ours, p, training=True), TF.feature_alpha_dropout(theirs, p, training=True))
    _same(SF.dropout(ours.double(), p), TF.dropout(theirs.double(), p))
    _same_state()


# -- data -----------------------------------------------------------------------------------------------

def _batches(loader) -> list:
    return [batch[0].tolist() for batch in loader]


@pytest.mark.parametrize("seed", [0, 1, 123])
def test_dataloader_shuffle_order(seed):
    data = np.arange(23)
    ours = SDataLoader(STensorDataset(shenjing.tensor(data)), batch_size=5, shuffle=True)
    theirs = TDataLoader(TTensorDataset(torch.from_numpy(data)), batch_size=5, shuffle=True)
    _seed(seed)
    for _ in range(3):  # each epoch a new order
        assert _batches(ours) == _batches(theirs)
    _same_state()
    ours = SDataLoader(STensorDataset(shenjing.tensor(data)), batch_size=4, shuffle=True,
                       generator=shenjing.Generator().manual_seed(seed))
    theirs = TDataLoader(TTensorDataset(torch.from_numpy(data)), batch_size=4, shuffle=True,
                         generator=torch.Generator().manual_seed(seed))
    for _ in range(2):
        assert _batches(ours) == _batches(theirs)


def test_samplers_and_random_split():
    from shenjing.utils import data as sdata
    from torch.utils import data as tdata

    _seed(21)
    assert list(sdata.RandomSampler(range(10))) == list(tdata.RandomSampler(range(10)))
    assert list(sdata.RandomSampler(range(10), replacement=True, num_samples=70)) == \
        list(tdata.RandomSampler(range(10), replacement=True, num_samples=70))
    assert list(sdata.RandomSampler(range(7), num_samples=20)) == list(tdata.RandomSampler(range(7), num_samples=20))
    assert list(sdata.SubsetRandomSampler([5, 9, 2, 7, 11])) == list(tdata.SubsetRandomSampler([5, 9, 2, 7, 11]))
    weights = [0.1, 0.0, 2.0, 0.5, 1.0]
    assert list(sdata.WeightedRandomSampler(weights, 12)) == list(tdata.WeightedRandomSampler(weights, 12))
    assert list(sdata.WeightedRandomSampler(weights, 3, replacement=False)) == \
        list(tdata.WeightedRandomSampler(weights, 3, replacement=False))
    ours = [list(part.indices) for part in sdata.random_split(range(30), [0.5, 0.3, 0.2])]
    theirs = [list(part.indices) for part in tdata.random_split(range(30), [0.5, 0.3, 0.2])]
    assert ours == theirs
    ours = [list(part.indices) for part in sdata.random_split(range(10), [4, 6],
                                                                generator=shenjing.Generator().manual_seed(42))]
    theirs = [list(part.indices) for part in tdata.random_split(range(10), [4, 6],
                                                                 generator=torch.Generator().manual_seed(42))]
    assert ours == theirs
    _same_state()
