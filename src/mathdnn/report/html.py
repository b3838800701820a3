"""The report as one self-contained HTML page: inline CSS, figures as ``data:`` URIs, no script,
no external font or link, so it opens from disk and reads the same when shared.

``render(report)`` writes, in order: a summary (how many checks passed, the time taken, the data
and software), a table of contents, then one section per problem (the question, the answer, the
construction, the figures with captions, the numbers, the problem's checks against their
references) and the engine's checks. Every text that comes from data (names, paths, details) goes
through ``html.escape``; the prose around it is this module's.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from mathdnn.report.build import Report, Section, tally
from mathdnn.verify import Check

esc = html.escape


# ------------------------------------------------------------------------------ small pieces
def _fmt(x: float, spec: str = ".3g") -> str:
    return f"{x:{spec}}".replace("-", "−")


def _percent(x: float, digits: int = 2) -> str:
    return _fmt(100 * x, f".{digits}f") + " %"


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _bytes(n: float) -> str:
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def _error(check: Check) -> str:
    if check.skipped or math.isnan(check.max_error):
        return "—"
    if math.isinf(check.max_error):
        return "∞"
    return "0" if check.max_error == 0 else _fmt(check.max_error, ".2e")


def _tolerance(value: float) -> str:
    return "0" if value == 0 else _fmt(value, ".0e")


def _points(fraction: float) -> str:
    """A difference of accuracies in percentage points, signed."""
    return f"{100 * fraction:+.2f}"


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "", caption: str = ""
) -> str:
    """A table of HTML cells (the caller escapes data); wrapped so a wide one scrolls."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{caption}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table class="{cls}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _matrix(rows: Sequence[Sequence[Any]], label: str = "", fmt: Any = str) -> str:
    """A matrix between brackets, ``label =`` before it."""
    cells = "".join(
        "<tr>" + "".join(f"<td>{esc(fmt(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    name = f'<span class="mlabel">{label} =</span>' if label else ""
    return f'<span class="matrix-with-label">{name}<table class="matrix">{cells}</table></span>'


def _number(v: float) -> str:
    return _fmt(float(v), "g")


def _figure(section: Section, name: str, caption: str, alt: str, narrow: bool = False) -> str:
    """An embedded PNG with its caption; ``narrow`` keeps a photograph from filling the page."""
    data = base64.b64encode(section.figures[name]).decode("ascii")
    cls = ' class="narrow"' if narrow else ""
    return (
        f'<figure{cls}><img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
        f'<figcaption>{caption} <span class="file">({esc(name)})</span></figcaption></figure>'
    )


def _formula(*lines: str) -> str:
    return '<div class="formula">' + "<br>".join(lines) + "</div>"


def _code(text: str) -> str:
    return f"<code>{esc(text)}</code>"


STATUS_CLASS = {"pass": "pass", "skip": "skip", "xfail (as expected)": "xfail"}
STATUS_TEXT = {
    "pass": "✓ pass",
    "skip": "skipped",
    "xfail (as expected)": "✓ fails, as it must",
    "FAIL": "✗ FAIL",
    "FAIL (identity held)": "✗ FAIL: the identity held",
}


def _tally(checks: Sequence[Check]) -> str:
    """``3 of 3 checks passed``, with the failed and skipped ones when there are any."""
    t = tally(list(checks))
    text = f"{t['passed']} of {t['checks']} checks passed"
    if t["failed"]:
        text += f", {t['failed']} FAILED"
    if t["skipped"]:
        text += f", {t['skipped']} skipped"
    return text


def _checks_table(checks: Sequence[Check]) -> str:
    """The problem's verification table: each check, its reference, its error and tolerance."""
    rows = []
    for c in checks:
        cls = STATUS_CLASS.get(c.status, "fail")
        name = esc(c.name) + (f'<div class="detail">{esc(c.detail)}</div>' if c.detail else "")
        rows.append(
            f'<tr class="{cls}"><td>{name}</td><td>{esc(c.reference)}</td>'
            f'<td class="num">{_error(c)}</td><td class="num">{_tolerance(c.tolerance)}</td>'
            f'<td class="status">{STATUS_TEXT.get(c.status, esc(c.status))}</td></tr>'
        )
    return (
        f'<h3>Verification: {_tally(checks)}</h3><div class="scroll">'
        '<table class="checks"><thead><tr><th>check</th><th>independent reference</th>'
        "<th>max error</th><th>tolerance</th><th>result</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


# ------------------------------------------------------------------------------ the problems
def _problem1(s: Section, report: Report) -> str:
    image = report.inputs["image"]
    w = s.numbers["filter"]
    return (
        '<p class="question"><b>Question.</b> For a grey image <i>X</i> ∈ ℝ<sup>m×n</sup>, let '
        "Y[0, i, j] = X[i+1, j] − X[i, j] (vertical difference) and Y[1, i, j] = X[i, j+1] − "
        "X[i, j] (horizontal difference), pixels beyond the border being 0. Is <i>Y</i> one "
        "convolution?</p>"
        '<p class="answer"><b>Answer.</b> Yes: <code>Y = conv2d(X, w, padding=1)</code> with the '
        "(2, 1, 3, 3) filter below. The zero padding supplies the missing X[m, :] and X[:, n], so "
        "the last row of Y[0] is −X[m−1, j]. The gradient magnitude √(Y0² + Y1²) is an edge "
        "map.</p>"
        "<h3>Construction</h3>"
        '<div class="matrices">'
        + _matrix(w[0][0], "w[0, 0]", _number)
        + _matrix(w[1][0], "w[1, 0]", _number)
        + "</div>"
        + _formula(
            "Y[l, i, j] = Σ<sub>a,b</sub> w[l, 0, a, b] · X′[i + a, j + b]   (X′: X padded by 1)",
            "Y[0, i, j] = −X[i, j] + X[i+1, j],   Y[1, i, j] = −X[i, j] + X[i, j+1]",
        )
        + f"<p>Code: {_code('mathdnn.hw4.p1_finite_differences.finite_differences(X)')}.</p>"
        + _figure(
            s,
            "p1_edges.png",
            f"{esc(image['name'])} ({image['width']}×{image['height']}) in grey, the two output "
            "channels of the one convolution (red: brighter below / to the right, blue: darker; "
            "colour range clipped at the 99.5th percentile) and the gradient magnitude.",
            "The photograph in grey, its vertical and horizontal differences, its edge map",
            narrow=True,
        )
    )


def _problem2(s: Section, report: Report) -> str:
    n = s.numbers
    k = n["k"]
    entry = str(Fraction(1, k * k))
    (w, h), (wo, ho) = n["input_size"], n["output_size"]
    return (
        '<p class="question"><b>Question.</b> Is the k×k average pool of <i>X</i> ∈ '
        "ℝ<sup>C×m×n</sup>, Y[c, i, j] = (1/k²) Σ<sub>a&lt;k, b&lt;k</sub> X[c, k·i + a, k·j + "
        "b], a convolution?</p>"
        '<p class="answer"><b>Answer.</b> Yes: stride k, no padding, and the filter 1/k² applied '
        "to each channel on its own: depthwise, <i>w</i> ∈ ℝ<sup>C×1×k×k</sup> with groups = C, or "
        "dense, <i>w</i> ∈ ℝ<sup>C×C×k×k</sup> with w[c, c′] = δ(c, c′)/k².</p>"
        "<h3>Construction</h3>"
        f"<p>For the figure, k = {k}: every channel c has the same {k}×{k} kernel,</p>"
        '<div class="matrices">'
        + _matrix([[entry] * k for _ in range(k)], f"w[c, 0] (k = {k})")
        + "</div>"
        + f"<p>{_code(f'conv2d(X, w, stride={k}, groups=C)')}; code: "
        f"{_code('mathdnn.hw4.p2_average_pooling.average_pool(X, k)')}.</p>"
        + _figure(
            s,
            "p2_average_pool.png",
            f"{esc(report.inputs['image']['name'])} ({w}×{h}) and its {k}×{k} average pool "
            f"({wo}×{ho}), drawn at the input's size so each block is one visible square.",
            "The photograph beside its average pool",
            narrow=True,
        )
    )


def _problem3(s: Section, report: Report) -> str:
    r, g, b = s.numbers["weights"]
    return (
        '<p class="question"><b>Question.</b> Is the luma Y[i, j] = 0.299·X[0, i, j] + '
        "0.587·X[1, i, j] + 0.114·X[2, i, j] (ITU-R BT.601) a convolution?</p>"
        '<p class="answer"><b>Answer.</b> Yes, with a 1×1 filter: a 1×1 convolution is the same '
        'linear map of the channels at every pixel. Pillow\'s <code>convert("L")</code> uses the '
        "same weights rounded to integers, so 8-bit results agree within one grey level.</p>"
        "<h3>Construction</h3>"
        '<div class="matrices">'
        + _matrix([[r, g, b]], "w[0, :, 0, 0]", _number)
        + "</div>"
        + f"<p>{_code('conv2d(X, w)')}, <i>w</i> ∈ ℝ<sup>1×3×1×1</sup>; code: "
        f"{_code('mathdnn.hw4.p3_grayscale.grayscale(X)')}.</p>"
        + _figure(
            s,
            "p3_grayscale.png",
            f"{esc(report.inputs['image']['name'])} and its luma, computed by the 1×1 convolution.",
            "The photograph beside its greyscale",
            narrow=True,
        )
    )


def _problem4(s: Section, report: Report) -> str:
    n = s.numbers
    rewrite = n["rewrite"]
    rows = [
        [
            esc(name),
            _ms(t["before"]),
            _ms(t["after"]),
            _percent(t["saving"], 0),
        ]
        for name, t in rewrite["seconds"].items()
    ]
    savings = [t["saving"] for t in rewrite["seconds"].values()]
    counter_rows = [
        [
            esc(name),
            f"[{_fmt(c['window'][0])}, {_fmt(c['window'][1])}]",
            _fmt(c["sigma_of_pool"]),
            _fmt(c["pool_of_sigma"]),
        ]
        for name, c in n["counterexamples"].items()
    ]
    return (
        '<p class="question"><b>Question.</b> For a non-decreasing σ: ℝ → ℝ applied elementwise '
        "and any max pool ρ (any kernel, stride, padding, dilation), is σ(ρ(X)) = ρ(σ(X))?</p>"
        '<p class="answer"><b>Answer.</b> Yes, exactly, even in floating point: in each window '
        "the largest element stays largest after σ, so both sides are σ of the same number. For "
        "a σ that is not monotone it fails, and a 1×2 window [m, e] shows it. In practice σ → max "
        "pool can be rewritten max pool → σ, which evaluates σ and its VJP on k² times fewer "
        "elements.</p>"
        "<h3>Construction</h3>"
        + _formula(
            "ρ(X)[i, j] = max over the window W<sub>ij</sub> of X;   σ non-decreasing ⇒ "
            "σ(max W) = max σ(W)",
            "counterexample, σ not monotone: a window [m, e] with m &gt; e but σ(e) &gt; σ(m)",
        )
        + "<p>Checked for every activation of the registry flagged non-decreasing ("
        + ", ".join(_code(a) for a in n["monotone_activations"])
        + ") on hard inputs (ties, ±∞, plateaus) and three max pools; functions that are not ("
        + ", ".join([*(_code(a) for a in n["not_monotone_activations"]), "x², sin, −x"])
        + ") must fail. The rewrite is "
        + _code("mathdnn.hw4.p4_maxpool_commutes.pool_before_activation(model)")
        + "; it shares the model's parameters.</p>"
        + _figure(
            s,
            "p4_counterexamples.png",
            "The counterexample window [m, e] the check found for each function that is not "
            "monotone: σ(ρ(X)) = σ(m) (blue) is not ρ(σ(X)) = max(σ(m), σ(e)) (orange line). "
            "Bottom right: the first window under tanh, non-decreasing, where the two sides agree. "
            "(The checks below draw their own random inputs, so their windows differ.)",
            "Counterexamples to the identity for x squared, sine and minus x",
        )
        + _table(
            ["σ", "window [m, e]", "σ(ρ(X)) = σ(m)", "ρ(σ(X))"],
            counter_rows,
            "numbers",
            "The counterexamples",
        )
        + "<h3>What the rewrite saves, measured in this run</h3>"
        + _figure(
            s,
            "p4_pool_first.png",
            f"Forward + backward of {esc(rewrite['model'])} on 1×28×28 images (float32), "
            f"batch {rewrite['batch']}, before "
            f"and after <code>pool_before_activation</code>; median of {rewrite['repeats']} runs "
            f"in three alternating rounds. Saving measured: {_percent(min(savings), 0)} to "
            f"{_percent(max(savings), 0)} (timings on a shared machine are noisy).",
            "Bar chart of forward and backward times before and after the rewrite",
        )
        + _table(
            ["σ", "σ → max pool", "max pool → σ", "saving"],
            rows,
            "numbers",
            "Median time of one forward + backward",
        )
    )


def _problem5(s: Section, report: Report) -> str:
    n = s.numbers
    config, summary = n["config"], n["summary"]
    rows = [
        [str(row["seed"]), _percent(row["kl"]), _percent(row["sos"]), _points(row["difference"])]
        for row in summary["paired"]
    ]
    rows.append(
        [
            "mean ± std",
            f"{_percent(summary['mean']['kl'])} ± {_percent(summary['std']['kl'])}",
            f"{_percent(summary['mean']['sos'])} ± {_percent(summary['std']['sos'])}",
            _points(summary["difference_sos_minus_kl"])
            + ("" if summary["paired_std"] is None else f" ± {100 * summary['paired_std']:.2f}"),
        ]
    )
    seeds = config["seeds"]
    verdict_cls = "verdict strong" if summary["better"] else "verdict"
    if summary["interval"] is None:
        statistics = "With one seed there is no confidence interval."
    else:
        lo, hi = summary["interval"]
        tested = (
            ""
            if summary["t"] is None
            else f", t = {summary['t']:.2f}, p = {summary['p_value']:.2g}"
        )
        statistics = (
            f"Mean paired difference {_points(summary['difference_sos_minus_kl'])} points, "
            f"{100 * summary['confidence']:g} % confidence interval [{_points(lo)}, "
            f"{_points(hi)}] (Student's t, n − 1 = {seeds - 1} degrees of freedom{tested})."
        )
    return (
        '<p class="question"><b>Question.</b> Logistic regression on MNIST digits '
        f"{config['digits']['-1']} (y = −1) and {config['digits']['+1']} (y = +1): "
        "f(x) = (σ(−z), σ(z)), z = aᵀx + b, trained by SGD either on the KL objective or on the "
        "sum of squares ‖P(y) − f(x)‖². Which gives the better test accuracy?</p>"
        f'<p class="answer"><b>Answer, measured over {seeds} paired seeds.</b> '
        f'<span class="{verdict_cls}">{esc(summary["verdict"])}</span>.</p>'
        "<h3>Construction</h3>"
        + _formula(
            "KL: L(a, b) = (1/N) Σ<sub>i</sub> log(1 + exp(−y<sub>i</sub> z<sub>i</sub>))",
            "sum of squares: L(a, b) = (1/N) Σ<sub>i</sub> ℓ(z<sub>i</sub>, y<sub>i</sub>),   "
            "ℓ(z, y) = ‖P(y) − f(x)‖² = 2 σ(−y z)²  (at most 2)",
            "SGD: a ← a − lr ∂L<sub>B</sub>/∂a,  b ← b − lr ∂L<sub>B</sub>/∂b  over minibatches B",
        )
        + f"<p>{config['n_train']:,} training and {config['n_test']:,} test images; "
        f"{config['epochs']} epochs, lr {config['lr']:g}, batch {config['batch_size']}; "
        "a, b ~ U(±1/√784), seeded; for each seed both objectives start from the same a, b and "
        f"see the same batches. Training took {_ms(config['training_seconds'])}. Code: "
        f"{_code('mathdnn.hw4.p5_losses.compare')}.</p>"
        + _table(
            ["seed", esc(n["kl"]["title"]), esc(n["sos"]["title"]), "difference (points)"],
            rows,
            "numbers",
            "Final test accuracy per seed, and the paired difference sum of squares − KL",
        )
        + f"<p>{statistics} Sum of squares ahead on "
        f"{summary['seeds_sos_better']}, KL on {summary['seeds_kl_better']}, tied on "
        f"{summary['seeds_tied']} of {seeds} seeds.</p>"
        + _figure(
            s,
            "p5_curves.png",
            f"Test accuracy and both test objectives after each epoch: the mean over {seeds} "
            "seeds, the band from the lowest to the highest seed.",
            "Learning curves of both objectives with their seed bands",
        )
        + _figure(
            s,
            "p5_loss_functions.png",
            "The two losses of one example: the sum of squares saturates at 2 for a confidently "
            "wrong score, the logistic loss grows linearly.",
            "The sum-of-squares and logistic losses as functions of the score",
        )
        + _figure(
            s,
            "p5_misclassified.png",
            "Test digits the seed-0 models get wrong, and which model got each wrong.",
            "Misclassified test digits",
        )
    )


def _problem6(s: Section, report: Report) -> str:
    n = s.numbers
    costs, mlp = n["costs"], n["mnist_mlp"]
    rows = []
    for row in costs["rows"]:
        jac, bp = row["jacobian"], row["backprop"]
        rows.append(
            [
                str(row["n"]),
                _ms(jac["seconds"]),
                _ms(bp["seconds"]),
                f"{jac['seconds'] / bp['seconds']:.3g}×",
                _bytes(jac["working"]),
                _bytes(bp["working"]),
            ]
        )
    layers = "-".join(map(str, n["heatmap_mlp"]["layers"]))
    return (
        '<p class="question"><b>Question.</b> For the MLP y<sub>0</sub> = x, y<sub>ℓ</sub> = '
        "σ(A<sub>ℓ</sub> y<sub>ℓ−1</sub> + b<sub>ℓ</sub>) (ℓ &lt; L), y<sub>L</sub> = "
        "A<sub>L</sub> y<sub>L−1</sub> + b<sub>L</sub> with a scalar output: (a) what are the "
        "layer Jacobians, and (b) what are the gradients of y<sub>L</sub> with respect to every "
        "A<sub>ℓ</sub> and b<sub>ℓ</sub>, as products of them?</p>"
        '<p class="answer"><b>Answer.</b> The formulas below. Multiplying the product of (a)\'s '
        "matrices from the left, a row vector at a time, is backpropagation: it never builds an "
        "n×n matrix.</p>"
        "<h3>Construction</h3>"
        + _formula(
            "(a)  ∂y<sub>ℓ</sub>/∂b<sub>ℓ</sub> = diag σ′(z<sub>ℓ</sub>),   "
            "∂y<sub>ℓ</sub>/∂y<sub>ℓ−1</sub> = diag σ′(z<sub>ℓ</sub>) A<sub>ℓ</sub>,   "
            "z<sub>ℓ</sub> = A<sub>ℓ</sub> y<sub>ℓ−1</sub> + b<sub>ℓ</sub>   (ℓ &lt; L);   "
            "∂y<sub>L</sub>/∂b<sub>L</sub> = 1,  ∂y<sub>L</sub>/∂y<sub>L−1</sub> = A<sub>L</sub>",
            "(b)  ∂y<sub>L</sub>/∂y<sub>ℓ</sub> = (∂y<sub>L</sub>/∂y<sub>L−1</sub>)"
            "(∂y<sub>L−1</sub>/∂y<sub>L−2</sub>) ⋯ (∂y<sub>ℓ+1</sub>/∂y<sub>ℓ</sub>)   "
            "(a 1 × n<sub>ℓ</sub> row)",
            "      ∂y<sub>L</sub>/∂b<sub>ℓ</sub> = diag σ′(z<sub>ℓ</sub>) "
            "(∂y<sub>L</sub>/∂y<sub>ℓ</sub>)ᵀ,   ∂y<sub>L</sub>/∂A<sub>ℓ</sub> = diag "
            "σ′(z<sub>ℓ</sub>) (∂y<sub>L</sub>/∂y<sub>ℓ</sub>)ᵀ y<sub>ℓ−1</sub>ᵀ,   "
            "∂y<sub>L</sub>/∂A<sub>L</sub> = y<sub>L−1</sub>ᵀ",
            "backprop: v ← 1;  for ℓ = L … 1:  δ = v ⊙ σ′(z<sub>ℓ</sub>) (δ = v at ℓ = L),  "
            "∂y<sub>L</sub>/∂b<sub>ℓ</sub> = δ,  ∂y<sub>L</sub>/∂A<sub>ℓ</sub> = δᵀ "
            "y<sub>ℓ−1</sub>ᵀ,  v ← δ A<sub>ℓ</sub>",
        )
        + "<p>Code: "
        + _code(
            'mathdnn.hw4.p6_jacobians.mlp_gradients(As, bs, x, σ, method="jacobian" | "backprop")'
        )
        + ".</p>"
        + _figure(
            s,
            "p6_jacobians.png",
            f"Every matrix of (a) and the products of (b) for an MLP {layers} with σ = "
            f"{esc(n['heatmap_mlp']['activation'])} at one random input, entries written in "
            "their cells. The last row is what backprop carries from layer to layer.",
            "Heat maps of the layer Jacobians",
        )
        + "<h3>Explicit Jacobians against backprop, measured in this run</h3>"
        + _table(
            [
                "width n",
                "explicit time",
                "backprop time",
                "ratio",
                "explicit working memory",
                "backprop working memory",
            ],
            rows,
            "numbers",
            f"All gradients of an MLP n-n-n-n-1 (L = {costs['depth']}), σ = "
            f"{esc(costs['activation'])}, {esc(costs['dtype'])}, one input: best time of a few "
            "runs; working memory = peak allocation minus the gradients returned",
        )
        + "<p>The explicit products take O(n³) time and O(n²) memory per layer, backprop O(n²) "
        "time and O(n) working memory.</p>"
        + "<h3>In use: an MNIST classifier trained by backprop alone</h3>"
        + f"<p>The MLP {'-'.join(map(str, mlp['layers']))} (σ = {esc(mlp['activation'])}, "
        "softmax cross-entropy) trained by SGD twice from the same start on the same batches: "
        f"once with the backprop above, once with the engine's autodiff. After {mlp['steps']} "
        "steps the largest parameter difference was "
        f"{_fmt(mlp['max_param_difference'], '.2e') if mlp['max_param_difference'] else '0'} "
        "(relative); test accuracy "
        f"{_percent(mlp['test_accuracy_backprop'], 1)} by backprop, "
        f"{_percent(mlp['test_accuracy_autodiff'], 1)} by autodiff ({mlp['seconds']:.1f} s).</p>"
    )


def _connection_table(connections: Sequence[Sequence[bool]]) -> str:
    n_out = len(connections[0])
    head = "<th>input \\ output</th>" + "".join(f"<th>{o}</th>" for o in range(n_out))
    body = "".join(
        f"<tr><th>{i}</th>"
        + "".join('<td class="on">X</td>' if seen else "<td></td>" for seen in row)
        + "</tr>"
        for i, row in enumerate(connections)
    )
    counts = [sum(row[o] for row in connections) for o in range(n_out)]
    foot = "<tr><th>inputs</th>" + "".join(f"<td>{c}</td>" for c in counts) + "</tr>"
    return (
        '<div class="scroll"><table class="connections"><caption>C3\'s connection table (LeCun '
        "et al. 1998, Table 1): X where output map o sees input map i</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody><tfoot>{foot}</tfoot></table></div>"
    )


def _problem7(s: Section, report: Report) -> str:
    n = s.numbers
    counts, training = n["parameters"], n["training"]
    full, original = counts["full"], counts["original"]
    saved = full["c3_from_table"] - original["c3_from_table"]
    rows = [
        [label, f"{table:,}", f"{model:,}", "✓ agree" if table == model else "✗ DIFFER"]
        for label, table, model in (
            ("C3, full", full["c3_from_table"], full["c3_from_model"]),
            ("C3, original", original["c3_from_table"], original["c3_from_model"]),
            ("LeNet-5, full C3", full["network_from_table"], full["network_from_model"]),
            (
                "LeNet-5, original C3",
                original["network_from_table"],
                original["network_from_model"],
            ),
        )
    ]
    train_rows = []
    for c3, run in training.items():
        per_epoch = run["per_epoch"]
        images = report.inputs["mnist"]["n_train"] * run["epochs"]
        train_rows.append(
            [
                f"{c3} C3",
                f"{counts[c3]['network_from_model']:,}",
                str(run["epochs"]),
                _percent(run["final_test_accuracy"]),
                _fmt(run["final_test_loss"], ".4f"),
                f"{run['training_seconds']:.1f} s",
                f"{images / sum(per_epoch['seconds']):,.0f}",
            ]
        )
    settings = next(iter(training.values()))["settings"]
    return (
        '<p class="question"><b>Question.</b> LeNet-5\'s C3 connects each of its 16 output maps '
        "to only some of the 6 input maps (the table below). What is the reduction in parameters "
        "against a full 6→16 5×5 convolution, and does the count the model reports agree with "
        "the hand calculation?</p>"
        f'<p class="answer"><b>Answer.</b> A full C3 has 16·6·25 + 16 = {full["c3_from_table"]:,}'
        f" parameters, the original (6·3 + 9·4 + 1·6)·25 + 16 = {original['c3_from_table']:,}: "
        f"{saved:,} fewer ({saved / full['c3_from_table']:.0%} of C3). The whole network has "
        f"{full['network_from_table']:,} parameters with the full C3 and "
        f"{original['network_from_table']:,} with the original, and the model reports exactly "
        "these counts.</p>"
        "<h3>Construction</h3>"
        + _connection_table(n["connections"])
        + "<p>The course's hint: output map o is a small convolution of the input maps "
        "S<sub>o</sub> it sees, concatenated along the channels,</p>"
        + _formula(
            "Y[:, o] = conv2d(X[:, S<sub>o</sub>], W<sub>o</sub>) + b<sub>o</sub>,   "
            "W<sub>o</sub> ∈ ℝ<sup>1×|S<sub>o</sub>|×5×5</sup>;   parameters Σ<sub>o</sub> "
            "|S<sub>o</sub>|·25 + 16"
        )
        + "<p>Code: "
        + _code("mathdnn.nn.SubsetConv2d")
        + " (the hint) and "
        + _code("MaskedConv2d")
        + " (one convolution whose unconnected kernels are not parameters); "
        + _code('mathdnn.models.LeNet5(c3="full" | "original")')
        + ".</p>"
        + _table(
            ["", "counted by hand from the table", "sum of p.numel() of the model", ""],
            rows,
            "numbers",
            "Parameters",
        )
        + "<h3>Both networks trained alike, in this run</h3>"
        + f"<p>SGD lr {settings['lr']:g}, batch {settings['batch_size']}, seed "
        f"{settings['seed']}, cross-entropy; the same initial draws and batches for both.</p>"
        + _table(
            [
                "network",
                "parameters",
                "epochs",
                "test accuracy",
                "test loss",
                "training time",
                "images/s",
            ],
            train_rows,
            "numbers",
            "After the last epoch",
        )
        + _figure(
            s,
            "p7_learning_curves.png",
            "Training loss (mean over each epoch, dashed), test loss (solid) and test accuracy "
            "after each epoch, for both networks.",
            "Learning curves of LeNet-5 with the full and the original C3",
        )
    )


def _engine(s: Section, report: Report) -> str:
    return (
        "<p>Every problem above runs on mathdnn's engine. These checks compare its fast paths "
        "with its formula path, the formula path with plain loops (the loop oracle), every "
        "primitive's vector-Jacobian product with finite differences, and the primitives with "
        "PyTorch when it is installed.</p>"
    )


RENDERERS = {
    "1": _problem1,
    "2": _problem2,
    "3": _problem3,
    "4": _problem4,
    "5": _problem5,
    "6": _problem6,
    "7": _problem7,
    "engine": _engine,
}


# ---------------------------------------------------------------------------------- the page
def _anchor(section: Section) -> str:
    return "engine" if section.problem == "engine" else f"problem-{section.problem}"


def _heading(section: Section) -> str:
    title = section.title[:1].upper() + section.title[1:]
    return title if section.problem == "engine" else f"Problem {section.problem}: {title}"


def _badge(checks: Sequence[Check]) -> str:
    t = tally(list(checks))
    ok = not t["failed"]
    skipped = f", {t['skipped']} skipped" if t["skipped"] else ""
    return (
        f'<span class="badge {"ok" if ok else "bad"}">{"✓" if ok else "✗"} '
        f"{t['passed']}/{t['checks']} passed{skipped}</span>"
    )


def _summary(report: Report) -> str:
    counts = report.counts()
    failed = report.failed
    ok = not failed
    image, mnist = report.inputs["image"], report.inputs["mnist"]
    v = report.versions
    if not ok:
        headline = f"✗ {counts['failed']} of {counts['checks']} checks FAILED"
    elif counts["skipped"]:
        headline = f"✓ {counts['passed']} checks passed, {counts['skipped']} skipped"
    else:
        headline = f"✓ All {counts['checks']} checks passed"
    failures = ""
    if failed:
        failures = (
            '<ul class="failures">'
            + "".join(f"<li>Problem {esc(c.problem)}: {esc(c.name)}</li>" for c in failed)
            + "</ul>"
        )
    reasons = sorted({c.detail for c in report.checks if c.skipped})
    if reasons:
        failures += '<p class="skipped">Skipped: ' + "; ".join(map(esc, reasons)) + ".</p>"
    torch = v.get("torch", "not installed")
    torch_note = (
        f"PyTorch {esc(torch)} (a reference of some checks)"
        if torch != "not installed"
        else "PyTorch not installed (its checks skipped)"
    )
    photo = "the sample photograph " if image["default"] else ""
    # The checks of Problems 1–3 compare with Pillow on the sample's 8-bit pixels, whatever image
    # the figures show.
    checked_on = (
        "" if image["default"] else " (the checks of Problems 1–3 use the sample photograph)"
    )
    mode = (
        "quick run (<code>--quick</code>: smaller experiments)"
        if report.options["quick"]
        else "full run"
    )
    software = " · ".join(
        f"{name} {esc(v[key])}"
        for name, key in (
            ("Python", "python"),
            ("mathdnn", "mathdnn"),
            ("NumPy", "numpy"),
            ("matplotlib", "matplotlib"),
            ("Pillow", "pillow"),
        )
    )
    rows = [
        ("Time taken", f"{report.seconds:.1f} s, {mode}, {esc(report.created)}"),
        (
            "Data",
            f"{photo}{esc(image['name'])} ({image['width']}×{image['height']}, "
            f"{'colour' if image['channels'] == 3 else 'grey'}){checked_on}; MNIST: "
            f"{esc(mnist['source'])}, "
            f"{mnist['n_train']:,} training / {mnist['n_test']:,} test images",
        ),
        ("Software", f"{software} · {torch_note}"),
        ("Machine", f"{esc(v['platform'])}; mathdnn uses {esc(v['mathdnn threads'])} threads"),
        (
            "Files",
            "this page; <code>results.json</code> (every number on it); the figures as PNG "
            f"files ({len(report.figures)})",
        ),
    ]
    details = "".join(f"<tr><th>{k}</th><td>{val}</td></tr>" for k, val in rows)
    return (
        f'<section class="summary {"ok" if ok else "bad"}" id="summary">'
        f'<p class="headline">{headline}</p>{failures}'
        '<p class="explain">Each result of the homework is computed by its construction and '
        "compared with an independent reference (the formula written out, a plain loop, Pillow, "
        "finite differences, PyTorch); a check passes when the largest error is within its "
        "tolerance, and a check marked “fails, as it must” is a counterexample that has to "
        "break the identity.</p>"
        f'<table class="facts">{details}</table></section>'
    )


def _contents(report: Report) -> str:
    items = "".join(
        f'<li><a href="#{_anchor(s)}">{esc(_heading(s))}</a> {_badge(s.checks)} '
        f'<span class="time">{s.seconds:.1f} s</span></li>'
        for s in report.sections
    )
    return f'<nav class="contents"><h2>Contents</h2><ol>{items}</ol></nav>'


def _section(section: Section, report: Report) -> str:
    return (
        f'<section class="problem" id="{_anchor(section)}"><h2>{esc(_heading(section))} '
        f"{_badge(section.checks)}</h2>"
        + RENDERERS[section.problem](section, report)
        + _checks_table(section.checks)
        + '<p class="top"><a href="#summary">back to the top</a></p></section>'
    )


CSS = """
:root { --ok: #1a7f37; --bad: #c62828; --ink: #1f2328; --muted: #59636e; --line: #d0d7de;
        --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
       font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 1.9em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.4em; margin: 0 0 0.6em; }
h3 { font-size: 1.1em; margin: 1.4em 0 0.5em; }
.lead { color: var(--muted); margin: 0 0 1.2em; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.88em;
       background: var(--soft); padding: 0.05em 0.3em; border-radius: 4px; }
.summary { border: 2px solid var(--ok); border-radius: 10px; padding: 14px 20px;
           background: #f0faf2; }
.summary.bad { border-color: var(--bad); background: #fdf0f0; }
.headline { font-size: 1.45em; font-weight: 700; margin: 0.1em 0 0.3em; color: var(--ok); }
.summary.bad .headline, .failures { color: var(--bad); }
.explain { margin: 0.2em 0 0.6em; color: var(--muted); }
table.facts { border-collapse: collapse; }
table.facts th { text-align: left; vertical-align: top; padding: 2px 16px 2px 0;
                 white-space: nowrap; }
table.facts td { padding: 2px 0; }
.contents { margin: 22px 0 8px; }
.contents ol { margin: 0; padding-left: 1.6em; }
.contents li { margin: 0.15em 0; }
.time { color: var(--muted); font-size: 0.85em; }
.badge { display: inline-block; font-size: 0.72em; font-weight: 600; padding: 1px 8px;
         border-radius: 10px; vertical-align: middle; white-space: nowrap; }
.badge.ok { background: #dafbe1; color: var(--ok); }
.badge.bad { background: #ffebe9; color: var(--bad); }
section.problem { border-top: 1px solid var(--line); margin-top: 34px; padding-top: 20px; }
.question, .answer { margin: 0.5em 0; }
.answer { background: var(--soft); border-left: 4px solid #0969da; padding: 8px 12px; }
.verdict { font-weight: 600; }
.formula { font-family: "DejaVu Serif", Georgia, serif; background: var(--soft);
           padding: 8px 14px; margin: 0.6em 0; border-radius: 6px; overflow-x: auto;
           white-space: pre; }
.matrices { display: flex; flex-wrap: wrap; gap: 28px; margin: 0.6em 0; align-items: center; }
.matrix-with-label { display: inline-flex; align-items: center; gap: 8px; }
.mlabel { font-family: "DejaVu Serif", Georgia, serif; }
table.matrix { border-collapse: collapse; border-left: 2px solid var(--ink);
               border-right: 2px solid var(--ink); font-family: "DejaVu Sans Mono", monospace; }
table.matrix td { padding: 1px 9px; text-align: right; font-size: 0.9em; }
figure { margin: 1em 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto;
             border: 1px solid var(--line); border-radius: 4px; }
figure.narrow img { max-width: min(100%, 760px); }
figcaption { color: var(--muted); font-size: 0.92em; margin-top: 0.4em; }
.file { font-family: "DejaVu Sans Mono", monospace; font-size: 0.85em; }
.scroll { overflow-x: auto; margin: 0.6em 0; }
table.numbers, table.checks, table.connections { border-collapse: collapse; font-size: 0.92em; }
table.numbers caption, table.connections caption { caption-side: top; text-align: left;
        font-weight: 600; padding-bottom: 4px; }
table.numbers th, table.numbers td, table.checks th, table.checks td {
    border: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
table.numbers td { font-variant-numeric: tabular-nums; }
table.numbers th, table.checks th { background: var(--soft); white-space: nowrap; }
table.checks { width: 100%; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.status { white-space: nowrap; font-weight: 600; }
tr.pass td.status, tr.xfail td.status { color: var(--ok); }
tr.skip td { color: var(--muted); }
tr.fail td { background: #ffebe9; color: var(--bad); }
tr.fail td.status { font-weight: 700; }
.detail { color: var(--muted); font-size: 0.88em; }
table.connections th, table.connections td { border: 1px solid var(--line); padding: 2px 7px;
        text-align: center; min-width: 1.9em; }
table.connections td.on { background: #ddf4ff; font-weight: 700; color: #0969da; }
table.connections tfoot td, table.connections tfoot th { background: var(--soft); }
.top { font-size: 0.85em; text-align: right; margin: 0.6em 0 0; }
a { color: #0969da; }
footer { margin-top: 40px; border-top: 1px solid var(--line); padding-top: 12px;
         color: var(--muted); font-size: 0.9em; }
"""


def render(report: Report) -> str:
    """``index.html``: the whole report as one page that needs nothing but itself."""
    sections = "".join(_section(s, report) for s in report.sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Homework 4, answered and verified (mathdnn)</title>"
        f"<style>{CSS}</style></head><body><main>"
        "<h1>Homework 4, answered and verified</h1>"
        '<p class="lead"><i>Mathematical Foundations of Deep Neural Networks</i>: seven problems, '
        "each with its construction, its figures, its numbers measured in this run and the proof "
        "that it is right. Made by <code>mathdnn hw4</code>.</p>"
        + _summary(report)
        + _contents(report)
        + sections
        + "<footer>Every number on this page is in <code>results.json</code> beside it; the "
        "figures are also there as PNG files. Run <code>mathdnn verify</code> to repeat the checks "
        "alone.</footer></main></body></html>\n"
    )
