"""Ready-made parametrizations (PyTorch's ``torch.nn.utils.parametrizations``), registered with
``parametrize.register_parametrization``:

- ``orthogonal``: the weight is an orthogonal matrix (or has orthonormal rows/columns when not square),
  Q = base @ map(X) with map the matrix exponential or Cayley transform of a skew-symmetric matrix, or a
  product of Householder reflections;
- ``spectral_norm``: weight / sigma, sigma the largest singular value of the weight (as a matrix), estimated by
  power iteration with the vectors ``_u``, ``_v`` kept as buffers;
- ``weight_norm``: weight = g v / ||v||, stored as ``original0`` (g) and ``original1`` (v).

>>> import shenjing
>>> from shenjing import nn
>>> layer = orthogonal(nn.Linear(3, 3))
>>> bool(shenjing.allclose(layer.weight @ layer.weight.T, shenjing.eye(3), atol=1e-5))
True
>>> list(weight_norm(nn.Linear(3, 2)).state_dict())
['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
"""

from __future__ import annotations

import numpy as np

import shenjing
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import no_grad
from shenjing.nn import functional as F
from shenjing.nn.modules.module import Module
from shenjing.nn.utils import parametrize

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]

_ORTHOGONAL_MAPS = ("matrix_exp", "cayley", "householder")


def _householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """The first k columns of H_1 H_2 ... H_k, H_i = I - tau_i v_i v_i^T with v_i = e_i + A[:, i] below the
    diagonal (LAPACK's orgqr), for A of shape (..., n, k); composed of differentiable ops."""
    n, k = A.shape[-2], A.shape[-1]
    V = A.tril(-1) + shenjing.eye(n, k, dtype=A.dtype)
    Q = shenjing.eye(n, k, dtype=A.dtype).expand(*A.shape)
    for i in reversed(range(k)):
        v = V[..., :, i:i + 1]                                   # (..., n, 1)
        Q = Q - tau[..., i:i + 1].unsqueeze(-1) * (v @ (v.mT @ Q))
    return Q


def _make_orthogonal(A: np.ndarray) -> np.ndarray:
    """The Q of A = QR with diag(R) >= 0 (A tall)."""
    Q, R = np.linalg.qr(A)
    return Q * np.sign(np.diagonal(R, axis1=-2, axis2=-1))[..., None, :]


def _is_orthogonal(Q: np.ndarray) -> bool:
    n, k = Q.shape[-2], Q.shape[-1]
    eps = 10.0 * n * np.finfo(Q.dtype).eps
    return bool(np.allclose(np.swapaxes(Q, -1, -2) @ Q, np.eye(k), rtol=1e-5, atol=eps))


def _geqrf(Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LAPACK's geqrf of a tall matrix (or a stack of them): (R above the diagonal, reflectors below; tau)."""
    flat = Q.reshape(-1, *Q.shape[-2:])
    pairs = [np.linalg.qr(matrix, mode="raw") for matrix in flat]
    A = np.stack([h.T for h, _ in pairs]).reshape(Q.shape)
    tau = np.stack([t for _, t in pairs]).reshape(*Q.shape[:-2], Q.shape[-1])
    return A, tau


class _Orthogonal(Module):
    """Maps an unconstrained matrix X to an orthogonal one (see ``orthogonal``)."""

    def __init__(self, weight: Tensor, orthogonal_map: str, *, use_trivialization: bool = True) -> None:
        super().__init__()
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        n, k = X.shape[-2], X.shape[-1]
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            X = X.tril()
            if n != k:  # embed the tall matrix into a square one
                X = shenjing.cat([X, shenjing.zeros(*X.shape[:-2], n, n - k, dtype=X.dtype)], dim=-1)
            A = X - X.mT                                          # skew-symmetric
            if self.orthogonal_map == "matrix_exp":
                Q = shenjing.matrix_exp(A)
            else:                                                 # Cayley: (I - A/2)^-1 (I + A/2)
                eye = shenjing.eye(n, dtype=A.dtype)
                Q = shenjing.linalg.solve(eye - 0.5 * A, eye + 0.5 * A)
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = _householder_product(A, tau)
            diagonal = X.detach().numpy().diagonal(axis1=-2, axis2=-1)
            signs = Tensor._make(np.trunc(diagonal))
            Q = Q * signs.unsqueeze(-2)                           # the diagonal of X holds +-1: not learnt
        if "base" in self._buffers:
            Q = self.base @ Q
        return Q.mT if transposed else Q

    def right_inverse(self, Q: Tensor) -> Tensor:
        if Q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. Got a tensor of shape "
                             f"{Q.shape}.")
        with no_grad():
            array = Q.detach().numpy()
            n, k = array.shape[-2], array.shape[-1]
            transposed = n < k
            if transposed:
                array = np.swapaxes(array, -1, -2)
                n, k = k, n
            if "base" not in self._buffers:
                if self.orthogonal_map in ("matrix_exp", "cayley"):
                    raise NotImplementedError("It is not possible to assign to the matrix exponential or the Cayley "
                                              "parametrizations when use_trivialization=False.")
                A, tau = _geqrf(array)
                diagonal = np.sign(np.diagonal(A, axis1=-2, axis2=-1))
                diagonal = np.where(tau == 0.0, -diagonal, diagonal)
                A = A.copy()
                index = np.arange(k)
                A[..., index, index] = diagonal
                A = np.swapaxes(A, -1, -2) if transposed else A
                return Tensor._make(np.ascontiguousarray(A))
            if n == k:
                base = array.copy() if _is_orthogonal(array) else _make_orthogonal(array)
            else:  # complete the k orthonormal columns with n - k random ones
                extra = shenjing.randn(*array.shape[:-2], n, n - k, dtype=Q.dtype).numpy()
                base = _make_orthogonal(np.concatenate([array, extra], axis=-1))
            self.base = Tensor._make(np.ascontiguousarray(base.astype(array.dtype)))
            minus_identity = np.zeros(Q.shape, dtype=array.dtype)
            index = np.arange(min(Q.shape[-2], Q.shape[-1]))
            minus_identity[..., index, index] = -1.0              # householder(zeros) is then the identity
            return Tensor._make(minus_identity)


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Constrain ``module.<name>`` (a matrix, or a batch of them) to be orthogonal: Q^T Q = I (tall) or
    Q Q^T = I (wide).

    ``orthogonal_map``: ``"matrix_exp"`` (default for square matrices), ``"cayley"`` or ``"householder"``
    (default otherwise). With ``use_trivialization`` (default) the current weight, made orthogonal, is kept as
    the buffer ``base`` and the parameter starts at the map's identity, so the weight starts as close to the
    initial one as orthogonality allows.
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _ORTHOGONAL_MAPS:
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". Got: '
                         f'{orthogonal_map}')
    parametrize.register_parametrization(module, name, _Orthogonal(weight, orthogonal_map,
                                                                   use_trivialization=use_trivialization),
                                         unsafe=True)
    return module


class _SpectralNorm(Module):
    """weight / sigma, sigma = u^T W v from power iteration on the weight as a matrix (see ``spectral_norm``)."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got "
                             f"{dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim % ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight.detach())
            h, w = weight_mat.shape
            u = shenjing.randn(h, dtype=weight.dtype)
            v = shenjing.randn(w, dtype=weight.dtype)
            self.register_buffer("_u", F.normalize(u, dim=0, eps=eps))
            self.register_buffer("_v", F.normalize(v, dim=0, eps=eps))
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        """u <- W v / ||W v||, v <- W^T u / ||W^T u||, in place in the buffers."""
        with no_grad():
            weight_mat = weight_mat.detach()
            for _ in range(n_power_iterations):
                self._u.copy_(F.normalize(shenjing.mv(weight_mat, self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(shenjing.mv(weight_mat.T, self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = shenjing.dot(u, shenjing.mv(weight_mat, v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Divide ``module.<name>`` by its spectral norm sigma (largest singular value of the weight seen as a
    matrix of rows along ``dim``), estimated by ``n_power_iterations`` of power iteration per forward in
    training mode (15 at registration). ``dim`` defaults to 1 for transposed convolutions, else 0. The
    vectors are the buffers ``parametrizations.<name>.0._u`` / ``._v``.
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, _transposed_convolutions()) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


def _transposed_convolutions() -> tuple[type, ...]:
    from shenjing import nn

    return tuple(getattr(nn, name) for name in ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
                 if hasattr(nn, name))


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """PyTorch's norm_except_dim(v, 2, dim): the 2-norm over every dim but ``dim`` (kept as size 1); over the
    whole tensor when ``dim`` is -1."""
    if dim == -1:
        return (v * v).sum().sqrt()
    dim = dim % v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    return (v * v).sum(others, keepdim=True).sqrt()


class _WeightNorm(Module):
    """(g, v) -> g v / ||v||, the norm over every dim but ``dim`` (see ``weight_norm``)."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrize ``module.<name>`` as g v / ||v|| (Salimans and Kingma, 2016): ``original0`` holds g (the
    norms over every dim but ``dim``; one norm for ``dim=None``), ``original1`` holds v."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module
