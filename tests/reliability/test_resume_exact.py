"""``fit(resume=True)`` continues exactly as an uninterrupted run: the weights after 2 + 2 epochs (with a
fresh model, optimiser, scheduler, loader and reseeded default generator in between, as in a new process)
are bit-identical to 4 epochs in one go, over several optimiser / scheduler / sampler configurations.
And resuming from the wrong kind of file, or with another optimiser, gives a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import shenjing as sj
from shenjing import nn, optim
from shenjing.optim import lr_scheduler
from shenjing.serialization import CheckpointError
from shenjing.train import fit
from shenjing.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset, WeightedRandomSampler

DATA_SEED = 7


def _dataset():
    rng = np.random.default_rng(DATA_SEED)
    inputs = rng.standard_normal((40, 6)).astype(np.float32)
    targets = rng.integers(0, 3, 40)
    return TensorDataset(sj.tensor(inputs), sj.tensor(targets))


def _loader(kind):
    dataset = _dataset()
    generator = sj.Generator().manual_seed(123)
    if kind == "shuffle-default":
        return DataLoader(dataset, batch_size=8, shuffle=True)
    if kind == "shuffle-loader-generator":
        return DataLoader(dataset, batch_size=8, shuffle=True, generator=generator)
    if kind == "sampler-generator":
        return DataLoader(dataset, batch_size=8, sampler=RandomSampler(dataset, generator=generator))
    if kind == "sampler-replacement":
        sampler = RandomSampler(dataset, replacement=True, num_samples=36, generator=generator)
        return DataLoader(dataset, batch_size=8, sampler=sampler)
    if kind == "weighted-sampler":
        sampler = WeightedRandomSampler(np.linspace(0.1, 1.0, 40), 40, generator=generator)
        return DataLoader(dataset, batch_size=8, sampler=sampler)
    if kind == "batch-sampler-and-loader-generators":
        batches = BatchSampler(RandomSampler(dataset, generator=generator), 8, drop_last=True)
        return DataLoader(dataset, batch_sampler=batches, generator=sj.Generator().manual_seed(5))
    raise ValueError(kind)


def _optimizer(kind, parameters):
    return {"sgd-momentum": lambda: optim.SGD(parameters, lr=0.05, momentum=0.9, nesterov=True),
            "adam": lambda: optim.Adam(parameters, lr=0.01),
            "adamw": lambda: optim.AdamW(parameters, lr=0.01, weight_decay=0.1),
            "rmsprop": lambda: optim.RMSprop(parameters, lr=0.01, momentum=0.5)}[kind]()


def _scheduler(kind, optimizer, steps_per_epoch):
    if kind is None:
        return None
    return {"step": lambda: lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7),
            "cosine": lambda: lr_scheduler.CosineAnnealingLR(optimizer, T_max=4),
            "onecycle": lambda: lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=4 * steps_per_epoch),
            "plateau": lambda: lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)}[kind]()


def _run(configuration, epochs, checkpoint, resume, default_seed):
    optimizer_kind, scheduler_kind, loader_kind = configuration
    sj.manual_seed(0)  # the same initial weights in every run (resume overwrites them anyway)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    loader = _loader(loader_kind)
    optimizer = _optimizer(optimizer_kind, model.parameters())
    scheduler = _scheduler(scheduler_kind, optimizer, len(loader))
    sj.manual_seed(default_seed)  # a new process would start from another default-generator state
    fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs=epochs, scheduler=scheduler,
        checkpoint=checkpoint, resume=resume, progress=False)
    return {name: value.detach().numpy().copy() for name, value in model.state_dict().items()}


CONFIGURATIONS = [
    ("sgd-momentum", "step", "sampler-generator"),
    ("adam", None, "sampler-generator"),
    ("adam", "onecycle", "shuffle-loader-generator"),
    ("adamw", "cosine", "sampler-replacement"),
    ("rmsprop", "plateau", "weighted-sampler"),
    ("sgd-momentum", None, "shuffle-default"),
    ("adam", "step", "batch-sampler-and-loader-generators"),
]


@pytest.mark.parametrize("configuration", CONFIGURATIONS, ids=["-".join(map(str, c)) for c in CONFIGURATIONS])
def test_resume_is_bit_exact(tmp_path, configuration):
    uninterrupted = _run(configuration, 4, tmp_path / "once.ckpt", False, default_seed=1)
    checkpoint = tmp_path / "resumed.ckpt"
    _run(configuration, 2, checkpoint, False, default_seed=1)  # "killed" after epoch 2
    resumed = _run(configuration, 4, checkpoint, True, default_seed=999)
    for name in uninterrupted:
        assert uninterrupted[name].tobytes() == resumed[name].tobytes(), (
            f"{name}: max |dw| = {np.abs(uninterrupted[name] - resumed[name]).max()}")


def test_resume_from_a_plain_state_dict_gives_a_clear_error(tmp_path):
    model = nn.Linear(6, 3)
    path = tmp_path / "weights.pt"
    sj.save(model.state_dict(), path)
    loader = DataLoader(_dataset(), batch_size=8)
    with pytest.raises(CheckpointError, match="not a training checkpoint.*load_state_dict") as info:
        fit(model, loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs=2,
            checkpoint=path, resume=True, progress=False)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("saved,resumed", [("SGD", "Adam"), ("Adam", "SGD"), ("Adam", "AdamW")])
def test_resume_with_another_optimizer_kind_names_both(tmp_path, saved, resumed):
    path = tmp_path / "run.ckpt"
    loader = DataLoader(_dataset(), batch_size=8)
    model = nn.Linear(6, 3)
    kinds = {"SGD": lambda p: optim.SGD(p, lr=0.1, momentum=0.9), "Adam": lambda p: optim.Adam(p),
             "AdamW": lambda p: optim.AdamW(p)}
    fit(model, loader, nn.CrossEntropyLoss(), kinds[saved](model.parameters()), epochs=1, checkpoint=path,
        progress=False)
    with pytest.raises(CheckpointError, match=f"{saved} optimiser.*uses {resumed}") as info:
        fit(model, loader, nn.CrossEntropyLoss(), kinds[resumed](model.parameters()), epochs=2,
            checkpoint=path, resume=True, progress=False)
    assert str(path) in str(info.value)
