"""The XOR problem of the course (seed 004): a sigmoid network with one hidden layer, trained by
backpropagation with nothing but tensors and autograd.

A single perceptron cannot separate XOR; one hidden layer can. The loss is the course's accumulated
error E = 1/2 * sum((y - t)^2) over the four patterns and every step is w <- w - lr * dE/dw. Two
hidden units (the notes' 2-2-1 network) suffice but get stuck in a local minimum for some initial
weights; four converge from every seed we tried, so four is the default.
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


def train_xor(epochs: int = 3000, lr: float = 2.0, hidden: int = 4, seed: int = 0,
              progress: bool = True) -> XorResult:
    """Train a 2-``hidden``-1 sigmoid network on XOR with full-batch gradient descent."""
    shenjing.manual_seed(seed)
    x = shenjing.tensor(INPUTS)
    t = shenjing.tensor(TARGETS)
    w1 = shenjing.empty(2, hidden).uniform_(-1.0, 1.0).requires_grad_()
    b1 = shenjing.empty(hidden).uniform_(-1.0, 1.0).requires_grad_()
    w2 = shenjing.empty(hidden, 1).uniform_(-1.0, 1.0).requires_grad_()
    b2 = shenjing.empty(1).uniform_(-1.0, 1.0).requires_grad_()
    parameters = [w1, b1, w2, b2]
    losses = []
    bar = tqdm(range(epochs), desc="xor", disable=not progress, leave=False)
    for _ in bar:
        hidden_out = (x @ w1 + b1).sigmoid()
        y = (hidden_out @ w2 + b2).sigmoid()
        loss = ((y - t) ** 2).sum() / 2
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
