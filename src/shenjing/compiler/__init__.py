"""``shenjing.compile`` and ``shenjing.compiler``: capture a model's ops once, replay them.

``compile(model)`` returns a model that behaves as the original (same parameters, ``state_dict``,
``train()``/``eval()``, attributes) and runs faster: each new kind of call (input shapes and dtypes,
train/eval, grad mode, the model's structure) is captured once, checked, and then replayed as one
graph whose backward is one autograd node. What cannot be captured runs eagerly; ``explain()`` on the
compiled model says what was captured and why anything runs eagerly. See ``docs/compile.md``.
"""

from __future__ import annotations

from typing import Any, Callable

from shenjing.compiler.capture import is_capturing
from shenjing.compiler.compiled import CompiledFunction, OptimizedModule, compile_target

__all__ = ["compile", "is_compiling", "reset", "OptimizedModule", "CompiledFunction"]

_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_BACKENDS = (None, "inductor", "eager", "aot_eager", "shenjing")


def compile(model: Any = None, *, fullgraph: bool = False, dynamic: bool | None = None, backend: Any = "inductor",
            mode: str | None = None, options: dict | None = None, disable: bool = False) -> Any:
    """Compile a model or function: ``torch.compile``'s signature and meaning where it applies.

    ``fullgraph=True`` raises, naming the reason, where a call cannot be captured as one graph (instead
    of running it eagerly). ``disable=True`` returns a wrapper that always runs eagerly. ``dynamic``,
    ``backend``, ``mode`` and ``options`` are accepted for PyTorch code; shenjing has one backend and
    captures each input shape separately. Used bare or as a decorator (``@shenjing.compile`` or
    ``@shenjing.compile(fullgraph=True)``).

    >>> import shenjing
    >>> from shenjing import nn
    >>> model = shenjing.compile(nn.Sequential(nn.Linear(3, 2), nn.ReLU()))
    >>> model(shenjing.ones(4, 3)).shape  # captured (run eagerly)
    shenjing.Size([4, 2])
    >>> model(shenjing.ones(4, 3)).shape  # checked against eager mode, then replayed
    shenjing.Size([4, 2])
    >>> print(model.explain())
    graph 1 (grad; inputs [4, 3] float32): 2 ops captured, replayed as one graph
    """
    if mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode!r}, should be one of: {', '.join(m for m in _MODES if m)}")
    if not (callable(backend) or backend in _BACKENDS):
        raise ValueError(f"shenjing.compile: unknown backend {backend!r} (shenjing has one; PyTorch's names "
                         f"{', '.join(b for b in _BACKENDS if b)} are accepted)")
    if model is None:
        def decorate(target: Callable) -> Any:
            return compile_target(target, fullgraph, disable)

        return decorate
    return compile_target(model, fullgraph, disable)


def is_compiling() -> bool:
    """True while shenjing captures a compiled call (``torch.compiler.is_compiling``)."""
    return is_capturing()


def reset() -> None:
    """``torch.compiler.reset``: compiled models keep their captures per object; nothing global to clear."""
