"""Connectionist temporal classification (CTC) loss as one op: the forward-backward recursions of Graves et
al. (2006) in log space.

For a target l of length S, the extended target l' = (blank, l_1, blank, l_2, ..., l_S, blank) has 2S + 1
states. With lp[t, c] the log-probabilities (T, C) of one sample,

    alpha_0(0) = lp[0, blank], alpha_0(1) = lp[0, l'_1],
    alpha_t(s) = lp[t, l'_s] + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2)),

the last term only where l'_s is not blank and differs from l'_{s-2} (a label may repeat only across a
blank). The loss is -log p(l | x) = -logsumexp(alpha_{T-1}(2S), alpha_{T-1}(2S-1)); beta runs the same
recursion backwards from the end. The gradient is PyTorch's: with ab(t, c) = logsumexp over the states s
with l'_s = c of alpha_t(s) + beta_t(s),

    d loss / d lp[t, c] = exp(lp[t, c]) - exp(ab(t, c) + loss - lp[t, c])     (t < input length; 0 after)

which is the derivative with respect to the logits z of lp = log_softmax(z), the way CTC is used (the
exp(lp) term vanishes when the gradient goes through log_softmax). Like PyTorch's, it is not
differentiable again.
"""

from __future__ import annotations

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.node import Op

__all__: list[str] = []  # internal: the public function is shenjing.nn.functional.ctc_loss


def _logsumexp(*terms: np.ndarray) -> np.ndarray:
    stacked = np.stack(terms)
    top = stacked.max(axis=0)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(stacked - safe).sum(axis=0))


def _shifted(values: np.ndarray, by: int) -> np.ndarray:
    """values moved ``by`` places to the right (left for negative ``by``), filled with -inf."""
    out = np.full_like(values, -np.inf)
    if by > 0:
        out[by:] = values[:-by]
    else:
        out[:by] = values[-by:]
    return out


def ctc_sample(lp: np.ndarray, target: np.ndarray, blank: int, gradient: bool) -> tuple[float, np.ndarray | None]:
    """The loss of one sample (lp (T, C) for its input length T) and, if asked, d loss / d lp (T, C)."""
    steps, classes = lp.shape
    states = np.full(2 * len(target) + 1, blank, dtype=np.int64)
    states[1::2] = target
    skip = np.zeros(len(states), dtype=bool)  # s may be reached from s - 2
    skip[2:] = (states[2:] != blank) & (states[2:] != states[:-2])
    emit = lp[:, states]  # (T, L)
    alpha = np.full((steps, len(states)), -np.inf)
    alpha[0, 0] = emit[0, 0]
    if len(states) > 1:
        alpha[0, 1] = emit[0, 1]
    for t in range(1, steps):
        previous = alpha[t - 1]
        two_back = np.where(skip, _shifted(previous, 2), -np.inf)
        alpha[t] = emit[t] + _logsumexp(previous, _shifted(previous, 1), two_back)
    ends = alpha[-1, -2:] if len(states) > 1 else alpha[-1, -1:]
    loss = -float(_logsumexp(*ends))
    if not gradient:
        return loss, None
    beta = np.full((steps, len(states)), -np.inf)
    beta[-1, -1] = emit[-1, -1]
    if len(states) > 1:
        beta[-1, -2] = emit[-1, -2]
    skip_ahead = np.zeros(len(states), dtype=bool)  # s may go on to s + 2
    skip_ahead[:-2] = skip[2:]
    for t in range(steps - 2, -1, -1):
        following = beta[t + 1]
        two_ahead = np.where(skip_ahead, _shifted(following, -2), -np.inf)
        beta[t] = emit[t] + _logsumexp(following, _shifted(following, -1), two_ahead)
    together = alpha + beta  # (T, L)
    log_ab = np.full((steps, classes), -np.inf)
    for c in np.unique(states):
        log_ab[:, c] = _logsumexp(*together[:, states == c].T)
    with np.errstate(invalid="ignore", over="ignore"):
        grad = np.exp(lp) - np.exp(log_ab + loss - lp)
    return loss, grad


class CtcLoss(Op):
    """Per-sample CTC losses (N,) of log_probs (T, N, C), for the given targets and lengths (constants)."""

    owns_gradients = True

    def __init__(self, targets: list[np.ndarray], input_lengths: list[int], blank: int, zero_infinity: bool) -> None:
        self.targets, self.input_lengths = targets, input_lengths
        self.blank, self.zero_infinity = blank, zero_infinity

    def name(self) -> str:
        return "CtcLossBackward0"

    def forward(self, log_probs):
        steps, batch, _ = log_probs.shape
        need = self.needs_input_grad[0]
        losses = np.empty(batch, dtype=log_probs.dtype)
        self.grad = np.zeros(log_probs.shape, dtype=log_probs.dtype) if need else None
        data = log_probs.astype(np.float64)
        for n in range(batch):
            length = self.input_lengths[n]
            loss, grad = ctc_sample(data[:length, n], self.targets[n], self.blank, need)
            if self.zero_infinity and loss == np.inf:
                loss, grad = 0.0, None
            losses[n] = loss
            if grad is not None:
                self.grad[:length, n] = grad
        return losses

    def backward(self, g):
        return Tensor._make((self.grad * g._data[None, :, None]).astype(self.grad.dtype))
