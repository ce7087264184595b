"""``torch.nn.utils.rnn``: batches of sequences of different lengths, padded or packed.

A padded batch is one tensor (T, B, *) (or (B, T, *) with ``batch_first``) with the short sequences filled
out by ``padding_value``. A ``PackedSequence`` holds only the real steps, time step by time step: ``data``
(sum of the lengths, *) is step 0 of every sequence, then step 1 of those at least 2 long, ...;
``batch_sizes[t]`` says how many sequences have a step t. The sequences are sorted by length, longest
first (``sorted_indices``; ``unsorted_indices`` undoes it). RNN, LSTM and GRU accept a PackedSequence and
return one, with each sequence's final state taken at its own last step.

    >>> import shenjing
    >>> from shenjing.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    >>> padded = shenjing.tensor([[1.0, 2.0], [3.0, 0.0]])           # (T=2, B=2); the second has length 1
    >>> packed = pack_padded_sequence(padded, [2, 1])
    >>> packed.data, packed.batch_sizes
    (tensor([1., 2., 3.]), tensor([2, 1]))
    >>> pad_packed_sequence(packed)[1]
    tensor([2, 1])
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from shenjing._tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence", "invert_permutation"]


class PackedSequence(NamedTuple):
    """(data, batch_sizes, sorted_indices, unsorted_indices): see the module's docstring."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args: Any, **kwargs: Any) -> "PackedSequence":
        """The same sequence with ``data`` converted (``Tensor.to``); the index tensors stay as they are."""
        return self._replace(data=self.data.to(*args, **kwargs))

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The permutation that undoes ``permutation`` (None stays None)."""
    if permutation is None:
        return None
    order = permutation.numpy()
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order), dtype=order.dtype)
    return Tensor._make(inverse)


def _lengths(lengths: Any) -> np.ndarray:
    values = lengths.numpy() if isinstance(lengths, Tensor) else np.asarray(lengths)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise RuntimeError(f"lengths must be a 1-D sequence of integers, got {values!r}")
    return values.astype(np.int64)


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *)) whose sequence b has ``lengths[b]`` real steps. With
    ``enforce_sorted`` the lengths must be in decreasing order; else they are sorted here."""
    counts = _lengths(lengths)
    batch_dim = 0 if batch_first else 1
    if len(counts) != input.shape[batch_dim]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(counts)} "
                           f"(batch_size={input.shape[batch_dim]})")
    if len(counts) and (counts.min() <= 0):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if len(counts) and counts.max() > input.shape[1 - batch_dim]:
        raise RuntimeError(f"lengths up to {counts.max()} for a padded batch of {input.shape[1 - batch_dim]} steps")
    sorted_indices = None
    if enforce_sorted:
        if np.any(np.diff(counts) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
    else:
        order = np.argsort(-counts, kind="stable")
        sorted_indices = Tensor._make(order.astype(np.int64))
        counts = counts[order]
        input = input.index_select(batch_dim, sorted_indices)
    steps = input if not batch_first else input.transpose(0, 1)  # (T, B, *)
    batch_sizes = np.array([(counts > t).sum() for t in range(int(counts.max()) if len(counts) else 0)], np.int64)
    from shenjing._ops.shape import cat

    data = cat([steps[t, :int(size)] for t, size in enumerate(batch_sizes)], 0)
    return PackedSequence(data, Tensor._make(batch_sizes), sorted_indices, invert_permutation(sorted_indices))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The padded batch (T, B, *) (or (B, T, *)) and the lengths (int64, in the original batch order)."""
    from shenjing._ops.shape import cat, stack

    data, batch_sizes = sequence.data, sequence.batch_sizes.numpy()
    steps = len(batch_sizes)
    batch = int(batch_sizes[0]) if steps else 0
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
        steps_out = total_length
    else:
        steps_out = steps
    rows, start = [], 0
    filler = Tensor._make(np.full((batch,) + tuple(data.shape[1:]), padding_value, data._data.dtype))
    for size in batch_sizes:
        size = int(size)
        rows.append(cat([data[start:start + size], filler[size:]], 0) if size < batch else data[start:start + size])
        start += size
    rows += [filler] * (steps_out - steps)
    padded = stack(rows, 0)  # (T, B, *), longest first
    lengths = np.array([(batch_sizes > b).sum() for b in range(batch)], np.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices.numpy()]
    return (padded.transpose(0, 1) if batch_first else padded), Tensor._make(lengths)


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences (L_i, *) into one padded tensor (T, B, *) (or (B, T, *)), T = max L_i, filled on the
    ``padding_side`` ("right" or "left") with ``padding_value``."""
    from shenjing._ops.shape import cat, stack

    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        fill = Tensor._make(np.full((longest - s.shape[0],) + tuple(s.shape[1:]), padding_value, s._data.dtype))
        padded.append(cat([s, fill] if padding_side == "right" else [fill, s], 0) if longest > s.shape[0] else s)
    return stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *) (decreasing lengths unless ``enforce_sorted=False``)."""
    return pack_padded_sequence(pad_sequence(sequences), [s.shape[0] for s in sequences],
                                enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """The list of sequences (L_i, *) of a padded batch, each cut to its length."""
    batch = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [batch[b, :int(n)] for b, n in enumerate(_lengths(lengths))]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences of a PackedSequence, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
