"""``CrossMapLRN2d``: the legacy (Lua Torch) local response normalisation across channels, with PyTorch's
forward and its hand-written backward (both kept as PyTorch has them, window quirks included).

Forward: scale = k + alpha / size * sum over a channel window W(c) of x^2, y = x * scale^-beta. W(c) is
built incrementally as in PyTorch: W(0) = channels [0, p) with p = (size - 1) // 2 + 1; each next channel
adds channel c + p - 1 (while it exists) and, for c > p, drops channel c - p (channel 0 is never dropped).
Backward (PyTorch's formula): dx_c = scale_c^-beta dy_c - 2 alpha beta / size * x_c * sum over
c' in [c - q, c - q + size - 1] of dy_c' y_c' / scale_c', q = size - (size - 1) // 2.
"""

from __future__ import annotations

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.node import Op

__all__: list[str] = []


def forward_windows(channels: int, size: int) -> np.ndarray:
    """(C, C) with [c, c'] = 1 where channel c' counts in the scale of channel c."""
    first = int((size - 1) / 2 + 1)
    windows = np.zeros((channels, channels))
    windows[0, :min(first, channels)] = 1
    for c in range(1, channels):
        windows[c] = windows[c - 1]
        if c < channels - first + 1:
            windows[c, c + first - 1] += 1
        if c > first:
            windows[c, c - first] -= 1
    return windows


def backward_windows(channels: int, size: int) -> np.ndarray:
    """(C, C) with [c, c'] = 1 for c' in [c - q, c - q + size - 1] (PyTorch's backward window)."""
    shift = int(size - (size - 1) / 2)
    c = np.arange(channels)[:, None]
    other = np.arange(channels)[None, :]
    return ((other >= c - shift) & (other <= c - shift + size - 1)).astype(np.float64)


class CrossMapLrn(Op):
    def __init__(self, size: int, alpha: float, beta: float, k: float) -> None:
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def name(self) -> str:
        return "CrossMapLRN2dBackward"

    def forward(self, x):
        windows = forward_windows(x.shape[1], self.size).astype(x.dtype)
        self.scale = np.einsum("cd,ndhw->nchw", windows, x * x) * (self.alpha / self.size) + self.k
        y = x * self.scale ** -self.beta
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_arrays
        g = gy._data
        ratio = g * y / self.scale
        summed = np.einsum("cd,ndhw->nchw", backward_windows(x.shape[1], self.size).astype(x.dtype), ratio)
        gx = self.scale ** -self.beta * g - (2 * self.alpha * self.beta / self.size) * x * summed
        return Tensor._make(gx.astype(x.dtype))
