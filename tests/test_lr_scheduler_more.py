"""Every scheduler of torch.optim.lr_scheduler 2.13 against PyTorch itself: the learning rates (and the
cycled momenta) over many epochs must be PyTorch's to the bit, state_dicts must hold what PyTorch's hold
and resume exactly, combinations (SequentialLR, ChainedScheduler) must compose as PyTorch's do, and the
warnings and errors must be PyTorch's."""

import copy
import math
import warnings

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import optim

EPOCHS = 40


def _module(lib):
    return optim if lib is sj else torch.optim


def _optimizer(lib, name="SGD"):
    params = [lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}]
    extra = dict(momentum=0.9) if name == "SGD" else {}
    return getattr(_module(lib), name)(groups, lr=0.1, **extra)


def _scale_by_half(epoch):
    return 0.5 if epoch % 3 == 0 else 1.0


def _decay(epoch):
    return 0.97 ** epoch


SCHEDULES = [
    ("LambdaLR", lambda lib: dict(lr_lambda=_decay)),
    ("LambdaLR", lambda lib: dict(lr_lambda=[_decay, lambda epoch: 1.0 / (epoch + 1)])),
    ("MultiplicativeLR", lambda lib: dict(lr_lambda=_scale_by_half)),
    ("StepLR", lambda lib: dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", lambda lib: dict(milestones=[2, 5, 5, 9, 30], gamma=0.3)),
    ("ConstantLR", lambda lib: dict()),
    ("ConstantLR", lambda lib: dict(factor=0.25, total_iters=7)),
    ("LinearLR", lambda lib: dict()),
    ("LinearLR", lambda lib: dict(start_factor=0.05, end_factor=0.8, total_iters=17)),
    ("LinearLR", lambda lib: dict(start_factor=1.0, end_factor=0.1, total_iters=10)),
    ("ExponentialLR", lambda lib: dict(gamma=0.9)),
    ("PolynomialLR", lambda lib: dict()),
    ("PolynomialLR", lambda lib: dict(total_iters=25, power=2.3)),
    ("CosineAnnealingLR", lambda lib: dict(T_max=7, eta_min=0.001)),
    ("CosineAnnealingLR", lambda lib: dict(T_max=13)),
    ("CyclicLR", lambda lib: dict(base_lr=0.01, max_lr=0.1, step_size_up=4)),
    ("CyclicLR", lambda lib: dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=3, step_size_down=5,
                                  mode="triangular2")),
    ("CyclicLR", lambda lib: dict(base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range", gamma=0.95)),
    ("CyclicLR", lambda lib: dict(base_lr=0.01, max_lr=0.1, step_size_up=5, scale_fn=_decay,
                                  scale_mode="iterations", base_momentum=0.7, max_momentum=0.95)),
    ("CyclicLR", lambda lib: dict(base_lr=0.01, max_lr=0.1, step_size_up=2, cycle_momentum=False)),
    ("CosineAnnealingWarmRestarts", lambda lib: dict(T_0=5)),
    ("CosineAnnealingWarmRestarts", lambda lib: dict(T_0=3, T_mult=2, eta_min=0.002)),
    ("OneCycleLR", lambda lib: dict(max_lr=0.5, total_steps=EPOCHS)),
    ("OneCycleLR", lambda lib: dict(max_lr=0.5, total_steps=EPOCHS, three_phase=True, anneal_strategy="linear")),
    ("OneCycleLR", lambda lib: dict(max_lr=[0.5, 0.2], epochs=5, steps_per_epoch=8, pct_start=0.4,
                                    div_factor=10.0, final_div_factor=100.0)),
    ("OneCycleLR", lambda lib: dict(max_lr=0.3, total_steps=EPOCHS, cycle_momentum=False)),
    ("SWALR", lambda lib: dict(swa_lr=0.02, anneal_epochs=6)),
    ("SWALR", lambda lib: dict(swa_lr=[0.02, 0.5], anneal_epochs=4, anneal_strategy="linear")),
    ("SWALR", lambda lib: dict(swa_lr=0.03, anneal_epochs=0)),
]


def _scheduler(lib, name, optimizer, options):
    module = _module(lib)
    where = module.swa_utils if name == "SWALR" else module.lr_scheduler
    return getattr(where, name)(optimizer, **options)


def _momenta(optimizer):
    return [group.get("momentum", group.get("betas", (None,))[0]) for group in optimizer.param_groups]


def _run(lib, name, options, optimizer_name, epochs=EPOCHS, resume_at=None):
    """The lr and momentum of every group after each epoch; ``resume_at``: save both state_dicts at that
    epoch, and go on with a fresh optimiser and scheduler loaded from them."""
    optimizer = _optimizer(lib, optimizer_name)
    scheduler = _scheduler(lib, name, optimizer, options(lib))
    rates, momenta = [scheduler.get_last_lr()], [_momenta(optimizer)]
    for epoch in range(epochs):
        optimizer.step()
        scheduler.step()
        rates.append(list(scheduler.get_last_lr()))
        momenta.append(_momenta(optimizer))
        if epoch == resume_at:
            saved = copy.deepcopy((optimizer.state_dict(), scheduler.state_dict()))
            optimizer = _optimizer(lib, optimizer_name)
            scheduler = _scheduler(lib, name, optimizer, options(lib))
            optimizer.load_state_dict(saved[0])
            scheduler.load_state_dict(saved[1])
    return rates, momenta, scheduler


def _ids(cases):
    return [f"{name}-{i}" for i, (name, _) in enumerate(cases)]


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name,options", SCHEDULES, ids=_ids(SCHEDULES))
def test_schedule_is_torchs_to_the_bit(name, options, optimizer_name):
    ours, our_momenta, our_scheduler = _run(sj, name, options, optimizer_name)
    theirs, their_momenta, their_scheduler = _run(torch, name, options, optimizer_name)
    assert ours == theirs
    assert our_momenta == their_momenta
    our_state, their_state = our_scheduler.state_dict(), their_scheduler.state_dict()
    assert sorted(our_state) == sorted(their_state)
    for key, value in their_state.items():
        if not callable(value):
            assert our_state[key] == value, key


@pytest.mark.parametrize("name,options", SCHEDULES, ids=_ids(SCHEDULES))
def test_state_dicts_resume_exactly(name, options):
    uninterrupted, momenta, _ = _run(sj, name, options, "SGD")
    resumed, resumed_momenta, _ = _run(sj, name, options, "SGD", resume_at=EPOCHS // 3)
    theirs, _, _ = _run(torch, name, options, "SGD", resume_at=EPOCHS // 3)
    assert resumed == uninterrupted == theirs
    assert resumed_momenta == momenta


def test_state_dicts_survive_shenjing_save_and_load(tmp_path):
    """A scheduler's state_dict written by shenjing.save and read by shenjing.load resumes exactly (a
    MultiStepLR's Counter of milestones comes back as a plain dict)."""
    for name, options in [("MultiStepLR", dict(milestones=[3, 5, 5, 8])), ("OneCycleLR", dict(max_lr=0.5,
                                                                                             total_steps=20))]:
        optimizer = _optimizer(sj)
        scheduler = getattr(optim.lr_scheduler, name)(optimizer, **options)
        for _ in range(4):
            optimizer.step()
            scheduler.step()
        sj.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp_path / "s.pt")
        saved = sj.load(tmp_path / "s.pt")
        resumed_optimizer = _optimizer(sj)
        resumed = getattr(optim.lr_scheduler, name)(resumed_optimizer, **options)
        resumed_optimizer.load_state_dict(saved["optimizer"])
        resumed.load_state_dict(saved["scheduler"])
        for epoch in (None, None, 9, None):
            for which, which_optimizer in ((scheduler, optimizer), (resumed, resumed_optimizer)):
                which_optimizer.step()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # (the epoch argument's deprecation)
                    if epoch is not None and name == "MultiStepLR":
                        which.step(epoch)
                    else:
                        which.step()
            assert resumed.get_last_lr() == scheduler.get_last_lr()


# -- combinations -----------------------------------------------------------------------------------

def _combined(lib, kind):
    module = _module(lib).lr_scheduler
    optimizer = _optimizer(lib)
    if kind == "warmup-cosine":
        members = [module.LinearLR(optimizer, start_factor=0.1, total_iters=5),
                   module.CosineAnnealingLR(optimizer, T_max=30, eta_min=1e-4)]
        return optimizer, module.SequentialLR(optimizer, members, milestones=[5])
    if kind == "three":
        members = [module.ConstantLR(optimizer, factor=0.5, total_iters=3), module.ExponentialLR(optimizer, 0.9),
                   module.StepLR(optimizer, step_size=4, gamma=0.5)]
        return optimizer, module.SequentialLR(optimizer, members, milestones=[6, 15])
    if kind == "chained":
        members = [module.ConstantLR(optimizer, factor=0.1, total_iters=4), module.ExponentialLR(optimizer, 0.9),
                   module.MultiStepLR(optimizer, milestones=[10, 20])]
        return optimizer, module.ChainedScheduler(members)
    if kind == "chained-in-sequential":
        chained = module.ChainedScheduler([module.LinearLR(optimizer, start_factor=0.2, total_iters=4),
                                           module.ExponentialLR(optimizer, 0.95)])
        return optimizer, module.SequentialLR(optimizer, [chained, module.CosineAnnealingLR(optimizer, T_max=10)],
                                              milestones=[8])
    raise AssertionError(kind)


COMBINATIONS = ["warmup-cosine", "three", "chained", "chained-in-sequential"]


def _run_combined(lib, kind, resume_at=None):
    optimizer, scheduler = _combined(lib, kind)
    rates = [scheduler.get_last_lr()]
    for epoch in range(EPOCHS):
        optimizer.step()
        scheduler.step()
        rates.append(list(scheduler.get_last_lr()))
        if epoch == resume_at:
            saved = copy.deepcopy((optimizer.state_dict(), scheduler.state_dict()))
            optimizer, scheduler = _combined(lib, kind)
            optimizer.load_state_dict(saved[0])
            scheduler.load_state_dict(saved[1])
    return rates, scheduler


@pytest.mark.parametrize("kind", COMBINATIONS)
def test_combinations_are_torchs(kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the members' first steps, before any optimizer step, as in PyTorch)
        ours, our_scheduler = _run_combined(sj, kind)
        theirs, their_scheduler = _run_combined(torch, kind)
        resumed, _ = _run_combined(sj, kind, resume_at=11)
    assert ours == theirs
    assert resumed == ours
    our_state, their_state = our_scheduler.state_dict(), their_scheduler.state_dict()
    assert sorted(our_state) == sorted(their_state)
    assert [sorted(s) for s in our_state["_schedulers"]] == [sorted(s) for s in their_state["_schedulers"]]


def test_combinations_refuse_what_torch_refuses():
    for lib in (sj, torch):
        module = _module(lib).lr_scheduler
        optimizer, other = _optimizer(lib), _optimizer(lib)
        step = module.StepLR(optimizer, 2)
        with pytest.raises(ValueError, match="expects number of schedulers provided to be one more"):
            module.SequentialLR(optimizer, [step, module.ExponentialLR(optimizer, 0.9)], milestones=[])
        with pytest.raises(ValueError, match="expects at least one scheduler"):
            module.SequentialLR(optimizer, [], milestones=[])
        with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
            module.ChainedScheduler([step, module.ReduceLROnPlateau(optimizer)])
        with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
            module.ChainedScheduler([step, module.StepLR(other, 2)])
        with pytest.raises(TypeError, match="should have `optimizer` as its attribute"):
            module.SequentialLR(optimizer, [step, object()], milestones=[3])


# -- stepping by epoch number, resuming by last_epoch -------------------------------------------------

CLOSED_FORMS = [("StepLR", dict(step_size=3, gamma=0.5)), ("MultiStepLR", dict(milestones=[2, 5, 5, 9])),
                ("ConstantLR", dict(factor=0.5, total_iters=4)), ("LinearLR", dict(total_iters=6)),
                ("ExponentialLR", dict(gamma=0.9)), ("PolynomialLR", dict(total_iters=8, power=1.5)),
                ("CosineAnnealingLR", dict(T_max=6)), ("LambdaLR", dict(lr_lambda=_decay)),
                ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2))]


@pytest.mark.parametrize("name,options", CLOSED_FORMS, ids=_ids(CLOSED_FORMS))
def test_step_with_an_epoch_uses_the_closed_form_and_warns_as_torch(name, options):
    epochs = [3, 7, 4, 12, 2.5, 9, 0, 1]
    results = []
    for lib in (sj, torch):
        optimizer = _optimizer(lib)
        scheduler = getattr(_module(lib).lr_scheduler, name)(optimizer, **options)
        rates = []
        for epoch in epochs:
            if name != "CosineAnnealingWarmRestarts" and not float(epoch).is_integer():
                continue
            optimizer.step()
            if name == "CosineAnnealingWarmRestarts":  # (its own step takes epochs, without the warning)
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    scheduler.step(epoch)
            else:
                with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)` was not "
                                                     "necessary"):
                    scheduler.step(epoch)
            rates.append(scheduler.get_last_lr())
        results.append(rates)
    assert results[0] == results[1]


@pytest.mark.parametrize("name,options", CLOSED_FORMS + [("CyclicLR", dict(base_lr=0.01, max_lr=0.1,
                                                                           step_size_up=3))],
                         ids=_ids(CLOSED_FORMS) + ["CyclicLR"])
def test_resuming_with_last_epoch_equals_torch(name, options):
    results = []
    for lib in (sj, torch):
        optimizer = _optimizer(lib)
        for group in optimizer.param_groups:
            group["initial_lr"] = group["lr"] * 2
        scheduler = getattr(_module(lib).lr_scheduler, name)(optimizer, last_epoch=5, **options)
        rates = [scheduler.get_last_lr()]
        for _ in range(12):
            optimizer.step()
            scheduler.step()
            rates.append(scheduler.get_last_lr())
        results.append(rates)
    assert results[0] == results[1]


def test_resuming_without_initial_lr_raises_keyerror_as_torch():
    for lib in (sj, torch):
        with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups\\[0\\]"):
            _module(lib).lr_scheduler.StepLR(_optimizer(lib), step_size=2, last_epoch=3)


def test_warm_restarts_with_fractional_epochs_equal_torch():
    results = []
    for lib in (sj, torch):
        optimizer = _optimizer(lib)
        scheduler = _module(lib).lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=2, T_mult=3, eta_min=0.01)
        rates = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in range(12):
                for batch in range(4):
                    optimizer.step()
                    scheduler.step(epoch + batch / 4)
                    rates.append(scheduler.get_last_lr())
        results.append(rates)
        with pytest.raises(ValueError, match="Expected non-negative epoch"):
            scheduler.step(-1)
    assert results[0] == results[1]


# -- warnings and errors --------------------------------------------------------------------------------

def test_stepping_the_scheduler_before_the_optimizer_warns_as_torch():
    for lib in (sj, torch):
        optimizer = _optimizer(lib)
        scheduler = _module(lib).lr_scheduler.StepLR(optimizer, step_size=2)
        with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before `optimizer"):
            scheduler.step()
        optimizer = _optimizer(lib)
        scheduler = _module(lib).lr_scheduler.StepLR(optimizer, step_size=2)
        optimizer.step()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            scheduler.step()  # the right order: no warning


def test_a_deep_copy_of_a_scheduled_optimizer_steps_its_own_parameters():
    optimizer = _optimizer(sj)
    optim.lr_scheduler.StepLR(optimizer, step_size=2)
    duplicate = copy.deepcopy(optimizer)
    for group in duplicate.param_groups:
        for p in group["params"]:
            p.grad = sj.ones(p.shape)
    duplicate.step()
    assert all(float(p.detach().numpy().sum()) == 0 for g in optimizer.param_groups for p in g["params"])
    assert all(float(p.detach().numpy().sum()) < 0 for g in duplicate.param_groups for p in g["params"])
    assert duplicate._opt_called and not getattr(optimizer, "_opt_called", False)


def test_replacing_optimizer_step_after_the_scheduler_warns_as_torch():
    for lib in (sj, torch):
        optimizer = _optimizer(lib)
        scheduler = _module(lib).lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
        optimizer.step = lambda closure=None: None
        with pytest.warns(UserWarning, match="Seems like `optimizer.step\\(\\)` has been overridden"):
            scheduler.step()


def test_get_lr_outside_step_warns_as_torch():
    for lib in (sj, torch):
        scheduler = _module(lib).lr_scheduler.StepLR(_optimizer(lib), step_size=2)
        with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
            scheduler.get_lr()


def _error(make):
    try:
        make()
    except Exception as error:  # noqa: BLE001 - what is raised is compared
        return type(error), str(error)
    return None


BAD = [("ConstantLR", dict(factor=1.5)), ("LinearLR", dict(start_factor=0)), ("LinearLR", dict(end_factor=2.0)),
       ("MultiplicativeLR", dict(lr_lambda=3)), ("LambdaLR", dict(lr_lambda=[_decay])),
       ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, mode="other")),
       ("CyclicLR", dict(base_lr=[0.1], max_lr=1.0)),
       ("CosineAnnealingWarmRestarts", dict(T_0=0)), ("CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=0)),
       ("CosineAnnealingWarmRestarts", dict(T_0=2, eta_min="0")),
       ("OneCycleLR", dict(max_lr=0.1)), ("OneCycleLR", dict(max_lr=0.1, total_steps=0)),
       ("OneCycleLR", dict(max_lr=0.1, total_steps=10, pct_start=1.5)),
       ("OneCycleLR", dict(max_lr=0.1, total_steps=10, anneal_strategy="step")),
       ("OneCycleLR", dict(max_lr=0.1, epochs=0, steps_per_epoch=3)),
       ("ReduceLROnPlateau", dict(factor=1.0)), ("ReduceLROnPlateau", dict(mode="up")),
       ("ReduceLROnPlateau", dict(threshold_mode="ratio")), ("ReduceLROnPlateau", dict(min_lr=[0.1]))]


@pytest.mark.parametrize("name,options", BAD, ids=_ids(BAD))
def test_bad_arguments_raise_torchs_errors(name, options):
    ours = _error(lambda: getattr(optim.lr_scheduler, name)(_optimizer(sj), **options))
    theirs = _error(lambda: getattr(torch.optim.lr_scheduler, name)(_optimizer(torch), **options))
    assert ours is not None and ours == theirs


def test_cycling_momentum_needs_a_momentum_as_torch():
    for lib in (sj, torch):
        optimizer = _module(lib).Adagrad([lib.zeros(2, requires_grad=True)])
        for make in (lambda: _module(lib).lr_scheduler.CyclicLR(optimizer, 0.01, 0.1),
                     lambda: _module(lib).lr_scheduler.OneCycleLR(optimizer, 0.1, total_steps=5)):
            with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
                make()


def test_one_cycle_past_its_steps_raises_as_torch():
    for lib in (sj, torch):
        optimizer = _optimizer(lib)
        scheduler = _module(lib).lr_scheduler.OneCycleLR(optimizer, 0.1, total_steps=3)
        for _ in range(3):
            optimizer.step()
            scheduler.step()
        optimizer.step()
        with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
            scheduler.step()


PLATEAUS = [dict(), dict(mode="max", factor=0.5, patience=1, threshold=0.05, threshold_mode="abs"),
            dict(factor=0.5, patience=2, cooldown=2, min_lr=[0.01, 0.04]), dict(mode="max", patience=0, eps=0.02)]


@pytest.mark.parametrize("options", PLATEAUS, ids=[str(o) for o in PLATEAUS])
def test_reduce_on_plateau_is_torchs(options):
    rng = np.random.default_rng(3)
    metrics = list(np.cumsum(rng.standard_normal(60)) * 0.1 + 3)
    results = []
    for lib in (sj, torch):
        optimizer = _optimizer(lib)
        scheduler = _module(lib).lr_scheduler.ReduceLROnPlateau(optimizer, **options)
        rates = []
        for i, value in enumerate(metrics):
            optimizer.step()
            scheduler.step(value)
            rates.append(scheduler.get_last_lr())
            if i == 30:  # resume from the state_dict
                saved = copy.deepcopy(scheduler.state_dict())
                scheduler = _module(lib).lr_scheduler.ReduceLROnPlateau(optimizer, **options)
                scheduler.load_state_dict(saved)
        results.append((rates, scheduler.state_dict()))
    assert results[0][0] == results[1][0]
    assert results[0][1] == results[1][1]
    assert isinstance(optim.lr_scheduler.ReduceLROnPlateau(_optimizer(sj)), optim.lr_scheduler.LRScheduler)


def test_lambda_state_dict_keeps_callable_objects_as_torch():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    states = []
    for lib in (sj, torch):
        scheduler = _module(lib).lr_scheduler.LambdaLR(_optimizer(lib), [Decay(0.9), _decay])
        state = scheduler.state_dict()
        states.append(copy.deepcopy(state["lr_lambdas"]))
        fresh = _module(lib).lr_scheduler.LambdaLR(_optimizer(lib), [Decay(0.5), _decay])
        state["lr_lambdas"][0]["rate"] = 0.8
        fresh.load_state_dict(state)
        assert fresh.lr_lambdas[0].rate == 0.8
    assert states[0] == states[1] == [{"rate": 0.9}, None]


def test_all_of_torchs_names_are_there():
    import torch.optim.swa_utils as torch_swa

    assert [n for n in torch.optim.lr_scheduler.__all__ if not hasattr(optim.lr_scheduler, n)] == []
    assert [n for n in torch.optim.__all__ if not hasattr(optim, n)] == []
    assert [n for n in torch_swa.__all__ if not hasattr(optim.swa_utils, n)] == []
    assert math.isclose(optim.lr_scheduler.CosineAnnealingLR.__mro__.index(optim.lr_scheduler.LRScheduler), 1)
