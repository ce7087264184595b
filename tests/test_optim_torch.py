"""Every optimiser option against torch.optim 2.13, both update paths: fed the same gradients, the
parameters and the state ('step', 'exp_avg', 'momentum_buffer', ...) must agree with PyTorch's after
every step, and the multi-tensor path (foreach=True) must give the specification's numbers (foreach=False)
to the bit. The parameters mix shapes (a 0-d one too) and float32 with float64, sit in two groups with
different learning rates, and some have no gradient on some steps."""

import itertools

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import optim

STEPS = 7
SHAPES = [(3, 4), (5,), (2, 3), (), (4, 1)]
DTYPES = [np.float32, np.float32, np.float64, np.float32, np.float64]
TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _grid(**choices):
    names = list(choices)
    return [dict(zip(names, values)) for values in itertools.product(*choices.values())]


CASES = (
    [("SGD", dict(lr=0.1, **o)) for o in _grid(momentum=[0.0, 0.9], dampening=[0.0, 0.3], nesterov=[False, True],
                                                weight_decay=[0.0, 0.05], maximize=[False, True])
     if not (o["nesterov"] and (o["momentum"] == 0 or o["dampening"] != 0))]
    + [("Adam", dict(lr=0.01, **o)) for o in _grid(betas=[(0.9, 0.999), (0.5, 0.8)], weight_decay=[0.0, 0.1],
                                                    amsgrad=[False, True], maximize=[False, True])]
    + [("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True))]
    + [("AdamW", dict(lr=0.01, **o)) for o in _grid(weight_decay=[0.0, 0.1], amsgrad=[False, True],
                                                     maximize=[False, True])]
    + [("RMSprop", dict(lr=0.01, **o)) for o in _grid(alpha=[0.99, 0.3], weight_decay=[0.0, 0.1],
                                                       momentum=[0.0, 0.5], centered=[False, True],
                                                       maximize=[False, True])]
    + [("Adagrad", dict(lr=0.1, **o)) for o in _grid(lr_decay=[0.0, 0.05], weight_decay=[0.0, 0.1],
                                                      initial_accumulator_value=[0.0, 0.2], eps=[1e-10, 1e-3],
                                                      maximize=[False, True])]
    + [("Adadelta", dict(**o)) for o in _grid(lr=[1.0, 0.5], rho=[0.9, 0.5], eps=[1e-6, 1e-3],
                                               weight_decay=[0.0, 0.1], maximize=[False, True])]
)


def _case_id(case):
    name, options = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in options.items())


def _make(lib, name, options, initial, foreach):
    params = [lib.tensor(a.copy(), requires_grad=True) for a in initial]
    module = optim if lib is sj else torch.optim
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": options.get("lr", 1.0) * 0.3}]
    return params, getattr(module, name)(groups, foreach=foreach, **options)


def _gradients(seed=0):
    rng = np.random.default_rng(seed)
    # parameter i has no gradient on the steps where (step + i) % 4 == 3
    return [[None if (step + i) % 4 == 3 else rng.standard_normal(s).astype(d)
             for i, (s, d) in enumerate(zip(SHAPES, DTYPES))] for step in range(STEPS)]


def _run(lib, name, options, initial, gradients, foreach):
    """Per step: every parameter's array and its state (name -> array) after the step."""
    params, optimizer = _make(lib, name, options, initial, foreach)
    history = []
    for step_grads in gradients:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else lib.tensor(g)
        optimizer.step()
        history.append([(p.detach().numpy().copy(),
                         {k: np.array(v.detach().numpy() if hasattr(v, "detach") else v, copy=True)
                          for k, v in optimizer.state[p].items()} if p in optimizer.state else {})
                        for p in params])
    return history


@pytest.mark.parametrize("name,options", CASES, ids=[_case_id(c) for c in CASES])
def test_both_paths_equal_torch_and_each_other(name, options):
    rng = np.random.default_rng(1)
    initial = [rng.standard_normal(s).astype(d) for s, d in zip(SHAPES, DTYPES)]
    gradients = _gradients()
    theirs = _run(torch, name, options, initial, gradients, foreach=False)
    spec = _run(sj, name, options, initial, gradients, foreach=False)
    multi = _run(sj, name, options, initial, gradients, foreach=True)
    for step, (t_step, s_step, m_step) in enumerate(zip(theirs, spec, multi)):
        for i, ((tp, ts), (sp, ss), (mp, ms)) in enumerate(zip(t_step, s_step, m_step)):
            where = f"step {step + 1}, parameter {i}"
            assert sp.dtype == tp.dtype and sp.shape == tp.shape, where
            np.testing.assert_allclose(sp, tp, **TOLERANCE[DTYPES[i]], err_msg=where)
            np.testing.assert_array_equal(mp, sp, err_msg=f"foreach differs from the specification, {where}")
            assert list(ss) == list(ts) == list(ms), where
            for key in ts:
                assert ss[key].shape == ts[key].shape and ss[key].dtype == ts[key].dtype, (where, key)
                np.testing.assert_allclose(ss[key], ts[key], **TOLERANCE[DTYPES[i]], err_msg=f"{where}, {key}")
                np.testing.assert_array_equal(ms[key], ss[key], err_msg=f"foreach state, {where}, {key}")


@pytest.mark.parametrize("name,options", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01)),
                                          ("Adadelta", dict())])
def test_foreach_none_gives_the_same_numbers(name, options):
    rng = np.random.default_rng(2)
    initial = [rng.standard_normal(s).astype(d) for s, d in zip(SHAPES, DTYPES)]
    gradients = _gradients(seed=3)
    default = _run(sj, name, options, initial, gradients, foreach=None)
    spec = _run(sj, name, options, initial, gradients, foreach=False)
    for (dp, ds), (sp, ss) in zip(default[-1], spec[-1]):
        np.testing.assert_array_equal(dp, sp)
        for key in ss:
            np.testing.assert_array_equal(ds[key], ss[key])


def test_adamw_is_adam_with_decoupled_weight_decay():
    rng = np.random.default_rng(4)
    initial = [rng.standard_normal(s).astype(d) for s, d in zip(SHAPES, DTYPES)]
    gradients = _gradients(seed=5)
    adamw = _run(sj, "AdamW", dict(lr=0.01, weight_decay=0.1), initial, gradients, foreach=None)
    adam = _run(sj, "Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), initial, gradients,
                foreach=None)
    for (a, _), (b, _) in zip(adamw[-1], adam[-1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("foreach", [False, True])
def test_sgd_momentum_with_a_replaced_buffer_and_a_parameter_joining_its_group_equals_torch(foreach):
    gradients = _gradients(seed=8)
    finals = []
    for lib in (sj, torch):
        a, b = lib.ones(3, 4, requires_grad=True), lib.ones(5, requires_grad=True)
        optimizer = (optim if lib is sj else torch.optim).SGD([a], lr=0.1, momentum=0.9, foreach=foreach)
        for step, step_grads in enumerate(gradients):
            if step == 2:
                optimizer.param_groups[0]["params"].append(b)
            if step == 4:
                optimizer.state[a]["momentum_buffer"] = lib.ones(3, 4)
            a.grad = lib.tensor(step_grads[0] if step_grads[0] is not None else np.ones((3, 4), np.float32))
            b.grad = lib.tensor(step_grads[1]) if step >= 2 and step_grads[1] is not None else None
            optimizer.step()
        finals.append([a.detach().numpy().copy(), b.detach().numpy().copy()])
    for ours, theirs in zip(*finals):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_state_is_keyed_by_parameter_in_order_of_first_update():
    a, b, c = (sj.zeros(2, requires_grad=True) for _ in range(3))
    optimizer = optim.Adam([a, b, c])
    b.grad = sj.ones(2)
    optimizer.step()
    a.grad, c.grad = sj.ones(2), sj.ones(2)
    optimizer.step()
    assert list(optimizer.state) == [b, a, c]
    assert optimizer.state[b]["step"].item() == 2 and optimizer.state[a]["step"].item() == 1
    assert set(optimizer.state[a]) == {"step", "exp_avg", "exp_avg_sq"}


def test_plain_sgd_keeps_no_state_as_torch():
    ours, theirs = sj.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    a, b = optim.SGD([ours], lr=0.1), torch.optim.SGD([theirs], lr=0.1)
    ours.grad, theirs.grad = sj.ones(2), torch.ones(2)
    a.step()
    b.step()
    assert a.state_dict()["state"] == b.state_dict()["state"] == {}


def test_step_bumps_the_version_of_updated_parameters_only():
    a, b = sj.zeros(2, requires_grad=True), sj.zeros(2, requires_grad=True)
    optimizer = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad = sj.ones(2)
    before = (a._version, b._version)
    optimizer.step()
    assert (a._version, b._version) == (before[0] + 1, before[1])
