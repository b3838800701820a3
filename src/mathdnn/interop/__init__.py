"""Moving on from one CPU: an mathdnn model as a PyTorch module, and as an ONNX file.

- ``to_torch(model)`` gives the PyTorch twin of an mathdnn model (``LeNet5`` in any of its three
  forms, or a ``Sequential`` of mathdnn's layers): the same parameter names, layouts, dtype and
  outputs; ``from_torch(module)`` brings it back, and ``from_torch(to_torch(model))`` has
  exactly ``model``'s parameters. The original C3 is the homework's hint in PyTorch
  (``mathdnn.interop.pytorch`` says how a masked C3's parameters are laid out there).
- ``export_onnx(model, path)`` writes an ONNX model (input ``"images"`` ``(N, 1, 28, 28)``,
  output ``"logits"``) that ONNX Runtime and other engines run (``pip install '.[onnx]'`` in the
  mathdnn checkout).

PyTorch and onnx are imported only when these functions are called.

Training on, under PyTorch
--------------------------
An mathdnn model continues training with ``torch.optim`` and, on several processes (CPU cores,
machines or GPUs), with ``DistributedDataParallel``. Save this as ``train_ddp.py`` and run
``torchrun --nproc_per_node=4 train_ddp.py``; each process trains on its share of the data
and DDP averages the gradients::

    import numpy as np
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    import mathdnn
    from mathdnn.data import load_mnist
    from mathdnn.interop import from_torch, to_torch
    from mathdnn.models import LeNet5

    dist.init_process_group("gloo")  # "nccl" for GPUs
    model = DistributedDataParallel(to_torch(LeNet5(rng=0)))  # or your trained model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    mnist = load_mnist()  # the bundled 5,000 digits; load_mnist("MNIST/") for the full set
    images = torch.from_numpy(mnist.train_images[:, None] / np.float32(255))
    train = TensorDataset(images, torch.from_numpy(mnist.train_labels))
    sampler = DistributedSampler(train, seed=0)
    for epoch in range(3):
        sampler.set_epoch(epoch)  # a new shuffle each epoch
        for x, y in DataLoader(train, batch_size=64, sampler=sampler):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()

    if dist.get_rank() == 0:  # back to mathdnn: the same parameter names and values
        trained = from_torch(model.module)
        logits = trained(mathdnn.tensor(mnist.test_images[:, None] / np.float32(255)))
        accuracy = (logits.argmax(1).numpy() == mnist.test_labels).mean()
        print(f"test accuracy {accuracy:.3f}")
    dist.destroy_process_group()
"""

from mathdnn.interop.onnx_export import export_onnx
from mathdnn.interop.pytorch import from_torch, to_torch

__all__ = ["export_onnx", "from_torch", "to_torch"]
