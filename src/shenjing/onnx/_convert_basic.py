"""ONNX nodes for shenjing's elementwise, activation, comparison, shape, indexing and reduction ops.

Each converter takes the graph and one traced step and returns the names of the step's outputs. A
converter reads the op's arguments from the op object (``Pow(exponent)``, ``Reshape(shape)``, ...) and its
tensor inputs through ``graph.value``, which also turns Python numbers into constants of the op's dtype.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from shenjing.onnx._graph import ExportError, Graph
from shenjing.onnx._trace import Step

__all__ = ["CONVERTERS", "converter"]

CONVERTERS: dict[str, Callable[[Graph, Step], Any]] = {}
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def converter(*kinds: str) -> Callable:
    def register(function: Callable) -> Callable:
        for kind in kinds:
            CONVERTERS[kind] = function
        return function
    return register


def _out_dtype(step: Step) -> np.dtype:
    return step.outputs[0]._data.dtype


def _inputs(g: Graph, step: Step) -> list[str]:
    """Every input as a value name, numbers as constants of the output's dtype."""
    return [g.value(x, _out_dtype(step)) for x in step.inputs]


def _unary(onnx_type: str, **attributes: Any) -> Callable:
    return lambda g, step: g.node(onnx_type, _inputs(g, step)[:1], **attributes)


_SIMPLE_UNARY = {"Neg": "Neg", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Sin": "Sin", "Cos": "Cos",
                 "Tanh": "Tanh", "Sigmoid": "Sigmoid", "Relu": "Relu", "Abs": "Abs", "Erf": "Erf",
                 "Clone": "Identity", "Tan": "Tan", "Acos": "Acos", "Asin": "Asin", "Atan": "Atan",
                 "Cosh": "Cosh", "Sinh": "Sinh", "Asinh": "Asinh", "Acosh": "Acosh", "Atanh": "Atanh"}
for _kind, _onnx in _SIMPLE_UNARY.items():
    CONVERTERS[_kind] = _unary(_onnx)

_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "PowTensor": "Pow", "Maximum": "Max",
           "Minimum": "Min", "MatMul": "MatMul"}
for _kind, _onnx in _BINARY.items():
    CONVERTERS[_kind] = (lambda onnx_type: lambda g, step: g.node(onnx_type, _inputs(g, step)))(_onnx)


def _scalar(g: Graph, value: float, step: Step) -> str:
    return g.constant(np.asarray(value, dtype=_out_dtype(step)))


@converter("Rsqrt")
def _rsqrt(g: Graph, step: Step) -> str:
    return g.node("Reciprocal", [g.node("Sqrt", _inputs(g, step))])


@converter("Expm1")
def _expm1(g: Graph, step: Step) -> str:
    return g.node("Sub", [g.node("Exp", _inputs(g, step)), _scalar(g, 1, step)])


@converter("Log1p")
def _log1p(g: Graph, step: Step) -> str:
    return g.node("Log", [g.node("Add", [_inputs(g, step)[0], _scalar(g, 1, step)])])


@converter("Pow")
def _pow(g: Graph, step: Step) -> str:
    return g.node("Pow", [_inputs(g, step)[0], _scalar(g, step.op.exponent, step)])


@converter("Clamp")
def _clamp(g: Graph, step: Step) -> str:
    low = "" if step.op.low is None else _scalar(g, step.op.low, step)
    high = "" if step.op.high is None else _scalar(g, step.op.high, step)
    return g.node("Clip", [_inputs(g, step)[0], low, high])


@converter("ClampTensor")
def _clamp_tensor(g: Graph, step: Step) -> str:
    x, low, high = _inputs(g, step)
    result = x if not low else g.node("Max", [x, low])
    return result if not high else g.node("Min", [result, high])


@converter("Where")
def _where(g: Graph, step: Step) -> str:
    x, y, condition = step.inputs
    if not g.knows(condition._data):
        raise ExportError("its condition was computed outside shenjing's ops")
    return g.node("Where", [g.value(condition)] + [g.value(v, _out_dtype(step)) for v in (x, y)])


@converter("ToCopy")
def _cast(g: Graph, step: Step) -> str:
    from onnx import helper

    return g.node("Cast", _inputs(g, step)[:1], to=helper.np_dtype_to_tensor_dtype(_out_dtype(step)))


_ROUNDING = {"floor": "Floor", "ceil": "Ceil", "round": "Round", "rint": "Round", "_sign": "Sign", "sign": "Sign"}


@converter("ZeroGradient")
def _zero_gradient(g: Graph, step: Step) -> str:
    name = getattr(step.op.function, "__name__", "")
    if name not in _ROUNDING:
        raise ExportError(f"no ONNX op for {name or 'this function'}")
    return g.node(_ROUNDING[name], _inputs(g, step)[:1])


# -- activations ---------------------------------------------------------------------------------------

@converter("LeakyRelu")
def _leaky_relu(g: Graph, step: Step) -> str:
    return g.node("LeakyRelu", _inputs(g, step)[:1], alpha=float(step.op.negative_slope))


@converter("Elu")
def _elu(g: Graph, step: Step) -> str:
    return g.node("Elu", _inputs(g, step)[:1], alpha=float(step.op.alpha))


@converter("Hardtanh")
def _hardtanh(g: Graph, step: Step) -> str:
    return g.node("Clip", [_inputs(g, step)[0], _scalar(g, step.op.min_val, step), _scalar(g, step.op.max_val, step)])


@converter("Threshold")
def _threshold(g: Graph, step: Step) -> str:
    x = _inputs(g, step)[0]
    at_most = g.node("LessOrEqual", [x, _scalar(g, step.op.threshold, step)])
    return g.node("Where", [at_most, _scalar(g, step.op.value, step), x])


@converter("Softplus")
def _softplus(g: Graph, step: Step) -> str:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's switch to linear)."""
    x = _inputs(g, step)[0]
    beta = float(step.op.beta)
    scaled = x if beta == 1 else g.node("Mul", [x, _scalar(g, beta, step)])
    smooth = g.node("Softplus", [scaled])
    smooth = smooth if beta == 1 else g.node("Div", [smooth, _scalar(g, beta, step)])
    linear = g.node("Greater", [scaled, _scalar(g, step.op.threshold, step)])
    return g.node("Where", [linear, x, smooth])


@converter("LogSigmoid")
def _log_sigmoid(g: Graph, step: Step) -> str:
    """log(sigmoid(x)) = -softplus(-x), without overflow."""
    x = _inputs(g, step)[0]
    return g.node("Neg", [g.node("Softplus", [g.node("Neg", [x])])])


@converter("Step")
def _step(g: Graph, step: Step) -> str:
    from onnx import helper

    above = g.node("Greater", [_inputs(g, step)[0], _scalar(g, step.op.threshold, step)])
    return g.node("Cast", [above], to=helper.np_dtype_to_tensor_dtype(_out_dtype(step)))


@converter("Softmax", "LogSoftmax")
def _softmax(g: Graph, step: Step) -> str:
    return g.node(step.kind, _inputs(g, step)[:1], axis=int(step.op.dim))


_COMPARISONS = {"greater": "Greater", "less": "Less", "equal": "Equal", "greater_equal": "GreaterOrEqual",
                "less_equal": "LessOrEqual", "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}
_PREDICATES = {"isnan": "IsNaN", "isinf": "IsInf", "logical_not": "Not"}


@converter("Compare")
def _compare(g: Graph, step: Step) -> str:
    a, b = step.inputs
    name = getattr(step.op.function, "__name__", repr(step.op.function))
    like = g.dtype_of(a) if not isinstance(a, (int, float, bool)) else g.dtype_of(b)
    names = [g.value(v, like) for v in (a, b)]
    if name == "not_equal":
        return g.node("Not", [g.node("Equal", names)])
    if name not in _COMPARISONS:
        raise ExportError(f"no ONNX op for the comparison {name}")
    return g.node(_COMPARISONS[name], names)


@converter("Predicate")
def _predicate(g: Graph, step: Step) -> str:
    name, x = getattr(step.op.function, "__name__", repr(step.op.function)), g.value(step.inputs[0])
    if name == "isfinite":
        return g.node("Not", [g.node("Or", [g.node("IsNaN", [x]), g.node("IsInf", [x])])])
    if name not in _PREDICATES:
        raise ExportError(f"no ONNX op for {name}")
    return g.node(_PREDICATES[name], [x])


@converter("Fill", "Constant")
def _made(g: Graph, step: Step) -> str:
    """A tensor made from constants alone (zeros, arange, ...): its traced value, a constant."""
    return g.constant(step.outputs[0]._data)


@converter("Draw")
def _draw(g: Graph, step: Step) -> str:
    """Random numbers made in forward: RandomNormal / RandomUniform of the traced shape (onnxruntime draws
    its own numbers, not shenjing's)."""
    from onnx import helper

    from shenjing import _random_draws

    op, out = step.op, step.outputs[0]._data
    to = helper.np_dtype_to_tensor_dtype(out.dtype)
    if op.sample is _random_draws.normal:
        mean, std = op.arguments[2:4] if len(op.arguments) > 2 else (0.0, 1.0)  # (shape, dtype[, mean, std])
        return g.node("RandomNormal", [], shape=list(out.shape), dtype=to, mean=float(mean), scale=float(std))
    if op.sample is _random_draws.uniform:
        return g.node("RandomUniform", [], shape=list(out.shape), dtype=to, low=0.0, high=1.0)
    raise ExportError(f"no ONNX op draws like {op.sample.__name__} (random integers in forward)")


@converter("OneHot")
def _one_hot(g: Graph, step: Step) -> str:
    depth = g.constant(np.asarray(step.op.num_classes, dtype=np.int64), "depth")
    return g.node("OneHot", [g.value(step.inputs[0]), depth, g.ints([0, 1])], axis=-1)


@converter("Closeness")
def _closeness(g: Graph, step: Step) -> str:
    """isclose: |a - b| <= atol + rtol |b| where both are finite, or a == b (infinities), or both NaN."""
    a, b = step.inputs
    like = g.dtype_of(a) if not isinstance(a, (int, float, bool)) else g.dtype_of(b)
    x, y = (g.value(v, like) for v in (a, b))
    op = step.op
    bound = g.node("Add", [g.constant(np.asarray(op.atol, like)),
                           g.node("Mul", [g.constant(np.asarray(op.rtol, like)), g.node("Abs", [y])])])
    within = g.node("LessOrEqual", [g.node("Abs", [g.node("Sub", [x, y])]), bound])
    finite = [g.node("Not", [g.node("Or", [g.node("IsNaN", [v]), g.node("IsInf", [v])])]) for v in (x, y)]
    close = g.node("Or", [g.node("And", [g.node("And", finite), within]), g.node("Equal", [x, y])])
    if op.equal_nan:
        close = g.node("Or", [close, g.node("And", [g.node("IsNaN", [x]), g.node("IsNaN", [y])])])
    return close


@converter("CountNonzero")
def _count_nonzero(g: Graph, step: Step) -> str:
    """The input as 0/1 (int64, through bool: NaN counts), summed over the dims."""
    from onnx import TensorProto

    ones = g.node("Cast", [g.node("Cast", [g.value(step.inputs[0])], to=TensorProto.BOOL)], to=TensorProto.INT64)
    return g.reduce("ReduceSum", ones, list(step.op.axes), False)


@converter("GatherAlong")
def _gather_along(g: Graph, step: Step) -> str:
    x, index = step.inputs
    return g.node("GatherElements", [g.value(x), g.value(index)], axis=int(step.op.dim))


@converter("Truth")
def _truth(g: Graph, step: Step) -> str:
    """``all`` / ``any``: the input as 0/1 (int32), ReduceMin / ReduceMax over the dims, back to bool."""
    from onnx import TensorProto

    ones = g.node("Cast", [g.node("Cast", [g.value(step.inputs[0])], to=TensorProto.BOOL)], to=TensorProto.INT32)
    reduction = "ReduceMin" if getattr(step.op.function, "__name__", "") == "all" else "ReduceMax"
    axes = list(step.op.axes) if step.op.axes else None
    return g.node("Cast", [g.reduce(reduction, ones, axes, bool(step.op.keepdim))], to=TensorProto.BOOL)


@converter("ArgExtreme")
def _arg_extreme(g: Graph, step: Step) -> str:
    x, op = step.inputs[0], step.op
    op_type = "ArgMax" if getattr(op.function, "__name__", "") == "argmax" else "ArgMin"
    name = g.value(x)
    if op.dim is not None:
        return g.node(op_type, [name], axis=int(op.dim) % max(x._data.ndim, 1), keepdims=int(bool(op.keepdim)))
    flat = g.node(op_type, [g.node("Reshape", [name, g.ints([-1])])], axis=0, keepdims=0)
    return g.node("Reshape", [flat, g.ints([1] * x._data.ndim)]) if op.keepdim else flat


# -- shapes ----------------------------------------------------------------------------------------------

@converter("Reshape", "View")
def _reshape(g: Graph, step: Step) -> str:
    """Reshape to the traced shape. With dynamic axes, so that a dynamic dim passes through: adding or
    removing dims of size 1 is Unsqueeze / Squeeze, and other reshapes keep (0) the leading dims they share
    with the input."""
    x = _inputs(g, step)[0]
    source = step.inputs[0]._data.shape
    target = list(step.outputs[0]._data.shape)
    if not g.dynamic:
        return g.node("Reshape", [x, g.ints(target)])
    if [n for n in source if n != 1] == [n for n in target if n != 1] and list(source) != target:
        ones_in = [i for i, n in enumerate(source) if n == 1]
        ones_out = [i for i, n in enumerate(target) if n == 1]
        if ones_in:
            x = g.node("Squeeze", [x, g.ints(ones_in)])
        if ones_out:
            x = g.node("Unsqueeze", [x, g.ints(ones_out)])
        return x
    for i, (a, b) in enumerate(zip(source, target)):
        if a != b:
            break
        target[i] = 0
    return g.node("Reshape", [x, g.ints(target)])


@converter("Permute")
def _permute(g: Graph, step: Step) -> str:
    return g.node("Transpose", _inputs(g, step)[:1], perm=[int(d) for d in step.op.dims])


@converter("Expand")
def _expand(g: Graph, step: Step) -> str:
    """Expand broadcasts both ways: a 1 where the input's dim is already the size keeps a dynamic dim."""
    source = step.inputs[0]._data.shape
    target = list(step.op.shape)
    offset = len(target) - len(source)
    for i, n in enumerate(source):
        if n == target[offset + i]:
            target[offset + i] = 1
    return g.node("Expand", [_inputs(g, step)[0], g.ints(target)])


@converter("Cat")
def _cat(g: Graph, step: Step) -> str:
    return g.node("Concat", _inputs(g, step), axis=int(step.op.dim))


@converter("Split")
def _split(g: Graph, step: Step) -> list[str]:
    return g.node("Split", [_inputs(g, step)[0], g.ints(step.op.sizes)], [g.fresh("Split") for _ in step.outputs],
                  axis=int(step.op.dim))


@converter("Flip")
def _flip(g: Graph, step: Step) -> str:
    dims = [int(d) for d in step.op.dims]
    return g.node("Slice", [_inputs(g, step)[0], g.ints([-1] * len(dims)), g.ints([INT64_MIN] * len(dims)),
                            g.ints(dims), g.ints([-1] * len(dims))])


@converter("IndexMapGather")
def _index_map_gather(g: Graph, step: Step) -> str:
    """Reflection/replication/circular padding: a gather of fixed positions along each trailing dim."""
    x = _inputs(g, step)[0]
    ndim = step.inputs[0]._data.ndim
    maps = step.op.maps
    for offset, positions in enumerate(maps):
        axis = ndim - len(maps) + offset
        x = g.node("Gather", [x, g.constant(np.asarray(positions, dtype=np.int64), "positions")], axis=axis)
    return x


@converter("ConstantPad")
def _constant_pad(g: Graph, step: Step) -> str:
    ndim = step.inputs[0]._data.ndim
    pads = [(0, 0)] * (ndim - len(step.op.pads)) + [tuple(p) for p in step.op.pads]
    begins, ends = [int(a) for a, _ in pads], [int(b) for _, b in pads]
    return g.node("Pad", [_inputs(g, step)[0], g.ints(begins + ends), _scalar(g, step.op.value, step)])


@converter("Index")
def _index(g: Graph, step: Step) -> str:
    """Basic indexing (ints, slices, None, ...) as Slice + Squeeze + Unsqueeze; one integer array as Gather."""
    x = _inputs(g, step)[0]
    index = step.op.index if isinstance(step.op.index, tuple) else (step.op.index,)
    shape = step.inputs[0]._data.shape
    if sum(1 for i in index if i is Ellipsis) > 1:
        raise ExportError("more than one Ellipsis")
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    expanded: list[Any] = []
    for item in index:
        expanded.extend([slice(None)] * (len(shape) - used) if item is Ellipsis else [item])
    arrays = [i for i in expanded if isinstance(i, np.ndarray) or isinstance(i, list)]
    if len(arrays) > 1:
        raise ExportError("indexing with more than one index array")
    starts, ends, axes, steps, squeeze, unsqueeze, gather = [], [], [], [], [], [], None
    axis = out_axis = 0
    for item in expanded:
        if item is None:
            unsqueeze.append(out_axis)
            out_axis += 1
            continue
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            # the index as written (negative from the end), so that it holds for any size of a dynamic dim
            position = int(item)
            starts.append(position), ends.append(position + 1 if position != -1 else INT64_MAX)
            axes.append(axis), steps.append(1)
            squeeze.append(axis)
        elif isinstance(item, slice):
            if item != slice(None):
                stride = 1 if item.step is None else int(item.step)
                start = int(item.start) if item.start is not None else (0 if stride > 0 else INT64_MAX)
                stop = int(item.stop) if item.stop is not None else (INT64_MAX if stride > 0 else INT64_MIN)
                starts.append(start), ends.append(stop), axes.append(axis), steps.append(stride)
            out_axis += 1
        else:
            if gather is not None or np.asarray(item).dtype == bool:
                raise ExportError("boolean-mask indexing")
            gather = (axis, np.asarray(item, dtype=np.int64))
            out_axis += 1
        axis += 1
    if starts:
        x = g.node("Slice", [x, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if gather is not None:
        gather_axis, positions = gather
        x = g.node("Gather", [x, g.value(positions) if g.knows(positions) else g.constant(positions, "positions")],
                   axis=gather_axis)
        squeeze = [a if a < gather_axis else a + positions.ndim - 1 for a in squeeze]
    if squeeze:
        x = g.node("Squeeze", [x, g.ints(squeeze)])
    if unsqueeze:
        x = g.node("Unsqueeze", [x, g.ints(unsqueeze)])
    return x


# -- reductions ------------------------------------------------------------------------------------------

def _dims(step: Step, dims: Any) -> Any:
    ndim = step.inputs[0]._data.ndim
    if dims is None:
        return list(range(ndim))
    dims = dims if isinstance(dims, (tuple, list)) else (dims,)
    return [int(d) % ndim for d in dims] if ndim else []


_REDUCTIONS = {"Sum": "ReduceSum", "Mean": "ReduceMean", "Amax": "ReduceMax", "Amin": "ReduceMin",
               "MaxAll": "ReduceMax", "MinAll": "ReduceMin", "LogSumExp": "ReduceLogSumExp", "EuclideanNorm": "ReduceL2"}


@converter(*_REDUCTIONS)
def _reduce(g: Graph, step: Step) -> str:
    dims = _dims(step, step.op.dims)
    result = g.reduce(_REDUCTIONS[step.kind], _inputs(g, step)[0], dims, bool(step.op.keepdim))
    return result


@converter("Prod")
def _prod(g: Graph, step: Step) -> str:
    return g.reduce("ReduceProd", _inputs(g, step)[0], _dims(step, step.op.dim), bool(step.op.keepdim))


@converter("Var")
def _var(g: Graph, step: Step) -> str:
    """sum((x - mean)^2) / (n - correction) over ``dims``."""
    x = _inputs(g, step)[0]
    dims = _dims(step, step.op.dims)
    shape = step.inputs[0]._data.shape
    count = int(np.prod([shape[d] for d in dims]))
    centred = g.node("Sub", [x, g.reduce("ReduceMean", x, dims, True)])
    total = g.reduce("ReduceSum", g.node("Mul", [centred, centred]), dims, bool(step.op.keepdim))
    return g.node("Div", [total, _scalar(g, max(count - step.op.correction, 0), step)])


@converter("StdFromVar")
def _std(g: Graph, step: Step) -> str:
    return g.node("Sqrt", _inputs(g, step)[:1])


@converter("Cumsum")
def _cumsum(g: Graph, step: Step) -> str:
    return g.node("CumSum", [_inputs(g, step)[0], g.constant(np.asarray(step.op.dim, dtype=np.int64))])


@converter("adopt")
def _adopt(g: Graph, step: Step) -> str:
    return g.value(step.inputs[0])


@converter("write_view")
def _write_view(g: Graph, step: Step) -> str:
    raise ExportError("an in-place write into a view of another tensor")
