"""``Parameter``: a tensor that a ``Module`` registers as one of its learnable weights."""

from __future__ import annotations

from typing import Any

from shenjing._tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and is found by ``Module.parameters()``.

    It shares memory with the tensor it wraps.

    >>> import shenjing
    >>> w = Parameter(shenjing.ones(2))
    >>> w.requires_grad, w.is_leaf
    (True, True)
    """

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            from shenjing._creation import empty

            data = empty(0)
        array = data._data if isinstance(data, Tensor) else Tensor(data)._data
        self._init(array)
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: int) -> Any:
        return (Parameter, (Tensor._make(self._data), self.requires_grad))

    def __deepcopy__(self, memo: dict) -> "Parameter":
        result = Parameter(Tensor._make(self._data.copy()), self.requires_grad)
        memo[id(self)] = result
        return result
