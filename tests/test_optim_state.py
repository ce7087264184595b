"""Optimiser state_dict / load_state_dict in PyTorch's format (round trips, PyTorch's own state loaded and
continued, what a bad state dict raises) and the argument checks (PyTorch's messages)."""

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import optim

OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("Adadelta", dict(weight_decay=0.01)),
]
SHAPES = [(3, 2), (4,), ()]


def _gradients(steps, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]


def _initial():
    rng = np.random.default_rng(9)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def _optimizer(lib, name, options, params, **extra):
    module = optim if lib is sj else torch.optim
    return getattr(module, name)([{"params": params[:1]}, {"params": params[1:], "lr": 0.02}], **options, **extra)


def _steps(lib, optimizer, params, gradients):
    for step_grads in gradients:
        for p, g in zip(params, step_grads):
            p.grad = lib.tensor(g)
        optimizer.step()


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("name,options", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_resuming_from_state_dict_continues_to_the_bit(name, options, foreach):
    gradients = _gradients(8)
    params = [sj.tensor(a, requires_grad=True) for a in _initial()]
    optimizer = _optimizer(sj, name, options, params, foreach=foreach)
    _steps(sj, optimizer, params, gradients[:4])
    saved = optimizer.state_dict()
    fresh = [sj.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    resumed = _optimizer(sj, name, options, fresh, foreach=foreach)
    resumed.load_state_dict(saved)
    _steps(sj, optimizer, params, gradients[4:])
    _steps(sj, resumed, fresh, gradients[4:])
    for a, b in zip(params, fresh):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("name,options", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_state_dict_is_a_copy(name, options):
    params = [sj.tensor(a, requires_grad=True) for a in _initial()]
    optimizer = _optimizer(sj, name, options, params)
    _steps(sj, optimizer, params, _gradients(2))
    saved = optimizer.state_dict()
    before = {i: {k: np.array(v.numpy()) for k, v in s.items()} for i, s in saved["state"].items()}
    _steps(sj, optimizer, params, _gradients(2, seed=1))
    for i, values in saved["state"].items():
        for k, v in values.items():
            np.testing.assert_array_equal(v.numpy(), before[i][k])


@pytest.mark.parametrize("name,options", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_state_dict_layout_matches_torch(name, options):
    ours_params = [sj.tensor(a, requires_grad=True) for a in _initial()]
    their_params = [torch.tensor(a, requires_grad=True) for a in _initial()]
    ours, theirs = _optimizer(sj, name, options, ours_params), _optimizer(torch, name, options, their_params)
    a, b = ours.state_dict(), theirs.state_dict()  # before any step (Adagrad has state already)
    assert sorted(a["state"]) == sorted(b["state"])
    _steps(sj, ours, ours_params, _gradients(3))
    _steps(torch, theirs, their_params, _gradients(3))
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a["state"]) == list(b["state"]) == [0, 1, 2]
    for index in b["state"]:
        assert list(a["state"][index]) == list(b["state"][index])
        for key, value in b["state"][index].items():
            mine = a["state"][index][key]
            assert mine.numpy().shape == value.numpy().shape and mine.numpy().dtype == value.numpy().dtype
    for group, their_group in zip(a["param_groups"], b["param_groups"]):
        assert group["params"] == their_group["params"]
        assert set(group) <= set(their_group), set(group) - set(their_group)
        assert {k: group[k] for k in group} == {k: their_group[k] for k in group}


@pytest.mark.parametrize("as_tensors", [True, False], ids=["shenjing tensors", "torch tensors"])
@pytest.mark.parametrize("name,options", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_torch_state_loads_and_continues_as_torch(name, options, as_tensors):
    gradients = _gradients(8, seed=2)
    their_params = [torch.tensor(a, requires_grad=True) for a in _initial()]
    theirs = _optimizer(torch, name, options, their_params)
    _steps(torch, theirs, their_params, gradients[:4])
    saved = theirs.state_dict()
    if as_tensors:
        saved = {"state": {i: {k: sj.tensor(v.numpy()) if torch.is_tensor(v) else v for k, v in s.items()}
                           for i, s in saved["state"].items()},
                 "param_groups": saved["param_groups"]}
    ours_params = [sj.tensor(p.detach().numpy().copy(), requires_grad=True) for p in their_params]
    ours = _optimizer(sj, name, options, ours_params)
    ours.load_state_dict(saved)
    if name != "SGD":
        assert ours.state[ours_params[0]]["step"].dtype == sj.float32
    _steps(torch, theirs, their_params, gradients[4:])
    _steps(sj, ours, ours_params, gradients[4:])
    for a, b in zip(ours_params, their_params):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_a_step_saved_as_a_number_loads_as_a_float32_tensor():
    p = sj.zeros(2, requires_grad=True)
    optimizer = optim.Adam([p], lr=0.1)
    optimizer.load_state_dict({"state": {0: {"step": 3, "exp_avg": sj.ones(2), "exp_avg_sq": sj.ones(2)}},
                               "param_groups": [{**optimizer.param_groups[0], "params": [0]}]})
    assert optimizer.state[p]["step"].dtype == sj.float32 and optimizer.state[p]["step"].item() == 3.0
    p.grad = sj.ones(2)
    optimizer.step()
    assert optimizer.state[p]["step"].item() == 4.0


def _adam_with_state():
    params = [sj.zeros(2, 3, requires_grad=True), sj.zeros(4, requires_grad=True)]
    optimizer = optim.Adam(params, lr=0.1)
    for p in params:
        p.grad = sj.ones(*p.shape)
    optimizer.step()
    return params, optimizer


def test_loading_state_for_an_index_with_no_parameter_is_refused():
    params, optimizer = _adam_with_state()
    saved = optimizer.state_dict()
    saved["state"][5] = saved["state"][1]
    before = optimizer.state_dict()
    with pytest.raises(ValueError, match=r"parameter index 5, which is in none of its parameter groups"):
        optimizer.load_state_dict(saved)
    after = optimizer.state_dict()
    assert list(after["state"]) == list(before["state"]) == [0, 1]


def test_loading_a_buffer_of_another_shape_is_refused():
    params, optimizer = _adam_with_state()
    saved = optimizer.state_dict()
    saved["state"][0]["exp_avg_sq"] = sj.zeros(3, 2)
    with pytest.raises(ValueError, match=r"'exp_avg_sq' of shape \(3, 2\) for parameter 0, whose shape is \(2, 3\)"):
        optimizer.load_state_dict(saved)
    saved = optimizer.state_dict()
    saved["state"][1]["step"] = sj.zeros(4)
    with pytest.raises(ValueError, match=r"'step' of shape \(4,\)"):
        optimizer.load_state_dict(saved)


def test_loading_groups_of_other_sizes_is_refused():
    params, optimizer = _adam_with_state()
    saved = optimizer.state_dict()
    other = optim.Adam([{"params": params[:1]}, {"params": params[1:]}])
    with pytest.raises(ValueError, match="has 1 parameter groups, this optimizer has 2"):
        other.load_state_dict(saved)
    saved["param_groups"][0]["params"] = [0]
    with pytest.raises(ValueError, match="doesn't match the size"):
        optimizer.load_state_dict(saved)


def test_loading_a_group_with_a_bad_option_is_refused():
    params, optimizer = _adam_with_state()
    saved = optimizer.state_dict()
    saved["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="Invalid learning rate: -1.0"):
        optimizer.load_state_dict(saved)
    assert optimizer.param_groups[0]["lr"] == 0.1


def test_loaded_buffers_take_the_parameter_dtype():
    p = sj.zeros(2, dtype=sj.float64, requires_grad=True)
    optimizer = optim.SGD([p], lr=0.1, momentum=0.9)
    optimizer.load_state_dict({"state": {0: {"momentum_buffer": sj.ones(2)}},
                               "param_groups": [{**optimizer.param_groups[0], "params": [0]}]})
    assert optimizer.state[p]["momentum_buffer"].dtype == sj.float64


# -- argument checks -------------------------------------------------------------------------------

BAD_ARGUMENTS = [
    ("SGD", dict(lr=-1), "Invalid learning rate: -1"),
    ("SGD", dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    ("SGD", dict(weight_decay=-1e-4), "Invalid weight_decay value: -0.0001"),
    ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    ("Adam", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("Adam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("AdamW", dict(weight_decay=-0.01), "Invalid weight_decay value: -0.01"),
    ("RMSprop", dict(alpha=-0.5), "Invalid alpha value: -0.5"),
    ("RMSprop", dict(momentum=-1), "Invalid momentum value: -1"),
    ("RMSprop", dict(eps=-1), "Invalid epsilon value: -1"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    ("Adagrad", dict(eps=-1), "Invalid epsilon value: -1"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adadelta", dict(lr=-1), "Invalid learning rate: -1"),
]


@pytest.mark.parametrize("name,options,message", BAD_ARGUMENTS, ids=[m for _, _, m in BAD_ARGUMENTS])
def test_bad_numbers_are_refused_with_torch_message(name, options, message):
    with pytest.raises(ValueError) as ours:
        getattr(optim, name)([sj.zeros(2, requires_grad=True)], **options)
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **options)
    assert str(ours.value) == str(theirs.value)
    assert str(ours.value).startswith(message)


@pytest.mark.parametrize("name,options,error,message", [
    ("SGD", dict(momentum=None), TypeError, r"Invalid momentum value: None \(expected a real number >= 0\)"),
    ("SGD", dict(lr="0.1"), TypeError, r"Invalid learning rate: '0.1'"),
    ("SGD", dict(dampening=None), TypeError, r"Invalid dampening value: None"),
    ("Adam", dict(betas=0.9), TypeError, r"Invalid betas: 0.9 \(expected a pair"),
    ("Adam", dict(betas=(0.9, 0.99, 0.999)), ValueError, r"Invalid betas"),
    ("Adam", dict(eps=float("nan")), ValueError, r"Invalid epsilon value: nan"),
    ("RMSprop", dict(alpha=None), TypeError, r"Invalid alpha value: None"),
    ("Adadelta", dict(rho=None), TypeError, r"Invalid rho value: None \(expected a real number in \[0.0, 1.0\]\)"),
    ("Adagrad", dict(foreach="yes"), TypeError, r"Invalid foreach value: 'yes' \(expected True, False or None\)"),
])
def test_values_of_the_wrong_type_are_refused(name, options, error, message):
    """A value that is not a number is a TypeError (PyTorch's type, where PyTorch checks it at all)."""
    with pytest.raises(error, match=message):
        getattr(optim, name)([sj.zeros(2, requires_grad=True)], **options)


def test_add_param_group_checks_its_options():
    optimizer = optim.SGD([sj.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optimizer.add_param_group({"params": [sj.zeros(2, requires_grad=True)], "lr": -1})
    with pytest.raises(TypeError, match="Invalid momentum value: None"):
        optimizer.add_param_group({"params": [sj.zeros(2, requires_grad=True)], "momentum": None})
    assert len(optimizer.param_groups) == 1
    optimizer.add_param_group({"params": [sj.zeros(2, requires_grad=True)], "lr": 0.5, "momentum": 0.9})
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.5]


def test_constructor_checks_the_defaults_even_where_every_group_sets_its_own():
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.SGD([{"params": [sj.zeros(2, requires_grad=True)], "lr": 0.1}], lr=-1)


def test_bad_parameter_lists_are_refused():
    w = sj.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.warns(UserWarning, match="duplicate parameters"):  # as PyTorch: a warning, not an error
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {w}}], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([w, np.zeros(2)], lr=0.1)
