"""The Tensor object itself: dtype conversion, metadata, Python protocols, repr, device, leaves.

PyTorch 2.13 is the reference: where a value can be computed by torch, the test computes it with torch
(for repr: ``repr(torch_tensor).replace('torch.', 'shenjing.')``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shenjing as sj


def dtype_name(dtype) -> str:
    return str(dtype).split(".")[-1]


# --------------------------------------------------------------------------------------------------
# dtype conversion
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,expected", [
    ("float", "float32"), ("double", "float64"), ("long", "int64"), ("int", "int32"), ("bool", "bool"),
])
@pytest.mark.parametrize("data", [[1.7, -1.7, 0.0, 2.5], [3, 0, -2, 1], [True, False, True, False]])
def test_conversion_methods_match_torch(method, expected, data):
    t_sj = getattr(sj.tensor(data), method)()
    t_t = getattr(torch.tensor(data), method)()
    assert dtype_name(t_sj.dtype) == expected == dtype_name(t_t.dtype)
    np.testing.assert_array_equal(t_sj.numpy(), t_t.numpy())


@pytest.mark.parametrize("target", ["float32", "float64", "int64", "int32", "bool"])
def test_to_dtype(target):
    data = [[0.5, -2.25], [3.0, 0.0]]
    t_sj = sj.tensor(data).to(getattr(sj, target))
    t_t = torch.tensor(data).to(getattr(torch, target))
    assert dtype_name(t_sj.dtype) == target
    np.testing.assert_array_equal(t_sj.numpy(), t_t.numpy())
    # keyword form
    assert sj.tensor(data).to(dtype=getattr(sj, target)).dtype == getattr(sj, target)


def test_to_other_tensor_and_type_as():
    a = sj.tensor([1, 2, 3])
    b = sj.tensor([0.5], dtype=sj.float64)
    assert a.to(b).dtype == sj.float64
    assert a.type_as(b).dtype == sj.float64
    np.testing.assert_array_equal(a.type_as(b).numpy(), [1.0, 2.0, 3.0])
    c = sj.tensor([True])
    assert b.to(c).dtype == sj.bool
    assert sj.tensor([1.5, 0.0]).type_as(sj.tensor([1])).tolist() == [1, 0]


def test_conversion_does_not_modify_source():
    a = sj.tensor([1.5, 2.5])
    b = a.long()
    assert a.dtype == sj.float32
    assert a.tolist() == [1.5, 2.5]
    assert b.tolist() == [1, 2]


def test_float_conversion_is_differentiable():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    assert y.dtype == sj.float64
    assert y.requires_grad and y.grad_fn is not None
    y.sum().backward()
    assert x.grad.dtype == sj.float32, "the gradient has the dtype of the leaf, like torch"
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_dtype_objects():
    assert sj.float32 != sj.float64
    assert sj.int64 != sj.int32
    assert sj.tensor([1.0]).dtype == sj.float32
    assert repr(sj.float32) == "shenjing.float32"
    assert repr(sj.int64) == "shenjing.int64"
    assert repr(sj.bool) == "shenjing.bool"
    assert sj.float32.is_floating_point and sj.float64.is_floating_point
    assert not sj.int64.is_floating_point and not sj.bool.is_floating_point


def test_is_floating_point():
    assert sj.tensor([1.0]).is_floating_point()
    assert not sj.tensor([1]).is_floating_point()


# --------------------------------------------------------------------------------------------------
# metadata
# --------------------------------------------------------------------------------------------------

def test_shape_and_size():
    t = sj.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4)
    assert t.shape == torch.Size([2, 3, 4])
    assert isinstance(t.shape, tuple)
    assert isinstance(t.shape, sj.Size)
    assert t.size() == (2, 3, 4)
    assert t.size() == t.shape
    assert t.size(0) == 2 and t.size(1) == 3 and t.size(-1) == 4
    assert t.shape[1] == 3
    n, c, w = t.shape
    assert (n, c, w) == (2, 3, 4)
    assert sj.Size([2, 3]) == (2, 3)
    assert sj.tensor(1.0).shape == ()
    assert t.reshape(6, 4).shape == (6, 4)


def test_dim_ndim_numel():
    for shape in [(), (5,), (2, 3), (2, 0, 3), (1, 1, 1, 1)]:
        t = sj.zeros(shape)
        r = torch.zeros(shape)
        assert t.dim() == r.dim()
        assert t.ndim == r.ndim
        assert t.numel() == r.numel()


def test_item():
    v = sj.tensor(2.5).item()
    assert v == 2.5 and type(v) is float
    v = sj.tensor([7]).item()
    assert v == 7 and type(v) is int
    v = sj.tensor([[True]]).item()
    assert v is True
    v = sj.tensor(1.5, requires_grad=True).item()       # item() works on tensors requiring grad
    assert v == 1.5


def test_tolist():
    assert sj.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    out = sj.tensor([1.5, 2.0]).tolist()
    assert out == [1.5, 2.0] and all(type(v) is float for v in out)
    out = sj.tensor([3, 4]).tolist()
    assert all(type(v) is int for v in out)
    assert sj.tensor([True, False]).tolist() == [True, False]
    assert sj.tensor(3.0).tolist() == 3.0
    assert sj.zeros(2, 0).tolist() == [[], []]


def test_numpy():
    t = sj.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = t.numpy()
    assert isinstance(a, np.ndarray)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, [[1.0, 2.0], [3.0, 4.0]])
    assert sj.tensor([1, 2]).numpy().dtype == np.int64
    assert sj.tensor([1.0], dtype=sj.float64).numpy().dtype == np.float64
    assert sj.tensor([True]).numpy().dtype == np.bool_


def test_numpy_refuses_requires_grad():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    with pytest.raises(RuntimeError, match="detach"):
        (x * 2).numpy()
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0])


def test_array_protocol():
    t = sj.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, [[1.0, 2.0], [3.0, 4.0]])
    b = np.asarray(t, dtype=np.float64)
    assert b.dtype == np.float64
    np.testing.assert_array_equal(np.array(sj.tensor([1, 2, 3])), [1, 2, 3])
    assert float(np.sum(np.asarray(sj.tensor([1.0, 2.0, 3.0])))) == 6.0


# --------------------------------------------------------------------------------------------------
# Python protocols
# --------------------------------------------------------------------------------------------------

def test_len():
    assert len(sj.zeros(4, 2)) == 4
    assert len(sj.tensor([1, 2, 3])) == 3
    assert len(sj.zeros(0, 3)) == 0
    with pytest.raises(TypeError):
        len(sj.tensor(1.0))


def test_iteration_over_first_dim():
    t = sj.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    rows = list(t)
    assert len(rows) == 3
    assert all(r.shape == (2,) for r in rows)
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    items = list(sj.tensor([1, 2, 3]))
    assert all(i.shape == () for i in items)
    assert [i.item() for i in items] == [1, 2, 3]
    a, b = sj.tensor([10.0, 20.0])
    assert a.item() == 10.0 and b.item() == 20.0
    with pytest.raises(TypeError):
        iter(sj.tensor(1.0))


def test_iteration_keeps_autograd():
    x = sj.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    total = sum(row.sum() * (i + 1) for i, row in enumerate(x))
    total.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 1.0], [2.0, 2.0]])


def test_bool():
    assert bool(sj.tensor([1.0])) is True
    assert bool(sj.tensor(0.0)) is False
    assert bool(sj.tensor([[3]])) is True
    assert bool(sj.tensor([False])) is False
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(sj.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError):
        bool(sj.tensor([]))
    if sj.tensor([2.0]) > 1:
        pass
    else:
        pytest.fail("if-statement on a one-element comparison")


def test_float_int_index():
    assert float(sj.tensor([2.5])) == 2.5
    assert float(sj.tensor(3)) == 3.0
    assert int(sj.tensor(3.9)) == 3
    assert int(sj.tensor(-3.9)) == -3
    assert int(sj.tensor([7])) == 7
    assert [10, 20, 30][sj.tensor(1)] == 20          # __index__ on integer tensors
    with pytest.raises(ValueError):                   # torch raises ValueError here
        float(sj.tensor([1.0, 2.0]))


# --------------------------------------------------------------------------------------------------
# repr, with torch's repr as reference
# --------------------------------------------------------------------------------------------------

_RNG = np.random.default_rng(0)
_LARGE = (_RNG.standard_normal((3, 3)) * 1000).astype(np.float32)
_MIXED = np.array([[1e-8, 1.0], [2.0, 3e8]], dtype=np.float32)
_SMALL = (_RNG.standard_normal(4) * 1e-6).astype(np.float32)
_ROW = np.linspace(0, 1, 25).astype(np.float32)


def _grad_leaf(lib):
    return lib.tensor([[1.0, 2.0]], requires_grad=True)


def _sum_result(lib):
    return lib.tensor([1.0, 2.0, 3.0], requires_grad=True).sum()


def _mul_result(lib):
    return lib.tensor([1.0, 2.0], requires_grad=True) * 2


REPR_CASES = {
    "float_matrix": lambda lib: lib.tensor([[1.0, 2.0], [3.0, 4.0]]),
    "float_fractions": lambda lib: lib.tensor([0.5, 0.25, 1.0 / 3.0]),
    "negative": lambda lib: lib.tensor([-1.5, 2.0]),
    "requires_grad_leaf": _grad_leaf,
    "grad_fn_scalar": _sum_result,
    "grad_fn_vector": _mul_result,
    "grad_fn_float64": lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True).sum(),
    "int64": lambda lib: lib.tensor([1, 2, 3]),
    "int32": lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    "int_padding": lambda lib: lib.tensor([123456789, 1]),
    "float64": lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64),
    "float64_grad_leaf": lambda lib: lib.tensor([1.5], dtype=lib.float64, requires_grad=True),
    "empty": lambda lib: lib.tensor([]),
    "empty_int": lambda lib: lib.tensor([], dtype=lib.int64),
    "empty_2d": lambda lib: lib.zeros(2, 0),
    "zero_dim": lambda lib: lib.tensor(3.5),
    "zero_dim_int": lambda lib: lib.tensor(4),
    "zero_dim_integral_float": lambda lib: lib.tensor(6.0),
    "bool": lambda lib: lib.tensor([True, False]),
    "bool_all_true": lambda lib: lib.tensor([True, True, True]),
    "nan_inf": lambda lib: lib.tensor([1.0, float("nan"), float("inf"), -float("inf")]),
    "long_row": lambda lib: lib.arange(30.0),
    "long_row_fractions": lambda lib: lib.tensor(_ROW),
    "wide_matrix": lambda lib: lib.arange(40.0).reshape(2, 20),
    "3d": lambda lib: lib.zeros(2, 3, 4),
    "large_values": lambda lib: lib.tensor(_LARGE),
    "scientific_range": lambda lib: lib.tensor([1e-5, 1.0, 1e5]),
    "scientific_mixed": lambda lib: lib.tensor(_MIXED),
    "small_values": lambda lib: lib.tensor(_SMALL),
    "small_fixed": lambda lib: lib.tensor([0.001, 0.01]),
}


@pytest.mark.parametrize("case", list(REPR_CASES))
def test_repr_matches_torch(case):
    make = REPR_CASES[case]
    expected = repr(make(torch)).replace("torch.", "shenjing.")
    assert repr(make(sj)) == expected


def test_repr_literal_examples():
    assert repr(sj.tensor([[1.0, 2.0]], requires_grad=True)) == "tensor([[1., 2.]], requires_grad=True)"
    assert repr(sj.tensor([1, 2], dtype=sj.int32)) == "tensor([1, 2], dtype=shenjing.int32)"
    assert repr(sj.tensor([1.0, 2.0, 3.0], requires_grad=True).sum()) == "tensor(6., grad_fn=<SumBackward0>)"


def test_repr_summarizes_large_tensors():
    expected = repr(torch.arange(2000.0)).replace("torch.", "shenjing.")
    assert repr(sj.arange(2000.0)) == expected


def test_str_equals_repr_for_tensor():
    t = sj.tensor([1.0, 2.0])
    assert str(t) == repr(t)


# --------------------------------------------------------------------------------------------------
# device
# --------------------------------------------------------------------------------------------------

def test_device_is_cpu():
    t = sj.tensor([1.0, 2.0])
    assert t.device == sj.device("cpu")
    assert t.device.type == "cpu"
    assert sj.zeros(2, device="cpu").device == sj.device("cpu")


def test_to_cpu_and_cpu():
    t = sj.tensor([1.0, 2.0])
    for moved in (t.to("cpu"), t.cpu(), t.to(sj.device("cpu")), t.to(device="cpu")):
        assert moved.device == sj.device("cpu")
        assert moved.dtype == sj.float32
        assert moved.tolist() == [1.0, 2.0]
    both = t.to("cpu", sj.float64)
    assert both.dtype == sj.float64 and both.tolist() == [1.0, 2.0]


def test_to_cpu_keeps_autograd():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    (x.to("cpu") * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("target", ["cuda", "cuda:0"])
def test_to_cuda_raises(target):
    t = sj.tensor([1.0])
    with pytest.raises(RuntimeError) as info:
        t.to(target)
    assert "cuda" in str(info.value).lower()


def test_cuda_method_raises_if_present():
    t = sj.tensor([1.0])
    if not hasattr(t, "cuda"):
        pytest.skip("no .cuda() method")
    with pytest.raises(RuntimeError) as info:
        t.cuda()
    assert "cuda" in str(info.value).lower()


# --------------------------------------------------------------------------------------------------
# leaves and requires_grad
# --------------------------------------------------------------------------------------------------

def test_is_leaf():
    x = sj.tensor([1.0, 2.0], requires_grad=True)
    c = sj.tensor([1.0, 2.0])
    assert x.is_leaf and c.is_leaf
    y = x * 2
    assert not y.is_leaf
    assert y.requires_grad
    z = c * 2                                    # no input requires grad: result is a leaf (torch)
    assert z.is_leaf and not z.requires_grad and z.grad_fn is None
    assert x.grad_fn is None
    assert y.grad_fn is not None
    assert x.detach().is_leaf


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_requires_grad_float_dtypes(dtype):
    t = sj.tensor([1.0], dtype=getattr(sj, dtype), requires_grad=True)
    assert t.requires_grad


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_requires_grad_refused_for_non_float(dtype):
    data = [1, 0]
    with pytest.raises(RuntimeError, match="floating point"):
        sj.tensor(data, dtype=getattr(sj, dtype), requires_grad=True)
    t = sj.tensor(data, dtype=getattr(sj, dtype))
    with pytest.raises(RuntimeError, match="floating point"):
        t.requires_grad_()
    with pytest.raises(RuntimeError):
        t.requires_grad = True
    t.requires_grad_(False)                    # turning it off is fine
    assert not t.requires_grad


def test_requires_grad_setter_on_leaf():
    t = sj.tensor([1.0])
    t.requires_grad = True
    assert t.requires_grad and t.is_leaf
    (t * 3).sum().backward()
    assert t.grad.tolist() == [3.0]


def test_int_results_do_not_require_grad():
    x = sj.tensor([1.0, 2.5], requires_grad=True)
    idx = x.argmax()
    assert idx.dtype == sj.int64
    assert not idx.requires_grad
    mask = x > 2
    assert mask.dtype == sj.bool and not mask.requires_grad
