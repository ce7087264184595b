"""Top-level forms of Tensor methods (``torch.detach(x)``, ``torch.zero_(x)``, ...), the older linear-algebra
functions of the top level (``torch.lu``, ``torch.lu_solve``, ``torch.triangular_solve``, ``torch.geqrf``,
``torch.orgqr``, ``torch.ormqr``, the low-rank SVD and PCA, ``frobenius_norm``, ``nuclear_norm``), and the
functions PyTorch has removed but still names (``torch.solve``, ``torch.lstsq``, ``torch.eig``,
``torch.matrix_rank``), which raise its error pointing at their ``linalg`` replacement.

The Tensor methods that need ``nn.functional`` or ``linalg`` (loaded after ``Tensor``) are attached to
``Tensor`` at the end of this module (``LATE_METHODS``).
"""

from __future__ import annotations

import warnings
from collections import namedtuple
from typing import Any, Sequence

from shenjing import _ops, linalg
from shenjing._ops import factorizations as _fac
from shenjing._ops._util import check_tensor
from shenjing._tensor import Tensor
from shenjing.nn import functional as F

__all__ = ["as_strided_", "detach", "detach_", "fill_", "zero_", "get_device", "is_inference", "is_distributed", "resize_as_",
           "index_put_", "lu", "lu_solve", "lu_unpack", "triangular_solve", "geqrf", "orgqr", "ormqr",
           "svd_lowrank", "pca_lowrank", "frobenius_norm", "nuclear_norm", "solve", "lstsq", "eig", "matrix_rank"]

_LUUnpackResult = namedtuple("lu_unpack", ["P", "L", "U"])
_TriangularSolveResult = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])
_GeqrfResult = namedtuple("geqrf", ["a", "tau"])


def as_strided_(input: Tensor, size: Sequence[int], stride: Sequence[int], storage_offset: int | None = None) -> Tensor:
    return check_tensor(input).as_strided_(size, stride, storage_offset)


def detach(input: Tensor) -> Tensor:
    return check_tensor(input).detach()


def detach_(input: Tensor) -> Tensor:
    return check_tensor(input).detach_()


def fill_(input: Tensor, value: Any) -> Tensor:
    return check_tensor(input).fill_(value)


def zero_(input: Tensor) -> Tensor:
    return check_tensor(input).zero_()


def get_device(input: Tensor) -> int:
    return check_tensor(input).get_device()


def is_inference(input: Tensor) -> bool:
    return check_tensor(input).is_inference()


def is_distributed(input: Tensor) -> bool:
    return check_tensor(input).is_distributed()


def resize_as_(input: Tensor, the_template: Tensor, *, memory_format: Any = None) -> Tensor:
    return check_tensor(input).resize_as_(the_template)


def index_put_(input: Tensor, indices: Sequence[Any], values: Any, accumulate: bool = False) -> Tensor:
    return check_tensor(input).index_put_(indices, values, accumulate)


# -- the top level's older linear algebra ------------------------------------------------------------

def lu(A: Tensor, pivot: bool = True, get_infos: bool = False, out: Any = None) -> tuple:
    """(LU, pivots) (and info with ``get_infos``): deprecated in PyTorch for ``linalg.lu_factor(_ex)``."""
    warnings.warn("torch.lu is deprecated in favor of torch.linalg.lu_factor / torch.linalg.lu_factor_ex and will "
                  "be removed in a future PyTorch release.", UserWarning, stacklevel=2)
    packed, pivots, info = linalg.lu_factor_ex(A, pivot=pivot)
    if get_infos:
        return packed, pivots, info
    if info._data.any():
        raise linalg.LinAlgError(f"torch.lu: U[{int(info._data.max())},{int(info._data.max())}] is zero and using it "
                                 f"on lu_solve would result in a division by zero")
    return packed, pivots


def lu_solve(b: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:
    """X with A X = b, A given by ``lu``'s (LU_data, LU_pivots) (``linalg.lu_solve`` with the arguments reordered)."""
    return _fac.lu_solve(LU_data, LU_pivots, b)


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True, unpack_pivots: bool = True) -> tuple:
    """(P, L, U) from the packed LU and pivots."""
    return _LUUnpackResult(*_fac.lu_unpack(LU_data, LU_pivots, unpack_data, unpack_pivots))


def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False) -> tuple[Tensor, Tensor]:
    """(X, A.clone()) with op(A) X = b; see ``linalg.solve_triangular``."""
    return _TriangularSolveResult(*_fac.triangular_solve(b, A, upper, transpose, unitriangular))


def geqrf(input: Tensor) -> tuple[Tensor, Tensor]:
    """LAPACK's QR in Householder form: (a, tau), R on and above a's diagonal, the reflectors below."""
    return _GeqrfResult(*_fac.geqrf(input))


def orgqr(input: Tensor, tau: Tensor) -> Tensor:
    """Q from ``geqrf``'s (a, tau): ``linalg.householder_product``."""
    return _fac.householder_product(input, tau)


def ormqr(input: Tensor, tau: Tensor, other: Tensor, left: bool = True, transpose: bool = False) -> Tensor:
    """Q other, Q^T other, other Q or other Q^T, Q the full orthogonal matrix of ``geqrf``'s reflectors."""
    return _fac.ormqr(input, tau, other, left, transpose)


def _approximate_basis(A: Tensor, q: int, niter: int, M: Tensor | None) -> Tensor:
    """An orthonormal (m, q) basis of A's range by randomised subspace iteration (Halko et al. 2011)."""
    def apply(x: Tensor) -> Tensor:
        return A @ x if M is None else A @ x - M @ x

    def apply_t(x: Tensor) -> Tensor:
        return A.mT @ x if M is None else A.mT @ x - M.mT @ x

    start = _ops.randn(*A.shape[:-2], A.shape[-1], q, dtype=A.dtype)
    basis = linalg.qr(apply(start)).Q
    for _ in range(niter):
        basis = linalg.qr(apply_t(basis)).Q
        basis = linalg.qr(apply(basis)).Q
    return basis


def svd_lowrank(A: Tensor, q: int | None = 6, niter: int | None = 2, M: Tensor | None = None) -> tuple:
    """An approximate rank-``q`` SVD (U, S, V) with A - M ~ U diag(S) V^T, by randomised subspace iteration
    (``niter`` power steps) with random draws of shenjing's generator; differentiable through its
    products, QRs and the small SVD.

    >>> import shenjing
    >>> _ = shenjing.manual_seed(0)
    >>> A = shenjing.randn(20, 3) @ shenjing.randn(3, 15)        # rank 3
    >>> U, S, V = shenjing.svd_lowrank(A, q=3)
    >>> bool(shenjing.allclose(U @ shenjing.diag(S) @ V.T, A, atol=1e-3))
    True
    """
    check_tensor(A, "svd_lowrank(): A")
    q = 6 if q is None else int(q)
    niter = 2 if niter is None else int(niter)
    m, n = A.shape[-2:]
    if not 0 <= q <= min(m, n):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    if niter < 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if m < n:  # work with the tall matrix
        U, S, V = svd_lowrank(A.mT, q, niter, None if M is None else M.mT)
        return V, S, U
    basis = _approximate_basis(A, q, niter, M)
    small = basis.mT @ (A if M is None else A - M)
    u_small, S, vh = linalg.svd(small, full_matrices=False)
    return basis @ u_small, S, vh.mT


def pca_lowrank(A: Tensor, q: int | None = None, center: bool = True, niter: int = 2) -> tuple:
    """(U, S, V) of the approximate rank-``q`` PCA of the rows of A (``q`` defaults to min(6, m, n)): the
    low-rank SVD of A with its column means subtracted (``center``)."""
    check_tensor(A, "pca_lowrank(): A")
    m, n = A.shape[-2:]
    q = min(6, m, n) if q is None else int(q)
    if not 0 <= q <= min(m, n):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    centered = A - A.mean(dim=-2, keepdim=True) if center else A
    return svd_lowrank(centered, q, niter)


def frobenius_norm(input: Tensor, dim: Sequence[int], keepdim: bool = False) -> Tensor:
    """sqrt(sum of squares) over ``dim`` (deprecated in PyTorch for ``linalg.vector_norm``)."""
    warnings.warn("at::frobenius_norm is deprecated and it is just left for JIT compatibility. It will be removed in "
                  "a future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, keepdim)` instead",
                  UserWarning, stacklevel=2)
    check_tensor(input)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) > 2:
        raise RuntimeError(f"Expected at most 2 dimensions, but got {len(dims)} dimensions instead.")
    return linalg.vector_norm(input, 2, dims, keepdim)


def nuclear_norm(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The sum of the singular values over the matrix dims ``dim`` (the last two by default; deprecated in
    PyTorch for ``linalg.matrix_norm(A, 'nuc')``)."""
    warnings.warn("at::nuclear_norm is deprecated and it is just left for JIT compatibility. It will be removed in a "
                  "future PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead",
                  UserWarning, stacklevel=2)
    check_tensor(input)
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    if input.ndim != 2 and dim is None:
        raise RuntimeError(f"Expected a tensor with 2 dimensions, but got a tensor with {input.ndim} dimensions "
                           f"instead.")
    return linalg.matrix_norm(input, "nuc", (-2, -1) if dim is None else tuple(dim), keepdim)


_REMOVED = {  # name -> (replacement, what changed)
    "solve": ("torch.linalg.solve", "its arguments are reversed (solve(A, B)) and it returns no LU factorization; "
              "use torch.linalg.lu_factor for that"),
    "lstsq": ("torch.linalg.lstsq", "its arguments are reversed (lstsq(A, B)) and it returns a named tuple "
              "(solution, residuals, rank, singular_values) instead of the QR decomposition"),
    "eig": ("torch.linalg.eig", "it returns complex tensors (shenjing: real eigenvalues only), or "
            "torch.linalg.eigvals for the eigenvalues alone"),
    "matrix_rank": ("torch.linalg.matrix_rank", "the parameter 'symmetric' is named 'hermitian' there"),
}


def _removed(name: str) -> Any:
    def function(*args: Any, **kwargs: Any) -> Any:
        replacement, change = _REMOVED[name]
        raise RuntimeError(f"torch.{name} was deprecated in PyTorch 1.9 and is now removed: use {replacement} "
                           f"({change})")
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Removed from PyTorch (1.9): raises its error, which names the ``linalg`` replacement."
    return function


solve, lstsq, eig, matrix_rank = (_removed(n) for n in ("solve", "lstsq", "eig", "matrix_rank"))


# -- Tensor methods that need nn.functional or linalg ---------------------------------------------------

def _prelu(self: Tensor, weight: Tensor) -> Tensor:
    return F.prelu(self, weight)


def _hardshrink(self: Tensor, lambd: float = 0.5) -> Tensor:
    return F.hardshrink(self, lambd)


def _lu(self: Tensor, pivot: bool = True, get_infos: bool = False) -> tuple:
    return lu(self, pivot, get_infos)


def _lu_solve(self: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:
    return lu_solve(self, LU_data, LU_pivots)


def _triangular_solve(self: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                      unitriangular: bool = False) -> tuple:
    return triangular_solve(self, A, upper, transpose, unitriangular)


def _removed_method(name: str) -> Any:
    function = _removed(name)

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return function(self, *args, **kwargs)
    method.__name__ = name
    return method


LATE_METHODS = {"prelu": _prelu, "hardshrink": _hardshrink, "lu": _lu, "lu_solve": _lu_solve,
                "triangular_solve": _triangular_solve, "geqrf": geqrf, "orgqr": orgqr, "ormqr": ormqr,
                "solve": _removed_method("solve"), "lstsq": _removed_method("lstsq"), "eig": _removed_method("eig")}
for _name, _method in LATE_METHODS.items():
    setattr(Tensor, _name, _method)
del _name, _method
