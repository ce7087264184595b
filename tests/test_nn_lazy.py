"""Lazy layers against PyTorch 2.13: reprs before and after the first call, the class they become, the
inferred sizes, and that they draw the eager layer's initial weights (same seed, same numbers)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import nn

RNG = np.random.default_rng(101)

LAZY = [  # (name, args, kwargs, input shape)
    ("LazyLinear", (4,), {}, (2, 3)), ("LazyLinear", (4,), {"bias": False}, (2, 5, 3)),
    ("LazyConv1d", (4, 3), {"padding": 1}, (2, 3, 6)), ("LazyConv2d", (4, 3), {"groups": 2, "stride": 2}, (1, 6, 5, 5)),
    ("LazyConv3d", (2, 2), {}, (1, 3, 3, 3, 3)), ("LazyConvTranspose1d", (4, 2), {"stride": 2}, (2, 3, 5)),
    ("LazyConvTranspose2d", (2, 3), {"padding": 1}, (1, 3, 4, 4)), ("LazyConvTranspose3d", (2, 2), {}, (1, 2, 2, 2, 2)),
    ("LazyBatchNorm1d", (), {}, (4, 3)), ("LazyBatchNorm2d", (), {"momentum": 0.3}, (2, 3, 2, 2)),
    ("LazyBatchNorm3d", (), {"affine": False}, (2, 2, 2, 2, 2)), ("LazyInstanceNorm1d", (), {}, (2, 3, 4)),
    ("LazyInstanceNorm2d", (), {"track_running_stats": False}, (2, 3, 3, 3)),
    ("LazyInstanceNorm3d", (), {}, (1, 2, 2, 2, 3)),
]


@pytest.mark.parametrize("name, args, kwargs, shape", LAZY)
def test_lazy_layers_become_their_eager_layer_like_torch(name, args, kwargs, shape):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.has_uninitialized_params()
    x = RNG.standard_normal(shape).astype(np.float32)
    out = ours(sj.tensor(x))
    expected = theirs(torch.tensor(x))
    assert type(ours).__name__ == type(theirs).__name__  # e.g. Linear, Conv2d
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert tuple(out.shape) == tuple(expected.shape)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(ours(sj.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_lazy_layer_draws_what_the_eager_layer_draws():
    x = sj.randn(2, 3)
    sj.manual_seed(7)
    lazy = nn.LazyLinear(4)
    between = sj.rand(1).item()  # constructing the lazy layer drew nothing
    lazy(x)
    sj.manual_seed(7)
    assert sj.rand(1).item() == between
    eager = nn.Linear(3, 4)
    np.testing.assert_array_equal(lazy.weight.detach().numpy(), eager.weight.detach().numpy())
    np.testing.assert_array_equal(lazy.bias.detach().numpy(), eager.bias.detach().numpy())


def test_lazy_layer_keeps_dtype_mode_and_hooks():
    layer = nn.LazyConv2d(2, 3).double().eval()
    calls = []
    layer.register_forward_hook(lambda module, inputs, output: calls.append(output.shape))
    layer(sj.randn(1, 4, 5, 5, dtype=sj.float64))
    layer(sj.randn(1, 4, 5, 5, dtype=sj.float64))
    assert layer.weight.dtype == sj.float64 and not layer.training and isinstance(layer, nn.Conv2d)
    assert len(calls) == 2 and tuple(layer.weight.shape) == (2, 4, 3, 3)
    model = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(2))
    model(sj.randn(5, 3))
    assert [tuple(p.shape) for p in model.parameters()] == [(8, 3), (8,), (2, 8), (2,)]
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D \\(batched\\) input to LazyConv2d"):
        nn.LazyConv2d(2, 3)(sj.randn(4, 5))
