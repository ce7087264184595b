"""The optimisers added for PyTorch 2.13's torch.optim (Adamax, NAdam, RAdam, Rprop, ASGD, ...), against
torch.optim itself: fed the same gradients, the parameters and every state entry must agree with
PyTorch's after every step, in float32 and float64, and the multi-tensor path (foreach=True) must give the
specification's numbers (foreach=False) to the bit. The parameters mix shapes (a 0-d one too) and
dtypes, sit in two groups with different learning rates, and some have no gradient on some steps."""

import copy
import itertools

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import optim

STEPS = 8
SHAPES = [(3, 4), (5,), (2, 3, 2), (), (4, 1)]
DTYPES = [np.float32, np.float32, np.float64, np.float32, np.float64]
TOLERANCE = {np.float32: dict(rtol=3e-5, atol=3e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _grid(**choices):
    names = list(choices)
    return [dict(zip(names, values)) for values in itertools.product(*choices.values())]


CASES = (
    [("Adamax", dict(lr=0.01, **o)) for o in _grid(betas=[(0.9, 0.999), (0.5, 0.8)], weight_decay=[0.0, 0.1],
                                                    maximize=[False, True])]
    + [("Adamax", dict(eps=0.5))]
    + [("NAdam", dict(lr=0.01, **o)) for o in _grid(betas=[(0.9, 0.999), (0.5, 0.8)], weight_decay=[0.0, 0.1],
                                                     decoupled_weight_decay=[False, True], maximize=[False, True])]
    + [("NAdam", dict(lr=0.01, momentum_decay=0.3))]
    + [("RAdam", dict(lr=0.01, **o)) for o in _grid(betas=[(0.9, 0.999), (0.5, 0.8)], weight_decay=[0.0, 0.1],
                                                     decoupled_weight_decay=[False, True], maximize=[False, True])]
    + [("Rprop", dict(lr=0.01, **o)) for o in _grid(etas=[(0.5, 1.2), (0.3, 1.7)], step_sizes=[(1e-6, 50),
                                                                                               (5e-3, 0.02)],
                                                     maximize=[False, True])]
    + [("ASGD", dict(lr=0.05, **o)) for o in _grid(lambd=[1e-4, 0.1], alpha=[0.75, 0.3], t0=[1e6, 3],
                                                    weight_decay=[0.0, 0.1], maximize=[False, True])]
    + [("Adafactor", dict(**o)) for o in _grid(lr=[0.01, 0.3], weight_decay=[0.0, 0.1], maximize=[False, True])]
    + [("Adafactor", dict(eps=(1e-3, 1e-2), d=1.5, beta2_decay=-0.5))]
)


def _case_id(case):
    name, options = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in options.items())


def _make(lib, name, options, initial, foreach):
    params = [lib.tensor(a.copy(), requires_grad=True) for a in initial]
    module = optim if lib is sj else torch.optim
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": options.get("lr", 0.01) * 0.3}]
    return params, getattr(module, name)(groups, foreach=foreach, **options)


def _gradients(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    # parameter i has no gradient on the steps where (step + i) % 4 == 3; a few gradients repeat the
    # previous one's signs or are zero (Rprop's three cases)
    grads = []
    for step in range(steps):
        step_grads = []
        for i, (shape, dtype) in enumerate(zip(SHAPES, DTYPES)):
            grad = rng.standard_normal(shape).astype(dtype)
            if step % 3 == 2:
                grad[...] = np.where(np.abs(grad) < 0.3, 0, grad)
            step_grads.append(None if (step + i) % 4 == 3 else grad)
        grads.append(step_grads)
    return grads


def _state_arrays(optimizer, p):
    return {k: np.array(v.detach().numpy() if hasattr(v, "detach") else v, copy=True)
            for k, v in optimizer.state[p].items()} if p in optimizer.state else {}


def _feed(lib, params, step_grads):
    for p, g in zip(params, step_grads):
        p.grad = None if g is None else lib.tensor(g)


def _run(lib, name, options, initial, gradients, foreach):
    """Per step: every parameter's array and its state (name -> array) after the step."""
    params, optimizer = _make(lib, name, options, initial, foreach)
    history = []
    for step_grads in gradients:
        _feed(lib, params, step_grads)
        optimizer.step()
        history.append([(p.detach().numpy().copy(), _state_arrays(optimizer, p)) for p in params])
    return history


def _assert_same(ours, theirs, where, exact=False):
    for i, ((sp, ss), (tp, ts)) in enumerate(zip(ours, theirs)):
        at = f"{where}, parameter {i}"
        check = np.testing.assert_array_equal if exact else (
            lambda a, b, err_msg: np.testing.assert_allclose(a, b, **TOLERANCE[DTYPES[i]], err_msg=err_msg))
        assert sp.dtype == tp.dtype and sp.shape == tp.shape, at
        check(sp, tp, err_msg=at)
        assert list(ss) == list(ts), at
        for key in ts:
            assert ss[key].shape == ts[key].shape and ss[key].dtype == ts[key].dtype, (at, key)
            check(ss[key], ts[key], err_msg=f"{at}, {key}")


@pytest.mark.parametrize("name,options", CASES, ids=[_case_id(c) for c in CASES])
def test_both_paths_equal_torch_and_each_other(name, options):
    rng = np.random.default_rng(1)
    initial = [rng.standard_normal(s).astype(d) for s, d in zip(SHAPES, DTYPES)]
    gradients = _gradients()
    theirs = _run(torch, name, options, initial, gradients, foreach=False)
    spec = _run(sj, name, options, initial, gradients, foreach=False)
    multi = _run(sj, name, options, initial, gradients, foreach=True)
    for step, (t_step, s_step, m_step) in enumerate(zip(theirs, spec, multi)):
        _assert_same(s_step, t_step, f"step {step + 1}")
        _assert_same(m_step, s_step, f"foreach against the specification, step {step + 1}", exact=True)


# -- state_dict: PyTorch's layout, and resuming ------------------------------------------------------

RESUMED = [("Adamax", dict(lr=0.01, weight_decay=0.1)), ("NAdam", dict(lr=0.01, decoupled_weight_decay=True,
                                                                      weight_decay=0.1)),
           ("RAdam", dict(lr=0.01)), ("Rprop", dict(lr=0.01)), ("ASGD", dict(lr=0.05, t0=2)),
           ("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)),
           ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)), ("Adagrad", dict(lr=0.1)),
           ("Adadelta", dict())]


def _to_numpy(value):
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v) for v in value)
    return value.detach().numpy() if hasattr(value, "detach") else value


def _compare_state_dicts(ours, theirs):
    assert [sorted(g) for g in ours["param_groups"]] == [sorted(g) for g in theirs["param_groups"]]
    assert [list(g) for g in ours["param_groups"]] == [list(g) for g in theirs["param_groups"]]
    for a, b in zip(ours["param_groups"], theirs["param_groups"]):
        assert {k: v for k, v in a.items() if k != "lr"} == {k: v for k, v in b.items() if k != "lr"}
        assert a["lr"] == pytest.approx(b["lr"])
    assert list(ours["state"]) == list(theirs["state"])
    for index in theirs["state"]:
        assert list(ours["state"][index]) == list(theirs["state"][index]), index
        for key, value in theirs["state"][index].items():
            mine, expected = _to_numpy(ours["state"][index][key]), _to_numpy(value)
            assert np.shape(mine) == np.shape(expected), (index, key)
            np.testing.assert_allclose(np.asarray(mine, np.float64), np.asarray(expected, np.float64), rtol=3e-5,
                                       atol=3e-6, err_msg=f"{index}, {key}")


@pytest.mark.parametrize("name,options", RESUMED, ids=[c[0] for c in RESUMED])
def test_state_dict_has_torchs_layout_and_resumes_exactly(name, options):
    rng = np.random.default_rng(6)
    initial = [rng.standard_normal(s).astype(d) for s, d in zip(SHAPES, DTYPES)]
    gradients = _gradients(seed=7)
    half = len(gradients) // 2
    # uninterrupted, in shenjing and in PyTorch
    params, optimizer = _make(sj, name, options, initial, None)
    t_params, t_optimizer = _make(torch, name, options, initial, None)
    for step, step_grads in enumerate(gradients):
        _feed(sj, params, step_grads)
        optimizer.step()
        _feed(torch, t_params, step_grads)
        t_optimizer.step()
        if step == half - 1:
            saved = optimizer.state_dict()
            saved_params = [p.detach().numpy().copy() for p in params]
            _compare_state_dicts(saved, t_optimizer.state_dict())
            torch_saved = copy.deepcopy(t_optimizer.state_dict())  # (PyTorch's holds its live tensors)
    # a fresh optimiser on the saved weights, loaded from shenjing's state_dict (then from PyTorch's)
    for source in (saved, torch_saved):
        resumed_params, resumed = _make(sj, name, options, saved_params, None)
        resumed.load_state_dict(source)
        for step_grads in gradients[half:]:
            _feed(sj, resumed_params, step_grads)
            resumed.step()
        for i, (a, b) in enumerate(zip(resumed_params, params)):
            if source is saved:
                np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=f"parameter {i}")
            else:
                np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **TOLERANCE[DTYPES[i]])
    _compare_state_dicts(optimizer.state_dict(), t_optimizer.state_dict())


# -- PyTorch's flags on a CPU ------------------------------------------------------------------------

CAPTURABLE = ["Adam", "AdamW", "RMSprop", "Adadelta", "Adamax", "NAdam", "RAdam", "Rprop", "ASGD"]
DIFFERENTIABLE = CAPTURABLE + ["SGD", "Adagrad"]
FUSED = ["SGD", "Adam", "AdamW", "Adagrad"]


def _raised(make):
    try:
        make()
    except Exception as error:  # noqa: BLE001 - the type is what is compared
        return type(error)
    return None


@pytest.mark.parametrize("name", CAPTURABLE)
def test_capturable_step_fails_on_cpu_as_torch(name):
    for lib, module in ((sj, optim), (torch, torch.optim)):
        p = lib.ones(2, requires_grad=True)
        p.grad = lib.ones(2)
        optimizer = getattr(module, name)([p], capturable=True)
        with pytest.raises(AssertionError, match="capturable=True"):
            optimizer.step()


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_differentiable_step_as_torch(name):
    for lib, module in ((sj, optim), (torch, torch.optim)):
        p = lib.ones(2, requires_grad=True)
        p.grad = lib.ones(2)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            getattr(module, name)([p], differentiable=True).step()
    # a parameter that doesn't require grad takes the plain update
    results = []
    for lib, module in ((sj, optim), (torch, torch.optim)):
        p = lib.tensor([1.0, -2.0])
        p.grad = lib.tensor([0.5, 0.25])
        getattr(module, name)([p], differentiable=True).step()
        results.append(p.numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


@pytest.mark.parametrize("name", FUSED)
def test_fused_checks_and_update_as_torch(name):
    for options in (dict(fused=True, foreach=True), dict(fused=True, differentiable=True)):
        ours = _raised(lambda: getattr(optim, name)([sj.ones(2, requires_grad=True)], **options))
        theirs = _raised(lambda: getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **options))
        assert ours is theirs is RuntimeError
    rng = np.random.default_rng(9)
    initial = [rng.standard_normal(s).astype(d) for s, d in zip(SHAPES, DTYPES)]
    gradients = _gradients(seed=10, steps=3)
    theirs = _run(torch, name, dict(lr=0.01, fused=True), initial, gradients, foreach=None)
    ours = _run(sj, name, dict(lr=0.01, fused=True), initial, gradients, foreach=None)
    _assert_same(ours[-1], theirs[-1], "fused")


BAD_OPTIONS = [("Adamax", dict(lr=-1)), ("Adamax", dict(betas=(1.0, 0.9))), ("Adamax", dict(eps=-1)),
               ("Adamax", dict(weight_decay=-1)), ("NAdam", dict(momentum_decay=-1)), ("NAdam", dict(betas=(0.9, -1))),
               ("RAdam", dict(lr=-1e-3)), ("RAdam", dict(weight_decay=-0.1)), ("Rprop", dict(etas=(1.1, 1.2))),
               ("Rprop", dict(etas=(0.5, 0.9))), ("Rprop", dict(lr=-1)), ("ASGD", dict(lr=-1)),
               ("ASGD", dict(weight_decay=-1)), ("LBFGS", dict(lr=-1)),
               ("SGD", dict(lr=-0.1)), ("SGD", dict(momentum=-0.5)), ("SGD", dict(weight_decay=-1)),
               ("SGD", dict(nesterov=True)), ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1)),
               ("Adam", dict(eps=-1.0)), ("Adam", dict(betas=(0.9, 1.0))), ("AdamW", dict(weight_decay=-0.1)),
               ("RMSprop", dict(alpha=-0.1)), ("RMSprop", dict(momentum=-1)), ("Adagrad", dict(lr_decay=-1)),
               ("Adagrad", dict(initial_accumulator_value=-1)), ("Adadelta", dict(rho=1.5)),
               ("Adafactor", dict(lr=-1)), ("Adafactor", dict(beta2_decay=0.5)), ("Adafactor", dict(d=0.5)),
               ("Adafactor", dict(eps=(-1, 1e-3))), ("Adafactor", dict(eps=(None, -1))),
               ("Muon", dict(lr=-1)), ("Muon", dict(momentum=-1)), ("SparseAdam", dict(eps=-1))]


@pytest.mark.parametrize("name,options", BAD_OPTIONS, ids=[_case_id(c) for c in BAD_OPTIONS])
def test_bad_options_raise_torchs_error(name, options):
    shape = (2, 2) if name == "Muon" else (2,)
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.ones(shape, requires_grad=True)], **options)
    with pytest.raises(ValueError) as ours:
        getattr(optim, name)([sj.ones(shape, requires_grad=True)], **options)
    assert str(ours.value) == str(theirs.value)


# -- LBFGS ---------------------------------------------------------------------------------------------

def _lbfgs_run(lib, dtype, steps, **options):
    rng = np.random.default_rng(11)
    A, b = rng.standard_normal((6, 4)).astype(dtype), rng.standard_normal(6).astype(dtype)
    w = lib.tensor(rng.standard_normal(4).astype(dtype), requires_grad=True)
    v = lib.tensor(rng.standard_normal(2).astype(dtype), requires_grad=True)
    A, b = lib.tensor(A), lib.tensor(b)
    optimizer = (optim if lib is sj else torch.optim).LBFGS([w, v], **options)

    def closure():
        optimizer.zero_grad()
        residual = A @ w - b
        loss = (residual * residual).sum() + ((v - 1) ** 4).sum() + 0.1 * (w ** 4).sum() + v[0] * w[1]
        loss.backward()
        return loss

    losses = [float(optimizer.step(closure).detach()) for _ in range(steps)]
    return losses, [w.detach().numpy().copy(), v.detach().numpy().copy()], optimizer


LBFGS_CASES = _grid(line_search_fn=[None, "strong_wolfe"], dtype=[np.float64, np.float32],
                    options=[dict(), dict(max_iter=5, history_size=3, lr=0.5), dict(max_iter=4, max_eval=6)])


@pytest.mark.parametrize("case", LBFGS_CASES, ids=[f"{c['line_search_fn']}-{c['dtype'].__name__}-{c['options']}"
                                                   for c in LBFGS_CASES])
def test_lbfgs_equals_torch(case):
    dtype, options = case["dtype"], dict(case["options"], line_search_fn=case["line_search_fn"])
    steps = 3 if dtype == np.float64 else 1
    if dtype == np.float32 and not case["options"]:
        # (20 float32 iterations end near the optimum, where the rounding of the dot products decides)
        options["max_iter"] = 6
    ours, our_params, our_optimizer = _lbfgs_run(sj, dtype, steps, **options)
    theirs, their_params, their_optimizer = _lbfgs_run(torch, dtype, steps, **options)
    tolerance = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours, theirs, **tolerance)
    for a, b in zip(our_params, their_params):
        np.testing.assert_allclose(a, b, **tolerance)
    our_state, their_state = our_optimizer.state_dict(), their_optimizer.state_dict()
    assert our_state["param_groups"] == their_state["param_groups"]
    assert list(our_state["state"]) == list(their_state["state"]) == [0]
    assert list(our_state["state"][0]) == list(their_state["state"][0])
    for key in ("func_evals", "n_iter"):
        assert our_state["state"][0][key] == their_state["state"][0][key]
    for key in ("d", "prev_flat_grad"):
        np.testing.assert_allclose(_to_numpy(our_state["state"][0][key]), _to_numpy(their_state["state"][0][key]),
                                   **tolerance)
    assert len(our_state["state"][0]["old_dirs"]) == len(their_state["state"][0]["old_dirs"])


def test_lbfgs_resumes_from_its_state_dict_and_torchs():
    options = dict(max_iter=4, history_size=5, line_search_fn="strong_wolfe")
    full, full_params, _ = _lbfgs_run(sj, np.float64, 4, **options)
    for lib in (sj, torch):
        _, params, first = _lbfgs_run(lib, np.float64, 2, **options)
        saved = first.state_dict()
        # continue from the saved weights with a fresh optimiser and the same problem
        rest, rest_params, _ = _resume_lbfgs(saved, params, 2, **options)
        np.testing.assert_allclose(rest, full[2:], rtol=1e-12)
        for a, b in zip(rest_params, full_params):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def _resume_lbfgs(saved, params, steps, **options):
    rng = np.random.default_rng(11)
    A, b = rng.standard_normal((6, 4)), rng.standard_normal(6)
    w, v = (sj.tensor(np.array(p, np.float64), requires_grad=True) for p in params)
    A, b = sj.tensor(A), sj.tensor(b)
    optimizer = optim.LBFGS([w, v], **options)
    optimizer.load_state_dict(saved)

    def closure():
        optimizer.zero_grad()
        residual = A @ w - b
        loss = (residual * residual).sum() + ((v - 1) ** 4).sum() + 0.1 * (w ** 4).sum() + v[0] * w[1]
        loss.backward()
        return loss

    losses = [float(optimizer.step(closure).detach()) for _ in range(steps)]
    return losses, [w.detach().numpy().copy(), v.detach().numpy().copy()], optimizer


def test_lbfgs_refuses_groups_and_unknown_line_search_as_torch():
    for lib, module in ((sj, optim), (torch, torch.optim)):
        a, b = lib.ones(2, requires_grad=True), lib.ones(2, requires_grad=True)
        with pytest.raises(ValueError, match="doesn't support per-parameter options"):
            module.LBFGS([{"params": [a]}, {"params": [b]}])
        optimizer = module.LBFGS([a], line_search_fn="backtracking")

        def closure():
            optimizer.zero_grad()
            loss = (a * a).sum()
            loss.backward()
            return loss

        with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
            optimizer.step(closure)


# -- Muon, SparseAdam, swap_in_optimizer_params_and_state ------------------------------------------

MUON_CASES = _grid(nesterov=[True, False], adjust_lr_fn=[None, "match_rms_adamw"], weight_decay=[0.1, 0.0])


@pytest.mark.parametrize("options", MUON_CASES, ids=[str(c) for c in MUON_CASES])
def test_muon_equals_torch_to_bfloat16_precision(options):
    rng = np.random.default_rng(12)
    shapes = [(3, 5), (6, 2), (4, 4)]
    initial = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    gradients = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(4)]
    finals = []
    for lib, module in ((sj, optim), (torch, torch.optim)):
        params = [lib.tensor(a.copy(), requires_grad=True) for a in initial]
        optimizer = module.Muon(params, lr=0.02, **options)
        for step_grads in gradients:
            _feed(lib, params, step_grads)
            optimizer.step()
        finals.append([(p.detach().numpy().copy(), _state_arrays(optimizer, p)) for p in params])
    # the orthogonalised update is bfloat16 in PyTorch: agreement to a few bfloat16 ulps of lr * update
    for (ours, our_state), (theirs, their_state) in zip(*finals):
        np.testing.assert_allclose(ours, theirs, atol=0.02 * 2 ** -7 * 4)
        assert list(our_state) == list(their_state) == ["momentum_buffer"]
        np.testing.assert_allclose(our_state["momentum_buffer"], their_state["momentum_buffer"], rtol=1e-6)


def test_muon_refuses_what_torch_refuses():
    for lib, module in ((sj, optim), (torch, torch.optim)):
        with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
            module.Muon([lib.ones(3, requires_grad=True)])
        with pytest.raises(ValueError, match="Adjust learning rate function"):
            module.Muon([lib.ones(2, 2, requires_grad=True)], adjust_lr_fn="other")


def test_sparse_adam_refuses_dense_gradients_as_torch():
    for lib, module in ((sj, optim), (torch, torch.optim)):
        p = lib.ones(3, requires_grad=True)
        optimizer = module.SparseAdam([p])
        optimizer.step()  # no gradient: nothing to do
        p.grad = lib.ones(3)
        with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
            optimizer.step()
        with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
            module.SparseAdam([p], betas=(0.9, 1.0))


def test_swap_in_params_and_state_equals_torch():
    results = []
    for lib, module in ((sj, optim), (torch, torch.optim)):
        w = lib.tensor([1.0, -2.0, 0.5], requires_grad=True)
        optimizer = module.Adam([w], lr=0.1)
        w.grad = lib.tensor([0.3, -0.1, 0.2])
        optimizer.step()
        saved = copy.deepcopy(optimizer.state_dict())
        saved["param_groups"][0]["lr"] = 0.5
        other = lib.tensor([0.0, 1.0, 2.0], requires_grad=True)
        other.grad = lib.tensor([1.0, 1.0, -1.0])
        with module.swap_in_optimizer_params_and_state(optimizer, {"w": other}, saved):
            optimizer.step()
            inside_lr = optimizer.param_groups[0]["lr"]
        assert optimizer.param_groups[0]["params"][0] is w and optimizer.param_groups[0]["lr"] == 0.1
        results.append((w.detach().numpy().copy(), other.detach().numpy().copy(), inside_lr,
                        _to_numpy(saved["state"][0]["exp_avg"]).copy(), float(_to_numpy(saved["state"][0]["step"]))))
        with pytest.raises(RuntimeError, match="different number of parameter groups"):
            with module.swap_in_optimizer_params_and_state(optimizer, {"w": other}, {"state": {}, "param_groups": []}):
                pass
    (w1, o1, lr1, m1, s1), (w2, o2, lr2, m2, s2) = results
    np.testing.assert_allclose(w1, w2, rtol=1e-6)
    np.testing.assert_allclose(o1, o2, rtol=1e-6)
    np.testing.assert_allclose(m1, m2, rtol=1e-6)
    assert lr1 == lr2 == 0.5 and s1 == s2 == 2.0
