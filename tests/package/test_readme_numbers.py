"""Every number the README quotes from a run of ``mathdnn hw4`` is that run's: the run's
``results.json`` is stored beside this test (``readme_run.json``), and each quoted figure is
written from it here and looked up in the README, so a change to the run leaves no stale number.
A new run replaces the file and the README's figures together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = json.loads(Path(__file__).with_name("readme_run.json").read_text())


def _percent(x: float) -> str:
    return f"{100 * x:.2f} %"


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.3g} ms"


def _mib(n: float) -> str:
    return f"{n / 2**20:.3g} MiB"


def _kib(n: float) -> str:
    return f"{n / 2**10:.3g} KiB"


def _points(fraction: float) -> str:
    return f"{100 * fraction:+.2f}"


WORDS = {5: "five"}


def quoted() -> dict[str, str]:
    """What the README says the run measured, by what it is, written from the run."""
    p4, p5, p6, p7 = (RUN["problems"][k] for k in ("4", "5", "6", "7"))
    config, summary = p5["config"], p5["summary"]
    evaluations = p4["rewrite"]["evaluations_per_image"]
    widest = p6["costs"]["rows"][-1]
    mlp = p6["mnist_mlp"]
    full, original = p7["training"]["full"], p7["training"]["original"]
    lo, hi = summary["interval"]
    return {
        "the full run's time": f"one full run of `mathdnn hw4` ({RUN['seconds']:.0f} s",
        "Problem 4's evaluations": (
            f"from {evaluations['before']:,} to {evaluations['after']:,} elements per image, "
            f"{evaluations['ratio']:g} = k² times fewer"
        ),
        "Problem 5's setting": (
            f"{config['n_train']} training, {config['n_test']} test images; "
            f"{config['epochs']} epochs, lr {config['lr']:g}, batch {config['batch_size']}, "
            f"{WORDS.get(config['seeds'], config['seeds'])} seeds"
        ),
        "Problem 5's accuracies": (
            f"KL {_percent(summary['mean']['kl'])}, sum of squares "
            f"{_percent(summary['mean']['sos'])} on average"
        ),
        "Problem 5's paired verdict": (
            f"sum of squares is ahead on {summary['seeds_sos_better']} of {config['seeds']} "
            f"seeds, by {_points(summary['difference_sos_minus_kl'])} points on average, "
            f"{100 * summary['confidence']:g} % confidence interval [{_points(lo)}, "
            f"{_points(hi)}] (Student's t, {config['seeds'] - 1} degrees of freedom)"
        ),
        "Problem 6's widest MLP": (
            f"at width {widest['n']} (MLP n-n-n-n-1, tanh) the explicit Jacobian products take "
            f"{_ms(widest['jacobian']['seconds'])} and {_mib(widest['jacobian']['working'])} of "
            f"working memory, backprop {_ms(widest['backprop']['seconds'])} and "
            f"{_kib(widest['backprop']['working'])}"
        ),
        "Problem 6's MNIST MLP": (
            f"An MNIST MLP {'-'.join(map(str, mlp['layers']))} trained by backprop alone and by "
            "the engine's autodiff has identical parameters after every one of its "
            f"{mlp['steps']} steps (test accuracy {100 * mlp['test_accuracy_backprop']:.1f} % "
            "both)"
        ),
        "Problem 7's training": (
            f"After {full['epochs']} epochs on the {RUN['inputs']['mnist']['n_train']:,} bundled "
            f"training digits: {_percent(full['final_test_accuracy'])} (full) and "
            f"{_percent(original['final_test_accuracy'])} (original) test accuracy, "
            f"{full['training_seconds']:.0f} s and {original['training_seconds']:.0f} s of "
            "training"
        ),
    }


def _readme() -> str:
    return " ".join((ROOT / "README.md").read_text().split())


@pytest.mark.parametrize("what", list(quoted()))
def test_the_readme_quotes_the_run(what):
    assert quoted()[what] in _readme(), what


def test_the_stored_run_is_a_full_seeded_run_whose_checks_all_passed():
    assert RUN["report"] == "mathdnn hw4" and RUN["options"]["quick"] is False
    assert RUN["options"]["check_seed"] == 0 and RUN["summary"]["failed"] == 0
    assert RUN["inputs"]["mnist"]["source"].startswith("bundled")


def test_the_readme_credits_the_course_only_with_what_it_published():
    """The course's official solution gives the parameter counts and, for Problem 5, the remark
    that the sum of squares "seems to lead to better results". The accuracies that circulate
    (one student's single runs) are not the course's, nor anyone's measurement here."""
    text = _readme()
    for circulating in ("98.3", "98.6 %", "96.0 %", "95.9 %", "The course reports"):
        assert circulating not in text, circulating
    assert '"seems to lead to better results"' in text
