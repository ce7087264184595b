"""NaN, infinity, zero and other edges, each case run on shenjing and on PyTorch 2.13 (issue 16,
items 5 and 7): forward values and gradients at the points where formulas meet 0/0 or inf - inf,
integer division by zero, out-of-range indices, NaN in sorting, the implicit softmax dim, BCE dtypes,
duplicate parameters, and cross-entropy on a batch whose targets are all ignored."""

import warnings

import numpy as np
import pytest
import torch

import shenjing as sj

nan, inf = float("nan"), float("inf")
SPECIAL = [nan, inf, -inf, 0.0, -0.0, 1.0, -1.0, 0.5]


def F(lib):
    return lib.nn.functional


# name -> (function of (lib, x), the points: numbers (each a 1-element x) or lists (one x each))
GRADIENT_TABLE = {
    "relu": (lambda L, x: F(L).relu(x), SPECIAL),
    "leaky_relu": (lambda L, x: F(L).leaky_relu(x, 0.1), SPECIAL),
    "elu": (lambda L, x: F(L).elu(x), SPECIAL),
    "gelu": (lambda L, x: F(L).gelu(x), SPECIAL),
    "gelu tanh": (lambda L, x: F(L).gelu(x, approximate="tanh"), SPECIAL),
    "silu": (lambda L, x: F(L).silu(x), SPECIAL),
    "sigmoid": (lambda L, x: x.sigmoid(), SPECIAL),
    "tanh": (lambda L, x: x.tanh(), SPECIAL),
    "softplus": (lambda L, x: F(L).softplus(x), SPECIAL),
    "logsigmoid": (lambda L, x: F(L).logsigmoid(x), SPECIAL),
    "softsign": (lambda L, x: F(L).softsign(x), SPECIAL),
    "hardtanh": (lambda L, x: F(L).hardtanh(x), SPECIAL),
    "relu6": (lambda L, x: F(L).relu6(x), SPECIAL + [6.0]),
    "threshold": (lambda L, x: F(L).threshold(x, 0.5, -2.0), SPECIAL),
    "abs": (lambda L, x: x.abs(), SPECIAL),
    "sign": (lambda L, x: x.sign(), SPECIAL),
    "sqrt": (lambda L, x: x.sqrt(), SPECIAL),
    "rsqrt": (lambda L, x: x.rsqrt(), SPECIAL),
    "exp": (lambda L, x: x.exp(), SPECIAL),
    "log": (lambda L, x: x.log(), SPECIAL),
    "log1p": (lambda L, x: x.log1p(), SPECIAL),
    "reciprocal": (lambda L, x: x.reciprocal(), SPECIAL),
    "x ** 0": (lambda L, x: x ** 0, SPECIAL),
    "x ** 1": (lambda L, x: x ** 1, SPECIAL),
    "x ** 2": (lambda L, x: x ** 2, SPECIAL),
    "x ** 3": (lambda L, x: x ** 3, SPECIAL),
    "x ** 0.5": (lambda L, x: x ** 0.5, SPECIAL),
    "x ** -0.5": (lambda L, x: x ** -0.5, SPECIAL),
    "x ** 1.5": (lambda L, x: x ** 1.5, SPECIAL),
    "x ** -1": (lambda L, x: x ** -1, SPECIAL),
    "x ** -2": (lambda L, x: x ** -2, SPECIAL),
    "0 ** x": (lambda L, x: 0.0 ** x, SPECIAL),
    "2 ** x": (lambda L, x: 2.0 ** x, SPECIAL),
    "x ** x": (lambda L, x: x ** x, SPECIAL),
    "x ** zeros": (lambda L, x: L.pow(x, L.zeros_like(x)), SPECIAL),
    "zeros ** x": (lambda L, x: L.pow(L.zeros_like(x), x), SPECIAL),
    "clamp(0, 1)": (lambda L, x: x.clamp(0, 1), SPECIAL),
    "clamp(min=0)": (lambda L, x: x.clamp(min=0), SPECIAL),
    "maximum(x, 1)": (lambda L, x: L.maximum(x, L.ones_like(x)), SPECIAL),
    "minimum(x, 1)": (lambda L, x: L.minimum(x, L.ones_like(x)), SPECIAL),
    "max()": (lambda L, x: x.max(), [[1.0, nan, 3.0], [nan, nan], [1.0, 3.0, 3.0], [inf, inf], [-inf, 1.0]]),
    "min()": (lambda L, x: x.min(), [[1.0, nan, 3.0], [1.0, 1.0], [-inf, 2.0], [nan, -inf, nan]]),
    "amax()": (lambda L, x: x.amax(), [[1.0, nan, 3.0], [1.0, 3.0, 3.0]]),
    "amin(0)": (lambda L, x: x.amin(0), [[1.0, nan, 3.0], [2.0, 2.0]]),
    "max(0)": (lambda L, x: x.max(0)[0], [[1.0, nan, 3.0], [1.0, 3.0, 3.0], [nan, nan]]),
    "min(0)": (lambda L, x: x.min(0)[0], [[1.0, nan, 3.0], [1.0, 1.0]]),
    "std() one element": (lambda L, x: x.std(), [[2.0]]),
    "var() one element": (lambda L, x: x.var(), [[2.0]]),
    "std() constant": (lambda L, x: x.std(), [[2.0, 2.0, 2.0]]),
    "std(0) of rows of one": (lambda L, x: x.reshape(1, -1).std(0), [[2.0, 3.0]]),
    "std(unbiased=False) one element": (lambda L, x: x.std(unbiased=False), [[2.0]]),
    "var(unbiased=False) constant": (lambda L, x: x.var(unbiased=False), [[2.0, 2.0]]),
    "std() with nan": (lambda L, x: x.std(), [[nan, 1.0]]),
    "norm() at 0": (lambda L, x: x.norm(), [[0.0, 0.0]]),
    "norm() with nan": (lambda L, x: x.norm(), [[nan, 1.0]]),
    "mean() with inf": (lambda L, x: x.mean(), [[inf, 1.0], [inf, -inf]]),
    "prod() with zeros": (lambda L, x: x.prod(), [[0.0, 2.0, 3.0], [0.0, 0.0, 2.0]]),
    "logsumexp(0)": (lambda L, x: x.logsumexp(0), [[inf, 1.0], [-inf, -inf], [nan, 1.0], [inf, inf]]),
    "softmax(0)": (lambda L, x: x.softmax(0), [[inf, 1.0], [-inf, 1.0], [nan, 1.0], [-inf, -inf]]),
    "log_softmax(0)": (lambda L, x: x.log_softmax(0), [[inf, 1.0], [-inf, 1.0], [nan, 1.0]]),
    "cumsum(0)": (lambda L, x: x.cumsum(0), [[inf, 1.0, nan]]),
    "smooth_l1 against 0": (lambda L, x: F(L).smooth_l1_loss(x, L.zeros_like(x), reduction="none"),
                            SPECIAL + [2.0]),
    "smooth_l1 beta=0.5": (lambda L, x: F(L).smooth_l1_loss(x, L.zeros_like(x), reduction="none", beta=0.5),
                           SPECIAL),
    "huber against 0": (lambda L, x: F(L).huber_loss(x, L.zeros_like(x), reduction="none"), SPECIAL),
    "huber delta=2": (lambda L, x: F(L).huber_loss(x, L.zeros_like(x), reduction="none", delta=2.0),
                      SPECIAL + [2.0]),
    "l1 against 0": (lambda L, x: F(L).l1_loss(x, L.zeros_like(x), reduction="none"), SPECIAL),
    "mse against 0": (lambda L, x: F(L).mse_loss(x, L.zeros_like(x), reduction="none"), SPECIAL),
    "bce, input gradient": (lambda L, x: F(L).binary_cross_entropy(
        x, L.tensor([1.0, 0.0, 0.5, 1.0, 0.0], dtype=x.dtype), reduction="none"),
        [[0.0, 1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 0.5, 0.5]]),
    "bce, target gradient": (lambda L, x: F(L).binary_cross_entropy(
        L.tensor([0.0, 1.0, 0.0, 1.0, 0.5], dtype=x.dtype), x, reduction="none"),
        [[0.0, 1.0, 1.0, 0.0, 0.5]]),
    "bce with logits": (lambda L, x: F(L).binary_cross_entropy_with_logits(x, L.full_like(x, 0.5),
                                                                            reduction="none"), SPECIAL),
    "bce with logits, target gradient": (lambda L, x: F(L).binary_cross_entropy_with_logits(
        L.tensor([inf, -inf, 0.0, nan], dtype=x.dtype), x, reduction="none"), [[0.5, 0.5, 1.0, 0.5]]),
    "cross_entropy with inf logit": (lambda L, x: F(L).cross_entropy(x.reshape(1, -1), L.tensor([0])),
                                     [[inf, 1.0], [-inf, 1.0], [nan, 1.0], [1.0, -inf]]),
    "kl_div": (lambda L, x: F(L).kl_div(x, L.tensor([0.0, 0.5, 0.5], dtype=x.dtype), reduction="sum"),
               [[-inf, -1.0, 0.0]]),
    "where(x > 0, x, 0)": (lambda L, x: L.where(x > 0, x, L.zeros_like(x)), SPECIAL),
    "sort descending values": (lambda L, x: x.sort(descending=True)[0], [[1.0, nan, 3.0]]),
    "topk values": (lambda L, x: x.topk(2)[0], [[1.0, nan, 3.0]]),
    "layer_norm": (lambda L, x: F(L).layer_norm(x.reshape(1, -1), (x.numel(),)), [[2.0, 2.0], [1.0, inf]]),
    "normalize at 0": (lambda L, x: F(L).normalize(x.reshape(1, -1)), [[0.0, 0.0]]),
}

GRADIENT_CASES = [(name, point, dtype) for name, (_, points) in GRADIENT_TABLE.items()
                  for point in points for dtype in ("float32", "float64")]


def _value_and_gradient(lib, name, point, dtype):
    function = GRADIENT_TABLE[name][0]
    x = lib.tensor(np.atleast_1d(np.array(point, dtype=dtype)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = function(lib, x)
        out.backward(lib.ones_like(out))
    return out.detach().numpy(), None if x.grad is None else x.grad.numpy()


@pytest.mark.parametrize("name,point,dtype", GRADIENT_CASES,
                         ids=[f"{n}-{p}-{d}" for n, p, d in GRADIENT_CASES])
def test_value_and_gradient_at_edges_match_torch(name, point, dtype):
    ours = _value_and_gradient(sj, name, point, dtype)
    theirs = _value_and_gradient(torch, name, point, dtype)
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[0], theirs[0], equal_nan=True, err_msg="value", **tolerance)
    assert (ours[1] is None) == (theirs[1] is None)
    if theirs[1] is not None:
        np.testing.assert_allclose(ours[1], theirs[1], equal_nan=True, err_msg="gradient", **tolerance)


def test_maximum_and_minimum_with_nan_send_the_gradient_to_both_inputs():
    grads = []
    for lib in (sj, torch):
        row = []
        for function in (lib.maximum, lib.minimum):
            a = lib.tensor([nan, 1.0, 2.0, 3.0], requires_grad=True)
            b = lib.tensor([1.0, nan, 2.0, 0.0], requires_grad=True)
            function(a, b).sum().backward()
            row += [a.grad.numpy().copy(), b.grad.numpy().copy()]
        grads.append(row)
    for ours, theirs in zip(*grads):
        np.testing.assert_array_equal(ours, theirs)


CLAMP_BOUNDS = {
    "min and max tensors": lambda L: (L.tensor([0.0, 1.0, 1.0, nan], requires_grad=True),
                                      L.tensor([[2.0], [0.5]], requires_grad=True)),
    "min tensor": lambda L: (L.tensor([0.0, 1.0, nan, -inf], requires_grad=True), None),
    "max tensor": lambda L: (None, L.tensor([0.0, 1.0, nan, inf], requires_grad=True)),
}


@pytest.mark.parametrize("name", sorted(CLAMP_BOUNDS))
def test_clamp_with_tensor_bounds_matches_torch_at_nan_and_ties(name):
    results = []
    for lib in (sj, torch):
        x = lib.tensor([[0.5, 3.0, -2.0, nan], [0.7, 1.0, 9.0, 0.0]], requires_grad=True)
        low, high = CLAMP_BOUNDS[name](lib)
        out = lib.clamp(x, low, high)
        out.backward(lib.ones_like(out))
        results.append([out.detach().numpy(), x.grad.numpy()] +
                       [b.grad.numpy() for b in (low, high) if isinstance(b, lib.Tensor)])
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


def test_pow_of_two_tensors_at_zero_matches_torch():
    results = []
    for lib in (sj, torch):
        x = lib.tensor([0.0, 0.0, 0.0, 2.0, -1.0, nan], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([0.0, 2.0, -1.0, 0.0, 0.5, 0.0], dtype=lib.float64, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (x ** y).sum().backward()
        results.append((x.grad.numpy().copy(), y.grad.numpy().copy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


# -- integer division by zero ---------------------------------------------------------------------

INTEGER_DIVISIONS = {
    "a // b": lambda L, a, b: a // b,
    "a // 0": lambda L, a, b: a // 0,
    "a % b": lambda L, a, b: a % b,
    "a % 0": lambda L, a, b: a % 0,
    "floor_divide": lambda L, a, b: L.floor_divide(a, b),
    "div floor": lambda L, a, b: L.div(a, b, rounding_mode="floor"),
    "div trunc": lambda L, a, b: L.div(a, b, rounding_mode="trunc"),
    "remainder": lambda L, a, b: L.remainder(a, b),
    "fmod": lambda L, a, b: L.fmod(a, b),
    "fmod by 0": lambda L, a, b: L.fmod(a, 0),
    "a / b (true division)": lambda L, a, b: a / b,
    "a // 0.0 (float result)": lambda L, a, b: a // 0.0,
    "a % 0.0 (float result)": lambda L, a, b: a % 0.0,
    "5 // b": lambda L, a, b: 5 // b,
    "a.float() // 0": lambda L, a, b: a.float() // 0,
    "a.float() % 0": lambda L, a, b: a.float() % 0,
}

INTEGER_OPERANDS = {
    "int64 with a zero divisor": ([7, -7, 0], [2, 0, 3], "int64"),
    "int32 with a zero divisor": ([7, -7, 0], [0, 2, 3], "int32"),
    "uint8 with a zero divisor": ([7, 5, 0], [2, 0, 3], "uint8"),
    "int64, no zero": ([7, -7, 6, -6, 2 ** 60 + 1], [2, 2, -4, 4, 1], "int64"),
}


def _division_outcome(lib, name, operands):
    a_values, b_values, dtype = INTEGER_OPERANDS[operands]
    a = lib.tensor(a_values, dtype=getattr(lib, dtype))
    b = lib.tensor(b_values, dtype=getattr(lib, dtype))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = INTEGER_DIVISIONS[name](lib, a, b)
    except Exception as error:  # compared by type and message with PyTorch's
        return type(error), str(error)
    return result.numpy(), str(result.dtype).split(".")[-1]


DIVISION_CASES = [(n, o) for n in INTEGER_DIVISIONS for o in INTEGER_OPERANDS]


@pytest.mark.parametrize("name,operands", DIVISION_CASES, ids=[f"{n}-{o}" for n, o in DIVISION_CASES])
def test_integer_division_matches_torch(name, operands):
    ours = _division_outcome(sj, name, operands)
    theirs = _division_outcome(torch, name, operands)
    if isinstance(theirs[0], type):
        assert ours[0] is theirs[0]
        assert theirs[1] in ours[1]  # PyTorch's message is "ZeroDivisionError"
        return
    assert not isinstance(ours[0], type), ours
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[1] == theirs[1]


def test_fmod_and_remainder_gradients_match_torch():
    grads = []
    for lib in (sj, torch):
        row = []
        for function in (lib.fmod, lib.remainder):
            a = lib.tensor([5.5, -5.5, 3.0, -0.5], dtype=lib.float64, requires_grad=True)
            b = lib.tensor([2.0, 2.0, -2.0, 0.25], dtype=lib.float64, requires_grad=True)
            out = function(a, b)
            out.backward(lib.ones_like(out))
            row += [out.detach().numpy().copy(), a.grad.numpy().copy(), b.grad.numpy().copy()]
        grads.append(row)
    for ours, theirs in zip(*grads):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("rounding_mode", ["floor", "trunc"])
def test_rounded_division_of_floats_has_a_zero_gradient_as_torch(rounding_mode):
    results = []
    for lib in (sj, torch):
        a = lib.tensor([5.5, -3.0, 0.0], requires_grad=True)
        b = lib.tensor([2.0, 2.0, 0.0], requires_grad=True)
        out = lib.div(a, b, rounding_mode=rounding_mode) * 3 + a
        out.sum().backward()
        results.append((out.detach().numpy(), a.grad.numpy(), b.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("how", ["a // b", "floor_divide(a, 2)", "5.0 // b"])
def test_backward_through_float_floor_divide_raises_as_torch(how):
    for lib in (sj, torch):
        a = lib.tensor([5.5, -3.0], requires_grad=True)
        b = lib.tensor([2.0, 2.0], requires_grad=True)
        out = {"a // b": lambda: a // b, "floor_divide(a, 2)": lambda: lib.floor_divide(a, 2),
               "5.0 // b": lambda: 5.0 // b}[how]()
        assert out.requires_grad
        with pytest.raises(RuntimeError, match="derivative for .*floor_divide is not implemented"):
            (out + a + b).sum().backward()


# -- out-of-range and negative indices ------------------------------------------------------------

INDEXINGS = {
    "gather": lambda L, x, i: L.gather(x, 1, i.reshape(1, -1)),
    "scatter": lambda L, x, i: x.scatter(1, i.reshape(1, -1), 1.0),
    "scatter src": lambda L, x, i: x.scatter(1, i.reshape(1, -1), L.ones(1, i.numel())),
    "scatter_add": lambda L, x, i: x.scatter_add(1, i.reshape(1, -1), L.ones(1, i.numel())),
    "index_select": lambda L, x, i: L.index_select(x, 1, i),
    "index_add": lambda L, x, i: x.index_add(1, i, L.ones(1, i.numel())),
    "take_along_dim": lambda L, x, i: L.take_along_dim(x, i.reshape(1, -1), 1),
    "x[:, i]": lambda L, x, i: x[:, i],
}
INDEX_VALUES = {"in range": [0, 2], "-1": [-1], "-3": [-3], "-4": [-4], "3": [3], "mixed": [1, -1, 2]}
INDEX_CASES = [(n, v) for n in INDEXINGS for v in INDEX_VALUES]


@pytest.mark.parametrize("name,values", INDEX_CASES, ids=[f"{n}-{v}" for n, v in INDEX_CASES])
def test_indices_out_of_range_behave_as_torch(name, values):
    def outcome(lib):
        x = lib.tensor([[1.0, 2.0, 3.0]])
        try:
            return INDEXINGS[name](lib, x, lib.tensor(INDEX_VALUES[values])).numpy()
        except (IndexError, RuntimeError) as error:
            return error

    ours = outcome(sj)
    if name == "take_along_dim" and values in ("-4", "3"):
        # PyTorch does not check these and reads outside the tensor; shenjing refuses them
        assert isinstance(ours, IndexError) and "out of bounds" in str(ours)
        return
    theirs = outcome(torch)
    if isinstance(theirs, Exception):
        # (PyTorch raises IndexError or RuntimeError for the same mistake, depending on the op and the
        # dim; shenjing's error is both)
        assert isinstance(ours, type(theirs)), repr(ours)
    else:
        assert not isinstance(ours, Exception), repr(ours)
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("shape,dim", [((3,), 0), ((3, 2), 0), ((2, 3), 1), ((2, 3, 4), 1), ((2, 3, 4), 2)])
def test_index_select_and_index_add_refuse_minus_one_with_torch_type(shape, dim):
    for name in ("index_select", "index_add"):
        errors = []
        for lib in (sj, torch):
            x = lib.ones(shape)
            index = lib.tensor([-1])
            try:
                if name == "index_select":
                    lib.index_select(x, dim, index)
                else:
                    x.index_add(dim, index, lib.ones_like(lib.index_select(x, dim, lib.tensor([0]))))
            except (IndexError, RuntimeError) as error:
                errors.append(error)
        assert len(errors) == 2 and isinstance(errors[0], type(errors[1]))


# -- NaN in sort, argsort and topk ----------------------------------------------------------------

def _with_nans(seed, shape):
    """Distinct numbers (so that orders are unique) with NaN, inf and -inf among them."""
    rng = np.random.default_rng(seed)
    values = rng.permutation(np.prod(shape)).astype(np.float64).reshape(shape)
    flat = values.reshape(-1)
    flat[rng.choice(flat.size, 3, replace=False)] = [nan, inf, -inf]
    return values


SORTS = [(dim, descending, dtype) for dim in (0, 1, -1) for descending in (False, True)
         for dtype in ("float32", "float64")]


@pytest.mark.parametrize("dim,descending,dtype", SORTS, ids=[f"dim{d}-desc{s}-{t}" for d, s, t in SORTS])
def test_sort_and_argsort_put_nan_where_torch_does(dim, descending, dtype):
    for seed in range(4):
        values = _with_nans(seed, (4, 5)).astype(dtype)
        if seed >= 2:  # several NaNs (ties: the stable order decides)
            values[0, :3] = nan
            values[:, 1] = nan
        ours = sj.tensor(values).sort(dim=dim, descending=descending, stable=True)
        theirs = torch.tensor(values).sort(dim=dim, descending=descending, stable=True)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        np.testing.assert_array_equal(sj.tensor(values).argsort(dim=dim, descending=descending, stable=True).numpy(),
                                      torch.tensor(values).argsort(dim=dim, descending=descending,
                                                                   stable=True).numpy())


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_topk_counts_nan_as_largest(largest, k):
    for seed in range(4):
        values = _with_nans(seed, (3, 6)).astype(np.float32)
        ours = sj.tensor(values).topk(k, dim=1, largest=largest)
        theirs = torch.tensor(values).topk(k, dim=1, largest=largest)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_descending_sort_of_integers_matches_torch(dtype):
    info = np.iinfo(dtype) if dtype != "bool" else None
    values = [1, 0, 1, 0] if dtype == "bool" else [3, int(info.min), 0, int(info.max), 3, 1]
    ours = sj.tensor(np.array(values, dtype=dtype)).sort(descending=True, stable=True)
    theirs = torch.tensor(np.array(values, dtype=dtype)).sort(descending=True, stable=True)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


# -- softmax without dim, BCE dtypes, duplicate parameters ----------------------------------------

@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_without_dim_warns_and_takes_torch_legacy_dim(name, ndim):
    values = np.random.default_rng(ndim).standard_normal((2, 3, 4, 5)[:ndim]).astype(np.float32)
    results = []
    for lib in (sj, torch):
        with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}"):
            results.append(getattr(F(lib), name)(lib.tensor(values)).numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6, atol=1e-7)


BCE_DTYPES = [(i, t) for i in ("float32", "float64") for t in ("float32", "float64", "int64")]


@pytest.mark.parametrize("input_dtype,target_dtype", BCE_DTYPES, ids=[f"{i}-{t}" for i, t in BCE_DTYPES])
def test_binary_cross_entropy_dtypes_as_torch(input_dtype, target_dtype):
    outcomes = []
    for lib in (sj, torch):
        x = lib.tensor([0.25, 0.75], dtype=getattr(lib, input_dtype))
        t = lib.tensor([0, 1], dtype=getattr(lib, target_dtype))
        try:
            outcomes.append(F(lib).binary_cross_entropy(x, t).item())
        except RuntimeError as error:
            assert "Found dtype" in str(error)
            outcomes.append(RuntimeError)
    if outcomes[1] is RuntimeError:
        assert outcomes[0] is RuntimeError
    else:
        assert outcomes[0] == pytest.approx(outcomes[1], rel=1e-6)


OPTIMIZERS = {"SGD": dict(lr=0.1), "SGD momentum": dict(lr=0.1, momentum=0.9),
              "SGD nesterov": dict(lr=0.1, momentum=0.9, nesterov=True), "Adam": dict(lr=0.1),
              "AdamW": dict(lr=0.1), "RMSprop": dict(lr=0.01, momentum=0.5), "Adagrad": dict(lr=0.1),
              "Adadelta": dict(lr=1.0)}


@pytest.mark.parametrize("foreach", [None, False])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_duplicate_parameters_warn_and_update_as_torch(name, foreach):
    weights = []
    for lib in (sj, torch):
        w = lib.tensor([1.0, -2.0], requires_grad=True)
        other = lib.tensor([0.5], requires_grad=True)
        with pytest.warns(UserWarning, match="duplicate parameters"):
            optimizer = getattr(lib.optim, name.split()[0])([w, other, w], foreach=foreach, **OPTIMIZERS[name])
        for step in range(3):
            w.grad = lib.tensor([1.0, 0.5]) * (step + 1)
            other.grad = lib.tensor([1.0])
            optimizer.step()
        weights.append((w.detach().numpy().copy(), other.detach().numpy().copy()))
    np.testing.assert_allclose(weights[0][0], weights[1][0], rtol=1e-6)
    np.testing.assert_allclose(weights[0][1], weights[1][1], rtol=1e-6)


def test_a_parameter_in_two_groups_is_still_refused_as_torch():
    for lib in (sj, torch):
        w = lib.zeros(2, requires_grad=True)
        with pytest.raises(ValueError, match="more than one parameter group"):
            lib.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)


# -- cross-entropy on a batch whose targets are all ignored (item 5) ------------------------------

IGNORED = [
    ("cross_entropy", dict(), (4, 3)),
    ("cross_entropy", dict(label_smoothing=0.1), (4, 3)),
    ("cross_entropy", dict(label_smoothing=0.3), (2, 3, 5)),
    ("cross_entropy", dict(weight=[1.0, 2.0, 3.0]), (4, 3)),
    ("cross_entropy", dict(weight=[1.0, 2.0, 3.0], label_smoothing=0.2), (4, 3)),
    ("cross_entropy", dict(ignore_index=2), (4, 3)),
    ("cross_entropy", dict(), (2, 3, 2, 2)),
    ("cross_entropy", dict(), (3,)),
    ("cross_entropy", dict(label_smoothing=0.5), (3,)),
    ("cross_entropy", dict(reduction="sum"), (4, 3)),
    ("cross_entropy", dict(reduction="sum", label_smoothing=0.1), (4, 3)),
    ("cross_entropy", dict(reduction="none", label_smoothing=0.1), (4, 3)),
    ("nll_loss", dict(), (4, 3)),
    ("nll_loss", dict(weight=[1.0, 2.0, 3.0]), (4, 3)),
    ("nll_loss", dict(), (2, 3, 5)),
    ("nll_loss", dict(reduction="sum"), (4, 3)),
]


def _ignored_loss(lib, name, options, shape, dtype, create_graph):
    options = dict(options)
    if "weight" in options:
        options["weight"] = lib.tensor(options["weight"], dtype=getattr(lib, dtype))
    ignore = options.get("ignore_index", -100)
    values = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    x = lib.tensor(values, requires_grad=True)
    target_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = lib.full(target_shape, ignore, dtype=lib.int64)
    inputs = x if name == "cross_entropy" else x.log_softmax(1 if len(shape) > 1 else 0)
    loss = getattr(F(lib), name)(inputs, target, **options)
    (grad,) = lib.autograd.grad(loss.sum(), x, create_graph=create_graph)
    second = None
    if create_graph:
        grad.sum().backward()
        second = x.grad.numpy().copy()
    return loss.detach().numpy(), grad.detach().numpy(), second


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,options,shape", IGNORED, ids=[f"{n}-{o}-{s}" for n, o, s in IGNORED])
def test_every_target_ignored_gives_torch_loss_and_zero_gradient(name, options, shape, dtype, create_graph):
    ours = _ignored_loss(sj, name, options, shape, dtype, create_graph)
    theirs = _ignored_loss(torch, name, options, shape, dtype, create_graph)
    np.testing.assert_array_equal(ours[0], theirs[0])  # nan for 'mean', 0 for 'sum'
    np.testing.assert_array_equal(ours[1], theirs[1])  # zero
    assert not np.isnan(ours[1]).any()
    if create_graph:
        np.testing.assert_array_equal(ours[2], theirs[2])


def test_training_step_on_an_all_ignored_batch_keeps_weights_finite():
    finals = []
    for lib in (sj, torch):
        lib.manual_seed(0)
        model = lib.nn.Linear(4, 3)
        with lib.no_grad():
            model.weight.copy_(lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4), dtype=lib.float32))
            model.bias.zero_()
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        inputs = lib.tensor(np.ones((5, 4), np.float32))
        for targets in ([1, 2, 0, 1, 2], [-100] * 5, [0, 0, 1, 1, 2]):
            optimizer.zero_grad()
            loss = lib.nn.CrossEntropyLoss(label_smoothing=0.1)(model(inputs), lib.tensor(targets))
            loss.backward()
            optimizer.step()
        finals.append(model.weight.detach().numpy().copy())
    assert np.isfinite(finals[0]).all()
    np.testing.assert_allclose(finals[0], finals[1], rtol=1e-5, atol=1e-7)


# -- second derivatives of the ops whose backward changed -----------------------------------------

SECOND_ORDER = {
    "std": lambda L, x: x.std(),
    "max() * sum": lambda L, x: x.max() * x.sum(),
    "maximum squared": lambda L, x: (L.maximum(x, x.flip(0)) ** 2).sum(),
    "clamp with tensor bounds, cubed": lambda L, x: (x.clamp(L.zeros((), dtype=L.float64),
                                                             L.ones((), dtype=L.float64)) ** 3).sum(),
    "|x| ** tensor exponent": lambda L, x: (x.abs() ** L.tensor([2.0, 3.0, 0.0, 1.5], dtype=L.float64)).sum(),
    "smooth_l1 * sum": lambda L, x: F(L).smooth_l1_loss(x, L.zeros_like(x)) * x.sum(),
    "relu squared": lambda L, x: (F(L).relu(x) ** 2).sum(),
    "elu": lambda L, x: F(L).elu(x).sum(),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivatives_match_torch(name):
    values = np.array([0.3, -1.2, 2.0, 0.7])
    results = []
    for lib in (sj, torch):
        x = lib.tensor(values, requires_grad=True)
        (grad,) = lib.autograd.grad(SECOND_ORDER[name](lib, x), x, create_graph=True)
        (second,) = lib.autograd.grad((grad * lib.arange(4.0, dtype=lib.float64)).sum(), x)
        results.append(second.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-12)
