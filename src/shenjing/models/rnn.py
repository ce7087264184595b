"""The Elman network of seed 004 as a sequence model: h_t = tanh(W x_t + U h_{t-1} + b), then a
linear read-out, either of the last step (sequence classification or next-value prediction) or of
every step (sequence to sequence)."""

from __future__ import annotations

from shenjing._tensor import Tensor
from shenjing.nn.modules.linear import Linear
from shenjing.nn.modules.module import Module
from shenjing.nn.modules.rnn import RNN

__all__ = ["ElmanRNN"]


class ElmanRNN(Module):
    """Input (N, T, input_size) -> (N, output_size) with ``many_to_one`` (default), else (N, T, output_size).

    Example: a sine-wave predictor reads 20 past values (input_size=1) and predicts the next one.
    """

    def __init__(self, input_size: int = 1, hidden_size: int = 32, output_size: int = 1, num_layers: int = 1,
                 nonlinearity: str = "tanh", many_to_one: bool = True) -> None:
        super().__init__()
        self.rnn = RNN(input_size, hidden_size, num_layers=num_layers, nonlinearity=nonlinearity, batch_first=True)
        self.fc = Linear(hidden_size, output_size)
        self.many_to_one = many_to_one

    def forward(self, x: Tensor, h0: Tensor | None = None) -> Tensor:
        output, _ = self.rnn(x, h0)
        return self.fc(output[:, -1] if self.many_to_one else output)
