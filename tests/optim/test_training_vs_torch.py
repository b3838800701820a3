"""Training the PyTorch way, in both libraries: the same small CNN (torch's initial weights
loaded into ours), the same shuffled MNIST batches from ``DataLoader``, ``zero_grad`` /
``backward`` / ``step`` — the parameters agree after every step."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import assert_close  # noqa: E402

import mathdnn  # noqa: E402
import mathdnn.functional as F  # noqa: E402
from mathdnn import nn, optim  # noqa: E402
from mathdnn.data import DataLoader, load_mnist, nchw_scale  # noqa: E402


def small_cnn(library):
    return library.Sequential(
        library.Conv2d(1, 4, 5, padding=2),
        library.Tanh(),
        library.AvgPool2d(2),
        library.Flatten(),
        library.Linear(4 * 14 * 14, 10),
    )


@pytest.mark.parametrize(
    ("make", "make_torch"),
    [
        (
            lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
            lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        ),
        (
            lambda ps: optim.Adam(ps, lr=1e-3, amsgrad=True),
            lambda ps: torch.optim.Adam(ps, lr=1e-3, amsgrad=True),
        ),
    ],
)
def test_training_steps_match_torch(make, make_torch):
    torch.manual_seed(0)
    theirs = small_cnn(torch.nn)
    ours = small_cnn(nn)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    optimizer, torch_optimizer = make(ours.parameters()), make_torch(theirs.parameters())
    mnist = load_mnist()
    loader = DataLoader(
        nchw_scale(mnist.train_images[:96]), mnist.train_labels[:96], 32, True, generator=0
    )
    for _ in range(2):
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(ours(mathdnn.from_numpy(x)), y)
            loss.backward()
            optimizer.step()
            torch_optimizer.zero_grad()
            torch_loss = torch.nn.functional.cross_entropy(
                theirs(torch.from_numpy(x)), torch.from_numpy(y)
            )
            torch_loss.backward()
            torch_optimizer.step()
            assert_close(loss.data, torch_loss.detach().numpy(), np.float32, "loss")
            for name, value in theirs.state_dict().items():
                assert_close(ours.state_dict()[name], value.numpy(), np.float32, name)
