"""The XOR network of the course (seed 004): a 2-2-1 sigmoid perceptron network, trained by
backpropagation with nothing but tensors and autograd.

A single perceptron cannot separate XOR; one hidden layer of two units can. The loss is the mean
squared error E = mean((y - t)^2) / 2 and every step is w <- w - lr * dE/dw.
"""

from __future__ import annotations

from dataclasses import dataclass

from tqdm import tqdm

import shenjing

INPUTS = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
TARGETS = [[0.0], [1.0], [1.0], [0.0]]


@dataclass
class XorResult:
    losses: list[float]
    predictions: list[float]
    accuracy: float


def train_xor(epochs: int = 2000, lr: float = 2.0, hidden: int = 2, seed: int = 0,
              progress: bool = True) -> XorResult:
    """Train a 2-hidden-unit sigmoid network on XOR with full-batch gradient descent."""
    shenjing.manual_seed(seed)
    x = shenjing.tensor(INPUTS)
    t = shenjing.tensor(TARGETS)
    w1 = (shenjing.randn(2, hidden) * 2.0).requires_grad_()
    b1 = shenjing.zeros(hidden, requires_grad=True)
    w2 = (shenjing.randn(hidden, 1) * 2.0).requires_grad_()
    b2 = shenjing.zeros(1, requires_grad=True)
    parameters = [w1, b1, w2, b2]
    losses = []
    bar = tqdm(range(epochs), desc="xor", disable=not progress, leave=False)
    for _ in bar:
        hidden_out = (x @ w1 + b1).sigmoid()
        y = (hidden_out @ w2 + b2).sigmoid()
        loss = ((y - t) ** 2).mean() / 2
        for p in parameters:
            p.grad = None
        loss.backward()
        with shenjing.no_grad():
            for p in parameters:
                p -= lr * p.grad
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
    with shenjing.no_grad():
        y = ((x @ w1 + b1).sigmoid() @ w2 + b2).sigmoid()
    predictions = y.reshape(-1).tolist()
    correct = sum((p > 0.5) == (target[0] > 0.5) for p, target in zip(predictions, TARGETS))
    return XorResult(losses, predictions, correct / len(TARGETS))
