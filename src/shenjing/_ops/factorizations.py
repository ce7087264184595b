"""LU, LDL^T, Householder QR pieces and the real eigen-decomposition, in LAPACK's conventions.

* ``LU``: P A = L U by Gaussian elimination with partial pivoting (LAPACK's getrf; pivots are 1-based
  row swaps, int32). Gradient for square A (PyTorch's formula):
  gA = P L^-T [tril(L^T gL, -1) + triu(gU U^T)] U^-T.
* ``ldl_factor``: A = P L D L^T P^T with Bunch-Kaufman pivoting (LAPACK's sytf2 on the lower triangle:
  1x1 and 2x2 blocks in D; a pivot k > 0 swapped row k with row pivots[k], a negative pair marks a 2x2
  block). Not differentiable, as in PyTorch.
* ``householder_product``: Q = H_1 ... H_k, H_i = I - tau_i v_i v_i^T with v_i = (0, .., 1, A[i+1:, i]),
  composed from differentiable ops; ``geqrf`` gives (A's reflectors, tau) as LAPACK does (no gradient,
  as in PyTorch).
* ``Eig``: A = V diag(L) V^-1 for matrices whose eigenvalues are all real. PyTorch returns complex
  tensors; shenjing has no complex dtype, so it returns real ones and refuses a matrix with complex
  eigenvalues. Gradient: gA = V^-T (diag(gL) + (V^T gV - V^T V diag(sum(V * gV, 0))) / E) V^T, with
  E_ij = L_j - L_i off the diagonal (PyTorch's formula restricted to real values).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shenjing._ops._util import check_tensor
from shenjing._ops.decomposition import LinAlgError, Solve, _lapack, matrix_input, square_input
from shenjing._ops.matrix import diag_embed, diagonal, tril, triu
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op

__all__: list[str] = []  # exposed by shenjing.linalg and the top level


def _t(x: Tensor) -> Tensor:
    return x.transpose(-2, -1)


def _eye(n: int, dtype: np.dtype) -> Tensor:
    return Tensor._make(np.eye(n, dtype=dtype))


# -- LU ------------------------------------------------------------------------------------------------

def _getrf(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One matrix: (packed LU, 1-based pivots) by partial pivoting, LAPACK's choices (first largest |a|)."""
    lu = a.astype(a.dtype, copy=True)
    m, n = lu.shape
    k = min(m, n)
    pivots = np.zeros(k, dtype=np.int32)
    for j in range(k):
        p = j + int(np.argmax(np.abs(lu[j:, j])))
        pivots[j] = p + 1
        if p != j:
            lu[[j, p]] = lu[[p, j]]
        if lu[j, j] != 0:
            lu[j + 1:, j] /= lu[j, j]
        lu[j + 1:, j + 1:] -= np.outer(lu[j + 1:, j], lu[j, j + 1:])
    return lu, pivots


def _permutation(pivots: np.ndarray, m: int, dtype: np.dtype) -> np.ndarray:
    """P with A = P L U from LAPACK pivots (row i was swapped with row pivots[i] - 1, in order)."""
    order = np.arange(m)
    for i, p in enumerate(pivots):
        p = int(p) - 1
        order[[i, p]] = order[[p, i]]
    perm = np.zeros((m, m), dtype=dtype)
    perm[order, np.arange(m)] = 1
    return perm


def _batched(fn: Any, a: np.ndarray) -> Any:
    batch = a.shape[:-2]
    flat = a.reshape((-1,) + a.shape[-2:])
    results = [fn(m) for m in flat]
    return tuple(np.stack([r[i] for r in results]).reshape(batch + results[0][i].shape) if results else
                 None for i in range(len(results[0]))) if results else None


class LU(Op):
    """(P, L, U) with A = P L U; L unit lower (m, k), U upper (k, n), k = min(m, n)."""

    def name(self) -> str:
        return "LinalgLuBackward0"

    def forward(self, a):
        m, n = a.shape[-2:]
        if a.size == 0:
            k = min(m, n)
            return (np.zeros(a.shape[:-2] + (m, m), a.dtype), np.zeros(a.shape[:-2] + (m, k), a.dtype),
                    np.zeros(a.shape[:-2] + (k, n), a.dtype))
        lu, pivots = _batched(_getrf, a)
        self.pivots = pivots
        k = min(m, n)
        lower = np.tril(lu[..., :, :k], -1) + np.eye(m, k, dtype=a.dtype)
        upper = np.triu(lu[..., :k, :])
        perm = np.stack([_permutation(p, m, a.dtype) for p in pivots.reshape(-1, k)]).reshape(a.shape[:-2] + (m, m))
        self.save_for_backward(perm, lower, upper)
        return perm, lower, upper

    def backward(self, gp, gl, gu):
        perm, lower, upper = self.saved_tensors
        m, n = lower.shape[-2], upper.shape[-1]
        if m != n:
            raise NotImplementedError("linalg.lu: the gradient is implemented for square matrices only")
        gl = gl if gl is not None else Tensor._make(np.zeros(lower.shape, lower._data.dtype))
        gu = gu if gu is not None else Tensor._make(np.zeros(upper.shape, upper._data.dtype))
        middle = tril(_t(lower) @ gl, -1) + triu(gu @ _t(upper))
        left = Solve()(_t(lower), middle)                   # L^-T middle
        ga = _t(Solve()(upper, _t(left)))                   # (L^-T middle) U^-T
        return perm @ ga


def _lu_op(A: Tensor, pivot: bool, name: str) -> tuple[LU, tuple[Tensor, Tensor, Tensor]]:
    a = matrix_input(name, A)
    if not pivot:
        raise NotImplementedError(f"{name}: LU without pivoting is only implemented for CUDA tensors in PyTorch; "
                                  f"shenjing computes on the CPU (pivot=True)")
    op = LU()
    return op, op(a)


def linalg_lu(A: Tensor, pivot: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """(P, L, U) with A = P L U (partial pivoting)."""
    return _lu_op(A, pivot, "linalg.lu")[1]


def lu_factor(A: Tensor, pivot: bool = True) -> tuple[Tensor, Tensor]:
    """(LU, pivots): L (below the diagonal, unit diagonal implied) and U packed in one matrix, and LAPACK's
    1-based int32 pivots."""
    op, (perm, lower, upper) = _lu_op(A, pivot, "linalg.lu_factor")
    m, n = A.shape[-2:]
    k = min(m, n)
    if m >= n:
        packed = tril(lower, -1) + _pad_rows(upper, m)
    else:
        packed = _pad_cols(tril(lower, -1), n) + upper
    pivots = getattr(op, "pivots", None)
    if pivots is None:
        pivots = np.broadcast_to(np.arange(1, k + 1, dtype=np.int32), A.shape[:-2] + (k,)).copy()
    return packed, Tensor._make(pivots.astype(np.int32))


def _pad_rows(x: Tensor, rows: int) -> Tensor:
    """(k, n) -> (rows, n) with zero rows below (differentiably)."""
    extra = rows - x.shape[-2]
    if extra == 0:
        return x
    from shenjing._ops.shape import cat

    return cat([x, Tensor._make(np.zeros(x.shape[:-2] + (extra, x.shape[-1]), x._data.dtype))], -2)


def _pad_cols(x: Tensor, cols: int) -> Tensor:
    return _t(_pad_rows(_t(x), cols))


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,
              unpack_pivots: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """(P, L, U) from ``lu_factor``'s packed form."""
    check_tensor(LU_data, "lu_unpack(): LU_data")
    check_tensor(LU_pivots, "lu_unpack(): LU_pivots")
    if LU_pivots._data.dtype != np.int32:
        raise RuntimeError(f"torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype. "
                           f"Note: this function is intended to be used with the output produced by "
                           f"torch.linalg.lu_factor (got {LU_pivots.dtype})")
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    dtype = LU_data._data.dtype
    empty = Tensor._make(np.zeros((0,), dtype))
    lower = upper = empty
    if unpack_data:
        lower = tril(LU_data[..., :, :k], -1) + Tensor._make(np.eye(m, k, dtype=dtype))
        upper = triu(LU_data[..., :k, :])
    perm = empty
    if unpack_pivots:
        flat = LU_pivots._data.reshape(-1, k)
        batch = LU_pivots.shape[:-1]
        if k == 0 or flat.shape[0] == 0:
            perm = Tensor._make(np.broadcast_to(np.eye(m, dtype=dtype), batch + (m, m)).copy())
        else:
            perm = Tensor._make(np.stack([_permutation(p, m, dtype) for p in flat]).reshape(batch + (m, m)))
    return perm, lower, upper


def _triangular(a: Tensor, upper: bool, unitriangular: bool = False) -> Tensor:
    triangle = triu(a) if upper else tril(a)
    if unitriangular:
        triangle = triangle - diag_embed(diagonal(triangle, 0, -2, -1)) + _eye(a.shape[-1], a._data.dtype)
    return triangle


def _solve(a: Tensor, b: Tensor) -> Tensor:
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = a.expand(*batch, *a.shape[-2:]) if tuple(a.shape[:-2]) != batch else a
    b = b.expand(*batch, *b.shape[-2:]) if tuple(b.shape[:-2]) != batch else b
    return Solve()(a, b)


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False) -> Tensor:
    """X with A X = B (``left``; X A = B otherwise; A^T for ``adjoint``), A given by ``lu_factor``:
    X = U^-1 L^-1 P^T B, by two triangular solves."""
    check_tensor(B, "linalg.lu_solve(): B")
    square_input("linalg.lu_solve", LU)
    perm, lower, upper = lu_unpack(LU, pivots)
    lower_t, upper_t = _triangular(LU, False, True), _triangular(LU, True)
    if not left:
        return _t(lu_solve(LU, pivots, _t(B), left=True, adjoint=not adjoint))
    if adjoint:  # A^T X = B with A = P L U: X = P L^-T U^-T B
        return perm @ _solve(_t(lower_t), _solve(_t(upper_t), B))
    return _solve(upper_t, _solve(lower_t, _t(perm) @ B))


def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False) -> tuple[Tensor, Tensor]:
    """(X, A) with op(A) X = b, op(A) = A or A^T, reading A's ``upper`` or lower triangle (deprecated in
    PyTorch for ``linalg.solve_triangular``)."""
    check_tensor(b, "triangular_solve(): b")
    a = square_input("triangular_solve", A)
    if b.ndim < 2:
        raise RuntimeError(f"torch.triangular_solve: Expected b to have at least 2 dimensions, but it has {b.ndim} "
                           f"dimensions instead")
    triangle = _triangular(a, upper, unitriangular)
    return _solve(_t(triangle) if transpose else triangle, b), a.clone()


# -- LDL^T (Bunch-Kaufman) -----------------------------------------------------------------------------

_ALPHA = (1 + 17 ** 0.5) / 8


def _swap_symmetric(a: np.ndarray, k: int, kk: int, kp: int, n: int) -> None:
    """Swap rows and columns kk and kp (kk < kp) of the lower triangle of the trailing matrix."""
    a[kp + 1:, [kk, kp]] = a[kp + 1:, [kp, kk]]
    middle = a[kk + 1:kp, kk].copy()
    a[kk + 1:kp, kk] = a[kp, kk + 1:kp]
    a[kp, kk + 1:kp] = middle
    a[kk, kk], a[kp, kp] = a[kp, kp], a[kk, kk]
    if kk > k:  # a 2x2 step: the entry of the first column moves too
        a[kk, k], a[kp, k] = a[kp, k], a[kk, k]


def _sytf2(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """LAPACK's sytf2 (uplo 'L'): the lower triangle of ``matrix`` overwritten by D and L; pivots 1-based."""
    a = np.tril(matrix).astype(matrix.dtype, copy=True)
    n = a.shape[0]
    pivots = np.zeros(n, dtype=np.int32)
    info = 0
    k = 0
    while k < n:
        kstep = 1
        absakk = abs(a[k, k])
        if k < n - 1:
            imax = k + 1 + int(np.argmax(np.abs(a[k + 1:, k])))
            colmax = abs(a[imax, k])
        else:
            imax, colmax = k, 0.0
        if max(absakk, colmax) == 0:
            info = info or k + 1
            kp = k
        elif absakk >= _ALPHA * colmax:
            kp = k
        else:
            rowmax = np.max(np.abs(a[imax, k:imax]))
            if imax < n - 1:
                rowmax = max(rowmax, np.max(np.abs(a[imax + 1:, imax])))
            if absakk >= _ALPHA * colmax * (colmax / rowmax):
                kp = k
            elif abs(a[imax, imax]) >= _ALPHA * rowmax:
                kp = imax
            else:
                kp, kstep = imax, 2
        kk = k + kstep - 1
        if kp != kk:
            _swap_symmetric(a, k, kk, kp, n)
        if kstep == 1:
            if a[k, k] != 0 and k < n - 1:
                d11 = 1 / a[k, k]
                column = a[k + 1:, k].copy()
                a[k + 1:, k + 1:] -= np.tril(d11 * np.outer(column, column))
                a[k + 1:, k] = column * d11
            pivots[k] = kp + 1
        else:
            if k < n - 2:
                d21 = a[k + 1, k]
                d11 = a[k + 1, k + 1] / d21
                d22 = a[k, k] / d21
                t = 1 / (d11 * d22 - 1)
                d21 = t / d21
                for j in range(k + 2, n):
                    wk = d21 * (d11 * a[j, k] - a[j, k + 1])
                    wkp1 = d21 * (d22 * a[j, k + 1] - a[j, k])
                    a[j:, j] -= a[j:, k] * wk + a[j:, k + 1] * wkp1
                    a[j, k], a[j, k + 1] = wk, wkp1
            pivots[k] = pivots[k + 1] = -(kp + 1)
        k += kstep
    return a, pivots, info


def ldl_factor_ex(A: Tensor, *, hermitian: bool = False, check_errors: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """(LD, pivots, info) of each symmetric matrix (its lower triangle is read); info > 0 where D is singular."""
    a = square_input("linalg.ldl_factor_ex", A)
    if not a.is_floating_point():
        raise RuntimeError(f"linalg.ldl_factor_ex: Expected a floating point tensor, got {a.dtype}")
    flat = a._data.reshape((-1,) + a._data.shape[-2:])
    results = [_sytf2(m) for m in flat]
    n = a._data.shape[-1]
    batch = a._data.shape[:-2]
    ld = np.stack([r[0] for r in results]).reshape(a._data.shape) if results else a._data.copy()
    pivots = np.stack([r[1] for r in results]).reshape(batch + (n,)) if results else np.zeros(batch + (n,), np.int32)
    info = np.array([r[2] for r in results], dtype=np.int32).reshape(batch)
    if check_errors and info.any():
        raise LinAlgError(f"torch.linalg.ldl_factor_ex: The factorization could not be completed because the input "
                          f"is not invertible (D is singular at {int(info.max())})")
    return Tensor._make(ld), Tensor._make(pivots), Tensor._make(info)


def _sytrs(ld: np.ndarray, pivots: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LAPACK's sytrs (uplo 'L'): solve A X = B with A = P L D L^T P^T from ``_sytf2``."""
    x = b.astype(ld.dtype, copy=True)
    n = ld.shape[0]
    k = 0
    while k < n:  # L D y = P^T b, forward
        if pivots[k] > 0:
            kp = pivots[k] - 1
            x[[k, kp]] = x[[kp, k]]
            x[k + 1:] -= np.outer(ld[k + 1:, k], x[k])
            x[k] /= ld[k, k]
            k += 1
        else:
            kp = -pivots[k] - 1
            x[[k + 1, kp]] = x[[kp, k + 1]]
            x[k + 2:] -= np.outer(ld[k + 2:, k], x[k]) + np.outer(ld[k + 2:, k + 1], x[k + 1])
            block = np.array([[ld[k, k], ld[k + 1, k]], [ld[k + 1, k], ld[k + 1, k + 1]]])
            x[k:k + 2] = np.linalg.solve(block, x[k:k + 2])
            k += 2
    k = n - 1
    while k >= 0:  # L^T P^T x = y, backward
        if pivots[k] > 0:
            x[k] -= ld[k + 1:, k] @ x[k + 1:]
            kp = pivots[k] - 1
            x[[k, kp]] = x[[kp, k]]
            k -= 1
        else:
            x[k] -= ld[k + 1:, k] @ x[k + 1:]
            x[k - 1] -= ld[k + 1:, k - 1] @ x[k + 1:]
            kp = -pivots[k] - 1
            x[[k, kp]] = x[[kp, k]]
            k -= 2
    return x


def ldl_solve(LD: Tensor, pivots: Tensor, B: Tensor, *, hermitian: bool = False) -> Tensor:
    """X with A X = B, A given by ``ldl_factor`` (not differentiable, as in PyTorch)."""
    square_input("linalg.ldl_solve", LD)
    check_tensor(B, "linalg.ldl_solve(): B")
    if B.ndim < 2:
        raise RuntimeError(f"torch.linalg.ldl_solve: Expected B to have at least 2 dimensions, but it has {B.ndim} "
                           f"dimensions instead")
    batch = np.broadcast_shapes(LD.shape[:-2], B.shape[:-2])
    ld = np.broadcast_to(LD._data, batch + LD._data.shape[-2:]).reshape((-1,) + LD._data.shape[-2:])
    piv = np.broadcast_to(pivots._data, batch + pivots._data.shape[-1:]).reshape(-1, pivots._data.shape[-1])
    b = np.broadcast_to(B._data, batch + B._data.shape[-2:]).reshape((-1,) + B._data.shape[-2:])
    solved = [_sytrs(l_, p, x) for l_, p, x in zip(ld, piv, b)]
    return Tensor._make(np.stack(solved).reshape(batch + B._data.shape[-2:]) if solved else
                        np.zeros(batch + B._data.shape[-2:], LD._data.dtype))


# -- Householder reflectors ------------------------------------------------------------------------------

def householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """The first n columns of H_1 H_2 ... H_k (H_i = I - tau_i v_i v_i^T, v_i read below A's diagonal):
    the Q of a QR factorisation from ``geqrf``'s output. Differentiable in A and tau."""
    a = matrix_input("linalg.householder_product", A)
    check_tensor(tau, "linalg.householder_product(): tau")
    m, n = a.shape[-2:]
    k = tau.shape[-1]
    if n > m:
        raise RuntimeError(f"torch.linalg.householder_product: input.shape[-2] must be greater than or equal to "
                           f"input.shape[-1] (got {m} and {n})")
    if k > n:
        raise RuntimeError(f"torch.linalg.householder_product: input.shape[-1] must be greater than or equal to "
                           f"tau.shape[-1] (got {n} and {k})")
    q = _reflect(a, tau, Tensor._make(np.broadcast_to(np.eye(m, n, dtype=a._data.dtype),
                                                      a.shape[:-2] + (m, n)).copy()), left=True, transpose=False)
    return q


def _reflectors(a: Tensor, k: int) -> list[Tensor]:
    """v_i (as (..., m, 1) columns) for i < k: zeros above i, 1 at i, A[i+1:, i] below."""
    m = a.shape[-2]
    dtype = a._data.dtype
    columns = []
    for i in range(k):
        above = np.zeros(m, dtype=dtype)
        above[i] = 1
        below = np.zeros((m, 1), dtype=dtype)
        below[i + 1:] = 1
        columns.append(a[..., :, i:i + 1] * Tensor._make(below) + Tensor._make(above.reshape(m, 1)))
    return columns


def _reflect(a: Tensor, tau: Tensor, c: Tensor, left: bool, transpose: bool) -> Tensor:
    """Q C, Q^T C, C Q or C Q^T with Q = H_1 ... H_k (each H_i applied as C - tau v (v^T C))."""
    k = tau.shape[-1]
    vs = _reflectors(a, k)
    order = range(k)
    if left != transpose:  # Q C = H_1 (H_2 (... H_k C)); C Q^T = C H_k ... H_1
        order = reversed(order)
    for i in order:
        v, t = vs[i], tau[..., i:i + 1].unsqueeze(-1)
        if left:
            c = c - t * (v @ (_t(v) @ c))
        else:
            c = c - t * ((c @ v) @ _t(v))
    return c


def geqrf(input: Tensor) -> tuple[Tensor, Tensor]:
    """(a, tau): R on and above the diagonal and the Householder vectors below it, LAPACK's geqrf."""
    a = matrix_input("geqrf", input)
    flat = a._data.reshape((-1,) + a._data.shape[-2:]).astype(a._data.dtype)
    m, n = a._data.shape[-2:]
    outputs, taus = [], []
    for matrix in flat:
        h, tau = _lapack("geqrf", lambda x: np.linalg.qr(x, mode="raw"), matrix.astype(np.float64))
        outputs.append(h.T)
        taus.append(tau)
    k = min(m, n)
    packed = np.stack(outputs).reshape(a._data.shape) if outputs else a._data.copy()
    tau = np.stack(taus).reshape(a._data.shape[:-2] + (k,)) if taus else np.zeros(a._data.shape[:-2] + (k,))
    return Tensor._make(packed.astype(a._data.dtype)), Tensor._make(tau.astype(a._data.dtype))


def ormqr(input: Tensor, tau: Tensor, other: Tensor, left: bool = True, transpose: bool = False) -> Tensor:
    """op(Q) other (``left``) or other op(Q), Q = H_1 ... H_k the full m x m orthogonal matrix of ``input``'s
    reflectors, op(Q) = Q^T with ``transpose``. Differentiable."""
    a = matrix_input("ormqr", input)
    check_tensor(tau, "ormqr(): tau")
    check_tensor(other, "ormqr(): other")
    m = a.shape[-2]
    side = other.shape[-2] if left else other.shape[-1]
    if side != m:
        raise RuntimeError(f"torch.ormqr: other.shape[{-2 if left else -1}] must be equal to input.shape[-2] "
                           f"(got {side} and {m})")
    return _reflect(a, tau, other, left, transpose)


# -- real eigen-decomposition ------------------------------------------------------------------------------

class Eig(Op):
    def name(self) -> str:
        return "LinalgEigBackward0"

    def forward(self, a):
        values, vectors = _lapack("linalg.eig", np.linalg.eig, a)
        if np.iscomplexobj(values) and np.any(values.imag != 0):
            raise RuntimeError("linalg.eig: this matrix has complex eigenvalues; PyTorch returns complex tensors, "
                               "which shenjing does not support (for a symmetric matrix use linalg.eigh)")
        values, vectors = np.real(values).astype(a.dtype), np.real(vectors).astype(a.dtype)
        self.save_for_backward(values, vectors)
        return values, vectors

    def backward(self, gl, gv):
        values, vectors = self.saved_tensors
        n = values.shape[-1]
        dtype = values._data.dtype
        gl = gl if gl is not None else Tensor._make(np.zeros(values.shape, dtype))
        inner = diag_embed(gl)
        if gv is not None:
            vtgv = _t(vectors) @ gv
            vtv = _t(vectors) @ vectors
            rhs = vtgv - vtv @ diag_embed((vectors * gv).sum(-2))
            gap = values.unsqueeze(-2) - values.unsqueeze(-1)          # E_ij = L_j - L_i
            off = Tensor._make(1 - np.eye(n, dtype=dtype))
            safe = gap + Tensor._make(np.eye(n, dtype=dtype))
            inner = inner + rhs * off / safe
        return _t(Solve()(_t(vectors), inner @ _t(vectors)))


def eig(A: Tensor) -> tuple[Tensor, Tensor]:
    """(eigenvalues, eigenvectors as unit columns) of each square matrix with real eigenvalues (real tensors;
    see the module docstring)."""
    return Eig()(square_input("linalg.eig", A))


def eigvals(A: Tensor) -> Tensor:
    """The eigenvalues of each square matrix with real eigenvalues (real tensors; see the module docstring)."""
    return eig(A)[0]

