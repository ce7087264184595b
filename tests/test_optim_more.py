"""The optimisers added for PyTorch 2.13's torch.optim (Adamax, NAdam, RAdam, Rprop, ASGD, ...), against
torch.optim itself: fed the same gradients, the parameters and every state entry must agree with
PyTorch's after every step, in float32 and float64, and the multi-tensor path (foreach=True) must give the
specification's numbers (foreach=False) to the bit. The parameters mix shapes (a 0-d one too) and
dtypes, sit in two groups with different learning rates, and some have no gradient on some steps."""

import itertools

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import optim

STEPS = 8
SHAPES = [(3, 4), (5,), (2, 3), (), (4, 1)]
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
