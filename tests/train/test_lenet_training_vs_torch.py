"""mathdnn.training against PyTorch: an epoch of ``fit`` is the textbook PyTorch loop
(cross-entropy,
``zero_grad`` / ``backward`` / ``step``) over the same batches, from the weights PyTorch reads out
of the checkpoint with ``safetensors.torch``; the test loss and accuracy are PyTorch's too."""

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402
import safetensors.torch  # noqa: E402
from conftest import assert_close  # noqa: E402

from mathdnn import training  # noqa: E402
from mathdnn.data import MNIST, DataLoader, load_mnist, nchw_scale  # noqa: E402

TF = torch.nn.functional


class TorchLeNet5(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 6, 5, padding=2)
        self.c3 = torch.nn.Conv2d(6, 16, 5)
        self.c5 = torch.nn.Linear(400, 120)
        self.f6 = torch.nn.Linear(120, 84)
        self.f7 = torch.nn.Linear(84, 10)

    def forward(self, x):
        y = torch.tanh(TF.avg_pool2d(torch.tanh(self.c1(x)), 2))
        y = torch.tanh(TF.avg_pool2d(torch.tanh(self.c3(y)), 2))
        y = torch.tanh(self.f6(torch.tanh(self.c5(y.flatten(1)))))
        return self.f7(y)


def _torch_model(path):
    arrays = safetensors.torch.load_file(path)
    theirs = TorchLeNet5()
    theirs.load_state_dict(
        {k.removeprefix("model."): v for k, v in arrays.items() if k.startswith("model.")}
    )
    return theirs


@pytest.mark.parametrize(
    ("optimizer", "make_torch"),
    [
        ("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1)),
        ("adam", lambda ps: torch.optim.Adam(ps, lr=1e-3)),
    ],
)
def test_an_epoch_is_pytorchs_loop(tmp_path, optimizer, make_torch):
    m = load_mnist()
    small = MNIST(
        m.train_images[:150], m.train_labels[:150], m.test_images[:50], m.test_labels[:50], "s"
    )
    run = training.start(small, training.Settings(optimizer=optimizer, batch_size=32, seed=2))
    start = training.save(run, tmp_path / "start.safetensors")
    batches = DataLoader(run.loader.images, run.loader.labels, 32, shuffle=True)
    batches.load_state_dict(run.loader.state_dict())

    theirs = _torch_model(start)
    torch_optimizer = make_torch(theirs.parameters())
    torch_losses = []
    for x, y in batches:
        torch_optimizer.zero_grad()
        loss = TF.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        torch_optimizer.step()
        torch_losses.append(loss.item() * len(y))
    history = training.fit(run, 1)

    for name, p in theirs.state_dict().items():
        assert_close(run.model.state_dict()[name], p.numpy(), np.float32, name)
    assert history.train_loss[0] == pytest.approx(sum(torch_losses) / 150, rel=1e-5)
    with torch.no_grad():
        logits = theirs(torch.from_numpy(nchw_scale(small.test_images)))
        test_loss = TF.cross_entropy(logits, torch.from_numpy(small.test_labels)).item()
        accuracy = (logits.argmax(1).numpy() == small.test_labels).mean()
    assert history.test_loss[0] == pytest.approx(test_loss, rel=1e-4)
    assert history.test_accuracy[0] == accuracy
    # The checkpoint after the epoch loads into PyTorch as the trained weights.
    end = _torch_model(training.save(run, tmp_path / "end.safetensors"))
    for name, p in end.state_dict().items():
        assert np.array_equal(p.numpy(), run.model.state_dict()[name]), name
