"""Faster algorithms for max pooling, each computing exactly what its reference in ``shenjing._ops.pool``
computes (``running_max`` and ``scatter_to_winners``); ``pool.MAX_KERNELS`` / ``pool.SCATTER_KERNELS``
list them and ``pool.max_kernel`` / ``pool.scatter_kernel`` choose one from the geometry alone.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

__all__ = ["tournament_max", "scatter_disjoint"]


def tournament_max(windows: Sequence[np.ndarray], keep_argmax: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``running_max`` as a knock-out tournament: the elementwise max over the windows and, if asked,
    the first window that holds it (a NaN wins; of several NaNs the last, as in the reference).

    Round one: windows 2j and 2j+1 play, m_j = max(w_2j, w_2j+1), and the right one wins only where
    w_2j != m_j. Later rounds: neighbouring winners play, the right one winning where m_right > m_left,
    i = i_left + (m_right > m_left) * (i_right - i_left). The left player holds the earlier windows, so a
    tie goes to the first maximum. Only round one reads the strided windows; later rounds run on
    contiguous arrays of the output's size. The index is int8 (int32 past 127 windows).
    """
    first = windows[0]
    index_dtype = np.int8 if len(windows) <= 127 else np.int32
    if len(windows) == 1:
        return first.copy(), (np.zeros(first.shape, dtype=index_dtype) if keep_argmax else None)
    if not keep_argmax:  # the max alone: a running max in one new array
        best = np.maximum(first, windows[1])
        for window in windows[2:]:
            np.maximum(best, window, out=best)
        return best, None
    players = []  # (max of a run of windows, index of the run's first maximum)
    for k in range(0, len(windows) - 1, 2):
        left, right = windows[k], windows[k + 1]
        best = np.maximum(left, right)
        index = np.not_equal(left, best).view(np.int8).astype(index_dtype, copy=False)
        if k:
            index += index_dtype(k)
        players.append((best, index))
    if len(windows) % 2:  # the last window plays from round two on, always on the right
        last = windows[-1]
        players.append((last, np.full(last.shape, len(windows) - 1, dtype=index_dtype)))
    while len(players) > 1:
        following = []
        for (m_left, i_left), (m_right, i_right) in zip(players[::2], players[1::2]):
            i_right = np.subtract(i_right, i_left)
            i_right *= np.greater(m_right, m_left)
            i_left += i_right
            # a left player is a round-one maximum (a new array), never an input window
            following.append((np.maximum(m_left, m_right, out=m_left), i_left))
        players = following + players[len(following) * 2:]
    best, argmax = players[0]
    if best.dtype.kind == "f" and np.isnan(best).any():  # equality cannot tell which NaN won
        for k, window in enumerate(windows):
            np.copyto(argmax, k, where=np.isnan(window))
    return best, argmax


@lru_cache(maxsize=64)
def _offsets(count: int, dtype: np.dtype) -> np.ndarray:
    """0, 1, ..., count-1 along the first of five axes (to compare with an (N, C, OH, OW) argmax); read-only."""
    offsets = np.arange(count, dtype=dtype).reshape(count, 1, 1, 1, 1)
    offsets.flags.writeable = False
    return offsets


def scatter_disjoint(gy: np.ndarray, argmax: np.ndarray, windows: Sequence[np.ndarray]) -> None:
    """``scatter_to_winners`` where no pixel lies in two windows: window k of the (zeroed) dx is
    gy * (argmax == k), written in place; where gy holds a NaN or inf, masked copies instead (a product
    with 0 would leak them)."""
    won = argmax == _offsets(len(windows), argmax.dtype)  # (K, N, C, OH, OW) in one call
    if np.isfinite(gy).all():
        for window, mask in zip(windows, won):
            np.multiply(gy, mask, out=window)
    else:
        for window, mask in zip(windows, won):
            np.copyto(window, gy, where=mask)
