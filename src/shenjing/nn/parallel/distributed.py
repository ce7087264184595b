"""DistributedDataParallel: the same model on every rank, each on its own share of the batch, with the
gradients averaged across ranks after every backward pass (PyTorch's ``torch.nn.parallel.DistributedDataParallel``).

How the averaging works:

* At construction the ranks check that they hold the same parameters (names, shapes, dtypes), then rank 0's
  parameters and buffers are broadcast to all, so every replica starts equal.
* The parameters that require grad are grouped into buckets (reverse registration order, which is roughly
  the order backward produces their gradients; at most ``bucket_cap_mb`` each, the first one 1 MiB), each
  with one flat buffer.
* Each forward pass counts, by walking the graph from the outputs, how many gradients each parameter will
  receive. A hook on every parameter copies its gradient into its bucket's buffer once the last one has
  arrived; a full bucket's allreduce starts at once (buckets start in order, the same on every rank), while
  backward goes on with the rest.
* When backward has finished, the remaining buckets are reduced, every allreduce is waited for, and each
  ``.grad`` receives its average: grad = (1 / world_size) * sum over ranks of that rank's grad.

Gradients of a per-rank mean loss averaged over ranks equal the gradient of the mean loss over the whole
(concatenated) batch, so DDP training on W ranks with B samples each matches one process on W * B samples.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import numpy as np

from shenjing._tensor import Tensor
from shenjing.autograd.engine import queue_callback
from shenjing.autograd.grad_mode import _GradState
from shenjing.distributed import _collectives as collectives
from shenjing.distributed._process_group import ProcessGroup, default_group
from shenjing.nn.modules.module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024  # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES


class _Bucket:
    """Parameters whose gradients are averaged by one allreduce of one flat buffer."""

    def __init__(self, indices: list, parameters: list) -> None:
        self.indices = indices
        sizes = [parameters[i]._data.size for i in indices]
        self.buffer = np.zeros(sum(sizes), dtype=parameters[indices[0]]._data.dtype)
        offsets = np.cumsum([0] + sizes)
        self.slots = {i: self.buffer[offsets[k]:offsets[k + 1]].reshape(parameters[i]._data.shape)
                      for k, i in enumerate(indices)}
        self.pending = len(indices)
        self.work: Any = None


class DistributedDataParallel(Module):
    """Data parallelism across processes: wrap the model after ``init_process_group``; train as usual.

    Args:
        module: the model, the same on every rank.
        device_ids, output_device, dim: accepted for PyTorch's signature (shenjing runs on the CPU).
        broadcast_buffers: copy rank 0's buffers (BatchNorm's running statistics) to every rank at the
            start of each forward pass in training.
        process_group: the group to average over (the default group).
        bucket_cap_mb: the most megabytes of gradients per allreduce.
        find_unused_parameters: allow parameters that get no gradient in an iteration (they count as zero
            on that rank; a parameter no rank used keeps its ``.grad``).

    ``no_sync()`` skips the averaging for the backward passes of the forward passes run inside it (gradients
    accumulate locally); the first backward outside averages the accumulated gradients. ``state_dict`` keys
    carry the ``module.`` prefix, as PyTorch's do.

    Shapes: whatever ``module`` takes and returns; each rank passes its own share of the batch.
    """

    def __init__(self, module: Module, device_ids: Sequence[Any] | None = None, output_device: Any = None,
                 dim: int = 0, broadcast_buffers: bool = True, init_sync: bool = True,
                 process_group: ProcessGroup | None = None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False,
                 delay_all_reduce_named_params: Any = None, param_to_hook_all_reduce: Any = None,
                 mixed_precision: Any = None, device_mesh: Any = None) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a shenjing.nn.Module, but got {type(module).__name__}")
        named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        if bucket_cap_mb is not None and not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be positive, but got {bucket_cap_mb!r}")
        self.module = module
        self.process_group = default_group(process_group)
        # DDP's own communicator (a duplicate), so that its allreduces in flight during backward never
        # interleave with collectives the model itself runs on the group (SyncBatchNorm's)
        group = self.process_group
        self._reduction_group = ProcessGroup(group.comm.Dup(), group.ranks, group.backend, group.timeout)
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view, self.static_graph = gradient_as_bucket_view, static_graph
        self.bucket_cap_mb = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._parameter_names = [name for name, _ in named]
        self._parameters_in_order = [p for _, p in named]
        self._check_same_model_everywhere(module)
        if init_sync:
            self._broadcast_from_rank0([p for _, p in module.named_parameters()] + self._buffers_to_sync())
        self._buckets = self._make_buckets()
        self._bucket_of = {i: bucket for bucket in self._buckets for i in bucket.indices}
        self._expected = [0] * len(self._parameters_in_order)
        self._arrived = [0] * len(self._parameters_in_order)
        self._ready = [False] * len(self._parameters_in_order)
        self._next_bucket = 0
        self._reducing = False  # a backward whose gradients must be averaged is (or may be) under way
        self._finish_queued = False
        self._hook_handles = [p.register_hook(self._gradient_hook(index))
                              for index, p in enumerate(self._parameters_in_order)]

    # -- construction ------------------------------------------------------------------------------------

    def _buffers_to_sync(self) -> list:
        return [b for _, b in self.module.named_buffers() if b is not None]

    def _check_same_model_everywhere(self, module: Module) -> None:
        """Every rank must hold the same parameters; the first difference is named (PyTorch checks shapes)."""
        description = "\n".join(f"{name} {tuple(p.shape)} {p.dtype}" for name, p in module.named_parameters())
        encoded = np.frombuffer(description.encode(), dtype=np.uint8)
        group, size = self.process_group, self.process_group.size()
        lengths = Tensor._make(np.zeros(size, dtype=np.int64))
        mine = Tensor._make(np.array([encoded.size], dtype=np.int64))
        collectives.all_gather_into_tensor(lengths, mine, group=group)
        longest = int(lengths._data.max())
        padded = np.zeros(longest, dtype=np.uint8)
        padded[:encoded.size] = encoded
        everyone = Tensor._make(np.zeros(size * longest, dtype=np.uint8))
        collectives.all_gather_into_tensor(everyone, Tensor._make(padded), group=group)
        texts = [everyone._data[r * longest:r * longest + lengths._data[r]].tobytes().decode() for r in range(size)]
        reference = texts[0].split("\n")
        for rank, text in enumerate(texts[1:], start=1):
            lines = text.split("\n")
            if lines == reference:
                continue
            for position in range(max(len(lines), len(reference))):
                here = lines[position] if position < len(lines) else "(nothing)"
                there = reference[position] if position < len(reference) else "(nothing)"
                if here != there:
                    break
            counts = (f" (rank {group.ranks[rank]} has {len(lines)} parameters, rank {group.ranks[0]} has "
                      f"{len(reference)})" if len(lines) != len(reference) else "")
            raise RuntimeError(
                f"DistributedDataParallel expects the same model on every rank, but rank {group.ranks[rank]}'s "
                f"differs from rank {group.ranks[0]}'s{counts}: parameter #{position} is '{there}' on rank "
                f"{group.ranks[0]} and '{here}' on rank {group.ranks[rank]}")

    def _broadcast_from_rank0(self, tensors: list) -> None:
        """Copy rank 0's values of ``tensors`` to every rank: one broadcast of one flat buffer per dtype."""
        by_dtype: dict = {}
        for tensor in tensors:
            by_dtype.setdefault(tensor._data.dtype, []).append(tensor)
        for dtype, group in by_dtype.items():
            flat = np.concatenate([t._data.reshape(-1) for t in group]) if group else np.zeros(0, dtype)
            carrier = Tensor._make(flat)
            collectives.broadcast(carrier, group_src=0, group=self.process_group)
            offset = 0
            for tensor in group:
                count = tensor._data.size
                tensor._data[...] = flat[offset:offset + count].reshape(tensor._data.shape)
                tensor._bump_version()
                offset += count

    def _make_buckets(self) -> list:
        """Parameters in reverse order, one dtype per bucket, the first bucket at most 1 MiB, the others at
        most ``bucket_cap_mb``."""
        parameters = self._parameters_in_order
        buckets, current, current_bytes = [], [], 0
        cap = _FIRST_BUCKET_BYTES
        for index in reversed(range(len(parameters))):
            array = parameters[index]._data
            if current and (current_bytes + array.nbytes > cap or array.dtype != parameters[current[0]]._data.dtype):
                buckets.append(_Bucket(current, parameters))
                current, current_bytes, cap = [], 0, self.bucket_cap_mb * 1024 * 1024
            current.append(index)
            current_bytes += array.nbytes
        buckets.append(_Bucket(current, parameters))
        return buckets

    # -- forward -----------------------------------------------------------------------------------------

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self._reducing:
            self._raise_unfinished_reduction()
        if self.require_forward_param_sync and self.broadcast_buffers:
            buffers = self._buffers_to_sync()
            if buffers:
                self._broadcast_from_rank0(buffers)
        output = self.module(*inputs, **kwargs)
        if _GradState.enabled and self.require_backward_grad_sync:
            self.require_forward_param_sync = True
            self._prepare_for_backward(output)
        else:
            self.require_forward_param_sync = False
        return output

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within this context gradients are accumulated locally, not averaged (gradient accumulation).

        >>> # with ddp.no_sync():
        >>> #     ddp(x1).sum().backward()   # local only
        >>> # ddp(x2).sum().backward()       # averages the sum of both iterations' gradients
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _prepare_for_backward(self, output: Any) -> None:
        """Count how many gradients each parameter will receive in the coming backward pass."""
        self._expected = _gradient_counts(output, self._parameters_in_order)
        self._arrived = [0] * len(self._parameters_in_order)
        self._ready = [False] * len(self._parameters_in_order)
        self._next_bucket = 0
        for bucket in self._buckets:
            bucket.pending, bucket.work = len(bucket.indices), None
        self._reducing, self._finish_queued = True, False
        if self.find_unused_parameters:
            for index, count in enumerate(self._expected):
                if count == 0:
                    self._mark_ready(index, None)

    def _raise_unfinished_reduction(self) -> None:
        self._reducing = False
        raise RuntimeError(
            "DistributedDataParallel: the previous iteration's forward pass was not followed by a backward pass "
            "whose gradients could be averaged (expected to have finished reduction in the prior iteration "
            "before starting a new one). Call loss.backward() after each forward, run evaluation forwards under "
            "shenjing.no_grad(), or use no_sync() for forwards whose gradients are only accumulated.")

    # -- backward ----------------------------------------------------------------------------------------

    def _gradient_hook(self, index: int) -> Any:
        def on_gradient(grad: Tensor) -> None:
            if not self._reducing:
                return None
            if not self._finish_queued:
                queue_callback(self._finish_reduction)
                self._finish_queued = True
            self._arrived[index] += 1
            if self._arrived[index] == self._expected[index] and not self._ready[index]:
                self._mark_ready(index, grad)
            return None
        return on_gradient

    def _mark_ready(self, index: int, last_grad: Tensor | None) -> None:
        """Parameter ``index`` has its final gradient (``.grad`` so far + ``last_grad``): into its slot."""
        self._ready[index] = True
        bucket = self._bucket_of[index]
        slot = bucket.slots[index]
        current = self._parameters_in_order[index].grad
        if current is None and last_grad is None:
            slot[...] = 0
        elif current is None:
            slot[...] = last_grad._data
        elif last_grad is None:
            slot[...] = current._data
        else:
            np.add(current._data, last_grad._data, out=slot)
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch_ready_buckets()

    def _launch_ready_buckets(self) -> None:
        """Start the allreduce of every full bucket whose predecessors have started (same order everywhere)."""
        while self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].pending == 0:
            bucket = self._buckets[self._next_bucket]
            bucket.work = collectives.all_reduce(Tensor._make(bucket.buffer), group=self._reduction_group,
                                                 async_op=True)
            self._next_bucket += 1

    def _finish_reduction(self) -> None:
        """After backward: fill the slots of parameters still waiting, reduce, wait, write the averages."""
        self._reducing = False
        waiting = [i for i, ready in enumerate(self._ready) if not ready]
        unused = [self._parameter_names[i] for i in waiting if self._arrived[i] == 0]
        if unused and not self.find_unused_parameters:
            raise RuntimeError(
                f"DistributedDataParallel: parameters {unused} received no gradient in this backward pass. "
                f"Pass find_unused_parameters=True to DistributedDataParallel if the model does not use every "
                f"parameter in every iteration, or make sure the loss depends on all of them.")
        for index in waiting:
            self._mark_ready(index, None)
        used = None
        if self.find_unused_parameters:
            used = Tensor._make(np.array([count > 0 for count in self._arrived], dtype=np.uint8))
            used_work = collectives.all_reduce(used, op=collectives.ReduceOp.MAX, group=self._reduction_group,
                                               async_op=True)
        scale = 1.0 / self.process_group.size()
        for bucket in self._buckets:
            bucket.work.wait()
            bucket.buffer *= bucket.buffer.dtype.type(scale)
        if used is not None:
            used_work.wait()
        for index, p in enumerate(self._parameters_in_order):
            if used is not None and not used._data[index]:
                continue  # no rank used it: its gradient stays as it was
            average = self._bucket_of[index].slots[index]
            if p.grad is None or p.grad._requires_grad or not p.grad._data.flags.writeable:
                p.grad = Tensor._make(average.copy())
            else:
                p.grad._data[...] = average


def _gradient_counts(output: Any, parameters: list) -> list:
    """For each parameter, the number of edges of the graph behind ``output`` that end at it."""
    position = {p: i for i, p in enumerate(parameters)}  # tensors hash by identity
    counts = [0] * len(parameters)
    stack = [t.grad_fn for t in _tensors_in(output) if t.grad_fn is not None]
    for t in _tensors_in(output):
        if t.grad_fn is None and t in position:
            counts[position[t]] += 1
    seen = set(stack)
    while stack:
        node = stack.pop()
        for edge in node._edges:
            if edge is None:
                continue
            if type(edge) is tuple:
                if edge[0] not in seen:
                    seen.add(edge[0])
                    stack.append(edge[0])
            elif edge in position:
                counts[position[edge]] += 1
    return counts


def _tensors_in(output: Any) -> Iterator[Tensor]:
    """The tensors in a (nested) output: a tensor, or tuples, lists and dicts of them."""
    if isinstance(output, Tensor):
        yield output
    elif isinstance(output, (list, tuple)):
        for item in output:
            yield from _tensors_in(item)
    elif isinstance(output, dict):
        for item in output.values():
            yield from _tensors_in(item)
