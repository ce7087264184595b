"""Tensor methods, creation functions, samplers and process-wide switches of issue 18's breadth,
against PyTorch (or against the distribution, for the samplers)."""

import array
import math
import warnings

import numpy as np
import pytest
import torch

import shenjing as sj
from tests.helpers import check_op

rng = np.random.default_rng(3)


def r(*shape):
    return rng.standard_normal(shape)


# -- in-place shape ops ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, args", [("squeeze_", (1,)), ("squeeze_", ()), ("unsqueeze_", (0,)), ("t_", ()),
                                        ("transpose_", (0, 2)), ("swapdims_", (1, 2)), ("swapaxes_", (0, 1)),
                                        ("as_strided_", ((3, 2), (1, 3)))])
def test_inplace_shape_ops(name, args):
    data = r(2, 1, 3) if name != "t_" else r(2, 3)
    if name == "as_strided_":
        data = r(2, 3)
    ours, theirs = sj.tensor(data), torch.tensor(data)
    assert getattr(ours, name)(*args) is ours
    getattr(theirs, name)(*args)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())

    def through(lib, x):  # recorded on a non-leaf: gradients flow back through the shape change
        y = x * 1.0
        getattr(y, name)(*args)
        return y * 2
    check_op(lambda x: through(sj, x), lambda x: through(torch, x), data)


def test_inplace_shape_op_on_a_leaf_that_requires_grad_is_refused():
    with pytest.raises(RuntimeError, match="leaf Variable"):
        sj.zeros(2, 1, requires_grad=True).squeeze_()


def test_resize_set_and_sum_to_size():
    x, t = sj.arange(6.), torch.arange(6.)
    x.resize_(2, 2)
    t.resize_(2, 2)
    np.testing.assert_array_equal(x.numpy(), t.numpy())
    y = sj.arange(3.)
    y.resize_(2, 3)
    assert tuple(y.shape) == (2, 3) and y.flatten()[:3].tolist() == [0.0, 1.0, 2.0]
    z = sj.zeros(5)
    z.resize_as_(sj.zeros(2, 2))
    assert tuple(z.shape) == (2, 2)
    with pytest.warns(UserWarning, match="deprecated"):
        assert tuple(sj.zeros(4).resize(2, 2).shape) == (2, 2)
    source = sj.arange(4.)
    target = sj.zeros(1)
    target.set_(source)
    source[0] = 9.0
    assert target[0].item() == 9.0 and target.is_set_to(source)
    assert not target.is_set_to(sj.arange(4.))
    check_op(lambda x: x.sum_to_size(1, 3), lambda x: x.sum_to_size(1, 3), r(2, 3))
    check_op(lambda x: x.sum_to_size(3), lambda x: x.sum_to_size(3), r(4, 2, 3)[:, 0])
    with pytest.raises(RuntimeError, match="expandable"):
        sj.zeros(2, 3).sum_to_size(4)


@pytest.mark.parametrize("shape, wrap", [((3, 3), False), ((7, 3), True), ((7, 3), False), ((3, 5), False),
                                         ((2, 2, 2), False)])
def test_fill_diagonal_(shape, wrap):
    ours, theirs = sj.zeros(*shape), torch.zeros(*shape)
    ours.fill_diagonal_(5.0, wrap)
    theirs.fill_diagonal_(5.0, wrap)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# -- casts, constructors, element-wise Python functions -------------------------------------------

def test_casts_and_new():
    x = sj.tensor([1.7, -2.2])
    for name in ("byte", "char", "short"):
        ours, theirs = getattr(sj.tensor([1.7, 2.2]), name)(), getattr(torch.tensor([1.7, 2.2]), name)()
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(TypeError, match="bfloat16"):
        x.bfloat16()
    assert x.new(2, 3).shape == (2, 3) and x.new(2, 3).dtype == sj.float32
    assert x.new([1, 2]).tolist() == [1.0, 2.0] and tuple(x.new().shape) == (0,)
    assert sj.zeros(1, dtype=sj.int64).new(sj.Size([2])).dtype == sj.int64


def test_apply_map_map2():
    x = sj.tensor([1.0, 2.0, 3.0])
    x.apply_(lambda v: v * 10)
    assert x.tolist() == [10.0, 20.0, 30.0]
    x.map_(sj.tensor([1.0, 2.0, 3.0]), lambda a, b: a - b)
    assert x.tolist() == [9.0, 18.0, 27.0]
    x.map2_(sj.tensor(1.0), sj.tensor([0.0, 1.0, 2.0]), lambda a, b, c: a + b * c)
    assert x.tolist() == [9.0, 19.0, 29.0]
    with pytest.raises(RuntimeError):
        sj.zeros(2, requires_grad=True).apply_(abs)


# -- autograd hooks --------------------------------------------------------------------------------

def test_post_accumulate_grad_hook_sees_the_accumulated_grad():
    for lib in (sj, torch):
        w = lib.ones(2, requires_grad=True)
        seen = []
        handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.clone().tolist()))
        (w * 3).sum().backward()
        (w * 2).sum().backward()
        handle.remove()
        (w * 2).sum().backward()
        assert seen == [[3.0, 3.0], [5.0, 5.0]], lib
    with pytest.raises(RuntimeError, match="non-leaf"):
        (sj.ones(1, requires_grad=True) * 2).register_post_accumulate_grad_hook(print)


# -- properties and predicates ---------------------------------------------------------------------

def test_properties_and_predicates():
    x = sj.zeros(2, 3)
    assert x.get_device() == -1 == torch.zeros(1).get_device() and sj.get_device(x) == -1
    assert x.is_cpu and repr(x.layout) == "shenjing.strided"
    assert not x.is_inference() and not sj.is_inference(x) and not x.is_distributed()
    leaf = sj.ones(2, requires_grad=True)
    assert leaf.grad_dtype == sj.float32 and torch.ones(2, requires_grad=True).grad_dtype == torch.float32
    with pytest.raises(RuntimeError, match="leaf"):
        (leaf * 2).grad_dtype
    with pytest.raises(NotImplementedError):
        leaf.grad_dtype = sj.float64
    w = sj.arange(6.)
    assert sj.as_strided_(w, (2, 2), (1, 2)) is w and w.tolist() == [[0.0, 2.0], [1.0, 3.0]]
    assert x.t().dim_order() == torch.zeros(2, 3).t().dim_order() and x.dim_order() == (0, 1)

    class Sub(sj.Tensor):
        pass
    y = x.as_subclass(Sub)
    assert isinstance(y, Sub) and y.shape == x.shape
    z = sj.tensor([-2.0, 0.0, 3.0])
    z.sgn_()
    assert z.tolist() == [-1.0, 0.0, 1.0]
    a = sj.tensor([1.0], requires_grad=True)
    assert sj.detach(a).requires_grad is False
    b = sj.zeros(3)
    assert sj.fill_(b, 2.0) is b and b.tolist() == [2.0] * 3 and sj.zero_(b).tolist() == [0.0] * 3
    c = sj.zeros(3)
    sj.index_put_(c, (sj.tensor([1]),), sj.tensor(4.0))
    assert c.tolist() == [0.0, 4.0, 0.0]


def test_inference_mode_is_reported():
    assert not sj.is_inference_mode_enabled()
    with sj.inference_mode():
        assert sj.is_inference_mode_enabled() and not sj.is_grad_enabled()
        with sj.inference_mode(False):
            assert not sj.is_inference_mode_enabled()
    assert not sj.is_inference_mode_enabled()

    @sj.inference_mode()
    def inside():
        return sj.is_inference_mode_enabled()
    assert inside() and not sj.is_inference_mode_enabled()


# -- creation --------------------------------------------------------------------------------------

def test_range_scalar_tensor_fill():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for args in ((0, 3), (1, 2, 0.3), (5, 1, -1.5), (0, 0.9, 0.3)):
            ours, theirs = sj.range(*args), torch.range(*args)
            assert ours.dtype == sj.float32
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
        assert sj.range(0, 3, dtype=sj.int64).tolist() == [0, 1, 2, 3]
    with pytest.warns(UserWarning, match="deprecated"):
        sj.range(0, 1)
    assert sj.scalar_tensor(3).dtype == sj.float32 and sj.scalar_tensor(3).shape == ()
    assert sj.scalar_tensor(3, dtype=sj.int64).item() == 3
    check_op(lambda x, v: sj.fill(x, v), lambda x, v: torch.fill(x, v), r(2, 3), np.array(1.5))
    assert sj.fill(sj.zeros(2, dtype=sj.int64), 7).tolist() == [7, 7]


def test_asarray_frombuffer_from_file_dlpack(tmp_path):
    a = np.zeros(3, dtype=np.float32)
    t = sj.asarray(a)
    a[0] = 4.0
    assert t[0].item() == 4.0  # shares memory
    assert sj.asarray(a, copy=True) is not t and sj.asarray(a, dtype=sj.float64).dtype == sj.float64
    with pytest.raises(ValueError, match="copy"):
        sj.asarray(a, dtype=sj.float64, copy=False)
    assert sj.asarray([1, 2]).dtype == sj.int64 and sj.asarray([1.0]).dtype == sj.float32
    assert sj.asarray(t) is t
    assert sj.asarray(t, requires_grad=True).requires_grad
    buffer = array.array("i", [1, 2, 3, 4])
    ours = sj.frombuffer(buffer, dtype=sj.int32, count=2, offset=4)
    theirs = torch.frombuffer(buffer, dtype=torch.int32, count=2, offset=4)
    assert ours.tolist() == theirs.tolist() == [2, 3]
    ours[0] = 9
    assert buffer[1] == 9
    with pytest.raises(ValueError):
        sj.frombuffer(buffer, dtype=sj.int32, count=5)
    path = tmp_path / "values.bin"
    np.arange(5, dtype=np.float64).tofile(path)
    assert sj.from_file(str(path), size=3, dtype=sj.float64).tolist() == [0.0, 1.0, 2.0]
    shared = sj.from_file(str(path), True, 5, dtype=sj.float64)
    shared[0] = 7.0
    shared._data.flush()
    assert np.fromfile(path)[0] == 7.0
    with pytest.raises(RuntimeError, match="fewer"):
        sj.from_file(str(path), size=9, dtype=sj.float64)
    exported = torch.arange(3.0)
    imported = sj.from_dlpack(exported)
    exported[1] = 5.0
    assert imported.tolist() == [0.0, 5.0, 2.0]
    back = torch.from_dlpack(sj.to_dlpack(sj.tensor([1.0, 2.0])))
    assert back.tolist() == [1.0, 2.0]
    assert sj.from_dlpack(sj.to_dlpack(sj.tensor([3, 4]))).tolist() == [3, 4]


# -- samplers: distributions, shapes, dtypes, repeatability (not PyTorch's exact numbers) ---------

def _repeatable(draw):
    sj.manual_seed(12)
    first = draw()
    sj.manual_seed(12)
    np.testing.assert_array_equal(first.numpy(), draw().numpy())
    return first


@pytest.mark.parametrize("rate", [0.3, 4.0, 25.0, 1000.0])
def test_poisson(rate):
    draws = _repeatable(lambda: sj.poisson(sj.full((40000,), rate, dtype=sj.float64)))
    assert draws.dtype == sj.float64 and np.all(draws.numpy() == np.floor(draws.numpy()))
    values = draws.numpy()
    assert abs(values.mean() - rate) < 5 * math.sqrt(rate / values.size)
    assert abs(values.var() / rate - 1) < 0.05
    if rate < 5:  # the whole probability mass function
        counts = np.bincount(values.astype(int), minlength=12)[:12] / values.size
        pmf = np.array([math.exp(-rate) * rate ** k / math.factorial(k) for k in range(12)])
        np.testing.assert_allclose(counts, pmf, atol=0.01)
    assert sj.poisson(sj.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match="rate"):
        sj.poisson(sj.tensor([-1.0]))


@pytest.mark.parametrize("n, p", [(10, 0.3), (5, 0.9), (200, 0.4), (1000, 0.98), (0, 0.5), (7, 0.0), (7, 1.0)])
def test_binomial(n, p):
    draws = _repeatable(lambda: sj.binomial(sj.full((40000,), float(n)), sj.full((40000,), p)))
    values = draws.numpy()
    assert draws.dtype == sj.float32 and values.min() >= 0 and values.max() <= n
    mean, var = n * p, n * p * (1 - p)
    assert abs(values.mean() - mean) < 5 * math.sqrt(var / values.size) + 1e-9
    if var:
        assert abs(values.var() / var - 1) < 0.05
    if n == 10:
        counts = np.bincount(values.astype(int), minlength=11) / values.size
        pmf = np.array([math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(11)])
        np.testing.assert_allclose(counts, pmf, atol=0.01)


def test_inplace_samplers():
    size = 40000
    x = _repeatable(lambda: sj.empty(size, dtype=sj.float64).exponential_(2.0))
    assert abs(x.mean().item() - 0.5) < 0.01 and x.min().item() >= 0
    x = _repeatable(lambda: sj.empty(size).geometric_(0.25))
    assert x.min().item() >= 1 and abs(x.mean().item() - 4.0) < 0.1 and bool((x == x.floor()).all())
    x = _repeatable(lambda: sj.empty(size, dtype=sj.float64).log_normal_(0.5, 0.25))
    assert abs(np.log(x.numpy()).mean() - 0.5) < 0.01 and abs(np.log(x.numpy()).std() - 0.25) < 0.01
    x = _repeatable(lambda: sj.empty(size, dtype=sj.float64).cauchy_(1.0, 2.0))
    assert abs(np.median(x.numpy()) - 1.0) < 0.1
    assert abs(np.mean(np.abs(x.numpy() - 1.0) < 2.0) - 0.5) < 0.02  # half the mass within one scale
    with pytest.raises(RuntimeError):
        sj.empty(2).exponential_(-1.0)
    with pytest.raises(RuntimeError):
        sj.empty(2, dtype=sj.int64).cauchy_()


def test_bernoulli_and_multinomial_methods():
    p = sj.full((30000,), 0.3)
    draws = _repeatable(lambda: p.bernoulli())
    assert draws.dtype == sj.float32 and abs(draws.mean().item() - 0.3) < 0.02
    assert abs(sj.zeros(30000).bernoulli(0.8).mean().item() - 0.8) < 0.02
    weights = sj.tensor([[1.0, 0.0, 3.0], [0.0, 1.0, 0.0]])
    picks = _repeatable(lambda: weights.multinomial(20000, replacement=True))
    assert picks.dtype == sj.int64 and tuple(picks.shape) == (2, 20000)
    assert abs((picks[0] == 2).float().mean().item() - 0.75) < 0.02 and bool((picks[1] == 1).all())


# -- process-wide switches and dtype questions --------------------------------------------------------

def test_switches_record_what_they_are_given():
    threads = sj.get_num_threads()
    sj.set_num_threads(2)
    assert sj.get_num_threads() == 2
    sj.set_num_threads(threads)
    with pytest.raises(RuntimeError):
        sj.set_num_threads(0)
    assert sj.get_num_interop_threads() >= 1
    sj.init_num_threads()
    assert not sj.are_deterministic_algorithms_enabled()
    sj.use_deterministic_algorithms(True, warn_only=True)
    assert sj.are_deterministic_algorithms_enabled() and sj.is_deterministic_algorithms_warn_only_enabled()
    assert sj.get_deterministic_debug_mode() == 1
    sj.set_deterministic_debug_mode("error")
    assert sj.get_deterministic_debug_mode() == 2 and not sj.is_deterministic_algorithms_warn_only_enabled()
    sj.set_deterministic_debug_mode(0)
    assert not sj.are_deterministic_algorithms_enabled()
    with pytest.raises(RuntimeError):
        sj.set_deterministic_debug_mode("loud")
    assert sj.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    sj.set_float32_matmul_precision("medium")
    assert sj.get_float32_matmul_precision() == "medium"
    sj.set_float32_matmul_precision("highest")
    with pytest.raises(RuntimeError):
        sj.set_float32_matmul_precision("low")
    assert sj.get_default_device() == "cpu" and sj.set_flush_denormal(True) is False
    assert sj.thread_safe_generator() is None


def test_default_tensor_type_and_anomaly_mode():
    try:
        sj.set_default_tensor_type(sj.DoubleTensor)
        assert sj.get_default_dtype() == sj.float64 and sj.zeros(1).dtype == sj.float64
        sj.set_default_tensor_type("torch.FloatTensor")
        assert sj.get_default_dtype() == sj.float32
        with pytest.raises(TypeError):
            sj.set_default_tensor_type(sj.LongTensor)
    finally:
        sj.set_default_dtype(sj.float32)
    try:
        sj.set_anomaly_enabled(True)
        assert sj.is_anomaly_enabled() and sj.is_anomaly_check_nan_enabled() and sj.autograd.is_anomaly_enabled()
        x = sj.tensor([0.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="inf"):
            sj.sqrt(x).sum().backward()
    finally:
        sj.set_anomaly_enabled(False)
    assert not sj.is_anomaly_enabled()


def test_promote_types_and_can_cast_match_torch():
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
    for a in names:
        for b in names:
            ours = sj.promote_types(getattr(sj, a), getattr(sj, b))
            theirs = torch.promote_types(getattr(torch, a), getattr(torch, b))
            assert str(ours).split(".")[-1] == str(theirs).split(".")[-1], (a, b)
            assert sj.can_cast(getattr(sj, a), getattr(sj, b)) == torch.can_cast(getattr(torch, a), getattr(torch, b))
    with pytest.raises(TypeError):
        sj.promote_types("float32", sj.int64)
