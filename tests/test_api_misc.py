"""Smaller pieces of PyTorch's API, each against PyTorch itself: finfo/iinfo, the legacy Variable and typed
tensor constructors, print options and 0-d formatting, torch.testing, torch.accelerator and
torch.autograd.functional."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import shenjing as sj

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8"]


@pytest.mark.parametrize("name", DTYPES)
def test_finfo_and_iinfo_match_torch(name):
    ours_dtype, theirs_dtype = getattr(sj, name), getattr(torch, name)
    if name.startswith("float"):
        ours, theirs = sj.finfo(ours_dtype), torch.finfo(theirs_dtype)
        for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
            assert getattr(ours, field) == getattr(theirs, field), field
        assert repr(ours) == repr(theirs)
        with pytest.raises(TypeError):
            sj.iinfo(ours_dtype)
    else:
        ours, theirs = sj.iinfo(ours_dtype), torch.iinfo(theirs_dtype)
        assert (ours.bits, ours.max, ours.min) == (theirs.bits, theirs.max, theirs.min)
        assert repr(ours) == repr(theirs)
        with pytest.raises(TypeError):
            sj.finfo(ours_dtype)
    assert sj.finfo().eps == torch.finfo().eps


@pytest.mark.parametrize("name,args", [("LongTensor", ([1, 2],)), ("FloatTensor", ([1, 2.5],)), ("FloatTensor", (2, 3)),
                                       ("DoubleTensor", ([[1.0]],)), ("IntTensor", (4,)), ("ByteTensor", ([1, 255],)),
                                       ("BoolTensor", ([True, False],)), ("FloatTensor", ()),
                                       ("FloatTensor", ((2, 3),))])
def test_typed_tensor_constructors_match_torch(name, args):
    ours, theirs = getattr(sj, name)(*args), getattr(torch, name)(*args)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).split(".")[1]
    if theirs.numel() and not (len(args) and all(isinstance(a, int) for a in args)):  # (sizes: uninitialised there)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert isinstance(ours, getattr(sj, name)) and not isinstance(ours.to(sj.float16 if name != "HalfTensor"
                                                                           else sj.float32), getattr(sj, name))


def test_variable_is_a_leaf_tensor_as_in_torch():
    data = sj.tensor([1.0, 2.0])
    v = sj.autograd.Variable(data, requires_grad=True)
    assert isinstance(v, sj.Tensor) and v.requires_grad and v.grad_fn is None
    (v * 3).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [3.0, 3.0])
    assert isinstance(sj.ones(1), sj.autograd.Variable)
    assert not sj.autograd.Variable(data).requires_grad


def test_zero_d_tensors_format_as_numbers():
    for value in (6, 0.5, True, -2.25):
        assert f"{sj.tensor(value)}" == f"{torch.tensor(value)}"
        assert f"{sj.tensor(value):>8}" == f"{torch.tensor(value):>8}"
    assert f"{sj.tensor(1.0 / 3):.3f}" == f"{torch.tensor(1.0 / 3):.3f}"
    assert f"{sj.tensor([1, 2])}" == f"{torch.tensor([1, 2])}"


@pytest.mark.parametrize("options", [dict(precision=2), dict(precision=6), dict(sci_mode=True), dict(sci_mode=False),
                                     dict(threshold=5), dict(threshold=5, edgeitems=1), dict(linewidth=40),
                                     dict(profile="short"), dict(profile="full")])
def test_print_options_print_as_torch(options):
    values = [np.array([1.23456789, -2.5, 1000.125]), np.array([1e-5, 3.0]), np.arange(12.0).reshape(3, 4) / 7,
              np.linspace(0, 1, 30)]
    try:
        sj.set_printoptions(**options)
        torch.set_printoptions(**options)
        for v in values:
            assert repr(sj.tensor(v, dtype=sj.float32)) == repr(torch.tensor(v, dtype=torch.float32)), (options, v)
    finally:
        sj.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
    assert repr(sj.tensor([1.23456789])) == "tensor([1.2346])"


def test_assert_close_passes_and_fails_as_torch():
    close_pairs = [(sj.tensor([1.0, 2.0]), sj.tensor([1.0, 2.0 + 1e-6])), (1.0, 1.0 + 1e-9), (3, 3),
                   ([sj.tensor(1.0), 2], [sj.tensor(1.0), 2]), ({"a": sj.tensor([1.0])}, {"a": sj.tensor([1.0])})]
    for actual, expected in close_pairs:
        sj.testing.assert_close(actual, expected)
    with pytest.raises(AssertionError) as ours:
        sj.testing.assert_close(sj.tensor([1.0, 2.0, 3.0]), sj.tensor([1.0, 2.1, 3.0]))
    with pytest.raises(AssertionError) as theirs:
        torch.testing.assert_close(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.1, 3.0]))
    ours_lines, theirs_lines = str(ours.value).splitlines(), str(theirs.value).splitlines()
    assert ours_lines[:3] == theirs_lines[:3]  # "Tensor-likes are not close!", "", "Mismatched elements: 1 / 3 (33.3%)"
    assert ours_lines[3].split(" at index")[1] == theirs_lines[3].split(" at index")[1]
    with pytest.raises(AssertionError, match="dtype"):
        sj.testing.assert_close(sj.tensor([1.0]), sj.tensor([1.0], dtype=sj.float64))
    sj.testing.assert_close(sj.tensor([1.0]), sj.tensor([1.0], dtype=sj.float64), check_dtype=False)
    with pytest.raises(AssertionError, match="shape"):
        sj.testing.assert_close(sj.ones(2), sj.ones(3))
    with pytest.raises(AssertionError, match="Scalars are not close"):
        sj.testing.assert_close(1.0, 1.1)
    sj.testing.assert_close(sj.tensor([1.0, math.nan]), sj.tensor([1.0, math.nan]), equal_nan=True)
    with pytest.raises(AssertionError):
        sj.testing.assert_close(sj.tensor([math.nan]), sj.tensor([math.nan]))
    with pytest.raises(AssertionError, match="custom"):
        sj.testing.assert_close(sj.ones(1), sj.zeros(1), msg="custom")
    with pytest.raises(ValueError, match="Both 'rtol' and 'atol'"):
        sj.testing.assert_close(sj.ones(1), sj.ones(1), rtol=1e-3)


def test_make_tensor_draws_in_range():
    for dtype, low, high in [(sj.float32, None, None), (sj.int64, 0, 5), (sj.float64, -1.0, 1.0), (sj.uint8, None, None)]:
        t = sj.testing.make_tensor(4, 5, dtype=dtype, low=low, high=high)
        assert tuple(t.shape) == (4, 5) and t.dtype == dtype
        lo = -9 if low is None else low
        hi = (9 if dtype.is_floating_point else 10) if high is None else high
        assert t.numpy().min() >= (0 if dtype == sj.uint8 else lo) and t.numpy().max() < hi


def test_accelerator_reports_none_as_a_cpu_only_torch_does():
    assert sj.accelerator.is_available() == torch.accelerator.is_available() is False
    assert sj.accelerator.current_accelerator() is torch.accelerator.current_accelerator() is None
    assert sj.accelerator.device_count() == torch.accelerator.device_count() == 0
    with pytest.raises(RuntimeError):
        sj.accelerator.current_device_index()


def _both(fn_name, lib_fn, *args, **kwargs):
    ours = getattr(sj.autograd.functional, fn_name)(lib_fn(sj), *[sj.tensor(a) for a in args], **kwargs)
    theirs = getattr(torch.autograd.functional, fn_name)(lib_fn(torch), *[torch.tensor(a) for a in args], **kwargs)
    return ours, theirs


def _assert_same_structure(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_same_structure(a, b)
    else:
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_autograd_functional_matches_torch():
    rng = np.random.default_rng(3)
    x, y, v = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    cube = lambda lib: (lambda t: (t ** 3).sum())  # noqa: E731
    square = lambda lib: (lambda t: t ** 2 * t.sum())  # noqa: E731
    pair = lambda lib: (lambda a, b: (a * b.exp(), (a * b).sum()))  # noqa: E731
    _assert_same_structure(*_both("jacobian", square, x))
    _assert_same_structure(sj.autograd.functional.jacobian(pair(sj), (sj.tensor(x), sj.tensor(y))),
                           torch.autograd.functional.jacobian(pair(torch), (torch.tensor(x), torch.tensor(y))))
    _assert_same_structure(*_both("hessian", cube, x))
    ours = sj.autograd.functional.hessian(lambda a, b: (a * a * b).sum(), (sj.tensor(x), sj.tensor(y)))
    theirs = torch.autograd.functional.hessian(lambda a, b: (a * a * b).sum(), (torch.tensor(x), torch.tensor(y)))
    _assert_same_structure(ours, theirs)
    for name in ("vjp", "jvp"):
        ours = getattr(sj.autograd.functional, name)(square(sj), sj.tensor(x), sj.tensor(v))
        theirs = getattr(torch.autograd.functional, name)(square(torch), torch.tensor(x), torch.tensor(v))
        _assert_same_structure(ours, theirs)
    for name in ("vhp", "hvp"):
        ours = getattr(sj.autograd.functional, name)(cube(sj), sj.tensor(x), sj.tensor(v))
        theirs = getattr(torch.autograd.functional, name)(cube(torch), torch.tensor(x), torch.tensor(v))
        _assert_same_structure(ours, theirs)
