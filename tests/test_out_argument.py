"""The out= argument of the namespace functions, against PyTorch: the result written into out and out
returned, resizing (with PyTorch's warning), casting rules, tuples, factories, and the autograd error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import shenjing as sj

RNG = np.random.default_rng(5)


def _pair(array):
    return sj.tensor(array), torch.tensor(array)


@pytest.mark.parametrize("name,arrays,kwargs", [
    ("add", [RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))], {}),
    ("mul", [RNG.standard_normal((2, 3)), RNG.standard_normal((3,))], {}),
    ("matmul", [RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))], {}),
    ("exp", [RNG.standard_normal((4,))], {}),
    ("sum", [RNG.standard_normal((2, 3))], {"dim": 1}),
    ("clamp", [RNG.standard_normal((5,))], {"min": -0.5, "max": 0.5}),
    ("tril", [RNG.standard_normal((3, 3))], {}),
])
def test_out_receives_the_result_as_in_torch(name, arrays, kwargs):
    ours_in, theirs_in = zip(*[_pair(a) for a in arrays])
    expected = getattr(torch, name)(*theirs_in, **kwargs)
    ours_out = sj.empty(*expected.shape, dtype=sj.float64)
    returned = getattr(sj, name)(*ours_in, **kwargs, out=ours_out)
    assert returned is ours_out
    np.testing.assert_allclose(ours_out.numpy(), expected.numpy(), rtol=1e-12)


def test_cat_and_stack_take_out():
    a, b = RNG.standard_normal((2, 2)), RNG.standard_normal((2, 2))
    out = sj.empty(4, 2, dtype=sj.float64)
    sj.cat([sj.tensor(a), sj.tensor(b)], 0, out=out)
    np.testing.assert_array_equal(out.numpy(), np.concatenate([a, b]))
    out = sj.empty(0, dtype=sj.float64)
    sj.stack([sj.tensor(a), sj.tensor(b)], out=out)
    assert tuple(out.shape) == (2, 2, 2)


def test_a_wrong_shape_is_resized_with_torchs_warning_and_an_empty_one_silently():
    ours, theirs = sj.empty(3), torch.empty(3)
    with pytest.warns(UserWarning, match="was resized") as caught:
        sj.add(sj.ones(2), 1, out=ours)
    with warnings.catch_warnings(record=True) as torch_caught:
        warnings.simplefilter("always")
        torch.add(torch.ones(2), 1, out=theirs)
    assert str(caught[0].message).split(" (Triggered")[0] in str(torch_caught[0].message)
    assert tuple(ours.shape) == tuple(theirs.shape) == (2,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = sj.empty(0)
        sj.add(sj.ones(2), 1, out=empty)
    assert tuple(empty.shape) == (2,)


def test_casting_into_out_follows_torch():
    wider = sj.zeros(2, dtype=sj.float64)
    sj.add(sj.ones(2), 1, out=wider)
    assert wider.dtype == sj.float64 and wider.numpy().tolist() == [2.0, 2.0]
    integer_result_in_float = sj.zeros(2)
    sj.add(sj.tensor([1, 2]), 1, out=integer_result_in_float)
    assert integer_result_in_float.numpy().tolist() == [2.0, 3.0]
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        sj.add(sj.ones(2), 1, out=sj.zeros(2, dtype=sj.long))
    with pytest.raises(RuntimeError) as theirs:
        torch.add(torch.ones(2), 1, out=torch.zeros(2, dtype=torch.long))
    assert "can't be cast to the desired output type Long" in str(theirs.value)


def test_out_with_an_input_that_requires_grad_is_refused_as_in_torch():
    x = sj.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        sj.add(x, 1, out=sj.empty(2))
    with sj.no_grad():
        sj.add(x, 1, out=sj.empty(2))


def test_functions_with_two_results_take_a_tuple():
    x = RNG.standard_normal((2, 3))
    values, indices = sj.empty(0, dtype=sj.float64), sj.empty(0, dtype=sj.long)
    returned = sj.max(sj.tensor(x), 1, out=(values, indices))
    expected = torch.max(torch.tensor(x), 1)
    assert returned.values is values and returned.indices is indices
    np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())


def test_factories_make_their_result_in_outs_dtype():
    ours, theirs = sj.empty(0, dtype=sj.long), torch.empty(0, dtype=torch.long)
    sj.arange(4, out=ours)
    torch.arange(4, out=theirs)
    assert ours.dtype == sj.int64 and ours.numpy().tolist() == theirs.numpy().tolist()
    ones = sj.empty(2, 2, dtype=sj.float64)
    sj.ones(2, 2, out=ones)
    assert ones.dtype == sj.float64 and ones.numpy().tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_writing_into_out_bumps_its_version_as_an_in_place_op():
    out = sj.zeros(2)
    before = out._version
    sj.add(sj.ones(2), 1, out=out)
    assert out._version == before + 1
