"""Layers that run as one op where nothing watches them: the course models' fast path.

A training step at a small batch costs as much in its graph nodes as in its arithmetic (a node: the
op's call, its record, the engine's visit and its backward, some 10-20 us), and every separate
elementwise layer is one more pass over its activations. So ``LeNet5``, ``CourseCNN`` and ``MLP``
run a convolution with its 2x2 max-pool and ReLU (``conv_max_pool2d_relu``), and their fully connected
layers with the ReLUs between them (``linear_stack``; a Linear layer with its ReLU, ``linear_relu``,
where dropout comes between), as one op each: the same values and gradients as the layers in a row.
The stack of LeNet-5's three layers (and the flatten before them) as one op measured -8% of a training
step at batch 1 and -5% for the MLP at batch 64 (one thread, CPU time, alternating processes).

A forward hook or pre-hook on a layer (feature maps, gradient norms, summaries) must see that layer's
own output, so where one is registered (``watched``) the layers run one by one.
"""

from __future__ import annotations

from typing import Sequence

from shenjing._ops.conv_pool import POOL
from shenjing._tensor import Tensor
from shenjing.nn._functional.conv import conv2d_max_pool2d
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


def conv_max_pool2d_relu(conv: Conv2d, pool: MaxPool2d, relu: ReLU, x: Tensor) -> Tensor:
    """relu(pool(conv(x))), which equals pool(relu(conv(x))) (the caller checks that nothing watches
    ``pool`` or ``relu``): one op (``conv2d_max_pool2d``) when nothing watches ``conv``, the pool is a
    plain 2x2 / stride-2 one and the input is batched; the layer's input checks run as for conv(x)."""
    if (watched(conv) or conv.padding_mode != "zeros" or not isinstance(x, Tensor) or x._data.ndim != 4
            or pool._windows != POOL or pool.return_indices):  # (the pool's checked geometry)
        return relu(pool(conv(x)))
    conv._check_input(x)
    return conv2d_max_pool2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups,
                             relu=True)


def linear_stack(linears: Sequence[Linear], relus: Sequence[ReLU], x: Tensor, flatten: bool = False) -> Tensor:
    """linears[-1](relu(... relu(linears[0](x)))), with x flattened from dim 1 if ``flatten``: one op
    (``linear_stack``) when nothing watches the layers (else the layers in a row, the same values)."""
    if watched(*linears, *relus) or (flatten and (not isinstance(x, Tensor) or x._data.ndim < 2)):
        for i, linear in enumerate(linears):
            x = linear(x.flatten(1) if flatten and i == 0 else x)
            if i < len(relus):
                x = relus[i](x)
        return x
    params = [p for linear in linears for p in (linear.weight, linear.bias)]
    return _linear_stack(x, params, flatten)


def linear_relu(linear: Linear, relu: ReLU, x: Tensor) -> Tensor:
    """relu(linear(x)), as one op when nothing watches either layer."""
    if watched(linear, relu):
        return relu(linear(x))
    _check_last_dim(linear, x, linear.in_features)
    return _linear_relu(x, linear.weight, linear.bias)
