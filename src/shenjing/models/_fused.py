"""Layers that run as one op where nothing watches them: the course models' fast path.

A training step at a small batch costs as much in its graph nodes as in its arithmetic (a node: the
op's call, its record, the engine's visit and its backward, some 10-20 us), and every separate
elementwise layer is one more pass over its activations. So ``LeNet5``, ``CourseCNN`` and ``MLP``
run a convolution with its 2x2 max-pool and ReLU (``conv_max_pool2d_relu``), and their fully connected
layers with the ReLUs between them (``linear_stack``; a Linear layer with its ReLU, ``linear_relu``,
where dropout comes between), as one op each: the same values and gradients as the layers in a row.
The stack of LeNet-5's three layers (and the flatten before them) as one op measured -8% of a training
step at batch 1 and -5% for the MLP at batch 64 (one thread, CPU time, alternating processes). LeNet-5
and CourseCNN go one step further: their two convolution blocks and the stack run as one op, a ``Chain``
of those ops (``conv_net``): +9% samples/s at batch 1 (two threads, wall time, alternating processes).

A forward hook or pre-hook on a layer (feature maps, gradient norms, summaries) must see that layer's
own output, so where one is registered (``watched``) the layers run one by one.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple, Sequence

from shenjing._ops.chain import Chain
from shenjing._ops.conv_pool import POOL, ConvMaxPool2d, fused_applies, plan
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.nn._functional._checked import CheckedCalls
from shenjing.nn._functional.conv import checked_conv2d_geometry, conv2d_max_pool2d
from shenjing.nn._functional.linear import LinearStack, _check_layer
from shenjing.nn._functional.linear import linear_relu as _linear_relu
from shenjing.nn._functional.linear import linear_stack as _linear_stack
from shenjing.nn.modules.activation import ReLU
from shenjing.nn.modules.conv import Conv2d
from shenjing.nn.modules.linear import Linear, _check_last_dim
from shenjing.nn.modules.module import Module
from shenjing.nn.modules.pooling import MaxPool2d

__all__: list[str] = []  # internal


def watched(*modules: Module) -> bool:
    """Whether a forward hook or pre-hook is registered on any of ``modules``."""
    for m in modules:  # (a loop: a generator costs a microsecond per call, and models call this per step)
        if m._forward_hooks or m._forward_pre_hooks:
            return True
    return False


def all_of(kind: type, modules: Sequence[Module]) -> bool:
    """Whether every module is a ``kind`` itself (a subclass or another layer may compute something else)."""
    for m in modules:
        if type(m) is not kind:
            return False
    return True


def pools_first(activation: Module, *pools: Module) -> bool:
    """Whether conv blocks may pool before their activation, relu(pool(conv(x))) for the textbook
    pool(relu(conv(x))), the same values: the activation is a ReLU and every pool a max-pool (a max
    commutes with a monotone function, an average does not), and no hook watches them (it would see
    other values)."""
    return type(activation) is ReLU and all_of(MaxPool2d, pools) and not watched(activation, *pools)


def conv_max_pool2d_relu(conv: Conv2d, pool: MaxPool2d, relu: ReLU, x: Tensor) -> Tensor:
    """relu(pool(conv(x))), which equals pool(relu(conv(x))) (the caller checks ``pools_first``): one op
    (``conv2d_max_pool2d``) when nothing watches ``conv`` (a Conv2d), the pool is a plain 2x2 / stride-2
    one and the input is batched; the layer's input checks run as for conv(x)."""
    if (type(conv) is not Conv2d or watched(conv) or conv.padding_mode != "zeros" or not isinstance(x, Tensor)
            or x._data.ndim != 4 or pool._windows != POOL or pool.return_indices):  # (the pool's checked geometry)
        return relu(pool(conv(x)))
    conv._check_input(x)
    return conv2d_max_pool2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups,
                             relu=True)


def linear_stack(linears: Sequence[Linear], relus: Sequence[ReLU], x: Tensor, flatten: bool = False) -> Tensor:
    """linears[-1](relu(... relu(linears[0](x)))), with x flattened from dim 1 if ``flatten``: one op
    (``linear_stack``) when they are Linear and ReLU layers and nothing watches them (else the layers in
    a row, the same values)."""
    if (not (all_of(Linear, linears) and all_of(ReLU, relus)) or watched(*linears, *relus)
            or (flatten and (not isinstance(x, Tensor) or x._data.ndim < 2))):
        for i, linear in enumerate(linears):
            x = linear(x.flatten(1) if flatten and i == 0 else x)
            if i < len(relus):
                x = relus[i](x)
        return x
    params = [p for linear in linears for p in (linear.weight, linear.bias)]
    return _linear_stack(x, params, flatten)


def linear_relu(linear: Linear, relu: ReLU, x: Tensor) -> Tensor:
    """relu(linear(x)), as one op when they are a Linear and a ReLU layer and nothing watches either."""
    if type(linear) is not Linear or type(relu) is not ReLU or watched(linear, relu):
        return relu(linear(x))
    _check_last_dim(linear, x, linear.in_features)
    return _linear_relu(x, linear.weight, linear.bias)


def conv_net(blocks: Sequence[tuple[Conv2d, MaxPool2d]], relu: ReLU, linears: Sequence[Linear],
             x: Tensor) -> Tensor | None:
    """The whole forward of a course CNN as one op (``Chain``): relu(pool(conv(h))) for each (conv, pool)
    of ``blocks`` (``ConvMaxPool2d``), then the flattened result through ``linears`` with ``relu``
    between them (``LinearStack``); the same values and gradients as ``conv_max_pool2d_relu`` per block
    and ``linear_stack``. None where that does not apply: a layer is not of those kinds (``pools_first``,
    Conv2d, Linear), a hook watches one, a block does not run as one op, or a block's configuration has
    not passed conv2d's checks yet (the caller then runs the blocks, whose checks remember it: the next
    call runs as one op).

    What a configuration allows (``_NetLayout``) is worked out once per the input's and the parameters'
    shapes and dtypes and the layers' arguments (``CheckedCalls``): a step then costs a few
    microseconds here."""
    if (not isinstance(x, Tensor) or x._data.ndim != 4 or not pools_first(relu, *(pool for _, pool in blocks))
            or not all_of(Linear, linears) or watched(*linears)):
        return None
    params, arguments = [], []
    for conv, pool in blocks:
        if type(conv) is not Conv2d or watched(conv):
            return None
        params += (conv.weight, conv.bias)
        arguments.append((conv.padding_mode, conv.in_channels, conv.stride, conv.padding, conv.dilation, conv.groups,
                          pool._windows, pool.return_indices))
    for linear in linears:
        params += (linear.weight, linear.bias)
    key = _checked_nets.key((x, *params), len(blocks), *arguments)
    layout = _checked_nets.get(key)
    if layout is None:
        layout = _net_layout(blocks, linears, x, params)
        if layout is None:
            return None
        _checked_nets.remember(key, layout)
    recording = _GradState.enabled
    needs_h = recording and x._requires_grad
    for k, (infers, trains) in enumerate(layout.fuses):  # (as ``conv2d_max_pool2d`` decides)
        weight, bias = params[2 * k], params[2 * k + 1]
        training = needs_h or (recording and (weight._requires_grad or (bias is not None and bias._requires_grad)))
        if not (trains and weight._requires_grad if training else infers):
            return None
        needs_h = training
    return Chain(layout.stages)(x, *params)


class _NetLayout(NamedTuple):
    """What ``conv_net`` may run for one configuration."""

    stages: tuple  # the ``Chain``'s
    fuses: tuple[tuple[bool, bool], ...]  # per block: whether it runs as one op (in inference, in training)


def _net_layout(blocks: Sequence[tuple[Conv2d, MaxPool2d]], linears: Sequence[Linear], x: Tensor,
                params: list) -> _NetLayout | None:
    """The layout of ``conv_net`` for x and ``params`` (None: a block does not run as one op, or its
    configuration has not been checked yet); raises ``linear_stack``'s errors."""
    shape, dtype = x._data.shape, x._data.dtype
    stages, fuses = [], []
    for k, (conv, pool) in enumerate(blocks):
        weight, bias = params[2 * k], params[2 * k + 1]
        if conv.padding_mode != "zeros" or pool._windows != POOL or pool.return_indices or shape[1] != conv.in_channels:
            return None
        geometry = checked_conv2d_geometry(shape, dtype, weight, bias, conv.stride, conv.padding, conv.dilation,
                                           conv.groups)
        if geometry is None:
            return None
        fuses.append((fused_applies(shape, weight._data.shape, geometry, False),
                      fused_applies(shape, weight._data.shape, geometry, True)))
        stages.append((partial(ConvMaxPool2d, geometry, True), 2))
        oh, ow = plan(shape, weight._data.shape, geometry).output
        shape = (shape[0], weight._data.shape[0], oh // 2, ow // 2)
    shape = (shape[0], math.prod(shape[1:]))
    for weight, bias in zip(params[2 * len(blocks)::2], params[2 * len(blocks) + 1::2]):
        _check_layer(shape, dtype, weight, bias)
        shape = (shape[0], weight._data.shape[0])
    stages.append((partial(LinearStack, True), 2 * len(linears)))
    return _NetLayout(tuple(stages), tuple(fuses))


_checked_nets = CheckedCalls()
