"""The answers of the handwritten solution to Homework 4, transcribed (NumPy only).

Problems 1-6 follow the handwritten pages: the filters of Problems 1-3 as written there, the
argument of Problem 4 (a window whose maximum is not where σ is largest), the loss of Problem 5 in
its long form ℓ(z, y) and its derivative, the Jacobian products of Problem 6. Problem 7 is not in
the handwritten solution; its answers are the project's, written out.
"""

import numpy as np


# Problem 1: w_5 = -1 and w_8 = 1 (vertical), w_5 = -1 and w_6 = 1 (horizontal), 1-based.
def finite_difference_filter():
    return np.array(
        [
            [[[0.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 1.0, 0.0]]],
            [[[0.0, 0.0, 0.0], [0.0, -1.0, 1.0], [0.0, 0.0, 0.0]]],
        ]
    )


# Problem 2: w = (1/k²) 1, stride k, each channel on its own.
def avg_pool_filter(k, channels):
    return np.ones((channels, 1, k, k)) / k**2


# Problem 3: w = (0.299, 0.587, 0.114) as a 1×1 filter.
def grayscale_filter():
    return np.array([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)


# Problem 4: a non-decreasing σ keeps the largest element of every block largest, so the two sides
# agree; when σ is not non-decreasing there are a < b with σ(a) > σ(b), and the block
# [[b, a], [a, a]] has max b, but the largest σ is σ(a).
SIGMA = {
    "relu": (lambda x: np.maximum(x, 0), True),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), True),
    "tanh": (np.tanh, True),
    "softplus": (lambda x: np.log1p(np.exp(x)), True),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.01 * x), True),
    "square": (np.square, False),
    "sin": (np.sin, False),
    "neg": (np.negative, False),
    "abs": (np.abs, False),
    "exp": (np.exp, True),
}


def maxpool_counterexample(activation):
    sigma, non_decreasing = SIGMA[activation]
    if non_decreasing:
        return None
    grid = np.arange(-3.0, 4.0)
    for a in grid:
        for b in grid[grid > a]:
            if sigma(a) > sigma(b):
                return np.array([[[[b, a], [a, a]]]])
    raise ValueError(activation)


# Problem 5: the KL objective, and the sum of squares in the long form of the handwritten page,
# ℓ(z, y) = ½(1-y)((1-σ(-z))² + σ(z)²) + ½(1+y)(σ(-z)² + (1-σ(z))²), averaged over the batch.
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def logistic_loss(z, y):
    return float(np.mean(np.logaddexp(0, -y * z)))  # log(1 + exp(-yz)), finite for large |z|


def sum_of_squares_loss(z, y):
    ell = 0.5 * (1 - y) * ((1 - sigmoid(-z)) ** 2 + sigmoid(z) ** 2) + 0.5 * (1 + y) * (
        sigmoid(-z) ** 2 + (1 - sigmoid(z)) ** 2
    )
    return float(np.mean(ell))


def sum_of_squares_grad(z, y):
    # d/dz of each term, with σ'(z) = σ(z)(1 - σ(z)) and d/dz σ(-z) = -σ'(-z) = -σ'(z).
    s, t = sigmoid(z), sigmoid(-z)
    ds = s * (1 - s)
    d_wrong_if_neg = 2 * (1 - t) * ds + 2 * s * ds
    d_wrong_if_pos = -2 * t * ds - 2 * (1 - s) * ds
    return (0.5 * (1 - y) * d_wrong_if_neg + 0.5 * (1 + y) * d_wrong_if_pos) / len(z)


# Problem 6 (a) and (b): the layer Jacobians as matrices, their product ∂y_L/∂y_ℓ from the left,
# ∂y_L/∂A_ℓ = diag(σ'(z_ℓ)) (∂y_L/∂y_ℓ)ᵀ y_{ℓ-1}ᵀ, ∂y_L/∂b_ℓ = diag(σ'(z_ℓ)) (∂y_L/∂y_ℓ)ᵀ.
def mlp_gradients(As, bs, x, sigma, sigma_prime):
    L = len(As)
    ys, zs = [x], []
    for ell in range(1, L + 1):
        z = As[ell - 1] @ ys[-1] + bs[ell - 1]
        zs.append(z)
        ys.append(z if ell == L else sigma(z))
    dA, db = [None] * L, [None] * L
    dA[L - 1] = ys[L - 1][None, :]  # ∂y_L/∂A_L = y_{L-1}ᵀ
    db[L - 1] = np.ones(1)  # ∂y_L/∂b_L = 1
    J = As[L - 1]  # ∂y_L/∂y_{L-1} = A_L, a 1 × n_{L-1} row
    for ell in range(L - 1, 0, -1):
        D = np.diag(sigma_prime(zs[ell - 1]))  # ∂y_ℓ/∂b_ℓ
        db[ell - 1] = (D @ J.T)[:, 0]
        dA[ell - 1] = D @ J.T @ ys[ell - 1][None, :]
        J = J @ (D @ As[ell - 1])  # times ∂y_ℓ/∂y_{ℓ-1} = diag(σ'(z_ℓ)) A_ℓ
    return dA, db


# Problem 7 (the project's answer): the paper's table, the counts, 16 small convolutions.
SUBSETS = [
    *[[(o + k) % 6 for k in range(3)] for o in range(6)],
    *[[(o + k) % 6 for k in range(4)] for o in range(6)],
    [0, 1, 3, 4],
    [1, 2, 4, 5],
    [0, 2, 3, 5],
    [0, 1, 2, 3, 4, 5],
]


def c3_connections():
    table = np.zeros((6, 16), dtype=bool)
    for o, subset in enumerate(SUBSETS):
        table[subset, o] = True
    return table


def c3_parameter_count(table):
    return int(np.sum(table)) * 5 * 5 + table.shape[1]


def lenet5_parameter_count(table):
    c1 = 6 * 1 * 5 * 5 + 6
    c5, f6, f7 = 400 * 120 + 120, 120 * 84 + 84, 84 * 10 + 10
    return c1 + c3_parameter_count(table) + c5 + f6 + f7


def c3_forward(x, weights, bias):
    n = x.shape[0]
    y = np.zeros((n, 16, 10, 10))
    for o, subset in enumerate(sorted(s) for s in SUBSETS):
        for a in range(5):
            for b in range(5):
                patch = x[:, subset, a : a + 10, b : b + 10]
                y[:, o] += np.einsum("nkij,k->nij", patch, weights[o][:, a, b])
        y[:, o] += bias[o]
    return y
