"""Module, containers and the shape modules, against PyTorch 2.13's behaviour.

The layers here are tiny stand-ins defined in this file (``Linear``, ``ReLU``, ``BatchStats``) so that
the Module machinery is tested on its own; their names and ``extra_repr`` match PyTorch's, so reprs and
state_dict keys can be compared with real torch models.
"""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import shenjing as sj
from shenjing import nn


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(sj.randn(out_features, in_features))
        if bias:
            self.bias = nn.Parameter(sj.randn(out_features))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(nn.Module):
    def forward(self, x):
        return x.relu()


class BatchStats(nn.Module):
    """Like BatchNorm1d's storage: weight, bias, two running buffers, a counter, and a scratch buffer."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(sj.ones(n))
        self.bias = nn.Parameter(sj.zeros(n))
        self.register_buffer("running_mean", sj.zeros(n))
        self.register_buffer("running_var", sj.ones(n))
        self.register_buffer("num_batches_tracked", sj.tensor(0))
        self.register_buffer("scratch", sj.zeros(n), persistent=False)

    def forward(self, x):
        return x * self.weight + self.bias


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = Linear(4, 3)
        self.norm = BatchStats(3)
        self.head = nn.Sequential(ReLU(), Linear(3, 2))

    def forward(self, x):
        return self.head(self.norm(self.fc1(x)))


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 3)
        self.norm = torch.nn.BatchNorm1d(3)
        self.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 2))


# -- registration -------------------------------------------------------------------------------------


def test_setattr_registers_parameters_modules_and_buffers_in_order():
    net = Net()
    assert list(net._modules) == ["fc1", "norm", "head"]
    assert list(net.norm._parameters) == ["weight", "bias"]
    assert list(net.norm._buffers) == ["running_mean", "running_var", "num_batches_tracked", "scratch"]
    assert "fc1" not in net.__dict__ and net.fc1 is net._modules["fc1"]
    assert isinstance(net.fc1.weight, nn.Parameter)


def test_plain_tensor_attribute_is_not_a_parameter():
    m = nn.Module()
    m.t = sj.ones(2)
    assert list(m.parameters()) == [] and list(m.buffers()) == []
    assert m.__dict__["t"] is m.t


def test_reassigning_a_name_moves_it_between_registries_like_torch():
    m = nn.Module()
    m.x = Linear(1, 1)
    m.x = nn.Parameter(sj.zeros(1))
    assert "x" not in m._modules and "x" in m._parameters
    m.register_buffer("b", sj.ones(1))
    m.b = Linear(1, 1)
    assert "b" not in m._buffers and "b" in m._modules
    with pytest.raises(TypeError, match="as parameter 'x'"):  # torch refuses this one too
        m.x = Linear(1, 1)


def test_assigning_a_tensor_over_a_parameter_raises_type_error():
    m = Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign .* as parameter 'weight'"):
        m.weight = sj.ones(2, 2)
    m.weight = None  # allowed, like torch
    assert m._parameters["weight"] is None
    assert [name for name, _ in m.named_parameters()] == ["bias"]


def test_assigning_a_non_module_over_a_module_raises():
    net = Net()
    with pytest.raises(TypeError, match="child module 'fc1'"):
        net.fc1 = 3


def test_register_buffer_errors():
    m = nn.Module()
    with pytest.raises(TypeError, match="cannot assign 'list' object to buffer 'b'"):
        m.register_buffer("b", [1, 2])
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", sj.ones(1))
    with pytest.raises(KeyError, match="empty string"):
        m.register_buffer("", sj.ones(1))
    with pytest.raises(TypeError, match="should be a string"):
        m.register_buffer(3, sj.ones(1))
    m.plain = 1
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer("plain", sj.ones(1))
    m.register_buffer("b", sj.ones(1))
    with pytest.raises(TypeError, match="as buffer 'b'"):
        m.b = "text"
    m.b = sj.zeros(3)
    assert m._buffers["b"].shape == (3,)


def test_register_parameter_and_add_module_errors():
    m = nn.Module()
    with pytest.raises(TypeError, match="to parameter 'p'"):
        m.register_parameter("p", sj.ones(1))
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("p", _non_leaf_parameter())
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("child", 5)
    with pytest.raises(KeyError, match="contain"):
        m.add_module("a.b", ReLU())
    m.register_module("act", ReLU())
    assert isinstance(m.act, ReLU)


def _non_leaf_parameter():
    p = nn.Parameter(sj.ones(1))
    p.grad_fn = (p * 2).grad_fn  # a Parameter that is not a leaf
    return p


def test_assignment_before_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(sj.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Broken()


def test_getattr_and_delattr():
    net = Net()
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        net.missing
    del net.norm
    assert "norm" not in net._modules
    del net.fc1.bias
    assert list(net.fc1._parameters) == ["weight"]
    net.extra = 1
    del net.extra
    assert not hasattr(net, "extra")


def test_dir_lists_registered_names():
    names = dir(Net())
    assert {"fc1", "norm", "head", "forward", "training"} <= set(names)
    assert "0" not in dir(nn.Sequential(ReLU()))


def test_forward_missing_raises():
    with pytest.raises(NotImplementedError, match="missing the required \"forward\""):
        nn.Module()(1)


def test_module_init_rejects_arguments():
    with pytest.raises(TypeError):
        nn.Module(3)


# -- traversal ----------------------------------------------------------------------------------------


def test_named_parameters_and_buffers_match_torch_names():
    assert [n for n, _ in Net().named_parameters()] == [n for n, _ in TorchNet().named_parameters()]
    buffer_names = [n for n, _ in Net().named_buffers()]
    assert buffer_names == [n for n, _ in TorchNet().named_buffers()] + ["norm.scratch"]


def test_named_parameters_prefix_and_recurse():
    net = Net()
    assert [n for n, _ in net.named_parameters(prefix="model")][:2] == ["model.fc1.weight", "model.fc1.bias"]
    assert list(net.named_parameters(recurse=False)) == []
    assert [n for n, _ in net.norm.named_parameters(recurse=False)] == ["weight", "bias"]


def test_shared_parameters_and_modules_are_listed_once():
    shared = Linear(2, 2)
    net = nn.Sequential(shared, ReLU(), shared)
    assert len(list(net.parameters())) == 2
    assert len(list(net.modules())) == 3  # Sequential, Linear, ReLU
    tied = nn.Module()
    tied.a, tied.b = Linear(2, 2), Linear(2, 2)
    tied.b.weight = tied.a.weight
    assert [n for n, _ in tied.named_parameters()] == ["a.weight", "a.bias", "b.bias"]
    assert list(tied.b._parameters) == ["weight", "bias"]  # re-assignment keeps the place
    assert len(list(tied.named_parameters(remove_duplicate=False))) == 4
    torch_tied = torch.nn.Module()
    torch_tied.a, torch_tied.b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    torch_tied.b.weight = torch_tied.a.weight
    assert [n for n, _ in tied.named_parameters()] == [n for n, _ in torch_tied.named_parameters()]
    assert list(tied.state_dict()) == list(torch_tied.state_dict())


def test_named_modules_and_children_match_torch():
    assert [n for n, _ in Net().named_modules()] == [n for n, _ in TorchNet().named_modules()]
    assert [n for n, _ in Net().named_children()] == ["fc1", "norm", "head"]
    assert [type(c).__name__ for c in Net().children()] == ["Linear", "BatchStats", "Sequential"]


def test_apply_visits_children_first():
    order = []
    net = Net()
    assert net.apply(lambda m: order.append(type(m).__name__)) is net
    assert order == ["Linear", "BatchStats", "ReLU", "Linear", "Sequential", "Net"]


def test_get_submodule_parameter_buffer():
    net = Net()
    assert net.get_submodule("head.1") is net.head[1]
    assert net.get_submodule("") is net
    assert net.get_parameter("head.1.bias") is net.head[1].bias
    assert net.get_buffer("norm.running_var") is net.norm.running_var
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        net.get_submodule("head.nope")
    with pytest.raises(AttributeError, match="is not an nn.Module"):
        net.get_submodule("fc1.weight")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        net.get_parameter("norm.running_mean")


# -- modes, gradients, dtype -----------------------------------------------------------------------


def test_train_eval_propagate():
    net = Net()
    assert net.training and net.head[0].training
    assert net.eval() is net
    assert not net.training and not net.head[1].training
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")


def test_zero_grad_set_to_none_and_zeros():
    net = Net()
    net(sj.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad._data.any() for p in net.parameters())
    net(sj.randn(5, 4)).sum().backward()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_freezes():
    net = Net()
    net.fc1.requires_grad_(False)
    assert [p.requires_grad for p in net.parameters()][:2] == [False, False]
    net(sj.randn(2, 4)).sum().backward()
    assert net.fc1.weight.grad is None and net.head[1].weight.grad is not None


def test_double_float_to_keep_parameter_identity_and_skip_integer_buffers():
    net = Net()
    weight = net.fc1.weight
    assert net.double() is net
    assert net.fc1.weight is weight and weight.dtype == sj.float64
    assert net.norm.running_mean.dtype == sj.float64
    assert net.norm.num_batches_tracked.dtype == sj.int64
    net.to(sj.float32)
    assert weight.dtype == sj.float32 and isinstance(weight, nn.Parameter) and weight.requires_grad
    assert net.to("cpu") is net and net.cpu() is net
    assert net.to(sj.zeros(1, dtype=sj.float64)).fc1.bias.dtype == sj.float64
    with pytest.raises(TypeError, match="floating point"):
        net.to(sj.int64)
    with pytest.raises(RuntimeError, match="CPU only"):
        net.to("cuda")


# -- hooks --------------------------------------------------------------------------------------------


def test_forward_hooks_run_in_order_and_can_replace_values():
    m = Linear(2, 2)
    calls = []

    def pre(module, args):
        calls.append("pre")
        return (args[0] * 0,)

    def post(module, args, output):
        calls.append("post")
        return output + 1

    h1 = m.register_forward_pre_hook(pre)
    h2 = m.register_forward_hook(post)
    out = m(sj.ones(1, 2))
    assert calls == ["pre", "post"]
    np.testing.assert_allclose(out.detach().numpy(), m.bias.detach().numpy()[None] + 1, rtol=1e-6)
    h1.remove()
    h2.remove()
    h2.remove()  # removing twice is harmless
    calls.clear()
    m(sj.ones(1, 2))
    assert calls == []


def test_hooks_prepend_with_kwargs_and_context_manager():
    m = ReLU()
    order = []
    m.register_forward_hook(lambda mod, args, out: order.append("first"))
    m.register_forward_hook(lambda mod, args, out: order.append("prepended"), prepend=True)
    with m.register_forward_pre_hook(lambda mod, args, kwargs: order.append(sorted(kwargs)), with_kwargs=True):
        m(x=sj.ones(1))
    m(sj.ones(1))
    assert order == [["x"], "prepended", "first", "prepended", "first"]


def test_pre_hook_returning_single_value_is_wrapped():
    m = ReLU()
    m.register_forward_pre_hook(lambda mod, args: -args[0])
    assert m(sj.tensor([-2.0])).item() == 2.0


# -- state_dict -----------------------------------------------------------------------------------


def test_state_dict_keys_and_order_match_torch_and_skip_non_persistent():
    keys = list(Net().state_dict())
    assert keys == list(TorchNet().state_dict())
    assert "norm.scratch" not in keys


def test_state_dict_values_are_detached_and_share_memory():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    w = sd["fc1.weight"]
    assert not isinstance(w, nn.Parameter) and not w.requires_grad
    w._data[0, 0] = 123.0
    assert net.fc1.weight._data[0, 0] == 123.0
    assert net.state_dict(keep_vars=True)["fc1.weight"] is net.fc1.weight
    assert list(net.state_dict(prefix="m.")) [0] == "m.fc1.weight"


def test_load_state_dict_round_trip_gives_same_outputs():
    a, b = Net(), Net()
    x = sj.randn(3, 4)
    assert not np.allclose(a(x).detach().numpy(), b(x).detach().numpy())
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    assert b.state_dict()["fc1.weight"]._data is not a.state_dict()["fc1.weight"]._data  # copied


def test_load_state_dict_from_torch_numpy_arrays():
    torch.manual_seed(0)
    tnet = TorchNet().eval()
    with torch.no_grad():
        tnet.norm.running_mean.fill_(0.5)
    net = Net()
    net.load_state_dict({k: v.numpy() for k, v in tnet.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    t_fc = tnet.fc1(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(net.fc1(sj.tensor(x)).detach().numpy(), t_fc, rtol=1e-5, atol=1e-6)
    assert net.norm.running_mean.tolist() == [0.5, 0.5, 0.5]
    assert net.norm.num_batches_tracked.dtype == sj.int64


def test_load_state_dict_copies_in_place_without_recording():
    net = Linear(2, 2)
    weight = net.weight
    net.load_state_dict({"weight": np.ones((2, 2)), "bias": np.zeros(2)})  # float64 -> float32
    assert net.weight is weight and weight.dtype == sj.float32 and weight.is_leaf and weight.requires_grad
    assert weight.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_load_state_dict_strict_errors_list_missing_and_unexpected():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"]
    sd["fc1.extra"] = sj.ones(1)
    sd["ghost.weight"] = sj.ones(1)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    message = str(info.value)
    assert message.startswith("Error(s) in loading state_dict for Net:\n\t")
    assert 'Missing key(s) in state_dict: "fc1.bias".' in message
    assert 'Unexpected key(s) in state_dict: "ghost.weight", "fc1.extra".' in message  # torch's order
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc1.bias"]
    assert result.unexpected_keys == ["ghost.weight", "fc1.extra"]


def test_torch_gives_the_same_missing_and_unexpected_keys():
    tnet = TorchNet()
    sd = {k: v.clone() for k, v in tnet.state_dict().items()}
    del sd["fc1.bias"]
    sd["fc1.extra"] = torch.ones(1)
    sd["ghost.weight"] = torch.ones(1)
    expected = tnet.load_state_dict(sd, strict=False)
    result = Net().load_state_dict({k: v.numpy() for k, v in sd.items()}, strict=False)
    assert result.missing_keys == expected.missing_keys
    assert result.unexpected_keys == expected.unexpected_keys


def test_load_state_dict_size_mismatch_names_the_key():
    class Conv(nn.Module):
        def __init__(self, in_channels):
            super().__init__()
            self.weight = nn.Parameter(sj.zeros(6, in_channels, 5, 5))

    model = nn.Module()
    model.conv1 = Conv(3)
    source = nn.Module()
    source.conv1 = Conv(1)
    with pytest.raises(RuntimeError, match=r"size mismatch for conv1\.weight: copying a param with shape "
                                           r"\[6, 1, 5, 5\] from checkpoint, the shape in current model is "
                                           r"\[6, 3, 5, 5\]"):
        model.load_state_dict(source.state_dict(), strict=False)


def test_load_state_dict_rejects_non_tensor_values_and_non_mappings():
    with pytest.raises(RuntimeError, match='parameter named "weight"'):
        Linear(1, 1).load_state_dict({"weight": "abc", "bias": np.zeros(1)})
    with pytest.raises(TypeError, match="dict-like"):
        Linear(1, 1).load_state_dict([1, 2])


def test_load_state_dict_assign_takes_the_array():
    net = Linear(2, 1)
    new = np.full((1, 2), 7.0, dtype=np.float32)
    net.load_state_dict({"weight": new, "bias": np.zeros(1, np.float32)}, assign=True)
    assert net.weight._data is new and isinstance(net.weight, nn.Parameter)


# -- copying and pickling -------------------------------------------------------------------------


def test_deepcopy_is_independent_and_keeps_sharing():
    shared = Linear(2, 2)
    net = nn.Sequential(shared, ReLU(), shared)
    clone = copy.deepcopy(net)
    assert clone[0] is clone[2] and clone[0] is not shared
    assert isinstance(clone[0].weight, nn.Parameter)
    clone[0].weight._data[...] = 0
    assert shared.weight._data.any()
    x = sj.randn(1, 2)
    assert clone(x).shape == (1, 2)


def test_pickle_round_trip_through_getstate():
    net = Net()
    restored = pickle.loads(pickle.dumps(net))
    for (name, p), (_, q) in zip(net.named_parameters(), restored.named_parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy(), err_msg=name)
    assert net.__getstate__() is not net.__dict__


# -- repr -----------------------------------------------------------------------------------------------


def test_repr_matches_torch_for_nested_containers():
    ours = nn.Sequential(OrderedDict([("fc", Linear(2, 3)), ("act", ReLU()),
                                      ("block", nn.Sequential(Linear(3, 3, bias=False), ReLU())),
                                      ("flat", nn.Flatten()), ("same", nn.Identity())]))
    theirs = torch.nn.Sequential(OrderedDict([
        ("fc", torch.nn.Linear(2, 3)), ("act", torch.nn.ReLU()),
        ("block", torch.nn.Sequential(torch.nn.Linear(3, 3, bias=False), torch.nn.ReLU())),
        ("flat", torch.nn.Flatten()), ("same", torch.nn.Identity())]))
    assert repr(ours) == repr(theirs)


def test_repr_of_simple_sequential_and_empty_module():
    assert repr(nn.Sequential(Linear(2, 3), ReLU())) == \
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)"
    assert repr(nn.Module()) == "Module()"
    assert repr(nn.Sequential()) == repr(torch.nn.Sequential())


def test_repr_with_multiline_extra_repr_and_children_matches_torch():
    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.child = ReLU()

        def extra_repr(self):
            return "a=1\nb=2"

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.child = torch.nn.ReLU()

        def extra_repr(self):
            return "a=1\nb=2"

    Ours.__name__ = Theirs.__name__ = "Block"
    assert repr(Ours()) == repr(Theirs())


def test_modulelist_repr_groups_repeats_like_torch():
    ours = nn.ModuleList([Linear(2, 2) for _ in range(3)] + [ReLU(), Linear(2, 2)])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.ReLU(), torch.nn.Linear(2, 2)])
    assert repr(ours) == repr(theirs)
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())


# -- containers ---------------------------------------------------------------------------------------


def test_sequential_forward_and_indexing():
    seq = nn.Sequential(Linear(4, 3), ReLU(), Linear(3, 2))
    x = sj.randn(5, 4)
    expected = seq[2](seq[1](seq[0](x)))
    np.testing.assert_array_equal(seq(x).detach().numpy(), expected.detach().numpy())
    assert seq[-1] is seq[2] and len(seq) == 3 and list(seq) == [seq[0], seq[1], seq[2]]
    part = seq[1:]
    assert isinstance(part, nn.Sequential) and list(part._modules) == ["1", "2"] and part[0] is seq[1]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    with pytest.raises(IndexError):
        seq[-4]


def test_sequential_ordered_dict_names_and_state_dict_keys_match_torch():
    ours = nn.Sequential(OrderedDict([("conv", Linear(2, 2)), ("act", ReLU())]))
    theirs = torch.nn.Sequential(OrderedDict([("conv", torch.nn.Linear(2, 2)), ("act", torch.nn.ReLU())]))
    assert ours.conv is ours[0]
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_sequential_mutation_matches_torch_keys():
    def build(lib_linear, lib_relu, lib_seq):
        seq = lib_seq(lib_linear(1, 1), lib_relu(), lib_linear(1, 2))
        seq.append(lib_relu())
        seq.insert(1, lib_linear(1, 3))
        seq.insert(-1, lib_relu())
        del seq[0]
        seq.extend([lib_linear(2, 4)])
        seq[0] = lib_linear(1, 5)
        del seq[1:3]
        return seq

    ours = build(Linear, ReLU, nn.Sequential)
    theirs = build(torch.nn.Linear, torch.nn.ReLU, torch.nn.Sequential)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert [getattr(m, "out_features", None) for m in ours] == [getattr(m, "out_features", None) for m in theirs]
    with pytest.raises(IndexError):
        ours.insert(99, ReLU())
    popped = ours.pop(0)
    assert popped.out_features == 5 and len(ours) == len(theirs) - 1


def test_sequential_add():
    a, b = nn.Sequential(ReLU()), nn.Sequential(Linear(1, 1))
    both = a + b
    assert len(both) == 2 and both[1] is b[0]
    with pytest.raises(ValueError):
        a + ReLU()


def test_modulelist_operations():
    layers = nn.ModuleList([Linear(1, 1), ReLU()])
    layers.append(Linear(1, 2))
    layers.extend([ReLU()])
    layers.insert(1, Linear(1, 3))
    assert [type(m).__name__ for m in layers] == ["Linear", "Linear", "ReLU", "Linear", "ReLU"]
    assert layers[1].out_features == 3 and layers[-2].out_features == 2
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2", "3"]
    layers[0] = ReLU()
    assert isinstance(layers[0], ReLU)
    layers += [Linear(2, 2)]
    assert len(layers) == 5
    assert [n for n, _ in layers.named_parameters()] == ["2.weight", "2.bias", "4.weight", "4.bias"]
    with pytest.raises(IndexError):
        layers[5]
    with pytest.raises(TypeError, match="iterable"):
        layers.extend(ReLU())
    with pytest.raises(TypeError):
        layers.append(3)


def test_modulelist_keys_match_torch():
    ours = nn.ModuleList([Linear(1, 1), ReLU(), Linear(1, 1)])
    theirs = torch.nn.ModuleList([torch.nn.Linear(1, 1), torch.nn.ReLU(), torch.nn.Linear(1, 1)])
    del ours[1]
    del theirs[1]
    ours.insert(0, Linear(1, 1))
    theirs.insert(0, torch.nn.Linear(1, 1))
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_moduledict_operations():
    heads = nn.ModuleDict({"b": Linear(1, 1), "a": ReLU()})
    assert list(heads) == ["b", "a"] and list(heads.keys()) == ["b", "a"]
    heads["c"] = Linear(1, 2)
    assert "c" in heads and len(heads) == 3
    assert [n for n, _ in heads.named_parameters()] == ["b.weight", "b.bias", "c.weight", "c.bias"]
    heads.update([("d", ReLU())])
    assert list(heads) == ["b", "a", "c", "d"]
    popped = heads.pop("a")
    assert isinstance(popped, ReLU) and "a" not in heads
    del heads["d"]
    assert [k for k, _ in heads.items()] == ["b", "c"] and len(list(heads.values())) == 2
    with pytest.raises(ValueError, match="length 3"):
        heads.update([("x", ReLU(), 1)])
    with pytest.raises(TypeError):
        heads.update(5)
    heads.clear()
    assert len(heads) == 0


def test_containers_parameters_reach_optimiser_style_iteration():
    net = nn.Sequential(nn.ModuleList([Linear(2, 2)]), nn.ModuleDict({"x": Linear(2, 1)}))
    assert [n for n, _ in net.named_parameters()] == ["0.0.weight", "0.0.bias", "1.x.weight", "1.x.bias"]


# -- Identity, Flatten, Unflatten --------------------------------------------------------------------


def test_identity_returns_input_and_ignores_arguments():
    x = sj.randn(2, 3)
    assert nn.Identity(3, foo=1)(x) is x
    assert repr(nn.Identity()) == repr(torch.nn.Identity())


@pytest.mark.parametrize("start,end", [(1, -1), (0, -1), (1, 2), (2, 3), (-3, -2)])
def test_flatten_matches_torch(start, end):
    x = np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5)
    ours = nn.Flatten(start, end)
    theirs = torch.nn.Flatten(start, end)
    np.testing.assert_array_equal(ours(sj.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
    assert repr(ours) == repr(theirs)


def test_flatten_gradient_flows_back():
    x = sj.randn(2, 3, 2, requires_grad=True)
    (nn.Flatten()(x) * sj.arange(6.0)).sum().backward()
    assert x.grad.tolist() == [[[0, 1], [2, 3], [4, 5]]] * 2


@pytest.mark.parametrize("dim,sizes", [(1, (2, 3)), (-1, (3, -1)), (0, [1, 2])])
def test_unflatten_matches_torch(dim, sizes):
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    ours, theirs = nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
    np.testing.assert_array_equal(ours(sj.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
    assert repr(ours) == repr(theirs)


def test_unflatten_validates_sizes():
    with pytest.raises(TypeError, match="element of type float at pos 1"):
        nn.Unflatten(1, (2, 3.0))
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, 6)


def test_flatten_then_unflatten_lenet_shapes():
    x = sj.randn(8, 16, 5, 5)
    flat = nn.Flatten()(x)
    assert flat.shape == (8, 400)
    assert nn.Unflatten(1, (16, 5, 5))(flat).shape == (8, 16, 5, 5)


def test_forgotten_super_init_is_explained():
    class Bad(nn.Module):
        def __init__(self):
            pass

        def forward(self, x):
            return x

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Bad()(1)


def test_torch_model_weights_load_into_the_real_layers_and_give_the_same_outputs():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(),
                                 torch.nn.Linear(6, 3))
    theirs.train()
    theirs(torch.randn(16, 4))  # move the running statistics away from their initial values
    theirs.eval()
    ours = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)).eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(sj.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
