"""ONNX nodes for the layer-sized ops: Linear, convolutions, pooling, normalisation, Embedding and the
whole-sequence recurrent ops (RNN, LSTM, GRU; gate rows reordered to ONNX's layouts).
"""

from __future__ import annotations

import numpy as np

from shenjing.onnx._convert_basic import _inputs, _out_dtype, converter
from shenjing.onnx._graph import ExportError, Graph
from shenjing.onnx._trace import Step


@converter("Linear")
def _linear(g: Graph, step: Step) -> str:
    """y = x W^T + b: Gemm for a matrix input, MatMul (+ Add) for more dims."""
    names = _inputs(g, step)
    bias, x, weight = names if len(names) == 3 else ("", *names)
    if step.inputs[1 if bias else 0]._data.ndim == 2:
        return g.node("Gemm", [x, weight] + ([bias] if bias else []), transB=1)
    product = g.node("MatMul", [x, g.node("Transpose", [weight], perm=[1, 0])])
    return g.node("Add", [product, bias]) if bias else product


@converter("Conv2d")
def _conv(g: Graph, step: Step) -> str:
    geometry = step.op.geometry
    (top, bottom), (left, right) = geometry.padding
    weight = step.inputs[1]._data
    names = [n for n in _inputs(g, step) if n]
    return g.node("Conv", names, kernel_shape=list(weight.shape[2:]), strides=list(geometry.stride),
                  pads=[top, left, bottom, right], dilations=list(geometry.dilation), group=int(geometry.groups))


@converter("ConvTranspose2d")
def _conv_transpose(g: Graph, step: Step) -> str:
    geometry = step.op.geometry
    (top, bottom), (left, right) = geometry.padding
    x, weight = step.inputs[0]._data, step.inputs[1]._data
    natural = [geometry.stride[i] * (x.shape[2 + i] - 1) + geometry.dilation[i] * (weight.shape[2 + i] - 1) + 1
               - (top + bottom, left + right)[i] for i in range(2)]
    extra = [int(step.op.output_hw[i] - natural[i]) for i in range(2)]
    names = [n for n in _inputs(g, step) if n]
    return g.node("ConvTranspose", names, kernel_shape=list(weight.shape[2:]), strides=list(geometry.stride),
                  pads=[top, left, bottom, right], dilations=list(geometry.dilation), group=int(geometry.groups),
                  output_padding=extra)


def _pool_attributes(geometry) -> dict:
    ph, pw = geometry.padding
    return {"kernel_shape": list(geometry.kernel), "strides": list(geometry.stride), "pads": [ph, pw, ph, pw],
            "ceil_mode": int(geometry.ceil_mode)}


@converter("MaxPool2d")
def _max_pool(g: Graph, step: Step) -> list[str]:
    if step.op.return_indices:
        raise ExportError("max pooling with return_indices=True")
    return g.node("MaxPool", _inputs(g, step)[:1], dilations=list(step.op.geometry.dilation),
                  **_pool_attributes(step.op.geometry))


@converter("AvgPool2d")
def _avg_pool(g: Graph, step: Step) -> str:
    if step.op.divisor_override is not None:
        raise ExportError("average pooling with divisor_override")
    return g.node("AveragePool", _inputs(g, step)[:1], count_include_pad=int(step.op.count_include_pad),
                  **_pool_attributes(step.op.geometry))


@converter("GlobalAvgPool2d")
def _global_avg_pool(g: Graph, step: Step) -> str:
    return g.node("GlobalAveragePool", _inputs(g, step)[:1])


@converter("AdaptiveMaxPool2d")
def _adaptive_max_pool(g: Graph, step: Step) -> str:
    """PyTorch's bins [floor(i n / m), ceil((i + 1) n / m)): a maximum over a box is the maximum over its rows
    of the maximum over its columns, so each axis is done on its own (Slice, ReduceMax, Concat)."""
    x = _inputs(g, step)[0]
    shape = step.inputs[0]._data.shape
    for axis, bins in ((2, step.op.output_size[0]), (3, step.op.output_size[1])):
        n = shape[axis]
        if n % bins == 0:
            continue
        pieces = []
        for i in range(bins):
            start, stop = (i * n) // bins, -((-(i + 1) * n) // bins)
            piece = g.node("Slice", [x, g.ints([start]), g.ints([stop]), g.ints([axis])])
            pieces.append(g.reduce("ReduceMax", piece, [axis], True))
        x = g.node("Concat", pieces, axis=axis)
    kernel = [shape[2] // step.op.output_size[0] if shape[2] % step.op.output_size[0] == 0 else 1,
              shape[3] // step.op.output_size[1] if shape[3] % step.op.output_size[1] == 0 else 1]
    if kernel != [1, 1]:
        x = g.node("MaxPool", [x], kernel_shape=kernel, strides=kernel)
    return x


@converter("BatchNormEval")
def _batch_norm(g: Graph, step: Step) -> str:
    x, weight, bias, mean, var = step.inputs
    channels = x._data.shape[1]
    dtype = x._data.dtype
    scale = g.value(weight) if weight is not None else g.constant(np.ones(channels, dtype))
    shift = g.value(bias) if bias is not None else g.constant(np.zeros(channels, dtype))
    return g.node("BatchNormalization", [g.value(x), scale, shift, g.value(mean), g.value(var)],
                  epsilon=float(step.op.eps))


@converter("LayerNorm")
def _layer_norm(g: Graph, step: Step) -> str:
    x, weight, bias = step.inputs
    shape = x._data.shape[x._data.ndim - step.op.k:]
    dtype = x._data.dtype
    scale = g.value(weight) if weight is not None else g.constant(np.ones(shape, dtype))
    names = [g.value(x), scale] + ([g.value(bias)] if bias is not None else [])
    return g.node("LayerNormalization", names, axis=-int(step.op.k), epsilon=float(step.op.eps))


@converter("Embedding")
def _embedding(g: Graph, step: Step) -> str:
    weight, indices = step.inputs
    return g.node("Gather", [g.value(weight), g.value(indices)], axis=0)


# -- recurrent layers ------------------------------------------------------------------------------------

# rows of PyTorch's gate blocks in ONNX's order: LSTM i f g o -> i o f c; GRU r z n -> z r h
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNNTanh": [0], "RNNRelu": [0]}


def _gate_rows(g: Graph, gates: list[int], hidden: int) -> str:
    """The rows of the gate blocks in ONNX's order, as indices for a Gather."""
    return g.ints(np.concatenate([np.arange(k * hidden, (k + 1) * hidden) for k in gates]))


def _reordered(g: Graph, weight: str, gates: list[int], hidden: int) -> str:
    return g.node("Gather", [weight, _gate_rows(g, gates, hidden)], axis=0)


@converter("RNNTanh", "RNNRelu", "LSTM", "GRU")
def _recurrent(g: Graph, step: Step) -> list[str]:
    """One layer in one direction; ONNX's Y (T, 1, N, H) squeezed to (T, N, H), batch_first by transposes."""
    states = 2 if step.kind == "LSTM" else 1
    x, *rest = step.inputs
    initial, (w_ih, w_hh, b_ih, b_hh) = rest[:states], rest[states:]
    hidden = w_hh._data.shape[1]
    gates = _GATE_ORDER[step.kind]
    dtype = x._data.dtype
    x_name = g.value(x)
    if step.op.batch_first:
        x_name = g.node("Transpose", [x_name], perm=[1, 0, 2])
    weights = [g.node("Unsqueeze", [_reordered(g, g.value(w), gates, hidden), g.ints([0])]) for w in (w_ih, w_hh)]
    biases = [_reordered(g, g.value(b), gates, hidden) if b is not None
              else g.constant(np.zeros(len(gates) * hidden, dtype)) for b in (b_ih, b_hh)]
    bias = g.node("Unsqueeze", [g.node("Concat", biases, axis=0), g.ints([0])])  # ONNX's B: [Wb, Rb]
    state_names = [g.node("Unsqueeze", [g.value(s), g.ints([0])]) if s is not None else "" for s in initial]
    attributes = {"hidden_size": int(hidden), "direction": "reverse" if step.op.reverse else "forward"}
    if step.kind == "RNNRelu":
        attributes["activations"] = ["Relu"]
    if step.kind == "GRU":
        attributes["linear_before_reset"] = 1
    onnx_type = {"LSTM": "LSTM", "GRU": "GRU"}.get(step.kind, "RNN")
    inputs = [x_name, *weights, bias, ""] + state_names
    outputs = g.node(onnx_type, inputs, [g.fresh(onnx_type) for _ in range(1 + states)], **attributes)
    sequence = g.node("Squeeze", [outputs[0], g.ints([1])])
    if step.op.batch_first:
        sequence = g.node("Transpose", [sequence], perm=[1, 0, 2])
    finals = [g.node("Squeeze", [name, g.ints([0])]) for name in outputs[1:]]
    return [sequence, *finals]
