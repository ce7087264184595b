"""``optimizer.load_state_dict`` and the options of every optimiser against PyTorch 2.13 (issue 16,
item 3): a buffer of the wrong shape, a state index with no parameter, an option that is not a number,
and the state of one kind of optimiser loaded into another."""

import numpy as np
import pytest
import torch

import shenjing as sj

KINDS = {
    "SGD": dict(lr=0.1, momentum=0.9),
    "Adam": dict(lr=0.01),
    "AdamW": dict(lr=0.01),
    "RMSprop": dict(lr=0.01, momentum=0.5, centered=True),
    "Adagrad": dict(lr=0.1),
    "Adadelta": dict(lr=1.0),
}


def _stepped(lib, kind, options, steps=2):
    """A parameter and an optimiser of ``kind`` that has taken ``steps`` steps."""
    gen = np.random.default_rng(0)
    w = lib.tensor(gen.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    optimizer = getattr(lib.optim, kind)([w], **options)
    for _ in range(steps):
        w.grad = lib.tensor(gen.standard_normal((2, 3)).astype(np.float32))
        optimizer.step()
    return w, optimizer


def _outcome(action):
    try:
        action()
    except Exception as error:  # compared by type with PyTorch's
        return type(error)
    return None


BUFFERS = [(kind, name) for kind, names in {
    "SGD": ["momentum_buffer"], "Adam": ["exp_avg", "exp_avg_sq"], "AdamW": ["exp_avg", "exp_avg_sq"],
    "RMSprop": ["square_avg", "momentum_buffer", "grad_avg"], "Adagrad": ["sum"],
    "Adadelta": ["square_avg", "acc_delta"]}.items() for name in names]


@pytest.mark.parametrize("kind,name", BUFFERS, ids=[f"{k}-{n}" for k, n in BUFFERS])
@pytest.mark.parametrize("shape", [(1,), (3, 2), (6,), ()], ids=str)
def test_buffer_of_the_wrong_shape_is_refused_at_load(kind, name, shape):
    # PyTorch refuses it too, at the next step (a RuntimeError from the in-place update)
    w, optimizer = _stepped(torch, kind, KINDS[kind])
    saved = optimizer.state_dict()
    saved["state"][0][name] = torch.ones(shape)
    optimizer.load_state_dict(saved)
    w.grad = torch.ones(2, 3)
    assert _outcome(optimizer.step) is RuntimeError

    w, optimizer = _stepped(sj, kind, KINDS[kind])
    before = {k: v.numpy().copy() for k, v in optimizer.state[w].items()}
    saved = optimizer.state_dict()
    saved["state"][0][name] = sj.ones(shape)
    with pytest.raises(ValueError) as error:
        optimizer.load_state_dict(saved)
    message = str(error.value)
    assert f"'{name}'" in message and "parameter 0" in message
    assert str(tuple(shape)) in message and "(2, 3)" in message
    for k, v in optimizer.state[w].items():  # nothing changed
        np.testing.assert_array_equal(v.numpy(), before[k])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_state_for_an_index_with_no_parameter_is_a_clear_error(kind):
    w, optimizer = _stepped(sj, kind, KINDS[kind])
    saved = optimizer.state_dict()
    saved["state"][7] = saved["state"][0]
    with pytest.raises(ValueError, match=r"parameter index 7, which is in none of its parameter groups"):
        optimizer.load_state_dict(saved)
    saved["state"] = {"0": saved["state"][0]}  # a key of the wrong type (a JSON round trip)
    with pytest.raises(ValueError, match=r"parameter index '0'"):
        optimizer.load_state_dict(saved)


NON_NUMBERS = [(kind, option, value) for kind, option in [
    ("SGD", "lr"), ("SGD", "momentum"), ("SGD", "weight_decay"), ("Adam", "lr"), ("Adam", "eps"),
    ("Adam", "weight_decay"), ("AdamW", "weight_decay"), ("RMSprop", "alpha"), ("RMSprop", "momentum"),
    ("RMSprop", "eps"), ("Adagrad", "lr_decay"), ("Adagrad", "eps"), ("Adadelta", "rho"), ("Adadelta", "lr")]
    for value in (None, "0.5")]


@pytest.mark.parametrize("kind,option,value", NON_NUMBERS, ids=[f"{k}-{o}={v!r}" for k, o, v in NON_NUMBERS])
def test_an_option_that_is_not_a_number_raises_as_torch(kind, option, value):
    theirs = _outcome(lambda: getattr(torch.optim, kind)([torch.zeros(2, requires_grad=True)], **{option: value}))
    assert theirs is TypeError
    with pytest.raises(TypeError, match=f"Invalid {option if option != 'lr' else 'learning rate'}"):
        getattr(sj.optim, kind)([sj.zeros(2, requires_grad=True)], **{option: value})


@pytest.mark.parametrize("value", [None, "0.9", [0.9]])
def test_betas_that_are_not_numbers_raise_as_torch(value):
    betas = (value, 0.999) if value is not None else None
    for lib in (sj, torch):
        assert _outcome(lambda: lib.optim.Adam([lib.zeros(2, requires_grad=True)], betas=betas)) is TypeError


PAIRS = [(saved, loaded) for saved in sorted(KINDS) for loaded in sorted(KINDS) if saved != loaded]


@pytest.mark.parametrize("saved_kind,loaded_kind", PAIRS, ids=[f"{a}-into-{b}" for a, b in PAIRS])
def test_state_of_another_optimizer_is_refused_as_torch(saved_kind, loaded_kind):
    """PyTorch raises KeyError (at load or at the next step) for every pair but Adam/AdamW, which
    share their state; shenjing raises the same type at load, before anything changes."""
    def load_and_step(lib):
        w, source = _stepped(lib, saved_kind, KINDS[saved_kind])
        w2, target = _stepped(lib, loaded_kind, KINDS[loaded_kind], steps=1)
        with lib.no_grad():
            w2.copy_(w)
        target.load_state_dict(source.state_dict())
        w2.grad = lib.ones(2, 3)
        target.step()
        return w2

    theirs = _outcome(lambda: load_and_step(torch))
    if theirs is None:
        np.testing.assert_allclose(load_and_step(sj).detach().numpy(), load_and_step(torch).detach().numpy(),
                                   rtol=1e-6)
        return
    assert theirs is KeyError
    w, source = _stepped(sj, saved_kind, KINDS[saved_kind])
    w2, target = _stepped(sj, loaded_kind, KINDS[loaded_kind], steps=1)
    before = target.state_dict()
    with pytest.raises(KeyError, match=f"not {loaded_kind}'s"):
        target.load_state_dict(source.state_dict())
    after = target.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert sorted(after["state"][0]) == sorted(before["state"][0])


def test_sgd_without_momentum_into_adam_is_refused():
    """SGD without momentum keeps no state: its groups alone show that it is not Adam's."""
    w = sj.zeros(3, requires_grad=True)
    saved = sj.optim.SGD([w], lr=0.1).state_dict()
    with pytest.raises(KeyError, match=r"parameter group 0 has no 'betas', 'eps', 'amsgrad'"):
        sj.optim.Adam([w]).load_state_dict(saved)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_own_and_torch_state_still_load(kind):
    """The checks let through what they should: the optimiser's own state, and PyTorch's, which then
    continues as PyTorch continues."""
    w, optimizer = _stepped(sj, kind, KINDS[kind])
    w_torch, optimizer_torch = _stepped(torch, kind, KINDS[kind])
    fresh = getattr(sj.optim, kind)([w], **KINDS[kind])
    fresh.load_state_dict(optimizer.state_dict())
    fresh.load_state_dict(optimizer_torch.state_dict())
    w.grad = sj.ones(2, 3)
    w_torch.grad = torch.ones(2, 3)
    fresh.step()
    optimizer_torch.step()
    np.testing.assert_allclose(w.detach().numpy(), w_torch.detach().numpy(), rtol=1e-5, atol=1e-7)
