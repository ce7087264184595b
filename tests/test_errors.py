"""Bad input must give a clear error of the same type as PyTorch's, never a bare NumPy error.

Each case runs the same call in torch first: the exception type torch raises is the type shenjing must
raise (a subclass is fine). The message must then carry the information a user needs (shapes, dtypes,
indices), checked loosely so that torch's wording is not required word for word.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import shenjing as sj

# Messages exactly as NumPy words them. A message that starts like this is NumPy's error passed on
# unchanged; the library may quote NumPy after its own context ("index: ...: <numpy text>"), but not
# hand NumPy's text over as the whole message.
BARE_NUMPY = re.compile("|".join([
    r"^operands could not be broadcast",
    r"^could not broadcast input array",
    r"^non-broadcastable output operand",
    r"^matmul: Input operand",
    r"^shapes \(.*\) and \(.*\) not aligned",
    r"^all the input array dimensions",
    r"^all the input arrays must have same number of dimensions",
    r"^need at least one array to concatenate",
    r"^setting an array element with a sequence",
    r"^index -?\d+ is out of bounds for axis",
    r"^axis -?\d+ is out of bounds for array",
    r"^too many indices for array",
    r"^negative dimensions are not allowed",
    r"^cannot reshape array of size",
    r"^Cannot cast ufunc",
    r"^ufunc '",
    r"^zero-size array to reduction",
    r"^The truth value of an array",
    r"^only integer scalar arrays",
    r"^can only convert an array of size 1",
    r"^only length-1 arrays can be converted",
    r"^object too deep",
    r"^Maximum allowed size exceeded",
]))


def torch_error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return e
    pytest.fail("the torch reference call raised nothing: test bug")


def expect_error(fn_sj, fn_torch):
    """Run both; shenjing must raise the type torch raises (a subclass is fine). Returns the message."""
    ref = torch_error(fn_torch)
    expected_type = next(t for t in type(ref).__mro__
                         if t in (IndexError, TypeError, ValueError, RuntimeError, NotImplementedError))
    with pytest.raises(Exception) as info:
        fn_sj()
    err = info.value
    assert isinstance(err, expected_type), (
        f"shenjing raised {type(err).__module__}.{type(err).__name__}: {err}; torch raises "
        f"{expected_type.__name__}: {ref}")
    assert not type(err).__module__.startswith("numpy"), f"bare NumPy exception {type(err)}: {err}"
    msg = str(err)
    assert not BARE_NUMPY.search(msg.strip()), f"bare NumPy error message: {msg!r}"
    assert len(msg) >= 10, f"message too short to be informative: {msg!r}"
    return msg


def shape_forms(shape):
    shape = tuple(shape)
    forms = {str(list(shape)), str(shape)}
    if len(shape) > 1:
        forms.add("x".join(map(str, shape)))
        forms.add(" x ".join(map(str, shape)))
    return forms


def mentions_shape(msg, shape):
    return any(f in msg for f in shape_forms(shape))


# --------------------------------------------------------------------------------------------------
# broadcasting
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_broadcast_mismatch_names_both_shapes(op):
    f = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
         "div": lambda a, b: a / b}[op]
    msg = expect_error(lambda: f(sj.ones(2, 3), sj.ones(4)), lambda: f(torch.ones(2, 3), torch.ones(4)))
    full_shapes = mentions_shape(msg, (2, 3)) and mentions_shape(msg, (4,))
    torch_style = "(3)" in msg and "(4)" in msg          # "size of tensor a (3) must match ... b (4)"
    assert full_shapes or torch_style, f"message should name both shapes/sizes: {msg!r}"


def test_broadcast_mismatch_2d():
    msg = expect_error(lambda: sj.ones(2, 3) * sj.ones(3, 2), lambda: torch.ones(2, 3) * torch.ones(3, 2))
    assert (mentions_shape(msg, (2, 3)) and mentions_shape(msg, (3, 2))) or ("(3)" in msg and "(2)" in msg), msg


def test_maximum_broadcast_mismatch():
    msg = expect_error(lambda: sj.maximum(sj.ones(2), sj.ones(3)), lambda: torch.maximum(torch.ones(2), torch.ones(3)))
    assert (mentions_shape(msg, (2,)) and mentions_shape(msg, (3,))) or ("(2)" in msg and "(3)" in msg), msg


def test_inplace_broadcast_to_smaller_output():
    msg = expect_error(lambda: sj.ones(3).add_(sj.ones(2, 3)), lambda: torch.ones(3).add_(torch.ones(2, 3)))
    assert mentions_shape(msg, (3,)) and mentions_shape(msg, (2, 3)), msg


# --------------------------------------------------------------------------------------------------
# matmul
# --------------------------------------------------------------------------------------------------

def test_matmul_mismatch_names_both_shapes():
    msg = expect_error(lambda: sj.ones(2, 3) @ sj.ones(4, 5), lambda: torch.ones(2, 3) @ torch.ones(4, 5))
    assert mentions_shape(msg, (2, 3)) and mentions_shape(msg, (4, 5)), msg


def test_matmul_function_mismatch():
    msg = expect_error(lambda: sj.matmul(sj.ones(5, 2), sj.ones(3, 5)),
                       lambda: torch.matmul(torch.ones(5, 2), torch.ones(3, 5)))
    assert mentions_shape(msg, (5, 2)) and mentions_shape(msg, (3, 5)), msg


def test_matmul_1d_mismatch():
    msg = expect_error(lambda: sj.ones(3) @ sj.ones(4), lambda: torch.ones(3) @ torch.ones(4))
    assert "3" in msg and "4" in msg, msg


def test_matmul_matrix_vector_mismatch():
    msg = expect_error(lambda: sj.ones(2, 3) @ sj.ones(4), lambda: torch.ones(2, 3) @ torch.ones(4))
    assert "3" in msg and "4" in msg, msg


def test_matmul_batched_mismatch():
    msg = expect_error(lambda: sj.ones(2, 3, 4) @ sj.ones(2, 5, 6), lambda: torch.ones(2, 3, 4) @ torch.ones(2, 5, 6))
    assert "4" in msg and "5" in msg, msg


def test_matmul_zero_dim():
    msg = expect_error(lambda: sj.matmul(sj.tensor(1.0), sj.ones(2)),
                       lambda: torch.matmul(torch.tensor(1.0), torch.ones(2)))
    assert re.search(r"0-?d|1-?d|dim", msg, re.I), msg


def test_matmul_dtype_mismatch():
    msg = expect_error(lambda: sj.ones(2, 2) @ sj.ones(2, 2, dtype=sj.float64),
                       lambda: torch.ones(2, 2) @ torch.ones(2, 2, dtype=torch.float64))
    low = msg.lower()
    assert "float" in low and ("double" in low or "float64" in low), msg


# --------------------------------------------------------------------------------------------------
# cat / stack
# --------------------------------------------------------------------------------------------------

def test_cat_shape_mismatch_names_shapes():
    msg = expect_error(lambda: sj.cat([sj.ones(2, 3), sj.ones(2, 4)], dim=0),
                       lambda: torch.cat([torch.ones(2, 3), torch.ones(2, 4)], dim=0))
    full_shapes = mentions_shape(msg, (2, 3)) and mentions_shape(msg, (2, 4))
    sizes = re.search(r"\b3\b", msg) and re.search(r"\b4\b", msg)
    assert full_shapes or sizes, f"message should name the mismatching shapes: {msg!r}"


def test_cat_dim1_shape_mismatch():
    msg = expect_error(lambda: sj.cat([sj.ones(2, 3), sj.ones(5, 3)], dim=1),
                       lambda: torch.cat([torch.ones(2, 3), torch.ones(5, 3)], dim=1))
    assert (mentions_shape(msg, (2, 3)) and mentions_shape(msg, (5, 3))) or ("2" in msg and "5" in msg), msg


def test_cat_ndim_mismatch():
    msg = expect_error(lambda: sj.cat([sj.ones(2, 3), sj.ones(3)]), lambda: torch.cat([torch.ones(2, 3), torch.ones(3)]))
    assert "2" in msg and "1" in msg, msg


def test_cat_empty_list():
    expect_error(lambda: sj.cat([]), lambda: torch.cat([]))


def test_stack_shape_mismatch():
    msg = expect_error(lambda: sj.stack([sj.ones(2), sj.ones(3)]), lambda: torch.stack([torch.ones(2), torch.ones(3)]))
    assert mentions_shape(msg, (2,)) and mentions_shape(msg, (3,)), msg


# --------------------------------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------------------------------

def _names_dtype(msg, *names):
    low = msg.lower()
    return any(n in low for n in names)


def test_int_inplace_add_of_float_names_dtypes():
    msg = expect_error(lambda: sj.ones(2, dtype=sj.int64).add_(1.5), lambda: torch.ones(2, dtype=torch.long).add_(1.5))
    assert _names_dtype(msg, "float"), msg
    assert _names_dtype(msg, "long", "int64"), msg


def test_int_inplace_mul_of_float_tensor():
    msg = expect_error(lambda: sj.ones(2, dtype=sj.int64).mul_(sj.tensor([0.5, 0.5])),
                       lambda: torch.ones(2, dtype=torch.long).mul_(torch.tensor([0.5, 0.5])))
    assert _names_dtype(msg, "float") and _names_dtype(msg, "long", "int64"), msg


def test_bool_inplace_add_of_int():
    msg = expect_error(lambda: sj.ones(2, dtype=sj.bool).add_(1), lambda: torch.ones(2, dtype=torch.bool).add_(1))
    assert _names_dtype(msg, "bool") and _names_dtype(msg, "long", "int64"), msg


def test_float_inplace_of_int_is_fine():
    t = sj.ones(2)
    t.add_(sj.tensor([1, 2]))          # int into float: allowed, like torch
    assert t.dtype == sj.float32 and t.tolist() == [2.0, 3.0]


def test_mean_of_int_tensor():
    msg = expect_error(lambda: sj.tensor([1, 2, 3]).mean(), lambda: torch.tensor([1, 2, 3]).mean())
    assert _names_dtype(msg, "float", "long", "int64"), msg


def test_requires_grad_on_int_tensor():
    msg = expect_error(lambda: sj.tensor([1, 2], requires_grad=True), lambda: torch.tensor([1, 2], requires_grad=True))
    assert "float" in msg.lower(), msg


def test_one_hot_of_float_tensor():
    expect_error(lambda: sj.nn.functional.one_hot(sj.tensor([0.0, 1.0]), 3),
                 lambda: torch.nn.functional.one_hot(torch.tensor([0.0, 1.0]), 3))


def test_one_hot_class_out_of_range():
    expect_error(lambda: sj.nn.functional.one_hot(sj.tensor([0, 3]), 3),
                 lambda: torch.nn.functional.one_hot(torch.tensor([0, 3]), 3))


# --------------------------------------------------------------------------------------------------
# indexing and dims
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("index", [3, -4, 10])
def test_index_out_of_range_1d(index):
    msg = expect_error(lambda: sj.ones(3)[index], lambda: torch.ones(3)[index])
    assert str(index) in msg and "3" in msg, msg


def test_index_out_of_range_2d():
    msg = expect_error(lambda: sj.ones(2, 3)[0, 5], lambda: torch.ones(2, 3)[0, 5])
    assert "5" in msg, msg
    expect_error(lambda: sj.ones(2, 3)[2], lambda: torch.ones(2, 3)[2])


def test_tensor_index_out_of_range():
    msg = expect_error(lambda: sj.ones(3)[sj.tensor([0, 5])], lambda: torch.ones(3)[torch.tensor([0, 5])])
    assert "5" in msg, msg


def test_too_many_indices():
    expect_error(lambda: sj.ones(3)[0, 0], lambda: torch.ones(3)[0, 0])


def test_setitem_out_of_range():
    def f(lib):
        t = lib.ones(3)
        t[3] = 1.0
    expect_error(lambda: f(sj), lambda: f(torch))


@pytest.mark.parametrize("call", [
    lambda lib: lib.ones(2, 3).sum(dim=2),
    lambda lib: lib.ones(2, 3).sum(dim=-3),
    lambda lib: lib.ones(2, 3).mean(dim=3),
    lambda lib: lib.ones(2, 3).max(dim=5),
    lambda lib: lib.ones(2, 3).transpose(0, 2),
    lambda lib: lib.ones(2, 3).unsqueeze(4),
    lambda lib: lib.nn.functional.softmax(lib.ones(2), dim=1),
    lambda lib: lib.nn.functional.log_softmax(lib.ones(2, 2), dim=2),
])
def test_dim_out_of_range_is_index_error(call):
    msg = expect_error(lambda: call(sj), lambda: call(torch))
    assert re.search(r"\d", msg), f"message should give the dim and the valid range: {msg!r}"


# --------------------------------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["view", "reshape"])
def test_invalid_view_shape(method):
    msg = expect_error(lambda: getattr(sj.ones(6), method)(4), lambda: getattr(torch.ones(6), method)(4))
    assert "4" in msg and "6" in msg, msg


def test_invalid_reshape_with_minus_one():
    msg = expect_error(lambda: sj.ones(2, 3).reshape(-1, 4), lambda: torch.ones(2, 3).reshape(-1, 4))
    assert "4" in msg and "6" in msg, msg


def test_invalid_expand():
    msg = expect_error(lambda: sj.ones(2, 3).expand(4, 3), lambda: torch.ones(2, 3).expand(4, 3))
    assert "4" in msg and "2" in msg, msg


def test_negative_dimension():
    expect_error(lambda: sj.zeros(-1), lambda: torch.zeros(-1))


def test_arange_zero_step():
    expect_error(lambda: sj.arange(0, 5, 0), lambda: torch.arange(0, 5, 0))


def test_randint_empty_range():
    expect_error(lambda: sj.randint(5, 5, (2,)), lambda: torch.randint(5, 5, (2,)))


# --------------------------------------------------------------------------------------------------
# construction and Python protocol errors
# --------------------------------------------------------------------------------------------------

def test_ragged_nested_list():
    msg = expect_error(lambda: sj.tensor([[1, 2], [3]]), lambda: torch.tensor([[1, 2], [3]]))
    assert "2" in msg and "1" in msg, msg


def test_tensor_from_string():
    expect_error(lambda: sj.tensor("abc"), lambda: torch.tensor("abc"))


def test_add_string():
    expect_error(lambda: sj.ones(2) + "a", lambda: torch.ones(2) + "a")


def test_item_of_several_elements():
    msg = expect_error(lambda: sj.ones(2).item(), lambda: torch.ones(2).item())
    assert "2" in msg, msg


def test_bool_of_several_elements():
    expect_error(lambda: bool(sj.ones(2)), lambda: bool(torch.ones(2)))


def test_float_of_several_elements():
    expect_error(lambda: float(sj.ones(2)), lambda: float(torch.ones(2)))


def test_len_of_zero_dim():
    expect_error(lambda: len(sj.tensor(1.0)), lambda: len(torch.tensor(1.0)))


def test_backward_without_grad():
    msg = expect_error(lambda: sj.ones(2).sum().backward(), lambda: torch.ones(2).sum().backward())
    assert "grad" in msg, msg


def test_numpy_of_requires_grad():
    msg = expect_error(lambda: sj.ones(2, requires_grad=True).numpy(), lambda: torch.ones(2, requires_grad=True).numpy())
    assert "detach" in msg, msg
