"""Recurrent cells (Elman RNN, LSTM, GRU) and the multi-layer loop of ``nn.RNN``/``nn.LSTM``/``nn.GRU``.

Every cell splits into two halves:

* the *input projection* ``gi = x W_ih^T + b_ih``, which does not depend on the previous state, so a
  layer computes it for all time steps with one GEMM on the ``(T*N, I)`` input;
* the *step* that adds the hidden projection ``h W_hh^T + b_hh`` (one GEMM per time step) and applies
  the gates.

The steps, and a layer over a whole sequence as one op (one node of the graph per layer and
direction), live in ``shenjing._ops.recurrent``. Gate order inside ``W_ih`` / ``W_hh`` is PyTorch's:
``i, f, g, o`` for the LSTM and ``r, z, n`` for the GRU. ``torch.nn.functional`` has no public
recurrent ops, so neither does ``shenjing.nn.functional``.
"""

from __future__ import annotations

from typing import Sequence, Union

from shenjing._ops.recurrent import GATES  # noqa: F401  (nn.modules.rnn reads it here)
from shenjing._ops.recurrent import SEQUENCE_OPS, gru_step, linear, lstm_step, rnn_relu_step, rnn_tanh_step
from shenjing._ops.shape import cat, stack
from shenjing._tensor import Tensor
from shenjing.nn._functional.dropout import dropout as apply_dropout

__all__: list[str] = []

State = Union[Tensor, tuple[Tensor, Tensor]]  # h for RNN/GRU, (h, c) for the LSTM

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
    return rnn_tanh_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    r"""One step of the Elman RNN with ReLU: :math:`h' = \max(0, x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})`.

    Shapes as in :func:`rnn_tanh_cell`.

    >>> import shenjing
    >>> from shenjing.nn._functional.recurrent import rnn_relu_cell
    >>> rnn_relu_cell(shenjing.ones(1, 2), shenjing.ones(1, 1), -shenjing.ones(1, 2), shenjing.ones(1, 1))
    tensor([[0.]])
    """
    return rnn_relu_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


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
    return lstm_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


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
    return gru_step(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


# -- whole sequences -------------------------------------------------------------------------------


def _dropout_between_layers(x: Tensor, p: float, batch_first: bool) -> Tensor:
    """Dropout on a layer's outputs, the mask drawn in time-major order (T, N, F) for either layout."""
    if not batch_first:
        return apply_dropout(x, p, True)
    return apply_dropout(x.transpose(0, 1), p, True).transpose(0, 1)


def recurrent(mode: str, input: Tensor, hx: State | None, weights: Sequence[Sequence[Tensor | None]],
              num_layers: int, dropout: float, training: bool, bidirectional: bool,
              batch_first: bool) -> tuple[Tensor, State]:
    """A stack of recurrent layers over a batched sequence (what ``nn.RNN``/``nn.LSTM``/``nn.GRU`` run).

    Layer ``l`` reads the outputs of layer ``l - 1`` (both directions concatenated on the feature dim);
    in training mode with ``dropout > 0`` those outputs pass through dropout first (not the last
    layer's). The backward direction reads the sequence from ``t = T-1`` down to 0 and writes its
    output at the same time index as the input it read. Each layer and direction is one op over the
    whole sequence (``shenjing._ops.recurrent``).

    Args:
        mode: ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or ``"GRU"``.
        input: (T, N, I), or (N, T, I) with ``batch_first``.
        hx: (L*D, N, H), or ``(h0, c0)`` of that shape for the LSTM (L layers, D = 2 if bidirectional);
            None for zeros.
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
    count = num_layers * directions
    if hx is None:
        initial: list = [(None, None) if is_lstm else (None,)] * count
    elif is_lstm:
        initial = list(zip(hx[0].unbind(0), hx[1].unbind(0)))
    else:
        initial = [(h,) for h in hx.unbind(0)]
    sequence = SEQUENCE_OPS[mode]
    x = input
    finals = []
    for layer in range(num_layers):
        if layer > 0 and training and dropout > 0:
            x = _dropout_between_layers(x, dropout, batch_first)
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            output, *final = sequence(direction == 1, batch_first)(x, *initial[k], *weights[k])
            outputs.append(output)
            finals.append(final)
        x = cat(outputs, dim=2) if directions == 2 else outputs[0]
    if is_lstm:
        return x, (stack([h for h, _ in finals]), stack([c for _, c in finals]))
    return x, stack([h for h, in finals])
