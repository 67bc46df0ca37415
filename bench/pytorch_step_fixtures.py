#!/usr/bin/env python3
"""Writes the fixtures of tests/step_matches_pytorch.rs: one training step of PyTorch, to compare ours with.

Usage: pip install torch safetensors && python3 bench/pytorch_step_fixtures.py

For the PyTorch twins of cnn::zoo::LeNet5 and cnn::zoo::LeNet5BatchNorm (the nn.Sequential layouts of
bench/pytorch_weights_fixtures.py), from PyTorch's default initialisation under a fixed seed, in training mode,
float32, one thread: loss = nn.CrossEntropyLoss()(net(x), y) on a batch of 16 random images, loss.backward(), then
torch.optim.Adam(lr=1e-3).step() (PyTorch's default single-tensor implementation on the CPU). LeNet5 also takes two
steps of torch.optim.SGD(lr=0.1, momentum=0.9) from the same initial weights, on batch 0 then batch 1.

Written to cnn-runtime/tests/fixtures/pytorch_step/:

    images.f32                          2 batches of 16 images 1x28x28, values in [0, 1): raw float32
                                        little-endian, in the order batch, image, channel, row, column
    expected.txt                        labels and losses (format below)
    NET_init.safetensors                state_dict before training
    NET_grads.safetensors               every parameter's .grad after loss.backward() on batch 0, under the
                                        parameter's state_dict key; BatchNorm running statistics are zeros and
                                        num_batches_tracked is kept (int64), so that load_pytorch reads the file
    NET_adam.safetensors                state_dict after the Adam step (BatchNorm running statistics updated by the
                                        training-mode forward: momentum 0.1, unbiased batch variance)
    lenet5_sgd.safetensors              state_dict of LeNet5 after the two SGD steps

where NET is lenet5 or lenet5_batchnorm. Every .safetensors file is written by safetensors.torch.save_file.

Format of expected.txt, one record a line, values separated by spaces; lines starting with # are comments:
    labels B L0 L1 ... L15              the labels (0..=9) of batch B
    loss RUN STEP VALUE                 the mean cross-entropy PyTorch computed at step STEP (from 0) of RUN:
                                        lenet5_adam, lenet5_batchnorm_adam or lenet5_sgd; step STEP is on batch STEP
Losses are printed with 9 significant digits, which round-trips float32.
"""

import copy
import os

import torch
from torch import nn
from safetensors.torch import save_file

from pytorch_twins import lenet5, lenet5_batchnorm

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cnn-runtime", "tests", "fixtures", "pytorch_step")
SEED = 20261124
BATCH = 16


def save(tensors, name):
    path = os.path.join(OUT, f"{name}.safetensors")
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, path)
    os.chmod(path, 0o644)


def grads_state(net):
    """The state_dict's keys with each parameter's gradient, zeros for the running statistics, and
    num_batches_tracked as it is (load_pytorch requires it to be a single int64)."""
    params = dict(net.named_parameters())
    out = {}
    for key, value in net.state_dict().items():
        if key in params:
            out[key] = params[key].grad
        elif key.endswith("num_batches_tracked"):
            out[key] = value
        else:
            out[key] = torch.zeros_like(value)
    return out


def step(net, optimizer, x, y):
    """One training step; returns the loss."""
    net.train()
    optimizer.zero_grad()
    loss = nn.CrossEntropyLoss()(net(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def fmt(value):
    return f"{value:.9g}"


def main():
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    os.makedirs(OUT, exist_ok=True)

    data = torch.Generator().manual_seed(SEED)
    images = torch.rand(2, BATCH, 1, 28, 28, generator=data, dtype=torch.float32)
    labels = torch.randint(0, 10, (2, BATCH), generator=data)
    with open(os.path.join(OUT, "images.f32"), "wb") as f:
        f.write(images.numpy().astype("<f4").tobytes())

    lines = [
        "# Written by bench/pytorch_step_fixtures.py (torch " + torch.__version__ + "); see that file for the format.",
    ]
    for b in range(2):
        lines.append(f"labels {b} " + " ".join(str(int(v)) for v in labels[b]))

    for name, make, seed in [("lenet5", lenet5, SEED + 1), ("lenet5_batchnorm", lenet5_batchnorm, SEED + 2)]:
        torch.manual_seed(seed)
        net = make()
        init = copy.deepcopy(net.state_dict())
        save(init, f"{name}_init")

        # Adam: the gradients before the update, then the weights after it.
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        net.train()
        optimizer.zero_grad()
        loss = nn.CrossEntropyLoss()(net(images[0]), labels[0])
        loss.backward()
        save(grads_state(net), f"{name}_grads")
        optimizer.step()
        save(net.state_dict(), f"{name}_adam")
        lines.append(f"loss {name}_adam 0 {fmt(loss.item())}")

        if name == "lenet5":
            net = make()
            net.load_state_dict(init)
            optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
            for b in range(2):
                lines.append(f"loss {name}_sgd {b} {fmt(step(net, optimizer, images[b], labels[b]))}")
            save(net.state_dict(), f"{name}_sgd")

    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
