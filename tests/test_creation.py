"""Tensor creation: constructors, dtype inference, NumPy interop and random number generation.

Expected values and dtypes come from PyTorch 2.13 (the reference) or from plain maths.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shenjing as sj


def dtype_name(dtype) -> str:
    """'float32' for shenjing.float32 and for torch.float32."""
    return str(dtype).split(".")[-1]


def assert_same(t_sj, t_torch, exact=True):
    """Same shape, same dtype name, same values as the torch reference tensor."""
    assert tuple(t_sj.shape) == tuple(t_torch.shape), f"shape {tuple(t_sj.shape)} vs torch {tuple(t_torch.shape)}"
    assert dtype_name(t_sj.dtype) == dtype_name(t_torch.dtype), f"dtype {t_sj.dtype} vs torch {t_torch.dtype}"
    a = np.asarray(t_sj.detach().numpy())
    b = t_torch.detach().numpy()
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------------------------------
# sj.tensor: dtype inference from Python data and NumPy arrays
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    [1.0, 2.0, 3.0],
    [[1.0, 2.0], [3.0, 4.0]],
    [[[1.5], [2.5]], [[3.5], [4.5]]],
    [1, 2.5],                 # mixed int/float -> float32
    3.5,                      # scalar -> 0-dim float32
    [1, 2, 3],
    [[1, 2], [3, 4]],
    7,                        # scalar int -> 0-dim int64
    [True, False, True],
    [[True], [False]],
    True,
    [],                       # empty -> float32, shape (0,)
])
def test_tensor_from_python_data_matches_torch(data):
    assert_same(sj.tensor(data), torch.tensor(data))


def test_tensor_dtype_inference_names():
    assert sj.tensor([1.0, 2.0]).dtype == sj.float32
    assert sj.tensor([1, 2]).dtype == sj.int64
    assert sj.tensor([True, False]).dtype == sj.bool
    assert sj.tensor([[1.0, 2.0], [3.0, 4.0]]).shape == (2, 2)
    assert sj.tensor(2.0).shape == ()
    assert sj.tensor(2.0).dim() == 0


@pytest.mark.parametrize("np_dtype,sj_name", [
    (np.float64, "float64"), (np.float32, "float32"), (np.int64, "int64"), (np.int32, "int32"), (np.bool_, "bool"),
])
def test_tensor_from_numpy_array_keeps_dtype(np_dtype, sj_name):
    arr = np.array([[1, 0, 3], [4, 5, 0]]).astype(np_dtype)
    t = sj.tensor(arr)
    assert dtype_name(t.dtype) == sj_name == dtype_name(torch.tensor(arr).dtype)
    np.testing.assert_array_equal(t.numpy(), arr)


def test_tensor_copies_numpy_data():
    arr = np.array([1.0, 2.0, 3.0])
    t = sj.tensor(arr)
    arr[0] = 100.0
    assert t[0].item() == 1.0, "sj.tensor must copy its data (torch.tensor always copies)"


def test_tensor_dtype_kwarg():
    t = sj.tensor([1, 2, 3], dtype=sj.float64)
    assert t.dtype == sj.float64
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    t = sj.tensor([1.7, -2.7], dtype=sj.int64)
    assert t.dtype == sj.int64
    np.testing.assert_array_equal(t.numpy(), torch.tensor([1.7, -2.7], dtype=torch.int64).numpy())
    t = sj.tensor([0.0, 2.0], dtype=sj.bool)
    assert t.dtype == sj.bool
    assert t.tolist() == [False, True]
    assert sj.tensor([1, 2], dtype=sj.int32).dtype == sj.int32


def test_float64_from_python_floats_keeps_full_precision():
    # torch converts Python floats straight to the requested dtype: 0.1 stays the float64 0.1
    assert sj.tensor(0.1, dtype=sj.float64).item() == 0.1
    assert sj.tensor([0.22, 0.26], dtype=sj.float64).tolist() == [0.22, 0.26]
    assert sj.tensor([[0.1, 0.2]], dtype=sj.float64, requires_grad=True).tolist() == [[0.1, 0.2]]
    assert sj.full((2,), 0.1, dtype=sj.float64).tolist() == [0.1, 0.1]
    assert sj.as_tensor([0.3], dtype=sj.float64).tolist() == [0.3]
    assert sj.tensor([0.1]).double().item() == torch.tensor([0.1]).double().item()   # via float32 here


def test_tensor_requires_grad_kwarg():
    t = sj.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad
    assert t.is_leaf
    assert t.grad is None
    assert not sj.tensor([1.0, 2.0]).requires_grad


def test_tensor_from_tensor_list_of_scalars():
    # torch.tensor accepts a list of 0-dim tensors
    t = sj.tensor([sj.tensor(1.5), sj.tensor(2.5)])
    assert t.dtype == sj.float32
    np.testing.assert_array_equal(t.numpy(), [1.5, 2.5])


# --------------------------------------------------------------------------------------------------
# as_tensor / from_numpy share memory
# --------------------------------------------------------------------------------------------------

def test_from_numpy_shares_memory_both_ways():
    arr = np.array([1.0, 2.0, 3.0])
    t = sj.from_numpy(arr)
    assert t.dtype == sj.float64
    arr[0] = 10.0
    assert t[0].item() == 10.0, "changing the ndarray must change the tensor"
    t[1] = 20.0
    assert arr[1] == 20.0, "changing the tensor must change the ndarray"
    t.add_(1.0)
    np.testing.assert_array_equal(arr, [11.0, 21.0, 4.0])


def test_from_numpy_keeps_dtypes():
    for np_dtype in (np.float32, np.float64, np.int64, np.int32, np.bool_):
        arr = np.zeros(3, dtype=np_dtype)
        assert dtype_name(sj.from_numpy(arr).dtype) == dtype_name(torch.from_numpy(arr).dtype)


def test_from_numpy_numpy_roundtrip_shares_memory():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = sj.from_numpy(arr)
    back = t.numpy()
    back[1, 2] = -1.0
    assert arr[1, 2] == -1.0
    assert t[1, 2].item() == -1.0


def test_as_tensor_shares_memory_with_ndarray():
    arr = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    t = sj.as_tensor(arr)
    assert t.dtype == sj.float32
    arr[0, 0] = -5.0
    assert t[0, 0].item() == -5.0
    t.mul_(2.0)
    np.testing.assert_array_equal(arr, [[-10.0, 4.0], [6.0, 8.0]])


def test_as_tensor_from_list_and_dtype():
    t = sj.as_tensor([1, 2, 3])
    assert t.dtype == sj.int64
    t = sj.as_tensor([1, 2, 3], dtype=sj.float32)
    assert t.dtype == sj.float32
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])


def test_as_tensor_of_tensor_returns_same_data():
    a = sj.tensor([1.0, 2.0])
    b = sj.as_tensor(a)
    b[0] = 7.0
    assert a[0].item() == 7.0  # torch.as_tensor returns the tensor itself when no conversion is needed


# --------------------------------------------------------------------------------------------------
# zeros / ones / full / empty / eye / arange / linspace
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["zeros", "ones"])
def test_zeros_ones(name):
    f_sj, f_t = getattr(sj, name), getattr(torch, name)
    assert_same(f_sj(2, 3), f_t(2, 3))
    assert_same(f_sj((2, 3)), f_t((2, 3)))
    assert_same(f_sj([4]), f_t([4]))
    assert_same(f_sj(3), f_t(3))
    assert_same(f_sj(()), f_t(()))           # 0-dim
    assert_same(f_sj(0, 2), f_t(0, 2))       # empty
    assert_same(f_sj(2, 2, dtype=sj.int64), f_t(2, 2, dtype=torch.int64))
    assert_same(f_sj(2, dtype=sj.float64), f_t(2, dtype=torch.float64))
    assert_same(f_sj(2, dtype=sj.bool), f_t(2, dtype=torch.bool))
    assert_same(f_sj(sj.Size([2, 1])), f_t(torch.Size([2, 1])))


def test_zeros_requires_grad():
    t = sj.zeros(2, 2, requires_grad=True)
    assert t.requires_grad and t.is_leaf


@pytest.mark.parametrize("shape,fill,dtype", [
    ((2, 3), 7.0, None),
    ((2, 3), 7, None),        # int fill -> int64 like torch
    ((3,), True, None),       # bool fill -> bool
    ((2, 2), 2.5, "float64"),
    ((2,), 3, "float32"),
    ((), -1.5, None),
])
def test_full(shape, fill, dtype):
    kw_sj = {} if dtype is None else {"dtype": getattr(sj, dtype)}
    kw_t = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    assert_same(sj.full(shape, fill, **kw_sj), torch.full(shape, fill, **kw_t))


def test_empty_shape_and_dtype():
    t = sj.empty(2, 3)
    assert t.shape == (2, 3)
    assert t.dtype == sj.float32
    t = sj.empty((4,), dtype=sj.int64)
    assert t.shape == (4,)
    assert t.dtype == sj.int64
    assert sj.empty(0).numel() == 0


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (1,), (0,)])
def test_eye(args):
    assert_same(sj.eye(*args), torch.eye(*args))


def test_eye_dtype():
    assert_same(sj.eye(3, dtype=sj.int64), torch.eye(3, dtype=torch.int64))
    assert_same(sj.eye(2, dtype=sj.float64), torch.eye(2, dtype=torch.float64))


@pytest.mark.parametrize("args,kwargs", [
    ((5,), {}),
    ((2, 7), {}),
    ((0, 10, 3), {}),
    ((10, 0, -2), {}),
    ((1.0, 4.0), {}),
    ((0, 1, 0.1), {}),
    ((-1, 1, 0.25), {}),
    ((0, 2.5, 0.5), {}),
    ((0.5,), {}),
    ((3,), {"dtype": "float32"}),
    ((1, 3), {"dtype": "float64"}),
    ((0, 1, 0.3), {"dtype": "float64"}),
])
def test_arange(args, kwargs):
    kw_sj = {k: getattr(sj, v) for k, v in kwargs.items()}
    kw_t = {k: getattr(torch, v) for k, v in kwargs.items()}
    assert_same(sj.arange(*args, **kw_sj), torch.arange(*args, **kw_t), exact=False)


def test_arange_int_args_give_int64_and_float_step_length():
    assert sj.arange(4).dtype == sj.int64
    assert sj.arange(1, 4).dtype == sj.int64
    assert sj.arange(0.0, 1.0).dtype == sj.float32
    assert sj.arange(0, 1, 0.1).shape == (10,)      # ceil((1-0)/0.1) = 10, like torch
    assert sj.arange(0, 1, 0.1).dtype == sj.float32
    assert sj.arange(5).tolist() == [0, 1, 2, 3, 4]


def test_arange_requires_grad():
    t = sj.arange(3.0, requires_grad=True)
    assert t.requires_grad and t.is_leaf


@pytest.mark.parametrize("args,kwargs", [
    ((0, 1, 5), {}),
    ((-1, 1), {"steps": 7}),
    ((3, -3, 4), {}),
    ((0, 10, 1), {}),
    ((2, 2, 3), {}),
    ((0, 1, 11), {"dtype": "float64"}),
])
def test_linspace(args, kwargs):
    kw_sj = {k: (getattr(sj, v) if k == "dtype" else v) for k, v in kwargs.items()}
    kw_t = {k: (getattr(torch, v) if k == "dtype" else v) for k, v in kwargs.items()}
    assert_same(sj.linspace(*args, **kw_sj), torch.linspace(*args, **kw_t), exact=False)


# --------------------------------------------------------------------------------------------------
# random tensors
# --------------------------------------------------------------------------------------------------

def test_rand_shape_dtype_range():
    sj.manual_seed(0)
    t = sj.rand(200, 50)
    assert t.shape == (200, 50)
    assert t.dtype == sj.float32
    a = t.numpy()
    assert a.min() >= 0.0 and a.max() < 1.0
    assert 0.45 < a.mean() < 0.55                   # uniform(0, 1): mean 0.5, sd of mean ~0.004
    assert 0.07 < a.var() < 0.097                   # 1/12 = 0.0833
    assert sj.rand((3, 2)).shape == (3, 2)
    assert sj.rand(4, dtype=sj.float64).dtype == sj.float64


def test_randn_shape_dtype_moments():
    sj.manual_seed(1)
    t = sj.randn(100, 100)
    assert t.shape == (100, 100)
    assert t.dtype == sj.float32
    a = t.numpy()
    assert abs(a.mean()) < 0.05
    assert 0.95 < a.std() < 1.05
    assert (a < 0).any() and (a > 0).any()
    assert sj.randn((2, 3)).shape == (2, 3)
    assert sj.randn(3, dtype=sj.float64).dtype == sj.float64
    t = sj.randn(3, requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_randint_shape_dtype_range():
    sj.manual_seed(2)
    t = sj.randint(0, 10, (1000,))
    assert t.shape == (1000,)
    assert t.dtype == sj.int64
    a = t.numpy()
    assert a.min() >= 0 and a.max() <= 9
    assert set(np.unique(a).tolist()) == set(range(10))   # 1000 draws cover all 10 values
    t = sj.randint(3, 6, (20, 5))
    assert t.shape == (20, 5)
    assert t.numpy().min() >= 3 and t.numpy().max() <= 5
    t = sj.randint(4, (50,))                                # randint(high, size)
    assert t.shape == (50,)
    assert t.numpy().min() >= 0 and t.numpy().max() <= 3
    assert sj.randint(0, 5, (3,), dtype=sj.int32).dtype == sj.int32


@pytest.mark.parametrize("n", [1, 5, 100])
def test_randperm_is_permutation(n):
    sj.manual_seed(3)
    p = sj.randperm(n)
    assert p.dtype == sj.int64
    assert p.shape == (n,)
    assert sorted(p.tolist()) == list(range(n))


def test_randperm_shuffles():
    sj.manual_seed(4)
    perms = {tuple(sj.randperm(20).tolist()) for _ in range(5)}
    assert len(perms) > 1
    assert any(p != tuple(range(20)) for p in perms)


# --------------------------------------------------------------------------------------------------
# *_like
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("src_dtype", ["float32", "float64", "int64"])
def test_zeros_ones_full_empty_like_keep_shape_and_dtype(src_dtype):
    t_t = torch.arange(6).reshape(2, 3).to(getattr(torch, src_dtype))
    t_sj = sj.tensor(t_t.numpy())
    assert_same(sj.zeros_like(t_sj), torch.zeros_like(t_t))
    assert_same(sj.ones_like(t_sj), torch.ones_like(t_t))
    assert_same(sj.full_like(t_sj, 4), torch.full_like(t_t, 4))
    e = sj.empty_like(t_sj)
    assert e.shape == (2, 3) and dtype_name(e.dtype) == src_dtype


def test_like_dtype_override_and_requires_grad():
    src = sj.tensor([[1, 2], [3, 4]])
    z = sj.zeros_like(src, dtype=sj.float64)
    assert z.dtype == sj.float64 and z.shape == (2, 2)
    o = sj.ones_like(src, dtype=sj.float32, requires_grad=True)
    assert o.requires_grad and o.is_leaf
    assert_same(sj.full_like(src, 2.5, dtype=sj.float32), torch.full_like(torch.tensor([[1, 2], [3, 4]]), 2.5,
                                                                          dtype=torch.float32))


def test_like_does_not_inherit_requires_grad_or_graph():
    src = sj.ones(2, 2, requires_grad=True)
    z = sj.zeros_like(src)
    assert not z.requires_grad
    assert z.grad_fn is None


def test_rand_randn_randint_like():
    sj.manual_seed(5)
    src = sj.zeros(30, 40, dtype=sj.float64)
    r = sj.rand_like(src)
    assert r.shape == (30, 40) and r.dtype == sj.float64
    assert r.numpy().min() >= 0 and r.numpy().max() < 1
    n = sj.randn_like(src)
    assert n.shape == (30, 40) and n.dtype == sj.float64
    assert 0.85 < n.numpy().std() < 1.15
    i = sj.randint_like(sj.zeros(100, dtype=sj.int64), 0, 3)
    assert i.shape == (100,) and i.dtype == sj.int64
    assert set(i.tolist()) <= {0, 1, 2}


# --------------------------------------------------------------------------------------------------
# manual_seed
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: sj.rand(5),
    lambda: sj.randn(2, 3),
    lambda: sj.randint(0, 100, (8,)),
    lambda: sj.randperm(10),
])
def test_manual_seed_reproducible(make):
    sj.manual_seed(123)
    a = make().numpy().copy()
    b = make().numpy().copy()
    sj.manual_seed(123)
    c = make().numpy().copy()
    d = make().numpy().copy()
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(b, d)
    assert not np.array_equal(a, b), "consecutive draws must differ"


def test_different_seeds_differ():
    sj.manual_seed(0)
    a = sj.randn(10).numpy().copy()
    sj.manual_seed(1)
    b = sj.randn(10).numpy().copy()
    assert not np.array_equal(a, b)


def test_manual_seed_also_covers_like_and_perm():
    sj.manual_seed(7)
    x = sj.randn_like(sj.zeros(4)).numpy().copy()
    p = sj.randperm(6).tolist()
    sj.manual_seed(7)
    np.testing.assert_array_equal(sj.randn_like(sj.zeros(4)).numpy(), x)
    assert sj.randperm(6).tolist() == p
