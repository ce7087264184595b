"""``torch.func``'s ``functional_call``: call a module with other parameters and buffers (see
``shenjing.nn.utils.stateless``). The rest of ``torch.func`` (grad, vmap, jacrev, ...) is not here."""

from __future__ import annotations

from typing import Any

from shenjing.nn.utils.stateless import _functional_call

__all__ = ["functional_call"]


def functional_call(module: Any, parameter_and_buffer_dicts: Any, args: Any = None, kwargs: dict | None = None,
                    *, tie_weights: bool = True, strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` with the named parameters/buffers replaced for this call only (as
    ``shenjing.nn.utils.stateless.functional_call``, without its deprecation warning).

    >>> import shenjing
    >>> layer = shenjing.nn.Linear(2, 1)
    >>> functional_call(layer, {"weight": shenjing.ones(1, 2), "bias": shenjing.zeros(1)}, shenjing.ones(1, 2))
    tensor([[2.]])
    """
    return _functional_call(module, parameter_and_buffer_dicts, args, kwargs, tie_weights=tie_weights,
                            strict=strict)
