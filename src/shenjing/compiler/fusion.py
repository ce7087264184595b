"""Rewrites of a captured graph that compute the same numbers with less work.

Each rule looks at the captured steps (never at the model's classes or layer names) and changes a
pattern only where the result is exactly the same, forward and backward; the check after a capture
then runs the rewritten graph against eager mode, bit for bit.

* ``relu_after_pool``: ReLU followed by a max-pool whose windows tile the input (kernel = stride, no
  padding or dilation) becomes the max-pool followed by the ReLU: max(relu(x)) = relu(max(x)), on a
  quarter of the elements for 2x2 windows, and the gradient reaches the same input positions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from shenjing._ops.elementwise import Relu
from shenjing._ops.pool import MaxPool2d
from shenjing.compiler.capture import OP, VALUE, Step

__all__ = ["fuse", "relu_after_pool"]


def fuse(steps: list[Step], output_slots: set[int]) -> tuple[list[Step], list[str]]:
    """The steps after every rule, and a line per rewrite made (for ``explain()``)."""
    done: list[str] = []
    steps, count = relu_after_pool(steps, output_slots)
    if count:
        done.append(f"{count} x (ReLU, max-pool) -> (max-pool, ReLU)")
    return steps, done


def _uses(steps: list[Step]) -> Counter:
    uses: Counter = Counter()
    for step in steps:
        for kind, where in step.inputs:
            if kind == VALUE:
                uses[where] += 1
    return uses


def _tiling_pool(step: Step) -> bool:
    if step.kind != OP or step.op_type is not MaxPool2d or step.state.get("return_indices"):
        return False
    geometry = step.state["geometry"]
    return (tuple(geometry.kernel) == tuple(geometry.stride) and not any(geometry.padding)
            and all(d == 1 for d in geometry.dilation) and not geometry.ceil_mode)


def relu_after_pool(steps: list[Step], output_slots: set[int]) -> tuple[list[Step], int]:
    uses = _uses(steps)
    rewritten: list[Step] = []
    count, i = 0, 0
    while i < len(steps):
        relu = steps[i]
        pool = steps[i + 1] if i + 1 < len(steps) else None
        if (pool is not None and relu.kind == OP and relu.op_type is Relu and _tiling_pool(pool)
                and pool.inputs[0] == (VALUE, relu.outputs[0]) and uses[relu.outputs[0]] == 1
                and relu.outputs[0] not in output_slots and relu.recorded == pool.recorded):
            middle = relu.outputs[0]  # (now the pooled pre-activations)
            rewritten.append(replace(pool, inputs=(relu.inputs[0],) + pool.inputs[1:], outputs=(middle,),
                                     needs=relu.needs + pool.needs[1:], meta=relu.meta + pool.meta[1:]))
            rewritten.append(replace(relu, inputs=((VALUE, middle),), outputs=pool.outputs,
                                     meta=pool.out_meta[:1], out_meta=pool.out_meta[:1]))
            count += 1
            i += 2
            continue
        rewritten.append(relu)
        i += 1
    return rewritten, count
