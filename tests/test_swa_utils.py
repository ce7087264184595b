"""torch.optim.swa_utils against PyTorch 2.13: AveragedModel (SWA and EMA, per tensor and multi-tensor,
with and without buffers), update_bn, SWALR in a training loop, and the averaging functions' checks."""

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import optim


def _models(seed=0):
    """The same small model with BatchNorm in shenjing and PyTorch (PyTorch's weights copied over)."""
    torch.manual_seed(seed)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(),
                                 torch.nn.Linear(4, 2))
    ours = sj.nn.Sequential(sj.nn.Linear(3, 4), sj.nn.BatchNorm1d(4), sj.nn.ReLU(), sj.nn.Linear(4, 2))
    ours.load_state_dict({k: sj.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _train_step(lib, model, optimizer, x, y):
    optimizer.zero_grad()
    loss = ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
    loss.backward()
    optimizer.step()


def _averaging(lib, kind):
    swa = optim.swa_utils if lib is sj else torch.optim.swa_utils
    if kind == "swa":
        return {}
    if kind == "swa-multi":
        return dict(multi_avg_fn=swa.get_swa_multi_avg_fn())
    if kind == "ema":
        return dict(avg_fn=swa.get_ema_avg_fn(0.8))
    if kind == "ema-multi":
        return dict(multi_avg_fn=swa.get_ema_multi_avg_fn(0.7))
    if kind == "swa-fn":
        return dict(avg_fn=swa.get_swa_avg_fn())
    raise AssertionError(kind)


@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("kind", ["swa", "swa-multi", "ema", "ema-multi", "swa-fn"])
def test_averaged_model_equals_torch(kind, use_buffers):
    rng = np.random.default_rng(1)
    data = [(rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32))
            for _ in range(6)]
    results = []
    for lib, model in zip((sj, torch), _models()):
        swa = optim.swa_utils if lib is sj else torch.optim.swa_utils
        optimizer = (optim if lib is sj else torch.optim).SGD(model.parameters(), lr=0.1)
        averaged = swa.AveragedModel(model, use_buffers=use_buffers, **_averaging(lib, kind))
        if kind == "swa-multi" and use_buffers:  # BatchNorm's integer num_batches_tracked: refused by both
            averaged.update_parameters(model)
            with pytest.raises(RuntimeError, match="nteger division"):
                averaged.update_parameters(model)
            continue
        for x, y in data:
            _train_step(lib, model, optimizer, x, y)
            averaged.update_parameters(model)
        averaged.eval()
        out = averaged(lib.tensor(data[0][0])).detach().numpy().copy()
        results.append(({k: v.detach().numpy().copy() for k, v in averaged.state_dict().items()}, out))
    if not results:
        return
    (ours, our_out), (theirs, their_out) = results
    assert list(ours) == list(theirs)
    for key in theirs:
        assert ours[key].dtype == theirs[key].dtype, key
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert int(ours["n_averaged"]) == len([1 for _ in range(6)])
    np.testing.assert_allclose(our_out, their_out, rtol=1e-5, atol=1e-6)


def test_averaged_model_is_a_deep_copy_and_refuses_two_functions():
    ours, _ = _models()
    averaged = optim.swa_utils.AveragedModel(ours)
    assert averaged.module is not ours and averaged.module[0].weight is not ours[0].weight
    for lib, model in zip((sj, torch), _models()):
        swa = optim.swa_utils if lib is sj else torch.optim.swa_utils
        with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn should be provided"):
            swa.AveragedModel(model, avg_fn=swa.get_swa_avg_fn(), multi_avg_fn=swa.get_swa_multi_avg_fn())


@pytest.mark.parametrize("make", ["get_ema_avg_fn", "get_ema_multi_avg_fn"])
def test_ema_decay_is_checked_as_torch(make):
    for swa in (optim.swa_utils, torch.optim.swa_utils):
        with pytest.raises(ValueError, match="Invalid decay value 1.5 provided"):
            getattr(swa, make)(1.5)


def test_update_bn_equals_torch():
    rng = np.random.default_rng(2)
    batches = [rng.standard_normal((5, 3)).astype(np.float32) * 2 + 1 for _ in range(4)]
    results = []
    for lib, model in zip((sj, torch), _models(seed=3)):
        swa = optim.swa_utils if lib is sj else torch.optim.swa_utils
        model.eval()
        loader = [(lib.tensor(b), 0) for b in batches]  # (input, label) pairs: update_bn takes the input
        swa.update_bn(loader, model)
        assert not model.training and model[1].momentum == 0.1
        results.append({k: v.detach().numpy().copy() for k, v in model.state_dict().items()})
    for key in results[1]:
        np.testing.assert_allclose(results[0][key], results[1][key], rtol=1e-5, atol=1e-6, err_msg=key)
    # a model without BatchNorm is left alone
    plain = sj.nn.Linear(3, 2)
    before = plain.weight.detach().numpy().copy()
    optim.swa_utils.update_bn([sj.ones(2, 3)], plain)
    np.testing.assert_array_equal(plain.weight.detach().numpy(), before)


def test_swa_training_loop_equals_torch():
    """The loop of PyTorch's SWA recipe: CosineAnnealingLR, then SWALR and averaging from epoch 5."""
    rng = np.random.default_rng(4)
    data = [(rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 2)).astype(np.float32))
            for _ in range(3)]
    results = []
    for lib, model in zip((sj, torch), _models(seed=5)):
        module = optim if lib is sj else torch.optim
        optimizer = module.SGD(model.parameters(), lr=0.1, momentum=0.9)
        averaged = module.swa_utils.AveragedModel(model)
        scheduler = module.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)
        swa_scheduler = module.swa_utils.SWALR(optimizer, swa_lr=0.05, anneal_epochs=3)
        rates = []
        for epoch in range(10):
            for x, y in data:
                _train_step(lib, model, optimizer, x, y)
            if epoch >= 5:
                averaged.update_parameters(model)
                swa_scheduler.step()
            else:
                scheduler.step()
            rates.append(optimizer.param_groups[0]["lr"])
        module.swa_utils.update_bn([lib.tensor(x) for x, _ in data], averaged)
        results.append((rates, {k: v.detach().numpy().copy() for k, v in averaged.state_dict().items()}))
    assert results[0][0] == results[1][0]
    for key in results[1][1]:
        np.testing.assert_allclose(results[0][1][key], results[1][1][key], rtol=1e-4, atol=1e-5, err_msg=key)


def test_swalr_checks_as_torch():
    for lib, module in ((sj, optim), (torch, torch.optim)):
        optimizer = module.SGD([lib.zeros(2, requires_grad=True)], lr=0.1)
        with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
            module.swa_utils.SWALR(optimizer, swa_lr=0.01, anneal_strategy="step")
        with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
            module.swa_utils.SWALR(optimizer, swa_lr=0.01, anneal_epochs=-1)
        with pytest.raises(ValueError, match="swa_lr must have the same length as optimizer.param_groups"):
            module.swa_utils.SWALR(optimizer, swa_lr=[0.01, 0.02])
