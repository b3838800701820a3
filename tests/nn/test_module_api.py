"""The Module API: names, walks, state_dict / load_state_dict, train / eval, containers, errors."""

from collections import OrderedDict

import numpy as np
import pytest

import mathdnn
from mathdnn import nn


class Net(nn.Module):
    """A module written the PyTorch way: named sub-modules, a ModuleList, an own parameter."""

    def __init__(self):
        super().__init__()
        self.scale = mathdnn.tensor(np.ones(1, np.float32), requires_grad=True)
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3, rng=0), nn.Tanh(), nn.Flatten())
        self.heads = nn.ModuleList([nn.Linear(8, 3, rng=1), nn.Linear(3, 2, bias=False, rng=2)])
        self.not_a_parameter = mathdnn.tensor(np.ones(2))  # no requires_grad: a plain attribute

    def forward(self, x, *, skip_head=False):
        y = self.features(x) * self.scale
        return y if skip_head else self.heads[1](self.heads[0](y))


def test_names_follow_pytorch():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == [
        "scale",
        "features.0.weight",
        "features.0.bias",
        "heads.0.weight",
        "heads.0.bias",
        "heads.1.weight",
    ]
    assert [name for name, _ in net.named_modules()] == [
        "",
        "features",
        "features.0",
        "features.1",
        "features.2",
        "heads",
        "heads.0",
        "heads.1",
    ]
    assert [name for name, _ in net.named_children()] == ["features", "heads"]
    assert list(net.children()) == [net.features, net.heads]
    assert next(net.modules()) is net and len(list(net.modules())) == 8
    assert [name for name, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert [p.shape for p in net.parameters(recurse=False)] == [(1,)]
    assert next(net.named_parameters(prefix="model"))[0] == "model.scale"
    assert [name for name, _ in net.heads.named_parameters()] == ["0.weight", "0.bias", "1.weight"]


def test_shared_modules_and_parameters_are_listed_once_but_saved_under_each_name():
    conv = nn.Conv2d(1, 1, 1, rng=0)
    model = nn.Sequential(conv, nn.ReLU(), conv)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.named_parameters(remove_duplicate=False))) == 4
    assert [name for name, _ in model.named_modules()] == ["", "0", "1"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(list(model.children())) == 2


def test_state_dict_is_an_ordered_snapshot_with_pytorch_keys():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == [name for name, _ in net.named_parameters()]
    for name, p in net.named_parameters():
        assert sd[name].dtype == p.dtype and sd[name].shape == p.shape
        np.testing.assert_array_equal(sd[name], p.data)
        assert not np.shares_memory(sd[name], p.data)
    assert list(net.state_dict(prefix="net.")) == ["net." + key for key in sd]


def test_load_state_dict_copies_in_place_and_keeps_dtypes():
    source, target = Net(), Net()
    for p in source.parameters():
        p.data[...] = np.random.default_rng(0).standard_normal(p.shape)
    arrays = {key: value.astype(np.float64) for key, value in source.state_dict().items()}
    before = {name: p.data for name, p in target.named_parameters()}
    assert target.load_state_dict(arrays) == ([], [])
    for name, p in target.named_parameters():
        assert p.data is before[name] and p.dtype == np.float32
        np.testing.assert_array_equal(p.data, source.state_dict()[name])
    x = mathdnn.tensor(np.random.default_rng(1).random((2, 1, 4, 4), np.float32))
    np.testing.assert_array_equal(target(x).data, source(x).data)


def test_load_state_dict_reports_every_problem_and_changes_nothing():
    net = Net()
    sd = net.state_dict()
    before = {name: p.data.copy() for name, p in net.named_parameters()}
    bad = {key: value + 1 for key, value in sd.items()}
    del bad["heads.0.bias"]
    bad["heads.1.weight"] = np.zeros((3, 2), np.float32)
    bad["heads.2.weight"] = np.zeros(1)
    bad["heads.0.weight"] = [[1.0, 2.0], [3.0]]  # ragged
    with pytest.raises(ValueError) as info:
        net.load_state_dict(bad)
    message = str(info.value)
    assert message.startswith("Net.load_state_dict: error(s) in loading state_dict:")
    assert "missing key(s) in state_dict: 'heads.0.bias'" in message
    assert "unexpected key(s) in state_dict: 'heads.2.weight'" in message
    assert "'heads.0.weight' is not an array: its rows have different lengths" in message
    assert (
        "size mismatch for 'heads.1.weight': copying an array of shape (3, 2) from state_dict, "
        "the shape in the current model is (2, 3)" in message
    )
    for name, p in net.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])


def test_load_state_dict_not_strict():
    net = Net()
    partial = {"features.0.bias": np.array([5.0, 6.0]), "extra": np.zeros(1)}
    result = net.load_state_dict(partial, strict=False)
    assert result.missing_keys == [k for k in net.state_dict() if k != "features.0.bias"]
    assert result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(net.features[0].bias.data, [5.0, 6.0])
    with pytest.raises(ValueError, match=r"size mismatch for 'scale'"):
        net.load_state_dict({"scale": np.ones(2)}, strict=False)
    with pytest.raises(ValueError, match=r"'scale' holds <U1, not numbers"):
        net.load_state_dict({"scale": np.array(["a"])}, strict=False)
    with pytest.raises(TypeError, match=r"Net.load_state_dict: state_dict must be a mapping"):
        net.load_state_dict([("scale", np.ones(1))])


def test_train_eval_zero_grad_requires_grad_apply_and_call():
    net = Net()
    assert net.training and net.eval() is net
    assert not any(m.training for m in net.modules())
    assert net.train() is net and all(m.training for m in net.modules())
    net.heads.eval()
    assert net.training and not net.heads[0].training and net.features[0].training
    with pytest.raises(TypeError, match=r"Net.train: mode must be a bool, got 'yes'"):
        net.train("yes")

    x = mathdnn.tensor(np.ones((2, 1, 4, 4), np.float32))
    assert net(x, skip_head=True).shape == (2, 8)
    net(x).sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None for g in grads)
    net.zero_grad(set_to_none=False)
    assert all(p.grad is g and not g.any() for p, g in zip(net.parameters(), grads, strict=True))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())

    assert net.requires_grad_(False) is net
    assert len(list(net.parameters())) == 6 and not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())

    visited = []
    assert net.apply(lambda m: visited.append(type(m).__name__)) is net
    assert visited == [
        *["Conv2d", "Tanh", "Flatten", "Sequential"],
        *["Linear", "Linear", "ModuleList", "Net"],
    ]


def test_assignment_rules():
    layer = nn.Linear(2, 2, rng=0)
    frozen = mathdnn.tensor(np.zeros((2, 2), np.float32))
    layer.weight = frozen  # a leaf replaces a parameter, which stays a parameter
    assert dict(layer.named_parameters())["weight"] is frozen
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]  # same place
    with pytest.raises(TypeError, match=r"Linear: cannot assign a non-leaf Tensor as parameter"):
        layer.weight = layer.bias * 2
    with pytest.raises(TypeError, match=r"cannot assign ndarray as parameter 'bias'"):
        layer.bias = np.zeros(2)
    layer.bias = None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    del layer.weight
    assert list(layer.parameters()) == []

    model = nn.Sequential(nn.ReLU())
    with pytest.raises(TypeError, match=r"Sequential: cannot assign int as child module '0'"):
        model.__setattr__("0", 3)
    model.add_module("tail", nn.Tanh())
    assert [name for name, _ in model.named_children()] == ["0", "tail"]
    with pytest.raises(ValueError, match=r"Sequential.add_module: name must be a non-empty"):
        model.add_module("a.b", nn.ReLU())
    with pytest.raises(TypeError, match=r"Sequential.add_module: module must be a Module"):
        model.add_module("c", 3)

    class Early(nn.Module):
        def __init__(self):
            self.layer = nn.ReLU()

    with pytest.raises(AttributeError, match=r"Early: call Module.__init__\(\)"):
        Early()
    with pytest.raises(NotImplementedError, match=r"Module.forward is not defined"):
        nn.Module()(1)


def test_module_list():
    layers = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    assert len(layers) == 2 and isinstance(layers[-1], nn.Tanh)
    assert layers.append(nn.Sigmoid()) is layers
    assert layers.extend([nn.Linear(1, 1, rng=0)]) is layers
    assert [name for name, _ in layers.named_children()] == ["0", "1", "2", "3"]
    assert [type(m) for m in layers] == [nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Linear]
    head = layers[1:3]
    assert isinstance(head, nn.ModuleList) and [n for n, _ in head.named_children()] == ["0", "1"]
    layers[0] = nn.Softplus()
    assert isinstance(layers[0], nn.Softplus) and len(layers) == 4
    assert [name for name, _ in layers.named_parameters()] == ["3.weight", "3.bias"]
    assert len(nn.ModuleList()) == 0
    with pytest.raises(IndexError, match=r"ModuleList: index 4 is out of range for 4 modules"):
        layers[4]
    with pytest.raises(TypeError, match=r"ModuleList: index must be an int or a slice"):
        layers["0"]
    with pytest.raises(TypeError, match=r"ModuleList.append: module must be a Module, got int"):
        layers.append(3)
    with pytest.raises(TypeError, match=r"ModuleList.extend: modules must be an iterable"):
        layers.extend(nn.ReLU())
    with pytest.raises(TypeError, match=r"ModuleList: module must be a Module"):
        layers[0] = 3
    with pytest.raises(NotImplementedError, match=r"ModuleList.forward is not defined"):
        layers(1)


def test_sequential_names_slices_and_append():
    model = nn.Sequential(
        OrderedDict(
            [("conv", nn.Conv2d(1, 2, 3, rng=0)), ("act", nn.ReLU()), ("flat", nn.Flatten())]
        )
    )
    assert list(model.state_dict()) == ["conv.weight", "conv.bias"]
    tail = model[1:]
    assert isinstance(tail, nn.Sequential) and [n for n, _ in tail.named_children()] == [
        "act",
        "flat",
    ]
    assert model[0] is model.conv
    model.append(nn.Linear(2, 1, rng=0))
    assert [n for n, _ in model.named_children()] == ["conv", "act", "flat", "3"]
    with pytest.raises(TypeError, match=r"Sequential: argument act must be a Module"):
        nn.Sequential(OrderedDict([("act", 1)]))
    with pytest.raises(TypeError, match=r"Sequential.append: module must be a Module"):
        model.append(None)


def test_repr_is_nested_like_pytorch():
    net = Net()
    assert repr(net) == (
        "Net(\n"
        "  (features): Sequential(\n"
        "    (0): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))\n"
        "    (1): Tanh()\n"
        "    (2): Flatten()\n"
        "  )\n"
        "  (heads): ModuleList(\n"
        "    (0): Linear(in_features=8, out_features=3, bias=True)\n"
        "    (1): Linear(in_features=3, out_features=2, bias=False)\n"
        "  )\n"
        ")"
    )
