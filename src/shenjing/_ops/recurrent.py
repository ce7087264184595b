"""Recurrent layers over a whole sequence, one op (one node of the graph) per layer and direction.

The specification is the step-by-step form, composed from differentiable tensor ops: for t = 0 .. T-1
(T-1 .. 0 for the reverse direction)

    gi_t = x_t W_ih^T + b_ih,   h_t = step(gi_t, h_{t-1}, W_hh, b_hh)

with the steps ``rnn_tanh_step``, ``rnn_relu_step``, ``lstm_step`` and ``gru_step`` below and the loop
``reference_sequence`` (the cells ``nn.RNNCell``, ``nn.LSTMCell``, ``nn.GRUCell`` run one step). Gate
order inside ``W_ih`` / ``W_hh`` is PyTorch's: ``i, f, g, o`` for the LSTM and ``r, z, n`` for the GRU.

The ops ``RNNTanh``, ``RNNRelu``, ``LSTM`` and ``GRU`` compute the same map on arrays:

* forward: the input projection of every step in one product [x, 1] [W_ih^T; b] ((T*N, I+1) x
  (I+1, G*H), the biases as the weights of an input 1); per step one product h_{t-1} W_hh^T and the
  gates, written in place into (T, N, ...) arrays that backward reads;
* backward (backpropagation through time), from the last step to the first: the gradient dA_t (N, G*H)
  of the gates' pre-activations and one product dA_t W_hh for the gradient of h_{t-1}; then, over all
  steps at once, one product each for dW_hh = sum_t dA_t^T h_{t-1}, [dW_ih, db] = sum_t dA_t^T [x_t, 1]
  and dx = dA W_ih.

The arrays of a sequence that no one else sees come from an explicit arena (``SCRATCH``) and go back to
it when the kernel is done with them, so that the next training step reuses their memory.

A sigmoid gate is computed as sigma(a) = (1 + tanh(a / 2)) / 2, with the sigmoid gates' rows of the
weights and biases halved (exact in binary floating point), so one tanh gives every gate of a step.
Under ``create_graph`` the reference runs again from the saved inputs and is differentiated, so
higher-order gradients exist.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Callable, Sequence, Union

import numpy as np

from shenjing._creation import zeros
from shenjing._ops.elementwise import relu, sigmoid, tanh
from shenjing._ops.shape import stack
from shenjing._tensor import Tensor
from shenjing.autograd.grad_mode import _GradState
from shenjing.autograd.node import Op

__all__: list[str] = []  # internal: nn.RNN / nn.LSTM / nn.GRU and the cells call these

State = Union[Tensor, tuple[Tensor, Tensor]]  # h for RNN/GRU, (h, c) for the LSTM

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}  # blocks of hidden_size rows in W_ih / W_hh


# -- the reference: one time step, given the input projection gi = x W_ih^T + b_ih -------------------


def linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x W^T + b from differentiable ops (``_ops`` may not import ``nn.functional.linear``)."""
    y = x @ weight.t()
    return y if bias is None else y + bias


def rnn_tanh_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """h' = tanh(gi + h W_hh^T + b_hh), gi = x W_ih^T + b_ih: (N, H)."""
    return tanh(gi + linear(h, w_hh, b_hh))


def rnn_relu_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """h' = relu(gi + h W_hh^T + b_hh): (N, H)."""
    return relu(gi + linear(h, w_hh, b_hh))


def lstm_step(gi: Tensor, state: tuple[Tensor, Tensor], w_hh: Tensor,
              b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """i, f, g, o = chunks of gi + h W_hh^T + b_hh; c' = s(f) c + s(i) tanh(g), h' = s(o) tanh(c'): (N, H) each."""
    h, c = state
    i, f, g, o = (gi + linear(h, w_hh, b_hh)).chunk(4, dim=-1)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    h = sigmoid(o) * tanh(c)
    return h, c


def gru_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """r = s(i_r + h_r), z = s(i_z + h_z), n = tanh(i_n + r h_n), h' = (1 - z) n + z h, with gh = h W_hh^T + b_hh."""
    gh = linear(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = sigmoid(i_r + h_r)
    z = sigmoid(i_z + h_z)
    n = tanh(i_n + r * h_n)  # r gates the hidden projection *including* b_hn, as in PyTorch
    return (1 - z) * n + z * h


STEPS: dict[str, Callable] = {"RNN_TANH": rnn_tanh_step, "RNN_RELU": rnn_relu_step,
                              "LSTM": lstm_step, "GRU": gru_step}


def _time_steps(gi: Tensor) -> list[Tensor]:
    """The T slices (N, G) of ``gi`` (T, N, G).

    In backward each slice's gradient is a zero-filled array of the full (T, N, G) shape, so taking T
    slices directly costs O(T^2); cutting blocks of about sqrt(T) steps first keeps it near O(T^1.5).
    """
    block = max(1, math.isqrt(gi.shape[0]))
    return [step for piece in gi.split(block) for step in piece.unbind(0)]


def reference_sequence(mode: str, x: Tensor, states: Sequence[Tensor | None],
                       weights: Sequence[Tensor | None], reverse: bool = False,
                       batch_first: bool = False) -> tuple[Tensor, ...]:
    """One layer, one direction over ``x`` (T, N, I) (or (N, T, I) with ``batch_first``), step by step.

    ``states``: [h0] (or [h0, c0] for the LSTM), each (N, H) or None for zeros; ``weights``:
    (w_ih, w_hh, b_ih, b_hh), biases may be None. Returns ``(output, h_n)`` (``(output, h_n, c_n)``),
    output (T, N, H) (or (N, T, H)); the reverse direction reads t = T-1 .. 0 and writes output t at t.
    """
    w_ih, w_hh, b_ih, b_hh = weights
    xt = x.transpose(0, 1) if batch_first else x
    T, N, I = xt.shape
    zero = [zeros(N, w_hh.shape[1], dtype=x.dtype) if s is None else s for s in states]
    state: State = (zero[0], zero[1]) if mode == "LSTM" else zero[0]
    step = STEPS[mode]
    gi = _time_steps(linear(xt.reshape(T * N, I), w_ih, b_ih).reshape(T, N, -1))  # one GEMM, all steps
    outputs: list = [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        state = step(gi[t], state, w_hh, b_hh)
        outputs[t] = state[0] if isinstance(state, tuple) else state
    output = stack(outputs)
    output = output.transpose(0, 1) if batch_first else output
    return (output, *state) if isinstance(state, tuple) else (output, state)


# -- the whole-sequence ops -----------------------------------------------------------------------


class Arena:
    """Scratch arrays of the whole-sequence kernels, handed out by ``take`` and handed back by ``give``.

    A kernel gives back only arrays that it took and that nothing else can see (never an output or a
    gradient it returns), when it is done with them: the forward pass's gates when the node is
    released after backward, the backward pass's own arrays at its end. The next step then reuses
    that memory instead of mapping fresh pages in (glibc returns large blocks to the system when they
    are freed, and every 4 KiB page costs a fault when it is touched again). At most ``LIMIT_BYTES``
    are kept; the shapes used least recently go first.
    """

    LIMIT_BYTES = 64 << 20

    def __init__(self) -> None:
        self._free: OrderedDict[tuple, list[np.ndarray]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An uninitialised C-contiguous array of ``shape`` and ``dtype``."""
        key = (tuple(shape), np.dtype(dtype))
        with self._lock:
            free = self._free.get(key)
            if free:
                self._free.move_to_end(key)
                array = free.pop()
                self._bytes -= array.nbytes
                return array
        return np.empty(*key)

    def give(self, *arrays: np.ndarray | None) -> None:
        """Keep ``arrays`` (taken from here, no longer used by anyone) for later ``take`` calls."""
        with self._lock:
            for array in arrays:
                if array is not None:
                    key = (array.shape, array.dtype)
                    self._free.setdefault(key, []).append(array)
                    self._free.move_to_end(key)
                    self._bytes += array.nbytes
            while self._bytes > self.LIMIT_BYTES:
                _, dropped = self._free.popitem(last=False)
                self._bytes -= sum(a.nbytes for a in dropped)


SCRATCH = Arena()


class Recurrence(Op):
    """What the four whole-sequence ops share (see the module's docstring).

    Inputs: x (T, N, I) (or (N, T, I) with ``batch_first``), the initial state(s) (N, H) or None for
    zeros (h0, and c0 for the LSTM), w_ih (G*H, I), w_hh (G*H, H), b_ih and b_hh (G*H,) or None.
    Outputs: the outputs h_t of every step (T, N, H) (or (N, T, H)) and the final state(s) (N, H).

    A subclass runs the steps (``_steps``) and their backward (``_backprop``) on time-major arrays
    taken from ``SCRATCH``; the weight gradients, the layout and the ``create_graph`` path are here.
    ``self.h`` (T+1, N, H) holds h0 and every h_t in time order, so that both the outputs and the
    previous states h_{t-1} of all steps are slices of it (``_outputs``, ``_previous``).
    """

    mode = ""  # the key of ``STEPS``
    label = ""  # the node's name: f"{label}Backward0"
    num_states = 1

    def __init__(self, reverse: bool = False, batch_first: bool = False) -> None:
        self.reverse = reverse
        self.batch_first = batch_first
        self.x: np.ndarray | None = None  # [x, 1, 0] time-major (T*N, _padded(I)), for dW_ih and db_ih
        self.h: np.ndarray | None = None
        self.kept: tuple = ()  # from ``SCRATCH``: what the subclass's backward reads, seen by no one else
        self.owned: tuple = ()  # the arrays from ``SCRATCH`` to give back when the node is released

    def name(self) -> str:
        return f"{self.label}Backward0"

    # layout of ``self.h``: step t writes h[t + 1] reading h[t] (forward), or h[t] reading h[t + 1] (reverse)
    def _at(self, t: int) -> int:
        return t if self.reverse else t + 1

    def _before(self, t: int) -> int:
        return t + 1 if self.reverse else t

    def _order(self, T: int) -> range:
        return range(T - 1, -1, -1) if self.reverse else range(T)

    def _outputs(self, h: np.ndarray) -> np.ndarray:
        return h[:-1] if self.reverse else h[1:]

    def _previous(self, h: np.ndarray) -> np.ndarray:
        return h[1:] if self.reverse else h[:-1]

    def forward(self, x, *args):
        k = self.num_states
        w_ih, w_hh, b_ih, b_hh = args[k:]
        xt = x.swapaxes(0, 1) if self.batch_first else x
        T, N, I = xt.shape
        H = w_hh.shape[1]
        w, b = self._input_weights(w_ih, b_ih, b_hh)
        x1 = _with_ones(xt)
        gi = SCRATCH.take((T, N, w.shape[0]), x.dtype)
        np.matmul(x1, _stacked(w, b), out=gi.reshape(T * N, w.shape[0]))  # x W^T + b, every step at once
        states = [np.zeros((N, H), x.dtype) if s is None else s for s in args[:k]]
        h = np.empty((T + 1, N, H), x.dtype)
        h[T if self.reverse else 0] = states[0]
        finals, kept = self._steps(gi, h, states, w_hh, b_hh)
        output = self._outputs(h)
        if self.batch_first:
            output = output.swapaxes(0, 1)
        if True in self.needs_input_grad:
            self.x, self.h, self.kept, self.owned = x1, h, kept, (*kept, x1)
            self.save_for_backward(x, *args, output)
        else:
            SCRATCH.give(*kept, x1)
        return (output, *finals)

    def backward(self, *grads):
        if _GradState.enabled:
            return self._recomputed_gradients(grads)
        x, *args, _ = self.saved_arrays  # (also the check that no input nor the output changed in place)
        k = self.num_states
        w_ih, w_hh = args[k], args[k + 1]
        gy = None if grads[0] is None else grads[0]._data
        if gy is not None and self.batch_first:
            gy = gy.swapaxes(0, 1)
        g_states = [None if g is None else g._data for g in grads[1:]]
        dgi, dgh, g_initial = self._backprop(gy, g_states, w_hh)
        needs = self.needs_input_grad
        T, N, G, H = *dgi.shape, w_hh.shape[1]
        I = w_ih.shape[1]
        dgi2, dgh2 = dgi.reshape(T * N, G), dgh.reshape(T * N, G)
        gx = np.matmul(dgi2, w_ih).reshape(T, N, I) if needs[0] else None
        if gx is not None and self.batch_first:
            gx = gx.swapaxes(0, 1)
        gw_ih = gb_ih = gw_hh = gb_hh = None
        if needs[k + 1] or needs[k + 3]:  # [gW_ih, gb_ih] = dgi^T [x, 1]: the bias as the weight of an input 1
            gw = np.matmul(dgi2.T, self.x)
            gw_ih = np.ascontiguousarray(gw[:, :I])
            gb_ih = gw[:, I].copy()
        if needs[k + 2]:
            gw_hh = np.matmul(dgh2.T, self._previous(self.h).reshape(T * N, H))
        if needs[k + 4]:
            gb_hh = gb_ih if dgh is dgi and gb_ih is not None else np.add.reduce(dgh2, axis=0)
        SCRATCH.give(dgi, None if dgh is dgi else dgh)
        grads_in = (gx, *g_initial, gw_ih, gw_hh, gb_ih, gb_hh)
        wrapped = [Tensor._make(g) if need and g is not None else None for g, need in zip(grads_in, needs)]
        if gb_hh is gb_ih and wrapped[-1] is not None and wrapped[-2] is not None:
            wrapped[-1] = wrapped[-2]  # one array, one tensor: the engine then gives each bias its own copy
        return tuple(wrapped)

    def _recomputed_gradients(self, grads: tuple) -> tuple:
        """create_graph: the reference (steps as graph nodes) again from the saved inputs, differentiated."""
        from shenjing.autograd import grad

        *inputs, _ = self.saved_tensors
        k = self.num_states
        outputs = reference_sequence(self.mode, inputs[0], inputs[1:k + 1], inputs[k + 1:], self.reverse,
                                     self.batch_first)
        pairs = [(y, gy) for y, gy in zip(outputs, grads) if gy is not None]
        needs = self.needs_input_grad
        wanted = [t for t, need in zip(inputs, needs) if need]
        found = iter(grad([y for y, _ in pairs], wanted, [gy for _, gy in pairs], create_graph=True,
                          allow_unused=True))
        return tuple(next(found) if need else None for need in needs)

    def _release(self) -> None:
        super()._release()
        SCRATCH.give(*self.owned)
        self.x = self.h = None
        self.kept = self.owned = ()

    def _input_weights(self, w_ih, b_ih, b_hh) -> tuple:
        """The weights (G*H, I) and bias (G*H,) or None of the input projection ``gi`` of ``_steps``."""
        raise NotImplementedError

    def _steps(self, gi, h, states, w_hh, b_hh) -> tuple[tuple, tuple]:
        """Run every step from the input projection ``gi`` (T, N, G*H), writing h_t into ``h``; return
        the final state(s) and what backward needs (arrays from ``SCRATCH``)."""
        raise NotImplementedError

    def _backprop(self, gy, g_states, w_hh) -> tuple:
        """From the outputs' gradient gy (T, N, H) (or None) and the final states' ones (or None):
        the gradients (T, N, G*H) of the input projection x W_ih^T + b_ih and of the hidden projection
        h W_hh^T + b_hh (one array when they are equal), and those of the initial state(s)."""
        raise NotImplementedError


def _padded(I: int) -> int:
    """The columns of ``_with_ones``: I + 1 rounded up to a multiple of 16 (the weight gradient's product
    dA^T [x, 1] runs BLAS's full-width kernels then: for I = 28 a third faster than with 29 columns)."""
    return -(-(I + 1) // 16) * 16


def _with_ones(x: np.ndarray) -> np.ndarray:
    """x (T, N, I) as [x, 1, 0, ...] (T*N, ``_padded(I)``) in an array from ``SCRATCH``."""
    T, N, I = x.shape
    out = SCRATCH.take((T * N, _padded(I)), x.dtype)
    np.copyto(out[:, :I].reshape(T, N, I), x)
    out[:, I] = 1
    out[:, I + 1:] = 0
    return out


def _stacked(w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """[W^T; b; 0] (``_padded(I)``, G), so that [x, 1, 0] [W^T; b; 0] = x W^T + b (b = 0 when None)."""
    G, I = w.shape
    out = np.zeros((_padded(I), G), w.dtype)
    out[:I] = w.T
    if b is not None:
        out[I] = b
    return out


def _gate_factors(values: Sequence[float], H: int, dtype: np.dtype) -> np.ndarray:
    """A (G*H,) row of per-gate factors: ``values[k]`` on the k-th block of H."""
    return np.repeat(np.asarray(values, dtype=dtype), H)


def _start(g: np.ndarray | None, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """The running gradient of a state, starting from the final state's (zeros when it has none)."""
    return np.zeros(shape, dtype) if g is None else np.array(g, dtype=dtype, copy=True)


class RNNTanh(Recurrence):
    """h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh); dA_t = dh_t (1 - h_t^2)."""

    mode, label = "RNN_TANH", "RNNTanh"

    def _input_weights(self, w_ih, b_ih, b_hh):
        return w_ih, None if b_ih is None else b_ih + b_hh  # (both biases in the one product)

    def _steps(self, gi, h, states, w_hh, b_hh):
        w = np.ascontiguousarray(w_hh.T)
        order = self._order(gi.shape[0])
        for t in order:
            h_t = h[self._at(t)]
            np.matmul(h[self._before(t)], w, out=h_t)
            h_t += gi[t]
            self._activate(h_t)
        SCRATCH.give(gi)
        return (h[self._at(order[-1])].copy(),), ()

    @staticmethod
    def _activate(a: np.ndarray) -> None:
        np.tanh(a, out=a)

    @staticmethod
    def _derivative(h_t: np.ndarray, dh: np.ndarray, out: np.ndarray) -> None:
        np.multiply(h_t, h_t, out=out)
        np.subtract(1, out, out=out)
        out *= dh

    def _backprop(self, gy, g_states, w_hh):
        h = self.h
        T, N, H = h.shape[0] - 1, h.shape[1], h.shape[2]
        da = SCRATCH.take((T, N, H), h.dtype)
        dh = _start(g_states[0], (N, H), h.dtype)
        for t in reversed(self._order(T)):
            if gy is not None:
                dh += gy[t]
            self._derivative(h[self._at(t)], dh, da[t])
            np.matmul(da[t], w_hh, out=dh)
        return da, da, (dh,)


class RNNRelu(RNNTanh):
    """h_t = max(0, x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh); dA_t = dh_t where h_t > 0, else 0."""

    mode, label = "RNN_RELU", "RNNRelu"

    @staticmethod
    def _activate(a: np.ndarray) -> None:
        np.maximum(a, 0, out=a)

    @staticmethod
    def _derivative(h_t: np.ndarray, dh: np.ndarray, out: np.ndarray) -> None:
        np.multiply(dh, h_t > 0, out=out)


class LSTM(Recurrence):
    """The LSTM over a sequence; per step, with a = (i, f, g, o) pre-activations (N, 4H):

        i, f, o = sigma(.), g = tanh(.);  c_t = f c_{t-1} + i g;  h_t = o tanh(c_t)

    Backward per step, with dh, dc the gradients of h_t, c_t:

        do = dh tanh(c_t),  dc += dh o (1 - tanh(c_t)^2),  di = dc g,  df = dc c_{t-1},  dg = dc i,
        dc_{t-1} = dc f,  dA = (di, df, dg, do) (1 - s)(s + b)  with s = (i, f, g, o) and b = 1 on the
        g block (sigma' = s (1 - s), tanh' = (1 - g)(1 + g)),  dh_{t-1} = dA W_hh.
    """

    mode, label, num_states = "LSTM", "LSTM", 2
    HALVED = (0.5, 0.5, 1.0, 0.5)  # sigma(a) = (1 + tanh(a / 2)) / 2 on the i, f, o blocks

    def _input_weights(self, w_ih, b_ih, b_hh):
        half = _gate_factors(self.HALVED, _hidden_size(w_ih, 4), w_ih.dtype)
        return w_ih * half[:, None], None if b_ih is None else (b_ih + b_hh) * half

    def _steps(self, gi, h, states, w_hh, b_hh):
        s = gi  # (T, N, 4H): the gates' pre-activations, then the gates, in place
        T, N, H = h.shape[0] - 1, h.shape[1], h.shape[2]
        half = _gate_factors(self.HALVED, H, h.dtype)
        w = np.ascontiguousarray((w_hh * half[:, None]).T)
        scale = np.ascontiguousarray(np.broadcast_to(half, (N, 4 * H)))  # (full arrays: the fast loops)
        shift = 1 - scale
        c = SCRATCH.take(h.shape, h.dtype)
        c[T if self.reverse else 0] = states[1]
        tanh_c = SCRATCH.take((T, N, H), h.dtype)
        product, ig = np.empty((N, 4 * H), h.dtype), np.empty((N, H), h.dtype)
        for t in self._order(T):
            before, at = self._before(t), self._at(t)
            a = s[t]
            np.matmul(h[before], w, out=product)
            a += product
            np.tanh(a, out=a)
            a *= scale
            a += shift
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            np.multiply(f, c[before], out=c[at])
            np.multiply(i, g, out=ig)
            c[at] += ig
            np.tanh(c[at], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[at])
        last = self._at(self._order(T)[-1])
        return (h[last].copy(), c[last].copy()), (s, c, tanh_c)

    def _backprop(self, gy, g_states, w_hh):
        s, c, tanh_c = self.kept
        h = self.h
        T, N, H = tanh_c.shape
        b = np.ascontiguousarray(np.broadcast_to(_gate_factors((0, 0, 1, 0), H, h.dtype), (N, 4 * H)))
        da = SCRATCH.take((T, N, 4 * H), h.dtype)
        dh, dc = _start(g_states[0], (N, H), h.dtype), _start(g_states[1], (N, H), h.dtype)
        tmp, factor = np.empty((N, H), h.dtype), np.empty((N, 4 * H), h.dtype)
        for t in reversed(self._order(T)):
            if gy is not None:
                dh += gy[t]
            a, d, tc = s[t], da[t], tanh_c[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            np.multiply(dh, tc, out=d[:, 3 * H:])  # do
            np.multiply(h[self._at(t)], tc, out=tmp)  # o (1 - tc^2) = o - h_t tc
            np.subtract(o, tmp, out=tmp)
            tmp *= dh
            dc += tmp
            np.multiply(dc, g, out=d[:, :H])  # di
            np.multiply(dc, c[self._before(t)], out=d[:, H:2 * H])  # df
            np.multiply(dc, i, out=d[:, 2 * H:3 * H])  # dg
            dc *= f
            np.subtract(1, a, out=factor)
            d *= factor
            np.add(a, b, out=factor)
            d *= factor
            np.matmul(d, w_hh, out=dh)
        return da, da, (dh, dc)


class GRU(Recurrence):
    """The GRU over a sequence; per step, with gi = (gi_r, gi_z, gi_n), gh = h_{t-1} W_hh^T + b_hh:

        r = sigma(gi_r + gh_r),  z = sigma(gi_z + gh_z),  n = tanh(gi_n + r gh_n),  h_t = n + z (h_{t-1} - n)

    Backward per step, with dh the gradient of h_t:

        dz = dh (h_{t-1} - n),  dn = dh (1 - z),  dan = dn (1 - n^2),  dgh_n = dan r,  dr = dan gh_n,
        dar, daz = (dr, dz) s (1 - s) for s = (r, z),  dgh = (dar, daz, dgh_n),  dgi = (dar, daz, dan),
        dh_{t-1} = dh z + dgh W_hh.
    """

    mode, label = "GRU", "GRU"
    HALVED = (0.5, 0.5, 1.0)  # sigma(a) = (1 + tanh(a / 2)) / 2 on the r, z blocks

    def _input_weights(self, w_ih, b_ih, b_hh):
        half = _gate_factors(self.HALVED, _hidden_size(w_ih, 3), w_ih.dtype)
        return w_ih * half[:, None], None if b_ih is None else b_ih * half

    def _steps(self, gi, h, states, w_hh, b_hh):
        T, H = h.shape[0] - 1, h.shape[2]
        half = _gate_factors(self.HALVED, H, h.dtype)
        w = np.ascontiguousarray((w_hh * half[:, None]).T)
        bh = None if b_hh is None else b_hh * half
        gh = SCRATCH.take(gi.shape, gi.dtype)  # (r and z halved, n as it is: backward reads gh_n)
        s = SCRATCH.take(gi.shape, gi.dtype)  # r, z, n
        for t in self._order(T):
            h_before, h_t, ght, st = h[self._before(t)], h[self._at(t)], gh[t], s[t]
            np.matmul(h_before, w, out=ght)
            if bh is not None:
                ght += bh
            rz, n = st[:, :2 * H], st[:, 2 * H:]
            np.add(gi[t, :, :2 * H], ght[:, :2 * H], out=rz)
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            np.multiply(st[:, :H], ght[:, 2 * H:], out=n)
            n += gi[t, :, 2 * H:]
            np.tanh(n, out=n)
            np.subtract(h_before, n, out=h_t)
            h_t *= st[:, H:2 * H]
            h_t += n
        SCRATCH.give(gi)
        return (h[self._at(self._order(T)[-1])].copy(),), (s, gh)

    def _backprop(self, gy, g_states, w_hh):
        s, gh = self.kept
        h = self.h
        T, N, H = h.shape[0] - 1, h.shape[1], h.shape[2]
        dgh = SCRATCH.take((T, N, 3 * H), h.dtype)
        dan = SCRATCH.take((T, N, H), h.dtype)
        dh = _start(g_states[0], (N, H), h.dtype)
        dhz, tmp, factor = np.empty((N, H), h.dtype), np.empty((N, H), h.dtype), np.empty((N, 2 * H), h.dtype)
        for t in reversed(self._order(T)):
            if gy is not None:
                dh += gy[t]
            st, d, dan_t = s[t], dgh[t], dan[t]
            r, z, n = st[:, :H], st[:, H:2 * H], st[:, 2 * H:]
            np.subtract(h[self._before(t)], n, out=tmp)
            np.multiply(dh, tmp, out=d[:, H:2 * H])  # dz
            np.multiply(dh, z, out=dhz)
            np.subtract(dh, dhz, out=dan_t)  # dn = dh (1 - z)
            np.multiply(n, n, out=tmp)
            np.subtract(1, tmp, out=tmp)
            dan_t *= tmp
            np.multiply(dan_t, r, out=d[:, 2 * H:])  # dgh_n
            np.multiply(dan_t, gh[t, :, 2 * H:], out=d[:, :H])  # dr
            rz = st[:, :2 * H]
            np.subtract(1, rz, out=factor)
            factor *= rz
            d[:, :2 * H] *= factor
            np.matmul(d, w_hh, out=dh)
            dh += dhz
        dgi = SCRATCH.take(dgh.shape, dgh.dtype)
        dgi[:, :, :2 * H] = dgh[:, :, :2 * H]
        dgi[:, :, 2 * H:] = dan
        SCRATCH.give(dan)
        return dgi, dgh, (dh,)


def _hidden_size(w_ih: np.ndarray, gates: int) -> int:
    """H from the (gates*H, I) input weights."""
    return w_ih.shape[0] // gates


SEQUENCE_OPS: dict[str, type[Recurrence]] = {"RNN_TANH": RNNTanh, "RNN_RELU": RNNRelu, "LSTM": LSTM, "GRU": GRU}
