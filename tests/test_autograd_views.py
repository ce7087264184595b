"""In-place writes through views: the base's history must include them (PyTorch's CopySlices),
and saved tensors modified through a view must be detected."""

import numpy as np
import pytest
import torch

import shenjing as sj

CASES = {
    "slice mul_": lambda lib, a, x: x[0:2].mul_(2),
    "row of reshape add_ tensor": lambda lib, a, x: x.reshape(2, 2)[1].add_(a[:2] * 3),
    "augmented slice assignment": lambda lib, a, x: x.__setitem__(slice(1, 3), x[1:3] + 5),
    "setitem on transposed view": lambda lib, a, x: x.reshape(2, 2).t().__setitem__(0, a[2:] ** 2),
    "strided view mul_ tensor": lambda lib, a, x: x[::2].mul_(a[:2]),
    "flip is a copy": lambda lib, a, x: x.flip(0)[::2].mul_(a[:2]),
}

MULTI_OUTPUT_VIEWS = {
    "piece of split": lambda a, x: x.split(2)[1].mul_(a[:2]),
    "row of unbind": lambda a, x: x.reshape(2, 2).unbind(1)[0].add_(a[1:3]),
    "chunk setitem": lambda a, x: x.chunk(2)[0].__setitem__(0, a[3]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_inplace_write_through_view_matches_torch(name):
    results = []
    for lib in (sj, torch):
        a = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        x = a * 1
        CASES[name](lib, a, x)
        (x * lib.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        results.append((x.detach().numpy().copy(), a.grad.numpy().copy()))
    np.testing.assert_allclose(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1])


@pytest.mark.parametrize("name", sorted(MULTI_OUTPUT_VIEWS))
def test_inplace_on_views_from_multi_output_ops_is_refused_like_torch(name):
    for lib in (sj, torch):
        a = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="returns multiple views"):
            MULTI_OUTPUT_VIEWS[name](a, a * 1)
    with sj.no_grad():  # without recording, writing through the piece is fine and reaches the base
        x = sj.tensor([1.0, 2.0, 3.0, 4.0])
        x.split(2)[1].mul_(10)
        assert x.tolist() == [1.0, 2.0, 30.0, 40.0]


def test_augmented_assignment_on_index():
    for lib in (sj, torch):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x = a * 2
        x[1] += a[0]
        x.sum().backward()
        assert a.grad.tolist() == [3.0, 2.0, 2.0]


def test_write_through_view_of_saved_output_is_detected():
    x = sj.ones(3, requires_grad=True)
    z = (x * 2).exp()
    view = z[0:2]
    view.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_view_of_leaf_requiring_grad_refuses_inplace():
    a = sj.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        a[0:2].mul_(2)
    with sj.no_grad():
        a[0:2].mul_(2)
    assert a.tolist() == [2.0, 2.0, 1.0]
