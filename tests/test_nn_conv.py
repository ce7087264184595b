"""conv1d / conv2d (im2col + GEMM) and the Conv1d / Conv2d layers, against PyTorch 2.13, against central
differences, and against a reference convolution composed of slicing and matrix products."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import shenjing as sj
import shenjing.nn.functional as F
from shenjing import nn
from helpers import assert_close, check_op

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")

RNG = np.random.default_rng(20240531)


def randn(*shape):
    return RNG.standard_normal(shape)


def conv2d_reference(x, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """The textbook definition, composed of differentiable shenjing ops (no im2col):

    y[:, o, i, j] = b[o] + sum_{p, q} x_pad[:, group(o) channels, s*i + d*p, s*j + d*q] . w[o, :, p, q]
    """
    (sh, sw), (dh, dw), ((pt, pb), (pl, pr)) = stride, dilation, padding
    x = F.pad(x, (pl, pr, pt, pb))
    n, c, hp, wp = x.shape
    o, cg, kh, kw = w.shape
    oh, ow = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    outputs = []
    for g in range(groups):
        xg, wg = x[:, g * cg:(g + 1) * cg], w[g * (o // groups):(g + 1) * (o // groups)]
        total = 0
        for p in range(kh):
            for q in range(kw):
                window = xg[:, :, p * dh:p * dh + sh * (oh - 1) + 1:sh, q * dw:q * dw + sw * (ow - 1) + 1:sw]
                total = total + window.permute(0, 2, 3, 1) @ wg[:, :, p, q].t()  # (N, OH, OW, O/g)
        outputs.append(total.permute(0, 3, 1, 2))
    y = sj.cat(outputs, 1)
    return y if b is None else y + b.view(1, -1, 1, 1)


# -- conv2d against PyTorch ------------------------------------------------------------------------

CONV2D_CASES = [
    # input shape, weight shape, keyword arguments
    ((2, 3, 7, 6), (4, 3, 3, 2), {}),
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(stride=2, padding=1)),
    ((1, 4, 9, 8), (6, 2, 3, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2)),
    ((2, 4, 6, 7), (8, 1, 3, 3), dict(padding="same", groups=4)),  # depthwise, channel multiplier 2
    ((1, 3, 8, 7), (2, 3, 2, 4), dict(padding="same")),  # even kernels: one more on the bottom/right
    ((1, 2, 8, 8), (3, 2, 2, 3), dict(padding="same", dilation=(3, 2))),
    ((2, 3, 9, 7), (5, 3, 3, 3), dict(padding="valid", stride=3)),
    ((1, 3, 5, 5), (2, 3, 5, 5), {}),  # the kernel covers the whole input: one output pixel
    ((2, 2, 11, 3), (2, 2, 4, 1), dict(stride=(3, 1), dilation=(2, 1))),  # rows left over at the end
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV2D_CASES)
def test_conv2d_matches_torch(x_shape, w_shape, kwargs):
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kwargs), lambda x, w, b: TF.conv2d(x, w, b, **kwargs),
             randn(*x_shape), randn(*w_shape), randn(w_shape[0]), numeric=False)


def test_conv2d_central_differences_small():
    # float64 gradients of input, weight and bias against central differences (and torch)
    check_op(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2), groups=2),
             lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2), groups=2),
             randn(1, 4, 5, 6), randn(2, 2, 2, 3), randn(2))


def test_conv2d_without_bias_and_unbatched_input():
    check_op(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
             randn(3, 5, 4), randn(2, 3, 3, 3))


def _padding_pairs(padding, kernel, dilation):
    """(before, after) per axis by PyTorch's documented rule: 'same' pads d*(k-1) in all, the odd one after."""
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))
    padding = (padding, padding) if isinstance(padding, int) else padding
    return tuple((p, p) for p in padding)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV2D_CASES)
def test_conv2d_matches_composed_reference(x_shape, w_shape, kwargs):
    x, w, b = (sj.tensor(a, requires_grad=True) for a in (randn(*x_shape), randn(*w_shape), randn(w_shape[0])))
    stride = kwargs.get("stride", 1)
    stride = (stride, stride) if isinstance(stride, int) else stride
    dilation = kwargs.get("dilation", 1)
    dilation = (dilation, dilation) if isinstance(dilation, int) else dilation
    padding = _padding_pairs(kwargs.get("padding", 0), w_shape[2:], dilation)
    fast = F.conv2d(x, w, b, **kwargs)
    reference = conv2d_reference(x, w, b, stride, padding, dilation, kwargs.get("groups", 1))
    upstream = sj.tensor(randn(*fast.shape))
    grads_fast = sj.autograd.grad(fast, (x, w, b), upstream)
    grads_reference = sj.autograd.grad(reference, (x, w, b), upstream)
    assert_close(fast.detach().numpy(), reference.detach().numpy(), np.float64, "forward")
    for name, a, e in zip("xwb", grads_fast, grads_reference):
        assert_close(a.numpy(), e.numpy(), np.float64, f"gradient of {name}")


def test_same_padding_of_even_kernel_puts_the_extra_row_after():
    # a 2x2 kernel that picks its top-left tap: 'same' pads 0 before and 1 after, so y == x
    x = sj.tensor(randn(1, 1, 4, 5))
    w = sj.tensor([[[[1.0, 0.0], [0.0, 0.0]]]], dtype=sj.float64)
    assert_close(F.conv2d(x, w, padding="same").numpy(), x.numpy())


def test_conv2d_is_float32_end_to_end():
    x = sj.tensor(randn(2, 3, 6, 6).astype(np.float32), requires_grad=True)
    w = sj.tensor(randn(4, 3, 3, 3).astype(np.float32), requires_grad=True)
    b = sj.tensor(randn(4).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w, b, padding=1)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == w.grad.dtype == b.grad.dtype == sj.float32
    assert y.grad_fn.name() == "ConvolutionBackward0"


def test_conv2d_double_backward_matches_torch():
    x_np, w_np = randn(2, 4, 6, 5), randn(6, 2, 3, 2)

    def run(lib, conv):
        x, w = lib.tensor(x_np, requires_grad=True), lib.tensor(w_np, requires_grad=True)
        y = conv(x, w, None, (2, 1), (1, 0), (1, 2), 2)
        gx, gw = lib.autograd.grad((y * y).sum(), (x, w), create_graph=True)
        ((gx ** 3).sum() + (gw * gw.sin()).sum()).backward()
        return x.grad.detach().numpy(), w.grad.detach().numpy()

    for actual, expected in zip(run(sj, F.conv2d), run(torch, TF.conv2d)):
        assert_close(actual, expected)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_conv2d_random_configurations(data):
    groups = data.draw(st.integers(1, 3), "groups")
    cg, og = data.draw(st.integers(1, 2), "in per group"), data.draw(st.integers(1, 2), "out per group")
    kh, kw = data.draw(st.integers(1, 3), "KH"), data.draw(st.integers(1, 3), "KW")
    sh, sw = data.draw(st.integers(1, 3), "SH"), data.draw(st.integers(1, 3), "SW")
    dh, dw = data.draw(st.integers(1, 2), "DH"), data.draw(st.integers(1, 2), "DW")
    ph, pw = data.draw(st.integers(0, 2), "PH"), data.draw(st.integers(0, 2), "PW")
    h = data.draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 8), "H")
    w = data.draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 8), "W")
    n = data.draw(st.integers(1, 2), "N")
    kwargs = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups)
    x_np, w_np, b_np = randn(n, cg * groups, h, w), randn(og * groups, cg, kh, kw), randn(og * groups)
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kwargs), lambda x, w, b: TF.conv2d(x, w, b, **kwargs),
             x_np, w_np, b_np, numeric=False, dtypes=(np.float64,))
    reference = conv2d_reference(sj.tensor(x_np), sj.tensor(w_np), sj.tensor(b_np), (sh, sw),
                                 ((ph, ph), (pw, pw)), (dh, dw), groups)
    assert_close(F.conv2d(sj.tensor(x_np), sj.tensor(w_np), sj.tensor(b_np), **kwargs).numpy(),
                 reference.numpy())


# -- conv1d ----------------------------------------------------------------------------------------

CONV1D_CASES = [
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 4, 10), (6, 2, 3), dict(stride=2, padding=2, dilation=2, groups=2)),
    ((1, 3, 8), (2, 3, 4), dict(padding="same")),
    ((2, 2, 7), (2, 2, 7), dict(padding="valid")),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV1D_CASES)
def test_conv1d_matches_torch(x_shape, w_shape, kwargs):
    check_op(lambda x, w, b: F.conv1d(x, w, b, **kwargs), lambda x, w, b: TF.conv1d(x, w, b, **kwargs),
             randn(*x_shape), randn(*w_shape), randn(w_shape[0]), numeric=False)


def test_conv1d_central_differences_and_unbatched():
    check_op(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), lambda x, w, b: TF.conv1d(x, w, b, stride=2,
             padding=1), randn(2, 7), randn(3, 2, 3), randn(3))


# -- argument and shape errors ---------------------------------------------------------------------

def test_conv2d_errors_name_the_shapes():
    w = sj.randn(6, 3, 5, 5)
    with pytest.raises(RuntimeError, match=r"weight of size \[6, 3, 5, 5\], expected input\[1, 1, 32, 32\] to "
                                           r"have 3 channels, but got 1"):
        F.conv2d(sj.randn(1, 1, 32, 32), w)
    with pytest.raises(RuntimeError, match=r"got input of size: \[3, 32\]"):
        F.conv2d(sj.randn(3, 32), w)
    with pytest.raises(RuntimeError, match=r"expected bias to be 1-dimensional with 6 elements, but got bias of "
                                           r"size \[5\]"):
        F.conv2d(sj.randn(1, 3, 8, 8), w, sj.randn(5))
    with pytest.raises(RuntimeError, match=r"divisible by 2 at dimension 0"):
        F.conv2d(sj.randn(1, 4, 8, 8), sj.randn(3, 2, 3, 3), groups=2)
    with pytest.raises(RuntimeError, match=r"float64.*float32"):
        F.conv2d(sj.randn(1, 3, 8, 8, dtype=sj.float64), w)


def test_kernel_larger_than_input_explains_the_output_size_formula():
    with pytest.raises(RuntimeError) as error:
        F.conv2d(sj.randn(1, 3, 3, 3), sj.randn(6, 3, 5, 5), padding=0)
    assert "⌊(n+2p−d(f−1)−1)/s⌋+1 = ⌊(3+2·0−1·(5−1)−1)/1⌋+1 = -1" in str(error.value)


@pytest.mark.parametrize("kwargs, message", [
    (dict(stride=0), "stride must be positive"),
    (dict(dilation=0), "dilation must be positive"),
    (dict(padding=-1), "padding must be non-negative"),
    (dict(padding="full"), "padding must be 'same', 'valid'"),
    (dict(padding="same", stride=2), "padding='same' is not supported for strided convolutions"),
    (dict(stride=(1, 2, 3)), "stride must be an int or a tuple of 2 ints"),
])
def test_conv2d_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        F.conv2d(sj.randn(1, 3, 8, 8), sj.randn(2, 3, 3, 3), **kwargs)


# -- the layers ------------------------------------------------------------------------------------

LAYER_CASES = [
    (nn.Conv2d, torch.nn.Conv2d, (3, 6, 5), {}, (2, 3, 12, 11)),
    (nn.Conv2d, torch.nn.Conv2d, (4, 6, (3, 2)), dict(stride=2, padding=(1, 0), dilation=(1, 2), groups=2,
                                                       bias=False), (2, 4, 9, 9)),
    (nn.Conv2d, torch.nn.Conv2d, (2, 4, 4), dict(padding="same", padding_mode="reflect"), (1, 2, 7, 6)),
    (nn.Conv2d, torch.nn.Conv2d, (2, 4, 3), dict(padding=2, padding_mode="circular"), (2, 2, 5, 6)),
    (nn.Conv2d, torch.nn.Conv2d, (2, 3, 3), dict(padding=1, padding_mode="replicate", stride=2), (2, 7, 6)),
    (nn.Conv1d, torch.nn.Conv1d, (3, 4, 3), dict(stride=2, padding=1), (2, 3, 10)),
    (nn.Conv1d, torch.nn.Conv1d, (4, 4, 2), dict(padding="same", groups=4, padding_mode="reflect"), (4, 9)),
]


@pytest.mark.parametrize("layer, torch_layer, args, kwargs, input_shape", LAYER_CASES)
def test_layer_with_torch_weights_matches_torch(layer, torch_layer, args, kwargs, input_shape):
    ours, theirs = layer(*args, **kwargs), torch_layer(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with sj.no_grad():
        for name, parameter in ours.named_parameters():
            expected = dict(theirs.named_parameters())[name]
            assert tuple(parameter.shape) == tuple(expected.shape)
            parameter.copy_(sj.tensor(expected.detach().numpy()))
    x_np = RNG.standard_normal(input_shape).astype(np.float32)
    x, x_t = sj.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y, y_t = ours(x), theirs(x_t)
    assert_close(y.detach().numpy(), y_t.detach().numpy(), np.float32, "forward")
    upstream = RNG.standard_normal(tuple(y_t.shape)).astype(np.float32)
    y.backward(sj.tensor(upstream))
    y_t.backward(torch.tensor(upstream))
    assert_close(x.grad.numpy(), x_t.grad.numpy(), np.float32, "input gradient")
    for name, parameter in ours.named_parameters():
        assert_close(parameter.grad.numpy(), dict(theirs.named_parameters())[name].grad.numpy(), np.float32, name)


def test_conv2d_layer_default_init_and_shapes():
    sj.manual_seed(0)
    conv = nn.Conv2d(3, 6, 5)
    bound = 1 / np.sqrt(3 * 5 * 5)
    assert tuple(conv.weight.shape) == (6, 3, 5, 5) and tuple(conv.bias.shape) == (6,)
    for parameter in (conv.weight, conv.bias):
        values = parameter.detach().numpy()
        assert parameter.dtype == sj.float32 and parameter.requires_grad
        assert np.all(np.abs(values) <= bound) and np.abs(values).max() > 0.8 * bound
    assert sum(p.numel() for p in conv.parameters()) == 456
    grouped = nn.Conv2d(4, 8, 3, groups=2)
    assert tuple(grouped.weight.shape) == (8, 2, 3, 3)
    largest = np.abs(grouped.weight.detach().numpy()).max()
    assert 0.8 / np.sqrt(2 * 9) < largest <= 1 / np.sqrt(2 * 9)  # fan_in counts one group's channels
    sj.manual_seed(0)
    again = nn.Conv2d(3, 6, 5)
    assert np.array_equal(again.weight.detach().numpy(), conv.weight.detach().numpy())


@pytest.mark.parametrize("kwargs, message", [
    (dict(in_channels=3, out_channels=6, kernel_size=3, groups=2), r"in_channels \(3\) must be divisible by groups"),
    (dict(in_channels=4, out_channels=6, kernel_size=3, groups=4), r"out_channels \(6\) must be divisible by groups"),
    (dict(in_channels=3, out_channels=6, kernel_size=3, stride=2, padding="same"), r"padding='same'"),
    (dict(in_channels=3, out_channels=6, kernel_size=0), r"kernel_size must be positive"),
    (dict(in_channels=0, out_channels=6, kernel_size=3), r"in_channels must be a positive integer"),
    (dict(in_channels=3, out_channels=6, kernel_size=3, padding_mode="mirror"), r"padding_mode must be one of"),
    (dict(in_channels=3, out_channels=6, kernel_size=3, stride=0), r"stride must be positive"),
])
def test_conv2d_layer_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Conv2d(**kwargs)


def test_conv_layer_input_errors_name_layer_and_shapes():
    conv = nn.Conv2d(3, 6, 5)
    with pytest.raises(RuntimeError) as error:
        conv(sj.randn(1, 1, 32, 32))
    assert str(error.value) == ("Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1)) expects input [N, 3, H, W], "
                                "got [1, 1, 32, 32]")
    with pytest.raises(RuntimeError, match=r"expects input \[N, 3, H, W\].*got \[32, 32\]"):
        conv(sj.randn(32, 32))
    with pytest.raises(RuntimeError) as error:
        conv(sj.randn(1, 3, 4, 32))
    message = str(error.value)
    assert message.startswith("Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))") and "along H" in message
    assert "⌊(4+2·0−1·(5−1)−1)/1⌋+1 = 0" in message
    with pytest.raises(RuntimeError, match=r"Conv1d\(2, 4, kernel_size=\(3,\), stride=\(1,\)\) expects input "
                                           r"\[N, 2, L\], got \[1, 3, 9\]"):
        nn.Conv1d(2, 4, 3)(sj.randn(1, 3, 9))


# -- im2col / col2im against their one-gather / np.add.at references ---------------------

def _reference_indices(kernel, out, geometry):
    """Index arrays (KH, 1, OH, 1) and (1, KW, 1, OW): padded row s_h*i + d_h*p and column s_w*j + d_w*q."""
    (sh, sw), (dh, dw) = geometry.stride, geometry.dilation
    rows = dh * np.arange(kernel[0])[:, None] + sh * np.arange(out[0])[None, :]
    columns = dw * np.arange(kernel[1])[:, None] + sw * np.arange(out[1])[None, :]
    return rows[:, None, :, None], columns[None, :, None, :]


def im2col_reference(x, kernel, geometry):
    """im2col as one gather, straight from the definition: (C, KH, KW, OH, OW, N)."""
    from shenjing._ops.conv import output_size

    (pt, pb), (pl, pr) = geometry.padding
    xpad = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    rows, columns = _reference_indices(kernel, output_size(x.shape[2:], kernel, geometry), geometry)
    return xpad[:, :, rows, columns].transpose(1, 2, 3, 4, 5, 0)


def col2im_reference(cols, input_shape, geometry):
    """col2im as one np.add.at through the same indices."""
    n, c, h, w = input_shape
    (pt, pb), (pl, pr) = geometry.padding
    padded = np.zeros((n, c, h + pt + pb, w + pl + pr), dtype=cols.dtype)
    rows, columns = _reference_indices(cols.shape[1:3], cols.shape[3:5], geometry)
    np.add.at(padded, (slice(None), slice(None), rows, columns), cols.transpose(5, 0, 1, 2, 3, 4))
    return padded[:, :, pt:pt + h, pl:pl + w]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_im2col_and_col2im_match_their_references(data):
    from shenjing._ops.conv import ConvGeometry, col2im, im2col

    kh, kw = data.draw(st.integers(1, 4), "KH"), data.draw(st.integers(1, 4), "KW")
    sh, sw = data.draw(st.integers(1, 3), "SH"), data.draw(st.integers(1, 3), "SW")
    dh, dw = data.draw(st.integers(1, 2), "DH"), data.draw(st.integers(1, 2), "DW")
    pads = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in "HW")
    h = data.draw(st.integers(max(1, dh * (kh - 1) + 1 - sum(pads[0])), 9), "H")
    w = data.draw(st.integers(max(1, dw * (kw - 1) + 1 - sum(pads[1])), 9), "W")
    n, c = data.draw(st.integers(1, 3), "N"), data.draw(st.integers(1, 3), "C")
    geometry = ConvGeometry((sh, sw), pads, (dh, dw))
    x = RNG.standard_normal((n, c, h, w)).astype(np.float32)
    cols = im2col(x, (kh, kw), geometry)
    np.testing.assert_array_equal(cols, im2col_reference(x, (kh, kw), geometry))
    upstream = RNG.standard_normal(cols.shape).astype(np.float32)
    dx = col2im(upstream, x.shape, geometry)
    assert dx.dtype == np.float32 and dx.flags.c_contiguous
    np.testing.assert_allclose(dx, col2im_reference(upstream, x.shape, geometry), rtol=1e-5, atol=1e-5)
    # the adjoint identity <im2col(x), u> = <x, col2im(u)>, within float32 rounding of the terms (the sums
    # can cancel to near 0, where a relative tolerance alone fails: 1 run in ~30)
    scale = float(np.vdot(np.abs(cols), np.abs(upstream)))
    np.testing.assert_allclose(np.vdot(cols.astype(np.float64), upstream), np.vdot(x.astype(np.float64), dx),
                               rtol=1e-4, atol=1e-6 * scale)


def test_conv2d_bias_gradient_is_differentiable_like_torch():
    x_np, w_np, b_np = randn(3, 4, 7, 6), randn(6, 2, 3, 2), randn(6)

    def run(lib, conv):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
        y = conv(x, w, b, (2, 1), (1, 0), (1, 2), 2)
        gx, gw, gb = lib.autograd.grad((y * y).sum(), (x, w, b), create_graph=True)
        ((gx ** 3).sum() + (gw * gw.sin()).sum() + (gb ** 3).sum()).backward()
        return [t.grad.detach().numpy() for t in (x, w, b)]

    for actual, expected in zip(run(sj, F.conv2d), run(torch, TF.conv2d)):
        assert_close(actual, expected)


def test_conv2d_of_an_empty_batch_like_torch():
    check_op(lambda x, w, b: F.conv2d(x, w, b), lambda x, w, b: TF.conv2d(x, w, b),
             randn(0, 2, 5, 5), randn(3, 2, 3, 3), randn(3), numeric=False)


def test_conv2d_under_no_grad_keeps_nothing_for_backward():
    w = sj.tensor(randn(4, 3, 3, 3).astype(np.float32), requires_grad=True)
    with sj.no_grad():
        y = F.conv2d(sj.tensor(randn(2, 3, 8, 8).astype(np.float32)), w)
    assert y.grad_fn is None and not y.requires_grad


# -- training on row patches (Conv2d._forward_row_windows) -----------------------------------------

ROW_WINDOW_CASES = [
    # input shape, weight shape, keyword arguments, a view of the input taken inside the op (or None)
    ((2, 3, 9, 8), (4, 3, 3, 2), {}, None),
    ((2, 3, 9, 8), (4, 3, 3, 3), dict(stride=2, padding=1), None),  # the input gradient through col2im
    ((3, 2, 10, 7), (2, 2, 3, 3), dict(stride=(3, 1), padding=(2, 0)), None),  # rows of the padding left over
    ((2, 2, 9, 11), (3, 2, 2, 3), dict(stride=(1, 2), padding=(0, 2), dilation=(1, 2)), None),  # along W only
    ((1, 3, 6, 6), (5, 3, 1, 3), dict(padding=1), None),  # one kernel row, batch of one
    ((2, 2, 5, 9), (3, 2, 4, 1), dict(dilation=(1, 3)), None),  # one kernel column
    ((1, 3, 8, 7), (2, 3, 2, 4), dict(padding="same"), None),  # even kernels: one more padded row below
    ((1, 3, 5, 5), (2, 3, 5, 5), {}, None),  # one output pixel
    ((2, 3, 14, 9), (4, 3, 3, 3), dict(padding=1), (slice(None), slice(None), slice(None, None, 2))),  # strided
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs, view", ROW_WINDOW_CASES)
def test_conv2d_through_the_chosen_algorithm_matches_torch(x_shape, w_shape, kwargs, view):
    # through F.conv2d (each algorithm on its own: tests/test_conv_kernels.py), a strided view of the input too
    view = view or (slice(None),)
    check_op(lambda x, w, b: F.conv2d(x[view], w, b, **kwargs), lambda x, w, b: TF.conv2d(x[view], w, b, **kwargs),
             randn(*x_shape), randn(*w_shape), randn(w_shape[0]), numeric=False)


@pytest.mark.parametrize("kwargs", [dict(padding=(1, 0), dilation=(1, 2)), dict(stride=(2, 1), padding=1)])
def test_conv2d_on_row_windows_double_backward_matches_torch(kwargs):
    x_np, w_np, b_np = randn(2, 3, 7, 6), randn(4, 3, 3, 2), randn(4)

    def run(lib, conv):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
        y = conv(x, w, b, **kwargs)
        gx, gw, gb = lib.autograd.grad((y * y).sum(), (x, w, b), create_graph=True)
        ((gx ** 3).sum() + (gw * gw.sin()).sum() + (gb ** 3).sum()).backward()
        return [t.grad.detach().numpy() for t in (x, w, b)]

    for actual, expected in zip(run(sj, F.conv2d), run(torch, TF.conv2d)):
        assert_close(actual, expected)


def test_rows_per_product_fills_about_24_product_rows_within_the_band_limit():
    from shenjing._ops.kernels.conv import _row_groups, rows_per_product

    wide = 28 * 64  # OW*N columns: batch 64
    assert rows_per_product(6, 5, 1, 28, wide) == 4  # LeNet-5's and CourseCNN's conv1: span 8 = 1.6 * KH
    assert rows_per_product(6, 5, 1, 28, 28) == 1  # the same at batch 1: too narrow to gain
    assert rows_per_product(16, 5, 1, 10, wide) == 1  # conv2: 16 rows already
    assert rows_per_product(8, 3, 1, 30, wide) == 2  # 3 would need span 5 > 1.6 * 3
    assert rows_per_product(6, 5, 2, 28, wide) == 2  # stride 2: span 2 * (R-1) + 5 <= 8
    assert rows_per_product(1, 1, 1, 9, wide) == 1  # a 1x1 kernel: any band doubles the work
    assert rows_per_product(2, 5, 1, 2, wide) == 2  # no more than the output rows
    assert _row_groups(28, 4) == [(0, 4, 7)] and _row_groups(10, 4) == [(0, 4, 2), (8, 2, 1)]
    assert _row_groups(3, 4) == [(0, 3, 1)]


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_conv2d_rows_at_once_keeps_an_inf_or_nan_in_the_windows_that_see_it(bad):
    # R output rows per product multiply the band's zeros with rows that an output row doesn't see: with an
    # inf there, 0 * inf would make NaN where PyTorch has finite values, so such inputs take R = 1
    from shenjing._ops.kernels import conv

    x_np = randn(12, 3, 16, 12)  # output 12 x 8: products 8 * 12 = 96 columns wide (ROWS_MIN_WIDTH)
    x_np[1, 2, 13, 4] = bad
    assert conv.rows_per_product(6, 5, 1, 12, 96) == 4
    for dtype in (np.float32, np.float64):
        x, w, b = sj.tensor(x_np.astype(dtype)), sj.tensor(randn(6, 3, 5, 5).astype(dtype), requires_grad=True), None
        y = F.conv2d(x, w, b)
        y_t = TF.conv2d(torch.tensor(x_np.astype(dtype)), torch.tensor(w.detach().numpy()))
        finite = np.isfinite(y_t.numpy())
        assert not finite.all() and finite[0].all()  # sample 0 and the rows of sample 1 that miss the pixel
        np.testing.assert_array_equal(np.isfinite(y.detach().numpy()), finite)
        np.testing.assert_allclose(y.detach().numpy()[finite], y_t.numpy()[finite], rtol=1e-4, atol=1e-4)


def _check_conv_like_torch(x_np, w_np, b_np, dtype, x_grad=True, view=(slice(None),), **kwargs):
    """conv2d(x[view], w, b) and the gradients of x, w, b against torch. Long sums in float32 (the weight
    gradient adds N*OH*OW products) are compared within float32 rounding relative to their largest value:
    1e-5 of it, since a sum of ~10^4 unit terms that cancels to ~0.25 differs by ~1.5e-4 between summation
    orders (1e-6 failed for 1 data set in 60)."""
    arrays = [a.astype(dtype) for a in (x_np, w_np, b_np)]
    ours = [sj.tensor(a, requires_grad=need) for a, need in zip(arrays, (x_grad, True, True))]
    theirs = [torch.tensor(a, requires_grad=need) for a, need in zip(arrays, (x_grad, True, True))]
    y, y_t = F.conv2d(ours[0][view], *ours[1:], **kwargs), TF.conv2d(theirs[0][view], *theirs[1:], **kwargs)
    upstream = randn(*y_t.shape).astype(dtype)
    y.backward(sj.tensor(upstream))
    y_t.backward(torch.tensor(upstream))
    pairs = [("forward", y.detach().numpy(), y_t.detach().numpy())]
    pairs += [(f"gradient of {name}", a.grad.numpy(), e.grad.numpy())
              for name, a, e in zip("xwb", ours, theirs) if e.requires_grad]
    assert y.dtype == ours[1].grad.dtype == SJ_DTYPE[dtype]
    for what, actual, expected in pairs:
        scale = np.abs(expected).max() if expected.size else 0
        np.testing.assert_allclose(actual, expected, rtol=1e-4 if dtype == np.float32 else 1e-9,
                                   atol=(1e-5 if dtype == np.float32 else 1e-12) * scale, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_course_cnn_conv1_trains_on_row_windows_like_torch(dtype):
    # CourseCNN's conv1 (3 -> 6, 5x5, its input without gradient: no input gradient) and conv2 (with one)
    _check_conv_like_torch(randn(5, 3, 32, 32), randn(6, 3, 5, 5), randn(6), dtype, x_grad=False)
    _check_conv_like_torch(randn(5, 6, 14, 14), randn(16, 6, 5, 5), randn(16), dtype)


SJ_DTYPE = {np.float32: sj.float32, np.float64: sj.float64}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [20, 3])
def test_conv2d_with_samples_a_multiple_of_2k_apart_matches_torch(dtype, n):
    # one sample of x (2, 16, 32), of dY (4, 16, 32) and of dx is a multiple of 2 KiB (the stride at which
    # copies between layouts meet cache-set aliasing); a strided input (every other channel of 4) as well
    _check_conv_like_torch(randn(n, 2, 16, 32), randn(4, 2, 3, 3), randn(4), dtype, padding=1)
    every_other_channel = (slice(None), slice(None, None, 2))
    _check_conv_like_torch(randn(n, 4, 16, 32), randn(4, 2, 3, 3), randn(4), dtype, view=every_other_channel, padding=1)


def test_conv2d_on_row_windows_central_differences():
    # one group, row dilation 1: the row windows; float64 gradients of input, weight and bias against central
    # differences
    check_op(lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=1),
             lambda x, w, b: TF.conv2d(x, w, b, stride=(1, 2), padding=1),
             randn(2, 3, 5, 6), randn(2, 3, 3, 2), randn(2))


def test_conv_layer_follows_its_attributes_changed_after_construction():
    # as in PyTorch, forward reads padding, stride, dilation and padding_mode as they are now
    ours, theirs = nn.Conv2d(2, 3, 3), torch.nn.Conv2d(2, 3, 3)
    ours.weight.data = sj.tensor(theirs.weight.detach().numpy())
    ours.bias.data = sj.tensor(theirs.bias.detach().numpy())
    x = randn(1, 2, 7, 6).astype(np.float32)
    changes = [dict(padding=(1, 1)), dict(padding=(2, 0), stride=(2, 1)), dict(dilation=(2, 1)),
               dict(padding=(1, 2), padding_mode="reflect"), dict(padding=(1, 1), padding_mode="circular")]
    for change in changes:
        for name, value in change.items():
            setattr(ours, name, value)
            setattr(theirs, name, value)
        if "padding" in change and ours.padding_mode != "zeros":  # torch keeps F.pad's order for these modes
            theirs._reversed_padding_repeated_twice = [p for p in reversed(change["padding"]) for _ in range(2)]
        assert_close(ours(sj.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), np.float32,
                     str(change))
    small = nn.Conv2d(1, 1, 5, padding=2)
    assert small(sj.randn(1, 1, 3, 3)).shape == (1, 1, 3, 3)
    small.padding = (0, 0)
    with pytest.raises(RuntimeError, match=r"Conv2d\(1, 1, kernel_size=\(5, 5\).*along H"):
        small(sj.randn(1, 1, 3, 3))
