"""Matrix inverse, determinant, solve and the decompositions (Cholesky, QR, symmetric eigen, SVD), on the last
two dims with any batch dims in front; NumPy's LAPACK does the forward pass.

Backward formulas (X^T is the transpose of the last two dims, G the gradient of the output):

    Y = A^-1:            dA = -Y^T G Y^T
    d = det A:           dA = G d A^-T                     (log|det A|: dA = G A^-T)
    X = A^-1 B:          dB = A^-T G,  dA = -dB X^T
    A = L L^T:           dA = sym(L^-T Phi(L^T G_L) L^-1),  Phi: the lower triangle, diagonal halved,
                         sym(S) = (S + S^T) / 2
    A = Q R (m >= n):    M = R G_R^T - G_Q^T Q,  dA = (G_Q + Q copyltu(M)) R^-T,
                         copyltu(M) = tril(M) + tril(M, -1)^T
    A = V diag(w) V^T:   dA = V (diag(G_w) + F o sym(V^T G_V)) V^T,  F_ij = 1 / (w_j - w_i), F_ii = 0
    A = U diag(s) V^T:   dA = U (diag(G_s) + (F o skew(U^T G_U)) S + S (F o skew(V^T G_V))) V^T
                              + (I - U U^T) G_U S^-1 V^T + U S^-1 G_V^T (I - V V^T),
                         F_jk = 1 / (s_k^2 - s_j^2), F_jj = 0, skew(X) = X - X^T

(Giles, "An extended collection of matrix derivative results", 2008; Seeger et al., "Auto-differentiating
linear algebra", 2017.) Each backward is written with differentiable ops, so higher derivatives work too.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from shenjing._ops._util import check_tensor, float_input
from shenjing._ops.matrix import diag_embed, diagonal, tril
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op

__all__ = ["inverse", "det", "logdet", "slogdet", "cholesky", "qr", "svd", "pinverse", "matrix_power",
           "matrix_exp", "cholesky_solve", "cholesky_inverse"]


def _t(x: Tensor) -> Tensor:
    return x.transpose(-2, -1)


def square_input(name: str, x: Any) -> Tensor:
    """A float tensor of square matrices (..., n, n), or a clear error."""
    x = float_input(check_tensor(x, "A"))
    if x._data.ndim < 2 or x._data.shape[-1] != x._data.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{' by '.join(map(str, x._data.shape[-2:])) if x._data.ndim >= 2 else x._data.ndim}"
                           f"{' matrices' if x._data.ndim >= 2 else '-D'}")
    return x


def matrix_input(name: str, x: Any) -> Tensor:
    """A float tensor of matrices (..., m, n), or a clear error."""
    x = float_input(check_tensor(x, "A"))
    if x._data.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    return x


def _lapack(name: str, fn: Any, *arrays: np.ndarray) -> Any:
    try:
        return fn(*arrays)
    except np.linalg.LinAlgError as error:
        raise LinAlgError(f"{name}: {error}") from None


class LinAlgError(RuntimeError):
    """A matrix that the operation cannot handle (singular, not positive-definite); PyTorch's
    ``torch.linalg.LinAlgError``."""


class Inverse(Op):
    def name(self) -> str:
        return "LinalgInvExBackward0"

    def forward(self, a):
        y = _lapack("linalg.inv", np.linalg.inv, a)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        yt = _t(y)
        return -(yt @ gy @ yt)


def inverse(input: Tensor) -> Tensor:
    """A^-1 of each square matrix; a singular one raises ``LinAlgError``."""
    return Inverse()(square_input("linalg.inv", input))


class Det(Op):
    def name(self) -> str:
        return "LinalgDetBackward0"

    def forward(self, a):
        d = np.asarray(np.linalg.det(a))
        self.save_for_backward(a, d)
        return d

    def backward(self, gy):
        a, d = self.saved_tensors
        return (gy * d)[..., None, None] * _t(inverse(a))


def det(input: Tensor) -> Tensor:
    """The determinant of each square matrix. (Its gradient needs the inverse: a singular matrix raises.)"""
    return Det()(square_input("linalg.det", input))


class SlogDet(Op):
    """(sign, log|det A|); only the second is differentiable: d/dA log|det A| = A^-T."""

    def name(self) -> str:
        return "LinalgSlogdetBackward0"

    def forward(self, a):
        sign, logabs = np.linalg.slogdet(a)
        self.save_for_backward(a)
        return np.asarray(sign), np.asarray(logabs)

    def backward(self, gsign, glog):
        (a,) = self.saved_tensors
        if glog is None:
            return None
        return glog[..., None, None] * _t(inverse(a))


SlogdetResult = namedtuple("slogdet", ["sign", "logabsdet"])


def slogdet(input: Tensor) -> tuple[Tensor, Tensor]:
    """(sign, log|det|) of each square matrix: a determinant without overflow."""
    sign, logabs = SlogDet()(square_input("linalg.slogdet", input))
    return SlogdetResult(sign.detach(), logabs)


def logdet(input: Tensor) -> Tensor:
    """log det A: nan where det A < 0, -inf where it is 0."""
    sign, logabs = SlogDet()(square_input("logdet", input))
    return logabs + Tensor._make(np.where(sign._data < 0, np.nan, np.where(sign._data == 0, -np.inf, 0.0))
                                 .astype(logabs._data.dtype))


class Solve(Op):
    """X = A^-1 B for B of matrices (..., n, k)."""

    def name(self) -> str:
        return "LinalgSolveExBackward0"

    def forward(self, a, b):
        x = _lapack("linalg.solve", np.linalg.solve, a, b)
        self.save_for_backward(a, x)
        return x

    def backward(self, gx):
        a, x = self.saved_tensors
        gb = Solve()(_t(a), gx)
        return -(gb @ _t(x)), gb


class Cholesky(Op):
    def name(self) -> str:
        return "LinalgCholeskyExBackward0"

    def forward(self, a):
        lower = _lapack("linalg.cholesky", np.linalg.cholesky, a)
        self.save_for_backward(lower)
        return lower

    def backward(self, gl):
        (lower,) = self.saved_tensors
        phi = tril(_t(lower) @ gl)
        phi = phi - 0.5 * diag_embed(diagonal(phi, 0, -2, -1))
        inv_l = inverse(lower)
        s = _t(inv_l) @ phi @ inv_l
        return 0.5 * (s + _t(s))


def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """L with A = L L^T (lower triangular) of each symmetric positive-definite matrix; U = L^T if ``upper``.
    Only the lower triangle of A is read."""
    a = square_input("linalg.cholesky", input)
    lower = Cholesky()(a)
    return _t(lower) if upper else lower


class QR(Op):
    """A = Q R, reduced (Q (m, k), R (k, n), k = min(m, n)) or complete (Q (m, m), R (m, n))."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def name(self) -> str:
        return "LinalgQrBackward0"

    def forward(self, a):
        q, r = np.linalg.qr(a, mode="complete" if self.mode == "complete" else "reduced")
        self.save_for_backward(q, r)
        return q, r

    def backward(self, gq, gr):
        q, r = self.saved_tensors
        m, n = q._data.shape[-2], r._data.shape[-1]
        if self.mode == "complete" and m > n or m < n:
            raise RuntimeError("The derivative of linalg.qr is implemented for mode='reduced' (or 'complete' with "
                               "m <= n ... ) only when m >= n: the input has more columns than rows")
        gq = Tensor._make(np.zeros(q._data.shape, q._data.dtype)) if gq is None else gq
        gr = Tensor._make(np.zeros(r._data.shape, r._data.dtype)) if gr is None else gr
        m_ = r @ _t(gr) - _t(gq) @ q
        copyltu = tril(m_) + _t(tril(m_, -1))
        return (gq + q @ copyltu) @ _t(inverse(r))


def linalg_qr(input: Tensor, mode: str = "reduced") -> tuple[Tensor, Tensor]:
    """(Q, R) with A = Q R, Q with orthonormal columns and R upper triangular; ``mode`` is "reduced",
    "complete" or "r" (then Q is empty, as in PyTorch)."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           f"'r', or 'complete'")
    a = matrix_input("linalg.qr", input)
    q, r = QR(mode)(a)
    if mode == "r":
        return Tensor._make(np.zeros((0,), a._data.dtype)), r
    return q, r


class Eigh(Op):
    """w (ascending), V of a symmetric matrix read from its ``uplo`` triangle."""

    def __init__(self, uplo: str) -> None:
        self.uplo = uplo

    def name(self) -> str:
        return "LinalgEighBackward0"

    def forward(self, a):
        w, v = np.linalg.eigh(a, UPLO=self.uplo)
        self.save_for_backward(w, v)
        return w, v

    def backward(self, gw, gv):
        w, v = self.saved_tensors
        inner = diag_embed(gw) if gw is not None else None
        if gv is not None:
            gap = w.unsqueeze(-2) - w.unsqueeze(-1)  # gap[i, j] = w_j - w_i
            off = Tensor._make(~np.eye(w._data.shape[-1], dtype=bool))
            f = Tensor._make(np.where(off._data, 1.0, 0.0).astype(w._data.dtype)) / \
                (gap + Tensor._make(np.where(off._data, 0.0, 1.0).astype(w._data.dtype)))
            vtgv = _t(v) @ gv
            term = f * (0.5 * (vtgv - _t(vtgv)))
            inner = term if inner is None else inner + term
        ga = v @ inner @ _t(v)
        return 0.5 * (ga + _t(ga))


def linalg_eigh(input: Tensor, UPLO: str = "L") -> tuple[Tensor, Tensor]:
    """(eigenvalues ascending, eigenvectors as columns) of each symmetric matrix (its ``UPLO`` triangle)."""
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return Eigh(UPLO)(square_input("linalg.eigh", input))


class SVD(Op):
    """A = U diag(S) Vh with k = min(m, n) singular values, descending."""

    def __init__(self, full_matrices: bool) -> None:
        self.full_matrices = full_matrices

    def name(self) -> str:
        return "LinalgSvdBackward0"

    def forward(self, a):
        u, s, vh = _lapack("linalg.svd", np.linalg.svd, a, self.full_matrices)
        self.save_for_backward(u, s, vh)
        return u, s, vh

    def backward(self, gu, gs, gvh):
        u, s, vh = self.saved_tensors
        k = s._data.shape[-1]
        if self.full_matrices and (gu is not None or gvh is not None) and \
                (u._data.shape[-1] != k or vh._data.shape[-2] != k):
            raise RuntimeError("linalg.svd: The derivative of U or Vh is not implemented when full_matrices=True "
                               "for a non-square input; use full_matrices=False")
        ga = None
        if gs is not None:
            ga = u[..., :k] @ diag_embed(gs) @ vh[..., :k, :]
        if gu is None and gvh is None:
            return ga
        u, vh = u[..., :k], vh[..., :k, :]
        v = _t(vh)
        off = np.broadcast_to(~np.eye(k, dtype=bool), s._data.shape[:-1] + (k, k))
        squares = s * s
        gap = squares.unsqueeze(-2) - squares.unsqueeze(-1)  # gap[j, l] = s_l^2 - s_j^2
        f = Tensor._make(off.astype(s._data.dtype)) / (gap + Tensor._make((~off).astype(s._data.dtype)))
        core = Tensor._make(np.zeros(off.shape, s._data.dtype))
        s_row, s_col = s.unsqueeze(-2), s.unsqueeze(-1)
        m, n = u._data.shape[-2], v._data.shape[-2]
        extra = None
        if gu is not None:
            gu = gu[..., :k]
            j = _t(u) @ gu
            core = core + (f * (j - _t(j))) * s_row
            if m > k:
                extra = (gu - u @ j) / s_row @ vh
        if gvh is not None:
            gv = _t(gvh[..., :k, :])
            kk = _t(v) @ gv
            core = core + s_col * (f * (kk - _t(kk)))
            if n > k:
                term = u @ (_t(gv - v @ kk) / s_col)
                extra = term if extra is None else extra + term
        result = u @ core @ vh
        if extra is not None:
            result = result + extra
        return result if ga is None else result + ga


def qr(input: Tensor, some: bool = True) -> tuple[Tensor, Tensor]:
    """``torch.qr``: (Q, R), reduced if ``some`` else complete (``linalg.qr``'s modes)."""
    return linalg_qr(input, "reduced" if some else "complete")


def svd(input: Tensor, some: bool = True, compute_uv: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """``torch.svd``: (U, S, V) with A = U diag(S) V^T (V, not V^T; ``some`` for the reduced form)."""
    a = matrix_input("svd", input)
    u, s, vh = SVD(not some)(a)
    if not compute_uv:
        zeros = Tensor._make(np.zeros(u._data.shape, u._data.dtype))
        return zeros, s, Tensor._make(np.zeros(vh._data.shape[:-2] + vh._data.shape[-1:] * 2, vh._data.dtype))
    return u, s, _t(vh)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """The Moore-Penrose pseudo-inverse V diag(1/s) U^T, singular values below rcond * max(s) dropped."""
    from shenjing import linalg

    return linalg.pinv(input, rtol=rcond)


def matrix_power(input: Tensor, n: int) -> Tensor:
    """A^n by repeated squaring; A^0 = I; a negative n inverts first."""
    a = square_input("linalg.matrix_power", input)
    n = int(n)
    if n < 0:
        a, n = inverse(a), -n
    eye = Tensor._make(np.broadcast_to(np.eye(a._data.shape[-1], dtype=a._data.dtype), a._data.shape).copy())
    result, base = None, a
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return a * 0 + eye if result is None else result  # (A^0 still depends on A: a zero gradient)


def matrix_exp(input: Tensor) -> Tensor:
    """exp(A) = sum_k A^k / k!, by scaling and squaring: exp(A) = exp(A / 2^j)^(2^j) with ||A / 2^j|| <= 1/2,
    and 18 terms of the series for the scaled matrix (below float64 rounding)."""
    a = square_input("linalg.matrix_exp", input)
    norm = float(np.max(np.abs(a._data).sum(-1), initial=0.0))
    squarings = max(0, int(np.ceil(np.log2(norm))) + 1) if norm > 0.5 else 0
    scaled = a / float(2 ** squarings)
    eye = Tensor._make(np.broadcast_to(np.eye(a._data.shape[-1], dtype=a._data.dtype), a._data.shape).copy())
    result, term = eye, eye
    for k in range(1, 19):
        term = term @ scaled / float(k)
        result = result + term
    for _ in range(squarings):
        result = result @ result
    return result


def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False) -> Tensor:
    """X with A X = B given the Cholesky factor of A (lower L, or upper U = L^T)."""
    lower = _t(L) if upper else L
    return Solve()(_t(lower), Solve()(lower, B))


def cholesky_inverse(L: Tensor, upper: bool = False) -> Tensor:
    """A^-1 from the Cholesky factor of A."""
    lower = _t(L) if upper else L
    inv_l = inverse(lower)
    return _t(inv_l) @ inv_l

