"""``torch.linalg``: linear algebra on the last two dims of a tensor, batch dims in front, differentiable.

    >>> import shenjing
    >>> A = shenjing.tensor([[4.0, 1.0], [1.0, 3.0]])
    >>> shenjing.linalg.solve(A, shenjing.tensor([1.0, 2.0]))   # x with A x = b
    tensor([0.0909, 0.6364])
    >>> shenjing.linalg.det(A)
    tensor(11.)

The primitives (inverse, det, solve, Cholesky, QR, eigh, SVD) are ops in ``shenjing._ops.decomposition``
with their backward formulas; the rest is built from them and from ordinary ops. Not here: eig/eigvals
(complex results), and the LU/LDL factorisations and householder_product.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any, Sequence

import numpy as np

from shenjing._ops import decomposition as _dec
from shenjing._ops import factorizations as _fac
from shenjing._ops.decomposition import LinAlgError, matrix_exp, matrix_power
from shenjing._ops.linalg import matmul
from shenjing._ops.matrix import diag_embed, tril, triu
from shenjing._ops.matrix import diagonal as _diagonal
from shenjing._ops.reduce import amax, amin, sum as _sum
from shenjing._ops.shape import stack
from shenjing._tensor import Tensor
from shenjing.autograd.node import shown_as

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv",
           "inv_ex", "lstsq", "matmul", "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot",
           "norm", "pinv", "qr", "slogdet", "solve", "solve_ex", "solve_triangular", "svd", "svdvals", "tensorinv",
           "tensorsolve", "vander", "vecdot", "vector_norm",
           # issue 18 breadth: LU, LDL^T, Householder products, the real eigen-decomposition
           "lu", "lu_factor", "lu_factor_ex", "lu_solve", "ldl_factor", "ldl_factor_ex", "ldl_solve", "eig",
           "eigvals", "householder_product"]

_QRResult = namedtuple("qr", ["Q", "R"])
_EighResult = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
_SVDResult = namedtuple("svd", ["U", "S", "Vh"])
_LstsqResult = namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])
_InvExResult = namedtuple("inv_ex", ["inverse", "info"])
_CholeskyExResult = namedtuple("cholesky_ex", ["L", "info"])
_SolveExResult = namedtuple("solve_ex", ["result", "info"])


def _t(x: Tensor) -> Tensor:
    return x.transpose(-2, -1)


def inv(A: Tensor, *, out: Any = None) -> Tensor:
    """A^-1 of each square matrix (..., n, n); a singular one raises ``LinAlgError``."""
    return _dec.inverse(A)


def _info(A: Tensor) -> Tensor:
    return Tensor._make(np.zeros(A._data.shape[:-2], np.int32))


def inv_ex(A: Tensor, *, check_errors: bool = False) -> tuple[Tensor, Tensor]:
    """(inverse, info) with info = 0 (a singular matrix raises, as with ``check_errors=True``)."""
    return _InvExResult(inv(A), _info(A))


def det(A: Tensor) -> Tensor:
    """det A of each square matrix."""
    return _dec.det(A)


def slogdet(A: Tensor) -> tuple[Tensor, Tensor]:
    """(sign, log|det A|): the determinant without overflow; the second is differentiable."""
    return _dec.slogdet(A)


def _as_columns(A: Tensor, B: Tensor) -> bool:
    """PyTorch's rule: B is a (batch of) vector(s) when it is 1-D or has one dim less than A with A's batch."""
    return B._data.ndim == 1 or (B._data.ndim == A._data.ndim - 1 and B._data.shape == A._data.shape[:-1])


def solve(A: Tensor, B: Tensor, *, left: bool = True, out: Any = None) -> Tensor:
    """X with A X = B (``left``) or X A = B. B is (..., n, k), or (..., n) for vectors.

    >>> import shenjing
    >>> shenjing.linalg.solve(shenjing.tensor([[2.0, 0.0], [0.0, 4.0]]), shenjing.tensor([2.0, 2.0]))
    tensor([1.0000, 0.5000])
    """
    a = _dec.square_input("linalg.solve", A)
    b = B if isinstance(B, Tensor) else Tensor._make(np.asarray(B, a._data.dtype))
    if not left:
        return _t(solve(_t(a), _t(b)))
    vector = _as_columns(a, b)
    b2 = b.unsqueeze(-1) if vector else b
    if b2._data.shape[-2] != a._data.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({'x'.join(map(str, a._data.shape[-2:]))} and "
                           f"{'x'.join(map(str, b2._data.shape[-2:]))})")
    batch = np.broadcast_shapes(a._data.shape[:-2], b2._data.shape[:-2])
    a = a.expand(*batch, *a._data.shape[-2:]) if a._data.shape[:-2] != batch else a
    b2 = b2.expand(*batch, *b2._data.shape[-2:]) if b2._data.shape[:-2] != batch else b2
    x = _dec.Solve()(a, b2.to(a.dtype))
    return x.squeeze(-1) if vector else x


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False) -> tuple[Tensor, Tensor]:
    """(``solve(A, B)``, info) with info = 0 (a singular matrix raises, as with ``check_errors=True``)."""
    return _SolveExResult(solve(A, B, left=left), _info(A))


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """X with A X = B (``left``) or X A = B, reading only the ``upper`` or lower triangle of A (and taking
    its diagonal as ones if ``unitriangular``). B is (..., n, k)."""
    a = _dec.square_input("linalg.solve_triangular", A)
    triangle = triu(a) if upper else tril(a)
    if unitriangular:
        eye = Tensor._make(np.eye(a._data.shape[-1], dtype=a._data.dtype))
        triangle = triangle - diag_embed(_diagonal(triangle, 0, -2, -1)) + eye
    if B._data.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 dimensions.")
    return solve(triangle, B, left=left) if B._data.ndim > 1 else solve(triangle, B.unsqueeze(-1), left=left)


def cholesky(A: Tensor, *, upper: bool = False, out: Any = None) -> Tensor:
    """L with A = L L^T of each symmetric positive-definite matrix (U = L^T with ``upper``)."""
    return _dec.cholesky(A, upper)


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False) -> tuple[Tensor, Tensor]:
    """(``cholesky(A)``, info) with info = 0 (a matrix that is not positive-definite raises)."""
    return _CholeskyExResult(cholesky(A, upper=upper), _info(A))


def qr(A: Tensor, mode: str = "reduced") -> tuple[Tensor, Tensor]:
    """(Q, R) with A = Q R: Q orthonormal columns, R upper triangular; mode "reduced", "complete" or "r"."""
    return _QRResult(*_dec.linalg_qr(A, mode))


def eigh(A: Tensor, UPLO: str = "L") -> tuple[Tensor, Tensor]:
    """(eigenvalues ascending, eigenvectors as columns) of each symmetric matrix, read from its ``UPLO`` triangle."""
    return _EighResult(*_dec.linalg_eigh(A, UPLO))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues (ascending) of each symmetric matrix."""
    return _dec.linalg_eigh(A, UPLO)[0]


def svd(A: Tensor, full_matrices: bool = True, *, driver: Any = None) -> tuple[Tensor, Tensor, Tensor]:
    """(U, S, Vh) with A = U diag(S) Vh, S descending; U (m, m) and Vh (n, n) if ``full_matrices``,
    else (m, k) and (k, n) with k = min(m, n)."""
    return _SVDResult(*_dec.SVD(full_matrices)(_dec.matrix_input("linalg.svd", A)))


def svdvals(A: Tensor, *, driver: Any = None) -> Tensor:
    """The singular values, descending."""
    return _dec.SVD(False)(_dec.matrix_input("linalg.svdvals", A))[1]


def _tolerance(s: Tensor, shape: tuple, atol: Any, rtol: Any) -> np.ndarray:
    """max(atol, rtol * s_max) per matrix; rtol defaults to eps * max(m, n) when neither is given."""
    eps = np.finfo(s._data.dtype).eps
    atol_value = 0.0 if atol is None else (atol._data if isinstance(atol, Tensor) else atol)
    if rtol is None:
        rtol = eps * max(shape[-2:]) if atol is None or np.all(np.asarray(atol_value) <= 0) else 0.0
    rtol_value = rtol._data if isinstance(rtol, Tensor) else rtol
    top = s._data[..., :1] if s._data.shape[-1] else np.zeros(s._data.shape[:-1] + (1,), s._data.dtype)
    return np.maximum(np.asarray(atol_value)[..., None] if np.ndim(atol_value) else atol_value,
                      (np.asarray(rtol_value)[..., None] if np.ndim(rtol_value) else rtol_value) * top)


def pinv(A: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False) -> Tensor:
    """The pseudo-inverse V diag(1/s) U^T, singular values at or below max(atol, rtol * s_max) dropped."""
    a = _dec.matrix_input("linalg.pinv", A)
    u, s, vh = _dec.SVD(False)(a)
    keep = s._data > _tolerance(s, a._data.shape, atol, rtol)
    inverted = Tensor._make(keep.astype(s._data.dtype)) / (s + Tensor._make((~keep).astype(s._data.dtype)))
    return _t(vh) @ (inverted.unsqueeze(-1) * _t(u))


def matrix_rank(A: Tensor, *, atol: Any = None, rtol: Any = None, hermitian: bool = False,
                tol: Any = None) -> Tensor:
    """The number of singular values above max(atol, rtol * s_max) (int64)."""
    a = _dec.matrix_input("linalg.matrix_rank", A)
    s = svdvals(a.detach())
    if tol is not None:
        atol, rtol = tol, 0.0
    return Tensor._make(np.sum(s._data > _tolerance(s, a._data.shape, atol, rtol), axis=-1).astype(np.int64))


def lstsq(A: Tensor, B: Tensor, rcond: Any = None, *, driver: Any = None) -> tuple:
    """The least-squares solution X of min ||A X - B|| (the pseudo-inverse's), with PyTorch's other fields
    (residuals empty, rank and singular values empty for its default CPU driver "gelsy" except rank)."""
    a = _dec.matrix_input("linalg.lstsq", A)
    x = pinv(a, rtol=rcond) @ B
    empty = Tensor._make(np.zeros((0,), a._data.dtype))
    return _LstsqResult(x, empty, matrix_rank(a), empty)


def vector_norm(x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """(sum |x_i|^ord)^(1/ord) over ``dim`` (every element if None); ord inf/-inf: max/min |x_i|, 0: the count
    of non-zeros."""
    if dtype is not None:
        x = x.to(dtype)
    if not x.is_floating_point():
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point tensor as input. Got {x.dtype}")
    return shown_as(_vector_norm(x, ord, dim, keepdim), "LinalgVectorNormBackward0")


def _vector_norm(x: Tensor, ord: Any, dim: Any, keepdim: bool) -> Tensor:
    if dim is None:
        flat = vector_norm(x.reshape(-1), ord, 0)
        return flat.reshape(*(1,) * x.dim()) if keepdim else flat
    magnitude = x.abs()
    if ord == math.inf:
        return amax(magnitude, dim, keepdim)
    if ord == -math.inf:
        return amin(magnitude, dim, keepdim)
    if ord == 0:  # a count: its gradient is zero (0 * |x| keeps it in the graph, as in PyTorch)
        return _sum((x != 0).to(x.dtype) + 0 * magnitude, dim, keepdim)
    if ord == 1:
        return _sum(magnitude, dim, keepdim)
    if ord == 2:
        return _sum(x * x, dim, keepdim).sqrt()
    return _sum(magnitude ** ord, dim, keepdim) ** (1.0 / ord)


def matrix_norm(A: Tensor, ord: Any = "fro", dim: tuple = (-2, -1), keepdim: bool = False, *,
                dtype: Any = None) -> Tensor:
    """Matrix norms over the two ``dim``: "fro", "nuc" (sum of singular values), 2 / -2 (largest / smallest
    singular value), 1 / -1 (max / min column sum of |a_ij|), inf / -inf (max / min row sum)."""
    a = A.to(dtype) if dtype is not None else A
    a = _dec.matrix_input("linalg.matrix_norm", a)
    d1, d2 = (d % a._data.ndim for d in dim)
    if ord == "fro":
        return _sum(a * a, (d1, d2), keepdim).sqrt()
    if ord in ("nuc", 2, -2):
        moved = a.movedim((d1, d2), (-2, -1))
        s = svdvals(moved)
        value = s.sum(-1) if ord == "nuc" else (s[..., 0] if ord == 2 else s[..., -1])
        if keepdim:
            value = value.unsqueeze(min(d1, d2)).unsqueeze(max(d1, d2))
        return value
    if ord in (1, -1, math.inf, -math.inf):
        summed_dim, reduced_dim = (d1, d2) if ord in (1, -1) else (d2, d1)
        sums = _sum(a.abs(), summed_dim, True)
        pick = amax if ord in (1, math.inf) else amin
        value = pick(sums, reduced_dim, True)
        return value if keepdim else value.squeeze((d1, d2))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """``vector_norm`` or ``matrix_norm``: with ``dim`` None, a 1-D or 2-D input by its kind (ord None: the
    2-norm of all elements); with ``dim`` an int, a vector norm; a pair, a matrix norm."""
    if isinstance(dim, int) or (dim is None and ord is not None and A.dim() == 1):
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is None and ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if dim is None:
        if A.dim() != 2:
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                               f"Got {A.dim()}D.")
        dim = (-2, -1)
    if len(dim) == 1:
        return vector_norm(A, 2 if ord is None else ord, dim[0], keepdim, dtype=dtype)
    return matrix_norm(A, "fro" if ord is None else ord, tuple(dim), keepdim, dtype=dtype)


def cond(A: Tensor, p: Any = None) -> Tensor:
    """The condition number: s_max / s_min (p None or 2), s_min / s_max (-2), else ||A||_p ||A^-1||_p."""
    a = _dec.matrix_input("linalg.cond", A)
    if p in (None, 2, -2):
        s = svdvals(a)
        return s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
    return matrix_norm(a, p) * matrix_norm(inv(a), p)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The ``offset`` diagonal of the matrices in dims ``dim1``, ``dim2`` (the last two by default)."""
    return _diagonal(A, offset, dim1, dim2)


def multi_dot(tensors: Sequence[Tensor], *, out: Any = None) -> Tensor:
    """A @ B @ ... of two or more matrices; the first may be a row vector and the last a column vector."""
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    result = tensors[0]
    for t in tensors[1:]:
        result = matmul(result, t)
    return result


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (inputs broadcast)."""
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[dim]} "
                           f"and {other.shape[dim]}")
    a, b = input.unbind(dim), other.unbind(dim)
    return stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], dim)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """sum_i x_i y_i along ``dim`` (inputs broadcast)."""
    return (x * y).sum(dim)


def vander(x: Tensor, *, N: int | None = None) -> Tensor:
    """The Vandermonde matrix [1, x, x^2, ..., x^(N-1)] (powers increasing, along a new last dim)."""
    n = x.shape[-1] if N is None else int(N)
    if n < 1:
        raise RuntimeError("linalg.vander: N must be greater than 1.")
    columns = [x ** 0]
    for _ in range(1, n):
        columns.append(columns[-1] * x)
    return stack(columns, -1)


def tensorinv(A: Tensor, ind: int = 2) -> Tensor:
    """The inverse of A seen as a matrix of its first ``ind`` dims against the rest (result shape: the rest
    then the first)."""
    rows, cols = A.shape[:ind], A.shape[ind:]
    if math.prod(rows) != math.prod(cols):
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {math.prod(cols)} != {math.prod(rows)}")
    return inv(A.reshape(math.prod(rows), math.prod(cols))).reshape(*cols, *rows)


def tensorsolve(A: Tensor, B: Tensor, dims: Any = None) -> Tensor:
    """X with tensordot(A, X, X.ndim) = B."""
    if dims is not None:
        A = A.movedim(tuple(dims), tuple(range(A.dim() - len(dims), A.dim())))
    rest = A.shape[B.dim():]
    x = solve(A.reshape(B.numel(), math.prod(rest)), B.reshape(-1))
    return x.reshape(*rest)



# -- LU, LDL^T, Householder products, eig (issue 18 breadth; the maths in shenjing._ops.factorizations) ----
_LUResult = namedtuple("lu", ["P", "L", "U"])
_LUFactorResult = namedtuple("lu_factor", ["LU", "pivots"])
_LUFactorExResult = namedtuple("lu_factor_ex", ["LU", "pivots", "info"])
_LDLFactorResult = namedtuple("ldl_factor", ["LD", "pivots"])
_LDLFactorExResult = namedtuple("ldl_factor_ex", ["LD", "pivots", "info"])
_EigResult = namedtuple("eig", ["eigenvalues", "eigenvectors"])


def lu(A: Tensor, *, pivot: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """(P, L, U) with A = P L U: P a permutation, L unit lower triangular, U upper triangular.

    >>> import shenjing
    >>> P, L, U = shenjing.linalg.lu(shenjing.tensor([[1., 2.], [3., 4.]]))
    >>> P @ L @ U
    tensor([[1., 2.],
            [3., 4.]])
    """
    return _LUResult(*_fac.linalg_lu(A, pivot))


def lu_factor(A: Tensor, *, pivot: bool = True) -> tuple[Tensor, Tensor]:
    """(LU, pivots): L and U packed in one matrix and LAPACK's 1-based int32 row swaps (for ``lu_solve``)."""
    return _LUFactorResult(*_fac.lu_factor(A, pivot))


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """(LU, pivots, info); info > 0 where U has a zero on its diagonal (at that 1-based position)."""
    packed, pivots = _fac.lu_factor(A, pivot)
    k = min(A.shape[-2:])
    zero = (np.abs(np.diagonal(packed._data, 0, -2, -1)) == 0) if k else np.zeros(A.shape[:-2] + (0,), bool)
    info = np.where(zero.any(-1), zero.argmax(-1) + 1, 0).astype(np.int32)
    if check_errors and info.any():
        raise LinAlgError(f"torch.linalg.lu_factor_ex: U[{int(info.max())},{int(info.max())}] is zero and using it "
                          f"on lu_solve would result in a division by zero")
    return _LUFactorExResult(packed, pivots, Tensor._make(info))


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False) -> Tensor:
    """X with A X = B (X A = B if not ``left``; A^T if ``adjoint``), A given as ``lu_factor``'s (LU, pivots)."""
    return _fac.lu_solve(LU, pivots, B, left=left, adjoint=adjoint)


def ldl_factor(A: Tensor, *, hermitian: bool = False) -> tuple[Tensor, Tensor]:
    """(LD, pivots) with A = P L D L^T P^T (Bunch-Kaufman, LAPACK's sytrf, lower triangle)."""
    ld, pivots, info = _fac.ldl_factor_ex(A, hermitian=hermitian)
    if info._data.any():
        raise LinAlgError(f"torch.linalg.ldl_factor: The factorization could not be completed because the input is "
                          f"not invertible (D is singular at position {int(info._data.max())})")
    return _LDLFactorResult(ld, pivots)


def ldl_factor_ex(A: Tensor, *, hermitian: bool = False, check_errors: bool = False) -> tuple:
    """(LD, pivots, info) of ``ldl_factor``; info > 0 where D is singular."""
    return _LDLFactorExResult(*_fac.ldl_factor_ex(A, hermitian=hermitian, check_errors=check_errors))


def ldl_solve(LD: Tensor, pivots: Tensor, B: Tensor, *, hermitian: bool = False) -> Tensor:
    """X with A X = B, A given as ``ldl_factor``'s (LD, pivots)."""
    return _fac.ldl_solve(LD, pivots, B, hermitian=hermitian)


def eig(A: Tensor) -> tuple[Tensor, Tensor]:
    """(eigenvalues, eigenvectors) of a square matrix whose eigenvalues are real, as real tensors.

    PyTorch returns complex tensors (even for real eigenvalues); shenjing has no complex dtype, so it
    returns their real values and raises for a matrix with complex eigenvalues.
    """
    return _EigResult(*_fac.eig(A))


def eigvals(A: Tensor) -> Tensor:
    """The eigenvalues of a square matrix whose eigenvalues are real (see ``eig``)."""
    return _fac.eigvals(A)


def householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """The first n columns of the product of Householder reflectors (Q from ``geqrf``'s output)."""
    return _fac.householder_product(A, tau)
