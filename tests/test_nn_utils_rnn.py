"""nn.utils.rnn (pad_sequence, pack_padded_sequence, pad_packed_sequence, pack_sequence, unpad/unpack) and
RNN/LSTM/GRU on a PackedSequence, against PyTorch: data, batch sizes, indices, outputs, final states and
gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as trnn

import shenjing as sj
from shenjing.nn.utils import rnn as srnn

RNG = np.random.default_rng(8)


def _same(ours, theirs, rtol=1e-6, atol=1e-6):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("lengths,enforce_sorted", [([4, 3, 3, 1], True), ([1, 4, 2, 3], False), ([2, 2], True)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_round_trip_as_torch(lengths, enforce_sorted, batch_first):
    shape = (len(lengths), max(lengths), 3) if batch_first else (max(lengths), len(lengths), 3)
    x = RNG.standard_normal(shape)
    ours = srnn.pack_padded_sequence(sj.tensor(x), lengths, batch_first, enforce_sorted)
    theirs = trnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), batch_first, enforce_sorted)
    _same(ours.data, theirs.data)
    np.testing.assert_array_equal(ours.batch_sizes.numpy(), theirs.batch_sizes.numpy())
    for a, b in ((ours.sorted_indices, theirs.sorted_indices), (ours.unsorted_indices, theirs.unsorted_indices)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    padded, back = srnn.pad_packed_sequence(ours, batch_first, padding_value=-1.0, total_length=max(lengths) + 1)
    expected, expected_lengths = trnn.pad_packed_sequence(theirs, batch_first, padding_value=-1.0,
                                                         total_length=max(lengths) + 1)
    _same(padded, expected)
    np.testing.assert_array_equal(back.numpy(), expected_lengths.numpy())


def test_pad_pack_sequence_and_the_unpacking_helpers_match_torch():
    seqs = [RNG.standard_normal((n, 2)) for n in (3, 1, 4)]
    for side in ("right", "left"):
        _same(srnn.pad_sequence([sj.tensor(s) for s in seqs], True, 9.0, side),
              trnn.pad_sequence([torch.tensor(s) for s in seqs], True, 9.0, side))
    packed = srnn.pack_sequence([sj.tensor(s) for s in seqs], enforce_sorted=False)
    expected = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    _same(packed.data, expected.data)
    for ours, theirs in zip(srnn.unpack_sequence(packed), trnn.unpack_sequence(expected)):
        _same(ours, theirs)
    padded = srnn.pad_sequence([sj.tensor(s) for s in seqs])
    for ours, s in zip(srnn.unpad_sequence(padded, [3, 1, 4]), seqs):
        np.testing.assert_array_equal(ours.numpy(), s)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        srnn.pack_sequence([sj.tensor(s) for s in seqs])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
def test_recurrent_layers_on_packed_sequences_match_torch(kind, layers, bidirectional):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=layers, bidirectional=bidirectional).double()
    ours = getattr(sj.nn, kind)(3, 4, num_layers=layers, bidirectional=bidirectional).double()
    ours.load_state_dict({k: sj.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    lengths = [2, 5, 3]
    x = RNG.standard_normal((5, 3, 3))
    xs, xt = sj.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ps = srnn.pack_padded_sequence(xs, lengths, enforce_sorted=False)
    pt = trnn.pack_padded_sequence(xt, torch.tensor(lengths), enforce_sorted=False)
    (out_s, fin_s), (out_t, fin_t) = ours(ps), theirs(pt)
    assert isinstance(out_s, srnn.PackedSequence)
    _same(out_s.data, out_t.data, 1e-10, 1e-12)
    finals_s = fin_s if kind == "LSTM" else (fin_s,)
    finals_t = fin_t if kind == "LSTM" else (fin_t,)
    for a, b in zip(finals_s, finals_t):
        _same(a, b, 1e-10, 1e-12)
    upstream = RNG.standard_normal(tuple(out_t.data.shape))
    loss_s = (out_s.data * sj.tensor(upstream)).sum() + sum(f.sum() for f in finals_s)
    loss_t = (out_t.data * torch.tensor(upstream)).sum() + sum(f.sum() for f in finals_t)
    loss_s.backward()
    loss_t.backward()
    _same(xs.grad, xt.grad, 1e-9, 1e-11)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        _same(p.grad, q.grad, 1e-9, 1e-11)
