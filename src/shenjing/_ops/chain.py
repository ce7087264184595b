"""Ops in a row as one node of the graph: a whole small network's forward as one op.

    h_0 = x,  h_k = op_k(h_{k-1}, *params_k) for k = 1 .. K,  y = h_K

``Chain`` runs each op's ``forward`` on the arrays and, in backward, each op's ``backward`` in reverse,
the gradient of h_{k-1} that op k returns feeding op k - 1. The ops do their own arithmetic, so the
values and gradients are theirs bit for bit. What goes is the bookkeeping between them: a node per op
(its call, record, saved entries, the engine's visit, the tensors around every intermediate), about
20-40 us an op at batch 1, where LeNet-5's whole step is some 700 us. Measured: LeNet-5's two fused
convolution blocks and its linear stack as one chain, a training step at batch 1 -7.5% (alternating
blocks in one process), +9% samples/s (the benchmark's child processes, alternating).

The intermediates h_1 .. h_{K-1} are never tensors, so nothing can change them in place; the chain
checks its own inputs and output for in-place changes (it saves them as any op does), and the ops'
saved values are kept as they are. Under ``create_graph`` the ops run again as ops from the saved
inputs and are differentiated, so higher derivatives exist. ``shenjing.models`` builds chains where
nothing watches the layers (``shenjing.models._fused.conv_net``).
"""

from __future__ import annotations

from typing import Callable, Sequence

from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op

__all__: list[str] = []  # internal

Stage = tuple[Callable[[], Op], int]  # how to make the op, and how many inputs it takes after h


class Chain(Op):
    """The ops of ``stages`` in a row (see the module's docstring). Inputs: x, then each op's other
    inputs in order (``stages`` says how many; None for an absent bias). An op's backward must return
    the gradient of h in h's shape and dtype (the engine's broadcast sums do not run between the ops)."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = stages
        self.ops: list[Op] | None = None

    def forward(self, x, *params):
        needs = self.needs_input_grad
        h, needs_h, start = x, needs[0], 1
        ops = []
        for make, count in self.stages:
            op = make()
            op.needs_input_grad = (needs_h, *needs[start:start + count])
            op._saved = ()
            h = op.forward(h, *params[start - 1:start - 1 + count])
            op._saved = [(value, None) for value in op._saved]  # (kept as they are: see the docstring)
            op._released = False
            needs_h = True in op.needs_input_grad
            start += count
            ops.append(op)
        if needs_h:  # (recording: some input needs its gradient)
            self.ops = ops
            self.save_for_backward(x, *params, h)
        return h

    def backward(self, gy):
        if _GradState.enabled:
            return self._recomputed_gradients(gy)
        self.saved_arrays  # noqa: B018 (the check that no input nor the output changed in place)
        grads: list = []
        g = gy
        for op in reversed(self.ops):
            if g is None or True not in op.needs_input_grad:  # (then no op before it needs one either)
                grads[:0] = [None] * (len(op.needs_input_grad) - 1)
                g = None
                continue
            result = op._call_backward((g,))
            grads[:0] = result[1:]
            g = result[0]
        return (g, *grads)

    def _recomputed_gradients(self, gy):
        """create_graph: the ops again as ops (nodes of the graph) from the saved inputs, differentiated."""
        *inputs, _ = self.saved_tensors
        h, start = inputs[0], 1
        for make, count in self.stages:
            h = make()(h, *inputs[start:start + count])
            start += count
        return differentiated(h, inputs, self.needs_input_grad, gy)

    def _release(self) -> None:
        super()._release()
        self.ops = None


def differentiated(y, inputs: Sequence, needs: Sequence[bool], gy) -> tuple:
    """The gradients of y (recomputed from ``inputs`` as graph nodes) with respect to the inputs whose
    ``needs`` is set, given gy, as a differentiable graph (None for the others): the ``create_graph``
    backward of an op that runs several ops at once (``Chain``, ``LinearStack``)."""
    from shenjing.autograd import grad

    wanted = [t for t, need in zip(inputs, needs) if need]
    grads = iter(grad(y, wanted, gy, create_graph=True, allow_unused=True))
    return tuple(next(grads) if need else None for need in needs)
