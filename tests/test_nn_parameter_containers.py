"""ParameterList, ParameterDict and Bilinear against PyTorch 2.13 (registration, state_dict keys, reprs,
gradients)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shenjing as sj
import shenjing.nn.functional as F
from helpers import check_module, check_op
from shenjing import nn

RNG = np.random.default_rng(31)


def torch_repr_in_shenjing_words(text: str) -> str:
    return text.replace("torch.", "shenjing.")


def test_parameter_list_registers_like_torch():
    arrays = [RNG.standard_normal((2, 3)), RNG.standard_normal(4)]
    ours = nn.ParameterList([nn.Parameter(sj.tensor(arrays[0])), sj.tensor(arrays[1])])
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.tensor(arrays[0])), torch.tensor(arrays[1])])
    ours.append(sj.zeros(1))
    theirs.append(torch.zeros(1))
    ours.append("note")
    theirs.append("note")
    assert repr(ours) == torch_repr_in_shenjing_words(repr(theirs))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]
    assert isinstance(ours[1], nn.Parameter) and ours[1].requires_grad
    assert len(ours) == 4 and ours[-1] == "note" and len(ours[1:3]) == 2
    with pytest.raises(IndexError):
        ours[4]


def test_parameter_list_in_a_model_trains_and_prints_like_torch():
    class Model(nn.Module):
        def __init__(self, lib):
            super().__init__()
            self.weights = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(3, dtype=lib.float64) * (i + 1))
                                                 for i in range(3)])

        def forward(self, x):
            for w in self.weights:
                x = x * w
            return x.sum()

    class TorchModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(3, dtype=torch.float64) * (i + 1))
                                                   for i in range(3)])

        def forward(self, x):
            for w in self.weights:
                x = x * w
            return x.sum()

    ours, theirs = Model(sj), TorchModel()
    assert repr(ours).replace("Model", "TorchModel") == torch_repr_in_shenjing_words(repr(theirs))
    x = RNG.standard_normal(3)
    ours(sj.tensor(x)).backward()
    theirs(torch.tensor(x)).backward()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        ours.weights(x)


def test_parameter_dict_behaves_like_torch():
    a, b = RNG.standard_normal(2), RNG.standard_normal((3, 1))
    ours = nn.ParameterDict({"a": nn.Parameter(sj.tensor(a, dtype=sj.float32)), "b": sj.tensor(b, dtype=sj.float32)})
    theirs = torch.nn.ParameterDict({"a": torch.nn.Parameter(torch.tensor(a, dtype=torch.float32)),
                                     "b": torch.tensor(b, dtype=torch.float32)})
    assert repr(ours) == torch_repr_in_shenjing_words(repr(theirs))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours["c"], theirs["c"] = sj.zeros(1), torch.zeros(1)
    ours.update([("d", sj.ones(2))])
    theirs.update([("d", torch.ones(2))])
    assert list(ours.keys()) == list(theirs.keys()) == ["a", "b", "c", "d"]
    assert ours.pop("b").shape == (3, 1) and "b" not in ours
    assert [name for name, _ in ours.named_parameters()] == ["a", "c", "d"]
    assert ours.get("zzz", 5) == 5 and ours.setdefault("e", sj.ones(1)).shape == (1,)
    merged = ours | nn.ParameterDict({"f": sj.ones(1)})
    assert list(merged) == ["a", "c", "d", "e", "f"]
    assert ours.popitem()[0] == "e"
    with pytest.raises(TypeError, match="not a string"):
        ours[1] = sj.ones(1)
    ours.clear()
    assert len(ours) == 0 and list(ours.parameters()) == []


@pytest.mark.parametrize("shape1, shape2", [((4, 3), (4, 2)), ((2, 5, 3), (2, 5, 2)), ((3,), (2,))])
def test_bilinear_matches_torch(shape1, shape2):
    x1, x2 = RNG.standard_normal(shape1), RNG.standard_normal(shape2)
    w, b = RNG.standard_normal((4, 3, 2)), RNG.standard_normal(4)
    check_op(F.bilinear, TF.bilinear, x1, x2, w, b)
    check_op(lambda a, c, w: F.bilinear(a, c, w), lambda a, c, w: TF.bilinear(a, c, w), x1, x2, w)


def test_bilinear_layer_matches_torch():
    layer = check_module(nn.Bilinear(3, 2, 4), torch.nn.Bilinear(3, 2, 4), RNG.standard_normal((5, 3)),
                         RNG.standard_normal((5, 2)))
    assert repr(layer) == repr(torch.nn.Bilinear(3, 2, 4))
    assert repr(nn.Bilinear(3, 2, 4, bias=False)) == repr(torch.nn.Bilinear(3, 2, 4, bias=False))
    assert list(layer.state_dict()) == list(torch.nn.Bilinear(3, 2, 4).state_dict())
    bound = 1 / np.sqrt(3)
    assert np.abs(nn.Bilinear(3, 2, 40).weight.detach().numpy()).max() <= bound
    with pytest.raises(RuntimeError, match="input batch dimensions do not match"):
        F.bilinear(sj.randn(4, 3), sj.randn(5, 2), sj.randn(4, 3, 2))
