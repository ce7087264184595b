"""torch.linalg and the matrix functions (tril, diagonal, inverse, det, ...) against PyTorch: values and
gradients in float32 and float64, gradients also against central differences in float64.

Decompositions whose factors are fixed only up to signs (eigenvectors, singular vectors) are compared
through sign-free functions of them (their squares, or the matrix they rebuild)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import shenjing as sj
from helpers import check_op

RNG = np.random.default_rng(7)


def randn(*shape):
    return RNG.standard_normal(shape)


def well_conditioned(*shape):
    """Square matrices a little away from singular: a random matrix plus 3 times the identity."""
    return randn(*shape) + 3 * np.eye(shape[-1])


def spd(lib, m):
    """A symmetric positive-definite matrix built from m: m m^T + n I (differentiable in m)."""
    n = m.shape[-1]
    return m @ m.transpose(-2, -1) + n * lib.eye(n, dtype=m.dtype)


def sym(lib, m):
    return m + m.transpose(-2, -1)


@pytest.mark.parametrize("name,args", [
    ("tril", (randn(4, 5), 0)), ("tril", (randn(2, 4, 3), -1)), ("triu", (randn(4, 5), 1)),
    ("triu", (randn(3, 3), 0)), ("diag", (randn(4),)), ("diag", (randn(3, 4), 1)), ("diag", (randn(4, 3), -1)),
    ("diagflat", (randn(2, 2),)), ("trace", (randn(3, 4),)),
])
def test_triangles_and_diagonals_match_torch(name, args):
    check_op(lambda x, *a: getattr(sj, name)(x, *a), lambda x, *a: getattr(torch, name)(x, *a), *args)


@pytest.mark.parametrize("offset,dim1,dim2", [(0, 0, 1), (1, 1, 2), (-1, 2, 0), (2, -1, -2)])
def test_diagonal_and_diag_embed_match_torch(offset, dim1, dim2):
    x = randn(3, 4, 5)
    check_op(lambda t: sj.diagonal(t, offset, dim1, dim2), lambda t: torch.diagonal(t, offset, dim1, dim2), x)
    check_op(lambda t: t.diagonal(offset, dim1, dim2), lambda t: t.diagonal(offset, dim1, dim2), x)
    check_op(lambda t: sj.diag_embed(t, offset, dim1, dim2), lambda t: torch.diag_embed(t, offset, dim1, dim2),
             randn(2, 3))


def test_triangle_indices_and_in_place_triangles_match_torch():
    for row, col, offset in [(3, 3, 0), (4, 2, -1), (2, 5, 2), (0, 3, 0)]:
        for name in ("tril_indices", "triu_indices"):
            np.testing.assert_array_equal(getattr(sj, name)(row, col, offset).numpy(),
                                          getattr(torch, name)(row, col, offset).numpy())
    x = randn(3, 3)
    ours, theirs = sj.tensor(x), torch.tensor(x)
    ours.tril_(-1)
    theirs.tril_(-1)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("name", ["inv", "det", "slogdet_logabs", "matrix_exp", "pinv", "cond"])
def test_matrix_functions_match_torch(name):
    fns = {
        "inv": (lambda a: sj.linalg.inv(a), lambda a: torch.linalg.inv(a)),
        "det": (lambda a: sj.linalg.det(a), lambda a: torch.linalg.det(a)),
        "slogdet_logabs": (lambda a: sj.linalg.slogdet(a).logabsdet, lambda a: torch.linalg.slogdet(a).logabsdet),
        "matrix_exp": (lambda a: sj.linalg.matrix_exp(a), lambda a: torch.linalg.matrix_exp(a)),
        "pinv": (lambda a: sj.linalg.pinv(a), lambda a: torch.linalg.pinv(a)),
        "cond": (lambda a: sj.linalg.cond(a), lambda a: torch.linalg.cond(a)),
    }
    ours, theirs = fns[name]
    check_op(ours, theirs, well_conditioned(2, 3, 3))


def test_matrix_exp_of_a_large_matrix_is_scaled_and_squared():
    check_op(sj.linalg.matrix_exp, torch.linalg.matrix_exp, 2.5 * randn(4, 4), dtypes=(np.float64,))


def test_pinv_of_a_wide_and_a_tall_matrix_matches_torch():
    check_op(sj.linalg.pinv, torch.linalg.pinv, randn(3, 5))
    check_op(sj.linalg.pinv, torch.linalg.pinv, randn(2, 5, 3))


@pytest.mark.parametrize("power", [0, 1, 2, 5, -1, -3])
def test_matrix_power_matches_torch(power):
    check_op(lambda a: sj.linalg.matrix_power(a, power), lambda a: torch.linalg.matrix_power(a, power),
             well_conditioned(3, 3))


@pytest.mark.parametrize("b_shape", [(3,), (3, 2), (2, 3, 4), (2, 3)])
def test_solve_matches_torch(b_shape):
    a = well_conditioned(2, 3, 3) if len(b_shape) != 1 else well_conditioned(3, 3)
    check_op(sj.linalg.solve, torch.linalg.solve, a, randn(*b_shape))


def test_solve_on_the_right_and_solve_triangular_match_torch():
    check_op(lambda a, b: sj.linalg.solve(a, b, left=False), lambda a, b: torch.linalg.solve(a, b, left=False),
             well_conditioned(3, 3), randn(2, 3))
    for upper in (True, False):
        for unit in (True, False):
            check_op(lambda a, b: sj.linalg.solve_triangular(a, b, upper=upper, unitriangular=unit),
                     lambda a, b: torch.linalg.solve_triangular(a, b, upper=upper, unitriangular=unit),
                     well_conditioned(3, 3), randn(3, 2))


def test_cholesky_and_its_solves_match_torch():
    check_op(lambda m: sj.linalg.cholesky(spd(sj, m)), lambda m: torch.linalg.cholesky(spd(torch, m)), randn(2, 3, 3))
    check_op(lambda m: sj.linalg.cholesky(spd(sj, m), upper=True),
             lambda m: torch.linalg.cholesky(spd(torch, m), upper=True), randn(3, 3))
    check_op(lambda m, b: sj.cholesky_solve(b, sj.linalg.cholesky(spd(sj, m))),
             lambda m, b: torch.cholesky_solve(b, torch.linalg.cholesky(spd(torch, m))), randn(3, 3), randn(3, 2))
    check_op(lambda m: sj.cholesky_inverse(sj.linalg.cholesky(spd(sj, m))),
             lambda m: torch.cholesky_inverse(torch.linalg.cholesky(spd(torch, m))), randn(3, 3))


@pytest.mark.parametrize("shape,mode", [((4, 3), "reduced"), ((3, 3), "reduced"), ((2, 5, 3), "reduced"),
                                        ((3, 3), "complete")])
def test_qr_matches_torch(shape, mode):
    def both(lib):
        def fn(a):
            q, r = lib.linalg.qr(a, mode)
            return lib.cat([q.reshape(-1), r.reshape(-1)])
        return fn
    check_op(both(sj), both(torch), randn(*shape))


def test_eigh_matches_torch():
    def both(lib):
        def fn(m):
            w, v = lib.linalg.eigh(sym(lib, m))
            return lib.cat([w.reshape(-1), (v * v).reshape(-1)])  # squares: free of the vectors' signs
        return fn
    check_op(both(sj), both(torch), randn(2, 4, 4))
    check_op(lambda m: sj.linalg.eigvalsh(sym(sj, m)), lambda m: torch.linalg.eigvalsh(sym(torch, m)), randn(3, 3))


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (2, 4, 3)])
def test_svd_matches_torch(shape):
    def both(lib):
        def fn(a):
            u, s, vh = lib.linalg.svd(a, full_matrices=False)
            return lib.cat([s.reshape(-1), (u * u).reshape(-1), (vh * vh).reshape(-1)])
        return fn
    check_op(both(sj), both(torch), randn(*shape))
    check_op(sj.linalg.svdvals, torch.linalg.svdvals, randn(*shape))


def test_torch_svd_returns_v_not_vh():
    a = randn(4, 3)
    u, s, v = sj.svd(sj.tensor(a))
    np.testing.assert_allclose((u.numpy() * s.numpy()) @ v.numpy().T, a, atol=1e-12)


@pytest.mark.parametrize("ord", [None, 2, 1, 0, math.inf, -math.inf, 3.5])
def test_vector_norm_matches_torch(ord):
    x = randn(3, 4)
    kwargs = {} if ord is None else {"ord": ord}
    check_op(lambda t: sj.linalg.vector_norm(t, **kwargs), lambda t: torch.linalg.vector_norm(t, **kwargs), x,
             numeric=ord != 0)
    check_op(lambda t: sj.linalg.vector_norm(t, dim=1, keepdim=True, **kwargs),
             lambda t: torch.linalg.vector_norm(t, dim=1, keepdim=True, **kwargs), x, numeric=ord != 0)
    check_op(lambda t: sj.linalg.vector_norm(t, keepdim=True, **kwargs),
             lambda t: torch.linalg.vector_norm(t, keepdim=True, **kwargs), x, numeric=ord != 0)


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
def test_matrix_norm_matches_torch(ord):
    check_op(lambda a: sj.linalg.matrix_norm(a, ord), lambda a: torch.linalg.matrix_norm(a, ord), randn(2, 3, 4))
    check_op(lambda a: sj.linalg.norm(a, ord), lambda a: torch.linalg.norm(a, ord), randn(3, 4))


def test_norm_picks_vector_or_matrix_norms_as_torch():
    x = randn(2, 3, 4)
    for kwargs in [{}, {"dim": 1}, {"dim": (0, 2)}, {"ord": 1, "dim": (1, 2)}, {"ord": 3, "dim": 2}]:
        check_op(lambda t: sj.linalg.norm(t, **kwargs), lambda t: torch.linalg.norm(t, **kwargs), x)


def test_products_and_small_helpers_match_torch():
    check_op(lambda a, b, c: sj.linalg.multi_dot([a, b, c]), lambda a, b, c: torch.linalg.multi_dot([a, b, c]),
             randn(3), randn(3, 4), randn(4, 2))
    check_op(sj.linalg.cross, torch.linalg.cross, randn(4, 3), randn(4, 3))
    check_op(lambda a, b: sj.linalg.vecdot(a, b, dim=0), lambda a, b: torch.linalg.vecdot(a, b, dim=0),
             randn(3, 2), randn(3, 2))
    check_op(lambda x: sj.linalg.vander(x, N=4), lambda x: torch.linalg.vander(x, N=4), randn(2, 3))
    check_op(lambda a: sj.linalg.diagonal(a, offset=1), lambda a: torch.linalg.diagonal(a, offset=1), randn(2, 3, 4))
    check_op(lambda a: sj.linalg.tensorinv(a, ind=2), lambda a: torch.linalg.tensorinv(a, ind=2),
             well_conditioned(6, 6).reshape(2, 3, 6))
    check_op(sj.linalg.tensorsolve, torch.linalg.tensorsolve, well_conditioned(6, 6).reshape(2, 3, 6), randn(2, 3))


def test_rank_lstsq_and_the_ex_variants_match_torch():
    low_rank = randn(5, 2) @ randn(2, 4)
    assert int(sj.linalg.matrix_rank(sj.tensor(low_rank))) == int(torch.linalg.matrix_rank(torch.tensor(low_rank))) == 2
    a, b = randn(6, 3), randn(6, 2)
    np.testing.assert_allclose(sj.linalg.lstsq(sj.tensor(a), sj.tensor(b)).solution.numpy(),
                               torch.linalg.lstsq(torch.tensor(a), torch.tensor(b)).solution.numpy(), atol=1e-12)
    inverse, info = sj.linalg.inv_ex(sj.tensor(well_conditioned(2, 3, 3)))
    assert tuple(info.shape) == (2,) and info.dtype == sj.int32 and not info.numpy().any()


def test_torch_level_aliases_match_torch():
    a = well_conditioned(3, 3)
    check_op(sj.inverse, torch.inverse, a)
    check_op(sj.det, torch.det, a)
    check_op(lambda m: sj.logdet(spd(sj, m)), lambda m: torch.logdet(spd(torch, m)), randn(3, 3))
    check_op(lambda t: t.pinverse(), lambda t: t.pinverse(), randn(4, 3))
    check_op(lambda t: t.matrix_power(3), lambda t: t.matrix_power(3), a)
    q, r = sj.qr(sj.tensor(randn(4, 3)))
    assert tuple(q.shape) == (4, 3) and tuple(r.shape) == (3, 3)


def test_second_derivatives_through_inverse_and_det():
    def both(lib):
        def fn(a):
            constant = not a.requires_grad  # (the central differences call it on constants)
            a = a.detach().requires_grad_() if constant else a
            (g,) = lib.autograd.grad(lib.linalg.det(a) + lib.linalg.inv(a).sum(), a, create_graph=True)
            return g.detach() if constant else g
        return fn
    check_op(both(sj), both(torch), well_conditioned(3, 3), dtypes=(np.float64,))


def test_bad_input_gets_a_clear_error():
    with pytest.raises(RuntimeError, match="square matrices"):
        sj.linalg.inv(sj.randn(2, 3))
    with pytest.raises(sj.linalg.LinAlgError, match="inv"):
        sj.linalg.inv(sj.zeros(3, 3))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        sj.linalg.solve(sj.eye(3), sj.randn(4, 2))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        sj.tril(sj.randn(3))
    with pytest.raises(RuntimeError, match="unrecognized mode"):
        sj.linalg.qr(sj.randn(3, 3), mode="full")
