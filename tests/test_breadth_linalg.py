"""LU, LDL^T, Householder products, the real eigen-decomposition, the low-rank SVD/PCA and the top level's
older linear algebra, against PyTorch (values, gradients, central differences)."""

import warnings

import numpy as np
import pytest
import torch

import shenjing as sj
from tests.helpers import check_op, numerical_gradient

rng = np.random.default_rng(5)


def r(*shape):
    return rng.standard_normal(shape)


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (5, 3), (3, 5)])
def test_lu_factor_and_lu_match_lapack(shape):
    a = r(*shape)
    ours, theirs = sj.linalg.lu_factor(sj.tensor(a)), torch.linalg.lu_factor(torch.tensor(a))
    np.testing.assert_allclose(ours.LU.numpy(), theirs.LU.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(ours.pivots.numpy(), theirs.pivots.numpy())
    assert ours.pivots.dtype == sj.int32
    for x, y in zip(sj.linalg.lu(sj.tensor(a)), torch.linalg.lu(torch.tensor(a))):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-10, atol=1e-12)
    for x, y in zip(sj.lu_unpack(*ours), torch.lu_unpack(*theirs)):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-10, atol=1e-12)
    info = sj.linalg.lu_factor_ex(sj.tensor(a)).info
    assert info.numpy().shape == torch.linalg.lu_factor_ex(torch.tensor(a)).info.numpy().shape


def test_lu_gradients():
    check_op(lambda a: sum((k + 1.0) * t.sum() for k, t in enumerate(sj.linalg.lu(a))),
             lambda a: sum((k + 1.0) * t.sum() for k, t in enumerate(torch.linalg.lu(a))), r(4, 4))
    check_op(lambda a: sj.linalg.lu_factor(a)[0], lambda a: torch.linalg.lu_factor(a)[0], r(2, 3, 3))


@pytest.mark.parametrize("left, adjoint", [(True, False), (True, True), (False, False), (False, True)])
def test_lu_solve(left, adjoint):
    a = r(3, 3)
    b = r(3, 2) if left else r(2, 3)

    def ours(a, b):
        return sj.linalg.lu_solve(*sj.linalg.lu_factor(a), b, left=left, adjoint=adjoint)

    def theirs(a, b):
        return torch.linalg.lu_solve(*torch.linalg.lu_factor(a), b, left=left, adjoint=adjoint)
    check_op(ours, theirs, a, b)
    check_op(lambda a, b: sj.lu_solve(b, *sj.linalg.lu_factor(a)), lambda a, b: torch.lu_solve(b, *torch.linalg.lu_factor(a)),
             a, r(3, 2))


def test_deprecated_lu_warns_and_returns_the_packed_form():
    a = r(3, 3)
    with pytest.warns(UserWarning, match="deprecated"):
        ours = sj.lu(sj.tensor(a), get_infos=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.lu(torch.tensor(a), get_infos=True)
    for x, y in zip(ours, theirs):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-10)
    with pytest.warns(UserWarning):
        packed, pivots = sj.tensor(a).lu()
    np.testing.assert_allclose(packed.numpy(), theirs[0].numpy(), rtol=1e-10)


@pytest.mark.parametrize("upper, transpose, unitriangular", [(True, False, False), (False, True, False),
                                                              (True, True, True)])
def test_triangular_solve(upper, transpose, unitriangular):
    a = r(3, 3) + 3 * np.eye(3)
    check_op(lambda b, a: sj.triangular_solve(b, a, upper, transpose, unitriangular)[0],
             lambda b, a: torch.triangular_solve(b, a, upper, transpose, unitriangular)[0], r(3, 2), a)
    solution, clone = sj.tensor(r(3, 2)).triangular_solve(sj.tensor(a), upper)
    np.testing.assert_array_equal(clone.numpy(), a)


@pytest.mark.parametrize("n", [1, 3, 5, 8])
def test_ldl_factor_and_solve_match_lapack(n):
    for trial in range(3):
        a = r(n, n)
        a = a + a.T
        if trial == 1 and n > 1:
            a[0, 0] = 1e-3  # a small diagonal entry: Bunch-Kaufman takes a 2x2 pivot
        ours, theirs = sj.linalg.ldl_factor(sj.tensor(a)), torch.linalg.ldl_factor(torch.tensor(a))
        np.testing.assert_array_equal(ours.pivots.numpy(), theirs.pivots.numpy())
        np.testing.assert_allclose(np.tril(ours.LD.numpy()), np.tril(theirs.LD.numpy()), rtol=1e-8, atol=1e-10)
        b = r(n, 2)
        x = sj.linalg.ldl_solve(*ours, sj.tensor(b))
        np.testing.assert_allclose(x.numpy(), torch.linalg.ldl_solve(*theirs, torch.tensor(b)).numpy(),
                                   rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(a @ x.numpy(), b, rtol=1e-8, atol=1e-8)
    ex = sj.linalg.ldl_factor_ex(sj.tensor(r(2, n, n) + r(2, n, n).transpose(0, 2, 1)))
    assert ex.info.numpy().shape == (2,) and ex.LD.shape == (2, n, n)


def test_householder_product_geqrf_ormqr():
    a = r(5, 3)
    ours, theirs = sj.geqrf(sj.tensor(a)), torch.geqrf(torch.tensor(a))
    np.testing.assert_allclose(ours.a.numpy(), theirs.a.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.tau.numpy(), theirs.tau.numpy(), rtol=1e-10, atol=1e-12)
    reflectors, tau = theirs.a.numpy(), theirs.tau.numpy()
    check_op(lambda h, t: sj.linalg.householder_product(h, t), lambda h, t: torch.linalg.householder_product(h, t),
             reflectors, tau)
    check_op(lambda h, t: sj.orgqr(h, t), lambda h, t: torch.orgqr(h, t), reflectors[:, :2].copy(), tau[:2].copy())
    for left, transpose in ((True, False), (True, True), (False, False), (False, True)):
        other = r(5, 2) if left else r(2, 5)
        check_op(lambda h, t, c: sj.ormqr(h, t, c, left, transpose), lambda h, t, c: torch.ormqr(h, t, c, left, transpose),
                 reflectors, tau, other)
    np.testing.assert_allclose(sj.tensor(a).geqrf()[1].numpy(), tau, rtol=1e-10)


def test_eig_of_real_spectra():
    q = np.linalg.qr(r(4, 4))[0]
    a = q @ np.diag([3.0, -1.0, 0.5, 2.0]) @ np.linalg.inv(q) + 0.0
    ours, theirs = sj.linalg.eig(sj.tensor(a)), torch.linalg.eig(torch.tensor(a))
    np.testing.assert_allclose(ours.eigenvalues.numpy(), theirs.eigenvalues.real.numpy(), rtol=1e-10)
    np.testing.assert_allclose(np.abs(ours.eigenvectors.numpy()), np.abs(theirs.eigenvectors.real.numpy()), rtol=1e-8)
    check_op(lambda x: sj.linalg.eigvals(x), lambda x: torch.linalg.eigvals(x).real, a)

    def vectors_loss(lib, x):  # invariant to each eigenvector's sign
        values, vectors = lib.linalg.eig(x)
        vectors = vectors.real if lib is torch else vectors
        values = values.real if lib is torch else values
        return (vectors ** 2 * lib.arange(4.0, dtype=x.dtype)).sum() + (values ** 3).sum()
    check_op(lambda x: vectors_loss(sj, x), lambda x: vectors_loss(torch, x), a)
    with pytest.raises(RuntimeError, match="complex eigenvalues"):
        sj.linalg.eig(sj.tensor([[0.0, -1.0], [1.0, 0.0]]))


def test_low_rank_svd_and_pca():
    sj.manual_seed(0)
    a = r(30, 4) @ r(4, 20)
    u, s, v = sj.svd_lowrank(sj.tensor(a), q=4)
    np.testing.assert_allclose(s.numpy(), torch.linalg.svdvals(torch.tensor(a))[:4].numpy(), rtol=1e-8)
    np.testing.assert_allclose((u @ sj.diag(s) @ v.T).numpy(), a, atol=1e-8)
    u, s, v = sj.svd_lowrank(sj.tensor(a.T.copy()), q=4)  # wide input
    np.testing.assert_allclose((u @ sj.diag(s) @ v.T).numpy(), a.T, atol=1e-8)
    centered = a - a.mean(0)
    u, s, v = sj.pca_lowrank(sj.tensor(a), q=4)
    np.testing.assert_allclose(s.numpy(), torch.linalg.svdvals(torch.tensor(centered))[:4].numpy(), rtol=1e-8)
    x = sj.tensor(a, requires_grad=True)
    sj.svd_lowrank(x, q=4)[1].sum().backward()  # the nuclear norm's gradient on a rank-4 matrix: U V^T
    uu, _, vvh = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(x.grad.numpy(), uu[:, :4] @ vvh[:4], atol=1e-6)
    with pytest.raises(ValueError, match="q"):
        sj.svd_lowrank(sj.tensor(a), q=50)


def test_legacy_norms():
    with pytest.warns(UserWarning, match="deprecated"):
        check_op(lambda x: sj.frobenius_norm(x, (0, 1)), lambda x: torch.frobenius_norm(x, (0, 1)), r(3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(lambda x: sj.frobenius_norm(x, [1], True), lambda x: torch.frobenius_norm(x, [1], True), r(3, 4))
        check_op(lambda x: sj.nuclear_norm(x), lambda x: torch.nuclear_norm(x), r(3, 4))
        check_op(lambda x: sj.nuclear_norm(x, (0, 2), True), lambda x: torch.nuclear_norm(x, (0, 2), True), r(3, 2, 4))


@pytest.mark.parametrize("name", ["solve", "lstsq", "eig", "matrix_rank"])
def test_removed_functions_raise_pytorchs_error(name):
    a = torch.randn(3, 3)
    with pytest.raises(RuntimeError, match="removed"):
        getattr(torch, name)(a, a) if name in ("solve", "lstsq") else getattr(torch, name)(a)
    with pytest.raises(RuntimeError, match=f"removed: use torch.linalg.{name}"):
        getattr(sj, name)(sj.zeros(3, 3))
    if name != "matrix_rank":
        with pytest.raises(RuntimeError, match="removed"):
            getattr(sj.zeros(3, 3), name)(sj.zeros(3, 3))
