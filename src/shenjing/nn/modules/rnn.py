"""Recurrent layers: the Elman ``RNN``, ``LSTM`` and ``GRU`` over whole sequences, and their one-step cells.

Parameter names, shapes, gate order and registration order are PyTorch's, so a ``state_dict`` moves
between the two unchanged. The maths lives in ``shenjing.nn._functional.recurrent``; the layers here
validate arguments, hold the parameters and call it.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

from shenjing._creation import rand, zeros
from shenjing._tensor import Tensor
from shenjing.autograd import no_grad
from shenjing.nn._functional.recurrent import GATES, gru_cell, lstm_cell, recurrent, rnn_relu_cell, rnn_tanh_cell
from shenjing.nn.modules.module import Module
from shenjing.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence
from shenjing._ops.shape import cat
from shenjing.nn.parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _check_sizes(input_size: Any, hidden_size: Any) -> None:
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{name} must be greater than zero, got {value}")


def _uniform_(params: Any, hidden_size: int) -> None:
    """PyTorch's default for recurrent weights: every entry ~ U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    with no_grad():
        for p in params:
            p.uniform_(-bound, bound)


def _shape(tensor: Tensor) -> list:
    return list(tensor.shape)


class RNNBase(Module):
    """What ``RNN``, ``LSTM`` and ``GRU`` share: parameters per layer and direction, input checks, forward.

    ``mode`` is ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``. For layer ``k`` and direction
    suffix ``s`` (``""`` or ``"_reverse"``) the parameters are ``weight_ih_l{k}{s}`` (G*H, I_k),
    ``weight_hh_l{k}{s}`` (G*H, H), ``bias_ih_l{k}{s}`` and ``bias_hh_l{k}{s}`` (G*H,), with G gates
    (1, 4 or 3) and I_k the input size for layer 0, else D*H.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if mode not in GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode!r} (expected one of {list(GATES)})")
        _check_sizes(input_size, hidden_size)
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"num_layers must be an integer greater than zero, got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(f"dropout should be a number in range [0, 1] representing the probability of an "
                             f"element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=3)
        for name, flag in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} should be of type bool, got: {type(flag).__name__}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0  # LSTM projections are not implemented; kept for code that reads it

        gate_size = GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {"weight_ih": (gate_size, layer_input_size), "weight_hh": (gate_size, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                names = [kind + suffix for kind in shapes]
                for name, shape in zip(names, shapes.values()):
                    setattr(self, name, Parameter(zeros(*shape, dtype=dtype, device=device)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_(self.parameters(), self.hidden_size)

    def flatten_parameters(self) -> None:
        """Does nothing: PyTorch uses it to pack weights for cuDNN; kept so ported code runs."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters grouped per layer and direction, in registration order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _layer_weights(self) -> list[tuple]:
        """``(w_ih, w_hh, b_ih, b_hh)`` per layer and direction; biases None when ``bias=False``."""
        return [tuple(getattr(self, kind + name[len("weight_ih"):], None)
                      for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
                for name, *_ in self._all_weights]

    def _check_state(self, state: Any, label: str, expected: tuple) -> Tensor:
        if not isinstance(state, Tensor):
            raise TypeError(f"{self._get_name()}: {label} must be a Tensor, got {type(state).__name__}")
        if tuple(state.shape) != expected:
            raise RuntimeError(f"{self._get_name()}: expected {label} of shape {expected} "
                               f"(num_layers * num_directions, [batch,] hidden_size), got {_shape(state)}")
        return state

    def _initial_states(self, hx: Any, input: Tensor, batched: bool) -> list[Tensor] | None:
        """``hx`` checked and made 3-D: [h0] (or [h0, c0] for the LSTM); None (zeros) when ``hx`` is None."""
        if hx is None:
            return None
        batch = input.shape[0 if self.batch_first else 1]
        layers = self.num_layers * (2 if self.bidirectional else 1)
        full = (layers, batch, self.hidden_size)
        labels = ["h0", "c0"] if self.mode == "LSTM" else ["h0"]
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"LSTM: hx must be a tuple (h0, c0), got {type(hx).__name__}")
            states = list(hx)
        else:
            states = [hx]
        expected = full if batched else (layers, self.hidden_size)
        states = [self._check_state(s, label, expected) for s, label in zip(states, labels)]
        return states if batched else [s.unsqueeze(1) for s in states]

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        """Run the layers over ``input``; returns ``(output, h_n)`` (``(output, (h_n, c_n))`` for the LSTM).

        Shapes (L = num_layers, D = 2 if bidirectional else 1, H = hidden_size):
        ``input`` (T, N, I), or (N, T, I) with ``batch_first``, or (T, I) unbatched;
        ``hx`` (L*D, N, H), or (L*D, H) unbatched; ``output`` like ``input`` with I -> D*H;
        ``h_n`` (and ``c_n``) like ``hx``.
        """
        name = self._get_name()
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2-D (seq_len, input_size) (unbatched) or 3-D "
                             f"(seq_len, batch, input_size), got {input.dim()}-D input of shape {_shape(input)}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]} (input of shape {_shape(input)})")
        weight_dtype = self.weight_ih_l0.dtype
        if input.dtype != weight_dtype:
            raise ValueError(f"{name}: input dtype ({input.dtype}) does not match weight dtype ({weight_dtype}). "
                             f"Convert input: input.to({weight_dtype}), or convert model: model.to({input.dtype})")
        batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if input.shape[1 - batch_dim if batched else 0] == 0:
            raise RuntimeError(f"{name}: Expected sequence length to be larger than 0 in RNN "
                               f"(input of shape {_shape(input)})")
        if not batched:
            input = input.unsqueeze(batch_dim)
        states = self._initial_states(hx, input, batched)
        if states is not None:
            hx = tuple(states) if self.mode == "LSTM" else states[0]
        output, final = recurrent(self.mode, input, hx, self._layer_weights(), self.num_layers, self.dropout,
                                  self.training, self.bidirectional, self.batch_first)
        if not batched:
            output = output.squeeze(batch_dim)
            final = tuple(s.squeeze(1) for s in final) if self.mode == "LSTM" else final.squeeze(1)
        return output, final

    def _forward_packed(self, packed: PackedSequence, hx: Any) -> tuple[PackedSequence, Any]:
        """A PackedSequence: each sequence run over its own steps (so that its final state, in both directions,
        is taken at its own last step); the outputs packed again with the input's order. ``hx`` and the final
        states are in the original batch order."""
        padded, lengths = pad_packed_sequence(packed)  # (T, B, I), the original order
        states = self._initial_states(hx, padded if not self.batch_first else padded.transpose(0, 1), True)
        outputs, finals = [], []
        for b, steps in enumerate(lengths.tolist()):
            h0 = None if states is None else [s[:, b:b + 1] for s in states]
            h0 = None if h0 is None else (tuple(h0) if self.mode == "LSTM" else h0[0])
            out, final = recurrent(self.mode, padded[:steps, b:b + 1], h0, self._layer_weights(), self.num_layers,
                                   self.dropout, self.training, self.bidirectional, False)
            outputs.append(out[:, 0])
            finals.append(final)
        out_padded = pad_sequence(outputs)  # (T, B, D*H)
        output = pack_padded_sequence(out_padded, lengths, enforce_sorted=packed.sorted_indices is None)
        if self.mode == "LSTM":
            final = tuple(cat([f[k] for f in finals], 1) for k in range(2))
        else:
            final = cat(finals, 1)
        return output, final

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    r"""A multi-layer Elman RNN with tanh or ReLU, over a whole sequence.

    This is exactly the Elman ("vanilla") network of the course, :math:`h_t = f(W x_t + U h_{t-1} + b)`,
    with :math:`W` = ``weight_ih_l0``, :math:`U` = ``weight_hh_l0``, :math:`b` = ``bias_ih_l0 + bias_hh_l0``
    and :math:`f` = tanh (``nonlinearity='tanh'``) or ReLU (``'relu'``). In PyTorch's notation, for each
    layer and time step

    .. math::
        h_t = f(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})

    where layer ``k > 0`` reads the outputs :math:`h_t` of layer ``k - 1`` (after dropout in training
    mode when ``dropout > 0``), and ``bidirectional=True`` adds a second pass from ``t = T-1`` down to 0
    whose outputs are concatenated with the forward ones.

    Args:
        input_size: features I of each input vector :math:`x_t`.
        hidden_size: features H of the hidden state.
        num_layers: stacked layers L. nonlinearity: ``'tanh'`` or ``'relu'``. bias: use ``b_ih, b_hh``.
        batch_first: input/output are (N, T, feature) instead of (T, N, feature).
        dropout: probability of dropout on the outputs of every layer but the last (training mode only).
        bidirectional: run each layer in both directions (D = 2).

    Shapes: input (T, N, I) | (N, T, I) | (T, I); h0 (L*D, N, H) | (L*D, H), zeros when omitted;
    returns ``(output, h_n)``: output (T, N, D*H) (batch_first: (N, T, D*H)), h_n (L*D, N, H).

    >>> import shenjing
    >>> rnn = shenjing.nn.RNN(10, 20, num_layers=2, batch_first=True)
    >>> rnn
    RNN(10, 20, num_layers=2, batch_first=True)
    >>> output, h_n = rnn(shenjing.randn(3, 5, 10))          # batch 3, 5 time steps
    >>> output.shape, h_n.shape
    (shenjing.Size([3, 5, 20]), shenjing.Size([2, 3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    r"""A multi-layer long short-term memory network over a whole sequence.

    For each layer and time step, with the gates in PyTorch's order i, f, g, o (rows of ``weight_ih``):

    .. math::
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}), \quad
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})

        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}), \quad
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})

        c_t = f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t)

    Arguments as for :class:`RNN` (without ``nonlinearity``). ``weight_ih_l{k}`` is (4H, I_k).

    Shapes: input (T, N, I) | (N, T, I) | (T, I); ``hx = (h0, c0)``, each (L*D, N, H) | (L*D, H), zeros when
    omitted; returns ``(output, (h_n, c_n))`` with output (T, N, D*H) and h_n, c_n like h0.

    >>> import shenjing
    >>> lstm = shenjing.nn.LSTM(4, 6, bidirectional=True)
    >>> output, (h_n, c_n) = lstm(shenjing.randn(7, 2, 4))
    >>> output.shape, h_n.shape, c_n.shape
    (shenjing.Size([7, 2, 12]), shenjing.Size([2, 2, 6]), shenjing.Size([2, 2, 6]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype)


class GRU(RNNBase):
    r"""A multi-layer gated recurrent unit network over a whole sequence.

    For each layer and time step, with the gates in PyTorch's order r, z, n (rows of ``weight_ih``):

    .. math::
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}), \quad
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})

        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})), \qquad
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    Arguments as for :class:`RNN` (without ``nonlinearity``). ``weight_ih_l{k}`` is (3H, I_k).

    Shapes as for :class:`RNN`; returns ``(output, h_n)``.

    >>> import shenjing
    >>> gru = shenjing.nn.GRU(4, 6, num_layers=2)
    >>> output, h_n = gru(shenjing.randn(7, 4))             # unbatched: (T, I)
    >>> output.shape, h_n.shape
    (shenjing.Size([7, 6]), shenjing.Size([2, 6]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype)


# -- cells: one time step ---------------------------------------------------------------------------


class RNNCellBase(Module):
    """What the cells share: ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``/``bias_hh`` (G*H,)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        _check_sizes(input_size, hidden_size)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = num_chunks * hidden_size
        self.weight_ih = Parameter(zeros(gate_size, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(zeros(gate_size, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(zeros(gate_size, dtype=dtype, device=device))
            self.bias_hh = Parameter(zeros(gate_size, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_(self.parameters(), self.hidden_size)

    def _prepare(self, input: Tensor, states: list, labels: list[str]) -> tuple[Tensor, list, bool]:
        """Check shapes; return the input and states as 2-D (zeros for missing states) and whether batched."""
        name = self._get_name()
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1-D (input_size,) or 2-D (batch, input_size), "
                             f"got {input.dim()}-D input of shape {_shape(input)}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input has inconsistent input_size: expected {self.input_size}, got "
                               f"{input.shape[-1]} (input of shape {_shape(input)})")
        batched = input.dim() == 2
        expected = (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        for state, label in zip(states, labels):
            if state is None:
                continue
            if not isinstance(state, Tensor):
                raise TypeError(f"{name}: {label} must be a Tensor, got {type(state).__name__}")
            if tuple(state.shape) != expected:
                raise RuntimeError(f"{name}: expected {label} of shape {expected} ([batch,] hidden_size) for input "
                                   f"of shape {_shape(input)}, got {_shape(state)}")
        if not batched:
            input = input.unsqueeze(0)
            states = [None if s is None else s.unsqueeze(0) for s in states]
        states = [zeros(input.shape[0], self.hidden_size, dtype=input.dtype) if s is None else s for s in states]
        return input, states, batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    r"""One step of the Elman RNN: :math:`h' = f(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})`, f = tanh or ReLU.

    Shapes: input (N, I) or (I,); hx (N, H) or (H,), zeros when omitted; returns h' like hx.

    >>> import shenjing
    >>> cell = shenjing.nn.RNNCell(3, 5, nonlinearity="relu")
    >>> x = shenjing.randn(4, 2, 3)                 # 4 time steps, batch 2
    >>> h = None
    >>> for x_t in x:
    ...     h = cell(x_t, h)
    >>> h.shape
    shenjing.Size([2, 5])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (hx,), batched = self._prepare(input, [hx], ["hx"])
        cell = rnn_tanh_cell if self.nonlinearity == "tanh" else rnn_relu_cell
        h = cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    r"""One step of the LSTM; returns ``(h', c')``.

    .. math::
        (i, f, g, o) = x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh}, \quad
        c' = \sigma(f) \odot c + \sigma(i) \odot \tanh(g), \quad h' = \sigma(o) \odot \tanh(c')

    Shapes: input (N, I) or (I,); ``hx = (h, c)`` each (N, H) or (H,), zeros when omitted.

    >>> import shenjing
    >>> cell = shenjing.nn.LSTMCell(3, 5)
    >>> h, c = cell(shenjing.randn(2, 3))
    >>> h.shape, c.shape
    (shenjing.Size([2, 5]), shenjing.Size([2, 5]))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
        input, (h, c), batched = self._prepare(input, list(hx or (None, None)), ["hx[0]", "hx[1]"])
        h, c = lstm_cell(input, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    r"""One step of the GRU (PyTorch's form: the reset gate multiplies :math:`W_{hn} h + b_{hn}`).

    .. math::
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}), \quad z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz})

        n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})), \quad h' = (1 - z) \odot n + z \odot h

    Shapes: input (N, I) or (I,); hx (N, H) or (H,), zeros when omitted; returns h' like hx.

    >>> import shenjing
    >>> cell = shenjing.nn.GRUCell(3, 5)
    >>> cell(shenjing.randn(3)).shape              # unbatched
    shenjing.Size([5])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (hx,), batched = self._prepare(input, [hx], ["hx"])
        h = gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)
