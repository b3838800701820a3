"""Optimizer checkpoints: save after k steps, load into a fresh optimizer, continue — the same
parameters, bit for bit, as a run that never stopped; also through a flat file of arrays plus
JSON (the layout a safetensors checkpoint will use)."""

import copy
import json

import numpy as np
import pytest
from conftest import dtypes, seeds
from hypothesis import given, settings
from hypothesis import strategies as st

import mathdnn
from mathdnn.optim import SGD, Adam

CONFIGS = {
    "SGD momentum": (SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    "SGD nesterov": (SGD, {"lr": 0.05, "momentum": 0.5, "nesterov": True, "maximize": True}),
    "SGD plain": (SGD, {"lr": 0.1}),
    "Adam": (Adam, {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    "AMSGrad": (Adam, {"lr": 0.01, "amsgrad": True, "eps": 1e-6}),
}
SHAPES = [[(3, 2), ()], [(4,), (0, 2), (2, 1, 3)]]  # two param groups


def grouped(flat):
    """A flat list of arrays cut into the groups of SHAPES."""
    return [flat[: len(SHAPES[0])], flat[len(SHAPES[0]) :]]


def make(config, arrays):
    """The optimizer of ``config`` over copies of ``arrays``, the second group with its own lr."""
    cls, options = CONFIGS[config]
    params = [[mathdnn.tensor(a, requires_grad=True) for a in group] for group in arrays]
    groups = [{"params": params[0]}, {"params": params[1], "lr": options["lr"] / 2}]
    return cls(groups, **options), [p for group in params for p in group]


def gradients(rng, dtype, steps):
    """For each step, a gradient per parameter, None for about one in four."""
    return [
        [
            None if rng.random() < 0.25 else rng.standard_normal(shape).astype(dtype)
            for group in SHAPES
            for shape in group
        ]
        for _ in range(steps)
    ]


def run(optimizer, params, grads):
    for step in grads:
        for p, g in zip(params, step, strict=True):
            p.grad = None if g is None else g.copy()
        optimizer.step()


def flatten(state_dict):
    """``(arrays, text)``: every state entry as an array ``"state.<index>.<name>"`` (the
    count ``step`` as a 0-d int64 array), the param groups as JSON."""
    arrays = {
        f"state.{k}.{name}": np.asarray(value, dtype=np.int64 if name == "step" else None)
        for k, state in state_dict["state"].items()
        for name, value in state.items()
    }
    return arrays, json.dumps({"param_groups": state_dict["param_groups"]})


def unflatten(arrays, text):
    state = {}
    for key, value in arrays.items():
        _, k, name = key.split(".")
        state.setdefault(int(k), {})[name] = value
    return {"state": state, "param_groups": json.loads(text)["param_groups"]}


@pytest.mark.parametrize("config", sorted(CONFIGS))
@settings(max_examples=25)
@given(dtype=dtypes, seed=seeds, k=st.integers(0, 4), more=st.integers(1, 4))
def test_resume_from_state_dict_is_bit_identical(config, dtype, seed, k, more):
    rng = np.random.default_rng(seed)
    arrays = [[rng.standard_normal(s).astype(dtype) for s in group] for group in SHAPES]
    grads = gradients(rng, dtype, k + more)

    straight, straight_params = make(config, arrays)
    run(straight, straight_params, grads)

    first, first_params = make(config, arrays)
    run(first, first_params, grads[:k])
    checkpoint = flatten(first.state_dict())
    saved_params = [p.data.copy() for p in first_params]
    run(first, first_params, grads[k:])  # the checkpoint must not move with the optimizer

    resumed, resumed_params = make(config, grouped(saved_params))
    resumed.load_state_dict(unflatten(*checkpoint))
    run(resumed, resumed_params, grads[k:])

    for a, b, c in zip(straight_params, first_params, resumed_params, strict=True):
        assert a.dtype == c.dtype == dtype
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_array_equal(a.data, c.data)
    assert json.loads(checkpoint[1])["param_groups"] == json.loads(
        json.dumps(resumed.state_dict()["param_groups"])
    )
    ours, theirs = flatten(resumed.state_dict())[0], flatten(straight.state_dict())[0]
    assert ours.keys() == theirs.keys()
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key], key)


def test_state_dict_layout_and_values():
    """PyTorch's layout: parameters numbered across the groups, state only for parameters that
    had a gradient, Python numbers for the options and ``step``, copies of the arrays."""
    a = mathdnn.tensor(np.ones(3), requires_grad=True)
    b = mathdnn.tensor(np.ones((2, 2)), requires_grad=True)
    c = mathdnn.tensor(np.ones(1), requires_grad=True)
    optimizer = Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1)
    a.grad, c.grad = np.full(3, 2.0), np.ones(1)
    optimizer.step()
    optimizer.step()
    sd = optimizer.state_dict()
    assert sd["param_groups"] == [
        {
            "lr": 0.1,
            "betas": (0.9, 0.999),
            "eps": 1e-8,
            "weight_decay": 0.0,
            "amsgrad": False,
            "maximize": False,
            "params": [0, 1],
        },
        {
            "lr": 0.5,
            "betas": (0.9, 0.999),
            "eps": 1e-8,
            "weight_decay": 0.0,
            "amsgrad": False,
            "maximize": False,
            "params": [2],
        },
    ]
    assert list(sd["state"]) == [0, 2]
    state = sd["state"][0]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"} and state["step"] == 2
    assert type(state["step"]) is int
    # m_2 = 0.9·0.1·2 + 0.1·2, v_2 = 0.999·0.001·4 + 0.001·4 (the formulas, by hand)
    np.testing.assert_allclose(state["exp_avg"], np.full(3, 0.38), rtol=1e-14)
    np.testing.assert_allclose(state["exp_avg_sq"], np.full(3, 0.007996), rtol=1e-14)
    state["exp_avg"][...] = 7.0
    assert not np.any(optimizer.state[a]["exp_avg"] == 7.0)
    json.dumps(sd["param_groups"])


def test_sgd_without_momentum_keeps_no_state():
    p = mathdnn.tensor(np.ones(2), requires_grad=True)
    optimizer = SGD([p], lr=0.1)
    p.grad = np.ones(2)
    optimizer.step()
    assert optimizer.state_dict()["state"] == {} and len(optimizer.state) == 0


def test_safetensors_round_trip(tmp_path):
    """The flat layout saves to safetensors (arrays, and the JSON as metadata) and back."""
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    safetensors = pytest.importorskip("safetensors")
    rng = np.random.default_rng(0)
    arrays = [[rng.standard_normal(s).astype(np.float32) for s in group] for group in SHAPES]
    grads = gradients(rng, np.float32, 5)
    first, first_params = make("AMSGrad", arrays)
    run(first, first_params, grads[:2])
    tensors, text = flatten(first.state_dict())
    safetensors_numpy.save_file(tensors, tmp_path / "optim.safetensors", metadata={"json": text})
    with safetensors.safe_open(tmp_path / "optim.safetensors", framework="np") as f:
        loaded = {key: f.get_tensor(key) for key in f.keys()}
        text = f.metadata()["json"]
    resumed, resumed_params = make("AMSGrad", grouped([p.data.copy() for p in first_params]))
    resumed.load_state_dict(unflatten(loaded, text))
    run(first, first_params, grads[2:])
    run(resumed, resumed_params, grads[2:])
    for a, b in zip(first_params, resumed_params, strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_load_state_dict_copies_and_casts():
    """Loaded arrays are copies in the parameter's dtype; ``step`` may be PyTorch's float."""
    p = mathdnn.tensor(np.ones(2, np.float32), requires_grad=True)
    optimizer = Adam([p])
    sd = {
        "state": {0: {"step": np.float32(3.0), "exp_avg": np.ones(2), "exp_avg_sq": np.ones(2)}},
        "param_groups": [copy.deepcopy(optimizer.state_dict()["param_groups"][0])],
    }
    sd["state"][1] = {}  # an empty state, as PyTorch's defaultdict may hold, is no state
    optimizer.load_state_dict(sd)
    assert list(optimizer.state) == [p]
    state = optimizer.state[p]
    assert state["step"] == 3 and type(state["step"]) is int
    assert (
        state["exp_avg"].dtype == np.float32 and state["exp_avg"] is not sd["state"][0]["exp_avg"]
    )
    sd["state"][0]["exp_avg"][...] = 5.0
    assert np.all(state["exp_avg"] == 1.0)


def test_zero_grad_and_closure():
    p = mathdnn.tensor(np.ones(2), requires_grad=True)
    optimizer = SGD([p], lr=0.5)
    calls = []

    def closure():
        calls.append(p.data.copy())
        p.grad = np.array([1.0, -1.0])
        return 42.0

    assert optimizer.step(closure) == 42.0
    np.testing.assert_array_equal(calls[0], [1.0, 1.0])  # called before the update
    np.testing.assert_array_equal(p.data, [0.5, 1.5])
    grad = p.grad
    optimizer.zero_grad(set_to_none=False)
    assert p.grad is grad and np.all(grad == 0)
    optimizer.zero_grad()
    assert p.grad is None
    optimizer.step()  # no gradient: nothing moves
    np.testing.assert_array_equal(p.data, [0.5, 1.5])


def test_params_from_a_module_and_add_param_group():
    from mathdnn import nn

    model = nn.Sequential(nn.Linear(3, 2, rng=0), nn.Tanh(), nn.Linear(2, 1, rng=1))
    optimizer = SGD(model[0].parameters(), lr=0.1, momentum=0.9)
    optimizer.add_param_group({"params": model[2].parameters(), "lr": 0.01})
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.01]
    assert optimizer.param_groups[1]["momentum"] == 0.9
    assert optimizer.defaults["lr"] == 0.1
    assert "Parameter Group 1" in repr(optimizer) and "lr: 0.01" in repr(optimizer)
