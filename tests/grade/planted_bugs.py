"""Planted bugs: the transcribed handwritten solution (``solutions/seed.py``) with one function
replaced by a wrong one. Each names the problem it breaks, the function that must fail and the
words its feedback must contain: the entry that is wrong (or the line that raised)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SEED = Path(__file__).with_name("solutions") / "seed.py"


@dataclass(frozen=True)
class Bug:
    name: str
    problem: str
    function: str
    says: tuple[str, ...]
    source: str

    def file_text(self) -> str:
        """The seed solution with the bug's function defined again after it (the later
        definition is the one the module keeps)."""
        return f"{SEED.read_text()}\n\n# Planted bug: {self.name}\n{self.source.strip()}\n"


BUGS = (
    # Problem 1
    Bug(
        "a sign flip in the vertical filter",
        "1",
        "finite_difference_filter",
        ("your Y[0, 0, 0] = 1", "expected −1 = X[1, 0] − X[0, 0]", "X = np.array([[1.0]])"),
        """
def finite_difference_filter():
    w = np.zeros((2, 1, 3, 3))
    w[0, 0, 1, 1], w[0, 0, 2, 1] = 1, -1
    w[1, 0, 1, 1], w[1, 0, 1, 2] = -1, 1
    return w
""",
    ),
    Bug(
        "the horizontal filter takes the left neighbour",
        "1",
        "finite_difference_filter",
        ("your Y[1, 0, ", "X[0, 1] − X[0, 0]"),
        """
def finite_difference_filter():
    w = np.zeros((2, 1, 3, 3))
    w[0, 0, 1, 1], w[0, 0, 2, 1] = -1, 1
    w[1, 0, 1, 1], w[1, 0, 1, 0] = -1, 1
    return w
""",
    ),
    Bug(
        "the two filters swapped",
        "1",
        "finite_difference_filter",
        ("your Y[0, 0, 0] =", "X[1, 0] − X[0, 0]"),
        """
def finite_difference_filter():
    w = np.zeros((2, 1, 3, 3))
    w[1, 0, 1, 1], w[1, 0, 2, 1] = -1, 1
    w[0, 0, 1, 1], w[0, 0, 1, 2] = -1, 1
    return w
""",
    ),
    Bug(
        "the filter without its input-channel axis",
        "1",
        "finite_difference_filter",
        ("an array of shape (2, 3, 3)", "shape (2, 1, 3, 3)"),
        """
def finite_difference_filter():
    w = np.zeros((2, 3, 3))
    w[0, 1, 1], w[0, 2, 1] = -1, 1
    w[1, 1, 1], w[1, 1, 2] = -1, 1
    return w
""",
    ),
    # Problem 2
    Bug(
        "1/k instead of 1/k²",
        "2",
        "avg_pool_filter",
        ("avg_pool_filter(2, 1)", "your Y[0, 0, 0] = ", "(1/4)"),
        """
def avg_pool_filter(k, channels):
    return np.ones((channels, 1, k, k)) / k
""",
    ),
    Bug(
        "the dense filter's shape with groups=channels",
        "2",
        "avg_pool_filter",
        ("avg_pool_filter(1, 2)", "an array of shape (2, 2, 1, 1)", "shape (2, 1, 1, 1)"),
        """
def avg_pool_filter(k, channels):
    return np.ones((channels, channels, k, k)) / k**2
""",
    ),
    Bug(
        "the filter divided by the channels too",
        "2",
        "avg_pool_filter",
        ("avg_pool_filter(1, 2)", "your Y[1, 0, 0] = 0.5", "expected 1"),
        """
def avg_pool_filter(k, channels):
    return np.ones((channels, 1, k, k)) / (k**2 * channels)
""",
    ),
    # Problem 3
    Bug(
        "R and B swapped",
        "3",
        "grayscale_filter",
        (
            "your Y[0, 0] = 0.299",
            "expected 0.114 = 0.299·X[0, 0, 0] + 0.587·X[1, 0, 0] + 0.114·X[2, 0, 0]",
        ),
        """
def grayscale_filter():
    return np.array([0.114, 0.587, 0.299]).reshape(1, 3, 1, 1)
""",
    ),
    Bug(
        "the plain mean of the channels",
        "3",
        "grayscale_filter",
        ("your Y[0, 0] = 0.333333", "0.299·X[0, 0, 0]"),
        """
def grayscale_filter():
    return np.full((1, 3, 1, 1), 1 / 3)
""",
    ),
    Bug(
        "the weights as a flat vector",
        "3",
        "grayscale_filter",
        ("an array of shape (3,)", "shape (1, 3, 1, 1)"),
        """
def grayscale_filter():
    return np.array([0.299, 0.587, 0.114])
""",
    ),
    # Problem 4
    Bug(
        "abs taken to commute with max pooling",
        "4",
        "maxpool_counterexample",
        ("maxpool_counterexample('abs')", "your answer: None", "abs(−1) = 1 > abs(0) = 0"),
        """
_maxpool_counterexample = maxpool_counterexample


def maxpool_counterexample(activation):
    return None if activation == "abs" else _maxpool_counterexample(activation)
""",
    ),
    Bug(
        "exp taken to break the identity",
        "4",
        "maxpool_counterexample",
        ("maxpool_counterexample('exp')", "None: exp is non-decreasing"),
        """
_maxpool_counterexample = maxpool_counterexample


def maxpool_counterexample(activation):
    if activation == "exp":
        return np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    return _maxpool_counterexample(activation)
""",
    ),
    Bug(
        "a counterexample for square on which the identity holds",
        "4",
        "maxpool_counterexample",
        ("maxpool_counterexample('square')", "on your X, σ(maxpool(X)) = maxpool(σ(X))"),
        """
_maxpool_counterexample = maxpool_counterexample


def maxpool_counterexample(activation):
    if activation == "square":
        return np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    return _maxpool_counterexample(activation)
""",
    ),
    Bug(
        "a 1×2 window, which a 2×2 pool cannot read",
        "4",
        "maxpool_counterexample",
        ("maxpool_counterexample('square')", "(1, 1, 1, 2)", "H, W ≥ 2"),
        """
_maxpool_counterexample = maxpool_counterexample


def maxpool_counterexample(activation):
    if SIGMA[activation][1]:
        return None
    return np.array([[[[-2.0, 1.0]]]])
""",
    ),
    # Problem 5
    Bug(
        "the sum of squares without its factor 2",
        "5",
        "sum_of_squares_loss",
        ("your sum_of_squares_loss(z, y) = 0.25", "expected 0.5 = (1/1)·(2σ(0)²)"),
        """
def sum_of_squares_loss(z, y):
    return float(np.mean(sigmoid(-y * z) ** 2))
""",
    ),
    Bug(
        "the gradient with the sign of y lost",
        "5",
        "sum_of_squares_grad",
        ("y = np.array([-1.0])", "your ∂L/∂z[0] = −0.5", "expected 0.5"),
        """
def sum_of_squares_grad(z, y):
    s = sigmoid(-y * z)
    return -4 * s**2 * (1 - s) / len(z)
""",
    ),
    Bug(
        "the logistic loss with the margin's sign flipped",
        "5",
        "logistic_loss",
        ("your logistic_loss(z, y) =", "log(1 + exp(−1))"),
        """
def logistic_loss(z, y):
    return float(np.mean(np.log(1 + np.exp(y * z))))
""",
    ),
    Bug(
        "the logistic loss summed, not averaged",
        "5",
        "logistic_loss",
        ("your logistic_loss(z, y) =", "(1/2)·("),
        """
def logistic_loss(z, y):
    return float(np.sum(np.log(1 + np.exp(-y * z))))
""",
    ),
    Bug(
        "the gradient of the sum, not of the mean",
        "5",
        "sum_of_squares_grad",
        ("your ∂L/∂z[0] =", "/ 2"),
        """
_sum_of_squares_grad = sum_of_squares_grad


def sum_of_squares_grad(z, y):
    return _sum_of_squares_grad(z, y) * len(z)
""",
    ),
    Bug(
        "the per-example losses returned",
        "5",
        "sum_of_squares_loss",
        ("an array of shape (2,)", "the mean loss (one float)"),
        """
def sum_of_squares_loss(z, y):
    return 2 * sigmoid(-y * z) ** 2
""",
    ),
    # Problem 6
    Bug(
        "a Jacobian product multiplied from the wrong side",
        "6",
        "mlp_gradients",
        ("mlp_gradients(As, bs, x, sigma, sigma_prime)",),
        """
def mlp_gradients(As, bs, x, sigma, sigma_prime):
    L = len(As)
    ys, zs = [x], []
    for ell in range(1, L + 1):
        z = As[ell - 1] @ ys[-1] + bs[ell - 1]
        zs.append(z)
        ys.append(z if ell == L else sigma(z))
    dA, db = [None] * L, [None] * L
    dA[L - 1] = ys[L - 1][None, :]
    db[L - 1] = np.ones(1)
    J = As[L - 1].T  # (∂y_L/∂y_{L-1})ᵀ, a column
    for ell in range(L - 1, 0, -1):
        D = np.diag(sigma_prime(zs[ell - 1]))
        db[ell - 1] = (D @ J)[:, 0]
        dA[ell - 1] = D @ J @ ys[ell - 1][None, :]
        J = (D @ As[ell - 1]) @ J  # should be (D A_ℓ)ᵀ J: multiplied from the wrong side
    return dA, db
""",
    ),
    Bug(
        "σ in place of σ′ in the layer Jacobians",
        "6",
        "mlp_gradients",
        ("your db[0][0] =", "σ′(z_1)[0]"),
        """
_mlp_gradients = mlp_gradients


def mlp_gradients(As, bs, x, sigma, sigma_prime):
    return _mlp_gradients(As, bs, x, sigma, sigma)
""",
    ),
    Bug(
        "the outer product of ∂y_L/∂A_ℓ transposed",
        "6",
        "mlp_gradients",
        ("dA[", "of shape ("),
        """
_mlp_gradients = mlp_gradients


def mlp_gradients(As, bs, x, sigma, sigma_prime):
    dA, db = _mlp_gradients(As, bs, x, sigma, sigma_prime)
    return [a.T for a in dA], db
""",
    ),
    Bug(
        "∂y_L/∂b_L taken as 0",
        "6",
        "mlp_gradients",
        ("your db[0][0] = 0", "expected 1 = ∂y_L/∂b_1[0] = 1"),
        """
_mlp_gradients = mlp_gradients


def mlp_gradients(As, bs, x, sigma, sigma_prime):
    dA, db = _mlp_gradients(As, bs, x, sigma, sigma_prime)
    db[-1] = np.zeros(1)
    return dA, db
""",
    ),
    Bug(
        "y_ℓ in place of y_{ℓ-1} in ∂y_L/∂A_L",
        "6",
        "mlp_gradients",
        ("your dA[0][0, 0] =", "expected", "y_0[0]"),
        """
_mlp_gradients = mlp_gradients


def mlp_gradients(As, bs, x, sigma, sigma_prime):
    dA, db = _mlp_gradients(As, bs, x, sigma, sigma_prime)
    y = x
    for A, b in zip(As[:-1], bs[:-1]):
        y = sigma(A @ y + b)
    dA[-1] = (As[-1] @ y + bs[-1])[None, :] * np.ones_like(dA[-1])
    return dA, db
""",
    ),
    # Problem 7
    Bug(
        "one wrong entry in the C3 table",
        "7",
        "c3_connections",
        ("your table[4, 12] = False", "expected True: output map 12"),
        """
_c3_connections = c3_connections


def c3_connections():
    table = _c3_connections()
    table[4, 12], table[5, 12] = False, True
    return table
""",
    ),
    Bug(
        "the bias left out of the C3 parameter count",
        "7",
        "c3_parameter_count",
        ("your c3_parameter_count(table) =", "·5·5 + 16"),
        """
def c3_parameter_count(table):
    return int(np.sum(table)) * 5 * 5
""",
    ),
    Bug(
        "F7's bias left out of LeNet-5's count",
        "7",
        "lenet5_parameter_count",
        ("your lenet5_parameter_count(table) =", "+ 850"),
        """
def lenet5_parameter_count(table):
    return 6 * 1 * 5 * 5 + 6 + c3_parameter_count(table) + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10
""",
    ),
    Bug(
        "C3's forward without the bias",
        "7",
        "c3_forward",
        ("your Y[0, ", "bias["),
        """
_c3_forward = c3_forward


def c3_forward(x, weights, bias):
    return _c3_forward(x, weights, np.zeros(16))
""",
    ),
    Bug(
        "C3's kernels applied in the paper's cyclic order, not in increasing order",
        "7",
        "c3_forward",
        ("your Y[0, ", "S_"),
        """
def c3_forward(x, weights, bias):
    n = x.shape[0]
    y = np.zeros((n, 16, 10, 10))
    for o, subset in enumerate(SUBSETS):
        for a in range(5):
            for b in range(5):
                patch = x[:, subset, a : a + 10, b : b + 10]
                y[:, o] += np.einsum("nkij,k->nij", patch, weights[o][:, a, b])
        y[:, o] += bias[o]
    return y
""",
    ),
    Bug(
        "C3 with padding 2 (the output of C1's geometry)",
        "7",
        "c3_forward",
        ("an array of shape (1, 16, 14, 14)", "shape (1, 16, 10, 10)"),
        """
_c3_forward = c3_forward


def c3_forward(x, weights, bias):
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    return _c3_forward(padded[:, :, :14, :14], weights, bias)[:, :, :, :] if False else np.pad(
        _c3_forward(x, weights, bias), ((0, 0), (0, 0), (2, 2), (2, 2))
    )
""",
    ),
)
