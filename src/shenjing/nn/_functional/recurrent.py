"""Recurrent cells (Elman RNN, LSTM, GRU) and the multi-layer loop over time, composed from tensor ops.

Every cell splits into two halves:

* the *input projection* ``gi = x W_ih^T + b_ih``, which does not depend on the previous state, so a
  layer computes it for all time steps with one GEMM on the ``(T*N, I)`` input;
* the *step* that adds the hidden projection ``h W_hh^T + b_hh`` (one GEMM per time step) and applies
  the gates.

Gate order inside ``W_ih`` / ``W_hh`` is PyTorch's: ``i, f, g, o`` for the LSTM and ``r, z, n`` for
the GRU. The functions here are what ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` and the cells call;
``torch.nn.functional`` has no public recurrent ops, so neither does ``shenjing.nn.functional``.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence, Union

from shenjing._ops.elementwise import relu, sigmoid, tanh
from shenjing._ops.shape import cat, stack
from shenjing._tensor import Tensor
from shenjing.nn._functional.dropout import dropout as apply_dropout

__all__: list[str] = []

State = Union[Tensor, tuple[Tensor, Tensor]]  # h for RNN/GRU, (h, c) for the LSTM

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}  # blocks of hidden_size rows in W_ih / W_hh


def _linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    y = x @ weight.t()
    return y if bias is None else y + bias


# -- one time step, given the input projection gi = x W_ih^T + b_ih ---------------------------------


def _rnn_tanh_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    return tanh(gi + _linear(h, w_hh, b_hh))


def _rnn_relu_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    return relu(gi + _linear(h, w_hh, b_hh))


def _lstm_step(gi: Tensor, state: tuple[Tensor, Tensor], w_hh: Tensor,
               b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    h, c = state
    i, f, g, o = (gi + _linear(h, w_hh, b_hh)).chunk(4, dim=-1)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    h = sigmoid(o) * tanh(c)
    return h, c


def _gru_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    gh = _linear(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = sigmoid(i_r + h_r)
    z = sigmoid(i_z + h_z)
    n = tanh(i_n + r * h_n)  # r gates the hidden projection *including* b_hn, as in PyTorch
    return (1 - z) * n + z * h


STEPS: dict[str, Callable] = {"RNN_TANH": _rnn_tanh_step, "RNN_RELU": _rnn_relu_step,
                              "LSTM": _lstm_step, "GRU": _gru_step}


# -- cells: the input projection followed by one step ----------------------------------------------


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    r"""One step of the Elman RNN: :math:`h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})`.

    Shapes: ``input`` (N, I), ``hx`` (N, H), ``w_ih`` (H, I), ``w_hh`` (H, H), biases (H,); returns (N, H).

    >>> import shenjing
    >>> from shenjing.nn._functional.recurrent import rnn_tanh_cell
    >>> h = rnn_tanh_cell(shenjing.ones(1, 2), shenjing.zeros(1, 1), shenjing.ones(1, 2), shenjing.ones(1, 1))
    >>> round(h.item(), 4)   # tanh(1 + 1)
    0.964
    """
    return _rnn_tanh_step(_linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    r"""One step of the Elman RNN with ReLU: :math:`h' = \max(0, x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})`.

    Shapes as in :func:`rnn_tanh_cell`.

    >>> import shenjing
    >>> from shenjing.nn._functional.recurrent import rnn_relu_cell
    >>> rnn_relu_cell(shenjing.ones(1, 2), shenjing.ones(1, 1), -shenjing.ones(1, 2), shenjing.ones(1, 1))
    tensor([[0.]])
    """
    return _rnn_relu_step(_linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def lstm_cell(input: Tensor, hx: tuple[Tensor, Tensor], w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    r"""One step of the LSTM; returns ``(h', c')``.

    .. math::
        (i, f, g, o) = x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh} \quad\text{(split in four blocks of H)}

        c' = \sigma(f) \odot c + \sigma(i) \odot \tanh(g), \qquad h' = \sigma(o) \odot \tanh(c')

    Shapes: ``input`` (N, I), ``hx = (h, c)`` each (N, H), ``w_ih`` (4H, I), ``w_hh`` (4H, H), biases (4H,).

    >>> import shenjing
    >>> from shenjing.nn._functional.recurrent import lstm_cell
    >>> h, c = lstm_cell(shenjing.zeros(1, 3), (shenjing.zeros(1, 2), shenjing.ones(1, 2)),
    ...                  shenjing.zeros(8, 3), shenjing.zeros(8, 2))
    >>> c   # all gates at sigmoid(0) = 0.5, g = tanh(0) = 0: c' = 0.5 * c
    tensor([[0.5000, 0.5000]])
    """
    return _lstm_step(_linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    r"""One step of the GRU, with PyTorch's placement of the reset gate.

    .. math::
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}), \qquad z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz})

        n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})), \qquad h' = (1 - z) \odot n + z \odot h

    Shapes: ``input`` (N, I), ``hx`` (N, H), ``w_ih`` (3H, I), ``w_hh`` (3H, H), biases (3H,).

    >>> import shenjing
    >>> from shenjing.nn._functional.recurrent import gru_cell
    >>> gru_cell(shenjing.zeros(1, 3), shenjing.ones(1, 2), shenjing.zeros(6, 3), shenjing.zeros(6, 2))
    tensor([[0.5000, 0.5000]])
    """
    return _gru_step(_linear(input, w_ih, b_ih), hx, w_hh, b_hh)


# -- whole sequences -------------------------------------------------------------------------------


def _time_steps(gi: Tensor) -> list[Tensor]:
    """The T slices (N, G) of ``gi`` (T, N, G).

    In backward each slice's gradient is a zero-filled array of the full (T, N, G) shape, so taking T
    slices directly costs O(T^2); cutting blocks of about sqrt(T) steps first keeps it near O(T^1.5).
    """
    block = max(1, math.isqrt(gi.shape[0]))
    return [step for piece in gi.split(block) for step in piece.unbind(0)]


def _run_direction(mode: str, x: Tensor, state: State, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                   b_hh: Tensor | None, reverse: bool) -> tuple[Tensor, State]:
    """One layer, one direction over ``x`` (T, N, I): the outputs (T, N, H) and the final state."""
    step = STEPS[mode]
    T, N, I = x.shape
    gi = _time_steps(_linear(x.reshape(T * N, I), w_ih, b_ih).reshape(T, N, -1))  # one GEMM, all steps
    outputs: list = [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        state = step(gi[t], state, w_hh, b_hh)
        outputs[t] = state[0] if isinstance(state, tuple) else state
    return stack(outputs), state


def recurrent(mode: str, input: Tensor, hx: State, weights: Sequence[Sequence[Tensor | None]], num_layers: int,
              dropout: float, training: bool, bidirectional: bool, batch_first: bool) -> tuple[Tensor, State]:
    """A stack of recurrent layers over a batched sequence (what ``nn.RNN``/``nn.LSTM``/``nn.GRU`` run).

    Layer ``l`` reads the outputs of layer ``l - 1`` (both directions concatenated on the feature dim);
    in training mode with ``dropout > 0`` those outputs pass through dropout first (not the last
    layer's). The backward direction reads the sequence from ``t = T-1`` down to 0 and writes its
    output at the same time index as the input it read.

    Args:
        mode: ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``.
        input: (T, N, I), or (N, T, I) with ``batch_first``.
        hx: (L*D, N, H), or ``(h0, c0)`` of that shape for the LSTM (L layers, D = 2 if bidirectional).
        weights: for ``k = layer * D + direction``, ``(w_ih, w_hh, b_ih, b_hh)`` (biases may be None).

    Returns:
        ``output`` (T, N, D*H) (or (N, T, D*H)) and the final state(s) (L*D, N, H).

    >>> import shenjing
    >>> from shenjing.nn._functional.recurrent import recurrent
    >>> w = [(shenjing.ones(1, 1), shenjing.ones(1, 1), None, None)]
    >>> out, h = recurrent("RNN_RELU", shenjing.ones(3, 1, 1), shenjing.zeros(1, 1, 1), w, 1, 0.0, False,
    ...                    False, False)
    >>> out.flatten()   # h_t = relu(x_t + h_{t-1})
    tensor([1., 2., 3.])
    """
    directions = 2 if bidirectional else 1
    is_lstm = mode == "LSTM"
    initial = list(zip(hx[0].unbind(0), hx[1].unbind(0))) if is_lstm else list(hx.unbind(0))
    x = input.transpose(0, 1) if batch_first else input
    finals = []
    for layer in range(num_layers):
        if layer > 0:
            x = apply_dropout(x, dropout, training)
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            output, final = _run_direction(mode, x, initial[k], *weights[k], reverse=direction == 1)
            outputs.append(output)
            finals.append(final)
        x = cat(outputs, dim=2) if directions == 2 else outputs[0]
    output = x.transpose(0, 1) if batch_first else x
    if is_lstm:
        return output, (stack([h for h, _ in finals]), stack([c for _, c in finals]))
    return output, stack(finals)
