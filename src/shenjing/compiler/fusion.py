"""Rewrites of a captured graph that compute the same numbers with less work.

Each rule looks at the captured steps (never at the model's classes or layer names) and changes a
pattern only where the result is exactly the same, forward and backward; the check after a capture
then runs the rewritten graph against eager mode, bit for bit.

* ``relu_after_pool``: ReLU followed by a max-pool whose windows tile the input (kernel = stride, no
  padding or dilation) becomes the max-pool followed by the ReLU: max(relu(x)) = relu(max(x)), on a
  quarter of the elements for 2x2 windows, and the gradient reaches the same input positions.
* ``conv_pool``: a convolution on row windows followed by such a max-pool (after the rule above, the
  ReLU of conv -> ReLU -> pool comes after the pool) becomes ``ConvMaxPool2d``, which pools the
  convolution's batch-last product in place of writing it out batch first and reading it back
  (``shenjing._ops.kernels.conv_pool``); the same numbers bit for bit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Callable, Iterator

from shenjing._ops.conv import Conv2d
from shenjing._ops.conv_pool import ConvMaxPool2d
from shenjing._ops.elementwise import Relu
from shenjing._ops.kernels import conv_pool as conv_pool_kernel
from shenjing._ops.pool import MaxPool2d
from shenjing.compiler.capture import OP, VALUE, Step

__all__ = ["fuse", "relu_after_pool", "conv_pool"]


def fuse(steps: list[Step], output_slots: set[int]) -> tuple[list[Step], list[str]]:
    """The steps after every rule, and a line per rewrite made (for ``explain()``)."""
    done: list[str] = []
    steps, count = relu_after_pool(steps, output_slots)
    if count:
        done.append(f"{count} x (ReLU, max-pool) -> (max-pool, ReLU)")
    steps, count = conv_pool(steps, output_slots)
    if count:
        done.append(f"{count} x (convolution, max-pool) -> one op pooling the batch-last product")
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


def _pairs(steps: list[Step], output_slots: set[int], first: Callable[[Step], bool],
           second: Callable[[Step], bool]) -> Iterator[tuple[Step, Step | None]]:
    """Walk the steps: (a, b) where step a (``first``) feeds step b (``second``), its only use and not an
    output of the call; else (the step, None)."""
    uses = _uses(steps)
    i = 0
    while i < len(steps):
        a = steps[i]
        b = steps[i + 1] if i + 1 < len(steps) else None
        if (b is not None and a.kind == OP and b.kind == OP and first(a) and second(b)
                and b.inputs[0] == (VALUE, a.outputs[0]) and uses[a.outputs[0]] == 1
                and a.outputs[0] not in output_slots and a.recorded == b.recorded):
            yield a, b
            i += 2
        else:
            yield a, None
            i += 1


def relu_after_pool(steps: list[Step], output_slots: set[int]) -> tuple[list[Step], int]:
    """(steps, rewrites): each ReLU -> tiling max-pool pair as max-pool -> ReLU (see the module docstring)."""
    rewritten: list[Step] = []
    count = 0
    for relu, pool in _pairs(steps, output_slots, lambda s: s.op_type is Relu, _tiling_pool):
        if pool is None:
            rewritten.append(relu)
            continue
        middle = relu.outputs[0]  # (now the pooled pre-activations)
        rewritten.append(replace(pool, inputs=(relu.inputs[0],) + pool.inputs[1:], outputs=(middle,),
                                 needs=relu.needs + pool.needs[1:], meta=relu.meta + pool.meta[1:]))
        rewritten.append(replace(relu, inputs=((VALUE, middle),), outputs=pool.outputs,
                                 meta=pool.out_meta[:1], out_meta=pool.out_meta[:1]))
        count += 1
    return rewritten, count


def _fusable_conv(step: Step) -> bool:
    return step.op_type is Conv2d and step.meta[0] is not None and step.meta[1] is not None


def conv_pool(steps: list[Step], output_slots: set[int]) -> tuple[list[Step], int]:
    """(steps, rewrites): each row-window convolution -> tiling max-pool pair as one ``ConvMaxPool2d``."""
    rewritten: list[Step] = []
    count = 0
    for conv, pool in _pairs(steps, output_slots, _fusable_conv, _tiling_pool):
        kernel = None if pool is None else tuple(pool.state["geometry"].kernel)
        if pool is None or not conv_pool_kernel.applies(conv.state["algorithm"], conv.state["geometry"],
                                                        conv.meta[0][0], conv.meta[1][0], kernel):
            rewritten.append(conv)
            if pool is not None:
                rewritten.append(pool)
            continue
        rewritten.append(replace(conv, op_type=ConvMaxPool2d, outputs=pool.outputs, out_meta=pool.out_meta,
                                 state={"geometry": conv.state["geometry"], "pool_kernel": kernel,
                                        "algorithm": conv.state["algorithm"]}))
        count += 1
    return rewritten, count
