#!/usr/bin/env python3
"""Writes the PyTorch weight fixtures that tests/weights.rs loads with cnn_runtime::io::load_pytorch:

    cnn-runtime/tests/fixtures/pytorch/lenet5.safetensors            state_dict of the twin of cnn::zoo::LeNet5
    cnn-runtime/tests/fixtures/pytorch/lenet5_batchnorm.safetensors  state_dict of the twin of cnn::zoo::LeNet5BatchNorm
    cnn-runtime/tests/fixtures/pytorch/logits.txt                    4 input images and both nets' eval-mode logits

Usage: pip install torch safetensors && python3 bench/pytorch_weights_fixtures.py

Weights come from PyTorch's default initialisation under a fixed seed (LeNet5's doubled). The BatchNorm network's scales and
shifts are then set to random values and a few training-mode forward passes on random data give its running
statistics non-trivial values, so that a mix-up between BatchNorm tensors changes the logits.

Format of logits.txt, one record a line, values separated by spaces; lines starting with # are comments:
    input I P0 P1 ... P783          image I (28x28, row-major), as bytes 0..=255; the network sees P / 255 (float32)
    logits NAME I L0 L1 ... L9      eval-mode output of network NAME (lenet5 or lenet5_batchnorm) for image I
Logits are printed with 9 significant digits, which round-trips float32.
"""

import os

import torch
from torch import nn
from safetensors.torch import save_file

from pytorch_twins import lenet5, lenet5_batchnorm

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cnn-runtime", "tests", "fixtures", "pytorch")


def fmt(values):
    return " ".join(f"{v:.9g}" for v in values)


def main():
    torch.manual_seed(20261123)
    os.makedirs(OUT, exist_ok=True)

    # Four images: random bytes, and a blob on a dark background so that activations are not all alike.
    pixels = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.int64)
    yy, xx = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
    blob = ((yy - 14) ** 2 + (xx - 12) ** 2 < 60).to(torch.int64) * 255
    pixels[1, 0] = blob
    pixels[2, 0] = torch.where(blob > 0, pixels[2, 0], torch.zeros_like(pixels[2, 0]))
    images = pixels.to(torch.float32) / 255.0

    nets = {"lenet5": lenet5(), "lenet5_batchnorm": lenet5_batchnorm()}

    # PyTorch's default initialisation gives LeNet5 logits of about 0.05 that hardly depend on the image: doubling
    # every weight makes them about 30 times larger and more distinct.
    with torch.no_grad():
        for name, param in nets["lenet5"].named_parameters():
            if name.endswith("weight"):
                param.mul_(2.0)

    bn = nets["lenet5_batchnorm"]
    with torch.no_grad():
        for m in bn.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
    bn.train()
    with torch.no_grad():
        for _ in range(5):
            bn(torch.rand(32, 1, 28, 28) * 2.0 - 0.5)

    lines = [
        "# Written by bench/pytorch_weights_fixtures.py (torch " + torch.__version__ + "); see that file for the format.",
    ]
    for i, p in enumerate(pixels):
        lines.append(f"input {i} " + " ".join(str(int(v)) for v in p.flatten()))
    for name, net in nets.items():
        net.eval()
        with torch.no_grad():
            logits = net(images)
        for i, row in enumerate(logits):
            lines.append(f"logits {name} {i} {fmt(row.tolist())}")
        state = {k: v.contiguous() for k, v in net.state_dict().items()}
        path = os.path.join(OUT, f"{name}.safetensors")
        save_file(state, path)
        os.chmod(path, 0o644)

    with open(os.path.join(OUT, "logits.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
