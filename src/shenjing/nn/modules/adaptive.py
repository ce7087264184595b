"""``AdaptiveLogSoftmaxWithLoss`` (Grave et al., 2016): a softmax over many classes made cheap by
splitting them by frequency. The ``head`` scores the shortlist of frequent classes plus one entry per
tail cluster; each cluster's classes are scored by a smaller two-layer ``tail`` projection, and

    log p(class c in cluster k | x) = log p_head(cluster k | x) + log p_k(c | x).

Composed of Linear layers, log_softmax and gathers, so gradients come from those ops.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any, Sequence

import numpy as np

from shenjing._ops.activation import log_softmax
from shenjing._ops.shape import cat
from shenjing._tensor import Tensor
from shenjing.nn.modules.container import ModuleList, Sequential
from shenjing.nn.modules.linear import Linear
from shenjing.nn.modules.module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax for ``n_classes`` classes sorted by frequency, split at ``cutoffs``.

    forward(input (N, in_features), target (N,)) returns ``(output, loss)``: the log-probability of each
    target (N,) and the mean negative log-likelihood. ``log_prob(input)`` gives the full (N, n_classes)
    log-probabilities, ``predict(input)`` the most likely class.

    >>> import shenjing
    >>> from shenjing import nn
    >>> asm = nn.AdaptiveLogSoftmaxWithLoss(16, 10, cutoffs=[4, 7])
    >>> output, loss = asm(shenjing.randn(5, 16), shenjing.tensor([0, 3, 5, 9, 7]))
    >>> output.shape, asm.log_prob(shenjing.randn(5, 16)).exp().sum(1).round().detach()
    (shenjing.Size([5]), tensor([1., 1., 1., 1., 1.]))
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int], div_value: float = 4.0,
                 head_bias: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > (n_classes - 1)
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing "
                             "order, where each value is between 1 and n_classes-1")
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, dtype=dtype),
                                        Linear(hidden, size, bias=False, dtype=dtype)))

    def reset_parameters(self) -> None:
        """Redraw every projection as a fresh Linear layer would."""
        for layer in [self.head] + [linear for projection in self.tail for linear in projection]:
            fresh = Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, dtype=layer.weight.dtype)
            layer.load_state_dict(fresh.state_dict())

    def forward(self, input_: Tensor, target_: Tensor) -> _ASMoutput:
        if target_.ndim == 1:
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch dimension.")
            if input_.ndim != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with size "
                                   f"{list(input_.shape)}")
        elif target_.ndim == 0:
            if input_.ndim != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with size "
                                   f"{list(input_.shape)}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target_.ndim > 0
        input = input_ if batched else input_.unsqueeze(0)
        labels = np.asarray(target_._data).reshape(-1).astype(np.int64)
        batch = labels.shape[0]
        if batch and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{labels.min()}, {labels.max()}] were found. ")
        head_entry = labels.copy()  # the head's class for each row: itself, or its cluster's entry
        output = None
        for i, (low, high) in enumerate(zip(self.cutoffs[:-1], self.cutoffs[1:])):
            rows = np.nonzero((labels >= low) & (labels < high))[0]
            if rows.size == 0:
                continue
            head_entry[rows] = self.shortlist_size + i
            cluster = log_softmax(self.tail[i](input.index_select(0, Tensor._make(rows))), 1)
            local = cluster.gather(1, Tensor._make((labels[rows] - low)[:, None])).reshape(-1)
            placement = np.zeros((batch, rows.size), dtype=input._data.dtype)
            placement[rows, np.arange(rows.size)] = 1.0  # back to the rows the cluster's samples came from
            term = Tensor._make(placement).matmul(local)
            output = term if output is None else output + term
        head = log_softmax(self.head(input), 1).gather(1, Tensor._make(head_entry[:, None])).reshape(-1)
        output = head if output is None else head + output
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _get_full_log_prob(self, input: Tensor, head_output: Tensor) -> Tensor:
        head = log_softmax(head_output, 1)
        parts = [head[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            parts.append(log_softmax(self.tail[i](input), 1) + head[:, self.shortlist_size + i].unsqueeze(1))
        return cat(parts, 1)

    def log_prob(self, input: Tensor) -> Tensor:
        """log p(c | x) for every class: (N, in_features) -> (N, n_classes) (or (in_features,) -> (n_classes,))."""
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        out = self._get_full_log_prob(x, self.head(x))
        return out if batched else out.squeeze(0)

    def predict(self, input: Tensor) -> Tensor:
        """The most likely class of each input: (N, in_features) -> (N,)."""
        batched = input.ndim == 2
        out = self.log_prob(input if batched else input.unsqueeze(0)).argmax(1)
        return out if batched else out.squeeze(0)
