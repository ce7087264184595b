"""Combining tensors: einsum, tensordot, kron, meshgrid, cartesian_prod, block_diag and cdist.

einsum is one op: forward is ``np.einsum``; the gradient of operand k is again an einsum, of the output's
gradient with the other operands, written to operand k's subscripts. A subscript that appears twice in
operand k (a diagonal, "ii->i") or nowhere else (summed away, "ij->i") is handled by ``EinsumPlace``, which
writes the contraction onto that diagonal or broadcasts it along that dim.
"""

from __future__ import annotations

import string
import warnings
from typing import Any, Sequence

import numpy as np

from shenjing import _dtype
from shenjing._ops._util import cast_to, check_tensor, normalize_dim
from shenjing._ops.elementwise import where
from shenjing._ops.shape import cat, reshape, stack
from shenjing._tensor import Tensor
from shenjing.autograd.node import Op, shown_as

__all__ = ["einsum", "tensordot", "kron", "meshgrid", "cartesian_prod", "block_diag", "cdist"]


# -- einsum ----------------------------------------------------------------------------------------

def _parse(equation: str, ndims: Sequence[int]) -> tuple[list[str], str]:
    """The subscripts of each operand and of the output, with "..." spelled out as letters (right-aligned
    across operands, as broadcasting aligns them) and the implicit output (letters used once, sorted) made
    explicit."""
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(ndims):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation"
                           if len(ndims) > len(terms) else
                           "einsum(): fewer operands were provided than specified in the equation")
    used = set(equation) - set(".,->")
    spare = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in used]
    ellipsis = max((n - len(t.replace("...", "")) for t, n in zip(terms, ndims) if "..." in t), default=0)
    letters = "".join(spare[:ellipsis])
    spelled = []
    for term, n in zip(terms, ndims):
        if "..." in term:
            term = term.replace("...", letters[ellipsis - (n - len(term.replace("...", ""))):])
        if len(term) != n:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(term)}) does not match "
                               f"the number of dimensions ({n}) for operand {len(spelled)}"
                               f"{' and no ellipsis was given' if '...' not in term else ''}")
        spelled.append(term)
    if arrow:
        output = output.replace("...", letters)
    else:
        counts = {c: "".join(spelled).count(c) for c in "".join(spelled)}
        output = letters + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in letters))
    for c in output:
        if c not in "".join(spelled):
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input operand")
    return spelled, output


class Einsum(Op):
    def __init__(self, inputs: list[str], output: str) -> None:
        self.inputs, self.output = inputs, output

    def name(self) -> str:
        return "EinsumBackward0"

    def forward(self, *operands):
        self.save_for_backward(*operands)
        equation = ",".join(self.inputs) + "->" + self.output
        return np.asarray(np.einsum(equation, *operands, optimize=len(operands) > 2))

    def backward(self, gy):
        operands = self.saved_tensors
        grads = []
        for k, subscripts in enumerate(self.inputs):
            if not self.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [(s, t) for j, (s, t) in enumerate(zip(self.inputs, operands)) if j != k]
            reachable = set(self.output) | set("".join(s for s, _ in others))
            target = "".join(dict.fromkeys(c for c in subscripts if c in reachable))
            contracted = Einsum([self.output] + [s for s, _ in others], target)(gy, *[t for _, t in others])
            if target != subscripts:
                contracted = EinsumPlace(subscripts, target, operands[k]._data.shape)(contracted)
            grads.append(contracted)
        return tuple(grads)


class EinsumPlace(Op):
    """x (subscripts ``source``) written into zeros of ``shape`` (subscripts ``target``): repeated letters of
    ``target`` take the diagonal, letters missing from ``source`` broadcast. Its adjoint is the einsum
    ``target -> source``."""

    def __init__(self, target: str, source: str, shape: tuple[int, ...]) -> None:
        self.target, self.source, self.shape = target, source, tuple(shape)

    def forward(self, x):
        out = np.zeros(self.shape, x.dtype)
        letters = "".join(dict.fromkeys(self.target))
        strides = {c: 0 for c in letters}
        sizes = {}
        for c, size, stride in zip(self.target, self.shape, out.strides):
            strides[c] += stride
            sizes[c] = size
        view = np.lib.stride_tricks.as_strided(out, [sizes[c] for c in letters], [strides[c] for c in letters])
        view[...] = np.einsum(f"{self.source}->{''.join(c for c in letters if c in self.source)}", x).reshape(
            [sizes[c] if c in self.source else 1 for c in letters])
        return out

    def backward(self, gy):
        return Einsum([self.target], self.source)(gy)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation: ``einsum("ij,jk->ik", a, b)`` is a @ b, ``einsum("ii", a)`` the trace,
    ``einsum("bij,bjk->bik", x, y)`` a batched product; "..." stands for leading dims. Operands may also be
    given as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    tensors = [check_tensor(t, "operand") for t in operands]
    inputs, output = _parse(equation, [t._data.ndim for t in tensors])
    dtypes = {t._data.dtype for t in tensors}
    if len(dtypes) > 1:
        raise RuntimeError(f"einsum(): expected all operands to have the same dtype, got "
                           f"{sorted(str(d) for d in dtypes)}")
    return Einsum(inputs, output)(*tensors)


# -- products of whole tensors ---------------------------------------------------------------------

def tensordot(a: Tensor, b: Tensor, dims: Any = 2, out: Any = None) -> Tensor:
    """Contract the last ``dims`` dims of a with the first ``dims`` of b, or the listed dims
    ``([dims of a], [dims of b])``: the generalised matrix product."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a, dims_b = list(range(a._data.ndim - dims, a._data.ndim)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    dims_a = [normalize_dim(d, a._data.ndim) for d in dims_a]
    dims_b = [normalize_dim(d, b._data.ndim) for d in dims_b]
    for da, db in zip(dims_a, dims_b):
        if a._data.shape[da] != b._data.shape[db]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a._data.shape[da]} in "
                               f"dim {da} and second has size {b._data.shape[db]} in dim {db}")
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in range(a._data.ndim)]
    sb = [next(letters) for _ in range(b._data.ndim)]
    for da, db in zip(dims_a, dims_b):
        sb[db] = sa[da]
    output = [c for i, c in enumerate(sa) if i not in dims_a] + [c for i, c in enumerate(sb) if i not in dims_b]
    return Einsum(["".join(sa), "".join(sb)], "".join(output))(a, b)


def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product: blocks input[i] * other, tiled (shapes multiply dim by dim)."""
    n = max(input._data.ndim, other._data.ndim)
    a = reshape(input, (1,) * (n - input._data.ndim) + input._data.shape)
    b = reshape(other, (1,) * (n - other._data.ndim) + other._data.shape)
    sa = string.ascii_lowercase[:n]
    sb = string.ascii_uppercase[:n]
    product = Einsum([sa, sb], "".join(x + y for x, y in zip(sa, sb)))(a, b)
    return reshape(product, tuple(x * y for x, y in zip(a._data.shape, b._data.shape)))


# -- grids -----------------------------------------------------------------------------------------

def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple:
    """Coordinate grids from 1-D tensors: output k varies along dim k ("ij", the default) or, for "xy", the
    first two swapped (the convention of plotting: x along columns). ``xx, yy = meshgrid(x, y, indexing="xy")``."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    flat = [t.reshape(-1) if t._data.ndim == 0 else t for t in tensors]
    for t in flat:
        if t._data.ndim != 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
    sizes = [t._data.shape[0] for t in flat]
    order = list(range(len(flat)))
    if indexing == "xy" and len(flat) >= 2:
        order[0], order[1] = 1, 0
    shape = [sizes[k] for k in order]
    grids = []
    for k, t in enumerate(flat):
        view = [1] * len(flat)
        view[order.index(k)] = sizes[k]
        grids.append(t.reshape(*view).expand(*shape))
    return tuple(grids)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every combination of the elements of the 1-D inputs, one per row (N, k), like itertools.product."""
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


def block_diag(*tensors: Tensor) -> Tensor:
    """A block-diagonal matrix with the inputs (0-, 1- or 2-D) as its blocks, zeros elsewhere."""
    blocks = [t.reshape(1, -1) if t._data.ndim < 2 else t for t in tensors]
    for i, t in enumerate(blocks):
        if t._data.ndim != 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t._data.ndim} dimensions")
    if not blocks:
        return Tensor._make(np.zeros((1, 0)))
    dtype = np.result_type(*[t._data.dtype for t in blocks])
    width = sum(t._data.shape[1] for t in blocks)
    rows, before = [], 0
    for t in blocks:
        r, c = t._data.shape
        left, right = Tensor._make(np.zeros((r, before), dtype)), Tensor._make(np.zeros((r, width - before - c), dtype))
        rows.append(cat([left, cast_to(t, _dtype.from_numpy_dtype(dtype)), right], 1))
        before += c
    return cat(rows, 0)


# -- distances -------------------------------------------------------------------------------------

def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and of x2 (..., R, M): (..., P, R).
    The gradient is 0 where two rows coincide (as PyTorch's)."""
    if x1._data.ndim < 2 or x2._data.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1._data.ndim}D")
    if x1._data.shape[-1] != x2._data.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1._data.shape[-1]} "
                           f"X2: {x2._data.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    return shown_as(_pairwise_p_norms(x1, x2, p), "CdistBackward0")


def _pairwise_p_norms(x1: Tensor, x2: Tensor, p: float) -> Tensor:
    difference = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (..., P, R, M)
    magnitude = difference.abs()
    if p == 0:
        return ((difference != 0).to(x1.dtype) + 0 * magnitude).sum(-1)
    if p == float("inf"):
        return magnitude.amax(-1)
    if p == 1:
        return magnitude.sum(-1)
    powered = (magnitude ** p).sum(-1)
    zero = powered == 0  # the root's derivative is infinite there: PyTorch's gradient is 0
    safe = where(zero, Tensor._make(np.ones((), powered._data.dtype)), powered)
    return where(zero, Tensor._make(np.zeros((), powered._data.dtype)), safe ** (1.0 / p))

