"""Grad mode and anomaly mode are per thread (issue 16, item 2), as in PyTorch: two threads training
two models while a third evaluates under ``no_grad`` give every step its gradients and the same
weights as the same runs one after another in one thread."""

import sys
import threading

import numpy as np
import pytest
import torch

import shenjing as sj

STEPS = 300


def _make_run(seed: int, optimizer_name: str):
    """A model, its optimiser and a fixed data set, all from ``seed``."""
    sj.manual_seed(seed)
    model = sj.nn.Sequential(sj.nn.Linear(6, 16), sj.nn.Tanh(), sj.nn.Linear(16, 3))
    if optimizer_name == "sgd":
        optimizer = sj.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        optimizer = sj.optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(seed)
    inputs = sj.tensor(rng.standard_normal((32, 6)).astype(np.float32))
    targets = sj.tensor(rng.integers(0, 3, 32))
    return model, optimizer, inputs, targets


def _train(run, steps: int, problems: list) -> list:
    model, optimizer, inputs, targets = run
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        if not sj.is_grad_enabled():
            problems.append(f"grad mode off in a training thread at step {step}")
        loss = sj.nn.functional.cross_entropy(model(inputs), targets)
        loss.backward()
        missing = [name for name, p in model.named_parameters() if p.grad is None]
        if missing:
            problems.append(f"step {step}: no gradient for {missing}")
        optimizer.step()
        losses.append(loss.item())
    return losses


def _evaluate(model, inputs, stop: threading.Event, problems: list, counts: list) -> None:
    while not stop.is_set():
        with sj.no_grad():
            out = model(inputs)
            if out.requires_grad:
                problems.append("an output under no_grad requires grad")
            with sj.enable_grad():
                if not sj.is_grad_enabled():
                    problems.append("enable_grad inside no_grad did not enable")
            if sj.is_grad_enabled():
                problems.append("no_grad was re-enabled by another thread")
        counts[0] += 1


def _weights(model) -> list:
    return [p.detach().numpy().copy() for p in model.parameters()]


def test_two_threads_train_while_a_third_evaluates_under_no_grad():
    expected = []
    for seed, name in ((1, "sgd"), (2, "adam")):
        run = _make_run(seed, name)
        problems: list = []
        losses = _train(run, STEPS, problems)
        assert not problems
        expected.append((losses, _weights(run[0])))

    runs = [_make_run(1, "sgd"), _make_run(2, "adam")]
    evaluated_model, _, eval_inputs, _ = _make_run(3, "sgd")
    problems: list = []
    results: list = [None, None]
    counts = [0]
    stop = threading.Event()
    start = threading.Barrier(2)

    def train(k):
        start.wait()
        results[k] = _train(runs[k], STEPS, problems)

    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so that the threads interleave within steps
    try:
        evaluator = threading.Thread(target=_evaluate, args=(evaluated_model, eval_inputs, stop, problems, counts))
        trainers = [threading.Thread(target=train, args=(k,)) for k in range(2)]
        evaluator.start()
        for t in trainers:
            t.start()
        for t in trainers:
            t.join(timeout=120)
        stop.set()
        evaluator.join(timeout=30)
    finally:
        sys.setswitchinterval(switch_interval)
    assert not problems, problems[:5]
    assert counts[0] > 0
    for k in range(2):
        assert results[k] == expected[k][0]
        for got, want in zip(_weights(runs[k][0]), expected[k][1]):
            np.testing.assert_array_equal(got, want)
    assert sj.is_grad_enabled()


def test_overlapping_no_grad_blocks_in_two_threads_leave_grad_mode_on():
    inside, leave = threading.Event(), threading.Event()

    def hold_no_grad():
        with sj.no_grad():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=hold_no_grad)
    t.start()
    inside.wait(10)
    with sj.no_grad():  # entered while the other thread is inside its block, left before it leaves
        pass
    assert sj.is_grad_enabled()
    x = sj.ones(2, requires_grad=True)
    assert (x * 2).requires_grad
    leave.set()
    t.join(10)
    assert sj.is_grad_enabled()


@pytest.mark.parametrize("lib", [sj, torch], ids=["shenjing", "torch"])
def test_a_new_thread_starts_with_grad_mode_on(lib):
    seen = {}

    def probe():
        seen["grad"] = lib.is_grad_enabled()
        lib.set_grad_enabled(False)  # stays in this thread
        seen["off"] = not (lib.ones(1, requires_grad=True) * 2).requires_grad

    with lib.no_grad():
        t = threading.Thread(target=probe)
        t.start()
        t.join(10)
        assert not lib.is_grad_enabled()
    assert seen == {"grad": True, "off": True}
    assert lib.is_grad_enabled()


def test_anomaly_mode_is_per_thread():
    """(PyTorch keeps anomaly mode process-wide; here it is per thread like grad mode, so that one
    thread's ``detect_anomaly()`` block cannot leave it on, or off, for another: issue 16.)"""
    seen = {}

    def probe():
        seen["anomaly"] = sj.autograd.is_anomaly_enabled()
        sj.autograd.set_detect_anomaly(True)

    with sj.autograd.detect_anomaly():
        t = threading.Thread(target=probe)
        t.start()
        t.join(10)
        assert sj.autograd.is_anomaly_enabled()
    assert seen == {"anomaly": False}
    assert not sj.autograd.is_anomaly_enabled()


def test_backward_in_one_thread_does_not_turn_recording_off_in_another():
    """The engine runs a first-order backward with recording off: only in its own thread."""
    stop = threading.Event()
    problems = []

    def backward_loop():
        w = sj.randn(64, 64, requires_grad=True)
        while not stop.is_set():
            (w @ w).tanh().sum().backward()

    t = threading.Thread(target=backward_loop)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        t.start()
        x = sj.ones(3, requires_grad=True)
        for _ in range(3000):
            if not (x * 2).requires_grad:
                problems.append("recording off")
    finally:
        stop.set()
        t.join(10)
        sys.setswitchinterval(switch_interval)
    assert not problems
