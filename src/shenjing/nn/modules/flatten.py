"""Shape-only modules: ``Flatten`` and ``Unflatten`` (no parameters, no arithmetic).

(``Identity`` lives in ``linear.py``, where PyTorch keeps it.)
"""

from __future__ import annotations

from typing import Sequence

from shenjing._tensor import Tensor
from shenjing.nn.modules.module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim`` into one: ``(N, C, H, W) -> (N, C*H*W)`` by default.

    Used between the convolutional and the fully connected part of a CNN (LeNet-5: 16x5x5 -> 400).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Flatten()(shenjing.zeros(8, 16, 5, 5)).shape
    shenjing.Size([8, 400])
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: ``Unflatten(1, (16, 5, 5))`` turns
    ``(N, 400)`` into ``(N, 16, 5, 5)``. One entry of the size may be ``-1`` (inferred).

    >>> import shenjing
    >>> from shenjing import nn
    >>> nn.Unflatten(1, (2, -1))(shenjing.zeros(3, 8)).shape
    shenjing.Size([3, 2, 4])
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError(f"Unflatten: dim must be an int (named dimensions are not supported), "
                            f"got {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for position, size in enumerate(unflattened_size):
            if not isinstance(size, int):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of type "
                                f"{type(size).__name__} at pos {position}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
