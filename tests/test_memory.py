"""Memory behind the fast paths: freed work arrays kept by the allocator (``shenjing._workspace``), the shared
zeros, and the engine adopting a fresh gradient as ``.grad`` without a copy (never one array for two users)."""

from __future__ import annotations

import platform
import resource
import sys

import numpy as np
import pytest

import shenjing as sj
import shenjing.nn.functional as F
from shenjing import _workspace

@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="the thresholds are glibc's")
def test_freed_large_arrays_stay_mapped_for_the_next_step():
    # a step that holds four 2 MiB arrays at once: with glibc's defaults the heap is trimmed when they are
    # freed and the next step faults their 2,048 pages in again (measured: ~2,000 faults a step); with the
    # thresholds set (at import) the memory stays mapped and is reused
    assert _workspace.KEEPS_FREED_MEMORY

    def step():
        return [np.ones(1 << 19, np.float32) for _ in range(4)]  # written, then freed

    for _ in range(3):
        step()  # warm up: the heap grows once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 20 * 2048 // 10, faults


def test_zeros_are_read_only_views_of_one_growing_buffer_per_dtype():
    small = _workspace.zeros((3, 4), np.float32)
    large = _workspace.zeros((512, 700), np.float32)  # grows the float32 buffer
    again = _workspace.zeros((2, 5, 7), np.float32)
    for z, shape in ((small, (3, 4)), (large, (512, 700)), (again, (2, 5, 7))):
        assert z.shape == shape and z.dtype == np.float32 and z.flags.c_contiguous and not z.flags.writeable
        assert not z.any()
    assert np.shares_memory(again, large)  # a view of the grown buffer
    assert _workspace.zeros((4,), np.float64).dtype == np.float64
    too_large = _workspace.ZEROS_MAX_BYTES // 4 + 1
    assert _workspace.zeros((too_large,), np.float32) is None


def test_relu_output_never_aliases_the_shared_zeros():
    # relu computes max(x, zeros) with zeros from the shared buffer: its output is its own array
    x = sj.randn(64, 6, 14, 14)
    y = F.relu(x)
    zero = _workspace.zeros(tuple(x.shape), np.float32)
    assert not np.shares_memory(y.numpy(), zero) and not zero.any()
    np.testing.assert_array_equal(y.numpy(), np.maximum(x.numpy(), 0))


def test_reused_activations_do_not_change_tensors_the_user_kept():
    # two forward passes of the same shape: the first output, still held, keeps its values
    w = sj.randn(8, 4, 5, 5)
    x1, x2 = sj.randn(64, 4, 16, 16), sj.randn(64, 4, 16, 16)
    y1 = F.relu(F.conv2d(x1, w))
    saved = y1.numpy().copy()
    y2 = F.relu(F.conv2d(x2, w))
    np.testing.assert_array_equal(y1.numpy(), saved)
    assert not np.shares_memory(y1.numpy(), y2.numpy())


def test_adopted_gradients_are_not_shared():
    # the user's upstream gradient passed straight through Add must be copied, not adopted
    a = sj.randn(300, 300, requires_grad=True)
    b = sj.randn(300, 300, requires_grad=True)
    upstream = sj.ones(300, 300)
    (a + b).backward(upstream)
    assert not np.shares_memory(a.grad.numpy(), upstream.numpy())
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    (a + b).backward(upstream)  # accumulates in place
    np.testing.assert_array_equal(upstream.numpy(), 1.0)
    np.testing.assert_array_equal(a.grad.numpy(), 2.0)
    np.testing.assert_array_equal(b.grad.numpy(), 2.0)


def test_a_gradient_used_twice_is_copied_for_each_leaf():
    w = sj.randn(200, 300, requires_grad=True)
    v = sj.randn(200, 300, requires_grad=True)
    x = sj.randn(64, 300)
    out = F.linear(x, w) + F.linear(x, v)
    out.sum().backward()
    assert not np.shares_memory(w.grad.numpy(), v.grad.numpy())
    np.testing.assert_allclose(w.grad.numpy(), v.grad.numpy())


def test_a_gradient_a_hook_kept_is_not_adopted():
    w = sj.randn(200, 300, requires_grad=True)
    seen = []
    w.register_hook(lambda g: seen.append(g))
    F.linear(sj.randn(64, 300), w).sum().backward()
    assert not np.shares_memory(w.grad.numpy(), seen[0].numpy())


def test_linear_weight_gradient_is_adopted_without_a_copy_and_accumulates():
    # the first gradient becomes .grad as the op made it: backward allocates one weight-sized array, not two
    import tracemalloc

    w = sj.randn(256, 784, requires_grad=True)
    x = sj.randn(64, 784)
    loss = F.linear(x, w).sum()
    tracemalloc.start()
    loss.backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert w.grad.numpy().nbytes <= peak < 1.5 * w.grad.numpy().nbytes
    first = w.grad.numpy().copy()
    F.linear(x, w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-6)
    np.testing.assert_allclose(first, np.broadcast_to(x.numpy().sum(0), (256, 784)), rtol=1e-5, atol=1e-4)


