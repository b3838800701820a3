"""mathdnn.optim against torch.optim: the same parameters and gradients, compared after every step.

Hypothesis draws the hyperparameters (defaults and per-group options), several param groups of
parameters of awkward shapes (0-d, empty), float32 and float64, gradients that are None for some
parameters at some steps, and NaN/inf at random positions of the gradients (the non-finite
pattern of the parameters must equal PyTorch's). ``state_dict()`` is compared with PyTorch's and
loaded across the two libraries.
"""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import TOLERANCE, dtypes, seeds  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mathdnn  # noqa: E402
from mathdnn.optim import SGD, Adam  # noqa: E402

# Options PyTorch keeps in its param groups for its own implementations (same arithmetic).
TORCH_ONLY_OPTIONS = {"foreach", "fused", "differentiable", "capturable", "decoupled_weight_decay"}


@st.composite
def sgd_options(draw):
    momentum = draw(st.sampled_from([0.0, 0.9]) | st.floats(0, 0.99))
    nesterov = momentum > 0 and draw(st.booleans())
    dampening = 0.0 if nesterov else draw(st.sampled_from([0.0, 1.0]) | st.floats(0, 1))
    return {
        "lr": draw(st.floats(0, 2)),
        "momentum": momentum,
        "dampening": dampening,
        "weight_decay": draw(st.sampled_from([0.0]) | st.floats(0, 1)),
        "nesterov": nesterov,
        "maximize": draw(st.booleans()),
    }


@st.composite
def adam_options(draw):
    return {
        "lr": draw(st.floats(0, 1)),
        "betas": (draw(st.floats(0, 0.999)), draw(st.floats(0, 0.9999))),
        "eps": draw(st.sampled_from([1e-8, 0.0]) | st.floats(0, 1e-3)),
        "weight_decay": draw(st.sampled_from([0.0]) | st.floats(0, 1)),
        "amsgrad": draw(st.booleans()),
        "maximize": draw(st.booleans()),
    }


OPTIMIZERS = {
    "SGD": (SGD, torch.optim.SGD, sgd_options()),
    "Adam": (Adam, torch.optim.Adam, adam_options()),
}

shapes = st.lists(st.integers(0, 4), max_size=3).map(tuple)


@st.composite
def problems(draw, options):
    """Defaults, then 1-3 groups ``(shapes, options)``; a group gives some options itself
    (keeping SGD's nesterov consistent with the defaults it falls back on)."""
    defaults = draw(options)
    groups = []
    for _ in range(draw(st.integers(1, 3))):
        own = draw(options)
        keys = draw(st.sets(st.sampled_from(sorted(own))))
        if "nesterov" in own:  # SGD: give the three together or none of them
            keys = keys | {"momentum", "dampening", "nesterov"} if "nesterov" in keys else keys
            keys -= set() if "nesterov" in keys else {"momentum", "dampening"}
        groups.append((draw(st.lists(shapes, min_size=1, max_size=3)), {k: own[k] for k in keys}))
    return defaults, groups


def make_pair(optimizer, defaults, groups, dtype, rng):
    """The same parameters (equal copies) in an mathdnn and a torch optimizer."""
    mf_cls, torch_cls, _ = OPTIMIZERS[optimizer]
    mf_groups, torch_groups, pairs = [], [], []
    for group_shapes, options in groups:
        arrays = [rng.standard_normal(shape).astype(dtype) for shape in group_shapes]
        mf = [mathdnn.tensor(a, requires_grad=True) for a in arrays]
        th = [torch.tensor(a, requires_grad=True) for a in arrays]
        mf_groups.append({"params": mf, **options})
        torch_groups.append({"params": th, **options})
        pairs += zip(mf, th, strict=True)
    return mf_cls(mf_groups, **defaults), torch_cls(torch_groups, **defaults), pairs


def draw_grads(pairs, rng, dtype, nonfinite=False):
    """A random gradient per parameter, None with probability 1/4; with ``nonfinite``, about a
    tenth of the entries NaN, inf or -inf."""
    grads = []
    for m, _ in pairs:
        if rng.random() < 0.25:
            grads.append(None)
            continue
        g = rng.standard_normal(m.shape).astype(dtype)
        if nonfinite:
            where = rng.random(g.shape) < 0.1
            g[where] = rng.choice([np.nan, np.inf, -np.inf], size=int(where.sum()))
        grads.append(g)
    return grads


def give(pairs, grads):
    """The same gradients to both libraries' parameters."""
    for (m, t), g in zip(pairs, grads, strict=True):
        m.grad = None if g is None else g.copy()
        t.grad = None if g is None else torch.tensor(g)


def largest(pairs, scale):
    """``max(scale, largest finite |θ| of PyTorch's parameters)``."""
    for _, t in pairs:
        values = np.abs(t.detach().numpy())
        scale = max(scale, float(np.max(values[np.isfinite(values)], initial=0.0)))
    return scale


def assert_params_match(pairs, dtype, scale):
    """Values to ``tol · max(1, largest |θ| so far)`` (one step's rounding acts on the old θ
    and the update, which may be larger than the new θ); NaN and ±inf at the same places."""
    tol = TOLERANCE[np.dtype(dtype)]
    for k, (m, t) in enumerate(pairs):
        expected = t.detach().numpy()
        assert m.dtype == expected.dtype
        np.testing.assert_allclose(
            m.data, expected, rtol=tol, atol=tol * scale, equal_nan=True, err_msg=f"param {k}"
        )


def assert_states_match(mf_opt, torch_opt, pairs, dtype, scale):
    """The same state names and values. PyTorch updates m by ``lerp``, which turns some ±inf into
    NaN, so non-finite entries are only checked to be non-finite in both."""
    tol = TOLERANCE[np.dtype(dtype)]
    for k, (m, t) in enumerate(pairs):
        mf_state, torch_state = mf_opt.state.get(m, {}), torch_opt.state.get(t, {})
        assert set(mf_state) == set(torch_state), f"param {k}"
        for name, value in mf_state.items():
            expected = torch_state[name].numpy()
            if name == "step":
                assert value == expected
                continue
            finite = np.isfinite(expected)
            np.testing.assert_array_equal(np.isfinite(value), finite, f"{name} of param {k}")
            np.testing.assert_allclose(
                value[finite], expected[finite], rtol=tol, atol=tol * scale, err_msg=name
            )


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@settings(max_examples=60)
@given(data=st.data(), dtype=dtypes, seed=seeds, steps=st.integers(1, 5), nonfinite=st.booleans())
def test_steps_match_torch(optimizer, data, dtype, seed, steps, nonfinite):
    defaults, groups = data.draw(problems(OPTIMIZERS[optimizer][2]))
    rng = np.random.default_rng(seed)
    mf_opt, torch_opt, pairs = make_pair(optimizer, defaults, groups, dtype, rng)
    scale = largest(pairs, 1.0)
    for _ in range(steps):
        give(pairs, draw_grads(pairs, rng, dtype, nonfinite))
        mf_opt.step()
        torch_opt.step()
        scale = largest(pairs, scale)
        assert_params_match(pairs, dtype, scale)
        assert_states_match(mf_opt, torch_opt, pairs, dtype, scale)


def to_numpy(state_dict):
    """A torch optimizer's state_dict with its tensors as NumPy arrays."""
    state = {k: {n: v.numpy() for n, v in s.items()} for k, s in state_dict["state"].items()}
    return {"state": state, "param_groups": state_dict["param_groups"]}


def to_torch(state_dict):
    """An mathdnn optimizer's state_dict with its arrays as tensors (``step`` stays an int)."""
    state = {
        k: {n: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for n, v in s.items()}
        for k, s in state_dict["state"].items()
    }
    return {"state": state, "param_groups": state_dict["param_groups"]}


def regroup(tensors, groups):
    """``tensors`` cut into param groups of the sizes of ``groups`` (their options are left to
    the defaults: ``load_state_dict`` brings the saved ones)."""
    sizes = np.cumsum([0] + [len(group_shapes) for group_shapes, _ in groups])
    return [{"params": tensors[a:b]} for a, b in itertools.pairwise(sizes)]


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@settings(max_examples=30)
@given(data=st.data(), dtype=dtypes, seed=seeds, steps=st.integers(0, 3))
def test_state_dict_has_torchs_layout_and_loads_both_ways(optimizer, data, dtype, seed, steps):
    """After some steps the two state_dicts have the same layout (PyTorch's groups add only its
    implementation switches). A fresh mathdnn optimizer given PyTorch's state_dict then continues
    as PyTorch's optimizer does, and a fresh torch optimizer given ours continues as ours."""
    defaults, groups = data.draw(problems(OPTIMIZERS[optimizer][2]))
    rng = np.random.default_rng(seed)
    mf_opt, torch_opt, pairs = make_pair(optimizer, defaults, groups, dtype, rng)
    for _ in range(steps):
        give(pairs, draw_grads(pairs, rng, dtype))
        mf_opt.step()
        torch_opt.step()
    ours, theirs = mf_opt.state_dict(), torch_opt.state_dict()
    assert list(ours["state"]) == list(theirs["state"])
    for k, s in ours["state"].items():
        assert set(s) == set(theirs["state"][k])
    for group, torch_group in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert set(torch_group) - set(group) <= TORCH_ONLY_OPTIONS
        assert group == {k: torch_group[k] for k in group}

    mf_cls, torch_cls, _ = OPTIMIZERS[optimizer]
    mf_new = [mathdnn.tensor(t.detach().numpy(), requires_grad=True) for _, t in pairs]
    torch_new = [torch.tensor(m.data, requires_grad=True) for m, _ in pairs]
    mf_fresh = mf_cls(regroup(mf_new, groups), **defaults)
    torch_fresh = torch_cls(regroup(torch_new, groups), **defaults)
    mf_fresh.load_state_dict(to_numpy(theirs))
    torch_fresh.load_state_dict(to_torch(ours))
    like_torch = list(zip(mf_new, [t for _, t in pairs], strict=True))
    like_ours = list(zip([m for m, _ in pairs], torch_new, strict=True))
    scale = largest(pairs, 1.0)
    for _ in range(3):
        grads = draw_grads(pairs, rng, dtype)
        give(like_torch, grads)
        give(like_ours, grads)
        for opt in (mf_opt, torch_opt, mf_fresh, torch_fresh):
            opt.step()
        scale = largest(pairs, scale)
        assert_params_match(like_torch, dtype, scale)
        assert_params_match(like_ours, dtype, scale)
