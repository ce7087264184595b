"""The nn ops that PyTorch exposes at the top level, called with the top level's (ATen's) signatures,
against PyTorch: values and gradients (float32, float64) and central differences."""

import numpy as np
import pytest
import torch

import shenjing as sj
from tests.helpers import Const, check_op

rng = np.random.default_rng(7)


def r(*shape):
    return rng.standard_normal(shape)


def both(name):
    return getattr(sj, name), getattr(torch, name)


@pytest.mark.parametrize("name, args", [
    ("conv1d", (r(2, 3, 7), r(4, 3, 3), r(4), 2, 1, 1, 1)),
    ("conv2d", (r(1, 2, 5, 5), r(3, 2, 3, 3), None, 1, 1, 1, 1)),
    ("conv3d", (r(1, 2, 3, 4, 4), r(2, 2, 2, 2, 2), r(2))),
    ("conv_transpose1d", (r(1, 2, 4), r(2, 3, 3), r(3), 2, 1, 1)),
    ("conv_transpose2d", (r(1, 2, 3, 3), r(2, 2, 2, 2), None, 1, 0, 0, 1, 1)),
    ("max_pool1d", (r(2, 3, 8), 2)),
    ("max_pool2d", (r(1, 2, 6, 6), 3, 2, 1)),
    ("max_pool3d", (r(1, 1, 4, 4, 4), 2)),
    ("avg_pool1d", (r(2, 3, 8), 3, 2, 1, False, False)),
    ("adaptive_avg_pool1d", (r(2, 3, 7), 3)),
    ("adaptive_max_pool1d", (r(2, 3, 7), 3)),
    ("celu", (r(3, 4), 0.7)),
    ("selu", (r(3, 4),)),
    ("threshold", (r(3, 4), 0.1, -2.0)),
    ("hardshrink", (r(3, 4), 0.3)),
    ("prelu", (r(2, 3, 4), np.array([0.1, 0.2, 0.3]))),
    ("rrelu", (r(3, 4), 0.1, 0.3, False)),
    ("pdist", (r(5, 3),)),
    ("pairwise_distance", (r(4, 3), r(4, 3), 1.5, 1e-6, True)),
    ("cosine_similarity", (r(4, 3), r(4, 3), 1, 1e-8)),
    ("pixel_shuffle", (r(1, 8, 2, 2), 2)),
    ("pixel_unshuffle", (r(1, 2, 4, 4), 2)),
    ("channel_shuffle", (r(1, 6, 2, 2), 3)),
    ("bilinear", (r(3, 2), r(3, 4), r(5, 2, 4), r(5))),
    ("layer_norm", (r(3, 4, 5), [5], r(5), r(5), 1e-5, True)),
    ("group_norm", (r(2, 6, 3), 3, r(6), r(6), 1e-5, True)),
    ("rms_norm", (r(3, 4), [4], r(4), 1e-6)),
    ("constant_pad_nd", (r(2, 3), [1, 2, 0, 1], 0.5)),
    ("norm_except_dim", (r(4, 3, 2), 2, 0)),
    ("norm_except_dim", (r(4, 3, 2), 3, 1)),
    ("norm_except_dim", (r(4, 3), 2, -1)),
])
def test_against_torch(name, args):
    check_op(*both(name), *args)


def test_convolution_dispatches_on_weight_dims_and_transposed():
    for transposed, weight in ((False, r(3, 2, 3, 3)), (True, r(2, 3, 3, 3))):
        check_op(sj.convolution, torch.convolution, r(1, 2, 5, 5), weight, r(3), [1, 1], [1, 1], [1, 1],
                 transposed, [0, 0], 1)


def test_batch_norm_and_instance_norm_take_weight_before_running_statistics():
    mean, var = np.zeros(3), np.ones(3) * 2
    check_op(lambda x, w, b: sj.batch_norm(x, w, b, sj.tensor(mean, dtype=x.dtype), sj.tensor(var, dtype=x.dtype), False, 0.1, 1e-5, True),
             lambda x, w, b: torch.batch_norm(x, w, b, torch.tensor(mean, dtype=x.dtype),
                                              torch.tensor(var, dtype=x.dtype), False, 0.1, 1e-5, True),
             r(4, 3, 2), r(3), r(3))
    check_op(lambda x, w, b: sj.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, True),
             lambda x, w, b: torch.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, True), r(4, 3, 2), r(3), r(3))
    check_op(lambda x, w, b: sj.instance_norm(x, w, b, None, None, True, 0.1, 1e-5, True),
             lambda x, w, b: torch.instance_norm(x, w, b, None, None, True, 0.1, 1e-5, True), r(2, 3, 5), r(3), r(3))


def test_embedding_takes_the_table_first():
    index = Const([[0, 2], [3, 0]])
    check_op(lambda w, i: sj.embedding(w, i, 0), lambda w, i: torch.embedding(w, i, 0), r(4, 3), index,
             numeric=False)  # the padding row gets no gradient by definition
    check_op(lambda w, i: sj.embedding(w, i), lambda w, i: torch.embedding(w, i), r(4, 3), index)


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_embedding_bag_returns_atens_four_outputs(mode):
    weight = r(6, 3)
    indices, offsets = np.array([0, 2, 1, 5, 5, 3]), np.array([0, 2, 2])
    ours = sj.embedding_bag(sj.tensor(weight), sj.tensor(indices), sj.tensor(offsets), False, mode)
    theirs = torch.embedding_bag(torch.tensor(weight), torch.tensor(indices), torch.tensor(offsets), False, mode)
    np.testing.assert_allclose(ours[0].numpy(), theirs[0].numpy(), rtol=1e-12)
    # (for 'sum', PyTorch's CPU kernel fills offset2bag only on some paths: not compared)
    for a, b in zip(ours[1 + (mode == 0):], theirs[1 + (mode == 0):]):
        if mode == 2 and b.ndim == 2:  # an empty bag's max index is not specified the same way: compare full bags
            b = b[[0, 2]]
            a = a[sj.tensor([0, 2])]
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    check_op(lambda w: sj.embedding_bag(w, sj.tensor(indices), sj.tensor(offsets), False, mode)[0],
             lambda w: torch.embedding_bag(w, torch.tensor(indices), torch.tensor(offsets), False, mode)[0], weight)


@pytest.mark.parametrize("reduction", [0, 1, 2])
def test_losses_take_reduction_as_an_int(reduction):
    x, y, z = r(4, 3), r(4, 3), r(4, 3)
    sign = Const(np.sign(r(4)) + (np.sign(r(4)) == 0))
    check_op(lambda a, t: sj.kl_div(a, t, reduction, log_target=True),
             lambda a, t: torch.kl_div(a, t, reduction, log_target=True), x, y)
    target01 = rng.uniform(size=(4, 3))
    w, pw = np.abs(r(3)), np.abs(r(3))
    check_op(lambda a, t: sj.binary_cross_entropy_with_logits(a, t, sj.tensor(w, dtype=a.dtype),
                                                               sj.tensor(pw, dtype=a.dtype), reduction),
             lambda a, t: torch.binary_cross_entropy_with_logits(a, t, torch.tensor(w, dtype=a.dtype),
                                                                 torch.tensor(pw, dtype=a.dtype), reduction),
             x, target01)
    check_op(lambda a, b, t: sj.cosine_embedding_loss(a, b, t, 0.1, reduction),
             lambda a, b, t: torch.cosine_embedding_loss(a, b, t, 0.1, reduction), x, y, sign)
    check_op(lambda a, t: sj.hinge_embedding_loss(a, t, 0.5, reduction),
             lambda a, t: torch.hinge_embedding_loss(a, t, 0.5, reduction), x, Const(np.sign(y) + (y == 0)))
    check_op(lambda a, b, t: sj.margin_ranking_loss(a, b, t, 0.2, reduction),
             lambda a, b, t: torch.margin_ranking_loss(a, b, t, 0.2, reduction), r(5), r(5), Const(np.sign(r(5))))
    check_op(lambda a, t: sj.poisson_nll_loss(a, t, True, True, 1e-8, reduction),
             lambda a, t: torch.poisson_nll_loss(a, t, True, True, 1e-8, reduction), x, np.abs(y) * 3)
    check_op(lambda a, p, n: sj.triplet_margin_loss(a, p, n, 1.0, 2.0, 1e-6, True, reduction),
             lambda a, p, n: torch.triplet_margin_loss(a, p, n, 1.0, 2.0, 1e-6, True, reduction), x, y, z)


def test_ctc_loss_top_level():
    log_probs = torch.randn(6, 2, 4, dtype=torch.float64).log_softmax(2).numpy()
    targets = Const([[1, 2, 1], [3, 1, 0]])
    check_op(lambda lp, t: sj.ctc_loss(lp, t, [6, 5], [3, 2], 0, 1, False),
             lambda lp, t: torch.ctc_loss(lp, t, [6, 5], [3, 2], 0, 1, False), log_probs, targets,
             numeric=False)  # PyTorch's CTC gradient assumes normalised log_probs: not a plain derivative


def test_reduction_must_be_an_int():
    with pytest.raises(ValueError, match="reduction"):
        sj.kl_div(sj.zeros(2), sj.zeros(2), "mean")


def test_dropouts_need_train_and_behave():
    x = sj.ones(4, 6, 5)
    assert sj.dropout(x, 0.5, False) is x or bool((sj.dropout(x, 0.5, False) == x).all())
    with pytest.raises(TypeError):
        sj.dropout(x, 0.5)  # train is required at the top level, as in PyTorch
    with pytest.raises(TypeError):
        torch.dropout(torch.ones(2), 0.5)
    y = sj.dropout(x, 0.5, True)
    assert set(np.unique(y.numpy())) <= {0.0, 2.0}
    channels = sj.feature_dropout(x, 0.5, True)
    per_channel = channels.numpy().reshape(4, 6, 5)
    assert np.all((per_channel == per_channel[:, :, :1]))
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    z = sj.ones(3, 4)
    assert sj.dropout_(z, 0.5, True) is z and set(np.unique(z.numpy())) <= {0.0, 2.0}
    assert bool((sj.alpha_dropout(x, 0.3, False) == x).all())
    w = sj.feature_alpha_dropout(sj.zeros(4, 6, 3), 0.5, True)
    assert np.all(w.numpy() == w.numpy()[:, :, :1])
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        sj.feature_dropout(sj.ones(3), 0.5, True)


def test_inplace_activations():
    for name in ("celu_", "selu_", "rrelu_"):
        data = r(3, 4)
        ours, theirs = sj.tensor(data), torch.tensor(data)
        assert getattr(sj, name)(ours) is ours
        getattr(torch, name)(theirs)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    data = r(3, 4)
    ours, theirs = sj.tensor(data), torch.tensor(data)
    sj.threshold_(ours, 0.0, 9.0)
    torch.threshold_(theirs, 0.0, 9.0)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_grid_sampler_integer_modes():
    grid = rng.uniform(-1, 1, size=(1, 3, 3, 2))
    for interpolation, padding in ((0, 0), (1, 1), (0, 2)):
        check_op(lambda x: sj.grid_sampler(x, sj.tensor(grid, dtype=x.dtype), interpolation, padding, False),
                 lambda x: torch.grid_sampler(x, torch.tensor(grid, dtype=x.dtype), interpolation, padding, False),
                 r(1, 2, 4, 4), numeric=interpolation == 0)


@pytest.mark.parametrize("name, gates", [("lstm", 4), ("gru", 3), ("rnn_tanh", 1), ("rnn_relu", 1)])
@pytest.mark.parametrize("bidirectional, batch_first, has_biases", [(False, False, True), (True, True, False)])
def test_recurrent_functions_with_flat_weights(name, gates, bidirectional, batch_first, has_biases):
    T, N, I, H, L = 3, 2, 3, 2, 2
    D = 2 if bidirectional else 1
    params = []
    for layer in range(L):
        for _ in range(D):
            inputs = I if layer == 0 else H * D
            params += [r(gates * H, inputs), r(gates * H, H)] + ([r(gates * H), r(gates * H)] if has_biases else [])
    x = r(N, T, I) if batch_first else r(T, N, I)
    h0 = r(L * D, N, H)
    count = len(params)

    def call(lib, x, h, *weights):
        hx = [h, h * 0.5] if name == "lstm" else h
        out = getattr(lib, name)(x, hx, list(weights), has_biases, L, 0.0, False, bidirectional, batch_first)
        return sum((o * (k + 1)).sum() for k, o in enumerate(out))

    check_op(lambda *a: call(sj, *a), lambda *a: call(torch, *a), x, h0, *params, numeric=False)
    assert count == L * D * (4 if has_biases else 2)


def test_recurrent_weight_count_is_checked():
    with pytest.raises(RuntimeError, match="expected 4 weight tensors"):
        sj.gru(sj.zeros(2, 1, 3), sj.zeros(1, 1, 2), [sj.zeros(6, 3)], True, 1, 0.0, False, False, False)
