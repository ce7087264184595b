"""Reductions, statistics and scans of issue 18 (shenjing._ops.statistics and scan): values, return types and
gradients against PyTorch 2.13 in float32 and float64 and central differences, nan handling, integer inputs,
and PyTorch's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shenjing as sj
from helpers import check_op

RNG = np.random.default_rng(1818)


def distinct(*shape):
    """Values without ties (so that the selected index is unique), well apart for central differences."""
    return RNG.permutation(np.prod(shape)).reshape(shape) * 0.37 - 2.0 + RNG.uniform(0, 0.01, shape)


def normal(*shape):
    return RNG.standard_normal(shape)


def same_selection(ours, theirs):
    """(values, indices) results: the same fields, values and indices."""
    assert type(ours).__name__ == type(theirs).__name__.split(".")[-1]
    assert len(ours) == len(theirs) == len(ours._fields)
    for field in ours._fields:  # (PyTorch's return types are structseqs: fields by name)
        mine, expected = getattr(ours, field), getattr(theirs, field)
        np.testing.assert_allclose(mine.numpy(), expected.numpy(), rtol=1e-6, equal_nan=True)
        assert str(mine.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]


# name -> (shenjing and torch function of the namespace, arguments); gradients flow in PyTorch
DIFFERENTIABLE = [
    ("median-all", lambda m: m.median, (distinct(3, 5),)),
    ("median-even-count", lambda m: m.median, (distinct(2, 4),)),
    ("median-dim", lambda m: (lambda x: m.median(x, 1)), (distinct(3, 5),)),
    ("median-dim-keepdim", lambda m: (lambda x: m.median(x, 0, keepdim=True)), (distinct(4, 3),)),
    ("nanmedian-all", lambda m: m.nanmedian, (distinct(3, 4),)),
    ("nanmedian-dim", lambda m: (lambda x: m.nanmedian(x, -1)), (distinct(3, 4),)),
    ("kthvalue", lambda m: (lambda x: m.kthvalue(x, 2)), (distinct(3, 5),)),
    ("kthvalue-dim0", lambda m: (lambda x: m.kthvalue(x, 3, 0, True)), (distinct(4, 3),)),
    ("mode", lambda m: m.mode, (np.array([[1.0, 2.0, 2.0, 3.0], [0.5, 0.5, 4.0, 4.0], [7.0, 6.0, 5.0, 6.0]]),)),
    ("quantile-scalar", lambda m: (lambda x: m.quantile(x, 0.3)), (distinct(3, 5),)),
    ("quantile-dim", lambda m: (lambda x: m.quantile(x, 0.75, dim=1)), (distinct(3, 5),)),
    ("quantile-tensor-q", lambda m: (lambda x: m.quantile(x, m.tensor([0.1, 0.5, 0.9], dtype=x.dtype), dim=0,
                                                          keepdim=True)), (distinct(4, 3),)),
    ("nanquantile", lambda m: (lambda x: m.nanquantile(x, 0.4, dim=-1)), (distinct(3, 5),)),
    ("nanmean", lambda m: m.nanmean, (normal(3, 4),)),
    ("nanmean-dim", lambda m: (lambda x: m.nanmean(x, 1, keepdim=True)), (normal(3, 4),)),
    ("nansum", lambda m: (lambda x: m.nansum(x, 0)), (normal(3, 4),)),
    ("aminmax", lambda m: (lambda x: m.aminmax(x, dim=1)), (distinct(3, 4),)),
    ("cov", lambda m: m.cov, (normal(3, 6),)),
    ("cov-1d", lambda m: m.cov, (normal(5),)),
    ("cov-correction0", lambda m: (lambda x: m.cov(x, correction=0)), (normal(2, 5),)),
    ("cov-weights", lambda m: (lambda x, a: m.cov(x, fweights=m.tensor([1, 2, 1, 3, 1]), aweights=a)),
     (normal(3, 5), RNG.uniform(0.5, 2, 5))),
    ("corrcoef", lambda m: m.corrcoef, (normal(3, 6),)),
    ("cumprod", lambda m: (lambda x: m.cumprod(x, 1)), (normal(3, 5),)),
    ("cumprod-zeros", lambda m: (lambda x: m.cumprod(x, 1)),
     (np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 2.0], [2.0, -1.0, 0.5, 0.0]]),)),
    ("cumprod-zeros-dim0", lambda m: (lambda x: m.cumprod(x, 0)), (np.array([[1.5, 0.0], [0.0, 2.0], [2.0, 3.0]]),)),
    ("cumprod-zeros-3d", lambda m: (lambda x: m.cumprod(x, 1)),
     (np.where(RNG.random((2, 6, 3)) < 0.3, 0.0, RNG.uniform(0.5, 1.5, (2, 6, 3))),)),
    ("cummax", lambda m: (lambda x: m.cummax(x, 1)), (distinct(3, 6),)),
    ("cummin", lambda m: (lambda x: m.cummin(x, 0)), (distinct(5, 3),)),
    ("logcumsumexp", lambda m: (lambda x: m.logcumsumexp(x, 1)), (normal(3, 5) * 3,)),
    ("logcumsumexp-large", lambda m: (lambda x: m.logcumsumexp(x, 0)), (normal(6) * 200,)),
    ("diff", lambda m: m.diff, (normal(3, 5),)),
    ("diff-n2-dim0", lambda m: (lambda x: m.diff(x, 2, 0)), (normal(5, 3),)),
    ("diff-prepend-append", lambda m: (lambda x, p, a: m.diff(x, 1, -1, p, a)), (normal(3, 4), normal(3, 1), normal(3, 2))),
    ("trapezoid", lambda m: m.trapezoid, (normal(3, 5),)),
    ("trapezoid-x", lambda m: (lambda y, x: m.trapezoid(y, x)), (normal(3, 5), np.sort(normal(5)))),
    ("trapezoid-dx-dim", lambda m: (lambda y: m.trapezoid(y, dx=0.5, dim=0)), (normal(4, 3),)),
    ("trapz", lambda m: (lambda y, x: m.trapz(y, x)), (normal(2, 4), np.sort(normal(2, 4), axis=1))),
    ("cumulative_trapezoid", lambda m: m.cumulative_trapezoid, (normal(3, 5),)),
    ("cumulative_trapezoid-x", lambda m: (lambda y, x: m.cumulative_trapezoid(y, x)), (normal(3, 5), np.sort(normal(5)))),
]


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=[c[0] for c in DIFFERENTIABLE])
def test_value_and_gradient(case):
    name, function, args = case
    check_op(function(sj), function(torch), *args, numeric=name != "mode")  # (mode jumps when a tie moves)


def test_cumprod_gradient_with_zeros_is_exact_to_second_order():
    x = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.5, 0.0, 2.0]])
    ours = sj.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    (g_ours,) = sj.autograd.grad(sj.cumprod(ours, 1).sum(), ours, create_graph=True)
    (g_theirs,) = torch.autograd.grad(torch.cumprod(theirs, 1).sum(), theirs, create_graph=True)
    np.testing.assert_allclose(g_ours.detach().numpy(), g_theirs.detach().numpy(), rtol=1e-12)
    (h_ours,) = sj.autograd.grad((g_ours ** 2).sum(), ours)
    (h_theirs,) = torch.autograd.grad((g_theirs ** 2).sum(), theirs)
    np.testing.assert_allclose(h_ours.numpy(), h_theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name, call", [
    ("median", lambda m, x: m.median(x, 1)), ("nanmedian", lambda m, x: m.nanmedian(x, 1)),
    ("kthvalue", lambda m, x: m.kthvalue(x, 2, 1)), ("mode", lambda m, x: m.mode(x, 1)),
    ("cummax", lambda m, x: m.cummax(x, 1)), ("cummin", lambda m, x: m.cummin(x, 1)),
    ("aminmax", lambda m, x: m.aminmax(x, dim=1)), ("median-method", lambda m, x: x.median(1)),
    ("kthvalue-method", lambda m, x: x.kthvalue(1)), ("cummax-method", lambda m, x: x.cummax(0)),
    ("mode-method", lambda m, x: x.mode()),
])
def test_return_types(name, call):
    x = distinct(3, 4)
    same_selection(call(sj, sj.tensor(x)), call(torch, torch.tensor(x)))


def test_median_of_ties_shares_the_gradient_as_pytorch():
    x = np.array([[1.0, 2.0, 2.0], [3.0, 2.0, 0.0]])
    check_op(sj.median, torch.median, x, numeric=False)
    check_op(sj.nanmedian, torch.nanmedian, x, numeric=False)


def test_cummax_ties_and_nan_follow_pytorch():
    x = [1.0, 1.0, float("nan"), 2.0, float("nan"), 0.0, 3.0]
    same_selection(sj.cummax(sj.tensor(x), 0), torch.cummax(torch.tensor(x), 0))
    same_selection(sj.cummin(sj.tensor(x), 0), torch.cummin(torch.tensor(x), 0))
    x = [3, 1, 3, 5, 5, 2]
    same_selection(sj.cummax(sj.tensor(x), 0), torch.cummax(torch.tensor(x), 0))
    same_selection(sj.cummin(sj.tensor(x), 0), torch.cummin(torch.tensor(x), 0))


def test_nan_handling_of_the_medians_and_quantiles():
    x = np.array([[1.0, np.nan, 3.0, 2.0], [4.0, 0.5, 2.0, 1.0], [np.nan, np.nan, 5.0, 1.0]])
    same_selection(sj.median(sj.tensor(x), 1), torch.median(torch.tensor(x), 1))
    same_selection(sj.nanmedian(sj.tensor(x), 1), torch.nanmedian(torch.tensor(x), 1))
    for name in ("median", "nanmedian"):
        np.testing.assert_allclose(getattr(sj, name)(sj.tensor(x)).numpy(), getattr(torch, name)(torch.tensor(x)).numpy(),
                                   equal_nan=True)
    for name in ("quantile", "nanquantile", "nanmean", "nansum"):
        args = (0.4,) if "quantile" in name else ()
        np.testing.assert_allclose(getattr(sj, name)(sj.tensor(x), *args, dim=1).numpy(),
                                   getattr(torch, name)(torch.tensor(x), *args, dim=1).numpy(), equal_nan=True,
                                   err_msg=name)
    np.testing.assert_allclose(sj.nanquantile(sj.tensor(x), 0.5).numpy(), torch.nanquantile(torch.tensor(x), 0.5).numpy())


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_interpolations(interpolation):
    x = distinct(3, 6)
    q = [0.0, 0.1, 0.25, 0.5, 0.7, 1.0]
    for dim, keepdim in [(None, False), (None, True), (1, False), (0, True), (-1, True)]:
        ours = sj.quantile(sj.tensor(x), sj.tensor(q, dtype=sj.float64), dim=dim, keepdim=keepdim,
                           interpolation=interpolation)
        theirs = torch.quantile(torch.tensor(x), torch.tensor(q, dtype=torch.float64), dim=dim, keepdim=keepdim,
                                interpolation=interpolation)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, err_msg=f"{dim} {keepdim}")
    check_op(lambda t: sj.quantile(t, 0.3, dim=1, interpolation=interpolation),
             lambda t: torch.quantile(t, 0.3, dim=1, interpolation=interpolation), x)


def test_quantile_of_three_dims_and_errors():
    x = distinct(2, 3, 4)
    for dim in (0, 1, 2):
        np.testing.assert_allclose(sj.quantile(sj.tensor(x), sj.tensor([0.2, 0.8], dtype=sj.float64), dim=dim).numpy(),
                                   torch.quantile(torch.tensor(x), torch.tensor([0.2, 0.8], dtype=torch.float64),
                                                  dim=dim).numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="range"):
        sj.quantile(sj.tensor(x), 1.5)
    with pytest.raises(RuntimeError):
        torch.quantile(torch.tensor(x), 1.5)
    with pytest.raises(RuntimeError, match="float or double"):
        sj.quantile(sj.tensor([1, 2, 3]), 0.5)
    with pytest.raises(RuntimeError, match="interpolation"):
        sj.quantile(sj.tensor(x), 0.5, interpolation="cubic")


def test_integer_inputs():
    x = [[3, 1, 2, 2], [5, 4, 4, 0]]
    for name, call in [("median", lambda m, t: m.median(t)), ("median-dim", lambda m, t: m.median(t, 1)[0]),
                       ("kthvalue", lambda m, t: m.kthvalue(t, 2)[0]), ("mode", lambda m, t: m.mode(t)[0]),
                       ("nansum", lambda m, t: m.nansum(t)), ("cumprod", lambda m, t: m.cumprod(t, 1)),
                       ("cummax", lambda m, t: m.cummax(t, 1)[1]), ("diff", lambda m, t: m.diff(t)),
                       ("cov", lambda m, t: m.cov(t)), ("corrcoef", lambda m, t: m.corrcoef(t)),
                       ("trapezoid", lambda m, t: m.trapezoid(t)), ("aminmax", lambda m, t: m.aminmax(t)[1]),
                       ("cumulative_trapezoid", lambda m, t: m.cumulative_trapezoid(t)),
                       ("logcumsumexp", lambda m, t: m.logcumsumexp(t.float(), 1))]:
        ours, theirs = call(sj, sj.tensor(x)), call(torch, torch.tensor(x))
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], name
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, err_msg=name)
    for dtype in ("int32", "uint8", "bool"):
        t = torch.tensor([[1, 0, 1], [1, 1, 0]]).to(getattr(torch, dtype))
        s = sj.tensor([[1, 0, 1], [1, 1, 0]]).to(getattr(sj, dtype))
        assert str(sj.cumprod(s, 1).dtype).split(".")[-1] == str(torch.cumprod(t, 1).dtype).split(".")[-1]
        np.testing.assert_array_equal(sj.diff(s).numpy(), torch.diff(t).numpy())


def test_nanmean_refuses_integers():
    with pytest.raises(RuntimeError):
        torch.nanmean(torch.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="floating point"):
        sj.nanmean(sj.tensor([1, 2]))


def test_kthvalue_and_median_errors():
    with pytest.raises(IndexError, match="k out of range"):
        sj.kthvalue(sj.tensor([1.0, 2.0]), 3)
    with pytest.raises(IndexError):
        sj.median(sj.tensor([[1.0, 2.0]]), 2)
    with pytest.raises(IndexError):
        torch.median(torch.tensor([[1.0, 2.0]]), 2)


# -- counting and distinct values ----------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [dict(), dict(bins=4, min=0, max=3), dict(bins=5, min=-1, max=1), dict(bins=1)])
def test_histc(kwargs):
    x = np.concatenate([normal(40), [0.0, 1.0, 3.0, -1.0]])
    for dtype in ("float32", "float64"):
        ours = sj.histc(sj.tensor(x, dtype=getattr(sj, dtype)), **kwargs)
        theirs = torch.histc(torch.tensor(x, dtype=getattr(torch, dtype)), **kwargs)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert str(ours.dtype).split(".")[-1] == dtype
    np.testing.assert_array_equal(sj.tensor(x).histc(3).numpy(), torch.tensor(x).histc(3).numpy())


def test_histc_errors():
    with pytest.raises(RuntimeError, match="bins must be > 0"):
        sj.histc(sj.tensor([1.0]), bins=0)
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        sj.histc(sj.tensor([1.0]), min=2, max=1)
    with pytest.raises(RuntimeError):
        torch.histc(torch.tensor([1.0]), min=2, max=1)


@pytest.mark.parametrize("weights_dtype", [None, "float32", "float64"])
@pytest.mark.parametrize("minlength", [0, 8])
def test_bincount(weights_dtype, minlength):
    x = [0, 1, 1, 3, 5, 1]
    weights = [0.5, 1.0, 2.0, -1.0, 3.0, 0.25]
    sw = sj.tensor(weights, dtype=getattr(sj, weights_dtype)) if weights_dtype else None
    tw = torch.tensor(weights, dtype=getattr(torch, weights_dtype)) if weights_dtype else None
    ours = sj.bincount(sj.tensor(x), sw, minlength)
    theirs = torch.bincount(torch.tensor(x), tw, minlength)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(sj.tensor(x).bincount(minlength=minlength).numpy(),
                                  torch.tensor(x).bincount(minlength=minlength).numpy())


def test_bincount_errors():
    for bad in ([-1, 2], [[1, 2]]):
        with pytest.raises(RuntimeError):
            torch.bincount(torch.tensor(bad))
        with pytest.raises(RuntimeError, match="non-negative"):
            sj.bincount(sj.tensor(bad))
    with pytest.raises(RuntimeError, match="1-d non-negative integral"):
        sj.bincount(sj.tensor([1.0, 2.0]))


@pytest.mark.parametrize("kwargs", [dict(), dict(return_inverse=True), dict(return_counts=True),
                                    dict(return_inverse=True, return_counts=True), dict(dim=0, return_inverse=True,
                                    return_counts=True), dict(dim=1, return_counts=True), dict(sorted=True)])
def test_unique(kwargs):
    x = [[1, 3, 1], [2, 3, 2], [1, 3, 1]]
    ours = sj.unique(sj.tensor(x), **kwargs)
    theirs = torch.unique(torch.tensor(x), **kwargs)
    ours, theirs = (ours, theirs) if isinstance(theirs, tuple) else ((ours,), (theirs,))
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_array_equal(mine.numpy(), expected.numpy())
        assert str(mine.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_array_equal(sj.tensor(x).unique().numpy(), torch.tensor(x).unique().numpy())


@pytest.mark.parametrize("kwargs", [dict(), dict(return_inverse=True, return_counts=True),
                                    dict(dim=0, return_inverse=True, return_counts=True), dict(dim=1, return_counts=True)])
def test_unique_consecutive(kwargs):
    for x in ([1, 1, 2, 2, 3, 1, 1, 2], [[1, 1, 2], [1, 1, 2], [0, 0, 2]]):
        if np.ndim(x) == 1 and kwargs.get("dim") == 1:
            continue
        ours = sj.unique_consecutive(sj.tensor(x), **kwargs)
        theirs = torch.unique_consecutive(torch.tensor(x), **kwargs)
        ours, theirs = (ours, theirs) if isinstance(theirs, tuple) else ((ours,), (theirs,))
        for mine, expected in zip(ours, theirs):
            np.testing.assert_array_equal(mine.numpy(), expected.numpy())


def test_unique_of_floats_with_a_tensor_method():
    x = [0.5, -1.0, 0.5, 2.0]
    values, inverse = sj.tensor(x).unique(return_inverse=True)
    expected_values, expected_inverse = torch.tensor(x).unique(return_inverse=True)
    np.testing.assert_array_equal(values.numpy(), expected_values.numpy())
    np.testing.assert_array_equal(inverse.numpy(), expected_inverse.numpy())


def test_count_nonzero():
    x = [[1, 0, 2], [0, 0, 3]]
    for dim in (None, 0, 1, (0, 1), -1):
        np.testing.assert_array_equal(sj.count_nonzero(sj.tensor(x), dim).numpy(),
                                      torch.count_nonzero(torch.tensor(x), dim).numpy())
        np.testing.assert_array_equal(sj.tensor(x).count_nonzero(dim).numpy(),
                                      torch.tensor(x).count_nonzero(dim).numpy())


def test_cov_errors_and_corrcoef_range():
    with pytest.raises(RuntimeError, match="two or fewer"):
        sj.cov(sj.ones(2, 2, 2))
    with pytest.raises(RuntimeError, match="fweights"):
        sj.cov(sj.ones(2, 3), fweights=sj.tensor([1.0, 2.0, 1.0]))
    x = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])
    np.testing.assert_allclose(sj.corrcoef(sj.tensor(x)).numpy(), torch.corrcoef(torch.tensor(x)).numpy())


def test_inplace_scans():
    x = normal(3, 4)
    ours, theirs = sj.tensor(x), torch.tensor(x)
    assert ours.cumprod_(1) is ours
    theirs.cumprod_(1)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    ours, theirs = sj.tensor(x), torch.tensor(x)
    ours.cumsum_(0)
    theirs.cumsum_(0)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_diff_errors_and_numbers():
    with pytest.raises(RuntimeError, match="at least one-dimensional"):
        sj.diff(sj.tensor(1.0))
    with pytest.raises(RuntimeError):
        torch.diff(torch.tensor(1.0))
    np.testing.assert_array_equal(sj.diff(sj.tensor([1, 4, 9]), n=3).numpy(), torch.diff(torch.tensor([1, 4, 9]), n=3).numpy())


@pytest.mark.parametrize("kwargs", [dict(), dict(spacing=0.5), dict(dim=1, edge_order=2), dict(spacing=[2.0], dim=0),
                                    dict(spacing="coordinates", edge_order=2), dict(spacing="coordinates")])
def test_gradient(kwargs):
    f = normal(4, 5)
    if kwargs.get("spacing") == "coordinates":
        coordinates = [np.array([0.0, 1.0, 3.0, 4.5]), np.array([-1.0, 0.0, 0.5, 2.0, 4.0])]
        sj_kwargs = dict(kwargs, spacing=[sj.tensor(c, dtype=sj.float64) for c in coordinates])
        torch_kwargs = dict(kwargs, spacing=[torch.tensor(c) for c in coordinates])
    else:
        sj_kwargs = torch_kwargs = kwargs
    ours = sj.gradient(sj.tensor(f), **sj_kwargs)
    theirs = torch.gradient(torch.tensor(f), **torch_kwargs)
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine.numpy(), expected.numpy(), rtol=1e-12)
    check_op(lambda t: sj.gradient(t, **sj_kwargs)[-1], lambda t: torch.gradient(t, **torch_kwargs)[-1], f)


def test_gradient_errors():
    with pytest.raises(RuntimeError, match="at least edge_order"):
        sj.gradient(sj.ones(2, 3), edge_order=2)
    with pytest.raises(RuntimeError):
        torch.gradient(torch.ones(2, 3), edge_order=2)
    with pytest.raises(RuntimeError, match="edge_order"):
        sj.gradient(sj.ones(4), edge_order=3)


@pytest.mark.parametrize("kwargs", [dict(bins=5), dict(bins=4, range=(-1.0, 1.0)), dict(bins=6, density=True),
                                    dict(bins="edges"), dict(bins=3, weight="weights")])
def test_histogram(kwargs):
    x = normal(30)
    sj_kwargs, torch_kwargs = dict(kwargs), dict(kwargs)
    if kwargs["bins"] == "edges":
        edges = np.array([-2.0, -0.5, 0.0, 0.3, 2.0])
        sj_kwargs["bins"], torch_kwargs["bins"] = sj.tensor(edges), torch.tensor(edges)
    if kwargs.get("weight") == "weights":
        w = RNG.random(30)
        sj_kwargs["weight"], torch_kwargs["weight"] = sj.tensor(w), torch.tensor(w)
    ours = sj.histogram(sj.tensor(x), **sj_kwargs)
    theirs = torch.histogram(torch.tensor(x), **torch_kwargs)
    np.testing.assert_allclose(ours.hist.numpy(), theirs.hist.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.bin_edges.numpy(), theirs.bin_edges.numpy(), rtol=1e-12)
    assert ours.hist.dtype == sj.float64


def test_msort_renorm_and_dist():
    x = normal(4, 3)
    check_op(sj.msort, torch.msort, x)
    check_op(lambda t: t.msort(), lambda t: t.msort(), x, numeric=False)
    for p, dim, maxnorm in [(2, 0, 1.0), (1, 1, 0.5), (3, 0, 100.0)]:
        check_op(lambda t: sj.renorm(t, p, dim, maxnorm), lambda t: torch.renorm(t, p, dim, maxnorm), x)
        ours, theirs = sj.tensor(x), torch.tensor(x)
        ours.renorm_(p, dim, maxnorm)
        theirs.renorm_(p, dim, maxnorm)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    y = normal(4, 3)
    check_op(lambda a, b: a.dist(b, 3), lambda a, b: a.dist(b, 3), x, y)


def test_mode_with_many_ties_picks_pytorchs_value():
    """The value is PyTorch's (the smallest most frequent); which of its positions PyTorch reports is not
    specified (the last one in short rows, others in long ones), so the index must hold the value."""
    values = RNG.integers(0, 4, (40, 5, 7))
    for dim in (0, 1, 2):
        for dtype in ("int64", "float64"):
            x = values.astype(dtype)
            ours, theirs = sj.mode(sj.tensor(x), dim), torch.mode(torch.tensor(x), dim)
            np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
            held = np.take_along_axis(x, np.expand_dims(ours.indices.numpy(), dim), dim)
            np.testing.assert_array_equal(np.squeeze(held, dim), ours.values.numpy())
    short = RNG.integers(0, 3, (50, 6))
    same_selection(sj.mode(sj.tensor(short), 1), torch.mode(torch.tensor(short), 1))


@pytest.mark.parametrize("kwargs", [dict(bins=[3, 4]), dict(bins=3, range=[-1.0, 1.0, -2.0, 2.0], density=True),
                                    dict(bins="edges"), dict(bins=2, weight="weights")])
def test_histogramdd(kwargs):
    x = normal(25, 2)
    sj_kwargs, torch_kwargs = dict(kwargs), dict(kwargs)
    if kwargs["bins"] == "edges":
        edges = [np.array([-2.0, 0.0, 2.0]), np.array([-1.0, -0.5, 0.5, 3.0])]
        sj_kwargs["bins"], torch_kwargs["bins"] = [sj.tensor(e) for e in edges], [torch.tensor(e) for e in edges]
    if kwargs.get("weight") == "weights":
        w = RNG.random(25)
        sj_kwargs["weight"], torch_kwargs["weight"] = sj.tensor(w), torch.tensor(w)
    ours = sj.histogramdd(sj.tensor(x), **sj_kwargs)
    theirs = torch.histogramdd(torch.tensor(x), **torch_kwargs)
    np.testing.assert_allclose(ours.hist.numpy(), theirs.hist.numpy(), rtol=1e-12)
    assert len(ours.bin_edges) == len(theirs.bin_edges)
    for mine, expected in zip(ours.bin_edges, theirs.bin_edges):
        np.testing.assert_allclose(mine.numpy(), expected.numpy(), rtol=1e-12)
