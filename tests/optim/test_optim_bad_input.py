"""Bad arguments to the optimizers: each a ValueError/TypeError naming the class and argument,
and a failed ``load_state_dict`` changes nothing."""

import copy
import math

import numpy as np
import pytest

import mathdnn
from mathdnn.optim import SGD, Adam


def param(shape=(2,), dtype=np.float64):
    return mathdnn.tensor(np.ones(shape, dtype), requires_grad=True)


P = param()

CONSTRUCTORS = [
    (
        lambda: SGD([P], lr=-0.1),
        ValueError,
        r"SGD: lr must be a finite number in \[0, inf\), got -0.1",
    ),
    (lambda: SGD([P], lr=math.nan), ValueError, r"SGD: lr must be a finite number .* got nan"),
    (lambda: SGD([P], lr=math.inf), ValueError, r"SGD: lr must be a finite number .* got inf"),
    (lambda: SGD([P], lr="0.1"), TypeError, r"SGD: lr must be a real number, got '0.1'"),
    (lambda: SGD([P], lr=True), TypeError, r"SGD: lr must be a real number, got True"),
    (lambda: SGD([P], momentum=-0.5), ValueError, r"SGD: momentum must be .* got -0.5"),
    (lambda: SGD([P], momentum=math.nan), ValueError, r"SGD: momentum must be .* got nan"),
    (lambda: SGD([P], dampening=math.inf), ValueError, r"SGD: dampening must be a finite"),
    (lambda: SGD([P], weight_decay=-1), ValueError, r"SGD: weight_decay must be .* got -1"),
    (lambda: SGD([P], nesterov=True), ValueError, r"SGD: nesterov=True needs momentum > 0"),
    (
        lambda: SGD([P], momentum=0.9, dampening=0.1, nesterov=True),
        ValueError,
        r"SGD: nesterov=True needs .* dampening = 0, got momentum=0.9, dampening=0.1",
    ),
    (lambda: SGD([P], nesterov="yes"), TypeError, r"SGD: nesterov must be True or False"),
    (lambda: SGD([P], maximize=1), TypeError, r"SGD: maximize must be True or False, got 1"),
    (
        lambda: SGD([{"params": [P], "lr": -1.0}], lr=0.1),
        ValueError,
        r"SGD: lr must be .* got -1.0 in param group 0",
    ),
    (
        lambda: SGD([{"params": [P]}, {"params": [param()], "momentum": -1}]),
        ValueError,
        r"SGD: momentum must be .* in param group 1",
    ),
    (lambda: Adam([P], lr=math.nan), ValueError, r"Adam: lr must be a finite number .* got nan"),
    (lambda: Adam([P], lr=-1e-3), ValueError, r"Adam: lr must be .* got -0.001"),
    (lambda: Adam([P], betas=(1.0, 0.999)), ValueError, r"Adam: betas\[0\] must be .* \[0, 1\)"),
    (lambda: Adam([P], betas=(0.9, -0.1)), ValueError, r"Adam: betas\[1\] must be .* got -0.1"),
    (lambda: Adam([P], betas=(0.9, 1.5)), ValueError, r"Adam: betas\[1\] must be .* got 1.5"),
    (lambda: Adam([P], betas=(math.nan, 0.9)), ValueError, r"Adam: betas\[0\] .* got nan"),
    (lambda: Adam([P], betas=(0.9,)), TypeError, r"Adam: betas must be a pair"),
    (lambda: Adam([P], betas=0.9), TypeError, r"Adam: betas must be a pair"),
    (lambda: Adam([P], eps=-1e-8), ValueError, r"Adam: eps must be .* got -1e-08"),
    # issue 22: numbers too large for a float name their argument; betas must be a sequence
    (lambda: SGD([P], lr=10**400), ValueError, r"SGD: lr must be a finite number .* got 1000"),
    (lambda: SGD([P], momentum=10**400), ValueError, r"SGD: momentum must be a finite number"),
    (lambda: Adam([P], lr=10**400), ValueError, r"Adam: lr must be a finite number"),
    (lambda: Adam([P], betas=(0.9, 10**400)), ValueError, r"Adam: betas\[1\] must be a finite"),
    (lambda: Adam([P], betas={0.9, 0.99}), TypeError, r"Adam: betas must be a pair .* got \{"),
    (lambda: Adam([P], betas={0.9: 1, 0.99: 2}), TypeError, r"Adam: betas must be a pair"),
    (lambda: Adam([P], betas="ab"), TypeError, r"Adam: betas must be a pair"),
    (lambda: Adam([P], weight_decay=math.inf), ValueError, r"Adam: weight_decay must be"),
    (lambda: Adam([P], amsgrad=None), TypeError, r"Adam: amsgrad must be True or False"),
    (
        lambda: Adam([{"params": [P], "betas": (0.9, 1.0)}]),
        ValueError,
        r"Adam: betas\[1\] .* in param group 0",
    ),
    # the parameters
    (lambda: SGD([]), ValueError, r"SGD: params is empty"),
    (lambda: Adam(iter([])), ValueError, r"Adam: params is empty"),
    (lambda: SGD(P), TypeError, r"SGD: params must be an iterable of Tensors or of dicts"),
    (lambda: SGD({"params": [P]}), TypeError, r"SGD: params must be an iterable .* got dict"),
    (lambda: SGD(3), TypeError, r"SGD: params must be an iterable, got int"),
    (lambda: SGD([P, 1.0]), TypeError, r"SGD: parameter 1 in param group 0 must be a Tensor"),
    (
        lambda: Adam([P, np.ones(2)]),
        TypeError,
        r"Adam: parameter 1 in param group 0 must be a Tensor, got ndarray",
    ),
    (lambda: Adam([P * 2]), ValueError, r"Adam: parameter 0 in param group 0 is not a leaf"),
    (
        lambda: SGD([mathdnn.tensor(np.ones(2))]),
        ValueError,
        r"SGD: parameter 0 in param group 0 has requires_grad=False",
    ),
    (lambda: SGD({P}), TypeError, r"SGD: params must be an ordered collection, not a set"),
    (lambda: SGD([P, P]), ValueError, r"SGD: a parameter appears twice in param group 0"),
    (
        lambda: SGD([{"params": [P]}, {"params": [param(), P]}]),
        ValueError,
        r"SGD: some parameters appear in more than one param group",
    ),
    (lambda: SGD([{"lr": 0.1}]), TypeError, r"SGD: a param group must be a dict with a 'params'"),
]


@pytest.mark.parametrize(("make", "error", "message"), CONSTRUCTORS)
def test_bad_constructor_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_add_param_group_checks_like_the_constructor():
    optimizer = SGD([P], lr=0.1)
    with pytest.raises(TypeError, match=r"SGD: a param group must be a dict"):
        optimizer.add_param_group([param()])
    with pytest.raises(ValueError, match=r"SGD: lr must be .* in param group 1"):
        optimizer.add_param_group({"params": [param()], "lr": -2.0})
    with pytest.raises(
        TypeError, match=r"SGD: params must be an iterable, got int in param group 1"
    ):
        optimizer.add_param_group({"params": 3})
    with pytest.raises(ValueError, match=r"SGD: some parameters appear in more than one"):
        optimizer.add_param_group({"params": [P]})
    assert len(optimizer.param_groups) == 1


@pytest.mark.parametrize(
    ("grad", "message"),
    [
        (np.ones(3), r"got float64 \(3,\)"),
        (np.ones(2, np.float32), r"got float32 \(2,\)"),
        ([1.0, 1.0], r"got list"),
    ],
)
def test_step_refuses_a_gradient_of_another_shape_or_dtype_and_moves_nothing(grad, message):
    first, p = param(), param()
    optimizer = Adam([first, p])
    first.grad, p.grad = np.ones(2), grad
    with pytest.raises(ValueError, match=r"Adam.step: the .grad of parameter 1 of param group 0 "):
        optimizer.step()
    with pytest.raises(ValueError, match=message):
        optimizer.step()
    np.testing.assert_array_equal(first.data, np.ones(2))
    assert len(optimizer.state) == 0


def trained(optimizer):
    """``optimizer`` after two steps with unit gradients."""
    for _ in range(2):
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.grad = np.ones(p.shape, p.dtype)
        optimizer.step()
    return optimizer


def bad_state_dicts():
    sgd = trained(SGD([param(), param((3,))], lr=0.1, momentum=0.9)).state_dict()
    adam = trained(Adam([param(), param((3,))])).state_dict()

    def edit(sd, change):
        sd = copy.deepcopy(sd)
        change(sd)
        return sd

    return [
        ("SGD", adam, r"SGD.load_state_dict: param group 0 of the state_dict lacks the options "
         r"\['dampening', 'momentum', 'nesterov'\] of SGD \(is it the state of another optimizer"),
        ("Adam", sgd, r"Adam.load_state_dict: param group 0 of the state_dict lacks the options "
         r"\['amsgrad', 'betas', 'eps'\]"),
        ("SGD", edit(sgd, lambda sd: sd["state"][0].update(exp_avg=np.ones(2))),
         r"SGD.load_state_dict: the state of parameter 0 has \['exp_avg', 'momentum_buffer'\], "
         r"SGD keeps \['momentum_buffer'\]"),
        ("Adam", edit(adam, lambda sd: sd["state"][1].pop("exp_avg_sq")),
         r"the state of parameter 1 has \['exp_avg', 'step'\], Adam keeps"),
        ("SGD", edit(sgd, lambda sd: sd["state"][1].update(momentum_buffer=np.ones(4))),
         r"SGD.load_state_dict: momentum_buffer of parameter 1 must be an array of the "
         r"parameter's shape \(3,\), got float64 \(4,\)"),
        ("Adam", edit(adam, lambda sd: sd["state"][0].update(exp_avg="a")),
         r"exp_avg of parameter 0 must be an array of the parameter's shape"),
        ("Adam", edit(adam, lambda sd: sd["state"][0].update(step=-1)),
         r"Adam.load_state_dict: step of parameter 0 must be a count, got -1"),
        ("Adam", edit(adam, lambda sd: sd["state"][0].update(step=1.5)),
         r"step of parameter 0 must be a count, got 1.5"),
        ("Adam", edit(adam, lambda sd: sd["state"][0].update(step=np.ones(2))),
         r"step of parameter 0 must be a count"),
        ("SGD", edit(sgd, lambda sd: sd["param_groups"][0].update(lr=-0.5)),
         r"SGD: lr must be .* got -0.5 in param group 0 of the state_dict"),
        ("SGD", edit(sgd, lambda sd: sd["param_groups"][0].update(lr=10**400)),
         r"SGD: lr must be a finite number .* in param group 0 of the state_dict"),
        ("SGD", edit(sgd, lambda sd: sd["param_groups"][0].update(params=0)),
         r"SGD.load_state_dict: 'params' of param group 0 of the state_dict must be a list of "
         r"parameter indices, got 0"),
        ("Adam", edit(adam, lambda sd: sd["param_groups"][0].update(params=[0, [1]])),
         r"'params' of param group 0 of the state_dict must hold ints"),
        ("SGD", edit(sgd, lambda sd: sd.update(param_groups=3)),
         r"SGD.load_state_dict: the state_dict's param_groups must be a list, got 3"),
        ("Adam", edit(adam, lambda sd: sd["param_groups"][0].update(betas=(0.9, 1.0))),
         r"Adam: betas\[1\] must be .* in param group 0 of the state_dict"),
        ("Adam", edit(adam, lambda sd: sd["param_groups"][0].update(decoupled_weight_decay=True)),
         r"Adam: decoupled_weight_decay \(AdamW\) is not supported"),
        ("SGD", edit(sgd, lambda sd: sd["param_groups"].append(sd["param_groups"][0])),
         r"SGD.load_state_dict: state_dict has 2 param groups, this optimizer has 1"),
        ("SGD", edit(sgd, lambda sd: sd["param_groups"][0]["params"].append(2)),
         r"param group 0 of the state_dict has 3 parameters, this optimizer's has 2"),
        ("SGD", edit(sgd, lambda sd: sd["param_groups"][0].update(params=[0, 0])),
         r"the state_dict's param groups list a parameter twice"),
        ("SGD", edit(sgd, lambda sd: sd["state"].update({5: sd["state"][0]})),
         r"the state_dict has state for parameter 5, which no group lists"),
        ("SGD", edit(sgd, lambda sd: sd["state"].update({"0": sd["state"].pop(0)})),
         r"state for parameter '0', which no group lists"),
        ("SGD", {"state": {}}, r"SGD.load_state_dict: state_dict must be a dict with 'state'"),
        ("SGD", {"state": [], "param_groups": []}, r"state_dict must be a dict with 'state' \(a"),
        ("SGD", [1, 2], r"state_dict must be a dict .* got \[1, 2\]"),
    ]  # fmt: skip


@pytest.mark.parametrize(("kind", "state_dict", "message"), bad_state_dicts())
def test_bad_state_dicts_are_refused_and_change_nothing(kind, state_dict, message):
    cls, options = {"SGD": (SGD, {"momentum": 0.5}), "Adam": (Adam, {})}[kind]
    optimizer = trained(cls([param(), param((3,))], lr=0.2, **options))
    before = copy.deepcopy(optimizer.state_dict())
    groups = optimizer.param_groups
    with pytest.raises((ValueError, TypeError), match=message):
        optimizer.load_state_dict(state_dict)
    after = optimizer.state_dict()
    assert optimizer.param_groups is groups and after["param_groups"] == before["param_groups"]
    assert after["state"].keys() == before["state"].keys()
    for k, state in after["state"].items():
        for name, value in state.items():
            np.testing.assert_array_equal(value, before["state"][k][name])
