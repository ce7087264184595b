"""Dropout layers: random zeroing while training (``model.train()``), the identity in ``model.eval()``."""

from __future__ import annotations

from shenjing._tensor import Tensor
from shenjing.nn._functional.dropout import dropout, dropout1d, dropout2d
from shenjing.nn.modules.module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p!r}")
        self.p, self.inplace = p, inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """While training, zero each element with probability ``p`` and scale the others by 1/(1-p).

    Inverted dropout: the expected output equals the input, so evaluation mode is the identity.
    Shape: any -> same.

    >>> import shenjing
    >>> from shenjing import nn
    >>> _ = shenjing.manual_seed(0)
    >>> layer = nn.Dropout(p=0.5)
    >>> sorted(set(layer(shenjing.ones(100)).tolist()))
    [0.0, 2.0]
    >>> layer.eval()(shenjing.ones(3))
    tensor([1., 1., 1.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """While training, zero whole channels of (N, C, L) or (C, L) input with probability ``p``.

    >>> import shenjing
    >>> from shenjing import nn
    >>> _ = shenjing.manual_seed(0)
    >>> y = nn.Dropout1d(p=0.5)(shenjing.ones(2, 6, 4))
    >>> sorted(set(y.sum(dim=2).flatten().tolist()))   # each channel is all 0 or all 2
    [0.0, 8.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """While training, zero whole channels (feature maps) of (N, C, H, W) or (C, H, W) input.

    >>> import shenjing
    >>> from shenjing import nn
    >>> _ = shenjing.manual_seed(0)
    >>> y = nn.Dropout2d(p=0.5)(shenjing.ones(2, 6, 4, 4))
    >>> sorted(set(y.sum(dim=(2, 3)).flatten().tolist()))   # each 4x4 map is all 0 or all 2
    [0.0, 32.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return dropout2d(input, self.p, self.training, self.inplace)
