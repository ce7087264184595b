"""``pad``: add (or, with negative amounts, remove) a border around the last dims of a tensor."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from shenjing._ops._util import check_tensor
from shenjing._ops.pool import ConstantPad, IndexMapGather
from shenjing._tensor import Tensor

__all__ = ["pad"]

_KINDS = {"reflect": "ReflectionPad", "replicate": "ReplicationPad", "circular": "CircularPad"}


def _source_positions(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each output position along one dim, the input position it copies (see ``pad``).

    Negative amounts first crop the input to [start, stop); the border is then built from what is left.
    """
    start, stop = max(-before, 0), n - max(-after, 0)
    size = stop - start
    positions = np.arange(-max(before, 0), size + max(after, 0))
    if mode == "replicate":
        positions = np.clip(positions, 0, size - 1)
    elif mode == "circular":
        positions = positions % size
    else:  # reflect about the first and last element, which are not repeated
        positions = np.abs(positions)
        positions = np.where(positions > size - 1, 2 * (size - 1) - positions, positions)
    return start + positions


def _check_non_constant(input: Tensor, pairs: Sequence[tuple[int, int]], mode: str) -> None:
    dims = len(pairs)
    if dims > 3 or input.ndim not in (dims + 1, dims + 2):
        raise NotImplementedError(
            f"pad: padding of length {2 * dims} is not supported for a {input.ndim}D input in mode '{mode}'. "
            f"Non-constant padding supports: 2D or 3D input with 2 values (last dim), 3D or 4D input with 4 "
            f"values (last 2 dims), 4D or 5D input with 6 values (last 3 dims)")
    trailing = input.shape[input.ndim - dims:]
    for dim, (n, (before, after)) in enumerate(zip(trailing, pairs), start=input.ndim - dims):
        if mode == "reflect" and (before >= n or after >= n):
            raise RuntimeError(f"pad: reflect padding must be less than the size of the dim it pads, but got "
                               f"padding ({before}, {after}) at dimension {dim} of input {list(input.shape)}")
        if mode == "circular" and (before > n or after > n):
            raise RuntimeError(f"pad: circular padding ({before}, {after}) at dimension {dim} of input "
                               f"{list(input.shape)} wraps around more than once")


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims of ``input``.

    ``pad`` lists (before, after) amounts starting from the LAST dim: ``(left, right)`` pads the last
    dim, ``(left, right, top, bottom)`` the last two. Negative amounts remove elements. Modes, for
    a row [1 2 3] padded by 2 on each side:

        constant   v v 1 2 3 v v     (value, default 0; any number of dims)
        reflect    3 2 1 2 3 2 1     (mirror without repeating the edge; amount < size)
        replicate  1 1 1 2 3 3 3     (repeat the edge)
        circular   2 3 1 2 3 1 2     (wrap around; amount <= size)

    The last three pad the last 1-3 dims of a batched or unbatched input (e.g. 2 values for (N, C, L)
    or (C, L), 4 values for (N, C, H, W) or (C, H, W)). Differentiable: the gradient adds each output
    gradient back to the input element it was copied from.

    >>> import shenjing
    >>> import shenjing.nn.functional as F
    >>> F.pad(shenjing.tensor([[[1., 2., 3.]]]), (2, 2), mode='reflect')
    tensor([[[3., 2., 1., 2., 3., 2., 1.]]])
    """
    check_tensor(input, "pad(): input")
    amounts = [int(p) for p in pad]
    if len(amounts) % 2:
        raise ValueError(f"pad: the padding length must be even (pairs of before/after), got pad={tuple(pad)}")
    if len(amounts) // 2 > input.ndim:
        raise ValueError(f"pad: padding length {len(amounts)} pads more dims than the input has "
                         f"(input of size {list(input.shape)})")
    # torch order (last dim first) -> (before, after) per trailing dim, first dim first
    pairs = tuple((amounts[i], amounts[i + 1]) for i in range(len(amounts) - 2, -1, -2))
    trailing = input.shape[input.ndim - len(pairs):]
    for n, (before, after) in zip(trailing, pairs):
        if n + before + after < 0:
            raise RuntimeError(f"pad: the input size {n}, plus negative padding {before} and {after}, gives a "
                               f"negative output size (input of size {list(input.shape)})")
    if mode == "constant":
        return ConstantPad(pairs, 0.0 if value is None else value)(input)
    if mode not in _KINDS:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if value is not None and value != 0:
        raise ValueError(f"pad: padding mode '{mode}' doesn't take a value argument (got value={value})")
    _check_non_constant(input, pairs, mode)
    maps = tuple(_source_positions(n, before, after, mode) for n, (before, after) in zip(trailing, pairs))
    return IndexMapGather(maps, f"{_KINDS[mode]}{len(pairs)}D")(input)
