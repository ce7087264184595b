"""In-place ops through single-element views (issue 16, item 1), each case run on shenjing and on
PyTorch 2.13: integer indexing gives a 0-d view that shares the base's memory and version counter,
so writing through it changes the base, and autograd sees the write."""

import numpy as np
import pytest
import torch

import shenjing as sj

# Each case mutates ``h`` (a float tensor [[0, 1, 2], [3, 4, 5]] or its flat form) through a view.
WRITES_2D = {
    "h[1, 1].add_": lambda lib, h: h[1, 1].add_(1),
    "h[1][2].add_": lambda lib, h: h[1][2].add_(1),
    "h[-1, -1].fill_": lambda lib, h: h[-1, -1].fill_(9),
    "h[0, 1].copy_": lambda lib, h: h[0, 1].copy_(lib.tensor(7.0)),
    "h[tensor(1), 0].mul_": lambda lib, h: h[lib.tensor(1), 0].mul_(3),
    "h[1].select(0, 2).sub_": lambda lib, h: h[1].select(0, 2).sub_(2),
    "h.select(1, 0)[1].zero_": lambda lib, h: h.select(1, 0)[1].zero_(),
    "h.t()[2, 0].add_": lambda lib, h: h.t()[2, 0].add_(10),
    "h.view(-1)[4].div_": lambda lib, h: h.view(-1)[4].div_(2),
    "h[1, ...][0].neg_": lambda lib, h: h[1, ...][0].neg_(),
    "h[None, 1, 2].add_": lambda lib, h: h[None, 1, 2].add_(5),
    "h.narrow(1, 1, 2)[0, 0].clamp_": lambda lib, h: h.narrow(1, 1, 2)[0, 0].clamp_(min=4),
    "v = h[0, 2]; v += 4": lambda lib, h: h[0, 2].__iadd__(4),
    "v = h[1, 0]; v *= v": lambda lib, h: _self_square(h[1, 0]),
    "h[1, 1] = 8 then h[1, 1].add_": lambda lib, h: (h.__setitem__((1, 1), 8), h[1, 1].add_(1)),
    "unbind(0)[1][0].add_": lambda lib, h: h.unbind(0)[1][0].add_(1),
    "h[0, 0].add_(h[1, 2])": lambda lib, h: h[0, 0].add_(h[1, 2]),
}

WRITES_1D = {
    "h[1].add_": lambda lib, h: h[1].add_(1),
    "h[-1].copy_": lambda lib, h: h[-1].copy_(lib.tensor(5.0)),
    "h[tensor(1)].add_": lambda lib, h: h[lib.tensor(1)].add_(1),
    "h.select(0, 1).add_": lambda lib, h: h.select(0, 1).add_(1),
    "h[1].fill_": lambda lib, h: h[1].fill_(3),
    "v = h[1]; v += 4": lambda lib, h: h[1].__iadd__(4),
    "v = h[0]; v -= 2": lambda lib, h: h[0].__isub__(2),
    "v = h[2]; v /= 4": lambda lib, h: h[2].__itruediv__(4),
    "v = h[2]; v **= 2": lambda lib, h: h[2].__ipow__(2),
    "for v in h: v.add_(1)": lambda lib, h: [v.add_(1) for v in h],
    "h[1].mul_ twice": lambda lib, h: h[1].mul_(2).mul_(3),
    "h[2].copy_ from int tensor": lambda lib, h: h[2].copy_(lib.tensor(4)),
}


# views of element views, and other tensors that share the memory (arange(4.0))
WRITES_SHARED = {
    "h.detach()[1].add_": lambda lib, h: h.detach()[1].add_(1),
    "h.data[1].fill_": lambda lib, h: h.data[1].fill_(3),
    "h.numpy()[1] = 5": lambda lib, h: h.numpy().__setitem__(1, 5),
    "h.reshape(2, 2).T[1][0].add_": lambda lib, h: h.reshape(2, 2).T[1][0].add_(1),
    "h[1:3][0].mul_": lambda lib, h: h[1:3][0].mul_(5),
    "h[::2][1].add_": lambda lib, h: h[::2][1].add_(7),
    "h[1].unsqueeze(0).add_": lambda lib, h: h[1].unsqueeze(0).add_(1),
    "h[1].view(1).add_": lambda lib, h: h[1].view(1).add_(1),
    "h[1].reshape(1, 1).add_": lambda lib, h: h[1].reshape(1, 1).add_(1),
    "h[1][None].add_": lambda lib, h: h[1][None].add_(1),
    "h[1].squeeze().add_": lambda lib, h: h[1].squeeze().add_(1),
    "h[1].t().add_": lambda lib, h: h[1].t().add_(1),
    "h[1].float().add_ (same dtype: itself)": lambda lib, h: h[1].float().add_(1),
    "h[1].double().add_ (a copy)": lambda lib, h: h[1].double().add_(1),
    "h[1].clone().add_ (a copy)": lambda lib, h: h[1].clone().add_(1),
    "h[[1]].add_ (a copy)": lambda lib, h: h[[1]].add_(1),
    "h[h > 1].add_ (a copy)": lambda lib, h: h[h > 1].add_(1),
    "h[1].copy_(h[2])": lambda lib, h: h[1].copy_(h[2]),
    "h[1].masked_fill_": lambda lib, h: h[1].masked_fill_(lib.tensor(True), 4.0),
    "h[1].sub_(10).abs_()": lambda lib, h: h[1].sub_(10).abs_(),
    "h[1].clamp_(max=0)": lambda lib, h: h[1].clamp_(max=0),
    "h[3].sqrt_": lambda lib, h: h[3].sqrt_(),
    "h[2].sub_(9).relu_()": lambda lib, h: h[2].sub_(9).relu_(),
    "h[3].div_(2, floor)": lambda lib, h: h[3].div_(2, rounding_mode="floor"),
    "h[1].fill_(tensor)": lambda lib, h: h[1].fill_(lib.tensor(6.0)),
    "h[1][()] = 9": lambda lib, h: h[1].__setitem__((), 9),
    "h[1][...] = 9": lambda lib, h: h[1].__setitem__(Ellipsis, 9),
    "h[1].neg_().sigmoid_()": lambda lib, h: h[1].neg_().sigmoid_(),
}


def _self_square(v):
    v *= v
    return v


def _run(case, lib, h):
    """The values of ``h`` and its version after ``case``, or the type of the error raised."""
    try:
        case(lib, h)
    except Exception as error:  # compared by type with PyTorch's
        return type(error).__name__
    return h.numpy().copy(), h._version


def _compare(case, make):
    ours = _run(case, sj, make(sj))
    theirs = _run(case, torch, make(torch))
    if isinstance(theirs, str):
        assert ours == theirs
        return
    assert not isinstance(ours, str), ours
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)  # (one ulp apart at most: sigmoid, exp)
    assert ours[1] == theirs[1], f"version {ours[1]}, PyTorch {theirs[1]}"


@pytest.mark.parametrize("name", sorted(WRITES_2D))
def test_write_through_element_view_of_2d_tensor(name):
    _compare(WRITES_2D[name], lambda lib: lib.arange(6.0).reshape(2, 3).clone())


@pytest.mark.parametrize("name", sorted(WRITES_1D))
def test_write_through_element_view_of_1d_tensor(name):
    _compare(WRITES_1D[name], lambda lib: lib.arange(3.0))


@pytest.mark.parametrize("name", sorted(WRITES_SHARED))
def test_write_through_views_of_element_views_and_shared_memory(name):
    _compare(WRITES_SHARED[name], lambda lib: lib.arange(4.0))


@pytest.mark.parametrize("dtype", ["int64", "float64", "bool"])
def test_element_view_of_other_dtypes(dtype):
    def case(lib, h):
        if dtype == "bool":
            h[1].fill_(True)
        else:
            h[1].add_(2)
    _compare(case, lambda lib: lib.zeros(3, dtype=getattr(lib, dtype)))


def test_zero_dim_tensor_indexed_with_empty_tuple_is_a_view():
    _compare(lambda lib, h: h[()].add_(1), lambda lib: lib.tensor(2.0))
    _compare(lambda lib, h: h[...].mul_(3), lambda lib: lib.tensor(2.0))


def test_element_view_reads_later_writes_to_the_base():
    for lib in (sj, torch):
        h = lib.zeros(3)
        v = h[1]
        h.add_(5)
        assert v.item() == 5.0
        assert v.shape == lib.Size([]) and v._version == h._version == 1


def test_out_of_range_integer_index_still_raises_index_error():
    for lib in (sj, torch):
        h = lib.zeros(3)
        for bad in (3, -4):
            with pytest.raises(IndexError):
                h[bad]
            with pytest.raises(IndexError):
                h.select(0, bad)


# -- autograd through element views ----------------------------------------------------------------

GRAD_CASES = {
    "read h[1]": lambda lib, a, x: x[1] * 3,
    "read h[-1] and h[0]": lambda lib, a, x: x[-1] * x[0],
    "x[1].mul_(3)": lambda lib, a, x: (x[1].mul_(3), x)[1],
    "x[2].add_(a[0] * a[1])": lambda lib, a, x: (x[2].add_(a[0] * a[1]), x)[1],
    "x[0].copy_(a[2] ** 2)": lambda lib, a, x: (x[0].copy_(a[2] ** 2), x)[1],
    "v = x[1]; v *= a[2]": lambda lib, a, x: (x[1].__imul__(a[2]), x)[1],
    "x.select(0, 2).fill_(4)": lambda lib, a, x: (x.select(0, 2).fill_(4), x)[1],
    "x[tensor(0)].exp_()": lambda lib, a, x: (x[lib.tensor(0)].exp_(), x)[1],
    "two writes then read view": lambda lib, a, x: (x[1].mul_(2), x[1].add_(x[0]), x[1] * x)[2],
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradient_through_element_views_matches_torch(name):
    results = []
    for lib in (sj, torch):
        a = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        x = a * lib.tensor([1.0, -1.0, 0.5], dtype=lib.float64)
        out = GRAD_CASES[name](lib, a, x)
        (out * lib.arange(1.0, 1.0 + out.numel(), dtype=lib.float64).reshape(out.shape)).sum().backward()
        results.append((out.detach().numpy().copy(), a.grad.numpy().copy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


def test_element_view_gradient_against_central_differences():
    def f(a):
        x = a * 2
        x[1].mul_(a.exp()[0])
        x[-1].add_(x[1] * 3)
        return (x * x).sum()
    a0 = np.array([0.5, -1.5, 2.0])
    a = sj.tensor(a0, requires_grad=True)
    f(a).backward()
    eps, numeric = 1e-6, np.zeros(3)
    for i in range(3):
        plus, minus = a0.copy(), a0.copy()
        plus[i] += eps
        minus[i] -= eps
        numeric[i] = (f(sj.tensor(plus)).item() - f(sj.tensor(minus)).item()) / (2 * eps)
    np.testing.assert_allclose(a.grad.numpy(), numeric, rtol=1e-6)


LEAF_WRITES = {
    "a[1].add_": lambda lib, a: a[1].add_(1),
    "a[0, 1].fill_": lambda lib, a: a.view(1, 3)[0, 1].fill_(2),
    "v = a[2]; v += 1": lambda lib, a: a[2].__iadd__(1),
    "a.select(0, 0).copy_": lambda lib, a: a.select(0, 0).copy_(lib.tensor(1.0)),
}


@pytest.mark.parametrize("name", sorted(LEAF_WRITES))
def test_inplace_on_element_view_of_leaf_requiring_grad(name):
    for lib in (sj, torch):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            LEAF_WRITES[name](lib, a)
    # under no_grad it is how weights are edited by hand, and it reaches the leaf
    values = []
    for lib in (sj, torch):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with lib.no_grad():
            LEAF_WRITES[name](lib, a)
        assert a.requires_grad and a.is_leaf
        values.append(a.detach().numpy().copy())
    np.testing.assert_array_equal(values[0], values[1])


SAVED_THEN_WRITTEN = {
    "exp output saved, element written": lambda lib, a: _saved(lambda b: b.exp(), lambda b: b[1].mul_(2), a),
    "element saved by pow, element written": lambda lib, a: _saved(lambda b: b[1] ** 2, lambda b: b[1].add_(1), a),
    "element saved by mul, base written": lambda lib, a: _saved(lambda b: b[0] * b[0], lambda b: b.add_(1), a),
    "base saved by mul, element written": lambda lib, a: _saved(lambda b: b * b, lambda b: b[2].fill_(0), a),
    "element saved, other element written": lambda lib, a: _saved(lambda b: b[0] * b[0], lambda b: b[1].add_(1), a),
    "view saved by sigmoid, v += 1": lambda lib, a: _saved(lambda b: b[2].sigmoid(), lambda b: b[2].__iadd__(1), a),
}


def _saved(forward, write, a):
    b = a * 1
    out = forward(b)
    write(b)
    out.sum().backward()
    return a.grad


@pytest.mark.parametrize("name", sorted(SAVED_THEN_WRITTEN))
def test_inplace_write_to_saved_view_is_detected_as_in_torch(name):
    outcomes = []
    for lib in (sj, torch):
        a = lib.tensor([0.5, 1.0, 1.5], requires_grad=True)
        try:
            grad = SAVED_THEN_WRITTEN[name](lib, a)
            outcomes.append(grad.numpy().copy())
        except RuntimeError as error:
            assert "modified by an inplace operation" in str(error)
            outcomes.append("modified by an inplace operation")
    if isinstance(outcomes[1], str):
        assert outcomes[0] == outcomes[1]
    else:
        np.testing.assert_allclose(outcomes[0], outcomes[1], rtol=1e-6)
