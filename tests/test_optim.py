"""Optimisers and learning-rate schedules against PyTorch 2.13: fed the same gradients, the parameter
trajectories must agree step by step; schedules must give the same learning rates."""

import math

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import optim

STEPS = 20
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.001)),
    ("SGD", dict(lr=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.01)),
]


def _gradients(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(STEPS)]


def _run(lib, name, options, initial, gradients, groups=False):
    params = [lib.tensor(a.copy(), requires_grad=True) for a in initial]
    module = optim if lib is sj else torch.optim
    if groups:
        optimizer = getattr(module, name)([{"params": params[:1]}, {"params": params[1:], "lr": 0.003}], **options)
    else:
        optimizer = getattr(module, name)(params, **options)
    trajectory = []
    for step_grads in gradients:
        for p, g in zip(params, step_grads):
            p.grad = lib.tensor(g)
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory, optimizer, params


@pytest.mark.parametrize("name,options", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_trajectory_equals_torch(name, options):
    shapes = [(3, 4), (4,)]
    rng = np.random.default_rng(1)
    initial = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    gradients = _gradients(shapes)
    ours, _, _ = _run(sj, name, options, initial, gradients)
    theirs, _, _ = _run(torch, name, options, initial, gradients)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for pa, pb in zip(a, b):
            np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-6, err_msg=f"{name} step {step + 1}")


@pytest.mark.parametrize("dtypes", [("float32", "float32", "float32"), ("float32", "float64", "float32")],
                         ids=["one dtype", "mixed dtypes"])
def test_sgd_momentum_with_missing_gradients_and_replaced_buffers_equals_torch(dtypes):
    # a step where a parameter has no gradient, mixed dtypes in a group, or a buffer the user replaced
    shapes = [(3, 4), (4,), (2, 2)]
    rng = np.random.default_rng(6)
    initial = [rng.standard_normal(s).astype(d) for s, d in zip(shapes, dtypes)]
    gradients = _gradients(shapes, seed=7)
    trajectories, buffers = [], []
    for lib in (sj, torch):
        params = [lib.tensor(a.copy(), requires_grad=True) for a in initial]
        optimizer = (optim if lib is sj else torch.optim).SGD(params, lr=0.1, momentum=0.9)
        trajectory = []
        for step, step_grads in enumerate(gradients):
            for i, (p, g) in enumerate(zip(params, step_grads)):
                p.grad = None if (step % 5 == 3 and i == 1) else lib.tensor(g.astype(initial[i].dtype))
            if step == 8:
                optimizer.state[params[2]]["momentum_buffer"] = lib.ones(2, 2, dtype=params[2].dtype)
            optimizer.step()
            trajectory.append([p.detach().numpy().copy() for p in params])
        trajectories.append(trajectory)
        buffers.append([optimizer.state[p]["momentum_buffer"].numpy().copy() for p in params])
    for step, (ours, theirs) in enumerate(zip(*trajectories)):
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"step {step + 1}")
    for a, b in zip(*buffers):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_sgd_momentum_with_a_parameter_joining_its_group_equals_torch():
    # a parameter appended to a group's list takes part from the next step on
    gradients = _gradients([(3,), (2,)], seed=8)
    finals = []
    for lib in (sj, torch):
        a, b = lib.ones(3, requires_grad=True), lib.ones(2, requires_grad=True)
        optimizer = (optim if lib is sj else torch.optim).SGD([a], lr=0.1, momentum=0.9)
        for step, (ga, gb) in enumerate(gradients[:8]):
            if step == 3:
                optimizer.param_groups[0]["params"].append(b)
            a.grad = lib.tensor(ga)
            b.grad = lib.tensor(gb) if step >= 3 else None
            optimizer.step()
        finals.append([a.detach().numpy().copy(), b.detach().numpy().copy()])
    for ours, theirs in zip(*finals):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_parameter_groups_have_their_own_options(name):
    options = dict(lr=0.01, momentum=0.9) if name != "Adam" else dict(lr=0.01)
    if name == "RMSprop":
        options = dict(lr=0.01)
    shapes = [(2, 2), (3,)]
    initial = [np.ones(s, np.float32) for s in shapes]
    gradients = _gradients(shapes, seed=3)
    ours, opt, _ = _run(sj, name, options, initial, gradients, groups=True)
    theirs, _, _ = _run(torch, name, options, initial, gradients, groups=True)
    for pa, pb in zip(ours[-1], theirs[-1]):
        np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-6)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.003]


@pytest.mark.parametrize("name,options", [c for c in CONFIGS if c[0] in ("SGD", "Adam", "RMSprop")][:6])
def test_resuming_from_state_dict_equals_uninterrupted_run(name, options):
    shapes = [(3, 2)]
    initial = [np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)]
    gradients = _gradients(shapes, seed=5)
    uninterrupted, _, _ = _run(sj, name, options, initial, gradients)
    first, optimizer, params = _run(sj, name, options, initial, gradients[:10])
    state = optimizer.state_dict()
    fresh = [sj.tensor(params[0].detach().numpy().copy(), requires_grad=True)]
    resumed = getattr(optim, name)(fresh, **options)
    resumed.load_state_dict(state)
    for step_grads in gradients[10:]:
        fresh[0].grad = sj.tensor(step_grads[0])
        resumed.step()
    np.testing.assert_array_equal(fresh[0].detach().numpy(), uninterrupted[-1][0])


def test_state_dict_layout_matches_torch():
    p = sj.zeros(2, requires_grad=True)
    q = torch.zeros(2, requires_grad=True)
    ours, theirs = optim.Adam([p], lr=0.1), torch.optim.Adam([q], lr=0.1)
    p.grad, q.grad = sj.ones(2), torch.ones(2)
    ours.step()
    theirs.step()
    a, b = ours.state_dict(), theirs.state_dict()
    assert sorted(a["state"][0]) == sorted(b["state"][0])
    assert a["state"][0]["step"].item() == b["state"][0]["step"].item()
    assert a["param_groups"][0]["params"] == b["param_groups"][0]["params"] == [0]
    assert a["param_groups"][0]["lr"] == b["param_groups"][0]["lr"]


def test_zero_grad_and_closure():
    w = sj.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0
    assert w.tolist() == [0.0, 0.0]  # w - 0.5 * 2w
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


def test_bad_arguments_are_refused():
    w = sj.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match="beta parameter"):
        optim.Adam([w], betas=(1.5, 0.9))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(w, lr=0.1)


# -- schedules -------------------------------------------------------------------------------------

SCHEDULES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 1.0 / (epoch + 1))),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=25)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=25, three_phase=True, anneal_strategy="linear")),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], epochs=5, steps_per_epoch=5, pct_start=0.4)),
]


def _schedule(lib, name, options, optimizer_name="SGD"):
    module = optim if lib is sj else torch.optim
    params = [lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}]
    extra = dict(momentum=0.9) if optimizer_name == "SGD" else {}
    optimizer = getattr(module, optimizer_name)(groups, lr=0.1, **extra)
    scheduler = getattr(module.lr_scheduler, name)(optimizer, **options)
    rates, momenta = [], []
    for _ in range(25):
        for p in params:
            p.grad = lib.ones(p.shape)
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr())
        momenta.append([g.get("momentum", g.get("betas", (None,))[0]) for g in optimizer.param_groups])
    return rates, momenta


@pytest.mark.parametrize("name,options", SCHEDULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)])
@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
def test_schedule_equals_torch(name, options, optimizer_name):
    ours, our_momenta = _schedule(sj, name, options, optimizer_name)
    theirs, their_momenta = _schedule(torch, name, options, optimizer_name)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(our_momenta, their_momenta, rtol=1e-9, atol=1e-12)


def test_cosine_schedule_formula():
    w = sj.zeros(1, requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for epoch in range(1, 11):
        opt.step()
        scheduler.step()
        assert scheduler.get_last_lr()[0] == pytest.approx((1 + math.cos(math.pi * epoch / 10)) / 2)


def test_reduce_on_plateau_equals_torch():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.94, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.7, 0.7, 0.7, 0.7]
    results = []
    for lib, module in ((sj, optim), (torch, torch.optim)):
        w = lib.zeros(1, requires_grad=True)
        opt = module.SGD([w], lr=1.0)
        scheduler = module.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=0.1)
        rates = []
        for value in metrics:
            scheduler.step(value)
            rates.append(opt.param_groups[0]["lr"])
        results.append(rates)
    assert results[0] == results[1]


def test_scheduler_state_dict_resumes():
    # as in PyTorch, the scheduler is resumed together with its optimiser (the schedules are chainable:
    # each step scales the lr now in the optimiser's groups)
    w = sj.zeros(1, requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    scheduler = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        opt.step()
        scheduler.step()
    state, optimizer_state = scheduler.state_dict(), opt.state_dict()
    opt2 = optim.SGD([sj.zeros(1, requires_grad=True)], lr=1.0)
    resumed = optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    opt2.load_state_dict(optimizer_state)
    resumed.load_state_dict(state)
    for _ in range(2):
        opt.step()
        scheduler.step()
        opt2.step()
        resumed.step()
    assert resumed.get_last_lr() == scheduler.get_last_lr() == [0.25]
