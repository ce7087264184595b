"""The fused convolution + 2x2 max-pool (shenjing._ops.conv_pool) against PyTorch and against the two
ops in a row, and its use in LeNet5 / CourseCNN."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from shenjing._ops import conv_gather, conv_pool
from shenjing._ops.conv import ConvGeometry
from shenjing._ops.conv_pool import ConvMaxPool2d, fused_applies
from shenjing.models import CourseCNN, LeNet5
from helpers import FUSED_PRODUCTS, use_fused_product
from helpers import assert_close as _assert_close


def assert_close(actual, expected, dtype, what):
    """``helpers.assert_close``; for float32 with an absolute tolerance scaled to the largest value
    (sums of ~150 products of unit normals cancel: errors of a few ulps of the terms)."""
    if dtype == np.float32:
        scale = max(1.0, float(np.nanmax(np.abs(expected)))) if np.size(expected) else 1.0
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5 * scale, err_msg=what, equal_nan=True)
    else:
        _assert_close(actual, expected, dtype, what)

CASES = {  # x shape, w shape, stride, padding
    "cnn1": ((3, 3, 32, 32), (6, 3, 5, 5), 1, 0),
    "cnn2": ((3, 6, 14, 14), (16, 6, 5, 5), 1, 0),
    "lenet1": ((3, 1, 28, 28), (6, 1, 5, 5), 1, 2),
    "lenet1_n1": ((1, 1, 28, 28), (6, 1, 5, 5), 1, 2),
    "cnn1_n1": ((1, 3, 32, 32), (6, 3, 5, 5), 1, 0),
    "odd_7x9": ((3, 2, 9, 11), (4, 2, 3, 3), 1, 0),
    "padding": ((2, 2, 8, 9), (3, 2, 3, 3), 1, (1, 2)),
    "stride2": ((3, 2, 13, 12), (4, 2, 3, 3), 2, 1),
    "stride_w": ((2, 2, 9, 12), (4, 2, 3, 3), (1, 2), 0),
}


def _geometry(stride, padding):
    s = stride if isinstance(stride, tuple) else (stride, stride)
    p = padding if isinstance(padding, tuple) else (padding, padding)
    return ConvGeometry(s, ((p[0], p[0]), (p[1], p[1])), (1, 1), 1)


def _data(case, dtype, kind="random", seed=0):
    x_shape, w_shape, _, _ = CASES[case]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    if kind != "random":  # integer bias: sums of integers are exact, ties stay ties in any summation order
        b = np.round(b)
    if kind == "zeros":
        x[:] = 0
    elif kind == "constant":
        x[:] = 0.5
        w[:] = np.round(w, 0)  # integer weights: many exactly equal sums
    elif kind == "ties":
        x = np.round(x)  # small integers: ties within windows
        w = np.round(w)
    return x.astype(dtype), w.astype(dtype), b.astype(dtype)


def _torch_reference(x, w, b, stride, padding, upstream):
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = TF.max_pool2d(TF.conv2d(tx, tw, tb, stride=stride, padding=padding), 2)
    y.backward(torch.tensor(upstream))
    return y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()


def _fused(x, w, b, stride, padding, upstream, requires=(True, True, True)):
    sx, sw, sb = (sj.tensor(a, requires_grad=r) for a, r in zip((x, w, b), requires))
    y = ConvMaxPool2d(_geometry(stride, padding))(sx, sw, sb)
    y.backward(sj.tensor(upstream))
    return y, sx, sw, sb


def _unfused(x, w, b, stride, padding, upstream):
    sx, sw, sb = (sj.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.max_pool2d(F.conv2d(sx, sw, sb, stride=stride, padding=padding), 2)
    y.backward(sj.tensor(upstream))
    return y, sx, sw, sb


@pytest.fixture(params=FUSED_PRODUCTS)
def product(request, monkeypatch):
    """Run the fused op's product on row windows, by output-column phase or on a gathered patch matrix
    wherever the geometry allows it (``helpers.use_fused_product``)."""
    use_fused_product(monkeypatch, request.param)
    return request.param


def _reordered(product, w_shape, geometry):
    """Whether the fused op's sums run in another order than the two ops' (by phase or gathered)."""
    return product == "gathered" or (product == "phases" and conv_pool.phases_apply(w_shape, geometry))


def _compare_with_two_ops(ours, theirs, exact_values, dtype, names):
    """The fused op against the two ops in a row: on row windows the same arithmetic, bit for bit; by
    phase or gathered the same values up to the summation order, and bit for bit where every sum is exact."""
    for a, c, what in zip(ours, theirs, names):
        if exact_values:
            np.testing.assert_array_equal(a, c, err_msg=what)
        else:
            assert_close(a, c, dtype, what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["random", "zeros", "constant", "ties"])
@pytest.mark.parametrize("case", list(CASES))
def test_forward_and_gradients_match_pytorch_and_the_two_ops(case, kind, dtype, product):
    x, w, b = _data(case, dtype, kind)
    _, _, stride, padding = CASES[case]
    reordered = _reordered(product, w.shape, _geometry(stride, padding))
    ty = TF.max_pool2d(TF.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=stride,
                                 padding=padding), 2)
    upstream = np.random.default_rng(1).standard_normal(ty.shape).astype(dtype)
    expected = _torch_reference(x, w, b, stride, padding, upstream)
    y, sx, sw, sb = _fused(x, w, b, stride, padding, upstream)
    assert y.dtype == sx.dtype and sx.grad.dtype == sx.dtype and sw.grad.dtype == sx.dtype
    for actual, want, what in zip((y, sx.grad, sw.grad, sb.grad), expected, ("y", "dx", "dw", "db")):
        assert_close(actual.detach().numpy(), want, dtype, what)
    uy, ux, uw, ub = _unfused(x, w, b, stride, padding, upstream)
    ours = [t.detach().numpy() for t in (y, sx.grad, sw.grad, sb.grad)]
    theirs = [t.detach().numpy() for t in (uy, ux.grad, uw.grad, ub.grad)]
    _compare_with_two_ops(ours[:1], theirs[:1], not reordered or kind != "random", dtype, ["y"])
    _compare_with_two_ops(ours[1:], theirs[1:], not reordered, dtype, ["dx", "dw", "db"])


@pytest.mark.parametrize("case", ["cnn1", "lenet1", "odd_7x9", "stride2", "padding"])
def test_partial_gradients(case):
    x, w, b = _data(case, np.float64)
    _, _, stride, padding = CASES[case]
    y = F.max_pool2d(F.conv2d(sj.tensor(x), sj.tensor(w), sj.tensor(b), stride=stride, padding=padding), 2)
    upstream = np.random.default_rng(2).standard_normal(tuple(y.shape))
    expected = _torch_reference(x, w, b, stride, padding, upstream)
    _, sx, sw, sb = _fused(x, w, b, stride, padding, upstream, requires=(False, True, False))
    assert sx.grad is None and sb.grad is None
    assert_close(sw.grad.numpy(), expected[2], np.float64, "dw")
    _, sx, sw, sb = _fused(x, w, b, stride, padding, upstream, requires=(False, True, True))
    assert_close(sb.grad.numpy(), expected[3], np.float64, "db")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES))
def test_no_grad_inference(case, dtype, product):
    x, w, b = _data(case, dtype)
    _, _, stride, padding = CASES[case]
    reordered = _reordered(product, w.shape, _geometry(stride, padding))
    want = TF.max_pool2d(TF.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=stride,
                                   padding=padding), 2).numpy()
    with sj.no_grad():
        y = ConvMaxPool2d(_geometry(stride, padding))(sj.tensor(x), sj.tensor(w), sj.tensor(b))
        unfused = F.max_pool2d(F.conv2d(sj.tensor(x), sj.tensor(w), sj.tensor(b), stride=stride, padding=padding), 2)
    assert y.dtype == sj.tensor(x).dtype
    assert_close(y.numpy(), want, dtype, "y")
    _compare_with_two_ops([y.numpy()], [unfused.numpy()], not reordered, dtype, ["y"])
    y = ConvMaxPool2d(_geometry(stride, padding))(sj.tensor(x), sj.tensor(w), None)  # no bias, nothing requires grad
    want = TF.max_pool2d(TF.conv2d(torch.tensor(x), torch.tensor(w), stride=stride, padding=padding), 2).numpy()
    assert_close(y.numpy(), want, dtype, "y without bias")


@pytest.mark.parametrize("row_windows", [True, False])
def test_large_batch_inference_runs_in_slices(monkeypatch, row_windows):
    # inference on row patches (in slices of ROW_CHUNK_BYTES) or, where those don't apply, on im2col's
    # patches (slices of CHUNK_BYTES): 300 samples in several slices either way
    from shenjing._ops import conv

    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((300, 3, 32, 32)), rng.standard_normal((6, 3, 5, 5)), rng.standard_normal(6)
    monkeypatch.setattr(conv, "ROW_CHUNK_BYTES", 1 << 20)
    if not row_windows:
        monkeypatch.setattr(conv_pool, "use_row_windows", lambda *args: False)
    geometry = _geometry(1, 0)
    assert len(conv.row_slices(x.shape, (5, 5), geometry, x.dtype)) > 1
    assert len(conv.batch_slices(300, conv._sample_bytes(x.shape, (5, 5), geometry, x.dtype))) > 1
    with sj.no_grad():
        y = ConvMaxPool2d(geometry)(sj.tensor(x), sj.tensor(w), sj.tensor(b))
    want = TF.max_pool2d(TF.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b)), 2).numpy()
    assert_close(y.numpy(), want, np.float64, "y")


def test_nan_follows_max_pool_rule(product):
    x, w, b = _data("odd_7x9", np.float64)
    x[1, 0, 4, 4] = np.nan
    upstream = np.ones((3, 4, 3, 4))
    y, sx, sw, sb = _fused(x, w, b, 1, 0, upstream)
    uy, ux, uw, ub = _unfused(x, w, b, 1, 0, upstream)
    for a, c in zip((y, sx.grad, sw.grad, sb.grad), (uy, ux.grad, uw.grad, ub.grad)):
        if product == "gathered":  # (another summation order; NaN where the two ops have NaN)
            assert_close(a.detach().numpy(), c.detach().numpy(), np.float64, "NaN input")
        else:  # (an inf or NaN input never runs by phase)
            np.testing.assert_array_equal(a.detach().numpy(), c.detach().numpy())


def test_gathered_nan_goes_to_the_last_nan_of_its_window():
    # PyTorch's max-pool gives the gradient to the last NaN of a window; np.argmax would pick the first
    x = np.zeros((1, 1, 2, 2))
    w = np.ones((1, 1, 1, 1))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    for lib in (sj, torch):
        xs, ws = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        if lib is sj:
            y = ConvMaxPool2d(_geometry(1, 0))(xs, ws, None)
        else:
            y = TF.max_pool2d(TF.conv2d(xs, ws), 2)
        y.sum().backward()
        assert np.isnan(y.detach().numpy()).all()
        if lib is sj:
            ours = xs.grad.numpy()
    np.testing.assert_array_equal(ours, xs.grad.numpy())
    assert ours[0, 0, 1, 0] == 1 and ours[0, 0, 0, 1] == 0


def test_phases_apply_to_few_channels_and_finite_inputs():
    x, w, b = _data("cnn1", np.float32)
    geometry = _geometry(1, 0)
    assert conv_pool.phases_apply(w.shape, geometry)  # 4 * 6 rows
    assert not conv_pool.phases_apply((16, 6, 5, 5), geometry)  # 64 rows: R-row products do fewer multiply-adds
    assert not conv_pool.phases_apply(w.shape, _geometry(2, 0))
    assert not conv_pool.phases_apply(w.shape, _geometry((1, 2), 0))
    op = ConvMaxPool2d(geometry)
    op(sj.tensor(x), sj.tensor(w, requires_grad=True), sj.tensor(b))
    assert op.phases
    x[0, 0, 3, 3] = np.inf
    op = ConvMaxPool2d(geometry)
    op(sj.tensor(x), sj.tensor(w, requires_grad=True), sj.tensor(b))
    assert not op.phases


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", [
    ((1, 1, 28, 28), (6, 1, 5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1)),
    ((3, 2, 11, 13), (4, 2, 3, 2), (2, 1), ((1, 0), (2, 1)), (1, 2)),
    ((2, 6, 14, 14), (16, 6, 5, 5), (1, 1), ((0, 0), (0, 0)), (1, 1)),
])
def test_gathered_patches_equal_the_index(x_shape, w_shape, stride, padding, dilation):
    # the strided copy against the reference: x's values (and a zero for the padding) at gather_index
    geometry = ConvGeometry(stride, padding, dilation, 1)
    x = np.random.default_rng(12).standard_normal(x_shape).astype(np.float32)
    index = conv_gather.gather_index(x_shape, w_shape[2:], geometry)
    expected = np.append(x.reshape(-1), 0)[index]
    np.testing.assert_array_equal(conv_gather.gathered_patches(x, w_shape[2:], geometry), expected)


def test_gathered_applies_to_small_patch_matrices():
    from shenjing._ops.conv_gather import gather_applies

    lenet1 = _geometry(1, 2)
    assert gather_applies((1, 1, 28, 28), (6, 1, 5, 5), lenet1)  # 25 x 784 patches
    assert not gather_applies((4, 1, 28, 28), (6, 1, 5, 5), lenet1)  # 25 x 3136: the row windows are faster
    assert gather_applies((4, 6, 14, 14), (16, 6, 5, 5), _geometry(1, 0))  # 150 x 400
    grouped = ConvGeometry((1, 1), ((0, 0), (0, 0)), (1, 1), 2)
    assert not gather_applies((1, 4, 10, 10), (4, 2, 3, 3), grouped)


@pytest.mark.parametrize("training", [True, False])
def test_gathered_with_dilation_and_uneven_padding_matches_pytorch(training):
    # the gathered patch matrix reads any stride, dilation and padding (training: row dilation 1)
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((2, 3, 11, 12)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    dilation = (1, 2) if training else (2, 2)
    geometry = ConvGeometry((2, 1), ((1, 1), (2, 2)), dilation, 1)
    tx, tw, tb = (torch.tensor(a, requires_grad=training) for a in (x, w, b))
    ty = TF.max_pool2d(TF.conv2d(tx, tw, tb, stride=(2, 1), padding=(1, 2), dilation=dilation), 2)
    upstream = rng.standard_normal(tuple(ty.shape))
    sx, sw, sb = (sj.tensor(a, requires_grad=training) for a in (x, w, b))
    op = ConvMaxPool2d(geometry)
    y = op(sx, sw, sb)
    assert op.gathered
    assert_close(y.detach().numpy(), ty.detach().numpy(), np.float64, "y")
    if training:
        ty.backward(torch.tensor(upstream))
        y.backward(sj.tensor(upstream))
        for ours, theirs, what in ((sx, tx, "dx"), (sw, tw, "dw"), (sb, tb, "db")):
            assert_close(ours.grad.numpy(), theirs.grad.numpy(), np.float64, what)


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # (NumPy's note on inf * 0 in the weight gradient)
@pytest.mark.parametrize("where", ["input", "upstream"])
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_non_finite_values_match_pytorch(where, value, product):
    # an inf or NaN input takes the row windows (the phase weight's zeros times inf would be NaN where no
    # window sees it); an inf or NaN pooled gradient reaches only the element that won, as in PyTorch
    x, w, b = _data("odd_7x9", np.float64)
    upstream = np.random.default_rng(1).standard_normal((3, 4, 3, 4))
    if where == "input":
        x[1, 0, 4, 4] = value
    else:
        upstream[1, 2, 1, 2] = value
    expected = _torch_reference(x, w, b, 1, 0, upstream)
    y, sx, sw, sb = _fused(x, w, b, 1, 0, upstream)
    for actual, want, what in zip((y, sx.grad, sw.grad, sb.grad), expected, ("y", "dx", "dw", "db")):
        assert_close(actual.detach().numpy(), want, np.float64, what)


@pytest.mark.parametrize("case", ["odd_7x9", "stride2", "padding"])
def test_double_backward_matches_pytorch(case, product):
    x, w, b = _data(case, np.float64)
    _, _, stride, padding = CASES[case]
    sx, sw, sb = (sj.tensor(a, requires_grad=True) for a in (x, w, b))
    y = ConvMaxPool2d(_geometry(stride, padding))(sx, sw, sb)
    gx, gw = sj.autograd.grad((y * y).sum(), (sx, sw), create_graph=True)
    ((gx * gx).sum() + (gw * gw).sum()).backward()
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = TF.max_pool2d(TF.conv2d(tx, tw, tb, stride=stride, padding=padding), 2)
    tgx, tgw = torch.autograd.grad((ty * ty).sum(), (tx, tw), create_graph=True)
    ((tgx * tgx).sum() + (tgw * tgw).sum()).backward()
    assert_close(gx.detach().numpy(), tgx.detach().numpy(), np.float64, "gx")
    assert_close(gw.detach().numpy(), tgw.detach().numpy(), np.float64, "gw")
    for ours, theirs, what in ((sx, tx, "x"), (sw, tw, "w"), (sb, tb, "b")):
        assert_close(ours.grad.numpy(), theirs.grad.numpy(), np.float64, f"d2/d{what}")


def test_fused_applies():
    g = _geometry(1, 0)
    assert fused_applies((4, 3, 32, 32), (6, 3, 5, 5), g, training=True)
    assert not fused_applies((4, 3, 5, 5), (6, 3, 5, 5), g, training=False)  # 1x1 output
    assert not fused_applies((0, 3, 32, 32), (6, 3, 5, 5), g, training=False)
    grouped = ConvGeometry((1, 1), ((0, 0), (0, 0)), (1, 1), 3)
    assert not fused_applies((4, 3, 32, 32), (6, 1, 5, 5), grouped, training=True)
    assert fused_applies((4, 3, 32, 32), (6, 1, 5, 5), grouped, training=False)


# -- the models -------------------------------------------------------------------------------------

def _textbook(model, x):
    """The model with hooks on the ReLU: the unfused textbook order."""
    relu = model.relu if isinstance(model, LeNet5) else model.nf
    handle = relu.register_forward_hook(lambda module, args, output: None)
    try:
        return model(x)
    finally:
        handle.remove()


@pytest.mark.parametrize("make, shape", [(LeNet5, (1, 1, 28, 28)), (LeNet5, (3, 1, 28, 28)),
                                         (lambda: LeNet5(input_size=32), (3, 1, 32, 32)),
                                         (CourseCNN, (1, 3, 32, 32)), (CourseCNN, (3, 3, 32, 32))])
@pytest.mark.parametrize("gathered", [True, False], ids=["as it runs", "not gathered"])
@pytest.mark.parametrize("kind", ["random", "zeros"])
def test_models_equal_the_textbook_order(monkeypatch, make, shape, kind, gathered):
    if not gathered:
        monkeypatch.setattr(conv_gather, "GATHER_MAX_ELEMENTS", 0)
    sj.manual_seed(4)
    model = make()
    data = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    if kind == "zeros":
        data[:] = 0
    x = sj.tensor(data, requires_grad=True)
    fast = model(x)
    fast.square().sum().backward()
    fast_grads = [p.grad.numpy().copy() for p in model.parameters()] + [x.grad.numpy().copy()]
    model.zero_grad()
    x.grad = None
    slow = _textbook(model, x)
    slow.square().sum().backward()
    # conv1 (6 channels) runs by phase: another summation order (exact sums for a zero input); conv2 on
    # a gathered patch matrix (a few samples) too, and its input is then not zero
    _compare_with_two_ops([fast.detach().numpy()], [slow.detach().numpy()], kind == "zeros" and not gathered,
                          np.float32, ["y"])
    names = [name for name, _ in model.named_parameters()] + ["x"]
    slow_grads = [p.grad.numpy() for p in model.parameters()] + [x.grad.numpy()]
    if kind == "zeros" and gathered:  # conv2's constant maps tie, and its rounding breaks the ties: the
        fast_grads, slow_grads, names = fast_grads[4:-1], slow_grads[4:-1], names[4:-1]  # layers after it
    _compare_with_two_ops(fast_grads, slow_grads, False, np.float32, names)
    with sj.no_grad():  # inference (im2col products: another summation order than training's)
        inferred = model(x).numpy()
        _compare_with_two_ops([inferred], [_textbook(model, x).numpy()], kind == "zeros" and not gathered,
                              np.float32, ["inferred"])
    np.testing.assert_allclose(inferred, fast.detach().numpy(), rtol=1e-5, atol=1e-6)
    # a frozen network (only the input needs its gradient) runs the two ops in a row
    for p in model.parameters():
        p.requires_grad_(False)
    x.grad = None
    model(x).square().sum().backward()
    if kind == "random":  # (constant maps tie, and other summation orders break the ties differently)
        np.testing.assert_allclose(x.grad.numpy(), fast_grads[-1], rtol=1e-4, atol=1e-6)


def test_models_check_their_input():
    model = CourseCNN()
    with pytest.raises(RuntimeError):
        model(sj.zeros(2, 1, 32, 32))
    with pytest.raises(RuntimeError):
        model(sj.zeros(2, 3, 32, 32, dtype=sj.float64))
    with pytest.raises(RuntimeError):
        LeNet5()(sj.zeros(2, 2, 28, 28))


@pytest.mark.parametrize("make, shape", [(LeNet5, (2, 1, 28, 28)), (CourseCNN, (2, 3, 32, 32))])
def test_models_double_backward_equals_the_textbook_order(make, shape):
    sj.manual_seed(6)
    model = make().double()
    x = sj.tensor(np.random.default_rng(6).standard_normal(shape), requires_grad=True)

    def penalty(run):
        grads = sj.autograd.grad(run(x).square().sum(), [x] + list(model.parameters()), create_graph=True)
        total = sum((g * g).sum() for g in grads)
        model.zero_grad()
        x.grad = None
        total.backward()
        return [g.detach().numpy() for g in grads], [p.grad.numpy().copy() for p in model.parameters()]

    fast = penalty(model)
    slow = penalty(lambda inputs: _textbook(model, inputs))
    for a, c in zip(fast[0] + fast[1], slow[0] + slow[1]):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


def test_a_hook_on_the_convolution_sees_its_output():
    model = CourseCNN()
    seen = []
    handle = model.conv1.register_forward_hook(lambda module, args, output: seen.append(tuple(output.shape)))
    model(sj.zeros(2, 3, 32, 32))
    handle.remove()
    assert seen == [(2, 6, 28, 28)]


@pytest.mark.parametrize("case", ["frozen_weight", "groups", "unfused_by_size", "no_grad"])
def test_conv2d_max_pool2d_matches_torch_fused_or_not(case):
    # F.conv2d_max_pool2d fuses only where ConvMaxPool2d applies; elsewhere (a frozen weight in
    # training, groups, a 1x1 output) it runs the two ops: torch's values and gradients either way
    from shenjing.nn._functional.conv import conv2d_max_pool2d

    rng = np.random.default_rng(3)
    groups = 2 if case == "groups" else 1
    size = 5 if case == "unfused_by_size" else 10
    x, w, b = rng.standard_normal((2, 4, size, size)), rng.standard_normal((6, 4 // groups, 3, 3)), rng.standard_normal(6)
    results = []
    for lib, pool_fn in ((sj, lambda t, *a, **k: conv2d_max_pool2d(t, *a, **k)),
                         (torch, lambda t, *a, **k: TF.max_pool2d(TF.conv2d(t, *a, **k), 2))):
        xs = lib.tensor(x, requires_grad=case != "no_grad")
        ws = lib.tensor(w, requires_grad=case not in ("frozen_weight", "no_grad"))
        bs = lib.tensor(b, requires_grad=case != "no_grad")
        out = pool_fn(xs, ws, bs, padding=1 if case != "unfused_by_size" else 0, groups=groups)
        grads = []
        if case != "no_grad":
            out.sum().backward()
            grads = [t.grad.detach().numpy() if t.grad is not None else None for t in (xs, ws, bs)]
        results.append((out.detach().numpy(), grads))
    (ours, our_grads), (theirs, their_grads) = results
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
    for mine, expected in zip(our_grads, their_grads):
        assert (mine is None) == (expected is None)
        if expected is not None:
            np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("products", ["gathered", "phases", "R rows and border products"])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv2d_max_pool2d_central_differences(monkeypatch, stride, products):
    # the fused op's gradients against torch and against central differences in float64 (random
    # values: no ties within a window, so the max is differentiable there); with the width limits at 0,
    # R output rows per product and the input gradient's border products too
    from shenjing._ops import conv
    from shenjing.nn._functional.conv import conv2d_max_pool2d

    narrow = products == "R rows and border products"
    use_fused_product(monkeypatch, "rows" if narrow else products)
    if narrow:
        monkeypatch.setattr(conv, "ROWS_MIN_WIDTH", 0)
        monkeypatch.setattr(conv, "BORDER_MIN_WIDTH", 0)

    from helpers import check_op

    rng = np.random.default_rng(7)
    check_op(lambda x, w, b: conv2d_max_pool2d(x, w, b, stride=stride, padding=1),
             lambda x, w, b: TF.max_pool2d(TF.conv2d(x, w, b, stride=stride, padding=1), 2),
             rng.standard_normal((2, 2, 8, 7)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3))
