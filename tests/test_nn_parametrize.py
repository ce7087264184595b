"""nn.utils.parametrize, nn.utils.parametrizations (orthogonal, spectral_norm, weight_norm), the old-style
spectral_norm hooks and stateless/func.functional_call, against PyTorch: values, state_dict names,
gradients to the originals."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch

import shenjing as sj

P = sj.nn.utils.parametrize


def _load_from(ours, theirs):
    ours.load_state_dict({k: sj.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})


def _close(a, b, rtol=1e-9, atol=1e-11):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


def _symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(0, 1)

        def right_inverse(self, A):
            return A.triu()
    return Symmetric()


def _scale(lib, factor):
    class Scale(lib.nn.Module):
        def forward(self, X):
            return X * factor

        def right_inverse(self, A):
            return A / factor
    return Scale()


def _pair(make):
    torch.manual_seed(0)
    theirs = make(torch).double()
    ours = make(sj).double()
    ours.load_state_dict({k: sj.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def test_register_parametrization_layout_values_and_gradients():
    ours, theirs = _pair(lambda L: L.nn.Linear(3, 3))
    P.register_parametrization(ours, "weight", _symmetric(sj))
    torch.nn.utils.parametrize.register_parametrization(theirs, "weight", _symmetric(torch))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert type(ours).__name__ == type(theirs).__name__ == "ParametrizedLinear"
    assert P.type_before_parametrizations(ours) is sj.nn.Linear
    _close(ours.parametrizations.weight.original, theirs.parametrizations.weight.original)
    _close(ours.weight, theirs.weight)
    x = np.random.default_rng(0).standard_normal((4, 3))
    (ours(sj.tensor(x)) ** 2).sum().backward()
    (theirs(torch.tensor(x)) ** 2).sum().backward()
    _close(ours.parametrizations.weight.original.grad, theirs.parametrizations.weight.original.grad)
    assert P.is_parametrized(ours) and P.is_parametrized(ours, "weight") and not P.is_parametrized(ours, "bias")


def test_assignment_goes_through_right_inverse_and_stacking():
    ours, theirs = _pair(lambda L: L.nn.Linear(3, 3))
    for lib, m in ((sj, ours), (torch, theirs)):
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(lib))
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _scale(lib, 2.0))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _close(ours.weight, theirs.weight)
    value = np.arange(9.0).reshape(3, 3)
    value = value + value.T
    original = ours.parametrizations.weight.original
    ours.weight = sj.tensor(value)
    with torch.no_grad():
        theirs.weight = torch.tensor(value)
    assert ours.parametrizations.weight.original is original
    _close(ours.parametrizations.weight.original, theirs.parametrizations.weight.original)
    _close(ours.weight, theirs.weight)


@pytest.mark.parametrize("leave", [True, False])
def test_remove_parametrizations(leave):
    ours, theirs = _pair(lambda L: L.nn.Linear(3, 3))
    for lib, m in ((sj, ours), (torch, theirs)):
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _scale(lib, 3.0))
    original = ours.parametrizations.weight.original
    P.remove_parametrizations(ours, "weight", leave_parametrized=leave)
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight", leave_parametrized=leave)
    assert type(ours) is sj.nn.Linear and not hasattr(ours, "parametrizations")
    assert ours.weight is original and isinstance(ours.weight, sj.nn.Parameter)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight"]
    _close(ours.weight, theirs.weight)
    with pytest.raises(ValueError, match="does not have a parametrization"):
        P.remove_parametrizations(ours, "weight")


def test_parametrization_checks_shape_unless_unsafe_and_unknown_name():
    class Flatten(sj.nn.Module):
        def forward(self, X):
            return X.flatten()
    with pytest.raises(ValueError, match="shape"):
        P.register_parametrization(sj.nn.Linear(2, 2), "weight", Flatten())
    m = P.register_parametrization(sj.nn.Linear(2, 2), "weight", Flatten(), unsafe=True)
    assert m.weight.shape == (4,)
    with pytest.raises(ValueError, match="nope"):
        P.register_parametrization(sj.nn.Linear(2, 2), "nope", Flatten())


def test_cached_computes_once_and_deepcopy_works_but_pickle_refused():
    calls = []

    class Count(sj.nn.Module):
        def forward(self, X):
            calls.append(1)
            return X * 1.0
    m = P.register_parametrization(sj.nn.Linear(2, 2), "weight", Count())
    calls.clear()
    with P.cached():
        first, second = m.weight, m.weight
    assert first is second and len(calls) == 1
    m.weight, m.weight
    assert len(calls) == 3
    clone = copy.deepcopy(m)
    _close(clone.weight, m.weight)
    assert clone.parametrizations.weight.original is not m.parametrizations.weight.original
    import pickle
    with pytest.raises(RuntimeError, match="state_dict"):
        pickle.dumps(m)


@pytest.mark.parametrize("shape,orthogonal_map,trivial", [
    ((4, 4), None, True), ((4, 4), "cayley", True), ((4, 4), "householder", True),
    ((5, 3), None, True), ((3, 5), None, True), ((5, 3), "matrix_exp", True), ((3, 5), "cayley", True),
    ((5, 3), "householder", False), ((3, 5), "householder", False), ((4, 4), "householder", False)])
def test_orthogonal_matches_torch(shape, orthogonal_map, trivial):
    out_features, in_features = shape
    ours, theirs = _pair(lambda L: L.nn.Linear(in_features, out_features))
    sj.nn.utils.parametrizations.orthogonal(ours, orthogonal_map=orthogonal_map, use_trivialization=trivial)
    torch.nn.utils.parametrizations.orthogonal(theirs, orthogonal_map=orthogonal_map, use_trivialization=trivial)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _load_from(ours, theirs)  # the random completion of a non-square base, from torch
    _close(ours.weight, theirs.weight, rtol=1e-7, atol=1e-9)
    w = ours.weight.detach().numpy()
    small = min(shape)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-10)
    # gradients reach the unconstrained original, with a non-zero original
    with torch.no_grad():
        theirs.parametrizations.weight.original.add_(0.1 * torch.randn(shape, dtype=torch.float64))
    _load_from(ours, theirs)
    _close(ours.weight, theirs.weight, rtol=1e-7, atol=1e-9)
    target = np.random.default_rng(1).standard_normal(shape)
    ((ours.weight - sj.tensor(target)) ** 2).sum().backward()
    ((theirs.weight - torch.tensor(target)) ** 2).sum().backward()
    _close(ours.parametrizations.weight.original.grad, theirs.parametrizations.weight.original.grad,
           rtol=1e-6, atol=1e-9)


def test_orthogonal_errors_as_torch():
    with pytest.raises(ValueError, match="matrix or batch"):
        sj.nn.utils.parametrizations.orthogonal(sj.nn.BatchNorm1d(3))
    with pytest.raises(ValueError, match="orthogonal_map"):
        sj.nn.utils.parametrizations.orthogonal(sj.nn.Linear(2, 2), orthogonal_map="qr")
    m = sj.nn.utils.parametrizations.orthogonal(sj.nn.Linear(2, 2), use_trivialization=False)
    with pytest.raises(NotImplementedError):
        m.weight = sj.eye(2)


@pytest.mark.parametrize("make,dim", [(lambda L: L.nn.Linear(4, 3), None), (lambda L: L.nn.Conv2d(2, 3, 3), None),
                                      (lambda L: L.nn.ConvTranspose2d(2, 3, 3), None),
                                      (lambda L: L.nn.Conv2d(2, 3, 3), 2)])
def test_spectral_norm_parametrization_matches_torch(make, dim):
    ours, theirs = _pair(make)
    sj.nn.utils.parametrizations.spectral_norm(ours, n_power_iterations=2, dim=dim)
    torch.nn.utils.parametrizations.spectral_norm(theirs, n_power_iterations=2, dim=dim)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _load_from(ours, theirs)  # same u, v
    for _ in range(2):
        _close(ours.weight, theirs.weight)
    _close(ours.parametrizations.weight[0]._u, theirs.parametrizations.weight[0]._u)
    ours.eval(), theirs.eval()
    (ours.weight ** 3).sum().backward()
    (theirs.weight ** 3).sum().backward()
    _close(ours.parametrizations.weight.original.grad, theirs.parametrizations.weight.original.grad, rtol=1e-8)
    # the largest singular value of the normalised weight is about 1
    matrix = ours.parametrizations.weight[0]._reshape_weight_to_matrix(ours.weight.detach()).numpy()
    assert np.linalg.svd(matrix, compute_uv=False)[0] == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("dim", [0, 1, None, -1])
def test_weight_norm_parametrization_matches_torch(dim):
    ours, theirs = _pair(lambda L: L.nn.Linear(4, 3))
    sj.nn.utils.parametrizations.weight_norm(ours, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(theirs, dim=dim)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key in ours.state_dict():
        _close(ours.state_dict()[key], theirs.state_dict()[key])
    x = np.random.default_rng(2).standard_normal((2, 4))
    (ours(sj.tensor(x)) ** 2).sum().backward()
    (theirs(torch.tensor(x)) ** 2).sum().backward()
    for name in ("original0", "original1"):
        _close(getattr(ours.parametrizations.weight, name).grad, getattr(theirs.parametrizations.weight, name).grad)


@pytest.mark.parametrize("make,dim", [(lambda L: L.nn.Linear(4, 3), None), (lambda L: L.nn.Conv2d(2, 3, 3), None),
                                      (lambda L: L.nn.ConvTranspose2d(2, 3, 3), None),
                                      (lambda L: L.nn.Linear(4, 3), 1)])
def test_old_spectral_norm_matches_torch(make, dim):
    ours, theirs = _pair(make)
    sj.nn.utils.spectral_norm(ours, n_power_iterations=3, dim=dim)
    torch.nn.utils.spectral_norm(theirs, n_power_iterations=3, dim=dim)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict())[-2:] == ["weight_u", "weight_v"]
    _load_from(ours, theirs)  # torch's u and v
    shape = (2, 4) if isinstance(ours, sj.nn.Linear) else (1, 2, 5, 5)
    x = np.random.default_rng(3).standard_normal(shape)
    for _ in range(2):
        out, expected = ours(sj.tensor(x)), theirs(torch.tensor(x))
        _close(out, expected)
        _close(ours.weight_u, theirs.weight_u)
        _close(ours.weight_v, theirs.weight_v)
    (out ** 2).sum().backward()
    (expected ** 2).sum().backward()
    _close(ours.weight_orig.grad, theirs.weight_orig.grad, rtol=1e-8)
    ours.eval(), theirs.eval()
    u = ours.weight_u.numpy().copy()
    _close(ours(sj.tensor(x)), theirs(torch.tensor(x)))
    np.testing.assert_array_equal(ours.weight_u.numpy(), u)
    sj.nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _close(ours.weight, theirs.weight)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        sj.nn.utils.remove_spectral_norm(ours)


def test_old_spectral_norm_twice_refused():
    m = sj.nn.utils.spectral_norm(sj.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        sj.nn.utils.spectral_norm(m)


def test_functional_call_matches_torch_and_leaves_module_alone():
    ours, theirs = _pair(lambda L: L.nn.Sequential(L.nn.Linear(3, 4), L.nn.BatchNorm1d(4), L.nn.Linear(4, 2)))
    rng = np.random.default_rng(4)
    given = {"0.weight": rng.standard_normal((4, 3)), "2.bias": rng.standard_normal(2),
             "1.running_mean": rng.standard_normal(4)}
    ours_given = {k: sj.tensor(v, requires_grad="running" not in k) for k, v in given.items()}
    theirs_given = {k: torch.tensor(v, requires_grad="running" not in k) for k, v in given.items()}
    before = {k: v.numpy().copy() for k, v in ours.state_dict().items()}
    x = rng.standard_normal((5, 3))
    ours.eval(), theirs.eval()
    out = sj.func.functional_call(ours, ours_given, (sj.tensor(x),))
    expected = torch.func.functional_call(theirs, theirs_given, (torch.tensor(x),))
    _close(out, expected)
    out.sum().backward()
    expected.sum().backward()
    for key in given:
        if key != "1.running_mean":
            _close(ours_given[key].grad, theirs_given[key].grad)
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])
    assert ours[0].weight.grad is None
    with pytest.warns(FutureWarning, match="torch.func.functional_call"):
        sj.nn.utils.stateless.functional_call(ours, ours_given, sj.tensor(x))


def test_functional_call_tied_strict_and_split_dicts():
    class Tied(sj.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = sj.nn.Linear(2, 2, bias=False)
            self.b = sj.nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))
    m = Tied()
    w = sj.eye(2) * 2
    x = sj.ones(1, 2)
    assert sj.func.functional_call(m, {"a.weight": w}, x).tolist() == [[4.0, 4.0]]
    untied = sj.func.functional_call(m, {"a.weight": w}, x, tie_weights=False)
    np.testing.assert_allclose(untied.detach().numpy(), (x.numpy() @ w.numpy().T) @ m.a.weight.detach().numpy().T,
                               rtol=1e-6)
    with pytest.raises(RuntimeError, match="Missing key"):
        sj.func.functional_call(sj.nn.Linear(2, 2), {"weight": sj.ones(2, 2)}, x, strict=True)
    with pytest.raises(ValueError, match="multiple dictionaries"):
        sj.func.functional_call(sj.nn.Linear(2, 2), ({"weight": w}, {"weight": w}), x)
    out = sj.func.functional_call(sj.nn.Linear(2, 2), ({"weight": w}, {"bias": sj.zeros(2)}), x)
    assert out.tolist() == [[2.0, 2.0]]


def test_old_weight_norm_dim_minus_one_is_one_norm_as_torch():
    ours, theirs = _pair(lambda L: L.nn.Linear(4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sj.nn.utils.weight_norm(ours, dim=-1)
        torch.nn.utils.weight_norm(theirs, dim=-1)
    assert tuple(ours.weight_g.shape) == tuple(theirs.weight_g.shape) == ()
    _close(ours.weight_g, theirs.weight_g)


def _batched(lib):
    class Holder(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = lib.nn.Parameter(lib.randn(2, 4, 3, dtype=lib.float64))
    return Holder()


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
def test_orthogonal_on_a_batch_of_matrices(orthogonal_map):
    torch.manual_seed(1)
    theirs, ours = _batched(torch), _batched(sj)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    torch.nn.utils.parametrizations.orthogonal(theirs, orthogonal_map=orthogonal_map)
    sj.nn.utils.parametrizations.orthogonal(ours, orthogonal_map=orthogonal_map)
    _load_from(ours, theirs)
    _close(ours.weight, theirs.weight, rtol=1e-7, atol=1e-9)
    (ours.weight.sum(-1) ** 2).sum().backward()
    (theirs.weight.sum(-1) ** 2).sum().backward()
    _close(ours.parametrizations.weight.original.grad, theirs.parametrizations.weight.original.grad, atol=1e-9)


def test_remove_weight_norm_parametrization_as_torch():
    ours, theirs = _pair(lambda L: L.nn.Linear(4, 3))
    sj.nn.utils.parametrizations.weight_norm(ours)
    torch.nn.utils.parametrizations.weight_norm(theirs)
    with pytest.raises(ValueError, match="sequence of tensors"):
        P.remove_parametrizations(ours, "weight", leave_parametrized=False)
    P.remove_parametrizations(ours, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert isinstance(ours.weight, sj.nn.Parameter) and ours.weight.requires_grad
    _close(ours.weight, theirs.weight)


def test_functional_call_on_a_parametrized_module_as_torch():
    ours, theirs = _pair(lambda L: L.nn.Linear(2, 2))
    sj.nn.utils.parametrizations.weight_norm(ours)
    torch.nn.utils.parametrizations.weight_norm(theirs)
    x = np.ones((1, 2))
    w = 3 * np.eye(2)
    _close(sj.func.functional_call(ours, {"weight": sj.tensor(w)}, sj.tensor(x)),
           torch.func.functional_call(theirs, {"weight": torch.tensor(w)}, torch.tensor(x)))
    _close(ours.weight, theirs.weight)  # the parametrization is back after the call
    g = np.array([[2.0], [0.5]])
    key = "parametrizations.weight.original0"
    _close(sj.func.functional_call(ours, {key: sj.tensor(g)}, sj.tensor(x)),
           torch.func.functional_call(theirs, {key: torch.tensor(g)}, torch.tensor(x)))
