"""What a model is made of: each layer's output shape, parameters and multiply-accumulates, and the
arithmetic behind every convolution and pooling output size, ⌊(n + 2p − f)/s⌋ + 1 (seed 000).

>>> print(explain_conv(32, 5, p=0, s=1).formula)
⌊(32 + 2·0 − 5)/1⌋ + 1 = 28
>>> import shenjing.models
>>> info = summary(shenjing.models.CourseCNN(), (3, 32, 32), verbose=False)
>>> info.layers[0].name, info.layers[0].output_shape, info.layers[0].params
('conv1', [(1, 6, 28, 28)], 456)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import shenjing
from shenjing._tensor import Tensor
from shenjing.teach._table import Table, render_tables

__all__ = ["summary", "ModelSummary", "LayerSummary", "ShapeArithmetic", "explain_conv", "explain_pool",
           "output_size"]


# -- the output-size formula -----------------------------------------------------------------------

def output_size(n: int, f: int, p: int = 0, s: int = 1, d: int = 1, ceil_mode: bool = False) -> int:
    """Output size of a convolution or pooling window along one side: ⌊(n + 2p − d(f−1) − 1)/s⌋ + 1,
    which is ⌊(n + 2p − f)/s⌋ + 1 for d = 1. With ``ceil_mode`` (pooling) ⌈⌉ instead of ⌊⌋, but a window
    may not start in the right padding (PyTorch's rule).

    >>> output_size(32, 5), output_size(28, 2, s=2), output_size(28, 5, p=2)
    (28, 14, 28)
    """
    span = n + 2 * p - d * (f - 1) - 1
    if span < 0:
        return 0
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


@dataclass
class ShapeArithmetic:
    """The output-size arithmetic of one conv or pool along one side; ``str()`` explains it in words."""

    kind: str  # "convolution" or "pooling"
    n: int
    f: int
    p: int
    s: int
    d: int = 1
    ceil_mode: bool = False

    @property
    def output(self) -> int:
        return output_size(self.n, self.f, self.p, self.s, self.d, self.ceil_mode)

    @property
    def effective_filter(self) -> int:
        """d(f − 1) + 1: the span a dilated filter covers."""
        return self.d * (self.f - 1) + 1

    @property
    def formula(self) -> str:
        """The formula with the numbers in, e.g. ``⌊(32 + 2·0 − 5)/1⌋ + 1 = 28``."""
        left, right = ("⌈", "⌉") if self.ceil_mode else ("⌊", "⌋")
        f = f"{self.d}·({self.f}−1) − 1" if self.d != 1 else f"{self.f}"
        return f"{left}({self.n} + 2·{self.p} − {f})/{self.s}{right} + 1 = {self.output}"

    def explain(self) -> str:
        """The arithmetic spelled out: what each letter is, each step, and what the floor throws away."""
        rounding = "⌈⌉ (ceil_mode: round up)" if self.ceil_mode else "⌊⌋ (round down)"
        general = ("⌊(n + 2p − d(f−1) − 1)/s⌋ + 1" if self.d != 1 else "⌊(n + 2p − f)/s⌋ + 1")
        if self.ceil_mode:
            general = general.replace("⌊", "⌈").replace("⌋", "⌉")
        padded = self.n + 2 * self.p
        span = padded - self.effective_filter
        left, right = ("⌈", "⌉") if self.ceil_mode else ("⌊", "⌋")
        steps = (-(-span // self.s)) if self.ceil_mode else span // self.s
        what = "filter" if self.kind == "convolution" else "window"
        lines = [f"{self.kind.capitalize()} output size along one side: {general}, {rounding}",
                 f"  n = {self.n:<4d} input size",
                 f"  f = {self.f:<4d} {'filter (kernel)' if self.kind == 'convolution' else 'window'} size",
                 f"  p = {self.p:<4d} zero padding on each side",
                 f"  s = {self.s:<4d} stride"]
        if self.d != 1:
            lines.append(f"  d = {self.d:<4d} dilation: the filter's taps are {self.d} apart, so it spans "
                         f"d(f−1) + 1 = {self.effective_filter}")
        lines.append(f"  {self.formula.rsplit(' = ', 1)[0]} = {left}{span}/{self.s}{right} + 1 = {steps} + 1"
                     f"{' − 1' if steps + 1 != self.output else ''} = {self.output}")
        starts = [i * self.s for i in range(self.output)]
        listed = ", ".join(map(str, starts)) if len(starts) <= 6 else \
            f"{starts[0]}, {starts[1]}, {starts[2]}, …, {starts[-1]}"
        lines.append(f"The padded input is {self.n} + 2·{self.p} = {padded} wide; the {self.effective_filter}-wide "
                     f"{what} starts at {listed}: {self.output} position{'s' if self.output != 1 else ''}.")
        leftover = span % self.s
        if leftover and not self.ceil_mode:
            lines.append(f"{span} is not a multiple of the stride {self.s}: the last {leftover} "
                         f"{'column' if leftover == 1 else 'columns'} of the padded input "
                         f"{'is' if leftover == 1 else 'are'} never covered (the floor drops "
                         f"{'it' if leftover == 1 else 'them'}).")
        if self.ceil_mode and self.output > span // self.s + 1:
            lines.append(f"ceil_mode keeps a last, partial {what} that runs past the input's end.")
        lines.append(f"The same formula applies to height and width separately: a {self.n}×{self.n} input gives "
                     f"{self.output}×{self.output}.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()


def _check_sizes(n: int, f: int, p: int, s: int, d: int) -> None:
    for label, value, low in (("n", n, 1), ("f", f, 1), ("s", s, 1), ("d", d, 1), ("p", p, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{label} must be an integer >= {low}, got {value!r}")
    if n + 2 * p < d * (f - 1) + 1:
        raise ValueError(f"the filter spans {d * (f - 1) + 1} but the padded input is only n + 2p = {n + 2 * p} "
                         f"wide: no output")


def explain_conv(n: int, f: int, p: int = 0, s: int = 1, d: int = 1) -> ShapeArithmetic:
    """A convolution's output size along one side, with its arithmetic spelled out (``print`` it).

    >>> print(explain_conv(32, 5, p=0, s=1))
    Convolution output size along one side: ⌊(n + 2p − f)/s⌋ + 1, ⌊⌋ (round down)
      n = 32   input size
      f = 5    filter (kernel) size
      p = 0    zero padding on each side
      s = 1    stride
      ⌊(32 + 2·0 − 5)/1⌋ + 1 = ⌊27/1⌋ + 1 = 27 + 1 = 28
    The padded input is 32 + 2·0 = 32 wide; the 5-wide filter starts at 0, 1, 2, …, 27: 28 positions.
    The same formula applies to height and width separately: a 32×32 input gives 28×28.
    """
    _check_sizes(n, f, p, s, d)
    return ShapeArithmetic("convolution", n, f, p, s, d)


def explain_pool(n: int, f: int, s: int | None = None, p: int = 0, d: int = 1,
                 ceil_mode: bool = False) -> ShapeArithmetic:
    """A pooling layer's output size along one side (the stride defaults to the window size, as in
    ``nn.MaxPool2d``); the conv formula applies unchanged (seed 000).

    >>> explain_pool(28, 2).output, explain_pool(5, 2, ceil_mode=True).output
    (14, 3)
    """
    s = f if s is None else s
    _check_sizes(n, f, p, s, d)
    return ShapeArithmetic("pooling", n, f, p, s, d, ceil_mode)


# -- the model summary ---------------------------------------------------------------------------------

@dataclass
class LayerSummary:
    """One call of a layer: shapes, its parameters (counted at its first call), multiply-accumulates and,
    for conv and pool layers, the output-size arithmetic per spatial axis."""

    name: str
    type: str
    input_shape: list[tuple[int, ...]]
    output_shape: list[tuple[int, ...]]
    params: int
    trainable: int
    macs: int
    arithmetic: list[tuple[str, ShapeArithmetic]] = field(default_factory=list)

    @property
    def formula(self) -> str:
        """``⌊(28 + 2·2 − 5)/1⌋ + 1 = 28`` (one axis when height and width agree, else ``H: ...; W: ...``)."""
        if not self.arithmetic:
            return ""
        formulas = [a.formula for _, a in self.arithmetic]
        if len(set(formulas)) == 1:
            return formulas[0]
        return "; ".join(f"{axis}: {a.formula}" for axis, a in self.arithmetic)


@dataclass
class ModelSummary:
    """``summary``'s result: the layers in call order and the totals (``str()`` is the printed table)."""

    model: str
    input_shape: tuple[int, ...]
    layers: list[LayerSummary]
    total_params: int
    trainable_params: int
    total_macs: int
    param_bytes: int

    def table(self) -> Table:
        table = Table(["Layer (type)", "Output shape", "Param #", "MACs", "Output size ⌊(n+2p−f)/s⌋+1"],
                      align_right=(2, 3))
        for layer in self.layers:
            shapes = ", ".join(str(list(s)) for s in layer.output_shape)
            table.add(f"{layer.name} ({layer.type})", shapes, f"{layer.params:,}", f"{layer.macs:,}", layer.formula)
        table.notes = [
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.total_params - self.trainable_params:,}",
            f"Total MACs (multiply-accumulates): {self.total_macs:,}",
            f"Input shape: {list(self.input_shape)}; params size: {self.param_bytes / 2 ** 20:.2f} MB",
        ]
        return table

    def render(self, format: str = "text") -> str:
        return render_tables(f"{self.model} summary", [self.table()], format)

    def __str__(self) -> str:
        return self.render()


def _pair(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _arithmetic(module: Any, input_shape: tuple[int, ...]) -> list[tuple[str, ShapeArithmetic]]:
    """The output-size arithmetic of a conv or pool layer for this input (empty for other layers)."""
    kind = type(module).__name__
    if kind.startswith("Conv") and hasattr(module, "kernel_size"):
        n = len(module.kernel_size)
        kernel, stride, dilation = module.kernel_size, _pair(module.stride, n), _pair(module.dilation, n)
        if isinstance(module.padding, str):  # 'valid' = 0; 'same' pads d(f−1) in total (stride 1)
            padding = tuple(0 if module.padding == "valid" else d * (k - 1) // 2 for k, d in zip(kernel, dilation))
        else:
            padding = _pair(module.padding, n)
        label = "convolution"
        ceil = False
    elif "Pool" in kind and not kind.startswith("Adaptive") and hasattr(module, "kernel_size"):
        n = 2 if kind.endswith("2d") else 1
        kernel, stride = _pair(module.kernel_size, n), _pair(module.stride, n)
        padding, dilation = _pair(module.padding, n), _pair(getattr(module, "dilation", 1), n)
        label, ceil = "pooling", bool(getattr(module, "ceil_mode", False))
    else:
        return []
    sizes = input_shape[-n:]
    axes = ("H", "W") if n == 2 else ("L",)
    return [(axis, ShapeArithmetic(label, size, k, p, s, d, ceil))
            for axis, size, k, p, s, d in zip(axes, sizes, kernel, padding, stride, dilation)]


def _macs(module: Any, output_shapes: list[tuple[int, ...]]) -> int:
    """Multiply-accumulates of the layer's weights: conv and linear layers, recurrent layers; 0 otherwise."""
    if not output_shapes:
        return 0
    out = math.prod(output_shapes[0])
    kind = type(module).__name__
    weight = getattr(module, "weight", None)
    if kind.startswith("Conv") and isinstance(weight, Tensor):
        return out * (weight.numel() // weight.shape[0])  # each output value: C_in/groups · KH · KW products
    if kind == "Linear" and isinstance(weight, Tensor):
        return out * weight.shape[1]
    if kind in ("RNN", "LSTM", "GRU") and hasattr(module, "hidden_size"):
        directions = 2 if getattr(module, "bidirectional", False) else 1
        steps = out // (module.hidden_size * directions)  # one step per (sample, time) pair
        weights = sum(p.numel() for name, p in module.named_parameters() if name.startswith("weight"))
        return steps * weights
    return 0


def _shapes(value: Any) -> list[tuple[int, ...]]:
    if isinstance(value, Tensor):
        return [tuple(value.shape)]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in _shapes(v)]
    return []


def summary(model: Any, input_size: Sequence[int] | None = None, *, batch_size: int = 1,
            input_data: Tensor | None = None, dtype: Any = None, verbose: bool = True) -> ModelSummary:
    """Run ``model`` once on zeros of shape ``(batch_size, *input_size)`` (or on ``input_data``) and describe
    every layer it calls, in order: output shape, parameter count, multiply-accumulates (MACs: the products
    of weights with inputs in conv, linear and recurrent layers) and, for conv and pool layers, the output-size
    formula with its numbers. Prints the table unless ``verbose=False``; returns a ``ModelSummary``.

    Totals count every parameter once (``sum(p.numel() for p in model.parameters())``). The model runs in
    eval mode without gradients; its mode is restored afterwards.

    >>> import shenjing.models
    >>> info = summary(shenjing.models.LeNet5(), (1, 28, 28), verbose=False)
    >>> info.total_params, [layer.name for layer in info.layers][:4]
    (61706, ['conv1', 'relu', 'pool1', 'conv2'])
    >>> info.layers[0].formula
    '⌊(28 + 2·2 − 5)/1⌋ + 1 = 28'
    """
    if input_data is None:
        if input_size is None:
            raise ValueError("summary needs input_size (without the batch dimension, e.g. (1, 28, 28)) or "
                             "input_data")
        input_data = shenjing.zeros(batch_size, *[int(v) for v in input_size], dtype=dtype)
    layers: list[LayerSummary] = []
    counted: list[Tensor] = []

    def hook_for(name: str) -> Any:
        def hook(module: Any, args: tuple, output: Any) -> None:
            params = trainable = 0
            for p in module.parameters(recurse=False):
                if not any(p is q for q in counted):
                    counted.append(p)
                    params += p.numel()
                    trainable += p.numel() if p.requires_grad else 0
            in_shapes, out_shapes = _shapes(args), _shapes(output)
            arithmetic = _arithmetic(module, in_shapes[0]) if in_shapes else []
            layers.append(LayerSummary(name, type(module).__name__, in_shapes, out_shapes, params, trainable,
                                       _macs(module, out_shapes), arithmetic))
        return hook

    handles = []
    for name, module in model.named_modules():
        children = list(module.children())
        if (not children and name) or list(module.parameters(recurse=False)):
            handles.append(module.register_forward_hook(hook_for(name or type(model).__name__)))
    was_training = model.training
    model.eval()
    try:
        with shenjing.no_grad():
            model(input_data)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)

    unique = list(model.parameters())  # each parameter once, even when layers share it
    total = sum(p.numel() for p in unique)
    trainable = sum(p.numel() for p in unique if p.requires_grad)
    result = ModelSummary(type(model).__name__, tuple(input_data.shape), layers, total, trainable,
                          sum(layer.macs for layer in layers), sum(p.numel() * p.element_size() for p in unique))
    if verbose:
        print(result)
    return result
